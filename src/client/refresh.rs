//! Credential sources, the chain that picks the first one that yields, and the background task
//! that keeps [`CredentialSlots`] fresh before temporary credentials expire. Vendor-neutral: each
//! cloud's sources live in `cloud/<cloud>/` (AWS's chain in `cloud/aws/credential/`, Tencent's
//! CVM role in `cloud/tencent/credential.rs`, Huawei's ECS agency in
//! `cloud/huawei/credential.rs`).
//!
//! Used by the long-running self-hosted commands (`serve`, `poll-sqs`, `scan`); the function
//! platforms hand over their own per-invocation credentials and never start a refresher.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::credential::{Cloud, CredentialSlots, Credentials};

/// Credentials with the time they stop working (`None`: long-term keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Expiring {
    pub credentials: Credentials,
    pub expires: Option<DateTime<Utc>>,
}

/// Why a source gave nothing. Messages never hold a secret or a response body that could.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Not configured here, or not reachable (no metadata service on this machine): the chain
    /// moves on to the next source.
    #[error("{0}")]
    NotAvailable(String),
    /// Configured but broken (bad token file, the endpoint refused, unreadable answer): the chain
    /// stops here, as the AWS SDKs do, instead of silently using a source further down.
    #[error("{0}")]
    Failed(String),
}

/// One place credentials can come from.
#[async_trait::async_trait]
pub trait CredentialSource: Send + Sync {
    /// For messages and logs (`environment`, `EC2 instance metadata`, ...).
    fn name(&self) -> &'static str;
    async fn load(&self) -> Result<Expiring, SourceError>;
}

/// No source of the chain yielded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no {cloud} credentials; tried {}", tried.iter().map(|(s, r)| format!("{s} ({r})")).collect::<Vec<_>>().join(", "))]
pub struct ChainError {
    pub cloud: &'static str,
    /// Each source tried, with why it gave nothing.
    pub tried: Vec<(&'static str, String)>,
}

/// The first source that yields, with what it yielded. A source that is configured but fails
/// ends the search with that failure.
pub async fn resolve(
    cloud: &'static str,
    sources: &[Arc<dyn CredentialSource>],
) -> Result<(Arc<dyn CredentialSource>, Expiring), ChainError> {
    let mut tried = Vec::new();
    for source in sources {
        match source.load().await {
            Ok(found) => return Ok((source.clone(), found)),
            Err(SourceError::NotAvailable(why)) => tried.push((source.name(), why)),
            Err(SourceError::Failed(why)) => {
                tried.push((source.name(), why));
                return Err(ChainError { cloud, tried });
            }
        }
    }
    Err(ChainError { cloud, tried })
}

/// Refresh this long before the expiry (the EC2 docs: new role credentials are available at
/// least five minutes before the old ones expire).
pub const REFRESH_EARLY: Duration = Duration::from_secs(300);
/// Never sooner than this after a refresh, so a source that hands out nearly expired
/// credentials is not polled in a tight loop.
pub const MIN_WAIT: Duration = Duration::from_secs(1);

/// How long to wait before fetching again: five minutes before `expires`, or half of what is
/// left when that is shorter than ten minutes (short-lived credentials still get refreshed well
/// before they lapse); at least [`MIN_WAIT`].
pub fn refresh_in(now: DateTime<Utc>, expires: DateTime<Utc>) -> Duration {
    let left = (expires - now).to_std().unwrap_or(Duration::ZERO);
    let wait = if left >= REFRESH_EARLY * 2 {
        left - REFRESH_EARLY
    } else {
        left / 2
    };
    wait.max(MIN_WAIT)
}

/// The wait before retry number `failures` (1 = after the first failure): exponential from 1 s,
/// capped at one minute, with full jitter; never zero.
pub fn retry_in(failures: u32) -> Duration {
    let backoff = super::backoff::Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };
    backoff.wait(failures.saturating_sub(1)).max(MIN_WAIT / 2)
}

/// An expiry as the vendors write it: RFC 3339 (`2026-12-02T15:00:00Z`, with or without
/// fractional seconds or an offset), the same without a zone (read as UTC), or Unix seconds.
pub fn parse_expiry(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    let secs: i64 = v.parse().ok()?;
    DateTime::from_timestamp(secs, 0)
}

