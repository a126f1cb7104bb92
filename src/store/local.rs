//! The embedded bucket: a local directory. `ROOT/BUCKET/KEY` is the object; its metadata, tags
//! and ACL live in `ROOT/.attrs/BUCKET/KEY.json` (bucket names cannot start with a dot, so the
//! attribute tree never collides with a bucket). Files copied in by hand are objects too: their
//! ETag is computed on first HEAD, and a file whose size or mtime changed counts as a new upload
//! (its old metadata and tags are dropped, as a new PUT does on S3). Every write holds the
//! root's write lock (`ROOT/.lock`, see [`lock`]), so writers in several processes sharing the
//! directory never interleave, and a conditional write's compare and write are one step.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{
    Capabilities, ListPage, ListedObject, ObjectMeta, ObjectStore, PutCondition, StoreError,
};

mod cond;
mod lock;

use lock::WriteLock;

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Attrs {
    etag: String,
    size: u64,
    mtime_ns: u128,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    tags: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acl: Option<String>,
}

impl Attrs {
    /// The file's mtime: a sidecar's tells when its result was written.
    fn last_modified(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let secs = i64::try_from(self.mtime_ns / 1_000_000_000).ok()?;
        chrono::DateTime::from_timestamp(secs, (self.mtime_ns % 1_000_000_000) as u32)
    }
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn object_path(&self, bucket: &str, key: &str) -> Result<PathBuf, StoreError> {
        validate(bucket, key)?;
        Ok(self.root.join(bucket).join(key))
    }

    fn attrs_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root
            .join(".attrs")
            .join(bucket)
            .join(format!("{key}.json"))
    }

    async fn stat(&self, bucket: &str, key: &str) -> Result<(PathBuf, u64, u128), StoreError> {
        let path = self.object_path(bucket, key)?;
        let md = tokio::fs::metadata(&path)
            .await
            .map_err(|e| io_err(bucket, key, "head", e))?;
        if !md.is_file() {
            return Err(StoreError::NotFound {
                bucket: bucket.into(),
                key: key.into(),
            });
        }
        let mtime_ns = md
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok((path, md.len(), mtime_ns))
    }

    /// The stored attributes, when they are the current file's (same size and mtime).
    async fn cached_attrs(&self, bucket: &str, key: &str) -> Result<Option<Attrs>, StoreError> {
        let (_, size, mtime_ns) = self.stat(bucket, key).await?;
        let stored: Option<Attrs> = match tokio::fs::read(self.attrs_path(bucket, key)).await {
            Ok(raw) => serde_json::from_slice(&raw).ok(),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(bucket, key, "read attributes", e)),
        };
        Ok(stored.filter(|a| a.size == size && a.mtime_ns == mtime_ns))
    }

    /// The object's attributes, reset when the file changed behind our back. Resetting writes
    /// them, so it takes the write lock: unlocked, the hash of one file could be written after
    /// a writer replaced it and stand for the new file (same size, same coarse mtime).
    async fn attrs(&self, bucket: &str, key: &str) -> Result<Attrs, StoreError> {
        if let Some(a) = self.cached_attrs(bucket, key).await? {
            return Ok(a);
        }
        let _writing = self.write_lock(bucket, key, "read attributes").await?;
        self.attrs_held(bucket, key).await
    }

    /// [`LocalStore::attrs`] for a caller that holds the write lock.
    async fn attrs_held(&self, bucket: &str, key: &str) -> Result<Attrs, StoreError> {
        if let Some(a) = self.cached_attrs(bucket, key).await? {
            return Ok(a);
        }
        let (path, size, mtime_ns) = self.stat(bucket, key).await?;
        let body = tokio::fs::read(&path)
            .await
            .map_err(|e| io_err(bucket, key, "hash", e))?;
        let attrs = Attrs {
            etag: etag_of(&body),
            size,
            mtime_ns,
            ..Attrs::default()
        };
        self.write_attrs(bucket, key, &attrs).await?;
        Ok(attrs)
    }

    /// The store's write lock (see [`lock`]), with its errors named for `bucket`/`key`.
    async fn write_lock(
        &self,
        bucket: &str,
        key: &str,
        op: &'static str,
    ) -> Result<WriteLock, StoreError> {
        WriteLock::acquire(&self.root)
            .await
            .map_err(|e| io_err(bucket, key, op, e))
    }

    async fn write_attrs(&self, bucket: &str, key: &str, attrs: &Attrs) -> Result<(), StoreError> {
        let raw = serde_json::to_vec_pretty(attrs)
            .map_err(|e| io_err(bucket, key, "write attributes", std::io::Error::other(e)))?;
        write_atomic(&self.attrs_path(bucket, key), &raw)
            .await
            .map_err(|e| io_err(bucket, key, "write attributes", e))
    }

    /// Read, change, write the attributes under the write lock; `f` may refuse (then nothing
    /// is written).
    async fn modify_attrs(
        &self,
        bucket: &str,
        key: &str,
        f: impl FnOnce(&mut Attrs) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let _writing = self.write_lock(bucket, key, "write attributes").await?;
        let mut attrs = self.attrs_held(bucket, key).await?;
        f(&mut attrs)?;
        self.write_attrs(bucket, key, &attrs).await
    }

    /// Replace the object with `body` (new attributes: a new object has no metadata or tags);
    /// the caller holds the write lock. Returns the new ETag.
    async fn write_object_held(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<String, StoreError> {
        let path = self.object_path(bucket, key)?;
        write_atomic(&path, body)
            .await
            .map_err(|e| io_err(bucket, key, "put", e))?;
        let (_, size, mtime_ns) = self.stat(bucket, key).await?;
        let attrs = Attrs {
            etag: etag_of(body),
            size,
            mtime_ns,
            content_type: Some(content_type.to_string()),
            ..Attrs::default()
        };
        self.write_attrs(bucket, key, &attrs).await?;
        Ok(attrs.etag)
    }
}

