//! `image-triage poll-sqs QUEUE`: consume S3 notifications from an SQS queue (S3 → SQS, or
//! S3 → SNS → SQS) outside Lambda. A message is deleted once every record in it is finished
//! (done or skipped). Any failure leaves it on the queue, as Lambda's SQS integration does:
//! SQS delivers it again after its visibility timeout, and the queue's redrive policy moves it
//! to the dead-letter queue after its receive count, where a permanent failure stays visible.

use std::sync::Arc;

use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::object::Provider;
use crate::pipeline::{Outcome, Pipeline};
use crate::sinks::sqs::{Received, SqsClient, SqsError};

#[derive(Debug, Clone, Copy)]
pub struct PollOptions {
    /// Long-poll wait per receive, seconds (≤ 20).
    pub wait_secs: u32,
    /// Stop after a receive that returns nothing (drain a queue, then exit).
    pub exit_when_empty: bool,
    /// Messages handled at once (1-10: one receive's worth).
    pub concurrency: u32,
    /// Time allowed per message, retries included: keep it under the queue's visibility
    /// timeout, or SQS hands the message to another consumer while this one still works on it.
    pub timeout: std::time::Duration,
}

/// Handle one message; delete it only when every record is done or skipped. Its outcomes
/// either way.
async fn handle(
    pipeline: Arc<Pipeline>,
    queue: Arc<SqsClient>,
    m: Received,
    timeout: std::time::Duration,
) -> Result<Vec<Outcome>, SqsError> {
    let deadline = std::time::Instant::now() + timeout;
    let outcomes = crate::client::deadline::scope(
        Some(deadline),
        pipeline.handle_event(m.body.as_bytes(), Some(Provider::S3)),
    )
    .await;
    if outcomes.iter().any(|o| o.status == "failed") {
        warn!(
            message_id = %m.message_id,
            "a record failed; leaving the message for redelivery and the queue's redrive policy"
        );
    } else {
        queue.delete(&m.receipt_handle).await?;
        info!(message_id = %m.message_id, records = outcomes.len(), "message handled and deleted");
    }
    Ok(outcomes)
}

/// Poll until `shutdown` resolves (or the queue is empty, with `exit_when_empty`); every
/// outcome goes to `on_outcome`. A batch in progress is always finished before stopping.
pub async fn run(
    pipeline: Arc<Pipeline>,
    queue: SqsClient,
    opts: PollOptions,
    shutdown: impl std::future::Future<Output = ()>,
    mut on_outcome: impl FnMut(&Outcome),
) -> Result<(), SqsError> {
    let queue = Arc::new(queue);
    tokio::pin!(shutdown);
    loop {
        let received = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            r = queue.receive(opts.concurrency.clamp(1, 10), opts.wait_secs) => r?,
        };
        if received.is_empty() && opts.exit_when_empty {
            return Ok(());
        }
        let mut batch = JoinSet::new();
        for m in received {
            batch.spawn(handle(pipeline.clone(), queue.clone(), m, opts.timeout));
        }
        let mut first_error = None;
        while let Some(joined) = batch.join_next().await {
            match joined {
                Ok(Ok(outcomes)) => outcomes.iter().for_each(&mut on_outcome),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => warn!(error = %e, "a message handler panicked; it will be redelivered"),
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
    }
}
