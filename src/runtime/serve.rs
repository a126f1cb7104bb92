//! `image-triage serve`: a small HTTP server that S3-compatible storage notifies on upload
//! (MinIO/S3-style `Records`, SNS HTTP envelopes, `s3:TestEvent`), for self-hosted setups.
//!
//! The reply is sent after the object is triaged, so a sender that re-delivers on failure (SNS,
//! MinIO webhooks) gets a 5xx exactly when a retry can help. Concurrency is bounded; when every
//! slot is busy the server answers 503 with `Retry-After` instead of queueing without limit.
//! SIGTERM / ctrl-c stop accepting and let in-flight requests finish.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::config::Config;
use crate::object::Provider;
use crate::pipeline::Pipeline;

/// Server settings: flags, else `TRIAGE_SERVE_*`.
#[derive(Debug, Clone)]
pub struct Options {
    pub bind: SocketAddr,
    /// Shared secret: `X-Triage-Token` / `Authorization: Bearer` header or `?token=` query.
    pub token: Option<String>,
    /// Events handled at once; more get 503.
    pub concurrency: usize,
    /// Time budget per event (the pipeline's deadline).
    pub event_timeout: Duration,
    /// Reply 202 at once and triage in the background (`TRIAGE_SERVE_REPLY=early`), for senders
    /// that block the upload until the webhook answers (moto). Default: reply after triage.
    pub reply_early: bool,
    /// Where SNS subscription confirmations may point besides `https://sns.<region>.amazonaws.com`
    /// (`TRIAGE_SNS_ENDPOINT`, e.g. a self-hosted SNS).
    pub sns_endpoint: Option<String>,
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

impl Options {
    /// `TRIAGE_SERVE_*` (checked when the configuration is built, whatever the command).
    pub fn from_config(
        config: &Config,
        bind: Option<SocketAddr>,
    ) -> Result<Options, crate::config::ConfigError> {
        use crate::config::ConfigError;
        let env = &config.env;
        let bind = match bind {
            Some(b) => b,
            None => {
                let v = env.get("TRIAGE_SERVE_BIND").unwrap_or(DEFAULT_BIND);
                v.parse().map_err(|e| {
                    ConfigError::new("TRIAGE_SERVE_BIND", v, format!("{e} (expected HOST:PORT)"))
                })?
            }
        };
        let number = |var: &str, default: u64, max: u64| -> Result<u64, ConfigError> {
            match env.get(var) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        ConfigError::new(var, v, format!("expected a whole number 1-{max}"))
                    }),
            }
        };
        let token = env.get("TRIAGE_SERVE_TOKEN").map(str::to_string);
        // Anyone who can reach the port can make the function read, analyse and write objects:
        // beyond this machine, only with a token, unless the operator says the network is theirs.
        let insecure = match env.get("TRIAGE_SERVE_INSECURE") {
            None | Some("no") => false,
            Some("yes") => true,
            Some(v) => {
                return Err(ConfigError::new(
                    "TRIAGE_SERVE_INSECURE",
                    v,
                    "expected yes or no",
                ))
            }
        };
        if token.is_none() && !bind.ip().is_loopback() && !insecure {
            return Err(ConfigError::new(
                "TRIAGE_SERVE_TOKEN",
                "",
                format!(
                    "serve binds {bind}, beyond this machine, without a token: set                      TRIAGE_SERVE_TOKEN (senders send it in X-Triage-Token), or                      TRIAGE_SERVE_INSECURE=yes if only trusted senders can reach that address"
                ),
            ));
        }
        Ok(Options {
            sns_endpoint: config.endpoints.get("sns").cloned(),
            bind,
            token,
            concurrency: number("TRIAGE_SERVE_CONCURRENCY", 4, 1024)? as usize,
            event_timeout: Duration::from_secs(number("TRIAGE_SERVE_TIMEOUT", 300, 3600)?),
            reply_early: match env.get("TRIAGE_SERVE_REPLY") {
                None | Some("after") => false,
                Some("early") => true,
                Some(v) => {
                    return Err(ConfigError::new(
                        "TRIAGE_SERVE_REPLY",
                        v,
                        "expected after or early",
                    ))
                }
            },
        })
    }
}

#[derive(Clone)]
struct AppState {
    pipeline: Arc<Pipeline>,
    token: Option<Arc<[u8]>>,
    permits: Arc<Semaphore>,
    event_timeout: Duration,
    reply_early: bool,
    sns_endpoint: Option<String>,
}