fn merge(a: &mut Attrs, entries: &BTreeMap<String, String>) {
    a.metadata
        .retain(|k, _| !k.starts_with(super::OWNED_PREFIX));
    for (k, v) in entries {
        a.metadata.insert(k.to_ascii_lowercase(), v.clone());
    }
}

/// The local store's ETag: the first 128 bits of SHA-256 in hex (S3 uses MD5 of the same bytes;
/// either way equal content gives an equal ETag).
pub fn etag_of(body: &[u8]) -> String {
    hex::encode(&Sha256::digest(body)[..16])
}

fn io_err(bucket: &str, key: &str, op: &'static str, e: std::io::Error) -> StoreError {
    if e.kind() == ErrorKind::NotFound {
        StoreError::NotFound {
            bucket: bucket.into(),
            key: key.into(),
        }
    } else {
        StoreError::Io {
            bucket: bucket.into(),
            key: key.into(),
            op,
            source: e,
        }
    }
}

/// Keys come from events, i.e. from outside: refuse anything that could leave the bucket's
/// directory or that a file system cannot hold.
const MAX_KEY_PART: usize = 230;

fn validate(bucket: &str, key: &str) -> Result<(), StoreError> {
    let bad = |reason: &str| {
        Err(StoreError::InvalidKey {
            bucket: bucket.into(),
            key: key.into(),
            reason: reason.into(),
        })
    };
    if bucket.is_empty() || bucket.starts_with('.') || bucket.contains(['/', '\\', '\0']) {
        return bad(
            "bucket names must be non-empty, not start with '.', and hold no '/', '\\' or NUL",
        );
    }
    if key.is_empty() || key.len() > 1024 {
        return bad("keys must be 1 to 1024 bytes long");
    }
    // A part is a file name (at most 255 bytes), and its attributes file and the temporary
    // files of atomic writes add up to 18 bytes to it.
    if key.split('/').any(|s| s.len() > MAX_KEY_PART) {
        return bad("a '/'-separated part of a key is a file name here: at most 230 bytes");
    }
    if key.contains('\0') || key.contains('\\') {
        return bad("NUL and '\\' are not allowed in keys of the local store");
    }
    if key.starts_with('/')
        || key.ends_with('/')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad(
            "empty, '.' and '..' path segments (and leading or trailing '/') are not allowed",
        );
    }
    if Path::new(key)
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return bad("the key must be a relative path");
    }
    Ok(())
}

/// Every object key in the bucket directory, sorted (S3 lists in UTF-8 byte order; so does
/// `String`'s `Ord`). In-flight temp files of [`write_atomic`] and keys the store would refuse
/// are left out.
fn walk_keys(bucket_dir: &Path) -> std::io::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut dirs = vec![bucket_dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let ft = entry.file_type()?;
            let path = entry.path();
            if ft.is_dir() {
                dirs.push(path);
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.contains(".tmp-") {
                continue;
            }
            let Ok(rel) = path.strip_prefix(bucket_dir) else {
                continue;
            };
            let Some(key) = rel
                .to_str()
                .map(|k| k.replace(std::path::MAIN_SEPARATOR, "/"))
            else {
                continue;
            };
            if validate("b", &key).is_ok() {
                keys.push(key);
            }
        }
    }
    keys.sort();
    Ok(keys)
}

async fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(dir).await?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("obj");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    tokio::fs::write(&tmp, data).await?;
    tokio::fs::rename(&tmp, path).await
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn name(&self) -> &'static str {
        "local"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            presign: false,
            list: true,
        }
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, StoreError> {
        let a = self.attrs(bucket, key).await?;
        let secs = (a.mtime_ns / 1_000_000_000) as i64;
        Ok(ObjectMeta {
            size: a.size,
            etag: a.etag,
            content_type: a.content_type,
            metadata: a.metadata,
            last_modified: chrono::DateTime::from_timestamp(secs, 0),
            encryption: None,
            version_id: None,
        })
    }

    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        let (path, size, _) = self.stat(bucket, key).await?;
        let start = range.start.min(size);
        let len = range.end.min(size).saturating_sub(start);
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(|e| io_err(bucket, key, "get", e))?;
        f.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| io_err(bucket, key, "get", e))?;
        let mut buf = Vec::with_capacity(len as usize);
        f.take(len)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| io_err(bucket, key, "get", e))?;
        Ok(Bytes::from(buf))
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Bytes, StoreError> {
        let path = self.object_path(bucket, key)?;
        tokio::fs::read(&path)
            .await
            .map(Bytes::from)
            .map_err(|e| io_err(bucket, key, "get", e))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        // A key the store refuses is refused before waiting for the lock.
        self.object_path(bucket, key)?;
        let _writing = self.write_lock(bucket, key, "put").await?;
        self.write_object_held(bucket, key, &body, content_type)
            .await
            .map(|_| ())
    }

    /// The condition checked and the object written under one hold of the write lock, which
    /// every writer of this root takes, in this process and in any other (see [`lock`]).
    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        condition: PutCondition<'_>,
    ) -> Result<String, StoreError> {
        cond::put_if(self, bucket, key, &body, content_type, condition).await
    }

    async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        self.modify_attrs(bucket, key, |a| {
            merge(a, entries);
            Ok(())
        })
        .await
    }

    /// The ETag compared and the attributes written under one hold of the write lock.
    async fn update_metadata_if(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
        etag: &str,
    ) -> Result<String, StoreError> {
        self.modify_attrs(bucket, key, |a| {
            super::check_etag(bucket, key, "update metadata", etag, &a.etag)?;
            merge(a, entries);
            Ok(())
        })
        .await?;
        // Metadata lives beside the bytes here: the ETag does not change.
        Ok(etag.trim_matches('"').to_string())
    }

    /// The embedded bucket keeps no versions: the object is its only one.
    async fn put_version_tags(
        &self,
        bucket: &str,
        key: &str,
        _version: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        // Refuse what the tag rules refuse, so a tag set that works here works there too.
        if let Err(why) = self.tag_rules().check(tags) {
            let e = std::io::Error::new(ErrorKind::InvalidInput, why);
            return Err(io_err(bucket, key, "put tags", e));
        }
        self.modify_attrs(bucket, key, |a| {
            a.tags = tags.to_vec();
            Ok(())
        })
        .await
    }

    async fn get_version_tags(
        &self,
        bucket: &str,
        key: &str,
        _version: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self.attrs(bucket, key).await?.tags)
    }

    async fn set_private(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.modify_attrs(bucket, key, |a| {
            a.acl = Some("private".into());
            Ok(())
        })
        .await
    }

    async fn rename(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        if_match: Option<&str>,
    ) -> Result<(), StoreError> {
        let src = self.object_path(bucket, from)?;
        let dst = self.object_path(bucket, to)?;
        let _writing = self.write_lock(bucket, from, "move").await?;
        let attrs = self.attrs_held(bucket, from).await?;
        if let Some(want) = if_match {
            super::check_etag(bucket, from, "move", want, &attrs.etag)?;
        }
        if let Some(dir) = dst.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io_err(bucket, to, "move", e))?;
        }
        tokio::fs::rename(&src, &dst)
            .await
            .map_err(|e| io_err(bucket, from, "move", e))?;
        // rename keeps the mtime, so the attributes stay valid for the new key.
        self.write_attrs(bucket, to, &attrs).await?;
        let _ = tokio::fs::remove_file(self.attrs_path(bucket, from)).await;
        Ok(())
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        validate(bucket, "k")?;
        let dir = self.root.join(bucket);
        let all = tokio::task::spawn_blocking(move || walk_keys(&dir))
            .await
            .map_err(|e| io_err(bucket, prefix, "list", std::io::Error::other(e)))?
            .map_err(|e| io_err(bucket, prefix, "list", e))?;
        let mut selected = all
            .into_iter()
            .filter(|k| k.starts_with(prefix) && start_after.is_none_or(|a| k.as_str() > a));
        let keys: Vec<String> = selected.by_ref().take(limit.max(1)).collect();
        let more = selected.next().is_some();
        let mut objects = Vec::with_capacity(keys.len());
        for key in keys {
            // Through the attributes, so a file copied in by hand gets its ETag like on HEAD.
            match self.attrs(bucket, &key).await {
                Ok(a) => objects.push(ListedObject {
                    key,
                    size: a.size,
                    last_modified: a.last_modified(),
                    etag: a.etag,
                }),
                // Deleted between the walk and now.
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let next_marker = if more {
            objects.last().map(|o| o.key.clone())
        } else {
            None
        };
        Ok(ListPage {
            objects,
            next_marker,
        })
    }

    /// The embedded bucket keeps no versions: the object is its only one.
    async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        _version: Option<&str>,
    ) -> Result<(), StoreError> {
        let path = self.object_path(bucket, key)?;
        let _writing = self.write_lock(bucket, key, "delete").await?;
        match tokio::fs::remove_file(&path).await {
            // Deleting a missing key succeeds, as on S3, COS and OBS.
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(bucket, key, "delete", e)),
        }
        let _ = tokio::fs::remove_file(self.attrs_path(bucket, key)).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
