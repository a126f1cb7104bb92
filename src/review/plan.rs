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
    #[error("the object was blocked with TRIAGE_BLOCK_ACTION=private and is still private: restore its ACL by hand before approving it")]
    StillPrivate,
}

/// The verdict a human decision gives: rebuilt from the (signed) decision wherever one is kept,
/// never taken from a stored `verdict` the signature does not cover.
pub fn human_verdict(review: &HumanReview) -> Verdict {
    let machine = &review.machine_verdict;
    Verdict {
        decision: review.decision.verdict(),
        reason: format!(
            "human review: {} by {} (the machine said {}: {})",
            review.decision.as_str(),
            review.reviewer,
            machine.decision.as_str(),
            machine.reason
        ),
        on_error_applied: false,
    }
}

/// Whether a `private` block was (or, from this verdict, will have been) carried out on it.
fn made_private(current: &TriageResult, block_action: BlockAction) -> bool {
    let recorded = current
        .actions
        .iter()
        .any(|a| a.action == "block:private" && a.status == "done");
    let blocked = current
        .verdict
        .as_ref()
        .is_some_and(|v| v.decision == crate::verdict::Decision::Block);
    recorded || (blocked && block_action == BlockAction::Private)
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
    // The write-back records what it does now; the earlier run's records would describe
    // actions this write did not take.
    next.actions.clear();
    let decision = match action {
        // Nothing here grants read access again: an approved object left private would look
        // passed while nobody can read it.
        Action::Approve if made_private(current, block_action) => {
            return Err(PlanError::StillPrivate)
        }
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
    let review = HumanReview {
        decision,
        reviewer: reviewer.to_string(),
        at,
        machine_verdict: machine,
        etag: etag.trim_matches('"').to_ascii_lowercase(),
        content: None,
        signature: None,
    };
    next.verdict = Some(human_verdict(&review));
    next.review = Some(review);
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
    fn approving_a_privately_blocked_object_is_refused_and_old_actions_go() {
        let at = Utc::now();
        let mut r = machine(Decision::Block);
        r.actions.push(crate::result::ActionRecord {
            action: "block:private".into(),
            status: "done".into(),
            detail: None,
        });
        // Made private by the machine: under any configured action now.
        for action in [BlockAction::Private, BlockAction::Tag] {
            assert_eq!(
                plan(&r, Action::Approve, "ana", at, "e", action),
                Err(PlanError::StillPrivate)
            );
        }
        // Blocked by a human under `private`: approve is refused too.
        let review = machine(Decision::Review);
        let blocked = plan(&review, Action::Block, "ana", at, "e", BlockAction::Private).unwrap();
        assert_eq!(
            plan(
                &blocked,
                Action::Approve,
                "bo",
                at,
                "e",
                BlockAction::Private
            ),
            Err(PlanError::StillPrivate)
        );
        // Under `tag` the block is taken back with the tags: approve works, and the earlier
        // run's action records are not carried into the new result.
        let mut tagged = machine(Decision::Block);
        tagged.actions.push(crate::result::ActionRecord {
            action: "tags".into(),
            status: "done".into(),
            detail: None,
        });
        let approved = plan(&tagged, Action::Approve, "ana", at, "e", BlockAction::Tag).unwrap();
        assert!(approved.actions.is_empty());
        let mut decided = approved.clone();
        decided.actions = tagged.actions.clone();
        let undone = plan(&decided, Action::Undo, "ana", at, "e", BlockAction::Tag).unwrap();
        assert!(undone.actions.is_empty() && undone.review.is_none());
    }

    #[test]
    fn the_kept_verdict_is_rebuilt_from_the_decision() {
        let r = machine(Decision::Review);
        let mut blocked =
            plan(&r, Action::Block, "ana", Utc::now(), "e", BlockAction::Tag).unwrap();
        blocked.verdict.as_mut().unwrap().decision = Decision::Pass;
        let rebuilt = human_verdict(blocked.review.as_ref().unwrap());
        assert_eq!(rebuilt.decision, Decision::Block);
        assert!(rebuilt.reason.contains("block by ana"));
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
