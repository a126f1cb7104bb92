//! Huawei Cloud OBS over its native API (`OBS` signatures, `x-obs-*` headers).
//!
//! Metadata is written in place with `PUT ?metadata` (`REPLACE_NEW`), which emits no
//! `ObjectCreated` event, so the trigger does not fire again; a copy onto itself is the fallback
//! for servers without that API.

pub mod builder;
pub mod client;
pub mod credential;
pub mod wire;

use std::collections::BTreeMap;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::Method;

use crate::client::credential::Cloud;
use crate::store::xml::{self, content_md5};
use crate::store::{
    Capabilities, ListPage, ObjectMeta, ObjectStore, PutCondition, StoreError, TagRules,
};
pub use builder::ObsSettings;
use client::Copy;
pub use client::{ObsStore, OBS_TAG_RULES};
use credential as sig;
use wire::{encode_meta_value, meta_from_headers, META_PREFIX};

#[async_trait]
impl ObjectStore for ObsStore {
    fn name(&self) -> &'static str {
        "obs"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            presign: true,
            list: true,
        }
    }

    fn tag_rules(&self) -> TagRules {
        OBS_TAG_RULES
    }

    fn metadata_budget(&self) -> usize {
        8 * 1024
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, StoreError> {
        let r = self
            .send(Self::req("head", Method::HEAD, bucket, key))
            .await?;
        Ok(meta_from_headers(&r.headers))
    }

    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        if range.end <= range.start {
            return Ok(Bytes::new());
        }
        let mut req = Self::req("get range", Method::GET, bucket, key);
        req.headers.push((
            "Range".into(),
            format!("bytes={}-{}", range.start, range.end - 1),
        ));
        let r = self.send(req).await?;
        if r.status == 416 {
            return Ok(Bytes::new());
        }
        // A server that ignores Range sends everything: keep only what was asked for.
        let want = (range.end - range.start) as usize;
        if r.status == 200 {
            let start = (range.start as usize).min(r.body.len());
            let end = (start + want).min(r.body.len());
            return Ok(r.body.slice(start..end));
        }
        Ok(r.body.slice(..want.min(r.body.len())))
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Bytes, StoreError> {
        Ok(self
            .send(Self::req("get", Method::GET, bucket, key))
            .await?
            .body)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        let mut req = Self::req("put", Method::PUT, bucket, key);
        req.headers.push(("Content-MD5".into(), content_md5(&body)));
        req.headers
            .push(("Content-Type".into(), content_type.into()));
        req.body = body;
        self.send(req).await.map(|_| ())
    }

    /// NOT atomic. OBS PutObject (api-obs obs_04_0080,
    /// https://support.huaweicloud.com/intl/en-us/api-obs/obs_04_0080.html) documents no
    /// precondition header: `If-Match`/`If-None-Match` appear only on GetObject (obs_04_0083).
    /// So a HEAD checks the condition and a PUT follows; a writer that lands in the round trip
    /// between them is overwritten (a counter loses that increment) or, for
    /// [`PutCondition::Absent`], both creators succeed. Missing key with
    /// [`PutCondition::Matches`]: the HEAD's [`StoreError::NotFound`].
    ///
    /// [`PutCondition::Absent`] also sends `x-obs-forbid-overwrite: true`. UNVERIFIED: the API
    /// reference does not list it; OBS clients in the wild send it and expect 409
    /// `ObjectAlreadyExists` for an existing key, read here as
    /// [`StoreError::PreconditionFailed`]. Where OBS honours it the create is atomic; where it
    /// does not, an unknown `x-obs-` header changes nothing and the HEAD still decides.
    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        condition: PutCondition<'_>,
    ) -> Result<String, StoreError> {
        const OP: &str = "conditional put";
        let head = self
            .send(Self::req("head", Method::HEAD, bucket, key))
            .await;
        match (condition, head) {
            (PutCondition::Absent, Ok(r)) => {
                let etag = meta_from_headers(&r.headers).etag;
                return Err(StoreError::PreconditionFailed {
                    bucket: bucket.into(),
                    key: key.into(),
                    op: OP,
                    code: "ObjectAlreadyExists".into(),
                    message: format!("an object (ETag {etag:?}) already has this key"),
                });
            }
            (PutCondition::Absent, Err(StoreError::NotFound { .. })) => {}
            (PutCondition::Matches(want), Ok(r)) => crate::store::check_etag(
                bucket,
                key,
                OP,
                want,
                &meta_from_headers(&r.headers).etag,
            )?,
            (_, Err(e)) => return Err(e),
        }
        let mut req = Self::req(OP, Method::PUT, bucket, key);
        req.headers.push(("Content-MD5".into(), content_md5(&body)));
        req.headers
            .push(("Content-Type".into(), content_type.into()));
        if condition == PutCondition::Absent {
            req.headers
                .push(("x-obs-forbid-overwrite".into(), "true".into()));
        }
        req.body = body;
        let r = self
            .send(req)
            .await
            .map_err(wire::already_exists_as_precondition)?;
        // The ETag of the version this request wrote: a HEAD afterwards could see a later one.
        let etag = meta_from_headers(&r.headers).etag;
        if etag.is_empty() {
            return Err(StoreError::malformed(
                bucket,
                key,
                OP,
                "PUT answered without an ETag",
            ));
        }
        Ok(etag)
    }

    async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        self.set_metadata(bucket, key, entries, None)
            .await
            .map(|_| ())
    }

    /// As `update_metadata`, after a HEAD found the ETag to be `etag`. SetObjectMetadata
    /// documents no precondition header (api-obs obs_04_0091 lists only the directive, the six
    /// HTTP headers, the storage class, the redirect and `x-obs-meta-*`), so this is a read
    /// then a write: an upload that lands in the one round trip between them receives these
    /// entries. The copy fallback has no such window: it sends `x-obs-copy-source-if-match`
    /// (obs_04_0082: 412 when the source ETag differs).
    async fn update_metadata_if(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
        etag: &str,
    ) -> Result<String, StoreError> {
        self.set_metadata(bucket, key, entries, Some(etag)).await
    }

    async fn put_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        let body = xml::tagging_xml(tags, false);
        let mut req = Self::req("put tags", Method::PUT, bucket, key);
        req.query.push(("tagging".into(), None));
        if let Some(v) = version {
            req.query.push(("versionId".into(), Some(v.into())));
        }
        req.headers
            .push(("Content-MD5".into(), content_md5(body.as_bytes())));
        req.body = Bytes::from(body);
        self.send(req).await.map(|_| ())
    }

    async fn get_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut req = Self::req("get tags", Method::GET, bucket, key);
        req.query.push(("tagging".into(), None));
        if let Some(v) = version {
            req.query.push(("versionId".into(), Some(v.into())));
        }
        let r = match self.send(req).await {
            Ok(r) => r,
            Err(StoreError::Remote { code, .. }) if code == "NoSuchTagSet" => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        xml::parse_tagging(&r.body).map_err(|e| StoreError::malformed(bucket, key, "get tags", e))
    }

    async fn set_private(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let mut req = Self::req("set acl", Method::PUT, bucket, key);
        req.query.push(("acl".into(), None));
        req.headers.push(("x-obs-acl".into(), "private".into()));
        self.send(req).await.map(|_| ())
    }

    /// An OBS copy is private (obs_04_0082: the ACL is not copied); encryption and storage
    /// class are named again so the quarantined copy is protected as the source was.
    async fn rename(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        if_match: Option<&str>,
    ) -> Result<(), StoreError> {
        let head = self
            .send(Self::req("head", Method::HEAD, bucket, from))
            .await?;
        let kept: Vec<(String, String)> = KEPT_ON_MOVE
            .iter()
            .filter_map(|n| {
                let v = std::str::from_utf8(head.headers.get(*n)?.as_bytes()).ok()?;
                Some((n.to_string(), v.to_string()))
            })
            .collect();
        self.copy_onto(bucket, from, to, Copy::Keep(kept), if_match)
            .await?;
        self.delete(bucket, from).await
    }

    async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut req = Self::req("delete", Method::DELETE, bucket, key);
        if let Some(v) = version {
            req.query.push(("versionId".into(), Some(v.into())));
        }
        match self.send(req).await {
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        let mut req = Self::req("list", Method::GET, bucket, "");
        req.query.push(("prefix".into(), Some(prefix.into())));
        if let Some(m) = start_after {
            req.query.push(("marker".into(), Some(m.into())));
        }
        req.query
            .push(("max-keys".into(), Some(limit.clamp(1, 1000).to_string())));
        let r = self.send(req).await?;
        xml::parse_list(&r.body).map_err(|e| StoreError::malformed(bucket, "", "list", e))
    }

    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        expires: std::time::Duration,
    ) -> Result<String, StoreError> {
        client::check_bucket(bucket)?;
        let creds = self.credentials.get(Cloud::Huawei).ok_or_else(|| {
            StoreError::remote(
                bucket,
                key,
                "presign",
                0,
                "MissingCredentials",
                "no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK",
                false,
            )
        })?;
        let at = chrono::Utc::now().timestamp() + expires.as_secs() as i64;
        let q = sig::presigned_query(
            &creds.access_key,
            &creds.secret_key,
            creds.token.as_deref(),
            bucket,
            key,
            at,
        );
        // Always the production URL: the vendor service fetches it, not this function.
        let invalid = |reason: String| StoreError::InvalidBucket {
            bucket: bucket.into(),
            reason,
        };
        let base = crate::client::origin::https(&self.settings.host(bucket))
            .map_err(|e| invalid(e.to_string()))?;
        let target = format!("/{}?{q}", sig::encode_key(key));
        crate::client::origin::request_uri(&base, &target)
            .map(|u| u.to_string())
            .map_err(invalid)
    }
}

