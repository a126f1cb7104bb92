//! Object stores: the few operations the pipeline needs, behind one trait.
//!
//! Each backend is its own module; behaviour that applies to any backend is a small wrapper
//! (see [`counting::CountingStore`]).

pub mod cos;
pub mod counting;
pub mod local;
pub mod obs;
pub mod s3;
pub mod xml;

use std::collections::BTreeMap;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;

/// The user-metadata (and tag) names the function owns; see [`ObjectStore::update_metadata`].
pub const OWNED_PREFIX: &str = "triage-";

/// What a HEAD tells.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ObjectMeta {
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub content_type: Option<String>,
    /// User metadata, keys lower-case and without the vendor prefix (`x-amz-meta-` etc.).
    pub metadata: BTreeMap<String, String>,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
    /// Server-side encryption as the store names it (`AES256`, `aws:kms`, `cos/kms`, `kms`;
    /// `SSE-C` for a customer-provided key), when the object has any.
    pub encryption: Option<String>,
    /// The version HEAD returned, on a versioned bucket (`null` is normalised to `None`).
    pub version_id: Option<String>,
}

impl ObjectMeta {
    /// Whether a copy of this object onto itself keeps its ETag: only single-part objects whose
    /// ETag is the MD5 of their bytes (multipart ETags end in `-<parts>`; KMS and customer-key
    /// encryption give ETags that are not the MD5, and a copy gets a new one).
    pub fn copy_keeps_etag(&self) -> bool {
        let etag = self.etag.trim_matches('"');
        let kms_or_customer = self
            .encryption
            .as_deref()
            .is_some_and(|e| e.to_ascii_lowercase().contains("kms") || e == "SSE-C");
        !etag.contains('-') && !kms_or_customer
    }
}

