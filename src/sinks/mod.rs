//! Write-back: where people look for results. Each sink is selectable with `TRIAGE_SINKS`;
//! the block action with `TRIAGE_BLOCK_ACTION`.

pub mod action;
pub mod amqp;
pub mod callback;
pub mod cmq;
pub mod metadata;
pub mod queue;
pub mod sqs;
pub mod tags;

use bytes::Bytes;

use crate::result::{sidecar_key, TriageResult};
use crate::store::{ObjectStore, StoreError};

/// Write the full result as JSON under the results prefix; returns the sidecar's key.
pub async fn write_sidecar(
    store: &dyn ObjectStore,
    results_prefix: &str,
    result: &TriageResult,
) -> Result<String, StoreError> {
    let key = sidecar_key(results_prefix, &result.object.key);
    let body = serde_json::to_vec_pretty(&result.redacted()).map_err(|e| StoreError::Io {
        bucket: result.object.bucket.clone(),
        key: key.clone(),
        op: "serialize result",
        source: std::io::Error::other(e),
    })?;
    store
        .put(
            &result.object.bucket,
            &key,
            Bytes::from(body),
            "application/json",
        )
        .await?;
    Ok(key)
}
