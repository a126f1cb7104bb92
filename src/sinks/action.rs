//! What happens to a blocked object. Each action is idempotent: re-running it on an object
//! that already went through it changes nothing.

use crate::config::BlockAction;
use crate::result::bounded_key;
use crate::store::{ObjectStore, StoreError};

/// Apply `action` to `bucket/key` (whose analysed ETag is `etag`). Returns a short description
/// for the result's action list. `Tag` is carried out by the tag sink (it owns the object's tag
/// set), so it only reports here.
pub async fn apply(
    store: &dyn ObjectStore,
    action: BlockAction,
    bucket: &str,
    key: &str,
    etag: &str,
    quarantine_prefix: &str,
) -> Result<String, StoreError> {
    match action {
        BlockAction::None => Ok("no block action configured".into()),
        BlockAction::Tag => Ok("tagged triage-blocked=true".into()),
        BlockAction::Private => {
            store.set_private(bucket, key).await?;
            Ok("ACL set to private".into())
        }
        BlockAction::Quarantine => {
            let to = quarantine_key(store, bucket, key, etag, quarantine_prefix).await?;
            store.rename(bucket, key, &to, Some(etag)).await?;
            Ok(format!("moved to {to}"))
        }
        BlockAction::Delete => {
            store.delete(bucket, key).await?;
            Ok("object deleted".into())
        }
    }
}

/// Where a quarantined object goes: `<prefix><key>`, unless an earlier, different object is
/// already there (a key blocked twice); then `<prefix><key>~<etag>`, so no quarantined object
/// is ever overwritten by another. Both bounded like the sidecar's key (`bounded_key`).
async fn quarantine_key(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    etag: &str,
    prefix: &str,
) -> Result<String, StoreError> {
    let etag = etag.trim_matches('"');
    let plain = bounded_key(prefix, key, "");
    match store.head(bucket, &plain).await {
        Err(StoreError::NotFound { .. }) => Ok(plain),
        Ok(m) if m.etag.trim_matches('"') == etag => Ok(plain),
        Ok(_) => Ok(bounded_key(prefix, key, &format!("~{etag}"))),
        Err(e) => Err(e),
    }
}