impl ObsStore {
    /// HEAD, then `PUT ?metadata` (REPLACE_NEW) with the merged set, or the copy fallback.
    /// `expect`: the ETag the HEAD must find (and the copy's source must still have).
    /// Whether REPLACE_NEW keeps unnamed custom metadata is worded ambiguously, so the whole
    /// merged set is sent: the result is the same under either reading. Entries that are not
    /// ours go back exactly as the HEAD returned them (raw bytes, not decoded and re-encoded).
    async fn set_metadata(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
        expect: Option<&str>,
    ) -> Result<String, StoreError> {
        let head = self
            .send(Self::req("head", Method::HEAD, bucket, key))
            .await?;
        let current = meta_from_headers(&head.headers);
        if let Some(want) = expect {
            crate::store::check_etag(bucket, key, "set metadata", want, &current.etag)?;
        }
        let lost = |what: &str| StoreError::Unpreservable {
            bucket: bucket.into(),
            key: key.into(),
            what: what.into(),
        };
        let ours: BTreeMap<String, &String> = entries
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let mut meta: Vec<(String, String)> = vec![];
        for (name, value) in &head.headers {
            let Some(k) = name.as_str().strip_prefix(META_PREFIX) else {
                continue;
            };
            if ours.contains_key(k) || k.starts_with(crate::store::OWNED_PREFIX) {
                continue;
            }
            let raw = std::str::from_utf8(value.as_bytes())
                .map_err(|_| lost("user metadata that is not UTF-8"))?;
            meta.push((name.as_str().to_string(), raw.to_string()));
        }
        meta.extend(
            ours.iter()
                .map(|(k, v)| (format!("{META_PREFIX}{k}"), encode_meta_value(v))),
        );
        let mut req = Self::req("set metadata", Method::PUT, bucket, key);
        req.query.push(("metadata".into(), None));
        req.headers
            .push(("x-obs-metadata-directive".into(), "REPLACE_NEW".into()));
        req.headers.extend(meta.iter().cloned());
        match self.send(req).await {
            // In place: content and ETag unchanged.
            Ok(_) => Ok(current.etag),
            // Servers without SetObjectMetadata: copy onto itself (emits ObjectCreated:Copy; the
            // marker written here makes that event a no-op).
            Err(StoreError::Remote { status, code, .. })
                if matches!(status, 400 | 405 | 501)
                    && matches!(
                        code.as_str(),
                        "NotImplemented"
                            | "MethodNotAllowed"
                            | "InvalidRequest"
                            | "HTTP405"
                            | "HTTP501"
                    ) =>
            {
                tracing::info!(bucket, key, code = %code, "PUT ?metadata unsupported; copying the object onto itself");
                if head
                    .headers
                    .contains_key("x-obs-server-side-encryption-customer-algorithm")
                {
                    return Err(lost("its customer-provided encryption key (SSE-C)"));
                }
                // A copy is private (obs_04_0082): a public-read ACL is asked for again, any
                // other grant cannot be carried through.
                let acl = self.acl(bucket, key).await?;
                let mut headers = meta;
                let everyone_reads = |g: &xml::Grant| {
                    g.permission == "READ" && g.grantee == xml::Grantee::Uri("Everyone".into())
                };
                let owner = xml::Grantee::Id(acl.owner.clone());
                let other = acl.grants.iter().any(|g| {
                    !everyone_reads(g) && (g.grantee != owner || g.permission != "FULL_CONTROL")
                });
                if other {
                    return Err(lost("its ACL grants (a copy is private)"));
                }
                if acl.grants.iter().any(everyone_reads) {
                    headers.push(("x-obs-acl".into(), "public-read".into()));
                }
                for name in KEPT_ON_COPY {
                    if let Some(v) = head.headers.get(name) {
                        if let Ok(v) = std::str::from_utf8(v.as_bytes()) {
                            headers.push((name.to_string(), v.to_string()));
                        }
                    }
                }
                self.copy_onto(
                    bucket,
                    key,
                    key,
                    Copy::Replace(headers),
                    Some(&current.etag),
                )
                .await
            }
            Err(e) => Err(e),
        }
    }

    /// The object's ACL (GET ?acl).
    async fn acl(&self, bucket: &str, key: &str) -> Result<xml::Acl, StoreError> {
        let mut req = Self::req("get acl", Method::GET, bucket, key);
        req.query.push(("acl".into(), None));
        let r = self.send(req).await?;
        xml::parse_acl(&r.body).map_err(|e| StoreError::malformed(bucket, key, "get acl", e))
    }
}

/// What a quarantine copy repeats so it stays protected as the source was.
const KEPT_ON_MOVE: [&str; 3] = [
    "x-obs-storage-class",
    "x-obs-server-side-encryption",
    "x-obs-server-side-encryption-kms-key-id",
];

/// What a REPLACE copy would otherwise drop: the standard headers, storage class, redirect and
/// encryption.
const KEPT_ON_COPY: [&str; 10] = [
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-obs-storage-class",
    "x-obs-website-redirect-location",
    "x-obs-server-side-encryption",
    "x-obs-server-side-encryption-kms-key-id",
];
