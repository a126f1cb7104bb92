//! The signed HTTP callback sink against an axum receiver on 127.0.0.1 that checks the signature
//! the way a user's receiver would. No models: the analyzers are `none`.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{event_for, png_header, BUCKET};
use image_triage::client::Retryable;
use image_triage::config::Config;
use image_triage::pipeline::Pipeline;
use image_triage::sinks::callback::{self, CallbackQueue};
use image_triage::sinks::queue::{dedupe_key, QueueMessage};
use image_triage::store::local::LocalStore;
use image_triage::store::ObjectStore;

const SECRET: &str = "whsec_test_4f2a";

#[derive(Debug, Clone)]
struct Hit {
    valid_signature: bool,
    idempotency_key: Option<String>,
    body: serde_json::Value,
}

#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Statuses to answer, in order; 200 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let valid = callback::verify(
        SECRET,
        &h("x-triage-timestamp").unwrap_or_default(),
        &h("x-triage-signature").unwrap_or_default(),
        &body,
        Duration::from_secs(300),
    );
    r.hits.lock().unwrap().push(Hit {
        valid_signature: valid,
        idempotency_key: h("idempotency-key"),
        body: serde_json::from_slice(&body).unwrap_or_default(),
    });
    let status = r.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

async fn receiver(script: &[u16]) -> (Receiver, String) {
    let r = Receiver::default();
    r.script.lock().unwrap().extend(script.iter().copied());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, format!("callback+http://{addr}/hook"))
}

fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
}

fn message() -> QueueMessage<'static> {
    QueueMessage {
        schema: "image-triage/v1",
        dedupe_key: dedupe_key("b", "k.png", "e", "h"),
        bucket: "b",
        key: "k.png",
        etag: "e",
        verdict: Some("review"),
        labels: vec!["cat"],
        result_key: None,
        processed_at: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn retryable_statuses_are_retried_then_delivered_once() {
    let (r, url) = receiver(&[503, 429]).await;
    let q = CallbackQueue::new(&url, &config(&[(callback::SECRET_VAR, SECRET)])).unwrap();
    assert!(q.publish(&message()).await.unwrap());
    let hits = r.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 3, "503, 429, then 200");
    for h in &hits {
        assert!(h.valid_signature);
        assert_eq!(
            h.idempotency_key.as_deref(),
            Some(message().dedupe_key.as_str())
        );
        assert_eq!(h.body["labels"][0], "cat");
    }
}

#[tokio::test]
async fn client_errors_are_permanent_and_wrong_secrets_do_not_verify() {
    let (r, url) = receiver(&[422]).await;
    let q = CallbackQueue::new(&url, &config(&[(callback::SECRET_VAR, SECRET)])).unwrap();
    let e = q.publish(&message()).await.unwrap_err();
    assert!(!e.retryable(), "{e}");
    assert!(e.to_string().contains("422"), "{e}");
    assert_eq!(r.hits.lock().unwrap().len(), 1, "no retry on 4xx");

    let q = CallbackQueue::new(&url, &config(&[(callback::SECRET_VAR, "not-the-secret")])).unwrap();
    q.publish(&message()).await.unwrap();
    assert!(!r.hits.lock().unwrap()[1].valid_signature);
}

#[tokio::test]
async fn unreachable_receiver_is_retryable() {
    let port = common::free_port();
    let cfg = config(&[
        (callback::SECRET_VAR, SECRET),
        ("TRIAGE_CALLBACK_MAX_ATTEMPTS", "2"),
    ]);
    let q = CallbackQueue::new(&format!("callback+http://127.0.0.1:{port}/hook"), &cfg).unwrap();
    let e = q.publish(&message()).await.unwrap_err();
    assert!(e.retryable(), "{e}");
}

#[tokio::test]
async fn pipeline_posts_one_signed_message_per_object_and_none_on_redelivery() {
    let (r, url) = receiver(&[]).await;
    let root = tempfile::tempdir().unwrap();
    let store = LocalStore::new(root.path());
    store
        .put(
            BUCKET,
            "in/c.png",
            png_header(300, 200, 1500).into(),
            "image/png",
        )
        .await
        .unwrap();
    let cfg = config(&[
        ("TRIAGE_STORE", "local"),
        ("TRIAGE_LOCAL_ROOT", &root.path().display().to_string()),
        ("TRIAGE_LABELER", "none"),
        ("TRIAGE_MODERATOR", "none"),
        ("TRIAGE_QUEUE", &url),
        (callback::SECRET_VAR, SECRET),
    ]);
    let hash = cfg.config_hash(image_triage::Provider::S3);
    let p = Pipeline::new(cfg);
    let ev = event_for(BUCKET, "in/c.png", "ObjectCreated:Put");
    let first = p.handle_event(&ev, None).await;
    assert_eq!(first[0].status, "done", "{first:?}");
    let again = p.handle_event(&ev, None).await;
    assert_eq!(again[0].code.as_deref(), Some("already_processed"));

    let hits = r.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 1);
    let etag = store.head(BUCKET, "in/c.png").await.unwrap().etag;
    let want = dedupe_key(BUCKET, "in/c.png", &etag, &hash);
    assert!(hits[0].valid_signature);
    assert_eq!(hits[0].idempotency_key.as_deref(), Some(want.as_str()));
    assert_eq!(hits[0].body["dedupe_key"], want);
    assert_eq!(hits[0].body["key"], "in/c.png");

    // Without the secret nothing runs at all (callbacks are always signed): the configuration
    // is refused before the first event, naming the variable.
    let e = Config::from_vars(
        [
            ("TRIAGE_STORE", "local"),
            (
                "TRIAGE_LOCAL_ROOT",
                root.path().to_str().unwrap_or_default(),
            ),
            ("TRIAGE_QUEUE", url.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap_err();
    assert_eq!(e.var, callback::SECRET_VAR, "{e}");
}
