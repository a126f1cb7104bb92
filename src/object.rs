//! The one description of "which object" that every event shape is parsed into.

use serde::{Deserialize, Serialize};

string_enum! {
    /// Which platform/vendor the event (and so, by default, the bucket) belongs to.
    pub enum Provider {
        /// Tencent Cloud COS (SCF COS trigger).
        Cos = "cos",
        /// Huawei Cloud OBS (FunctionGraph OBS trigger, either shape).
        Obs = "obs",
        /// AWS S3 or any S3-compatible server (MinIO, moto, ...).
        S3 = "s3",
        /// The embedded local-directory bucket.
        Local = "local",
    }
}

/// One object named by one event record. `key` is always fully decoded (no `%XX`, no `+` for space).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub provider: Provider,
    /// Bucket name as the storage API wants it (for COS: `name-appid`).
    pub bucket: String,
    /// Decoded object key, no leading `/`.
    pub key: String,
    /// Full region id (`ap-guangzhou`, `cn-north-4`, `us-east-1`) when the event carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// ETag without surrounding quotes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Version id; `"null"` and `""` are normalised to `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The object's URL when the event carries one (COS `cosObject.url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The event name as sent, e.g. `ObjectCreated:Put`, `cos:ObjectCreated:Copy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// User metadata carried in the event itself (COS sends `cosObject.meta`); lower-cased keys.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub event_meta: std::collections::BTreeMap<String, String>,
}

impl ObjectRef {
    /// A minimal reference, for callers that know only bucket and key (CLI, backfill, tests).
    pub fn new(provider: Provider, bucket: impl Into<String>, key: impl Into<String>) -> Self {
        ObjectRef {
            provider,
            bucket: bucket.into(),
            key: key.into(),
            region: None,
            size: None,
            etag: None,
            version_id: None,
            url: None,
            event_name: None,
            event_meta: Default::default(),
        }
    }

    /// `bucket/key`, for logs and error messages.
    pub fn display_name(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }
}
