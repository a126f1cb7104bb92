//! The binary under both FunctionGraph entry points, against the Huawei emulator: the test plays
//! the custom-runtime API (`GET /v1/runtime/invocation/request`, `POST …/response|error/{id}`)
//! and the platform's HTTP caller (`POST /init`, `POST /invoke`). Credentials reach the function
//! only through the platform's `X-CFF-*` headers.

mod common;
mod huawei;

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use common::png_header;
use serde_json::Value;

const TOKEN: &str = "EMUTOKEN-fg";

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The function's environment: endpoints and project, but no access keys.
fn function(emu: &huawei::Running, args: &[&str], extra: &[(&str, &str)]) -> Killed {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    cmd.args(args)
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in emu.vars() {
        if !k.starts_with("HUAWEICLOUD_SDK_AK")
            && !k.starts_with("HUAWEICLOUD_SDK_SK")
            && !k.contains("SECURITY_TOKEN")
        {
            cmd.env(k, v);
        }
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Killed(cmd.spawn().expect("start the function"))
}

/// Queued invocations (request id, event) and reports (kind, request id, body).
type Queue = Arc<Mutex<VecDeque<(String, Vec<u8>)>>>;
type Reports = Arc<Mutex<Vec<(String, String, Value)>>>;

#[derive(Clone, Default)]
struct RuntimeApi {
    pending: Queue,
    results: Reports,
}

impl RuntimeApi {
    /// Serve the FunctionGraph runtime API on a free loopback port.
    async fn start() -> (RuntimeApi, std::net::SocketAddr) {
        let api = RuntimeApi::default();
        let app = axum::Router::new()
            .route("/v1/runtime/invocation/request", axum::routing::get(next))
            .route(
                "/v1/runtime/invocation/{kind}/{id}",
                axum::routing::post(report),
            )
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (api, addr)
    }

    /// Queue an invocation of the shipped event `events/<file>`.
    fn enqueue(&self, id: &str, file: &str) {
        self.pending
            .lock()
            .unwrap()
            .push_back((id.into(), huawei::event_file(file)));
    }
}

async fn next(State(api): State<RuntimeApi>) -> impl IntoResponse {
    // Long-poll: hold the request until an event is queued.
    loop {
        if let Some((id, body)) = api.pending.lock().unwrap().pop_front() {
            let headers = [
                ("X-Cff-Request-Id", id),
                ("X-CFF-Access-Key", huawei::AK.to_string()),
                ("X-CFF-Secret-Key", huawei::SK.to_string()),
                ("X-CFF-Security-Token", TOKEN.to_string()),
                ("X-CFF-Invoke-Type", "async".to_string()),
            ];
            return (headers, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn report(
    State(api): State<RuntimeApi>,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> &'static str {
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    api.results.lock().unwrap().push((kind, id, v));
    "ok"
}

async fn wait_result(api: &RuntimeApi, n: usize) -> Vec<(String, String, Value)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = api.results.lock().unwrap().clone();
        if r.len() >= n {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "the function reported {} of {n} results",
            r.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_runtime_protocol_end_to_end() {
    let emu = huawei::start(Some(TOKEN)).await;
    let (api, addr) = RuntimeApi::start().await;

    emu.emu.put(
        "examplebucket",
        "photos/cat 1.jpg",
        png_header(640, 480, 30_000),
        "image/png",
    );
    // The S3-shaped record names another bucket.
    emu.emu.put(
        "fg-sample-obs-go-runtime-sdk",
        "test2.txt",
        png_header(640, 480, 3_000),
        "image/png",
    );
    api.enqueue("req-1", "obs-native.json");
    api.enqueue("req-2", "obs-s3-shape.json");
    api.enqueue("req-3", "obs-native.json");

    // No command: RUNTIME_API_ADDR selects the custom runtime (as `bootstrap` would run it).
    let _f = function(
        &emu,
        &[],
        &[
            ("RUNTIME_API_ADDR", &addr.to_string()),
            ("RUNTIME_TIMEOUT", "30"),
        ],
    );
    let results = wait_result(&api, 3).await;
    for (kind, id, v) in &results[..2] {
        assert_eq!(kind, "response", "{id}: {v}");
        assert_eq!(v["outcomes"][0]["status"], "done", "{id}: {v}");
        assert_eq!(v["outcomes"][0]["labels"][0], "Cat");
    }
    assert_eq!(
        results[2].2["outcomes"][0]["status"], "skipped",
        "re-delivery: {}",
        results[2].2
    );
    let obj = emu.emu.get("examplebucket", "photos/cat 1.jpg").unwrap();
    assert_eq!(obj.meta["triage-verdict"], "pass");
    assert!(emu
        .emu
        .get("examplebucket", "triage-results/photos/cat 1.jpg.json")
        .is_some());
    assert_eq!(emu.emu.calls("image", "POST", ""), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_runtime_reports_retryable_failures_as_errors() {
    let emu = huawei::start(Some(TOKEN)).await;
    let (api, addr) = RuntimeApi::start().await;
    emu.emu.put(
        "examplebucket",
        "photos/cat 1.jpg",
        png_header(640, 480, 3_000),
        "image/png",
    );
    for _ in 0..2 {
        emu.emu.fault(
            "moderation",
            huawei::Fault::Status(
                503,
                r#"{"error_code":"APIG.0201","error_msg":"backend unavailable"}"#.into(),
            ),
        );
    }
    api.enqueue("req-e", "obs-native.json");
    let _f = function(
        &emu,
        &["functiongraph"],
        &[
            ("RUNTIME_API_ADDR", &addr.to_string()),
            ("TRIAGE_HUAWEI_MODERATION_MAX_ATTEMPTS", "2"),
        ],
    );
    let results = wait_result(&api, 1).await;
    assert_eq!(results[0].0, "error", "{:?}", results[0]);
    assert_eq!(results[0].2["errorType"], "ImageTriage.RetryableFailure");
    assert!(
        emu.emu
            .get("examplebucket", "triage-results/photos/cat 1.jpg.json")
            .is_none(),
        "no results on a retryable failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_http_function_end_to_end() {
    let emu = huawei::start(Some(TOKEN)).await;
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let _f = function(&emu, &["functiongraph-http", "--listen", &listen], &[]);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match http.post(format!("http://{listen}/init")).send().await {
            Ok(r) => {
                assert!(r.status().is_success());
                break;
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the HTTP function did not start: {e}"),
        }
    }
    let mut blocked = png_header(800, 600, 5_000);
    blocked[2000..2007].copy_from_slice(b"BLOCKME");
    let body = huawei::event_file("obs-eventgrid.json");
    let (bucket, key) = huawei::target(&body);
    emu.emu.put(&bucket, &key, blocked, "image/jpeg");
    let mut h = HeaderMap::new();
    h.insert("X-CFF-Request-Id", "http-1".parse().unwrap());
    h.insert("X-CFF-Security-Access-Key", huawei::AK.parse().unwrap());
    h.insert("X-CFF-Security-Secret-Key", huawei::SK.parse().unwrap());
    h.insert("X-CFF-Security-Token", TOKEN.parse().unwrap());
    h.insert("X-CFF-Timeout", "30".parse().unwrap());
    let r = http
        .post(format!("http://{listen}/invoke"))
        .headers(h)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["outcomes"][0]["status"], "done", "{v}");
    assert_eq!(v["outcomes"][0]["verdict"], "block", "{v}");
    let stored = emu.emu.get(&bucket, &key).unwrap();
    assert_eq!(stored.meta["triage-verdict"], "block");
    assert!(
        stored.tags.iter().any(|(k, _)| k.contains("block")),
        "{:?}",
        stored.tags
    );
}

#[test]
fn functiongraph_outside_the_platform_says_what_is_missing() {
    let out = Command::new(env!("CARGO_BIN_EXE_image-triage"))
        .arg("functiongraph")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("RUNTIME_API_ADDR"), "{err}");
}
