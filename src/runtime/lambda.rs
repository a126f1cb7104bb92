//! AWS Lambda via `lambda_runtime`. The handler is a plain async function, tested without the
//! runtime; `run` only connects it to the Runtime API.

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use crate::object::Provider;
use crate::pipeline::{Outcome, Pipeline};

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Returned so that Lambda's own retry (async invocations, SQS redrive) runs again.
    #[error(transparent)]
    Retryable(#[from] super::RetryableFailure),
    #[error("could not re-serialize the event: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Handle one invocation payload: every record gets an outcome; the response lists them.
/// An S3 Batch Operations invocation is answered in its own schema, never with an error
/// (its tasks' `TemporaryFailure` results are what Batch Operations retries).
pub async fn handle(pipeline: &Pipeline, payload: Value) -> Result<Value, HandlerError> {
    if let Some(response) = super::batch::handle(pipeline, &payload, Some(Provider::S3)).await {
        return Ok(response);
    }
    let body = serde_json::to_vec(&payload)?;
    let outcomes: Vec<Outcome> = pipeline.handle_event(&body, Some(Provider::S3)).await;
    Ok(super::respond(outcomes)?)
}

pub async fn run(pipeline: Arc<Pipeline>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let pipeline = pipeline.clone();
        let deadline = crate::client::deadline::from_epoch_ms(event.context.deadline);
        async move {
            crate::client::deadline::scope(deadline, handle(&pipeline, event.payload)).await
        }
    }))
    .await
}

/// Tell the Runtime API that initialization failed (`POST /runtime/init/error`), so Lambda
/// records `ImageTriage.InvalidConfiguration` with the message instead of a bare process exit.
/// `api` is `AWS_LAMBDA_RUNTIME_API` (host:port). Best effort: the process exits either way.
pub async fn report_init_error(api: &str, message: &str) {
    // Lambda sets `host:port`; emulators may give a whole URL.
    let base = if api.starts_with("http://") || api.starts_with("https://") {
        api.trim_end_matches('/').to_string()
    } else {
        format!("http://{api}")
    };
    let url = format!("{base}/2018-06-01/runtime/init/error");
    let body = serde_json::json!({
        "errorType": "ImageTriage.InvalidConfiguration",
        "errorMessage": message,
    });
    let sent = crate::client::http()
        .post(url)
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    if let Err(e) = sent {
        tracing::error!(error = %crate::client::describe(e), "could not report the init error");
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match e {
            HandlerError::Retryable(_) => "ImageTriage.RetryableFailure",
            HandlerError::Encode(_) => "ImageTriage.InvalidEvent",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}
