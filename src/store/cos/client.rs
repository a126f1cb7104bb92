//! The COS store's HTTP side: one signed request through the service's retry policy, the
//! copy that metadata updates and renames are made of, and COS answers as store values.

use reqwest::Method;

use crate::client::Service;
use crate::cloud::tencent::cos::{CosClient, CosError, Req, Resp};
use crate::store::{ObjectMeta, StoreError};

#[derive(Debug, Clone)]
pub struct CosStore {
    pub client: CosClient,
    pub service: Service,
}

pub(super) const META_PREFIX: &str = "x-cos-meta-";
/// Headers a metadata copy must send again or lose (doc, PUT Object - Copy: with `Replaced` all
/// metadata comes from the request, and the destination takes the STANDARD storage class and no
/// encryption unless they are named again).
pub(super) const KEPT_HEADERS: [&str; 10] = [
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-cos-storage-class",
    "x-cos-website-redirect-location",
    "x-cos-server-side-encryption",
    "x-cos-server-side-encryption-cos-kms-key-id",
];

/// What a copy must repeat so the destination keeps the source's protection: encryption and
/// storage class (quarantine copies; their ACL is always `private`).
pub(super) const KEPT_ON_MOVE: [&str; 3] = [
    "x-cos-storage-class",
    "x-cos-server-side-encryption",
    "x-cos-server-side-encryption-cos-kms-key-id",
];

/// A grantee ID as GET ?acl gives it (`qcs::cam::uin/<owner>:uin/<sub>`) in the form the
/// `x-cos-grant-*` headers take (`<owner>`, or `<owner>/<sub>` for a sub-account).
pub(super) fn grant_id(id: &str) -> String {
    let Some(rest) = id.strip_prefix("qcs::cam::uin/") else {
        return id.to_string();
    };
    match rest.split_once(":uin/") {
        Some((owner, sub)) if owner == sub => owner.to_string(),
        Some((owner, sub)) => format!("{owner}/{sub}"),
        None => rest.to_string(),
    }
}

pub(super) fn to_store(bucket: &str, key: &str, op: &'static str, e: CosError) -> StoreError {
    if e.status == 404 && matches!(e.code.as_str(), "NoSuchKey" | "NoSuchBucket") {
        return StoreError::NotFound {
            bucket: bucket.into(),
            key: key.into(),
        };
    }
    if e.status == 0 && matches!(e.code.as_str(), "InvalidBucketName" | "InvalidRegion") {
        return StoreError::InvalidBucket {
            bucket: bucket.into(),
            reason: e.message,
        };
    }
    if e.code == "NoRegion" {
        return StoreError::InvalidConfig(crate::config::ConfigError::new(
            crate::cloud::tencent::REGION_VAR,
            "",
            e.message,
        ));
    }
    StoreError::remote(bucket, key, op, e.status, &e.code, e.message, e.retryable)
}

/// COS's refusal of a `x-cos-forbid-overwrite: true` PUT onto an existing key (409
/// `FileAlreadyExists`) as the [`StoreError::PreconditionFailed`] it is: nothing was written.
/// Other errors pass unchanged.
pub(super) fn already_exists_as_precondition(e: StoreError) -> StoreError {
    match e {
        StoreError::Remote {
            bucket,
            key,
            op,
            status: 409,
            code,
            message,
            ..
        } if code == "FileAlreadyExists" => StoreError::PreconditionFailed {
            bucket,
            key,
            op,
            code,
            message,
        },
        other => other,
    }
}

/// Copy-source header value: `<host>/<url-encoded key>`.
pub(super) fn copy_source(host: &str, key: &str) -> String {
    format!("{host}{}", crate::cloud::tencent::cos_sign::wire_path(key))
}

/// A header value as UTF-8. COS returns user metadata that was stored as raw UTF-8 bytes
/// unchanged; `to_str` would drop such a value and the metadata copy would then lose it.
pub(super) fn header_utf8(v: &reqwest::header::HeaderValue) -> Option<String> {
    String::from_utf8(v.as_bytes().to_vec()).ok()
}

pub(super) fn meta_of(resp: &Resp) -> ObjectMeta {
    let metadata = resp
        .headers
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().strip_prefix(META_PREFIX)?;
            Some((name.to_string(), header_utf8(v)?))
        })
        .collect();
    ObjectMeta {
        size: resp
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        etag: resp
            .header("etag")
            .unwrap_or_default()
            .trim_matches('"')
            .to_string(),
        content_type: resp.header("content-type").map(str::to_string),
        metadata,
        last_modified: resp
            .header("last-modified")
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&chrono::Utc)),
        version_id: crate::store::version_of(resp.header("x-cos-version-id")),
        encryption: resp
            .header("x-cos-server-side-encryption")
            .map(str::to_string)
            .or_else(|| {
                resp.header("x-cos-server-side-encryption-customer-algorithm")
                    .map(|_| "SSE-C".to_string())
            }),
    }
}

impl CosStore {
    pub(super) async fn send(&self, op: &'static str, req: Req) -> Result<Resp, StoreError> {
        let (bucket, key) = (req.bucket.clone(), req.key.clone());
        self.service
            .call(|| self.client.send(&req))
            .await
            .map_err(|e| to_store(&bucket, &key, op, e))
    }

    pub(super) async fn copy(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        extra: Vec<(String, String)>,
    ) -> Result<Resp, StoreError> {
        let host = self
            .client
            .host(bucket, None)
            .map_err(|e| to_store(bucket, to, "copy", e))?;
        let mut req = Req::new(Method::PUT, bucket, to)
            .header("x-cos-copy-source", &copy_source(&host, from));
        req.headers.extend(extra);
        // A 200 can still carry <Error>: `send` parses every body.
        self.send("copy", req).await
    }
}
