//! AWS S3 and S3-compatible stores (MinIO, moto, and the S3 APIs of Tencent COS and Huawei OBS),
//! signed with SigV4. `builder` reads the settings, `credential` signs, `client` calls.

pub mod builder;
pub mod client;
pub mod credential;
mod wire;

use std::collections::BTreeMap;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::Method;

pub use client::S3Store;
use client::{header, kv, object_meta, Call, KEPT_ON_COPY, KEPT_ON_MOVE, META_PREFIX};

use crate::store::xml;
use crate::store::{Capabilities, ListPage, ObjectMeta, ObjectStore, PutCondition, StoreError};
use std::time::Duration;
use wire::S3Error;

#[async_trait]
impl ObjectStore for S3Store {
    fn name(&self) -> &'static str {
        "s3"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            presign: true,
            list: true,
        }
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, StoreError> {
        let call = Call {
            op: "HEAD",
            key,
            ..Call::default()
        };
        let r = self.send(Method::HEAD, bucket, call).await?;
        Ok(object_meta(&r.headers))
    }

    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        if range.start >= range.end {
            return Ok(Bytes::new());
        }
        let call = Call {
            op: "GET (range)",
            key,
            headers: vec![kv(
                "range",
                format!("bytes={}-{}", range.start, range.end - 1),
            )],
            ..Call::default()
        };
        match self.send(Method::GET, bucket, call).await {
            Ok(r) => Ok(r.body),
            // Start past the end: the clamped range is empty.
            Err(StoreError::Remote { status: 416, .. }) => Ok(Bytes::new()),
            Err(e) => Err(e),
        }
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Bytes, StoreError> {
        let call = Call {
            op: "GET",
            key,
            ..Call::default()
        };
        Ok(self.send(Method::GET, bucket, call).await?.body)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        let call = Call {
            op: "PUT",
            key,
            headers: vec![kv("content-type", content_type)],
            body,
            ..Call::default()
        };
        self.send(Method::PUT, bucket, call).await.map(|_| ())
    }

    /// One `PUT` carrying the precondition, which S3 evaluates and applies as one step (AWS
    /// conditional writes, https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html):
    /// `If-None-Match: *` for [`PutCondition::Absent`], `If-Match: "<etag>"` for
    /// [`PutCondition::Matches`]. A failed condition is 412 PreconditionFailed; a write that
    /// raced another conditional write or a delete of the key is 409 ConditionalRequestConflict,
    /// which S3 says to answer by reading the object again and retrying (the PutObject
    /// `IfMatch`/`IfNoneMatch` API docs): reported as [`StoreError::PreconditionFailed`] too,
    /// since that is what the caller does on a failed condition. `If-Match` on a key with no
    /// current object is 404 NoSuchKey: [`StoreError::NotFound`].
    ///
    /// S3-compatible servers that ignore these headers make this a plain PUT (nothing here can
    /// tell): atomic only on AWS and servers that implement conditional writes.
    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        condition: PutCondition<'_>,
    ) -> Result<String, StoreError> {
        const OP: &str = "PUT (conditional)";
        let precondition = match condition {
            PutCondition::Absent => kv("if-none-match", "*"),
            PutCondition::Matches(etag) => {
                kv("if-match", format!("\"{}\"", etag.trim_matches('"')))
            }
        };
        let call = Call {
            op: OP,
            key,
            headers: vec![kv("content-type", content_type), precondition],
            body,
            ..Call::default()
        };
        let reply = self
            .send(Method::PUT, bucket, call)
            .await
            .map_err(wire::conflict_as_precondition)?;
        // The ETag of the version this request wrote: a HEAD afterwards could see a later one.
        header(&reply.headers, "etag")
            .map(|e| e.trim_matches('"').to_string())
            .filter(|e| !e.is_empty())
            .ok_or_else(|| StoreError::malformed(bucket, key, OP, "PUT answered without an ETag"))
    }

    /// S3 cannot edit metadata in place: copy the object onto itself with
    /// `x-amz-metadata-directive: REPLACE` (tags are kept: the tagging directive stays COPY).
    /// That fires `ObjectCreated:Copy`, which `pipeline::guard::already_done` skips by marker.
    async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        self.replace_metadata(bucket, key, entries, None)
            .await
            .map(|_| ())
    }

    /// As `update_metadata`; the copy carries `x-amz-copy-source-if-match: "<etag>"`, so S3
    /// itself refuses it (412 PreconditionFailed) when the object changed after our HEAD.
    async fn update_metadata_if(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
        etag: &str,
    ) -> Result<String, StoreError> {
        self.replace_metadata(bucket, key, entries, Some(etag))
            .await
    }

    async fn put_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        let body = Bytes::from(xml::tagging_xml(tags, false));
        let md5 = xml::content_md5(&body);
        let call = Call {
            op: "PUT ?tagging",
            key,
            query: tagging_query(version),
            headers: vec![
                kv("content-md5", md5),
                kv("content-type", "application/xml"),
            ],
            body,
        };
        self.send(Method::PUT, bucket, call).await.map(|_| ())
    }

    async fn get_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let call = Call {
            op: "GET ?tagging",
            key,
            query: tagging_query(version),
            ..Call::default()
        };
        let r = self.send(Method::GET, bucket, call).await?;
        xml::parse_tagging(&r.body)
            .map_err(|e| StoreError::malformed(bucket, key, "GET ?tagging", e))
    }

    async fn set_private(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let call = Call {
            op: "PUT ?acl",
            key,
            query: vec![kv("acl", "")],
            headers: vec![kv("x-amz-acl", "private")],
            ..Call::default()
        };
        // A bucket with "bucket owner enforced" ownership has no ACLs and answers
        // AccessControlListNotSupported: who can read the object is its bucket policy's
        // business, so the block did not happen and the caller must say so.
        self.send(Method::PUT, bucket, call).await.map(|_| ())
    }

    /// A copy is private to the requester (the ACL is not copied), but takes the bucket's
    /// default encryption and the STANDARD class: those are named again from a HEAD.
    async fn rename(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        if_match: Option<&str>,
    ) -> Result<(), StoreError> {
        let head = Call {
            op: "HEAD",
            key: from,
            ..Call::default()
        };
        let head = self.send(Method::HEAD, bucket, head).await?;
        let mut headers = vec![kv("x-amz-copy-source", Self::copy_source(bucket, from))];
        if let Some(etag) = if_match {
            headers.push(kv(
                "x-amz-copy-source-if-match",
                format!("\"{}\"", etag.trim_matches('"')),
            ));
        }
        for name in KEPT_ON_MOVE {
            if let Some(v) = header(&head.headers, name) {
                headers.push(kv(name, v));
            }
        }
        let call = Call {
            op: "copy (rename)",
            key: to,
            headers,
            ..Call::default()
        };
        self.send(Method::PUT, bucket, call).await?;
        self.delete(bucket, from).await
    }

    async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<(), StoreError> {
        let call = Call {
            op: "DELETE",
            key,
            query: version.map(|v| kv("versionId", v)).into_iter().collect(),
            ..Call::default()
        };
        self.send(Method::DELETE, bucket, call).await.map(|_| ())
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        let mut query = vec![
            kv("list-type", "2"),
            kv("prefix", prefix),
            kv("max-keys", limit.clamp(1, 1000).to_string()),
        ];
        if let Some(s) = start_after {
            query.push(kv("start-after", s));
        }
        let call = Call {
            op: "ListObjectsV2",
            key: "",
            query,
            ..Call::default()
        };
        let r = self.send(Method::GET, bucket, call).await?;
        xml::parse_list(&r.body)
            .map_err(|e| StoreError::malformed(bucket, prefix, "ListObjectsV2", e))
    }

    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        expires: Duration,
    ) -> Result<String, StoreError> {
        client::check_bucket(bucket)?;
        let creds = self
            .credentials
            .get(self.settings.cloud)
            .ok_or_else(|| S3Error::NoCredentials.for_object(bucket, key, "presign"))?;
        let settings = self.settings_for(bucket);
        let (host, path) = settings.locate(bucket, key);
        let signer = credential::signer(&settings, &creds, chrono::Utc::now());
        credential::presigned_get(&signer, &settings.scheme, &host, &path, expires.as_secs())
            .map_err(|e| S3Error::from(e).for_object(bucket, key, "presign"))
    }
}

