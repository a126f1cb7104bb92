//! Human decisions (`image-triage review`): written through the same write-back and integrity
//! rules as the function's own results, and kept when the same content is triaged again.

use std::sync::Arc;
use std::time::Instant;

use super::{guard, writeback, Pipeline};
use crate::object::{ObjectRef, Provider};
use crate::result::{sidecar_key, HumanReview, TriageResult};
use crate::review::plan::{self, Action, PlanError};
use crate::sinks::metadata;
use crate::store::{ObjectMeta, ObjectStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("{key}: {source}")]
    Plan {
        key: String,
        #[source]
        source: PlanError,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{key}: the object is gone (deleted or moved since its result was written)")]
    Gone { key: String },
    #[error("{key}: no result stored at {sidecar}: only triaged objects can be decided")]
    NoResult { key: String, sidecar: String },
    #[error("{key}: {sidecar} is not a result of this function: {why}")]
    BadResult {
        key: String,
        sidecar: String,
        why: String,
    },
    #[error("{key}: the object changed since it was analysed ({why}); nothing was written: the new content is triaged by its own upload event — reload the page")]
    Changed { key: String, why: String },
    #[error("{key}: the object's marker is signed: run `review` with the function's TRIAGE_MARKER_SECRET, or the function would triage it again and drop the decision")]
    NeedsSecret { key: String },
    #[error("{key}: {what}: nothing was decided")]
    NotOurs { key: String, what: String },
    #[error("{key}: write-back failed ({code}): {reason}")]
    WriteBack {
        key: String,
        code: String,
        reason: String,
    },
}

impl DecideError {
    /// Whether the page should say "reload": the object or its result changed under it.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            DecideError::Changed { .. } | DecideError::Gone { .. } | DecideError::Plan { .. }
        )
    }
}

/// The result as written after a decision.
#[derive(Debug, Clone)]
pub struct Decided {
    pub result: TriageResult,
}

impl Pipeline {
    /// The store for `provider` (the one the pipeline itself reads and writes through).
    pub fn store(&self, provider: Provider) -> Result<Arc<dyn ObjectStore>, StoreError> {
        self.store_for(provider)
    }

