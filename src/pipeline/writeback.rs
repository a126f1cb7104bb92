//! Writing one result back. Triage writes only what it owns (`triage-*` metadata and tags, the
//! sidecar, the quarantine copy) plus the configured block action, and only onto the version it
//! analysed: a write that finds another ETag stops with `superseded` (the new upload's own event
//! does the work).
//!
//! The order keeps re-delivery safe and the record of a block: what can be repeated harmlessly
//! (tags, ACL, the deduplicated queue message) first; then the sidecar, so the audit record
//! exists before anything destructive; then the marker in the metadata (or, with neither
//! metadata nor sidecar, the signed marker tag), whose presence tells a
//! re-delivery that the work is done; last the move or delete (the marker travels with a move),
//! after which the sidecar is rewritten with the action's outcome.

use std::collections::BTreeMap;
use std::time::Instant;

use super::guard::normalize_etag;
use super::Outcome;
use crate::config::trust::Claim;
use crate::config::{BlockAction, Config, SinkKind};
use crate::result::{sidecar_key, ActionRecord, TriageResult};
use crate::sinks::queue::{Queue, QueueError};
use crate::sinks::{self, action, metadata, tags};
use crate::store::{ObjectStore, StoreError};
use crate::verdict::Decision;

fn record(result: &mut TriageResult, action: &str, status: &str, detail: Option<String>) {
    result.actions.retain(|a| a.action != action);
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

/// A store error during write-back: `superseded` when the object changed under us, a failed
/// block action with its own code where ACLs are disabled, else `write_back_failed`.
fn store_fail(result: &TriageResult, what: &str, e: &StoreError) -> Box<Outcome> {
    match e {
        StoreError::PreconditionFailed { .. } => superseded(result, &format!("{what}: {e}")),
        StoreError::Remote { code, .. } if code == "AccessControlListNotSupported" => {
            Box::new(Outcome::failed(
                Some(&result.object),
                "acl_not_supported",
                format!(
                    "{what}: the bucket has ACLs disabled (object ownership \"bucket owner \
                     enforced\"): `private` cannot be applied; use a bucket policy or another \
                     TRIAGE_BLOCK_ACTION: {e}"
                ),
                false,
            ))
        }
        _ => fail(result, what, e, e.retryable()),
    }
}

fn superseded(result: &TriageResult, why: &str) -> Box<Outcome> {
    Box::new(Outcome::skipped(
        Some(&result.object),
        "superseded",
        format!(
            "the object changed after it was analysed; nothing more was written onto the new \
             content (its own upload event triages it): {why}"
        ),
    ))
}

/// `superseded` unless the object still has the ETag that was analysed; its version then.
async fn still_current(
    store: &dyn ObjectStore,
    result: &TriageResult,
    etag: &str,
    before: &str,
) -> Result<Option<String>, Box<Outcome>> {
    let (bucket, key) = (&result.object.bucket, &result.object.key);
    match store.head(bucket, key).await {
        Ok(m) if normalize_etag(&m.etag) == normalize_etag(etag) => Ok(m.version_id),
        Ok(m) => Err(superseded(
            result,
            &format!("before {before}: ETag {:?}, analysed {etag:?}", m.etag),
        )),
        Err(StoreError::NotFound { .. }) => Err(Box::new(Outcome::skipped(
            Some(&result.object),
            "object_gone",
            format!("the object was removed before {before}"),
        ))),
        Err(e) => Err(store_fail(result, &format!("check before {before}"), &e)),
    }
}

/// What the pipeline knows of the object it analysed.
pub(super) struct Analysed<'a> {
    pub etag: &'a str,
    /// The object's user metadata as the pipeline's HEAD saw it: the metadata budget counts it.
    pub metadata: &'a BTreeMap<String, String>,
    /// SHA-256 of the content, recorded beside the marker where the metadata copy changes the
    /// ETag (see `ObjectMeta::copy_keeps_etag`).
    pub content_sha256: Option<&'a str>,
}

