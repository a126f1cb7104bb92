//! A wrapper that counts the object bytes read through it: the benchmark and tests use it to
//! prove how much of an object one event reads.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::{Capabilities, ListPage, ObjectMeta, ObjectStore, PutCondition, StoreError, TagRules};

#[derive(Debug)]
pub struct CountingStore<S> {
    inner: S,
    bytes_read: Arc<AtomicU64>,
}

impl<S> CountingStore<S> {
    pub fn new(inner: S) -> Self {
        CountingStore {
            inner,
            bytes_read: Arc::new(AtomicU64::new(0)),
        }
    }
    /// A handle that keeps reading the counter after the store moved into the pipeline.
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.bytes_read.clone()
    }
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }
    fn count(&self, b: &Bytes) {
        self.bytes_read.fetch_add(b.len() as u64, Ordering::Relaxed);
    }
}

// Every method forwarded, optional capabilities included: a wrapper that fell back to a
// default (`presign` → Unsupported) would silently change which path the pipeline takes.
#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: ObjectStore> ObjectStore for CountingStore<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn tag_rules(&self) -> TagRules {
        self.inner.tag_rules()
    }
    fn metadata_budget(&self) -> usize {
        self.inner.metadata_budget()
    }
    fn note_region(&self, bucket: &str, region: &str) {
        self.inner.note_region(bucket, region)
    }
    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, StoreError> {
        self.inner.head(bucket, key).await
    }
    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        let b = self.inner.get_range(bucket, key, range).await?;
        self.count(&b);
        Ok(b)
    }
    async fn get(&self, bucket: &str, key: &str) -> Result<Bytes, StoreError> {
        let b = self.inner.get(bucket, key).await?;
        self.count(&b);
        Ok(b)
    }
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.inner.put(bucket, key, body, content_type).await
    }
    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        condition: PutCondition<'_>,
    ) -> Result<String, StoreError> {
        self.inner
            .put_if(bucket, key, body, content_type, condition)
            .await
    }
    async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        self.inner.update_metadata(bucket, key, entries).await
    }
    async fn update_metadata_if(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
        etag: &str,
    ) -> Result<String, StoreError> {
        self.inner
            .update_metadata_if(bucket, key, entries, etag)
            .await
    }
    async fn put_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        self.inner.put_tags(bucket, key, tags).await
    }
    async fn get_tags(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.get_tags(bucket, key).await
    }
    async fn put_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        self.inner
            .put_version_tags(bucket, key, version, tags)
            .await
    }
    async fn get_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.get_version_tags(bucket, key, version).await
    }
    async fn set_private(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.inner.set_private(bucket, key).await
    }
    async fn rename(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        if_match: Option<&str>,
    ) -> Result<(), StoreError> {
        self.inner.rename(bucket, from, to, if_match).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.inner.delete(bucket, key).await
    }
    async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<(), StoreError> {
        self.inner.delete_version(bucket, key, version).await
    }
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        self.inner.list(bucket, prefix, start_after, limit).await
    }
    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        expires: std::time::Duration,
    ) -> Result<String, StoreError> {
        self.inner.presign(bucket, key, expires).await
    }
}
