//! S3 REST calls over the shared HTTP client: every request signed with the credentials current
//! at that moment, wrapped in the service's rate limit / timeout / retry policy.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;

use super::builder::Settings;
use super::credential;
use super::wire::{parse_error, S3Error};
use crate::client::{self, CredentialSlots, Service};
use crate::store::xml;
use crate::store::{ListPage, ObjectMeta, ObjectStore, StoreError};

#[derive(Debug, Clone)]
pub struct S3Store {
    settings: Settings,
    credentials: CredentialSlots,
    service: Service,
    /// Buckets found in another region than the configured one (S3 says so in
    /// `x-amz-bucket-region` when a request was signed for the wrong region).
    bucket_regions: Arc<RwLock<HashMap<String, String>>>,
}

struct Reply {
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct Call<'a> {
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Bytes,
    op: &'static str,
    key: &'a str,
}

const META_PREFIX: &str = "x-amz-meta-";

/// Object properties a metadata REPLACE copy would otherwise lose.
const KEPT_ON_COPY: [&str; 10] = [
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
];

impl S3Store {
    pub fn new(settings: Settings, credentials: CredentialSlots, service: Service) -> Self {
        S3Store {
            settings,
            credentials,
            service,
            bucket_regions: Arc::default(),
        }
    }

    /// The settings for `bucket`: the configured ones, or those of the region S3 named for it.
    fn settings_for(&self, bucket: &str) -> Settings {
        let learned = self
            .bucket_regions
            .read()
            .ok()
            .and_then(|m| m.get(bucket).cloned());
        match learned {
            Some(r) if r != self.settings.region => self.settings.in_region(&r),
            _ => self.settings.clone(),
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        bucket: &str,
        call: &Call<'_>,
    ) -> Result<Reply, S3Error> {
        // Read per request: runtimes may swap in fresh temporary credentials at any time.
        let creds = self
            .credentials
            .get(self.settings.cloud)
            .ok_or(S3Error::NoCredentials)?;
        let settings = self.settings_for(bucket);
        let (host, path) = settings.locate(bucket, call.key);
        let signer = credential::signer(&settings, &creds, chrono::Utc::now());
        let signed = credential::sign(
            &signer,
            method.as_str(),
            &host,
            &path,
            &call.query,
            &call.headers,
            &call.body,
        );
        let mut url = format!(
            "{}://{host}{}",
            settings.scheme,
            crate::client::sign::uri_encode(&path, true)
        );
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&crate::cloud::aws::sigv4::encode_query(&call.query));
        }
        let mut req = client::http().request(method.clone(), &url);
        for (k, v) in &signed {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req
            .body(call.body.clone())
            .send()
            .await
            .map_err(|e| S3Error::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| S3Error::Transport(e.without_url().to_string()))?;
        if !(200..300).contains(&status) {
            let err = parse_error(status, &headers, &body);
            // Signed for the wrong region (301 PermanentRedirect, 400 AuthorizationHeaderMalformed):
            // remember the bucket's region; the retry signs (and, on AWS, addresses) for it.
            if let Some(region) = header(&headers, "x-amz-bucket-region") {
                if region != settings.region && matches!(status, 301 | 307 | 400) {
                    if let Ok(mut m) = self.bucket_regions.write() {
                        m.insert(bucket.to_string(), region.clone());
                    }
                    return Err(S3Error::WrongRegion {
                        region,
                        cause: err.to_string(),
                    });
                }
            }
            return Err(err);
        }
        // CopyObject may fail after its 200 header went out; the error is then in the body. Only
        // copies: an object's own bytes (an SVG, an XML upload) may well contain `<Error>`.
        let is_copy = call.headers.iter().any(|(k, _)| k == "x-amz-copy-source");
        if is_copy && body.starts_with(b"<?xml") && body.windows(7).any(|w| w == b"<Error>") {
            let mut e = parse_error(500, &headers, &body);
            if let S3Error::Remote { status, .. } = &mut e {
                *status = 200;
            }
            return Err(e);
        }
        Ok(Reply { headers, body })
    }

    async fn send(
        &self,
        method: Method,
        bucket: &str,
        call: Call<'_>,
    ) -> Result<Reply, StoreError> {
        let (key, op) = (call.key, call.op);
        self.service
            .call(|| self.attempt(&method, bucket, &call))
            .await
            .map_err(|e| e.for_object(bucket, key, op))
    }

