//! Whether the object's earlier result stands: the guard's decision (guard.rs) plus the reads
//! it needs — the content hash where a copy changed the ETag, and the function's own sidecar
//! where the marker is unsigned or there is no metadata marker at all.

use super::{guard, Pipeline};
use crate::config::BlockAction;
use crate::object::ObjectRef;
use crate::store::{ObjectMeta, ObjectStore, StoreError};

impl Pipeline {
    /// The skip to report when this content was already triaged (under this configuration, or,
    /// for the echo of a write-back copy, under any), else `None`.
    pub(super) async fn prior_work(
        &self,
        store: &dyn ObjectStore,
        obj: &ObjectRef,
        meta: &ObjectMeta,
        etag: &str,
        config_hash: &str,
    ) -> Result<Option<guard::Skip>, StoreError> {
        // The marker is written after the sidecar (pipeline/writeback.rs): where it matches,
        // the work is finished. An uploader can set `triage-*` metadata too: the marker counts
        // only when signed with the marker secret, or, without one, when the function's own
        // sidecar says the same.
        let secret = self.config.trust.marker_secret.as_ref();
        // Without metadata and sidecar the marker is a tag on this version (always signed).
        let tags: std::collections::BTreeMap<String, String>;
        let stored = if self.config.guard_in_tags() {
            tags = store
                .get_version_tags(&obj.bucket, &obj.key, meta.version_id.as_deref())
                .await?
                .into_iter()
                .collect();
            &tags
        } else {
            &meta.metadata
        };
        let prior = match guard::already_done(obj, stored, etag, config_hash, secret) {
            guard::Prior::None => None,
            guard::Prior::Done(skip) => Some(skip),
            guard::Prior::CheckContent { sha256, skip } => {
                (content_sha256(store, obj, meta.size).await? == Some(sha256)).then_some(skip)
            }
        };
        // Without a metadata marker, the sidecar is the record of finished work.
        let prior = match prior {
            None if !self.config.sink_enabled(crate::config::SinkKind::Metadata) => {
                let claim = (etag.to_string(), config_hash.to_string());
                let confirmed = self
                    .sidecar_confirms(store, obj, Some(&claim), false)
                    .await?;
                confirmed.map(|verdict| guard::Skip {
                    code: "already_processed",
                    reason: "already triaged: the sidecar describes this content under this \
                             configuration"
                        .into(),
                    existing_verdict: verdict,
                    claim: Some(claim),
                })
            }
            // The verdict reported is the sidecar's, not the metadata an uploader can set.
            Some(skip) if secret.is_none() => {
                let echo = skip.code == "write_back_copy";
                self.sidecar_confirms(store, obj, skip.claim.as_ref(), echo)
                    .await?
                    .map(|verdict| guard::Skip {
                        existing_verdict: verdict,
                        ..skip
                    })
            }
            other => other,
        };
        Ok(prior)
    }

    /// The skip's reason, after applying the block action again where the content was judged
    /// `block` (a verdict the marker's signature or the sidecar vouches for) and is back at the
    /// key: uploaded again with a copied marker, or its ACL reset. The action is idempotent.
    pub(super) async fn block_again(
        &self,
        store: &dyn ObjectStore,
        obj: &ObjectRef,
        etag: &str,
        skip: &guard::Skip,
    ) -> Result<String, StoreError> {
        let action = self.config.block_action;
        let enforce = skip.code == "already_processed"
            && skip.existing_verdict.as_deref() == Some("block")
            && matches!(
                action,
                BlockAction::Private | BlockAction::Quarantine | BlockAction::Delete
            );
        if !enforce {
            return Ok(skip.reason.clone());
        }
        let prefix = &self.config.quarantine_prefix;
        match crate::sinks::action::apply(store, action, &obj.bucket, &obj.key, etag, prefix).await
        {
            Ok(done) => Ok(format!(
                "{}; the block verdict is enforced: {done}",
                skip.reason
            )),
            // A retry can help: fail, so the platform runs the event again.
            Err(e) if e.retryable() => Err(e),
            // It failed for good the first time too (e.g. a bucket without ACLs): say so.
            Err(e) => Ok(format!(
                "{}; the block action failed again: {e}",
                skip.reason
            )),
        }
    }

    /// Whether the sidecar (which only the function writes) describes the content a marker
    /// claims, `(etag, config hash)`, under that configuration; for the echo of a write-back
    /// copy, under any (another deployment's copy of content this one has triaged). When it
    /// does: `Some` with the sidecar's verdict.
    async fn sidecar_confirms(
        &self,
        store: &dyn ObjectStore,
        obj: &ObjectRef,
        claim: Option<&(String, String)>,
        echo: bool,
    ) -> Result<Option<Option<String>>, StoreError> {
        let Some((etag, config_hash)) = claim else {
            return Ok(None);
        };
        if !self.config.sink_enabled(crate::config::SinkKind::Sidecar) {
            return Ok(None);
        }
        let key = crate::result::sidecar_key(&self.config.results_prefix, &obj.key);
        let body = match store.get(&obj.bucket, &key).await {
            Ok(b) => b,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return Ok(None);
        };
        let object = &v["object"];
        let confirmed = object["bucket"] == obj.bucket.as_str()
            && object["key"] == obj.key.as_str()
            && (echo || v["config_hash"] == config_hash.as_str())
            && object["etag"]
                .as_str()
                .map(guard::normalize_etag)
                .as_deref()
                == Some(etag);
        let verdict = v["verdict"]["decision"].as_str().map(str::to_string);
        Ok(confirmed.then_some(verdict))
    }
}

/// Bytes read per request while hashing an object: memory stays bounded whatever its size.
const HASH_CHUNK: u64 = 8 << 20;

/// The SHA-256 of the object's `size` bytes (hex), read in ranges of [`HASH_CHUNK`].
pub(super) async fn content_sha256(
    store: &dyn ObjectStore,
    obj: &ObjectRef,
    size: u64,
) -> Result<Option<String>, StoreError> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut at = 0;
    while at < size {
        let end = (at + HASH_CHUNK).min(size);
        let chunk = store.get_range(&obj.bucket, &obj.key, at..end).await?;
        if chunk.is_empty() {
            // Shorter than its HEAD said: replaced meanwhile; the write-back will notice.
            break;
        }
        at += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok(Some(hex::encode(hasher.finalize())))
}
