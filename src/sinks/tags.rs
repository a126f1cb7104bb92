//! Object tags: at most the store's tag count (10 on S3, COS and OBS), each key and value fitted
//! to the store's length and character rules. The object's own tags are kept; labels that do
//! not fit are dropped and the sidecar says so.

use crate::result::TriageResult;
use crate::store::TagRules;

pub const VERDICT: &str = "triage-verdict";
pub const LABEL_PREFIX: &str = "triage-label";
pub const BLOCKED: &str = "triage-blocked";
/// `approve` or `block` where a human decided the verdict (`image-triage review`).
pub const REVIEWED: &str = "triage-reviewed";
/// The categories of the keyword hits in the image's text.
pub const TEXT: &str = "triage-text";
/// The guard's signed record of finished work, where neither metadata nor a sidecar is written
/// (see `Config::guard_in_tags`). Same value as the metadata marker: `<etag>:<config hash>:<sig>`.
pub const MARKER: &str = "triage-marker";

fn is_ours(key: &str) -> bool {
    key.starts_with("triage-")
}

/// Replace characters the store refuses with `_` and cut to the length limit (in chars).
pub fn sanitize(s: &str, max_chars: usize, rules: &TagRules) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() || rules.extra_chars.contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(max_chars)
        .collect::<String>()
        .trim()
        .to_string()
}

fn theirs(existing: &[(String, String)]) -> Vec<(String, String)> {
    existing
        .iter()
        .filter(|(k, _)| !is_ours(k))
        .cloned()
        .collect()
}

fn no_room(tags: &[(String, String)]) -> String {
    format!(
        "tags: the object already has {} tags of its own; no triage tags written",
        tags.len()
    )
}

/// `existing` with the guard's `marker` added, written last (the marker says the work is
/// done). With `keep_ours` the triage tags just written stay (the last label gives way to the
/// marker when the set is full); without, every `triage-*` tag goes (no tags sink: any there
/// are an uploader's) and the signed `verdict` goes beside the marker. Without room at all:
/// the set unchanged and a note.
pub fn with_marker(
    existing: &[(String, String)],
    marker: &str,
    verdict: &str,
    keep_ours: bool,
    rules: &TagRules,
) -> (Vec<(String, String)>, Option<String>) {
    let mut tags: Vec<(String, String)> = if keep_ours {
        existing
            .iter()
            .filter(|(k, _)| k != MARKER)
            .cloned()
            .collect()
    } else {
        let mut tags = theirs(existing);
        if tags.len() + 2 <= rules.max_tags {
            tags.push((VERDICT.into(), verdict.into()));
        }
        tags
    };
    if tags.len() >= rules.max_tags {
        match tags.iter().rposition(|(k, _)| k.starts_with(LABEL_PREFIX)) {
            Some(last_label) => {
                tags.remove(last_label);
            }
            None => {
                let note = format!("{}; a re-delivered event triages it again", no_room(&tags));
                return (tags, Some(note));
            }
        }
    }
    tags.push((MARKER.into(), marker.into()));
    (tags, None)
}

