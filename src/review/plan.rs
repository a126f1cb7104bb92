//! A reviewer's decision turned into the result to write back: pure, so every rule has a test.
//! The write itself goes through the pipeline's write-back (`Pipeline::decide`).

use chrono::{DateTime, Utc};

use crate::config::BlockAction;
use crate::result::{HumanReview, ReviewDecision, TriageResult};
use crate::verdict::Verdict;

/// What a key press in the page asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Approve,
    Block,
    /// Take the human decision back: the machine verdict stands again.
    Undo,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the object was not judged (not an image or skipped): there is no verdict to decide on"
    )]
    NoVerdict,
    #[error("no human decision to undo")]
    NothingToUndo,
    #[error(
        "the block was carried out with TRIAGE_BLOCK_ACTION={0}, which cannot be taken back here"
    )]
    Irreversible(&'static str),
}

/// The result after `action` by `reviewer` at `at` on content `etag`. The verdict becomes the
/// human's; the `review` section keeps the machine verdict it overrode (the first machine verdict
/// when a decision is changed), so an undo restores exactly that.
pub fn plan(
    current: &TriageResult,
    action: Action,
    reviewer: &str,
    at: DateTime<Utc>,
    etag: &str,
    block_action: BlockAction,
) -> Result<TriageResult, PlanError> {
    let mut next = current.clone();
    let decision = match action {
        Action::Approve => ReviewDecision::Approve,
        Action::Block => ReviewDecision::Block,
        Action::Undo => {
            let review = current.review.as_ref().ok_or(PlanError::NothingToUndo)?;
            let destructive = matches!(
                block_action,
                BlockAction::Private | BlockAction::Quarantine | BlockAction::Delete
            );
            if review.decision == ReviewDecision::Block && destructive {
                return Err(PlanError::Irreversible(block_action.as_str()));
            }
            next.verdict = Some(review.machine_verdict.clone());
            next.review = None;
            return Ok(next);
        }
    };
    let machine = match &current.review {
        Some(r) => r.machine_verdict.clone(),
        None => current.verdict.clone().ok_or(PlanError::NoVerdict)?,
    };
    next.verdict = Some(Verdict {
        decision: decision.verdict(),
        reason: format!(
            "human review: {} by {reviewer} (the machine said {}: {})",
            decision.as_str(),
            machine.decision.as_str(),
            machine.reason
        ),
        on_error_applied: false,
    });
    next.review = Some(HumanReview {
        decision,
        reviewer: reviewer.to_string(),
        at,
        machine_verdict: machine,
        etag: etag.trim_matches('"').to_ascii_lowercase(),
        signature: None,
    });
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{ObjectRef, Provider};
    use crate::result::{Stage, SCHEMA_ID};
    use crate::verdict::Decision;

    fn machine(decision: Decision) -> TriageResult {
        TriageResult {
            schema: SCHEMA_ID.into(),
            object: ObjectRef::new(Provider::Local, "b", "k.png"),
            image: None,
            labels: Stage::disabled(),
            moderation: Stage::disabled(),
            text: None,
            image_list: None,
            verdict: Some(Verdict {
                decision,
                reason: "porn 62".into(),
                on_error_applied: false,
            }),
            skip_reason: None,
            actions: vec![],
            timings_ms: Default::default(),
            notes: vec![],
            config_hash: "h".into(),
            processed_at: Utc::now(),
            tool: TriageResult::tool(),
            reused: None,
            failure: None,
            review: None,
        }
    }

    #[test]
    fn a_decision_overrides_the_verdict_and_keeps_the_machine_one() {
        let at = Utc::now();
        let r = machine(Decision::Review);
        let approved = plan(&r, Action::Approve, "ana", at, "\"ABC\"", BlockAction::Tag).unwrap();
        assert_eq!(approved.decision(), "pass");
        let review = approved.review.clone().unwrap();
        assert_eq!(
            (
                review.decision,
                review.reviewer.as_str(),
                review.etag.as_str()
            ),
            (ReviewDecision::Approve, "ana", "abc")
        );
        assert_eq!(review.machine_verdict.decision, Decision::Review);
        // Changed to block: the machine verdict is still the first one, not the human's pass.
        let blocked = plan(&approved, Action::Block, "bo", at, "abc", BlockAction::Tag).unwrap();
        assert_eq!(blocked.decision(), "block");
        assert_eq!(
            blocked.review.as_ref().unwrap().machine_verdict.decision,
            Decision::Review
        );
        // Nothing else of the result changes.
        assert_eq!(
            (blocked.labels, blocked.config_hash),
            (r.labels, r.config_hash)
        );
    }

    #[test]
    fn undo_restores_the_machine_verdict_unless_the_block_cannot_be_taken_back() {
        let at = Utc::now();
        let r = machine(Decision::Review);
        assert_eq!(
            plan(&r, Action::Undo, "ana", at, "e", BlockAction::None),
            Err(PlanError::NothingToUndo)
        );
        let approved = plan(&r, Action::Approve, "ana", at, "e", BlockAction::Delete).unwrap();
        let undone = plan(&approved, Action::Undo, "ana", at, "e", BlockAction::Delete).unwrap();
        assert_eq!((undone.decision(), undone.review), ("review", None));
        let blocked = plan(&r, Action::Block, "ana", at, "e", BlockAction::Quarantine).unwrap();
        assert_eq!(
            plan(
                &blocked,
                Action::Undo,
                "ana",
                at,
                "e",
                BlockAction::Quarantine
            ),
            Err(PlanError::Irreversible("quarantine"))
        );
        // A tag is rewritten with the verdict: that block can be taken back.
        let blocked = plan(&r, Action::Block, "ana", at, "e", BlockAction::Tag).unwrap();
        let undone = plan(&blocked, Action::Undo, "ana", at, "e", BlockAction::Tag).unwrap();
        assert_eq!(undone.decision(), "review");
    }

    #[test]
    fn an_object_without_a_verdict_cannot_be_decided() {
        let mut r = machine(Decision::Pass);
        r.verdict = None;
        assert_eq!(
            plan(&r, Action::Block, "ana", Utc::now(), "e", BlockAction::Tag),
            Err(PlanError::NoVerdict)
        );
    }
}
