//! Huawei Cloud FunctionGraph: the custom runtime (`bootstrap` polling `RUNTIME_API_ADDR`) and
//! the container-image HTTP function (`POST /init`, `POST /invoke` on port 8000). Both hand the
//! event to [`handle`]; both take per-invocation temporary credentials from the platform's
//! headers and put them in the Huawei credential slot, where the OBS store and the analyzers
//! read them for every request.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use tracing::Instrument;

use crate::client::credential::Cloud;
use crate::client::Credentials;
use crate::object::Provider;
use crate::pipeline::{Outcome, Pipeline};

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Reported as a failed invocation so that FunctionGraph's async retry runs again.
    #[error(transparent)]
    Retryable(#[from] super::RetryableFailure),
}

impl HandlerError {
    pub fn body(&self) -> Value {
        match self {
            HandlerError::Retryable(_) => json!({
                "errorType": "ImageTriage.RetryableFailure",
                "errorMessage": self.to_string(),
            }),
        }
    }
}

/// Handle one event body (any OBS shape): every record gets an outcome.
pub async fn handle(pipeline: &Pipeline, body: &[u8]) -> Result<Value, HandlerError> {
    let outcomes: Vec<Outcome> = pipeline.handle_event(body, Some(Provider::Obs)).await;
    Ok(super::respond(outcomes)?)
}

/// Temporary credentials from the first header set that carries both keys: the custom
/// runtime's `X-CFF-Access-Key`… or the HTTP function's `X-CFF-Security-Access-Key`….
pub fn credentials_from(headers: &HeaderMap) -> Option<Credentials> {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    [
        (
            "x-cff-access-key",
            "x-cff-secret-key",
            "x-cff-security-token",
        ),
        (
            "x-cff-security-access-key",
            "x-cff-security-secret-key",
            "x-cff-security-token",
        ),
    ]
    .iter()
    .find_map(|(ak, sk, token)| {
        Some(Credentials {
            access_key: get(ak)?,
            secret_key: get(sk)?,
            token: get(token),
        })
    })
}

fn adopt_credentials(pipeline: &Pipeline, headers: &HeaderMap) {
    if let Some(c) = credentials_from(headers) {
        pipeline.config().credentials.set(Cloud::Huawei, c);
    }
}

