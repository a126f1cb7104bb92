//! pass / review / block from moderation scores, with per-category thresholds and an explicit
//! policy for when moderation could not say anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analyzers::{CategoryScore, ModerationOutput, Suggestion};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Pass,
    Review,
    Block,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pass => "pass",
            Decision::Review => "review",
            Decision::Block => "block",
        }
    }
}

impl From<Suggestion> for Decision {
    fn from(s: Suggestion) -> Self {
        match s {
            Suggestion::Pass => Decision::Pass,
            Suggestion::Review => Decision::Review,
            Suggestion::Block => Decision::Block,
        }
    }
}

/// Scores (0–100) at or above which a category asks for review / block.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    pub review: f32,
    pub block: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    pub default: Threshold,
    /// Per category (lower-case vendor category such as `porn`, `terrorism`, `politics`).
    pub per_category: BTreeMap<String, Threshold>,
}

impl Default for Thresholds {
    fn default() -> Self {
        // open_nsfw's authors call < 0.2 safe and > 0.8 NSFW; vendors' own "review" band sits
        // in the middle. A user tunes these per category.
        Thresholds {
            default: Threshold {
                review: 50.0,
                block: 80.0,
            },
            per_category: BTreeMap::new(),
        }
    }
}

impl Thresholds {
    pub fn for_category(&self, category: &str) -> Threshold {
        self.per_category
            .get(&category.to_ascii_lowercase())
            .copied()
            .unwrap_or(self.default)
    }

    /// `porn:60/90,terrorism:40/70` — category:review/block.
    pub fn parse_overrides(&mut self, spec: &str) -> Result<(), String> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let err = || format!("{part:?}: expected category:REVIEW/BLOCK, e.g. porn:60/90");
            let (cat, scores) = part.split_once(':').ok_or_else(err)?;
            let (r, b) = scores.split_once('/').ok_or_else(err)?;
            let review: f32 = r.trim().parse().map_err(|_| err())?;
            let block: f32 = b.trim().parse().map_err(|_| err())?;
            self.per_category
                .insert(cat.trim().to_ascii_lowercase(), Threshold { review, block });
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), String> {
        let all = std::iter::once(("default", &self.default))
            .chain(self.per_category.iter().map(|(k, v)| (k.as_str(), v)));
        for (name, t) in all {
            let in_range = |s: f32| (0.0..=100.0).contains(&s);
            if !in_range(t.review) || !in_range(t.block) || t.review > t.block {
                return Err(format!(
                    "{name}: thresholds must satisfy 0 <= review ({}) <= block ({}) <= 100",
                    t.review, t.block
                ));
            }
        }
        Ok(())
    }
}

/// The decision plus why, as stored in the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: String,
    /// True when `on_error` decided because moderation failed or was skipped.
    pub on_error_applied: bool,
}