/// [`parse_expiry`] for a JSON value: a string in any of its forms, or a number of Unix seconds.
pub fn json_expiry(value: &serde_json::Value) -> Option<DateTime<Utc>> {
    match value {
        serde_json::Value::String(s) => parse_expiry(s),
        serde_json::Value::Number(n) => DateTime::from_timestamp(n.as_i64()?, 0),
        _ => None,
    }
}

/// Keep `cloud`'s slot fresh from `source`, starting from credentials that expire at `expires`.
/// Long-term credentials (no expiry) need no task: `None` then. Failures are logged (never a
/// secret) and retried with backoff; the slot keeps the last good credentials meanwhile.
pub fn spawn_refresher(
    slots: CredentialSlots,
    cloud: Cloud,
    source: Arc<dyn CredentialSource>,
    expires: Option<DateTime<Utc>>,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut wait = refresh_in(Utc::now(), expires?);
    Some(tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            tokio::time::sleep(wait).await;
            match source.load().await {
                Ok(fresh) => {
                    failures = 0;
                    slots.set(cloud, fresh.credentials);
                    tracing::info!(?cloud, source = source.name(), expires = ?fresh.expires, "credentials refreshed");
                    match fresh.expires {
                        Some(at) => wait = refresh_in(Utc::now(), at),
                        None => return,
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    wait = retry_in(failures);
                    tracing::warn!(?cloud, source = source.name(), error = %e, retry_in = ?wait, "credential refresh failed; keeping the current credentials");
                }
            }
        }
    }))
}

/// The client for metadata endpoints on the local link (EC2 IMDS, the ECS/EKS agents, Tencent's
/// and Huawei's metadata services): a 1 s connect timeout so a machine without one is not held
/// up, no proxy (the metadata address must be reached directly, never through `HTTP_PROXY`), no
/// redirects (the answer holds secrets).
pub fn metadata_http() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(1))
                .timeout(METADATA_TIMEOUT)
                .user_agent(concat!("image-triage/", env!("CARGO_PKG_VERSION")))
                .build()
                // Only fails when the TLS backend cannot initialise, which is a broken build.
                .expect("the HTTP client (rustls) initialises")
        })
        .clone()
}

/// Whole-request limit for one metadata call.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(3);

/// One metadata call's answer: status and body (bodies are small; capped at 64 KiB).
pub async fn send(req: reqwest::RequestBuilder) -> Result<(u16, String), reqwest::Error> {
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await?;
    let body = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]).into_owned();
    Ok((status, body))
}

/// A transport failure without the URL's query (which may carry a token) or the body.
pub fn transport(e: reqwest::Error) -> String {
    super::describe(e)
}

