//! Tencent SCF: the custom-runtime protocol (zip package with a `bootstrap`) and the
//! image-function HTTP server (`POST /event-invoke` on port 9000), reference tencent.md §2.
//! Both call [`handle`], a plain async function tested without the platform.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::client::credential::{Cloud, Credentials};
use crate::client::deadline;
use crate::object::Provider;
use crate::pipeline::{Outcome, Pipeline};

#[derive(Debug, thiserror::Error)]
pub enum ScfError {
    /// Reported to SCF as a failed invocation so that its async retry (COS triggers: 2 retries)
    /// runs the event again.
    #[error(transparent)]
    Retryable(#[from] super::RetryableFailure),
    #[error("SCF runtime API {what}: {message}")]
    RuntimeApi { what: &'static str, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Handle one event: every record gets an outcome; a retryable failure fails the invocation.
/// A COS batch invocation (shape UNVERIFIED, see `events::batch`) is answered per task in the
/// batch schema and never fails the invocation: its `TemporaryFailure` results say what to retry.
pub async fn handle(pipeline: &Pipeline, body: &[u8]) -> Result<Value, ScfError> {
    if let Ok(payload) = serde_json::from_slice::<Value>(body) {
        if let Some(response) = super::batch::handle(pipeline, &payload, Some(Provider::Cos)).await
        {
            return Ok(response);
        }
    }
    let outcomes: Vec<Outcome> = pipeline.handle_event(body, Some(Provider::Cos)).await;
    Ok(super::respond(outcomes)?)
}

/// `http://$SCF_RUNTIME_API:$SCF_RUNTIME_API_PORT`, when running under the custom runtime.
pub fn runtime_api_from_env() -> Option<String> {
    let host = std::env::var("SCF_RUNTIME_API")
        .ok()
        .filter(|h| !h.is_empty())?;
    let base = match std::env::var("SCF_RUNTIME_API_PORT") {
        Ok(port) if !port.is_empty() => format!("{host}:{port}"),
        _ => host,
    };
    Some(
        if base.starts_with("http://") || base.starts_with("https://") {
            base
        } else {
            format!("http://{base}")
        },
    )
}

fn api_err(what: &'static str) -> impl Fn(reqwest::Error) -> ScfError {
    move |e| ScfError::RuntimeApi {
        what,
        message: crate::client::describe(e),
    }
}

/// The custom-runtime loop: ready, then next → handle → response|error, forever.
pub async fn run_custom(pipeline: Arc<Pipeline>, api: &str) -> Result<(), ScfError> {
    let http = crate::client::http();
    // The body must not be empty: SCF rejects an empty ready call (tencent.md §2.1).
    http.post(format!("{api}/runtime/init/ready"))
        .body(" ")
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(api_err("init/ready"))?;
    tracing::info!("SCF custom runtime ready");
    let protocol = CustomRuntime { api: api.into() };
    super::custom::run(&protocol, &pipeline)
        .await
        .map_err(api_err("invocation/next"))
}

/// SCF's custom-runtime API (tencent.md §2.1): one `next` URL, the answer posted to
/// `invocation/response` or `invocation/error`, the id in `request_id`.
struct CustomRuntime {
    api: String,
}

impl super::custom::Protocol for CustomRuntime {
    const NON_2XX_IS_A_FAILED_POLL: bool = true;
    fn next_url(&self) -> String {
        format!("{}/runtime/invocation/next", self.api)
    }
    fn request_id(&self, headers: &reqwest::header::HeaderMap) -> Option<String> {
        let id = headers.get("request_id").and_then(|v| v.to_str().ok());
        Some(id.unwrap_or_default().to_string())
    }
    async fn invoke(
        &self,
        pipeline: &Pipeline,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<String, String> {
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        let deadline = header("time_limit_in_ms").and_then(deadline::after_ms_text);
        let span = tracing::info_span!("invocation", request_id = %header("request_id").unwrap_or_default());
        tracing::Instrument::instrument(deadline::scope(deadline, handle(pipeline, body)), span)
            .await
            .map(|v| v.to_string())
            .map_err(|e| e.to_string())
    }
    fn answer_url(&self, _id: &str, ok: bool) -> String {
        let path = if ok { "response" } else { "error" };
        format!("{}/runtime/invocation/{path}", self.api)
    }
    fn cut_off(&self, message: &str) -> String {
        message.to_string()
    }
}

/// Credentials and deadline from the `X-Scf-*` headers of one image-function request.
pub fn apply_headers(pipeline: &Pipeline, headers: &axum::http::HeaderMap) -> Option<Instant> {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if let (Some(id), Some(key)) = (h("x-scf-secret-id"), h("x-scf-secret-key")) {
        pipeline.config().credentials.set(
            Cloud::Tencent,
            Credentials {
                access_key: id,
                secret_key: key,
                token: h("x-scf-session-token"),
            },
        );
    }
    // The function's region: a fallback for buckets and API calls no event or variable names
    // (COS triggers bind buckets of the function's own region).
    if let Some(region) = h("x-scf-region").filter(|r| crate::cloud::tencent::valid_region(r)) {
        pipeline.config().function_region.set(&region);
    }
    h("x-scf-timeout").and_then(|v| crate::client::deadline::after_ms_text(&v))
}

/// The image-function HTTP server. How SCF maps the HTTP status to success is not documented
/// (UNVERIFIED); a retryable failure answers 500 so that the platform sees a failed invocation.
pub async fn serve_http(pipeline: Arc<Pipeline>, addr: &str) -> Result<(), ScfError> {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;

    let app = axum::Router::new().route(
        "/event-invoke",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let pipeline = pipeline.clone();
            async move {
                let deadline = apply_headers(&pipeline, &headers);
                let request_id = headers
                    .get("x-scf-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let span = tracing::info_span!("invocation", request_id = %request_id);
                let result = tracing::Instrument::instrument(
                    deadline::scope(deadline, handle(&pipeline, &body)),
                    span,
                )
                .await;
                match result {
                    Ok(v) => (StatusCode::OK, axum::Json(v)),
                    Err(e) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(json!({"errorType": "ImageTriage.RetryableFailure", "errorMessage": e.to_string()})),
                    ),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ScfError::Listen {
            addr: addr.into(),
            source,
        })?;
    tracing::info!(%addr, "SCF image function listening");
    axum::serve(listener, app)
        .await
        .map_err(|source| ScfError::Listen {
            addr: addr.into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn headers_replace_the_credentials_and_set_the_deadline() {
        let p = Pipeline::new(crate::config::Config::default());
        let mut h = axum::http::HeaderMap::new();
        for (k, v) in [
            ("X-Scf-Secret-Id", "AKIDtemp"),
            ("X-Scf-Secret-Key", "sk"),
            ("X-Scf-Session-Token", "tok"),
            ("X-Scf-Timeout", "3000"),
        ] {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let d = apply_headers(&p, &h).unwrap();
        assert!(d > Instant::now() + std::time::Duration::from_secs(2));
        // A budget no platform sends (u64::MAX ms) is capped, not an overflow panic.
        h.insert("X-Scf-Timeout", u64::MAX.to_string().parse().unwrap());
        assert!(apply_headers(&p, &h).is_some());
        let c = p.config().credentials.get(Cloud::Tencent).unwrap();
        assert_eq!(
            (c.access_key.as_str(), c.token.as_deref()),
            ("AKIDtemp", Some("tok"))
        );
    }

    #[tokio::test]
    async fn invalid_events_are_outcomes_not_errors() {
        let p = Pipeline::new(crate::config::Config::default());
        let v = handle(&p, b"not json").await.unwrap();
        assert_eq!(v["outcomes"][0]["code"], "invalid_event");
    }
}
