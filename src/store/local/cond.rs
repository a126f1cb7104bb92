//! [`ObjectStore::put_if`](crate::store::ObjectStore::put_if) for the embedded bucket.

use std::io::ErrorKind;

use super::{etag_of, io_err, LocalStore};
use crate::store::{check_etag, PutCondition, StoreError};

const OP: &str = "conditional put";

/// Check `condition` and write, both under the root's write lock, which every writer of the
/// root holds (in this process and in others sharing the directory): no write can land between
/// the check and the write. The check hashes the bytes on disk rather than trusting the cached
/// attributes: a file replaced by hand with one of the same size within the file system's
/// mtime granularity would keep the old file's cached ETag, and a stale `Matches` would pass.
/// Meant for small records (a counter); the whole current object is read.
///
/// A key with no object: [`PutCondition::Absent`] writes, [`PutCondition::Matches`] answers
/// [`StoreError::NotFound`], as S3 does for `If-Match` on a missing key.
pub(super) async fn put_if(
    store: &LocalStore,
    bucket: &str,
    key: &str,
    body: &[u8],
    content_type: &str,
    condition: PutCondition<'_>,
) -> Result<String, StoreError> {
    let path = store.object_path(bucket, key)?;
    let _writing = store.write_lock(bucket, key, OP).await?;
    let current = match tokio::fs::read(&path).await {
        Ok(bytes) => Some(etag_of(&bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(io_err(bucket, key, OP, e)),
    };
    match (condition, current) {
        (PutCondition::Absent, None) => {}
        (PutCondition::Absent, Some(etag)) => {
            return Err(StoreError::PreconditionFailed {
                bucket: bucket.into(),
                key: key.into(),
                op: OP,
                code: "PreconditionFailed".into(),
                message: format!("an object (ETag {etag:?}) already has this key"),
            })
        }
        (PutCondition::Matches(want), Some(have)) => check_etag(bucket, key, OP, want, &have)?,
        (PutCondition::Matches(_), None) => {
            return Err(StoreError::NotFound {
                bucket: bucket.into(),
                key: key.into(),
            })
        }
    }
    store
        .write_object_held(bucket, key, body, content_type)
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::super::lock::lock_file;
    use crate::store::local::LocalStore;
    use crate::store::{ObjectStore, PutCondition, StoreError};

    /// The file lock excludes another open file description, which is what another process
    /// holds: a second open of `.lock` cannot take it while the first holds it.
    #[test]
    fn the_file_lock_excludes_another_open_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let held = lock_file(&path).unwrap();
        let other = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert!(
            matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            "a second holder got the lock"
        );
        drop(held);
        assert!(
            other.try_lock().is_ok(),
            "closing the file releases the lock"
        );
    }

    #[tokio::test]
    async fn conditions_are_checked_against_the_bytes_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path());
        let first = s
            .put_if(
                "b",
                "c/n",
                Bytes::from_static(b"1"),
                "text/plain",
                PutCondition::Absent,
            )
            .await
            .unwrap();
        assert_eq!(s.head("b", "c/n").await.unwrap().etag, first);
        // Replaced by hand, same size: whatever the cached attributes say, "1"'s ETag is stale.
        std::fs::write(dir.path().join("b/c/n"), b"2").unwrap();
        let stale = s
            .put_if(
                "b",
                "c/n",
                Bytes::from_static(b"3"),
                "text/plain",
                PutCondition::Matches(&first),
            )
            .await;
        assert!(
            matches!(stale, Err(StoreError::PreconditionFailed { .. })),
            "{stale:?}"
        );
        assert_eq!(s.get("b", "c/n").await.unwrap(), "2");
    }

    /// Two stores on one root (as two instances would have) racing read-modify-write
    /// increments through `put_if` lose none.
    #[tokio::test(flavor = "multi_thread")]
    async fn racing_increments_lose_none() {
        let dir = tempfile::tempdir().unwrap();
        let stores = [
            Arc::new(LocalStore::new(dir.path())),
            Arc::new(LocalStore::new(dir.path())),
        ];
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s = stores[i % 2].clone();
                tokio::spawn(async move {
                    loop {
                        let (n, cond) = match s.head("b", "n").await {
                            Ok(m) => {
                                let raw = s.get("b", "n").await.unwrap();
                                let n: u64 = std::str::from_utf8(&raw).unwrap().parse().unwrap();
                                (n, Some(m.etag))
                            }
                            Err(StoreError::NotFound { .. }) => (0, None),
                            Err(e) => panic!("{e}"),
                        };
                        let c = cond
                            .as_deref()
                            .map_or(PutCondition::Absent, PutCondition::Matches);
                        let next = Bytes::from((n + 1).to_string());
                        match s.put_if("b", "n", next, "text/plain", c).await {
                            Ok(_) => return,
                            Err(StoreError::PreconditionFailed { .. }) => {
                                tokio::task::yield_now().await
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(stores[0].get("b", "n").await.unwrap(), "8");
    }
}
