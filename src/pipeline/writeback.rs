//! Writing one result back, in an order that keeps re-delivery safe: everything that can be
//! repeated harmlessly (tags, ACL, the deduplicated queue message) comes before the marker in
//! the metadata; moving or deleting the object comes after it (the marker travels with a move);
//! the sidecar comes last so it can record every action.

use std::collections::BTreeMap;
use std::time::Instant;

use super::Outcome;
use crate::config::{BlockAction, Config, SinkKind};
use crate::result::{sidecar_key, ActionRecord, TriageResult};
use crate::sinks::queue::{Queue, QueueError};
use crate::sinks::{self, action, metadata, tags};
use crate::store::{ObjectStore, StoreError};
use crate::verdict::Decision;

fn record(result: &mut TriageResult, action: &str, status: &str, detail: Option<String>) {
    result.actions.push(ActionRecord {
        action: action.into(),
        status: status.into(),
        detail,
    });
}

fn fail(
    result: &TriageResult,
    what: &str,
    e: &dyn std::fmt::Display,
    retryable: bool,
) -> Box<Outcome> {
    Box::new(Outcome::failed(
        Some(&result.object),
        "write_back_failed",
        format!("{what}: {e}"),
        retryable,
    ))
}

fn store_fail(result: &TriageResult, what: &str, e: &StoreError) -> Box<Outcome> {
    fail(result, what, e, e.retryable())
}

/// Returns the sidecar key when one was written.
pub(super) async fn write(
    config: &Config,
    store: &dyn ObjectStore,
    result: &mut TriageResult,
    etag: &str,
    // The object's user metadata as the pipeline's HEAD saw it: the metadata budget counts it.
    existing_metadata: &BTreeMap<String, String>,
    // The pipeline's queue, built once so its rate limit spans every object.
    queue: Option<&Result<Queue, QueueError>>,
    started: Instant,
) -> Result<Option<String>, Box<Outcome>> {
    let t = Instant::now();
    let (bucket, key) = (result.object.bucket.clone(), result.object.key.clone());
    let blocked = result
        .verdict
        .as_ref()
        .is_some_and(|v| v.decision == Decision::Block);
    let block_action = if blocked {
        config.block_action
    } else {
        BlockAction::None
    };
    let sidecar = config
        .sink_enabled(SinkKind::Sidecar)
        .then(|| sidecar_key(&config.results_prefix, &key));

    if config.sink_enabled(SinkKind::Tags) || block_action == BlockAction::Tag {
        let existing = store
            .get_tags(&bucket, &key)
            .await
            .map_err(|e| store_fail(result, "read tags", &e))?;
        let (set, note) = tags::tag_set(result, &existing, blocked, &store.tag_rules());
        store
            .put_tags(&bucket, &key, &set)
            .await
            .map_err(|e| store_fail(result, "write tags", &e))?;
        result.notes.extend(note);
        record(result, "tags", "done", Some(format!("{} tags", set.len())));
    }
    if block_action == BlockAction::Private {
        block(config, store, result, block_action).await?;
    }
    if let Some(q) = queue {
        let q = q.as_ref().map_err(|e| fail(result, "queue", e, false))?;
        let msg = sinks::queue::message(result, etag, sidecar.as_deref());
        let fresh = q
            .publish(&msg)
            .await
            .map_err(|e| fail(result, "queue", &e, e.retryable()))?;
        let detail = if fresh {
            "published"
        } else {
            "duplicate suppressed (same dedupe key)"
        };
        record(result, "queue", "done", Some(detail.into()));
    }
    if config.sink_enabled(SinkKind::Metadata) {
        let (entries, note) = metadata::summary(
            result,
            etag,
            sidecar.as_deref(),
            existing_metadata,
            store.metadata_budget(),
        );
        store
            .update_metadata(&bucket, &key, &entries)
            .await
            .map_err(|e| store_fail(result, "write metadata", &e))?;
        result.notes.extend(note);
        record(
            result,
            "metadata",
            "done",
            Some(format!("{} entries", entries.len())),
        );
    }
    // After the marker, so that a moved object carries it along.
    if matches!(
        block_action,
        BlockAction::Tag | BlockAction::Quarantine | BlockAction::Delete
    ) {
        block(config, store, result, block_action).await?;
    }
    result
        .timings_ms
        .insert("sinks".into(), t.elapsed().as_millis() as u64);
    result
        .timings_ms
        .insert("total".into(), started.elapsed().as_millis() as u64);
    if sidecar.is_some() {
        record(result, "sidecar", "done", sidecar.clone());
        let written = sinks::write_sidecar(store, &config.results_prefix, result)
            .await
            .map_err(|e| store_fail(result, "write sidecar", &e))?;
        return Ok(Some(written));
    }
    Ok(None)
}

async fn block(
    config: &Config,
    store: &dyn ObjectStore,
    result: &mut TriageResult,
    block_action: BlockAction,
) -> Result<(), Box<Outcome>> {
    let (bucket, key) = (result.object.bucket.clone(), result.object.key.clone());
    let detail = action::apply(
        store,
        block_action,
        &bucket,
        &key,
        &config.quarantine_prefix,
    )
    .await
    .map_err(|e| store_fail(result, "block action", &e))?;
    let name = format!("block:{}", block_action.as_str());
    record(result, &name, "done", Some(detail));
    Ok(())
}