/// A version id header as stores send it: absent, `null` (unversioned object) or an id.
pub(crate) fn version_of(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|v| !v.is_empty() && *v != "null")
        .map(str::to_string)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{bucket}/{key}: object not found")]
    NotFound { bucket: String, key: String },
    /// The bucket name breaks the vendor's naming rules: refused before any URL was built
    /// (an event can name any bucket; a name like `x@host:port` would change the host).
    #[error("{bucket:?}: invalid bucket name: {reason}")]
    InvalidBucket { bucket: String, reason: String },
    #[error("{bucket}/{key}: invalid object key: {reason}")]
    InvalidKey {
        bucket: String,
        key: String,
        reason: String,
    },
    #[error("{bucket}/{key}: {op} failed: {source}")]
    Io {
        bucket: String,
        key: String,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The credentials were refused, or there were none to sign with (status 0).
    #[error("{bucket}/{key}: {op} failed: permission denied: HTTP {status} {code}: {message}")]
    PermissionDenied {
        bucket: String,
        key: String,
        op: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    /// A conditional write found the object changed (HTTP 412, or the 409 a vendor answers a
    /// conditional PUT with, see [`ObjectStore::put_if`]): read again, then decide.
    #[error("{bucket}/{key}: {op} failed: precondition failed: HTTP 412 {code}: {message}")]
    PreconditionFailed {
        bucket: String,
        key: String,
        op: &'static str,
        code: String,
        message: String,
    },
    /// The store asked us to slow down; a later retry helps.
    #[error("{bucket}/{key}: {op} failed: throttled: HTTP {status} {code}: {message}")]
    Throttled {
        bucket: String,
        key: String,
        op: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    /// No answer arrived (connection failure, timeout).
    #[error("{bucket}/{key}: {op} failed: no answer ({code}): {message}")]
    Transport {
        bucket: String,
        key: String,
        op: &'static str,
        code: String,
        message: String,
        retryable: bool,
    },
    /// Any other answer of the store, its code kept verbatim.
    #[error("{bucket}/{key}: {op} failed: HTTP {status} {code}: {message}")]
    Remote {
        bucket: String,
        key: String,
        op: &'static str,
        status: u16,
        code: String,
        message: String,
        retryable: bool,
    },
    /// A metadata write would change something that is not ours (an attribute the store cannot
    /// carry through the copy it needs): nothing was written.
    #[error("{bucket}/{key}: metadata not written: the copy it needs would lose {what}")]
    Unpreservable {
        bucket: String,
        key: String,
        what: String,
    },
    #[error(transparent)]
    InvalidConfig(#[from] crate::config::ConfigError),
    #[error("{op} is not supported by the {store} store")]
    Unsupported {
        store: &'static str,
        op: &'static str,
    },
}

/// Vendor codes (S3, COS and OBS share them) that mean "these credentials may not do this".
const DENIED_CODES: [&str; 8] = [
    "AccessDenied",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidToken",
    "ExpiredToken",
    "InvalidSecurity",
    "MissingCredentials",
    "NoCredentials",
];
/// Codes that ask the client to slow down.
const THROTTLED_CODES: [&str; 5] = [
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
    "RequestLimitExceeded",
];

impl StoreError {
    /// A store's answer to `op` (status 0: none arrived), in the semantic variant it belongs to.
    pub fn remote(
        bucket: &str,
        key: &str,
        op: &'static str,
        status: u16,
        code: &str,
        message: impl Into<String>,
        retryable: bool,
    ) -> Self {
        let (bucket, key, code, message): (String, String, String, String) =
            (bucket.into(), key.into(), code.into(), message.into());
        if status == 403 || DENIED_CODES.contains(&code.as_str()) {
            StoreError::PermissionDenied {
                bucket,
                key,
                op,
                status,
                code,
                message,
            }
        } else if status == 0 {
            StoreError::Transport {
                bucket,
                key,
                op,
                code,
                message,
                retryable,
            }
        } else if status == 412 || code == "PreconditionFailed" {
            StoreError::PreconditionFailed {
                bucket,
                key,
                op,
                code,
                message,
            }
        } else if status == 429 || THROTTLED_CODES.contains(&code.as_str()) {
            StoreError::Throttled {
                bucket,
                key,
                op,
                status,
                code,
                message,
            }
        } else {
            StoreError::Remote {
                bucket,
                key,
                op,
                status,
                code,
                message,
                retryable,
            }
        }
    }

    /// The same error for `bucket`/`key`/`op`, when it was made below the request level (a
    /// retry loop's timeout knows no object: its `op` is `request`).
    pub fn placed(self, bucket: &str, key: &str, op: &'static str) -> Self {
        match self {
            StoreError::PermissionDenied {
                op: "request",
                status,
                code,
                message,
                ..
            } => StoreError::remote(bucket, key, op, status, &code, message, false),
            StoreError::Throttled {
                op: "request",
                status,
                code,
                message,
                ..
            } => StoreError::remote(bucket, key, op, status, &code, message, true),
            StoreError::Transport {
                op: "request",
                code,
                message,
                retryable,
                ..
            } => StoreError::remote(bucket, key, op, 0, &code, message, retryable),
            StoreError::Remote {
                op: "request",
                status,
                code,
                message,
                retryable,
                ..
            } => StoreError::remote(bucket, key, op, status, &code, message, retryable),
            other => other,
        }
    }

    /// A conditional write refused before it was sent: the object's ETag is `have`, the caller
    /// asked for `want` (both compared without quotes).
    pub fn etag_mismatch(
        bucket: &str,
        key: &str,
        op: &'static str,
        want: &str,
        have: &str,
    ) -> Self {
        StoreError::PreconditionFailed {
            bucket: bucket.into(),
            key: key.into(),
            op,
            code: "PreconditionFailed".into(),
            message: format!("the object's ETag is {have:?}, not {want:?}"),
        }
    }

    /// A 2xx reply whose body could not be read as the documented XML.
    pub fn malformed(
        bucket: &str,
        key: &str,
        op: &'static str,
        message: impl std::fmt::Display,
    ) -> Self {
        StoreError::Remote {
            bucket: bucket.into(),
            key: key.into(),
            op,
            status: 200,
            code: "MalformedResponse".into(),
            message: message.to_string(),
            retryable: false,
        }
    }

    /// Whether trying again can help.
    pub fn retryable(&self) -> bool {
        match self {
            StoreError::Remote { retryable, .. } | StoreError::Transport { retryable, .. } => {
                *retryable
            }
            StoreError::Throttled { .. } => true,
            // Temporary keys that expired: the next attempt signs with refreshed ones (the
            // self-hosted refresher, or the platform's keys of the next invocation).
            StoreError::PermissionDenied { code, .. } => code == "ExpiredToken",
            StoreError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }
}

/// One page of a bucket listing, in key order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    /// Pass as `start_after` for the next page; `None` on the last page.
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    /// When the object was last written, where the listing says (`review` sorts by it).
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// Object-tag rules differ per vendor; sinks fit tags to the store's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagRules {
    pub max_tags: usize,
    pub max_key_chars: usize,
    pub max_value_chars: usize,
    /// Characters allowed besides ASCII letters and digits.
    pub extra_chars: &'static str,
}

impl TagRules {
    /// A tag set within these rules: at most `max_tags` tags, unique non-empty keys (case-sensitive),
    /// keys and values within their lengths (in chars) and made of letters, digits and
    /// `extra_chars` (the characters the tag sink keeps).
    pub fn check(&self, tags: &[(String, String)]) -> Result<(), String> {
        let rules = self;
        if tags.len() > rules.max_tags {
            return Err(format!(
                "{} tags; an object has at most {}",
                tags.len(),
                rules.max_tags
            ));
        }
        let allowed = |s: &str| {
            s.chars()
                .all(|c| c.is_alphanumeric() || rules.extra_chars.contains(c))
        };
        let mut seen = std::collections::HashSet::new();
        for (k, v) in tags {
            if k.is_empty() || k.chars().count() > rules.max_key_chars || !allowed(k) {
                return Err(format!(
                    "tag key {k:?}: 1 to {} letters, digits or {:?}",
                    rules.max_key_chars, rules.extra_chars
                ));
            }
            if v.chars().count() > rules.max_value_chars || !allowed(v) {
                return Err(format!(
                    "tag value {v:?}: up to {} letters, digits or {:?}",
                    rules.max_value_chars, rules.extra_chars
                ));
            }
            if !seen.insert(k.as_str()) {
                return Err(format!("tag key {k:?} given twice"));
            }
        }
        Ok(())
    }
}

/// S3's rules, intersected with COS's (127/255 and `+ - = . _ : / @` plus space), so one tag
/// set is valid on both.
pub const S3_TAG_RULES: TagRules = TagRules {
    max_tags: 10,
    max_key_chars: 127,
    max_value_chars: 255,
    extra_chars: " +-=._:/@",
};

/// When [`ObjectStore::put_if`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutCondition<'a> {
    /// Only when no object has the key (`If-None-Match: *`).
    Absent,
    /// Only while the object's ETag (quotes ignored) is this one (`If-Match`).
    Matches(&'a str),
}

/// The optional operations a store has. Every store states its own (the method has no
/// default), and wrappers forward it, so "no presigned URL here" is a fact the pipeline reads,
/// not an error it runs into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// [`ObjectStore::presign`]: GET URLs a vendor service can fetch.
    pub presign: bool,
    /// [`ObjectStore::list`]: bucket listing (backfill).
    pub list: bool,
}

#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Short name for logs and errors.
    fn name(&self) -> &'static str;
    /// Which optional operations ([`ObjectStore::presign`], [`ObjectStore::list`]) work; the
    /// others answer [`StoreError::Unsupported`].
    fn capabilities(&self) -> Capabilities;
    fn tag_rules(&self) -> TagRules {
        S3_TAG_RULES
    }
    /// Total budget for user metadata (keys + values) in bytes.
    fn metadata_budget(&self) -> usize {
        2048
    }
    /// The upload event named `bucket`'s region. Stores whose hosts depend on it (COS) remember
    /// it; the others ignore it. Called before any other operation on an event's object.
    fn note_region(&self, bucket: &str, region: &str) {
        let _ = (bucket, region);
    }
    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, StoreError>;
    /// Bytes `range.start..range.end` (end exclusive, clamped to the object's size).
    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError>;
    async fn get(&self, bucket: &str, key: &str) -> Result<Bytes, StoreError>;
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError>;
    /// [`ObjectStore::put`] under a condition: a counter or record several instances write.
    /// Returns the new object's ETag (without quotes). When the condition does not hold:
    /// [`StoreError::PreconditionFailed`] and nothing is written; [`PutCondition::Matches`] on a
    /// key with no object: [`StoreError::NotFound`] (S3's answer to `If-Match` there).
    ///
    /// How close to atomic the check is depends on the store, and each one's method says why:
    /// the local store and S3 check and write in one step (a lock; `If-None-Match`/`If-Match`);
    /// COS only for [`PutCondition::Absent`] on unversioned buckets (`x-cos-forbid-overwrite`);
    /// elsewhere the condition is a HEAD just before the PUT, and a writer landing between the
    /// two is overwritten.
    ///
    /// A request retried after an attempt that got no answer (timeout, 5xx) can meet its own
    /// first attempt and answer `PreconditionFailed`: read again before deciding. A counter that
    /// does so may count that increment twice, never lose it.
    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        condition: PutCondition<'_>,
    ) -> Result<String, StoreError> {
        let _ = (bucket, key, body, content_type, condition);
        Err(StoreError::Unsupported {
            store: self.name(),
            op: "conditional writes",
        })
    }
    /// Set these user-metadata entries, keeping the object's other user metadata. Entries named
    /// `triage-*` ([`OWNED_PREFIX`]) are the function's own: every one the object had is replaced
    /// by those given, so none an uploader set survives a write.
    async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), StoreError>;
    /// [`ObjectStore::update_metadata`], but only while the object's ETag (without quotes) is
    /// `etag`: otherwise [`StoreError::PreconditionFailed`] and nothing changes. Each store
    /// says how close to atomic its check is (a vendor header, or a read just before the write).
    /// Returns the object's ETag afterwards: a copy onto itself gives multipart and SSE-KMS
    /// objects a new one, and later conditional steps must expect that one.
    async fn update_metadata_if(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
        etag: &str,
    ) -> Result<String, StoreError>;
    /// Replace the object's tags (its current version's).
    async fn put_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        self.put_version_tags(bucket, key, None, tags).await
    }
    async fn get_tags(&self, bucket: &str, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.get_version_tags(bucket, key, None).await
    }
    /// Replace the tags of one version of the object (`version` as HEAD reported it; `None`:
    /// the current one). Stores without versions have only the current one.
    async fn put_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<(), StoreError>;
    async fn get_version_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Make the object readable by its owner only.
    async fn set_private(&self, bucket: &str, key: &str) -> Result<(), StoreError>;
    /// Move within the bucket (copy + delete on stores without rename). With `if_match`, only
    /// while `from` has that ETag (the copy's precondition): otherwise
    /// [`StoreError::PreconditionFailed`] and nothing moves.
    async fn rename(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        if_match: Option<&str>,
    ) -> Result<(), StoreError>;
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.delete_version(bucket, key, None).await
    }
    /// Delete one version of the object for good (`version` as HEAD reported it), leaving any
    /// newer one; `None`: the current object, as a plain DELETE (a delete marker on a versioned
    /// bucket). Stores without versions have only the current one.
    async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Up to `limit` objects under `prefix` whose keys sort after `start_after` (backfill).
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        let _ = (bucket, prefix, start_after, limit);
        Err(StoreError::Unsupported {
            store: self.name(),
            op: "listing",
        })
    }
    /// A GET URL for this object that works without credentials until `expires` has passed
    /// (for services that fetch the object themselves).
    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        expires: std::time::Duration,
    ) -> Result<String, StoreError> {
        let _ = (bucket, key, expires);
        Err(StoreError::Unsupported {
            store: self.name(),
            op: "presigned URLs",
        })
    }
}