    fn copy_source(bucket: &str, key: &str) -> String {
        format!("/{bucket}/{}", crate::client::sign::uri_encode(key, true))
    }
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string())
}

fn object_meta(h: &HeaderMap) -> ObjectMeta {
    let metadata = h
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().strip_prefix(META_PREFIX)?;
            Some((name.to_ascii_lowercase(), v.to_str().ok()?.to_string()))
        })
        .collect();
    ObjectMeta {
        size: header(h, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        etag: header(h, "etag")
            .map(|e| e.trim_matches('"').to_string())
            .unwrap_or_default(),
        content_type: header(h, "content-type"),
        metadata,
        last_modified: header(h, "last-modified")
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(&v).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
    }
}

fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

#[async_trait]
impl ObjectStore for S3Store {
    fn name(&self) -> &'static str {
        "s3"
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

    /// S3 cannot edit metadata in place: copy the object onto itself with
    /// `x-amz-metadata-directive: REPLACE` (tags are kept: the tagging directive stays COPY).
    /// That fires `ObjectCreated:Copy`, which `pipeline::guard::already_done` skips by marker.
    async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let call = Call {
            op: "HEAD",
            key,
            ..Call::default()
        };
        let reply = self.send(Method::HEAD, bucket, call).await?;
        let current = object_meta(&reply.headers);
        let mut merged = current.metadata;
        for (k, v) in entries {
            merged.insert(k.to_ascii_lowercase(), v.clone());
        }
        let mut headers = vec![
            kv("x-amz-copy-source", Self::copy_source(bucket, key)),
            kv("x-amz-metadata-directive", "REPLACE"),
            // Only copy if nothing was uploaded over it since our HEAD.
            kv(
                "x-amz-copy-source-if-match",
                format!("\"{}\"", current.etag),
            ),
        ];
        // REPLACE drops these (and a copy resets the storage class and KMS key to the bucket's
        // defaults) unless they are sent again.
        for name in KEPT_ON_COPY {
            if let Some(v) = header(&reply.headers, name) {
                headers.push(kv(name, v));
            }
        }
        for (k, v) in merged {
            headers.push((format!("{META_PREFIX}{k}"), v));
        }
        let call = Call {
            op: "copy (metadata REPLACE)",
            key,
            headers,
            ..Call::default()
        };
        self.send(Method::PUT, bucket, call).await.map(|_| ())
    }

    async fn put_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        let body = Bytes::from(xml::tagging_xml(tags, false));
        let md5 = xml::content_md5(&body);
        let call = Call {
            op: "PUT ?tagging",
            key,
            query: vec![kv("tagging", "")],
            headers: vec![
                kv("content-md5", md5),
                kv("content-type", "application/xml"),
            ],
            body,
        };
        self.send(Method::PUT, bucket, call).await.map(|_| ())
    }

    async fn get_tags(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        let call = Call {
            op: "GET ?tagging",
            key,
            query: vec![kv("tagging", "")],
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
        match self.send(Method::PUT, bucket, call).await {
            // Buckets with "bucket owner enforced" ownership have no ACLs: objects are private
            // to the owner unless a bucket policy says otherwise.
            Err(StoreError::Remote { code, .. }) if code == "AccessControlListNotSupported" => {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    async fn rename(&self, bucket: &str, from: &str, to: &str) -> Result<(), StoreError> {
        let call = Call {
            op: "copy (rename)",
            key: to,
            headers: vec![kv("x-amz-copy-source", Self::copy_source(bucket, from))],
            ..Call::default()
        };
        self.send(Method::PUT, bucket, call).await?;
        self.delete(bucket, from).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let call = Call {
            op: "DELETE",
            key,
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
        let creds = self
            .credentials
            .get(self.settings.cloud)
            .ok_or_else(|| S3Error::NoCredentials.for_object(bucket, key, "presign"))?;
        let settings = self.settings_for(bucket);
        let (host, path) = settings.locate(bucket, key);
        let signer = credential::signer(&settings, &creds, chrono::Utc::now());
        Ok(credential::presigned_get(
            &signer,
            &settings.scheme,
            &host,
            &path,
            expires.as_secs(),
        ))
    }
}