/// The routes: `POST /` (and `/events`) for notifications, `GET /healthz`.
pub fn router(pipeline: Arc<Pipeline>, opts: &Options) -> Router {
    router_with(
        pipeline,
        opts,
        Arc::new(Semaphore::new(opts.concurrency.max(1))),
    )
}

fn router_with(pipeline: Arc<Pipeline>, opts: &Options, permits: Arc<Semaphore>) -> Router {
    let state = AppState {
        pipeline,
        token: opts.token.as_deref().map(digest),
        permits,
        event_timeout: opts.event_timeout,
        reply_early: opts.reply_early,
        sns_endpoint: opts.sns_endpoint.clone(),
    };
    Router::new()
        // GET/HEAD on the notification paths answer like /healthz: some senders (MinIO's webhook
        // target) probe the endpoint before they deliver.
        .route("/", post(notify).get(healthz))
        .route("/events", post(notify).get(healthz))
        .route("/healthz", get(healthz))
        // S3 event notifications are at most 64 KB; SNS messages 256 KB.
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .with_state(state)
}

/// Serve on `listener` until `shutdown` resolves, then drain in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    pipeline: Arc<Pipeline>,
    opts: &Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    info!(addr = %listener.local_addr()?, concurrency = opts.concurrency, token = opts.token.is_some(), "serving S3 notifications");
    let slots = opts.concurrency.max(1);
    let permits = Arc::new(Semaphore::new(slots));
    axum::serve(listener, router_with(pipeline, opts, permits.clone()))
        .with_graceful_shutdown(shutdown)
        .await?;
    // Early replies leave work running in the background: wait for every slot to come back.
    let drained =
        tokio::time::timeout(opts.event_timeout, permits.acquire_many(slots as u32)).await;
    if drained.is_err() {
        warn!("shutdown: background work still running after the event timeout");
    }
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    info!("shutting down: draining in-flight requests");
}

fn digest(s: &str) -> Arc<[u8]> {
    Arc::from(Sha256::digest(s.as_bytes()).as_slice())
}

/// Comparing digests keeps the comparison time independent of where the tokens differ.
fn authorized(
    want: &Option<Arc<[u8]>>,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> bool {
    let Some(want) = want else { return true };
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let given = header("x-triage-token")
        .or_else(|| header("authorization").and_then(|v| v.strip_prefix("Bearer ")))
        .or_else(|| query.get("token").map(String::as_str));
    given.is_some_and(|g| *digest(g.trim()) == **want)
}

async fn healthz(State(st): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "ok", "free_slots": st.permits.available_permits() }))
}

async fn notify(
    State(st): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&st.token, &headers, &query) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "missing or wrong token"})),
        )
            .into_response();
    }
    let Ok(permit) = st.permits.clone().try_acquire_owned() else {
        let mut r = (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "busy"})),
        )
            .into_response();
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return r;
    };
    if let Some(url) = subscribe_url(&body) {
        // Nobody, token or not, makes this server fetch an arbitrary URL (blind SSRF): only
        // SNS's own hosts, or the SNS endpoint the operator configured.
        let configured = st
            .sns_endpoint
            .as_deref()
            .is_some_and(|e| url.starts_with(&format!("{}/", e.trim_end_matches('/'))));
        if !is_aws_sns(&url) && !configured {
            warn!("SubscribeURL outside sns.<region>.amazonaws.com refused (set TRIAGE_SNS_ENDPOINT for another SNS)");
            return (StatusCode::FORBIDDEN, Json(json!({"confirmed": false}))).into_response();
        }
        return confirm_subscription(&url).await;
    }
    let deadline = std::time::Instant::now() + st.event_timeout;
    let pipeline = st.pipeline.clone();
    let work = async move {
        let outcomes = crate::client::deadline::scope(
            Some(deadline),
            pipeline.handle_event(&body, Some(Provider::S3)),
        )
        .await;
        drop(permit);
        outcomes
    };
    if st.reply_early {
        // The sender has its 202: no retry will come, so every failure goes to the sidecar.
        let pipeline = st.pipeline.clone();
        tokio::spawn(async move {
            let outcomes = work.await;
            pipeline.record_unretried(&outcomes, Provider::S3).await;
        });
        return (StatusCode::ACCEPTED, Json(json!({"accepted": true}))).into_response();
    }
    let outcomes = work.await;
    let status = if super::needs_retry(&outcomes) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else if outcomes
        .iter()
        .any(|o| o.code.as_deref() == Some("invalid_event"))
    {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, Json(json!({ "outcomes": outcomes }))).into_response()
}