    /// Record `action` by `reviewer` on `bucket`/`key`: only onto the content the stored result
    /// describes (the guard must recognise it as triaged), through the write-back the function
    /// uses (tags, metadata with the marker, the sidecar, the block action), no queue message.
    /// `seen_etag` is the analysed ETag of the result the reviewer looked at: a decision on a
    /// result that has been replaced since is refused.
    pub async fn decide(
        &self,
        provider: Provider,
        bucket: &str,
        key: &str,
        action: Action,
        reviewer: &str,
        seen_etag: Option<&str>,
    ) -> Result<Decided, DecideError> {
        let mut obj = ObjectRef::new(provider, bucket, key);
        if let Some(skip) = guard::own_output(&obj, &self.config) {
            return Err(DecideError::NotOurs {
                key: key.into(),
                what: skip.reason,
            });
        }
        let store = self.store_for(provider)?;
        let meta = match store.head(bucket, key).await {
            Ok(m) => m,
            Err(StoreError::NotFound { .. }) => return Err(DecideError::Gone { key: key.into() }),
            Err(e) => return Err(e.into()),
        };
        let sidecar = sidecar_key(&self.config.results_prefix, key);
        let body = match store.get(bucket, &sidecar).await {
            Ok(b) => b,
            Err(StoreError::NotFound { .. }) => {
                return Err(DecideError::NoResult {
                    key: key.into(),
                    sidecar,
                })
            }
            Err(e) => return Err(e.into()),
        };
        let bad = |why: String| DecideError::BadResult {
            key: key.into(),
            sidecar: sidecar.clone(),
            why,
        };
        let stored: TriageResult = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
        if stored.object.bucket != bucket || stored.object.key != key {
            return Err(bad("it names another object".into()));
        }
        let analysed = stored.object.etag.as_deref().map(guard::normalize_etag);
        if let Some(seen) = seen_etag.map(guard::normalize_etag) {
            if analysed.as_deref() != Some(seen.as_str()) {
                return Err(DecideError::Changed {
                    key: key.into(),
                    why: format!(
                        "the page showed the result for ETag {seen}, the stored result is now \
                         for {}",
                        analysed.as_deref().unwrap_or("an unknown ETag")
                    ),
                });
            }
        }
        let etag = guard::normalize_etag(&meta.etag);
        let secret = self.config.trust.marker_secret.as_ref();
        let signed_marker = meta
            .metadata
            .get(metadata::MARKER)
            .is_some_and(|m| m.splitn(3, ':').nth(2).is_some_and(|s| !s.is_empty()));
        if signed_marker && secret.is_none() {
            return Err(DecideError::NeedsSecret { key: key.into() });
        }
        // The integrity rule of the write-back: the guard must see this content as the one
        // the result was made for (marker, signature or sidecar, content hash after a copy).
        obj.event_name = Some("ObjectCreated:Put".into());
        let prior = self
            .prior_work(&*store, &obj, &meta, &etag, &stored.config_hash)
            .await?;
        // The guard vouches for the marker (signed, or confirmed by the sidecar); the result
        // must also describe this content: its ETag is the current one, or, where the metadata
        // copy changed the ETag, the marker's, whose content hash the guard has just checked
        // against the object (`Prior::CheckContent`; the copy may have made it an object whose
        // copies now keep the ETag, as a multipart upload copied whole becomes single-part).
        let claimed = prior
            .as_ref()
            .and_then(|p| p.claim.as_ref())
            .map(|(e, _)| e.as_str());
        let hashed = claimed.is_some_and(|c| c != etag);
        let same = analysed.as_deref() == Some(etag.as_str())
            || (hashed && analysed.is_some() && analysed.as_deref() == claimed);
        if prior.is_none() || !same {
            return Err(DecideError::Changed {
                key: key.into(),
                why: format!(
                    "ETag {etag}, analysed {}",
                    analysed.as_deref().unwrap_or("unknown")
                ),
            });
        }
        let at = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0)
            .unwrap_or_else(chrono::Utc::now);
        let mut next = plan::plan(
            &stored,
            action,
            reviewer,
            at,
            &etag,
            self.config.block_action,
        )
        .map_err(|source| DecideError::Plan {
            key: key.into(),
            source,
        })?;
        // The hash the guard verified, else (a copy that will change the ETag) made here, as
        // the pipeline does before its own write-back.
        let content = if hashed {
            meta.metadata
                .get(metadata::CONTENT)
                .and_then(|c| c.strip_prefix("sha256:"))
                .map(str::to_ascii_lowercase)
        } else if self.config.sink_enabled(crate::config::SinkKind::Metadata)
            && !meta.copy_keeps_etag()
        {
            super::prior::content_sha256(&*store, &obj, meta.size).await?
        } else {
            None
        };
        // The result now describes the ETag the marker will name (the pipeline records the
        // ETag it analysed, before its copy): the sidecar then confirms that marker on
        // redelivery. The decision is tied to the content hash too where the copy of this
        // write-back gives the object yet another ETag.
        next.object.etag = Some(etag.clone());
        if let Some(r) = &mut next.review {
            r.content = content.clone();
            r.sign(bucket, key, secret);
        }
        let written = writeback::write(
            &self.config,
            &*store,
            &mut next,
            writeback::Analysed {
                etag: &etag,
                metadata: &meta.metadata,
                content_sha256: content.as_deref(),
            },
            None,
            Instant::now(),
        )
        .await;
        match written {
            Ok(_) => Ok(Decided { result: next }),
            Err(o) if o.code.as_deref() == Some("superseded") => Err(DecideError::Changed {
                key: key.into(),
                why: o.reason.unwrap_or_default(),
            }),
            Err(o) => Err(DecideError::WriteBack {
                key: key.into(),
                code: o.code.unwrap_or_default(),
                reason: o.reason.unwrap_or_default(),
            }),
        }
    }

    /// The stored result to keep instead of triaging again, when a human decided about exactly
    /// this content (a new configuration, or a marker lost to a metadata rewrite): read only
    /// when the object says a human decided (`triage-reviewed` in metadata, or, without the
    /// metadata sink, always: tags need a request too), so an ordinary upload with metadata
    /// costs no extra request. The decision must name this ETag (or, where a copy changed the
    /// ETag, this content's hash) and, with a marker secret, be signed.
    pub(super) async fn human_decision(
        &self,
        store: &dyn ObjectStore,
        obj: &ObjectRef,
        meta: &ObjectMeta,
        etag: &str,
        config_hash: &str,
    ) -> Option<Box<TriageResult>> {
        let flagged = meta.metadata.contains_key(metadata::REVIEWED)
            || !self.config.sink_enabled(crate::config::SinkKind::Metadata);
        if !flagged || !self.config.sink_enabled(crate::config::SinkKind::Sidecar) {
            return None;
        }
        let key = sidecar_key(&self.config.results_prefix, &obj.key);
        let body = match store.get(&obj.bucket, &key).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "sidecar not read: triaged as usual");
                return None;
            }
        };
        let mut stored: TriageResult = serde_json::from_slice(&body).ok()?;
        let secret = self.config.trust.marker_secret.as_ref();
        let review: &HumanReview = stored.review.as_ref()?;
        let same_object = stored.object.bucket == obj.bucket && stored.object.key == obj.key;
        if !same_object {
            return None;
        }
        let mut stands = review.stands(&obj.bucket, &obj.key, etag, None, secret);
        // A copy gave the object a new ETag since: the same content, by its hash (read only
        // for such objects, and only when a decision names a hash).
        if !stands && review.content.is_some() && !meta.copy_keeps_etag() {
            let sha = match super::prior::content_sha256(store, obj, meta.size).await {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "content not hashed: triaged as usual");
                    return None;
                }
            };
            stands = review.stands(&obj.bucket, &obj.key, etag, sha.as_deref(), secret);
        }
        if !stands {
            return None;
        }
        // The signature covers the decision, not the stored verdict: rebuild it.
        let verdict = plan::human_verdict(review);
        let note = format!(
            "human decision kept: {} decided this content ({}) at {}; the decision stands",
            review.reviewer,
            review.decision.as_str(),
            review.at.to_rfc3339()
        );
        stored.verdict = Some(verdict);
        stored.object = obj.clone();
        stored.config_hash = config_hash.to_string();
        stored.actions.clear();
        stored.failure = None;
        stored
            .notes
            .retain(|n| !n.starts_with("human decision kept: "));
        stored.notes.push(note);
        Some(Box::new(stored))
    }
}