/// `Ok` when the object's ETag `have` is the `want` of a conditional write (quotes ignored on
/// both), else the [`StoreError::PreconditionFailed`] the store answers without writing.
pub(crate) fn check_etag(
    bucket: &str,
    key: &str,
    op: &'static str,
    want: &str,
    have: &str,
) -> Result<(), StoreError> {
    if want.trim_matches('"') == have.trim_matches('"') {
        Ok(())
    } else {
        Err(StoreError::etag_mismatch(bucket, key, op, want, have))
    }
}

/// Every store setting variable of the `TRIAGE_S3_*` form; another name of that form is a typo.
pub const SETTINGS_VARS: &[&[&str]] = &[&s3::builder::VARS];

/// Check the settings of every store `config` can select (the configuration calls this when it
/// is built): the same parsers the stores use, without a connection.
pub fn check(config: &crate::config::Config) -> Result<(), crate::config::ConfigError> {
    if matches!(config.store, crate::config::StoreKind::Local(_)) {
        return Ok(());
    }
    s3::builder::Settings::from_config(config)?;
    obs::builder::ObsSettings::check(config)?;
    cos::builder::check(config)
}

/// The store for objects of `provider` under `config`. Each vendor registers one line here.
pub fn for_provider(
    config: &crate::config::Config,
    provider: crate::object::Provider,
) -> Result<std::sync::Arc<dyn ObjectStore>, StoreError> {
    use crate::config::StoreKind;
    use crate::object::Provider;
    match (&config.store, provider) {
        (StoreKind::Local(root), _) => Ok(std::sync::Arc::new(local::LocalStore::new(root))),
        (StoreKind::Auto, Provider::Local) => Err(StoreError::Unsupported {
            store: "local",
            op: "opening the embedded bucket without TRIAGE_STORE=local and TRIAGE_LOCAL_ROOT",
        }),
        (StoreKind::Auto, Provider::Cos) => Ok(std::sync::Arc::new(cos::builder::build(config)?)),
        (StoreKind::Auto, Provider::Obs) => Ok(std::sync::Arc::new(obs::builder::build(config)?)),
        (StoreKind::Auto, Provider::S3) => Ok(std::sync::Arc::new(s3::builder::build(config)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    fn kind(status: u16, code: &str) -> String {
        let e = StoreError::remote("b", "k", "head", status, code, "m", true);
        format!("{e:?}")
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn answers_land_in_their_semantic_variant() {
        assert_eq!(kind(403, "AccessDenied"), "PermissionDenied");
        assert_eq!(kind(0, "MissingCredentials"), "PermissionDenied");
        assert_eq!(kind(0, "Timeout"), "Transport");
        assert_eq!(kind(412, "PreconditionFailed"), "PreconditionFailed");
        assert_eq!(kind(503, "SlowDown"), "Throttled");
        assert_eq!(kind(429, "TooManyRequests"), "Throttled");
        assert_eq!(kind(400, "InvalidArgument"), "Remote");
        let denied = StoreError::remote("b", "k", "head", 403, "AccessDenied", "m", true);
        assert!(
            !denied.retryable(),
            "a refused credential does not get better"
        );
        // ... but temporary keys that expired do: the next attempt signs with fresh ones.
        let expired = StoreError::remote("b", "k", "head", 400, "ExpiredToken", "m", false);
        assert!(expired.retryable(), "{expired:?}");
        let slow = StoreError::remote("b", "k", "head", 503, "SlowDown", "m", false);
        assert!(slow.retryable());
        let placed =
            StoreError::remote("", "", "request", 0, "Timeout", "m", true).placed("b", "k", "head");
        assert!(
            placed.to_string().starts_with("b/k: head failed"),
            "{placed}"
        );
        assert!(placed.retryable());
    }
}