impl S3Store {
    /// HEAD, merge `entries` into the user metadata, copy the object onto itself with REPLACE,
    /// re-sending everything a REPLACE copy would otherwise drop or reset: the standard headers,
    /// storage class, encryption (with its KMS key and bucket-key setting), object-lock
    /// retention and legal hold, checksum algorithm, and the ACL's grants. What cannot be re-sent
    /// (SSE-C, metadata S3 does not return) stops the write: [`StoreError::Unpreservable`].
    /// The copy is conditional on the source ETag: `expect` when given (a different ETag at
    /// HEAD time fails here, without a request), else the one the HEAD saw, so an upload that
    /// lands in between never receives metadata meant for the object we read.
    async fn replace_metadata(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
        expect: Option<&str>,
    ) -> Result<String, StoreError> {
        const OP: &str = "copy (metadata REPLACE)";
        let call = Call {
            op: "HEAD",
            key,
            // So the HEAD names the object's checksum, whose algorithm the copy must repeat.
            headers: vec![kv("x-amz-checksum-mode", "ENABLED")],
            ..Call::default()
        };
        let reply = self.send(Method::HEAD, bucket, call).await?;
        let current = object_meta(&reply.headers);
        if let Some(want) = expect {
            crate::store::check_etag(bucket, key, OP, want, &current.etag)?;
        }
        let lost = |what: &str| StoreError::Unpreservable {
            bucket: bucket.into(),
            key: key.into(),
            what: what.into(),
        };
        if reply
            .headers
            .contains_key("x-amz-server-side-encryption-customer-algorithm")
        {
            return Err(lost("its customer-provided encryption key (SSE-C)"));
        }
        if reply.headers.contains_key("x-amz-missing-meta") {
            return Err(lost(
                "user metadata S3 does not return (x-amz-missing-meta)",
            ));
        }
        let unreadable = reply.headers.iter().any(|(k, v)| {
            k.as_str().starts_with(META_PREFIX) && std::str::from_utf8(v.as_bytes()).is_err()
        });
        if unreadable {
            return Err(lost("user metadata that is not UTF-8"));
        }
        let acl = self.acl(bucket, key).await?;
        let mut merged = current.metadata;
        merged.retain(|k, _| !k.starts_with(crate::store::OWNED_PREFIX));
        for (k, v) in entries {
            merged.insert(k.to_ascii_lowercase(), v.clone());
        }
        let mut headers = vec![
            kv("x-amz-copy-source", Self::copy_source(bucket, key)),
            kv("x-amz-metadata-directive", "REPLACE"),
            kv(
                "x-amz-copy-source-if-match",
                format!("\"{}\"", current.etag),
            ),
        ];
        for name in KEPT_ON_COPY {
            if let Some(v) = header(&reply.headers, name) {
                headers.push(kv(name, v));
            }
        }
        if reply.headers.contains_key("x-amz-object-lock-mode")
            || reply.headers.contains_key("x-amz-object-lock-legal-hold")
        {
            // S3 wants an integrity header on any write that sets Object Lock headers
            // (MissingUploadObjectWithObjectLockHeaders otherwise): the MD5 of the empty body.
            headers.push(kv("content-md5", xml::content_md5(b"")));
        }
        if let Some(algorithm) = checksum_algorithm(&reply.headers) {
            headers.push(kv("x-amz-checksum-algorithm", algorithm));
        }
        // A copy gives the requester full control and nothing else: other grants (public-read,
        // another account's) are re-sent, or they would be gone.
        if !acl.owner_only() {
            let grants = acl
                .grant_headers("x-amz-", str::to_string)
                .map_err(|e| lost(&format!("its ACL ({e})")))?;
            headers.extend(grants);
        }
        for (k, v) in merged {
            headers.push((format!("{META_PREFIX}{k}"), v));
        }
        let call = Call {
            op: OP,
            key,
            headers,
            ..Call::default()
        };
        let r = self.send(Method::PUT, bucket, call).await?;
        xml::copy_result_etag(&r.body).ok_or_else(|| {
            StoreError::malformed(bucket, key, OP, "CopyObjectResult without an ETag")
        })
    }

