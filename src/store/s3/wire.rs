//! S3's wire formats: error replies and the XML bodies of tagging and listing, with which
//! errors a retry can help.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::client::{Retryable, TimedOut};
use crate::store::StoreError;

/// One failed attempt, before it is named for an object.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("HTTP {status} {code}: {message}")]
    Remote {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("transport: {0}")]
    Transport(String),
    #[error("the bucket is in {region} ({cause})")]
    WrongRegion { region: String, cause: String },
    #[error(transparent)]
    TimedOut(#[from] TimedOut),
    #[error("no credentials for the S3 store (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")]
    NoCredentials,
    #[error(transparent)]
    InvalidHost(#[from] crate::client::origin::InvalidHost),
}

/// S3 codes worth another attempt besides any 5xx (docs: "ErrorResponses", "SlowDown").
const RETRYABLE_CODES: [&str; 6] = [
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "OperationAborted",
];

impl Retryable for S3Error {
    fn retryable(&self) -> bool {
        match self {
            S3Error::Remote { status, code, .. } => {
                *status >= 500 || *status == 429 || RETRYABLE_CODES.contains(&code.as_str())
            }
            S3Error::Transport(_) | S3Error::TimedOut(_) | S3Error::WrongRegion { .. } => true,
            S3Error::NoCredentials | S3Error::InvalidHost(_) => false,
        }
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            S3Error::Remote { retry_after, .. } => *retry_after,
            // Nothing to wait for: the next attempt signs for the region S3 named.
            S3Error::WrongRegion { .. } => Some(Duration::ZERO),
            _ => None,
        }
    }
}

impl S3Error {
    pub(super) fn for_object(self, bucket: &str, key: &str, op: &'static str) -> StoreError {
        let retryable = self.retryable();
        match self {
            S3Error::Remote {
                status: 404, code, ..
            } if code == "NoSuchKey" || code == "NotFound" => StoreError::NotFound {
                bucket: bucket.into(),
                key: key.into(),
            },
            S3Error::Remote {
                status,
                code,
                message,
                ..
            } => StoreError::remote(bucket, key, op, status, &code, message, retryable),
            S3Error::InvalidHost(e) => StoreError::InvalidBucket {
                bucket: bucket.into(),
                reason: e.to_string(),
            },
            other => {
                let (status, code) = match other {
                    S3Error::NoCredentials => (0, "NoCredentials"),
                    S3Error::TimedOut(_) => (0, "Timeout"),
                    S3Error::WrongRegion { .. } => (301, "PermanentRedirect"),
                    _ => (0, "Transport"),
                };
                StoreError::remote(bucket, key, op, status, code, other.to_string(), retryable)
            }
        }
    }
}

/// A conditional PUT's 409 ConditionalRequestConflict (it raced another conditional write or a
/// delete of the key; nothing was written) as the [`StoreError::PreconditionFailed`] it amounts
/// to for the caller: read the object again, then decide. Other errors pass unchanged.
pub(super) fn conflict_as_precondition(e: StoreError) -> StoreError {
    match e {
        StoreError::Remote {
            bucket,
            key,
            op,
            status: 409,
            code,
            message,
            ..
        } if code == "ConditionalRequestConflict" => StoreError::PreconditionFailed {
            bucket,
            key,
            op,
            code,
            message,
        },
        other => other,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ErrorXml {
    code: String,
    message: String,
}

/// S3's `<Error><Code>..</Code><Message>..</Message></Error>`; HEAD errors have no body.
pub(super) fn parse_error(status: u16, headers: &HeaderMap, body: &[u8]) -> S3Error {
    let xml: ErrorXml = std::str::from_utf8(body)
        .ok()
        .and_then(|s| quick_xml::de::from_str(s).ok())
        .unwrap_or_default();
    let code = if xml.code.is_empty() {
        match status {
            404 => "NotFound".to_string(),
            403 => "Forbidden".to_string(),
            503 => "SlowDown".to_string(),
            s => format!("HTTP{s}"),
        }
    } else {
        xml.code
    };
    let retry_after = crate::client::retry::retry_after_header(headers);
    S3Error::Remote {
        status,
        code,
        message: xml.message,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_xml_is_typed_and_classified() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>X</RequestId></Error>";
        let e = parse_error(503, &HeaderMap::new(), body);
        assert!(e.retryable());
        let s = e.for_object("b", "k", "PUT");
        assert!(s.retryable());
        assert!(s.to_string().contains("SlowDown"), "{s}");
        let e = parse_error(
            403,
            &HeaderMap::new(),
            b"<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message></Error>",
        );
        assert!(!e.retryable());
        assert!(matches!(
            parse_error(404, &HeaderMap::new(), b"").for_object("b", "k", "HEAD"),
            StoreError::NotFound { .. }
        ));
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(
            parse_error(500, &h, b"").retry_after(),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn a_conditional_conflict_reads_as_a_failed_precondition() {
        let body = b"<Error><Code>ConditionalRequestConflict</Code><Message>m</Message></Error>";
        let e = parse_error(409, &HeaderMap::new(), body).for_object("b", "k", "PUT (conditional)");
        assert!(
            !e.retryable(),
            "the caller re-reads; the same request would fail again"
        );
        assert!(matches!(
            conflict_as_precondition(e),
            StoreError::PreconditionFailed { code, .. } if code == "ConditionalRequestConflict"
        ));
        let other = parse_error(
            409,
            &HeaderMap::new(),
            b"<Error><Code>BucketNotEmpty</Code></Error>",
        )
        .for_object("b", "k", "PUT");
        assert!(matches!(
            conflict_as_precondition(other),
            StoreError::Remote { status: 409, .. }
        ));
        let stale = parse_error(
            412,
            &HeaderMap::new(),
            b"<Error><Code>PreconditionFailed</Code></Error>",
        )
        .for_object("b", "k", "PUT (conditional)");
        assert!(matches!(stale, StoreError::PreconditionFailed { .. }));
    }
}