/// Returns the sidecar key when one was written. `queue` is the pipeline's, built once so its
/// rate limit spans every object.
pub(super) async fn write(
    config: &Config,
    store: &dyn ObjectStore,
    result: &mut TriageResult,
    analysed: Analysed<'_>,
    queue: Option<&Result<Queue, QueueError>>,
    started: Instant,
) -> Result<Option<String>, Box<Outcome>> {
    let Analysed {
        etag,
        metadata: existing_metadata,
        content_sha256,
    } = analysed;
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
    let destructive = matches!(block_action, BlockAction::Quarantine | BlockAction::Delete);
    let sidecar = config
        .sink_enabled(SinkKind::Sidecar)
        .then(|| sidecar_key(&config.results_prefix, &key));
    if let Some(k) = sidecar
        .as_deref()
        .filter(|k| !k.ends_with(&format!("{key}.json")))
    {
        result.notes.push(format!(
            "the key is too long for `<results prefix><key>.json`: the sidecar is {k}"
        ));
    }
    let mut etag = etag.to_string();

    // Reads during analysis were not tied to one version: a replacement in between shows here.
    // On a versioned bucket the tags go to the version seen, so an upload landing after this
    // check (a new version) is not tagged with this result.
    let version = still_current(store, result, &etag, "the write-back").await?;
    // Without metadata and sidecar the guard's record is a signed tag on this version, written
    // where the metadata marker would be: after everything but the destructive actions.
    let marker_tag = config
        .guard_in_tags()
        .then_some(config.trust.marker_secret.as_ref())
        .flatten()
        .map(|secret| {
            let etag = normalize_etag(&etag);
            let signature = secret.sign(&Claim {
                bucket: &bucket,
                key: &key,
                etag: &etag,
                config_hash: &result.config_hash,
                content: "",
                verdict: result.decision(),
            });
            format!(
                "{}:{signature}",
                metadata::marker(&etag, &result.config_hash)
            )
        });
    let full_tags = config.sink_enabled(SinkKind::Tags) || block_action == BlockAction::Tag;
    // The set the tags sink wrote: the marker tag is added to it, without reading it back.
    let mut written_tags = None;
    if full_tags {
        let existing = store
            .get_version_tags(&bucket, &key, version.as_deref())
            .await
            .map_err(|e| store_fail(result, "read tags", &e))?;
        let (set, note) = tags::tag_set(result, &existing, blocked, &store.tag_rules());
        store
            .put_version_tags(&bucket, &key, version.as_deref(), &set)
            .await
            .map_err(|e| store_fail(result, "write tags", &e))?;
        result.notes.extend(note);
        record(result, "tags", "done", Some(format!("{} tags", set.len())));
        written_tags = Some(set);
        if block_action == BlockAction::Tag {
            // The tag sink carried it out: `triage-blocked=true` is in the set just written.
            block(config, store, result, block_action, &etag).await?;
        }
    }
    // A block the bucket cannot carry out (no ACLs) is a failed action, not a failed
    // write-back: the results still go out, and the outcome reports the failure at the end.
    let mut failed_action = None;
    if block_action == BlockAction::Private {
        if let Err(failed) = block(config, store, result, block_action, &etag).await {
            if failed.code.as_deref() != Some("acl_not_supported") {
                return Err(failed);
            }
            record(result, "block:private", "failed", failed.reason.clone());
            failed_action = Some(failed);
        }
    }
    if let Some(q) = queue {
        let q = q.as_ref().map_err(|e| fail(result, "queue", e, false))?;
        let msg = sinks::queue::message(result, &etag, sidecar.as_deref());
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
    let metadata_entries = config.sink_enabled(SinkKind::Metadata).then(|| {
        let secret = config.trust.marker_secret.as_ref();
        // Room for the signature the marker gains below.
        let budget = store.metadata_budget() - if secret.is_some() { 40 } else { 0 };
        let (mut entries, note) = metadata::summary(
            result,
            &etag,
            content_sha256,
            sidecar.as_deref(),
            existing_metadata,
            budget,
        );
        if let Some(secret) = secret {
            let content = entries.get(metadata::CONTENT).cloned().unwrap_or_default();
            let signature = secret.sign(&Claim {
                bucket: &bucket,
                key: &key,
                etag: &normalize_etag(&etag),
                config_hash: &result.config_hash,
                content: &content,
                verdict: result.decision(),
            });
            if let Some(m) = entries.get_mut(metadata::MARKER) {
                *m = format!("{m}:{signature}");
            }
        }
        (entries, note)
    });
    if let Some((entries, _)) = &metadata_entries {
        let detail = format!("{} entries", entries.len());
        record(result, "metadata", "done", Some(detail));
    }
    if destructive {
        let name = format!("block:{}", block_action.as_str());
        record(result, &name, "pending", None);
    }
    finish_timings(result, t, started);

    // The audit record first: it must exist before the object can move or vanish.
    let mut sidecar_error = None;
    if let Some(k) = &sidecar {
        record(result, "sidecar", "done", Some(k.clone()));
        if let Err(e) = sinks::write_sidecar(store, &config.results_prefix, result).await {
            if e.retryable() {
                return Err(store_fail(result, "write sidecar", &e));
            }
            // A sidecar that can never be written must not make every re-delivery analyse
            // again: the marker still goes on, and the outcome says what failed.
            record(result, "sidecar", "failed", Some(e.to_string()));
            sidecar_error = Some(e);
        }
    }
    let mut rewrite = false;
    if let Some((entries, note)) = metadata_entries {
        match store
            .update_metadata_if(&bucket, &key, &entries, &etag)
            .await
        {
            Ok(after) => {
                etag = after;
                result.notes.extend(note);
            }
            Err(e @ StoreError::Unpreservable { .. }) => {
                // Tags and the sidecar still carry the result.
                result.notes.push(format!(
                    "metadata not written, to keep the object as it was: {e}"
                ));
                record(result, "metadata", "skipped", Some(e.to_string()));
                rewrite = true;
            }
            Err(e) => {
                let failed = store_fail(result, "write metadata", &e);
                let status = if failed.status == "skipped" {
                    "skipped"
                } else {
                    "failed"
                };
                record(result, "metadata", status, failed.reason.clone());
                rewrite_sidecar(config, store, result, sidecar.is_some()).await;
                return Err(failed);
            }
        }
    }
    if let Some(marker) = &marker_tag {
        let existing = match written_tags {
            Some(set) => set,
            None => store
                .get_version_tags(&bucket, &key, version.as_deref())
                .await
                .map_err(|e| store_fail(result, "read tags", &e))?,
        };
        let verdict = result.decision();
        let (set, note) =
            tags::with_marker(&existing, marker, verdict, full_tags, &store.tag_rules());
        store
            .put_version_tags(&bucket, &key, version.as_deref(), &set)
            .await
            .map_err(|e| store_fail(result, "write the marker tag", &e))?;
        result.notes.extend(note);
        record(
            result,
            "marker",
            "done",
            Some("signed triage-marker tag".into()),
        );
    }
    if destructive {
        still_current(store, result, &etag, "the block action").await?;
        let done = block(config, store, result, block_action, &etag).await;
        rewrite = true;
        if let Err(failed) = done {
            let name = format!("block:{}", block_action.as_str());
            record(result, &name, "failed", failed.reason.clone());
            rewrite_sidecar(config, store, result, sidecar.is_some()).await;
            return Err(failed);
        }
    }
    if rewrite && sidecar_error.is_none() {
        finish_timings(result, t, started);
        // Best effort: the object may be gone now, and a retry could not redo the action.
        rewrite_sidecar(config, store, result, sidecar.is_some()).await;
    }
    if let Some(e) = sidecar_error {
        return Err(fail(result, "write sidecar", &e, false));
    }
    if let Some(failed) = failed_action {
        return Err(failed);
    }
    Ok(sidecar)
}

fn finish_timings(result: &mut TriageResult, t: Instant, started: Instant) {
    result
        .timings_ms
        .insert("sinks".into(), t.elapsed().as_millis() as u64);
    result
        .timings_ms
        .insert("total".into(), started.elapsed().as_millis() as u64);
}

/// Best effort: rewrite the sidecar after an action's outcome changed what it says.
async fn rewrite_sidecar(
    config: &Config,
    store: &dyn ObjectStore,
    result: &TriageResult,
    enabled: bool,
) {
    if enabled {
        if let Err(e) = sinks::write_sidecar(store, &config.results_prefix, result).await {
            tracing::warn!(error = %e, "could not rewrite the sidecar");
        }
    }
}

/// Apply the block action to the object while its ETag is `etag` (the one analysed, or the
/// one the metadata copy gave it).
async fn block(
    config: &Config,
    store: &dyn ObjectStore,
    result: &mut TriageResult,
    block_action: BlockAction,
    etag: &str,
) -> Result<(), Box<Outcome>> {
    let (bucket, key) = (result.object.bucket.clone(), result.object.key.clone());
    let detail = action::apply(
        store,
        block_action,
        &bucket,
        &key,
        etag,
        &config.quarantine_prefix,
    )
    .await
    .map_err(|e| store_fail(result, "block action", &e))?;
    let name = format!("block:{}", block_action.as_str());
    record(result, &name, "done", Some(detail));
    Ok(())
}