/// What the moderation stage produced, as far as the verdict cares.
pub enum ModerationState<'a> {
    Done(&'a ModerationOutput),
    /// Moderation switched off by configuration (`TRIAGE_MODERATOR=none`).
    Disabled,
    /// Failed or skipped by preflight: nothing is known about the content.
    Unavailable(&'a str),
}

pub fn decide(state: ModerationState<'_>, thresholds: &Thresholds, on_error: Decision) -> Verdict {
    match state {
        ModerationState::Disabled => Verdict {
            decision: Decision::Pass,
            reason: "moderation disabled (TRIAGE_MODERATOR=none)".into(),
            on_error_applied: false,
        },
        ModerationState::Unavailable(why) => Verdict {
            decision: on_error,
            reason: format!("moderation unavailable ({why}); on_error policy applied"),
            on_error_applied: true,
        },
        ModerationState::Done(m) => {
            let mut decision = Decision::from(m.suggestion);
            let highest = m
                .categories
                .iter()
                .max_by(|a, b| a.score.total_cmp(&b.score))
                .map(|c| format!("; highest {} {:.1}", c.category, c.score))
                .unwrap_or_default();
            let mut reason = match decision {
                Decision::Pass => format!("no category reached its review threshold{highest}"),
                d => format!("service suggested {}{highest}", d.as_str()),
            };
            raise_by_scores(&m.categories, thresholds, &mut decision, &mut reason);
            Verdict {
                decision,
                reason,
                on_error_applied: false,
            }
        }
    }
}

/// Raise `decision` to what any category's score reaches under its thresholds.
fn raise_by_scores(
    categories: &[CategoryScore],
    thresholds: &Thresholds,
    decision: &mut Decision,
    reason: &mut String,
) {
    for c in categories {
        let t = thresholds.for_category(&c.category);
        let by_score = if c.score >= t.block {
            Decision::Block
        } else if c.score >= t.review {
            Decision::Review
        } else {
            Decision::Pass
        };
        if by_score > *decision {
            *decision = by_score;
            *reason = format!(
                "{} score {:.1} >= {} threshold {:.1}",
                c.category,
                c.score,
                by_score.as_str(),
                if by_score == Decision::Block {
                    t.block
                } else {
                    t.review
                }
            );
        }
    }
}

/// What the labels stage found that moderation must not lose: a service that already knows
/// the image as bad (`LabelOutput::flagged`) makes it at least `review`; moderation categories
/// a labeling analysis scored (`LabelOutput::signals`) raise it by the usual thresholds.
pub fn with_label_findings(
    verdict: Verdict,
    flag: Option<&str>,
    signals: &[CategoryScore],
    thresholds: &Thresholds,
) -> Verdict {
    let Verdict {
        mut decision,
        mut reason,
        on_error_applied,
    } = verdict;
    if let Some(why) = flag.filter(|_| decision < Decision::Review) {
        decision = Decision::Review;
        reason = format!("{reason}; raised to review: {why}");
    }
    raise_by_scores(signals, thresholds, &mut decision, &mut reason);
    Verdict {
        decision,
        reason,
        on_error_applied,
    }
}

/// Raise the verdict by what the user's own libraries found: keyword hits in the image's text
/// and block-list samples, each a category score judged by the usual thresholds. The reason
/// says which finding decided (the score's `label`, e.g. `keyword 加微信`).
pub fn with_findings(
    verdict: Verdict,
    findings: &[CategoryScore],
    thresholds: &Thresholds,
) -> Verdict {
    let before = verdict.decision;
    let Verdict {
        mut decision,
        mut reason,
        on_error_applied,
    } = verdict;
    let mut deciding = None;
    for f in findings {
        let was = decision;
        raise_by_scores(
            std::slice::from_ref(f),
            thresholds,
            &mut decision,
            &mut reason,
        );
        if decision > was {
            deciding = f.label.as_deref();
        }
    }
    if let Some(why) = deciding.filter(|_| decision > before) {
        reason = format!("{reason} ({why})");
    }
    Verdict {
        decision,
        reason,
        on_error_applied,
    }
}

/// An upload that matches an allow-list sample passes, whatever the analyzers said (the user
/// vouched for that picture); a block-list match is applied before and wins over it.
pub fn allow_listed(verdict: &Verdict, sample: &str) -> Verdict {
    Verdict {
        decision: Decision::Pass,
        reason: format!(
            "matches allow-list sample {sample} (TRIAGE_IMAGE_LISTS); the analyzers said {}",
            verdict.decision.as_str()
        ),
        on_error_applied: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_raise_by_thresholds_and_say_which() {
        let mut t = Thresholds::default();
        t.parse_overrides("ad:50/90").unwrap();
        let pass = decide(
            ModerationState::Done(&moderation(Suggestion::Pass, &[("porn", 1.0)])),
            &t,
            Decision::Review,
        );
        let hit = |score: f32| CategoryScore {
            category: "ad".into(),
            score,
            label: Some("keyword 加微信".into()),
        };
        let v = with_findings(pass.clone(), &[hit(60.0)], &t);
        assert_eq!(v.decision, Decision::Review);
        assert!(
            v.reason.contains("ad score 60.0 >= review") && v.reason.contains("加微信"),
            "{}",
            v.reason
        );
        assert_eq!(
            with_findings(pass.clone(), &[hit(95.0)], &t).decision,
            Decision::Block
        );
        let low = with_findings(pass.clone(), &[hit(10.0)], &t);
        assert_eq!(low, pass, "a finding under its thresholds changes nothing");
        let allowed = allow_listed(&with_findings(pass, &[hit(95.0)], &t), "allow/logo.png");
        assert_eq!(allowed.decision, Decision::Pass);
        assert!(allowed.reason.contains("allow/logo.png") && allowed.reason.contains("said block"));
    }

    fn moderation(suggestion: Suggestion, cats: &[(&str, f32)]) -> ModerationOutput {
        ModerationOutput {
            suggestion,
            label: "Normal".into(),
            sub_label: None,
            score: cats.iter().map(|c| c.1).fold(0.0, f32::max),
            categories: cats
                .iter()
                .map(|(c, s)| CategoryScore {
                    category: c.to_string(),
                    score: *s,
                    label: None,
                })
                .collect(),
            text: None,
            raw: serde_json::Value::Null,
        }
    }

    #[test]
    fn thresholds_are_inclusive_and_per_category() {
        let mut t = Thresholds::default();
        t.parse_overrides("porn:30/60").unwrap();
        let d = |cats: &[(&str, f32)]| {
            decide(
                ModerationState::Done(&moderation(Suggestion::Pass, cats)),
                &t,
                Decision::Review,
            )
            .decision
        };
        assert_eq!(d(&[("porn", 29.9)]), Decision::Pass);
        assert_eq!(d(&[("porn", 30.0)]), Decision::Review);
        assert_eq!(d(&[("porn", 60.0)]), Decision::Block);
        assert_eq!(d(&[("terrorism", 60.0)]), Decision::Review);
        assert_eq!(d(&[("terrorism", 80.0)]), Decision::Block);
        assert_eq!(d(&[("terrorism", 49.0), ("porn", 10.0)]), Decision::Pass);
    }

    #[test]
    fn vendor_suggestion_is_a_floor() {
        let v = decide(
            ModerationState::Done(&moderation(Suggestion::Block, &[("porn", 1.0)])),
            &Thresholds::default(),
            Decision::Pass,
        );
        assert_eq!(v.decision, Decision::Block);
        assert!(v.reason.contains("service suggested block"));
    }

    #[test]
    fn a_labelers_flag_raises_pass_to_review_only() {
        let pass = decide(
            ModerationState::Disabled,
            &Thresholds::default(),
            Decision::Review,
        );
        let t = Thresholds::default();
        let v = with_label_findings(pass.clone(), Some("marked bad"), &[], &t);
        assert_eq!(v.decision, Decision::Review);
        assert!(v.reason.contains("marked bad"));
        assert_eq!(with_label_findings(pass.clone(), None, &[], &t), pass);
        let block = Verdict {
            decision: Decision::Block,
            reason: "r".into(),
            on_error_applied: false,
        };
        assert_eq!(
            with_label_findings(block.clone(), Some("x"), &[], &t),
            block
        );
        // A labeler's category is judged like a moderator's.
        let mut t = Thresholds::default();
        t.parse_overrides("public_figure:60/100").unwrap();
        let seen = |score| CategoryScore {
            category: "public_figure".into(),
            score,
            label: Some("Someone".into()),
        };
        let v = with_label_findings(pass.clone(), None, &[seen(97.0)], &t);
        assert_eq!(v.decision, Decision::Review);
        assert!(v.reason.contains("public_figure"), "{}", v.reason);
        assert_eq!(
            with_label_findings(pass.clone(), None, &[seen(40.0)], &t),
            pass
        );
    }

    #[test]
    fn on_error_policy_and_disabled() {
        let t = Thresholds::default();
        for policy in [Decision::Pass, Decision::Review, Decision::Block] {
            let v = decide(ModerationState::Unavailable("timeout"), &t, policy);
            assert_eq!(v.decision, policy);
            assert!(v.on_error_applied && v.reason.contains("timeout"));
        }
        let v = decide(ModerationState::Disabled, &t, Decision::Block);
        assert_eq!(v.decision, Decision::Pass);
    }

    #[test]
    fn override_syntax_errors_are_specific() {
        let mut t = Thresholds::default();
        assert!(t
            .parse_overrides("porn=30")
            .unwrap_err()
            .contains("porn:60/90"));
        t.parse_overrides("porn:90/30").unwrap();
        assert!(t.validate().is_err());
    }
}
