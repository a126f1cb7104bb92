//! OBS wire formats: metadata value encoding, Content-MD5, the XML bodies (errors, tagging,
//! listings) and the response headers of a HEAD. Pure functions, shared with the test emulator.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::store::{ObjectMeta, StoreError};

pub const META_PREFIX: &str = "x-obs-meta-";
/// Characters the Python SDK leaves unescaped in metadata values (`quote(v, safe=...)`).
const META_VALUE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b' ')
    .remove(b';')
    .remove(b'/')
    .remove(b'?')
    .remove(b':')
    .remove(b'@')
    .remove(b'&')
    .remove(b'=')
    .remove(b'+')
    .remove(b'$')
    .remove(b',')
    .remove(b'\'')
    .remove(b'*');

/// Metadata values must be ASCII; URL-encode like the SDK does (vector V5).
pub fn encode_meta_value(v: &str) -> String {
    utf8_percent_encode(v, META_VALUE_SET).to_string()
}

pub fn decode_meta_value(v: &str) -> String {
    percent_decode_str(v).decode_utf8_lossy().into_owned()
}

#[derive(Debug, Deserialize, Default)]
pub struct ErrorXml {
    #[serde(rename = "Code", default)]
    pub code: String,
    #[serde(rename = "Message", default)]
    pub message: String,
}

/// Whether an OBS answer is worth retrying: throttling, server errors.
pub fn retryable_status(status: u16, code: &str) -> bool {
    status == 429
        || status >= 500
        || matches!(code, "SlowDown" | "ServiceUnavailable" | "RequestTimeout")
}

/// A transport error with its causes, without the URL (whose query could carry a signature).
pub fn url_without_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// A 409 `ObjectAlreadyExists`, OBS's answer to `x-obs-forbid-overwrite: true` on an existing
/// key as OBS clients report it (the API reference does not document the header), as the
/// [`StoreError::PreconditionFailed`] it is: nothing was written. Other errors pass unchanged.
pub fn already_exists_as_precondition(e: StoreError) -> StoreError {
    match e {
        StoreError::Remote {
            bucket,
            key,
            op,
            status: 409,
            code,
            message,
            ..
        } if code == "ObjectAlreadyExists" => StoreError::PreconditionFailed {
            bucket,
            key,
            op,
            code,
            message,
        },
        other => other,
    }
}

pub fn meta_from_headers(headers: &HeaderMap) -> ObjectMeta {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let metadata = headers
        .iter()
        .filter_map(|(n, v)| {
            let name = n.as_str().strip_prefix(META_PREFIX)?;
            // UTF-8 as other clients may store it raw; `to_str` would drop non-ASCII values.
            let raw = std::str::from_utf8(v.as_bytes()).ok()?;
            Some((name.to_string(), decode_meta_value(raw)))
        })
        .collect();
    ObjectMeta {
        size: get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        etag: get("etag").unwrap_or("").trim_matches('"').to_string(),
        content_type: get("content-type").map(str::to_string),
        metadata,
        last_modified: get("last-modified")
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&chrono::Utc)),
        version_id: crate::store::version_of(get("x-obs-version-id")),
        encryption: get("x-obs-server-side-encryption")
            .map(str::to_string)
            .or_else(|| {
                get("x-obs-server-side-encryption-customer-algorithm").map(|_| "SSE-C".to_string())
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_body_matches_vector_v3() {
        let xml = crate::store::xml::tagging_xml(
            &[
                ("label".into(), "cat".into()),
                ("moderation".into(), "pass".into()),
            ],
            false,
        );
        assert_eq!(
            crate::store::xml::content_md5(xml.as_bytes()),
            "FKo4HygaddnJcUQCendtIQ=="
        );
    }

    #[test]
    fn metadata_values_round_trip() {
        for v in ["猫 cat", "a%b", "plain,list;x=1"] {
            assert_eq!(decode_meta_value(&encode_meta_value(v)), v);
            assert!(encode_meta_value(v).is_ascii());
        }
    }

    #[test]
    fn an_existing_key_refused_by_forbid_overwrite_is_a_failed_precondition() {
        let refused = StoreError::remote(
            "b",
            "k",
            "conditional put",
            409,
            "ObjectAlreadyExists",
            "m",
            false,
        );
        assert!(matches!(
            already_exists_as_precondition(refused),
            StoreError::PreconditionFailed { code, .. } if code == "ObjectAlreadyExists"
        ));
        let other = StoreError::remote("b", "k", "put", 409, "BucketNotEmpty", "m", false);
        assert!(matches!(
            already_exists_as_precondition(other),
            StoreError::Remote { status: 409, .. }
        ));
    }

    #[test]
    fn retry_classification() {
        assert!(retryable_status(503, "SlowDown"));
        assert!(retryable_status(500, "InternalError"));
        assert!(retryable_status(429, ""));
        assert!(!retryable_status(403, "AccessDenied"));
        assert!(!retryable_status(404, "NoSuchKey"));
    }
}
