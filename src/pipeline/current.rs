//! Whether an object still needs triage, asked without triaging it: the backfill routes that do
//! not do the work themselves (`scan --enqueue`, `--manifest`, `--dry-run`) leave out objects
//! whose result is current, with the same guard `process` runs first.

use super::{guard, Pipeline};
use crate::config::BlockAction;
use crate::object::ObjectRef;
use crate::store::{ObjectMeta, StoreError};

/// What the guard says about one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Current {
    /// Under the results or quarantine prefix, or a bucket `TRIAGE_BUCKETS` leaves out.
    NotOurs { code: &'static str },
    /// Deleted since it was listed.
    Gone,
    /// Its result is current (this content, this configuration): `code` as `process` reports it.
    Done {
        code: &'static str,
        verdict: Option<String>,
    },
    /// Would be triaged, or is blocked content whose block action `process` applies again.
    Needed(ObjectMeta),
}

impl Pipeline {
    /// The guard's answer for `obj` (one HEAD, plus the reads the marker check needs).
    pub async fn current(&self, obj: &ObjectRef) -> Result<Current, StoreError> {
        if let Some(skip) = guard::own_output(obj, &self.config) {
            return Ok(Current::NotOurs { code: skip.code });
        }
        if !self.config.trust.bucket_allowed(&obj.bucket) {
            return Ok(Current::NotOurs {
                code: "bucket_not_allowed",
            });
        }
        let store = self.store_for(obj.provider)?;
        let meta = match store.head(&obj.bucket, &obj.key).await {
            Ok(m) => m,
            Err(StoreError::NotFound { .. }) => return Ok(Current::Gone),
            Err(e) => return Err(e),
        };
        let etag = guard::normalize_etag(&meta.etag);
        let config_hash = self.config.config_hash(obj.provider);
        Ok(
            match self
                .prior_work(&*store, obj, &meta, &etag, &config_hash)
                .await?
            {
                // `process` applies the block action again to blocked content (it may be back
                // at its key, public): such objects still need their event.
                Some(skip)
                    if skip.existing_verdict.as_deref() == Some("block")
                        && matches!(
                            self.config.block_action,
                            BlockAction::Private | BlockAction::Quarantine | BlockAction::Delete
                        ) =>
                {
                    Current::Needed(meta)
                }
                Some(skip) => Current::Done {
                    code: skip.code,
                    verdict: skip.existing_verdict,
                },
                None => Current::Needed(meta),
            },
        )
    }
}
