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
pub async fn handle(pipeline: &Pipeline, payload: Value) -> Result<Value, HandlerError> {
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
