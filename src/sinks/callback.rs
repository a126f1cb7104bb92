//! The HTTP callback sink: `TRIAGE_QUEUE=callback+https://host/path` POSTs each queue message as
//! JSON, signed the way Stripe and GitHub sign webhooks, so the receiver can check it came from
//! this function and is fresh:
//!
//! - `X-Triage-Timestamp: <unix seconds>`
//! - `X-Triage-Signature: sha256=<hex HMAC-SHA256(TRIAGE_CALLBACK_SECRET, "<timestamp>.<body>")>`
//! - `Idempotency-Key: <dedupe key>` (the same for every delivery of the same result)
//!
//! 2xx = delivered; 408, 425, 429, 5xx and network failures are retried (honouring
//! `Retry-After`); any other status is permanent. The `callback+` prefix keeps these URLs apart
//! from SQS's `https://sqs…` queue URLs.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::queue::QueueMessage;
use crate::client::{self, Retryable, Service, TimedOut, Tuning};
use crate::config::Config;

pub const SIGNATURE_HEADER: &str = "X-Triage-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Triage-Timestamp";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
pub const SECRET_VAR: &str = "TRIAGE_CALLBACK_SECRET";

/// Defaults for `TRIAGE_CALLBACK_QPS` / `_TIMEOUT` / `_MAX_ATTEMPTS`.
const DEFAULTS: Tuning = Tuning::new(None, Duration::from_secs(10), 4);

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("callback {endpoint}: {reason}")]
    Config { endpoint: String, reason: String },
    #[error("callback {endpoint}: HTTP {status}: {body}")]
    Status {
        endpoint: String,
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("callback {endpoint}: {message}")]
    Network { endpoint: String, message: String },
    #[error(transparent)]
    TimedOut(#[from] TimedOut),
}