    /// The object's ACL (`GET ?acl`).
    async fn acl(&self, bucket: &str, key: &str) -> Result<xml::Acl, StoreError> {
        let call = Call {
            op: "GET ?acl",
            key,
            query: vec![kv("acl", "")],
            ..Call::default()
        };
        let r = self.send(Method::GET, bucket, call).await?;
        xml::parse_acl(&r.body).map_err(|e| StoreError::malformed(bucket, key, "GET ?acl", e))
    }
}

/// `?tagging`, of one version when given.
fn tagging_query(version: Option<&str>) -> Vec<(String, String)> {
    let mut q = vec![kv("tagging", "")];
    if let Some(v) = version {
        q.push(kv("versionId", v));
    }
    q
}

/// The checksum algorithm the object was stored with, from the `x-amz-checksum-<alg>` header a
/// HEAD with checksum mode returns.
fn checksum_algorithm(h: &reqwest::header::HeaderMap) -> Option<&'static str> {
    [
        ("x-amz-checksum-crc32", "CRC32"),
        ("x-amz-checksum-crc32c", "CRC32C"),
        ("x-amz-checksum-crc64nvme", "CRC64NVME"),
        ("x-amz-checksum-sha1", "SHA1"),
        ("x-amz-checksum-sha256", "SHA256"),
    ]
    .into_iter()
    .find(|(name, _)| h.contains_key(*name))
    .map(|(_, alg)| alg)
}
