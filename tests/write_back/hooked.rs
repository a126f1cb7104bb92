//! A store wrapper that can act between the pipeline's calls: fail an operation, or replace the
//! object right after the metadata write (an upload landing mid-work). Every method is forwarded.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use image_triage::store::{
    Capabilities, ListPage, ObjectMeta, ObjectStore, PutCondition, StoreError, TagRules,
};

/// What to do at one call.
pub enum Hook {
    /// Forward the call.
    Go,
    /// Answer this error instead of forwarding.
    Fail(StoreError),
}

type Rule = Box<dyn Fn(&str, &str) -> Hook + Send + Sync>;

pub struct Hooked {
    pub inner: Arc<dyn ObjectStore>,
    /// Called with (operation, key) before each call; `after_metadata` runs after a successful
    /// `update_metadata_if`.
    rule: Rule,
    after_metadata: Mutex<Option<(String, Bytes)>>,
    /// An ETag `head` reports instead of the real one (a copy that changed it).
    etag: Mutex<Option<String>>,
    /// Every (operation, key), in order.
    pub calls: Mutex<Vec<(String, String)>>,
}

impl std::fmt::Debug for Hooked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooked")
    }
}

impl Hooked {
    pub fn new(
        inner: Arc<dyn ObjectStore>,
        rule: impl Fn(&str, &str) -> Hook + Send + Sync + 'static,
    ) -> Self {
        Hooked {
            inner,
            rule: Box::new(rule),
            after_metadata: Mutex::new(None),
            etag: Mutex::new(None),
            calls: Mutex::default(),
        }
    }

    /// After the next successful metadata write, put these bytes at that key.
    pub fn replace_after_metadata(&self, key: &str, body: Bytes) {
        *self.after_metadata.lock().unwrap() = Some((key.to_string(), body));
    }

    /// Make `head` report this ETag (`None`: the real one again).
    pub fn report_etag(&self, etag: Option<&str>) {
        *self.etag.lock().unwrap() = etag.map(str::to_string);
    }

    pub fn called(&self, op: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == op)
            .count()
    }

    async fn hook(&self, op: &str, key: &str) -> Result<(), StoreError> {
        self.calls.lock().unwrap().push((op.into(), key.into()));
        match (self.rule)(op, key) {
            Hook::Go => Ok(()),
            Hook::Fail(e) => Err(e),
        }
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl ObjectStore for Hooked {
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
        self.hook("head", key).await?;
        let mut m = self.inner.head(bucket, key).await?;
        if let Some(e) = self.etag.lock().unwrap().clone() {
            m.etag = e;
        }
        Ok(m)
    }
    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        self.hook("get_range", key).await?;
        self.inner.get_range(bucket, key, range).await
    }
    async fn get(&self, bucket: &str, key: &str) -> Result<Bytes, StoreError> {
        self.hook("get", key).await?;
        self.inner.get(bucket, key).await
    }
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.hook("put", key).await?;
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
        self.hook("put_if", key).await?;
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
        self.hook("update_metadata", key).await?;
        self.inner.update_metadata(bucket, key, entries).await
    }
    async fn update_metadata_if(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
        etag: &str,
    ) -> Result<String, StoreError> {
        self.hook("update_metadata_if", key).await?;
        let r = self
            .inner
            .update_metadata_if(bucket, key, entries, etag)
            .await?;
        let then = self.after_metadata.lock().unwrap().take();
        if let Some((k, body)) = then {
            self.inner.put(bucket, &k, body, "image/png").await?;
        }
        Ok(r)
    }
    async fn put_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        self.hook("put_tags", key).await?;
        self.inner.put_tags(bucket, key, tags).await
    }
    async fn get_tags(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.hook("get_tags", key).await?;
        self.inner.get_tags(bucket, key).await
    }
    async fn put_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        self.hook("put_version_tags", key).await?;
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
        self.hook("get_version_tags", key).await?;
        self.inner.get_version_tags(bucket, key, version).await
    }
    async fn set_private(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.hook("set_private", key).await?;
        self.inner.set_private(bucket, key).await
    }
    async fn rename(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        if_match: Option<&str>,
    ) -> Result<(), StoreError> {
        self.hook("rename", from).await?;
        self.inner.rename(bucket, from, to, if_match).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.hook("delete", key).await?;
        self.inner.delete(bucket, key).await
    }
    async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<(), StoreError> {
        self.hook("delete_version", key).await?;
        self.inner.delete_version(bucket, key, version).await
    }
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        self.hook("list", prefix).await?;
        self.inner.list(bucket, prefix, start_after, limit).await
    }
    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        expires: std::time::Duration,
    ) -> Result<String, StoreError> {
        self.hook("presign", key).await?;
        self.inner.presign(bucket, key, expires).await
    }
}
