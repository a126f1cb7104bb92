//! Platform entry points. Each is thin glue around [`crate::pipeline::Pipeline::handle_event`].

pub mod functiongraph;
pub mod lambda;
pub mod scf;
pub mod serve;
pub mod sqs_poll;

use crate::pipeline::Outcome;

/// True when a platform retry could still help one of these records.
pub fn needs_retry(outcomes: &[Outcome]) -> bool {
    outcomes.iter().any(|o| o.status == "failed" && o.retryable)
}