/// The `SubscribeURL` of an SNS `SubscriptionConfirmation` message, when the body is one.
fn subscribe_url(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    if v.get("Type")?.as_str()? != "SubscriptionConfirmation" {
        return None;
    }
    let url = v.get("SubscribeURL")?.as_str()?;
    (url.starts_with("https://") || url.starts_with("http://")).then(|| url.to_string())
}

/// `https://sns.<region>.amazonaws.com[.cn]/...`: the only SubscribeURLs confirmed without a token.
fn is_aws_sns(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    let host = u.host_str().unwrap_or_default();
    // Exactly one label between `sns.` and the AWS domain: `sns.evil.s3.amazonaws.com` is a
    // bucket anyone can name, not SNS.
    let region = host
        .strip_prefix("sns.")
        .and_then(|h| {
            h.strip_suffix(".amazonaws.com")
                .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
        })
        .unwrap_or_default();
    u.scheme() == "https"
        && !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// SNS confirms an HTTP subscription when the endpoint GETs the SubscribeURL.
async fn confirm_subscription(url: &str) -> Response {
    let shown = url.split('?').next().unwrap_or_default().to_string();
    let r = crate::client::http()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match r {
        Ok(resp) if resp.status().is_success() => {
            info!(url = %shown, "SNS subscription confirmed");
            (StatusCode::OK, Json(json!({"confirmed": true}))).into_response()
        }
        Ok(resp) => {
            warn!(url = %shown, status = resp.status().as_u16(), "SNS subscription confirmation refused");
            (StatusCode::BAD_GATEWAY, Json(json!({"confirmed": false}))).into_response()
        }
        Err(e) => {
            warn!(url = %shown, error = %e.without_url(), "SNS subscription confirmation failed");
            (StatusCode::BAD_GATEWAY, Json(json!({"confirmed": false}))).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_from_header_bearer_or_query() {
        let want = Some(digest("s3cret"));
        let mut h = HeaderMap::new();
        let q = HashMap::new();
        assert!(!authorized(&want, &h, &q));
        assert!(authorized(&None, &h, &q));
        h.insert("x-triage-token", "s3cret".parse().unwrap());
        assert!(authorized(&want, &h, &q));
        h.clear();
        h.insert("authorization", "Bearer s3cret".parse().unwrap());
        assert!(authorized(&want, &h, &q));
        h.insert("authorization", "Bearer nope".parse().unwrap());
        assert!(!authorized(&want, &h, &q));
        let q = HashMap::from([("token".to_string(), "s3cret".to_string())]);
        assert!(authorized(&want, &HeaderMap::new(), &q));
    }

    #[test]
    fn only_real_sns_hosts_are_confirmed_without_a_token() {
        assert!(is_aws_sns(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
        ));
        assert!(is_aws_sns(
            "https://sns.cn-north-1.amazonaws.com.cn/?Action=x"
        ));
        for bad in [
            "https://sns.evil.s3.amazonaws.com/?Action=x",
            "http://sns.us-east-1.amazonaws.com/",
            "https://sns.amazonaws.com/",
            "https://sns.us-east-1.amazonaws.com.evil.example/",
            "https://example.com/?sns.us-east-1.amazonaws.com",
        ] {
            assert!(!is_aws_sns(bad), "{bad}");
        }
    }

    #[test]
    fn subscription_confirmation_is_recognised() {
        let b = br#"{"Type":"SubscriptionConfirmation","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x"}"#;
        assert!(subscribe_url(b).unwrap().contains("ConfirmSubscription"));
        assert!(subscribe_url(br#"{"Type":"Notification","Message":"{}"}"#).is_none());
        assert!(subscribe_url(
            br#"{"Type":"SubscriptionConfirmation","SubscribeURL":"file:///etc/passwd"}"#
        )
        .is_none());
    }

    #[test]
    fn options_from_env() {
        let c = Config::from_vars([
            ("TRIAGE_SERVE_CONCURRENCY".to_string(), "2".to_string()),
            ("TRIAGE_SERVE_TOKEN".to_string(), "t".to_string()),
        ])
        .unwrap();
        let o = Options::from_config(&c, None).unwrap();
        assert_eq!(
            (o.concurrency, o.bind.to_string().as_str()),
            (2, DEFAULT_BIND)
        );
        let bad = [("TRIAGE_SERVE_CONCURRENCY".to_string(), "0".to_string())];
        let c = Config::core_from_vars(bad.clone()).unwrap();
        assert!(Options::from_config(&c, None).is_err());
        let e = Config::from_vars(bad).unwrap_err();
        assert_eq!(
            e.var, "TRIAGE_SERVE_CONCURRENCY",
            "checked for every command"
        );
    }
}