impl Retryable for CallbackError {
    fn retryable(&self) -> bool {
        match self {
            CallbackError::Config { .. } => false,
            CallbackError::Status { status, .. } => {
                matches!(status, 408 | 425 | 429) || *status >= 500
            }
            CallbackError::Network { .. } | CallbackError::TimedOut(_) => true,
        }
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            CallbackError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct CallbackQueue {
    url: url::Url,
    /// scheme://host[:port]/path, for errors and logs (no query: it may carry a token).
    endpoint: String,
    secret: String,
    service: Service,
}

impl std::fmt::Debug for CallbackQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQueue")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl CallbackQueue {
    pub fn new(queue_url: &str, config: &Config) -> Result<Self, CallbackError> {
        const PREFIX: &str = "callback+";
        let target = match queue_url.get(..PREFIX.len()) {
            Some(p) if p.eq_ignore_ascii_case(PREFIX) => &queue_url[PREFIX.len()..],
            _ => queue_url,
        };
        let bad = |reason: String| CallbackError::Config {
            endpoint: "(TRIAGE_QUEUE)".into(),
            reason,
        };
        let url =
            url::Url::parse(target).map_err(|e| bad(format!("not a URL after callback+: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad(
                "expected callback+https://host/path or callback+http://host/path".into(),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(format!(
                "credentials do not belong in the URL; the receiver checks the {SIGNATURE_HEADER} header signed with {SECRET_VAR}"
            )));
        }
        let endpoint = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ) + url.path();
        let secret = config
            .env
            .get(SECRET_VAR)
            .ok_or_else(|| CallbackError::Config {
                endpoint: endpoint.clone(),
                reason: format!("{SECRET_VAR} is not set; callbacks are always signed"),
            })?
            .to_string();
        Ok(CallbackQueue {
            url,
            endpoint,
            secret,
            service: Service::new("callback", config.tuning("callback", DEFAULTS)),
        })
    }

    /// POST the message; always `true` (receivers deduplicate by `Idempotency-Key`).
    pub async fn publish(&self, message: &QueueMessage<'_>) -> Result<bool, CallbackError> {
        let body = serde_json::to_vec(message).map_err(|e| CallbackError::Config {
            endpoint: self.endpoint.clone(),
            reason: format!("cannot serialize the message: {e}"),
        })?;
        let dedupe = message.dedupe_key.as_str();
        self.service
            .call(|| self.attempt(&body, dedupe))
            .await
            .map(|()| true)
    }

    async fn attempt(&self, body: &[u8], dedupe_key: &str) -> Result<(), CallbackError> {
        // Signed per attempt: a retry carries a fresh timestamp.
        let ts = chrono::Utc::now().timestamp();
        let resp = client::http()
            .post(self.url.clone())
            .header("Content-Type", "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, signature(&self.secret, ts, body))
            .header(IDEMPOTENCY_HEADER, dedupe_key)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| CallbackError::Network {
                endpoint: self.endpoint.clone(),
                message: crate::client::describe(e),
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = crate::client::retry::retry_after_header(resp.headers());
        let text = resp.text().await.unwrap_or_default();
        Err(CallbackError::Status {
            endpoint: self.endpoint.clone(),
            status: status.as_u16(),
            body: text.chars().take(200).collect(),
            retry_after,
        })
    }
}

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: what receivers recompute.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check a received callback: the signature matches (in constant time) and the timestamp is
/// within `tolerance` of now. For receivers written in Rust, and for the tests.
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    tolerance: Duration,
) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    let age = (chrono::Utc::now().timestamp() - ts).unsigned_abs();
    if age > tolerance.as_secs() {
        return false;
    }
    let Some(given) = signature_header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn signature_matches_an_independent_computation() {
        let sig = signature("Jefe", 1_700_000_000, b"{\"a\":1}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1700000000.{\"a\":1}");
        assert_eq!(
            sig,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        // RFC 4231 case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The receiver snippets `docs/sinks.md` gives users, run as printed (Python 3.11 with
    /// `time.time` frozen at 1700000000 and `hmac.compare_digest` recording the expected
    /// value; the JS snippet on Node 20 accepts the same header): for this secret, timestamp
    /// and body a receiver expects exactly this value.
    #[test]
    fn signature_matches_the_documented_receiver_snippet() {
        let body = r#"{"schema":"image-triage/result@1","bucket":"photos","key":"uploads/猫 1.jpg","suggestion":"block","labels":["cat"]}"#;
        assert_eq!(
            signature("whsec_example_7f3c", 1_700_000_000, body.as_bytes()),
            "sha256=5564f6404cbfeb970795f322fed408d7b7b7c76574394f90e4be4da7af56ff33"
        );
    }

    #[test]
    fn verify_checks_secret_body_and_freshness() {
        let now = chrono::Utc::now().timestamp();
        let sig = signature("s3cret", now, b"body");
        let tol = Duration::from_secs(300);
        assert!(verify("s3cret", &now.to_string(), &sig, b"body", tol));
        assert!(!verify("other", &now.to_string(), &sig, b"body", tol));
        assert!(!verify("s3cret", &now.to_string(), &sig, b"bodY", tol));
        assert!(!verify(
            "s3cret",
            &(now - 1000).to_string(),
            &signature("s3cret", now - 1000, b"body"),
            b"body",
            tol
        ));
        assert!(!verify("s3cret", "x", &sig, b"body", tol));
    }

    #[test]
    fn urls_and_secret_are_checked() {
        let c = cfg(&[(SECRET_VAR, "k")]);
        let q =
            CallbackQueue::new("callback+https://hooks.example.com/triage?token=abc", &c).unwrap();
        assert_eq!(q.endpoint, "https://hooks.example.com/triage");
        assert!(!format!("{q:?}").contains("abc"));
        let e = CallbackQueue::new("callback+https://h/x", &cfg(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(SECRET_VAR), "{e}");
        let e = CallbackQueue::new("callback+https://u:p@h/x", &c)
            .unwrap_err()
            .to_string();
        assert!(e.contains("credentials"), "{e}");
        assert!(CallbackQueue::new("callback+ftp://h/x", &c).is_err());
    }

    #[test]
    fn status_classes() {
        let st = |status| CallbackError::Status {
            endpoint: "e".into(),
            status,
            body: String::new(),
            retry_after: None,
        };
        for s in [408, 425, 429, 500, 502, 503] {
            assert!(st(s).retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 422] {
            assert!(!st(s).retryable(), "{s}");
        }
    }
}
