//! S3 REST calls over the shared HTTP client: every request signed with the credentials current
//! at that moment, wrapped in the service's rate limit / timeout / retry policy.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;

use super::builder::Settings;
use super::credential;
use super::wire::{parse_error, S3Error};
use crate::client::{CredentialSlots, Service};
use crate::store::{ObjectMeta, StoreError};

#[derive(Debug, Clone)]
pub struct S3Store {
    pub(super) settings: Settings,
    pub(super) credentials: CredentialSlots,
    pub(super) service: Service,
    /// Buckets found in another region than the configured one (S3 says so in
    /// `x-amz-bucket-region` when a request was signed for the wrong region).
    pub(super) bucket_regions: Arc<RwLock<HashMap<String, String>>>,
}

pub(super) struct Reply {
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

#[derive(Default)]
pub(super) struct Call<'a> {
    pub(super) query: Vec<(String, String)>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Bytes,
    pub(super) op: &'static str,
    pub(super) key: &'a str,
}

pub(super) const META_PREFIX: &str = "x-amz-meta-";

/// Object properties a metadata REPLACE copy would otherwise lose or reset to the bucket's
/// defaults (the ACL is read and re-sent separately).
pub(super) const KEPT_ON_COPY: [&str; 14] = [
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
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
];

/// What a quarantine copy repeats so it stays protected as the source was.
pub(super) const KEPT_ON_MOVE: [&str; 4] = [
    "x-amz-storage-class",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-bucket-key-enabled",
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
    pub(super) fn settings_for(&self, bucket: &str) -> Settings {
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

    pub(super) async fn attempt(
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
        // The path exactly as signed: keys may hold `.`/`..` segments (see client::exact).
        let mut target = crate::client::sign::uri_encode(&path, true);
        if !call.query.is_empty() {
            target.push('?');
            target.push_str(&crate::cloud::aws::sigv4::encode_query(&call.query));
        }
        let base = crate::client::origin::with_scheme(&settings.scheme, &host)?;
        let crate::client::exact::Reply {
            status,
            headers,
            body,
        } = crate::client::exact::send(method, &base, &target, &signed, call.body.clone())
            .await
            .map_err(|e| S3Error::Transport(e.0))?;
        if !(200..300).contains(&status) {
            let err = parse_error(status, &headers, &body);
            // Signed for the wrong region (301 PermanentRedirect, 400 AuthorizationHeaderMalformed):
            // remember the bucket's region; the retry signs (and, on AWS, addresses) for it.
            if let Some(region) = header(&headers, "x-amz-bucket-region") {
                // The region becomes part of AWS's host name: only a region id may.
                let usable = !settings.aws_endpoint || crate::cloud::aws::valid_region(&region);
                if region != settings.region && matches!(status, 301 | 307 | 400) && usable {
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

    pub(super) async fn send(
        &self,
        method: Method,
        bucket: &str,
        call: Call<'_>,
    ) -> Result<Reply, StoreError> {
        check_bucket(bucket)?;
        let (key, op) = (call.key, call.op);
        self.service
            .call(|| self.attempt(&method, bucket, &call))
            .await
            .map_err(|e| e.for_object(bucket, key, op))
    }

    pub(super) fn copy_source(bucket: &str, key: &str) -> String {
        format!("/{bucket}/{}", crate::client::sign::uri_encode(key, true))
    }
}

/// A header's value as UTF-8 (values other clients stored raw included).
pub(super) fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .map(|s| s.to_string())
}

pub(super) fn object_meta(h: &HeaderMap) -> ObjectMeta {
    let metadata = h
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().strip_prefix(META_PREFIX)?;
            // UTF-8 as other clients store it raw; `to_str` would drop every non-ASCII value.
            let value = std::str::from_utf8(v.as_bytes()).ok()?;
            Some((name.to_ascii_lowercase(), value.to_string()))
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
        version_id: crate::store::version_of(header(h, "x-amz-version-id").as_deref()),
        encryption: header(h, "x-amz-server-side-encryption").or_else(|| {
            h.contains_key("x-amz-server-side-encryption-customer-algorithm")
                .then(|| "SSE-C".to_string())
        }),
    }
}

/// The S3 naming rules, before the name becomes part of a URL.
pub(super) fn check_bucket(bucket: &str) -> Result<(), StoreError> {
    crate::cloud::aws::check_bucket(bucket).map_err(|reason| StoreError::InvalidBucket {
        bucket: bucket.into(),
        reason: reason.into(),
    })
}

pub(super) fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}
