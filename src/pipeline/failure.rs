//! A failure is recorded where a user looks: at the object's sidecar key, as a `failure` in
//! the result. Used for failures no retry will fix, and for every failure where nobody will
//! retry (a runtime that answered before the work ended).

use bytes::Bytes;
use tracing::warn;

use super::{Outcome, Pipeline};
use crate::config::SinkKind;
use crate::object::ObjectRef;
use crate::result::{sidecar_key, FailureRecord, Stage, TriageResult, SCHEMA_ID};

impl Pipeline {
    /// Best effort: write `outcome`'s failure into the sidecar of `obj`. An existing sidecar
    /// keeps its results and gains the `failure` (its `object.etag` says which content they
    /// describe); without one, a result holding only the failure is written. Nothing when the
    /// sidecar sink is off.
    pub(super) async fn record_failure(&self, obj: &ObjectRef, outcome: &Outcome) {
        // A bucket the function must not (or cannot) touch gets nothing written.
        let foreign = matches!(
            outcome.code.as_deref(),
            Some("bucket_not_allowed" | "invalid_bucket")
        );
        if outcome.status != "failed"
            || foreign
            || !self.config.sink_enabled(SinkKind::Sidecar)
            || super::guard::own_output(obj, &self.config).is_some()
        {
            return;
        }
        let Ok(store) = self.store_for(obj.provider) else {
            return;
        };
        let failure = FailureRecord {
            code: outcome.code.clone().unwrap_or_default(),
            reason: outcome.reason.clone().unwrap_or_default(),
            retryable: outcome.retryable,
        };
        let key = sidecar_key(&self.config.results_prefix, &obj.key);
        // An existing sidecar keeps everything it says and gains the failure: results are
        // never replaced by a failure record.
        let existing = store
            .get(&obj.bucket, &key)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter(serde_json::Value::is_object);
        let body = match existing {
            Some(mut v) => {
                v["failure"] = serde_json::json!(failure);
                v
            }
            None => {
                let result = TriageResult {
                    schema: SCHEMA_ID.into(),
                    object: obj.clone(),
                    image: None,
                    labels: Stage::disabled(),
                    moderation: Stage::disabled(),
                    text: None,
                    image_list: None,
                    verdict: None,
                    skip_reason: None,
                    actions: vec![],
                    timings_ms: Default::default(),
                    notes: vec![],
                    config_hash: self.config.config_hash(obj.provider),
                    processed_at: chrono::Utc::now(),
                    tool: TriageResult::tool(),
                    reused: None,
                    review: None,
                    failure: Some(failure),
                };
                serde_json::json!(result)
            }
        };
        let Ok(bytes) = serde_json::to_vec_pretty(&body) else {
            return;
        };
        if let Err(e) = store
            .put(&obj.bucket, &key, Bytes::from(bytes), "application/json")
            .await
        {
            warn!(error = %e, "could not record the failure in the sidecar");
        }
    }

    /// Best effort, after a failure that wrote no result of ours (the store or an analyzer
    /// failed before the write-back): remove `triage-*` metadata and tags the object carries,
    /// which can only be someone else's (an uploader's `triage-verdict: pass`) and must not
    /// read as the function's result.
    pub(super) async fn clear_foreign_results(&self, obj: &ObjectRef) {
        let Ok(store) = self.store_for(obj.provider) else {
            return;
        };
        let owned = |k: &str| k.starts_with(crate::store::OWNED_PREFIX);
        if let Ok(head) = store.head(&obj.bucket, &obj.key).await {
            if head.metadata.keys().any(|k| owned(k)) {
                let none = Default::default();
                if let Err(e) = store
                    .update_metadata_if(&obj.bucket, &obj.key, &none, &head.etag)
                    .await
                {
                    warn!(error = %e, "could not remove triage-* metadata the function did not write");
                }
            }
        }
        if let Ok(tags) = store.get_tags(&obj.bucket, &obj.key).await {
            if tags.iter().any(|(k, _)| owned(k)) {
                let kept: Vec<_> = tags.into_iter().filter(|(k, _)| !owned(k)).collect();
                if let Err(e) = store.put_tags(&obj.bucket, &obj.key, &kept).await {
                    warn!(error = %e, "could not remove triage-* tags the function did not write");
                }
            }
        }
    }
}
