//! What happens to a blocked object. Each action is idempotent: re-running it on an object
//! that already went through it changes nothing.

use crate::config::BlockAction;
use crate::store::{ObjectStore, StoreError};

/// Apply `action` to `bucket/key`. Returns a short description for the result's action list.
/// `Tag` is carried out by the tag sink (it owns the object's tag set), so it only reports here.
pub async fn apply(
    store: &dyn ObjectStore,
    action: BlockAction,
    bucket: &str,
    key: &str,
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
            let to = format!("{quarantine_prefix}{key}");
            store.rename(bucket, key, &to).await?;
            Ok(format!("moved to {to}"))
        }
        BlockAction::Delete => {
            store.delete(bucket, key).await?;
            Ok("object deleted".into())
        }
    }
}
