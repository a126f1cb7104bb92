//! Vendor-neutral client plumbing shared by every store, analyzer and queue that talks HTTP:
//! credentials that runtimes can refresh per invocation, a per-service tuning record
//! (`TRIAGE_<SERVICE>_QPS` / `_TIMEOUT` / `_MAX_ATTEMPTS`), a client-side rate limiter, and retries
//! with exponential backoff and full jitter bounded by the invocation's deadline.
//!
//! A vendor module builds one [`Service`] per remote service it calls and wraps every request in
//! [`Service::call`]; the vendor's own error type says whether a retry can help ([`Retryable`]).

pub mod backoff;
pub mod credential;
pub mod deadline;
pub mod exact;
pub mod origin;
pub mod refresh;
pub mod retry;
pub mod sign;
pub mod throttle;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use credential::{CredentialSlots, Credentials};
pub use retry::{Retryable, TimedOut};

/// How to call one remote service. Defaults come from the vendor module; users override them with
/// `TRIAGE_<SERVICE>_QPS`, `TRIAGE_<SERVICE>_TIMEOUT` (seconds) and `TRIAGE_<SERVICE>_MAX_ATTEMPTS`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Client-side rate limit; `None` = unlimited.
    pub qps: Option<f64>,
    /// Per attempt.
    pub timeout: Duration,
    /// Attempts in all, including the first (1 = no retries).
    pub max_attempts: u32,
}

impl Tuning {
    pub const fn new(qps: Option<f64>, timeout: Duration, max_attempts: u32) -> Self {
        Tuning {
            qps,
            timeout,
            max_attempts,
        }
    }
}

/// One remote service: its name (for logs and metrics), tuning and rate limiter.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub tuning: Tuning,
    throttle: Option<Arc<throttle::Throttle>>,
}

impl Service {
    pub fn new(name: impl Into<String>, tuning: Tuning) -> Self {
        Service {
            name: name.into(),
            throttle: tuning.qps.map(|q| Arc::new(throttle::Throttle::new(q))),
            tuning,
        }
    }

    /// Run `attempt` under this service's rate limit, per-attempt timeout and retry policy.
    pub async fn call<T, E, F, Fut>(&self, attempt: F) -> Result<T, E>
    where
        E: Retryable + From<TimedOut>,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        retry::call(self, attempt).await
    }

    pub(crate) fn throttle(&self) -> Option<&throttle::Throttle> {
        self.throttle.as_deref()
    }
}

/// A transport error with its causes, without the request URL: reqwest's own message names the
/// URL, and URLs here carry presigned signatures, tokens or webhook secrets.
pub fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The process-wide HTTP client (connection pool shared by every service). Timeouts are per
/// call, set by [`Service::call`], not here.
pub fn http() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                // Signed requests carry tokens: they go to the host they were signed for, or
                // nowhere. A redirect is an answer, never followed.
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(5))
                .pool_idle_timeout(Duration::from_secs(50))
                .user_agent(concat!("image-triage/", env!("CARGO_PKG_VERSION")))
                .build()
                // Only fails when the TLS backend cannot initialise, which is a broken build.
                .expect("the HTTP client (rustls) initialises")
        })
        .clone()
}

/// A cloud region id as all three clouds spell them (`ap-guangzhou`, `cn-north-4`, `us-east-1`):
/// 1–32 lower-case letters, digits and dashes. Region ids become parts of host names, so nothing
/// else may pass.
pub fn valid_region_id(region: &str) -> bool {
    (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