/// The invocation deadline: `X-CFF-Timeout` (seconds; a value above 900 is taken as
/// milliseconds — the unit is undocumented) else `RUNTIME_TIMEOUT` seconds.
fn deadline(pipeline: &Pipeline, headers: &HeaderMap) -> Option<Instant> {
    let header = headers
        .get("x-cff-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let env = pipeline
        .config()
        .env
        .get("RUNTIME_TIMEOUT")
        .and_then(|v| v.parse::<f64>().ok());
    // `inf`, `NaN`, a negative or a huge number is no deadline at all, never a panic.
    let secs = header.or(env).filter(|s| s.is_finite() && *s > 0.0)?;
    let secs = if secs > 900.0 { secs / 1000.0 } else { secs };
    crate::client::deadline::after(crate::client::deadline::secs_f64(secs)?)
}

async fn invoke(
    pipeline: &Pipeline,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, HandlerError> {
    adopt_credentials(pipeline, headers);
    let request_id = headers
        .get("x-cff-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let span = tracing::info_span!("invocation", request_id = %request_id);
    crate::client::deadline::scope(deadline(pipeline, headers), handle(pipeline, body))
        .instrument(span)
        .await
}

/// The custom runtime's loop: next invocation, handle, report; forever.
pub async fn run_custom(pipeline: Arc<Pipeline>, api_addr: &str) -> Result<(), reqwest::Error> {
    let base = if api_addr.starts_with("http://") || api_addr.starts_with("https://") {
        api_addr.trim_end_matches('/').to_string()
    } else {
        format!("http://{api_addr}")
    };
    super::custom::run(&CustomRuntime { base }, &pipeline).await
}

/// FunctionGraph's runtime API: the id in `X-Cff-Request-Id`, answers under
/// `invocation/response/<id>` or `invocation/error/<id>`, errors as `{errorType, errorMessage}`.
struct CustomRuntime {
    base: String,
}

impl super::custom::Protocol for CustomRuntime {
    const NON_2XX_IS_A_FAILED_POLL: bool = false;
    fn next_url(&self) -> String {
        format!("{}/v1/runtime/invocation/request", self.base)
    }
    fn request_id(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get("x-cff-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    async fn invoke(
        &self,
        pipeline: &Pipeline,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<String, String> {
        invoke(pipeline, headers, body)
            .await
            .map(|v| v.to_string())
            .map_err(|e| e.body().to_string())
    }
    fn answer_url(&self, id: &str, ok: bool) -> String {
        let path = if ok { "response" } else { "error" };
        format!("{}/v1/runtime/invocation/{path}/{id}", self.base)
    }
    fn cut_off(&self, message: &str) -> String {
        json!({"errorType": "ImageTriage.RetryableFailure", "errorMessage": message}).to_string()
    }
}

async fn init() -> impl IntoResponse {
    (StatusCode::OK, axum::Json(json!({})))
}

async fn http_invoke(
    State(pipeline): State<Arc<Pipeline>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    match invoke(&pipeline, &headers, &body).await {
        Ok(v) => (StatusCode::OK, axum::Json(v)),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(e.body())),
    }
}

/// The container HTTP function's routes (`POST /init`, `POST /invoke`).
pub fn http_router(pipeline: Arc<Pipeline>) -> axum::Router {
    axum::Router::new()
        .route("/init", axum::routing::post(init))
        .route("/invoke", axum::routing::post(http_invoke))
        .with_state(pipeline)
}

/// Serve the container HTTP function on `addr` (FunctionGraph requires port 8000).
pub async fn run_http(pipeline: Arc<Pipeline>, addr: std::net::SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "FunctionGraph HTTP function listening");
    axum::serve(listener, http_router(pipeline)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_credential_header_sets() {
        let mut h = HeaderMap::new();
        h.insert("X-CFF-Security-Access-Key", "AK1".parse().unwrap());
        h.insert("X-CFF-Security-Secret-Key", "SK1".parse().unwrap());
        h.insert("X-CFF-Security-Token", "T1".parse().unwrap());
        let c = credentials_from(&h).unwrap();
        assert_eq!(
            (c.access_key.as_str(), c.token.as_deref()),
            ("AK1", Some("T1"))
        );
        let mut h = HeaderMap::new();
        h.insert("X-CFF-Access-Key", "AK2".parse().unwrap());
        h.insert("X-CFF-Secret-Key", "SK2".parse().unwrap());
        assert_eq!(credentials_from(&h).unwrap().secret_key, "SK2");
        assert!(credentials_from(&HeaderMap::new()).is_none());
    }

    #[test]
    fn deadline_from_header_or_runtime_timeout() {
        use std::time::Duration;
        let vars = [("RUNTIME_TIMEOUT".to_string(), "30".to_string())];
        let p = Pipeline::new(crate::config::Config::from_vars(vars).unwrap());
        let left = |h: &HeaderMap| deadline(&p, h).map(|d| d - Instant::now());
        let near = |d: Option<Duration>, secs: u64| {
            d.is_some_and(|d| d <= Duration::from_secs(secs) && d > Duration::from_secs(secs - 2))
        };
        assert!(near(left(&HeaderMap::new()), 30));
        let mut h = HeaderMap::new();
        h.insert("X-CFF-Timeout", "10".parse().unwrap());
        assert!(near(left(&h), 10));
        h.insert("X-CFF-Timeout", "5000".parse().unwrap());
        assert!(near(left(&h), 5), "large values are milliseconds");
        let none = Pipeline::new(crate::config::Config::default());
        assert!(deadline(&none, &HeaderMap::new()).is_none());
        // Outside data never panics: infinite, negative, huge, or not a number.
        for v in [
            "inf",
            "-inf",
            "NaN",
            "-5",
            "1e308",
            "184467440737095516150",
            "x",
            "",
        ] {
            h.insert("X-CFF-Timeout", v.parse().unwrap());
            let d = deadline(&p, &h);
            assert!(
                d.is_none_or(|d| d <= Instant::now() + crate::client::deadline::MAX_BUDGET),
                "{v}"
            );
        }
    }
}