/// Credentials from three environment variables, read once at start (they cannot change in a
/// running process). Every cloud's chain starts with its SDK's variables.
pub struct EnvSource {
    names: [&'static str; 3],
    found: Option<Credentials>,
}

impl EnvSource {
    pub fn new(env: &crate::config::Env, names: [&'static str; 3]) -> Self {
        let [ak, sk, token] = names;
        EnvSource {
            names,
            found: Credentials::from_vars(&env.0, ak, sk, token),
        }
    }
}

#[async_trait::async_trait]
impl CredentialSource for EnvSource {
    fn name(&self) -> &'static str {
        "environment"
    }
    async fn load(&self) -> Result<Expiring, SourceError> {
        match &self.found {
            Some(c) => Ok(Expiring {
                credentials: c.clone(),
                expires: None,
            }),
            None => Err(SourceError::NotAvailable(format!(
                "{} / {} not set",
                self.names[0], self.names[1]
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_expiry(s).unwrap()
    }

    #[test]
    fn expiry_formats() {
        let want = t("2026-12-02T15:00:00Z");
        for form in [
            "2026-12-02T15:00:00Z",
            "2026-12-02T15:00:00.000000Z",
            "2026-12-02T23:00:00+08:00",
            "2026-12-02T15:00:00",
            " 1796223600 ",
        ] {
            assert_eq!(parse_expiry(form), Some(want), "{form}");
        }
        assert_eq!(json_expiry(&serde_json::json!(1796223600)), Some(want));
        assert_eq!(
            json_expiry(&serde_json::json!("2026-12-02T15:00:00Z")),
            Some(want)
        );
        for bad in ["", "tomorrow", "2026-13-02T15:00:00Z"] {
            assert_eq!(parse_expiry(bad), None, "{bad}");
        }
        assert_eq!(json_expiry(&serde_json::json!(null)), None);
        // Huawei writes microseconds.
        assert!(parse_expiry("2020-01-08T02:05:49.612000Z").is_some());
    }

    #[test]
    fn refresh_five_minutes_early_or_at_half_the_remaining_lifetime() {
        let now = t("2026-12-02T12:00:00Z");
        let min = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(refresh_in(now, t("2026-12-02T13:00:00Z")), min(55));
        assert_eq!(refresh_in(now, t("2026-12-02T12:10:00Z")), min(5));
        assert_eq!(refresh_in(now, t("2026-12-02T12:06:00Z")), min(3));
        assert_eq!(
            refresh_in(now, t("2026-12-02T12:00:08Z")),
            Duration::from_secs(4)
        );
        assert_eq!(refresh_in(now, t("2026-12-02T11:00:00Z")), MIN_WAIT);
    }

    #[test]
    fn retries_back_off_within_bounds() {
        for n in 1..40 {
            let w = retry_in(n);
            assert!(
                w >= MIN_WAIT / 2 && w <= Duration::from_secs(60),
                "{n}: {w:?}"
            );
        }
    }

    struct Fixed(&'static str, Result<Expiring, SourceError>);

    #[async_trait::async_trait]
    impl CredentialSource for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        async fn load(&self) -> Result<Expiring, SourceError> {
            self.1.clone()
        }
    }

    fn creds(ak: &str) -> Expiring {
        Expiring {
            credentials: Credentials {
                access_key: ak.into(),
                secret_key: "sk".into(),
                token: None,
            },
            expires: None,
        }
    }

    #[tokio::test]
    async fn the_first_source_that_yields_wins_and_a_broken_one_stops_the_chain() {
        let na = |n: &'static str| -> Arc<dyn CredentialSource> {
            Arc::new(Fixed(n, Err(SourceError::NotAvailable("not set".into()))))
        };
        let ok = |n: &'static str, ak: &str| -> Arc<dyn CredentialSource> {
            Arc::new(Fixed(n, Ok(creds(ak))))
        };
        let (src, got) = resolve("AWS", &[na("a"), ok("b", "B"), ok("c", "C")])
            .await
            .unwrap();
        assert_eq!(
            (src.name(), got.credentials.access_key.as_str()),
            ("b", "B")
        );

        let broken: Arc<dyn CredentialSource> =
            Arc::new(Fixed("b", Err(SourceError::Failed("HTTP 403".into()))));
        let err = resolve("AWS", &[na("a"), broken, ok("c", "C")])
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "no AWS credentials; tried a (not set), b (HTTP 403)"
        );

        let err = resolve("AWS", &[na("a"), na("b")]).await.err().unwrap();
        assert_eq!(err.tried.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_refresher_replaces_the_slot_before_expiry() {
        use std::sync::atomic::{AtomicU32, Ordering};
        struct Counting(AtomicU32);
        #[async_trait::async_trait]
        impl CredentialSource for Counting {
            fn name(&self) -> &'static str {
                "counting"
            }
            async fn load(&self) -> Result<Expiring, SourceError> {
                let n = self.0.fetch_add(1, Ordering::SeqCst);
                if n == 0 {
                    return Err(SourceError::Failed("flaky".into()));
                }
                let mut e = creds(&format!("K{n}"));
                e.expires = Some(Utc::now() + chrono::Duration::hours(1));
                Ok(e)
            }
        }
        let slots = CredentialSlots::default();
        slots.set(Cloud::Aws, creds("K0").credentials);
        let src = Arc::new(Counting(AtomicU32::new(0)));
        let handle = spawn_refresher(
            slots.clone(),
            Cloud::Aws,
            src.clone(),
            Some(Utc::now() + chrono::Duration::seconds(20)),
        )
        .unwrap();
        // Half of 20 s, then a failure and a retry within a minute.
        tokio::time::sleep(Duration::from_secs(75)).await;
        assert_eq!(slots.get(Cloud::Aws).unwrap().access_key, "K1");
        handle.abort();
        assert!(spawn_refresher(slots, Cloud::Aws, src, None).is_none());
    }
}
