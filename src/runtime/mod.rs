//! Platform entry points. Each is thin glue around [`crate::pipeline::Pipeline::handle_event`];
//! Lambda and SCF first offer the payload to [`batch`] (batch invocations are answered per task).

pub mod batch;
pub mod credentials;
pub mod custom;
pub mod functiongraph;
pub mod lambda;
pub mod scf;
pub mod serve;
pub mod sqs_poll;

use serde_json::{json, Value};

use crate::pipeline::Outcome;

/// True when a platform retry could still help one of these records.
pub fn needs_retry(outcomes: &[Outcome]) -> bool {
    outcomes.iter().any(|o| o.status == "failed" && o.retryable)
}

/// Some records failed in a way a retry can fix: reported as a failed invocation so that the
/// platform's own retry (async invocations, SQS redrive) runs the event again.
#[derive(Debug, thiserror::Error)]
#[error("retryable failure for {count} record(s); outcomes: {outcomes}")]
pub struct RetryableFailure {
    pub count: usize,
    /// The outcomes as JSON, so the platform's error record shows what happened to each record.
    pub outcomes: String,
}

/// What an invocation answers: `{"outcomes": [...]}`, or the failure that asks for a retry.
pub fn respond(outcomes: Vec<Outcome>) -> Result<Value, RetryableFailure> {
    if needs_retry(&outcomes) {
        return Err(RetryableFailure {
            count: outcomes.iter().filter(|o| o.retryable).count(),
            outcomes: serde_json::to_string(&outcomes).unwrap_or_default(),
        });
    }
    Ok(json!({ "outcomes": outcomes }))
}