/// The full tag set to write: the object's `existing` non-triage tags first, then ours — the
/// verdict, the block flag, then labels while room lasts. Returns the tags and, when labels
/// were dropped, a note for the sidecar.
pub fn tag_set(
    result: &TriageResult,
    existing: &[(String, String)],
    blocked: bool,
    rules: &TagRules,
) -> (Vec<(String, String)>, Option<String>) {
    let mut tags = theirs(existing);
    let room = |tags: &Vec<(String, String)>| rules.max_tags.saturating_sub(tags.len());
    let mut notes = Vec::new();
    if tags.len() >= rules.max_tags {
        let note = no_room(&tags);
        return (tags, Some(note));
    }
    tags.push((VERDICT.into(), result.decision().into()));
    if blocked && room(&tags) > 0 {
        tags.push((BLOCKED.into(), "true".into()));
    }
    if let Some(r) = result.review.as_ref().filter(|_| room(&tags) > 0) {
        tags.push((REVIEWED.into(), r.decision.as_str().into()));
    }
    // A text hit explains the verdict: before the labels (`ad`, or `ad_contact` for several).
    if let Some(t) = &result.text {
        let categories = t.hit_categories();
        if !categories.is_empty() && room(&tags) > 0 {
            let value = sanitize(&categories.join("_"), rules.max_value_chars, rules);
            if !value.is_empty() {
                tags.push((TEXT.into(), value));
            }
        }
    }
    let labels = result.labels();
    let mut written = 0;
    for (i, label) in labels.iter().enumerate() {
        if room(&tags) == 0 {
            break;
        }
        let value = sanitize(&label.name, rules.max_value_chars, rules);
        if value.is_empty() {
            continue;
        }
        tags.push((format!("{LABEL_PREFIX}{}", i + 1), value));
        written += 1;
    }
    if written < labels.len() {
        notes.push(format!(
            "tags: {} of {} labels written; the rest would exceed the {}-tag limit",
            written,
            labels.len(),
            rules.max_tags
        ));
    }
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    (tags, note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{ObjectRef, Provider};
    use crate::result::{Label, LabelOutput};
    use crate::result::{Stage, SCHEMA_ID};
    use crate::store::S3_TAG_RULES;
    use crate::verdict::{Decision, Verdict};

    fn result(n: usize) -> TriageResult {
        TriageResult {
            schema: SCHEMA_ID.into(),
            object: ObjectRef::new(Provider::Local, "b", "k"),
            image: None,
            labels: Stage::done(
                "local",
                LabelOutput {
                    labels: (0..n)
                        .map(|i| Label {
                            name: format!("label {i}"),
                            confidence: 50.0,
                            first_category: None,
                            second_category: None,
                        })
                        .collect(),
                    raw: serde_json::Value::Null,
                    flagged: None,
                    signals: vec![],
                },
            ),
            moderation: Stage::disabled(),
            text: None,
            image_list: None,
            verdict: Some(Verdict {
                decision: Decision::Pass,
                reason: String::new(),
                on_error_applied: false,
            }),
            skip_reason: None,
            actions: vec![],
            timings_ms: Default::default(),
            notes: vec![],
            config_hash: String::new(),
            processed_at: chrono::Utc::now(),
            tool: TriageResult::tool(),
            reused: None,
            review: None,
            failure: None,
        }
    }

    #[test]
    fn at_most_ten_tags_and_user_tags_are_kept() {
        let existing: Vec<(String, String)> =
            (0..6).map(|i| (format!("team{i}"), "x".into())).collect();
        let (tags, note) = tag_set(&result(8), &existing, false, &S3_TAG_RULES);
        assert_eq!(tags.len(), 10);
        assert_eq!(&tags[..6], &existing[..]);
        assert_eq!(tags[6], ("triage-verdict".into(), "pass".into()));
        assert!(note.unwrap().contains("3 of 8 labels"));
        // Old triage tags are replaced, not accumulated.
        let (again, _) = tag_set(&result(2), &tags, true, &S3_TAG_RULES);
        assert_eq!(again.len(), 6 + 4);
        assert!(again.contains(&("triage-blocked".into(), "true".into())));
    }

    #[test]
    fn full_object_tag_set_leaves_ours_out_with_a_note() {
        let existing: Vec<(String, String)> =
            (0..10).map(|i| (format!("t{i}"), "x".into())).collect();
        let (tags, note) = tag_set(&result(1), &existing, false, &S3_TAG_RULES);
        assert_eq!(tags, existing);
        assert!(note.unwrap().contains("no triage tags"));
    }

    #[test]
    fn the_marker_is_added_last_and_replaces_a_label_when_full() {
        let existing = vec![
            ("team".to_string(), "x".to_string()),
            (MARKER.to_string(), "forged".to_string()),
            ("triage-verdict".to_string(), "pass".to_string()),
        ];
        // No tags sink: only the object's own tags and the marker.
        let (tags, note) = with_marker(&existing, "e:h:s", "review", false, &S3_TAG_RULES);
        assert_eq!(
            tags,
            vec![
                existing[0].clone(),
                (VERDICT.into(), "review".into()),
                (MARKER.into(), "e:h:s".into())
            ]
        );
        assert!(note.is_none());
        // After the tags sink wrote a full set: the last label gives way.
        let (written, _) = tag_set(&result(9), &existing[..1], true, &S3_TAG_RULES);
        assert_eq!(written.len(), 10);
        let (tags, note) = with_marker(&written, "e:h:s", "pass", true, &S3_TAG_RULES);
        assert!(note.is_none());
        assert_eq!(tags.len(), 10);
        assert_eq!(tags[9], (MARKER.into(), "e:h:s".into()));
        assert_eq!(&tags[..8], &written[..8]);
        // The object's own ten tags: no room, and a note.
        let full: Vec<(String, String)> = (0..10).map(|i| (format!("t{i}"), "x".into())).collect();
        let (tags, note) = with_marker(&full, "e:h:s", "pass", true, &S3_TAG_RULES);
        assert_eq!(tags, full);
        assert!(note.unwrap().contains("again"));
    }

    #[test]
    fn values_are_fitted_to_the_charset_and_length() {
        assert_eq!(sanitize("天空 (sky)", 255, &S3_TAG_RULES), "天空 _sky_");
        assert_eq!(sanitize("a#b", 255, &S3_TAG_RULES), "a_b");
        assert_eq!(sanitize(&"x".repeat(300), 255, &S3_TAG_RULES).len(), 255);
        assert_eq!(
            sanitize("email@x.com:8/a+b=c", 255, &S3_TAG_RULES),
            "email@x.com:8/a+b=c"
        );
    }
}
