//! `image-triage poll-sqs QUEUE`: consume S3 notifications from an SQS queue (S3 → SQS, or
//! S3 → SNS → SQS) outside Lambda. A message is deleted once every record in it is finished
//! (done or skipped); on a retryable failure it is left for SQS to deliver again after its
//! visibility timeout, and the queue's redrive policy decides when to give up.

use std::sync::Arc;

use tracing::{info, warn};

use crate::object::Provider;
use crate::pipeline::{Outcome, Pipeline};
use crate::sinks::sqs::{SqsClient, SqsError};

#[derive(Debug, Clone, Copy)]
pub struct PollOptions {
    /// Long-poll wait per receive, seconds (≤ 20).
    pub wait_secs: u32,
    /// Stop after a receive that returns nothing (drain a queue, then exit).
    pub exit_when_empty: bool,
}

/// Poll until `shutdown` resolves (or the queue is empty, with `exit_when_empty`); every
/// outcome goes to `on_outcome`.
pub async fn run(
    pipeline: Arc<Pipeline>,
    queue: SqsClient,
    opts: PollOptions,
    shutdown: impl std::future::Future<Output = ()>,
    mut on_outcome: impl FnMut(&Outcome),
) -> Result<(), SqsError> {
    tokio::pin!(shutdown);
    loop {
        let received = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            r = queue.receive(10, opts.wait_secs) => r?,
        };
        if received.is_empty() && opts.exit_when_empty {
            return Ok(());
        }
        // Messages of one batch in turn: a stop request never cuts one off halfway.
        for m in received {
            let outcomes = pipeline
                .handle_event(m.body.as_bytes(), Some(Provider::S3))
                .await;
            outcomes.iter().for_each(&mut on_outcome);
            if super::needs_retry(&outcomes) {
                warn!(message_id = %m.message_id, "retryable failure; leaving the message for redelivery");
                continue;
            }
            queue.delete(&m.receipt_handle).await?;
            info!(message_id = %m.message_id, records = outcomes.len(), "message handled and deleted");
        }
    }
}
