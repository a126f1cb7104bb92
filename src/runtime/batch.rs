//! Batch invocations (S3 Batch Operations on Lambda, the assumed COS shape on SCF; see
//! [`crate::events::batch`]): every task through the pipeline, answered in the batch schema.
//!
//! A batch invocation never fails the invocation for a retryable outcome: the task's
//! `TemporaryFailure` is how Batch Operations retries it, and a function error would fail (or
//! retry) every task of the invocation instead.

use serde_json::Value;
use tracing::info;

use crate::events::batch::{self, BatchInvocation, BatchTask};
use crate::events::EventRecord;
use crate::object::Provider;
use crate::pipeline::{Outcome, Pipeline};

/// A batch invocation handled: its tasks' outcomes (one per task, in order) and the response.
#[derive(Debug)]
pub struct BatchRun {
    pub invocation: BatchInvocation,
    pub outcomes: Vec<Outcome>,
    pub response: Value,
}

/// The batch response when `payload` is an answerable batch invocation, else `None`: the caller
/// then handles it as any event, and `parse_event` explains what is wrong with a malformed batch
/// payload (as an `invalid_event` outcome).
pub async fn handle(pipeline: &Pipeline, payload: &Value, hint: Option<Provider>) -> Option<Value> {
    run(pipeline, payload, hint).await.map(|run| run.response)
}

/// [`handle`], keeping the outcomes (for `image-triage process`).
pub async fn run(pipeline: &Pipeline, payload: &Value, hint: Option<Provider>) -> Option<BatchRun> {
    let invocation = batch::detect(payload, hint)?.ok()?;
    info!(
        invocation_id = %invocation.invocation_id,
        job_id = invocation.job_id.as_deref(),
        schema = %invocation.schema_version,
        tasks = invocation.tasks.len(),
        "batch invocation"
    );
    // Sequential: Batch Operations sends one task per invocation, and the bound on tasks
    // (events::batch::MAX_TASKS) keeps a larger hand-made batch within reason.
    let mut outcomes = Vec::with_capacity(invocation.tasks.len());
    for task in &invocation.tasks {
        outcomes.push(run_task(pipeline, task).await);
    }
    let response = batch::respond(&invocation, &outcomes);
    Some(BatchRun {
        invocation,
        outcomes,
        response,
    })
}

/// The task's first reading of its key; while the object is gone, the next readings (the key's
/// encoding is not known for every schema, see events::batch). All gone: the first outcome.
async fn run_task(pipeline: &Pipeline, task: &BatchTask) -> Outcome {
    let first = pipeline.handle_record(task.record.clone()).await;
    let EventRecord::Process(object) = &task.record else {
        return first;
    };
    if !is_gone(&first) {
        return first;
    }
    for key in &task.other_keys {
        let mut other = object.clone();
        other.key = key.clone();
        let outcome = pipeline.handle_record(EventRecord::Process(other)).await;
        if !is_gone(&outcome) {
            return outcome;
        }
    }
    first
}

fn is_gone(outcome: &Outcome) -> bool {
    outcome.status == "skipped" && outcome.code.as_deref() == Some("object_gone")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(root: &std::path::Path) -> Pipeline {
        let config = crate::config::Config::from_vars(vec![
            ("TRIAGE_STORE".to_string(), "local".to_string()),
            ("TRIAGE_LOCAL_ROOT".to_string(), root.display().to_string()),
            ("TRIAGE_LABELER".to_string(), "none".to_string()),
            ("TRIAGE_MODERATOR".to_string(), "none".to_string()),
        ])
        .unwrap();
        Pipeline::new(config)
    }

    #[tokio::test]
    async fn not_a_batch_or_unanswerable_is_left_to_the_event_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = pipeline(dir.path());
        let put = serde_json::json!({"Records": [{"s3": {}}]});
        assert!(handle(&p, &put, Some(Provider::S3)).await.is_none());
        let broken = serde_json::json!({"invocationSchemaVersion": "1.0", "tasks": []});
        assert!(handle(&p, &broken, Some(Provider::S3)).await.is_none());
    }

    #[tokio::test]
    async fn a_gone_first_reading_falls_back_to_the_next() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/in")).unwrap();
        std::fs::write(dir.path().join("b/in/a b.txt"), b"not an image").unwrap();
        let p = pipeline(dir.path());
        let v = serde_json::json!({
            "invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "j"},
            "tasks": [
                {"taskId": "t1", "s3Key": "in/a+b.txt", "s3Bucket": "b"},
                {"taskId": "t2", "s3Key": "in/gone+x.txt", "s3Bucket": "b"},
            ]
        });
        let run = run(&p, &v, Some(Provider::S3)).await.unwrap();
        assert_eq!(run.outcomes[0].key.as_deref(), Some("in/a b.txt"));
        assert_eq!(run.outcomes[0].code.as_deref(), Some("not_an_image"));
        assert_eq!(run.response["results"][0]["resultCode"], "Succeeded");
        // Every reading gone: the outcome names the key as sent, the default policy applies.
        assert_eq!(run.outcomes[1].key.as_deref(), Some("in/gone+x.txt"));
        assert_eq!(run.response["results"][1]["resultCode"], "PermanentFailure");
        assert_eq!(
            run.response["results"][1]["resultString"],
            "skipped object_gone"
        );
    }
}
