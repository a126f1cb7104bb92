//! The built binary on Tencent SCF's two entry points against the emulator: the custom-runtime
//! protocol (this test plays the SCF Runtime API) and the image-function HTTP server
//! (`POST /event-invoke` with `X-Scf-*` credentials). Results are read back from the emulator.

mod common;
#[path = "tencent/emulator.rs"]
mod emulator;

use std::collections::{BTreeMap, VecDeque};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use emulator::{cos_event, Emulator, Fault};
use serde_json::Value;

const BUCKET: &str = "photos-1250000000";
const KEY: &str = "uploads/猫 photo(1).png";

/// The child dies with the test, pass or fail.
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Default)]
struct Rt {
    ready_bodies: Vec<String>,
    pending: VecDeque<Vec<u8>>,
    /// ("response" | "error", body)
    results: Vec<(String, String)>,
    served: usize,
}

type Shared = Arc<Mutex<Rt>>;

async fn ready(State(rt): State<Shared>, body: String) -> impl IntoResponse {
    if body.is_empty() {
        return StatusCode::BAD_REQUEST;
    }
    rt.lock().unwrap().ready_bodies.push(body);
    StatusCode::OK
}

async fn next(State(rt): State<Shared>) -> impl IntoResponse {
    loop {
        let ev = {
            let mut r = rt.lock().unwrap();
            let ev = r.pending.pop_front();
            if ev.is_some() {
                r.served += 1;
            }
            ev.map(|e| (e, r.served))
        };
        if let Some((ev, n)) = ev {
            let mut h = HeaderMap::new();
            h.insert("request_id", format!("req-{n}").parse().unwrap());
            h.insert("memory_limit_in_mb", "512".parse().unwrap());
            h.insert("time_limit_in_ms", "30000".parse().unwrap());
            return (h, ev);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn result(
    State(rt): State<Shared>,
    axum::extract::Path(kind): axum::extract::Path<String>,
    body: String,
) -> impl IntoResponse {
    rt.lock().unwrap().results.push((kind, body));
    StatusCode::OK
}

async fn runtime_api() -> (u16, Shared) {
    let rt: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/runtime/init/ready", post(ready))
        .route("/runtime/invocation/next", get(next))
        .route("/runtime/invocation/{kind}", post(result))
        .with_state(rt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, rt)
}

fn binary(envs: &[(String, String)], args: &[&str]) -> Killed {
    let mut c = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRIAGE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in envs {
        c.env(k, v);
    }
    Killed(c.spawn().expect("the image-triage binary starts"))
}

async fn wait_results(rt: &Shared, n: usize) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = rt.lock().unwrap().results.clone();
        if r.len() >= n {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no result from the runtime: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn event(key: &str, name: &str, meta: &BTreeMap<String, String>) -> Vec<u8> {
    serde_json::to_vec(&cos_event(BUCKET, key, name, meta)).unwrap()
}

#[tokio::test]
async fn custom_runtime_protocol_end_to_end() {
    let emu = Emulator::start().await;
    emu.put_object(
        BUCKET,
        KEY,
        common::png_header(640, 480, 30_000),
        "image/png",
    );
    emu.put_object(
        BUCKET,
        "uploads/busy.png",
        common::png_header(640, 480, 30_000),
        "image/png",
    );
    emu.inject("ims", Fault::ApiError("RequestLimitExceeded"), 1);
    let (port, rt) = runtime_api().await;
    rt.lock()
        .unwrap()
        .pending
        .push_back(event(KEY, "cos:ObjectCreated:Put", &BTreeMap::new()));

    let mut envs = emu.env();
    envs.push(("SCF_RUNTIME_API".into(), "127.0.0.1".into()));
    envs.push(("SCF_RUNTIME_API_PORT".into(), port.to_string()));
    envs.push(("TRIAGE_IMS_MAX_ATTEMPTS".into(), "1".into()));
    envs.push(("TRIAGE_QUEUE".into(), "cmq://image-results".into()));
    // No command: SCF_RUNTIME_API selects the custom runtime, as `bootstrap` runs it.
    let _child = binary(&envs, &[]);

    // First invocation: IMS throttled once, one attempt allowed: the invocation fails so SCF
    // retries it; nothing was written.
    let r = wait_results(&rt, 1).await;
    assert_eq!(rt.lock().unwrap().ready_bodies, vec![" ".to_string()]);
    assert_eq!(r[0].0, "error", "{r:?}");
    assert!(r[0].1.contains("RequestLimitExceeded"), "{}", r[0].1);
    assert!(emu.object(BUCKET, KEY).unwrap().meta.is_empty());

    // SCF's retry of the same event: done.
    rt.lock()
        .unwrap()
        .pending
        .push_back(event(KEY, "cos:ObjectCreated:Put", &BTreeMap::new()));
    let r = wait_results(&rt, 2).await;
    assert_eq!(r[1].0, "response", "{r:?}");
    let v: Value = serde_json::from_str(&r[1].1).unwrap();
    assert_eq!(v["outcomes"][0]["status"], "done", "{v}");
    assert_eq!(v["outcomes"][0]["labels"][0], "猫");
    let obj = emu.object(BUCKET, KEY).unwrap();
    assert_eq!(obj.meta["triage-verdict"], "pass");
    assert!(obj.tags.iter().any(|(k, _)| k == "triage-verdict"));
    assert!(emu
        .object(BUCKET, &format!("triage-results/{KEY}.json"))
        .is_some());
    let msgs = emu.messages();
    assert_eq!(msgs.len(), 1, "one queue message for the object: {msgs:?}");
    assert!(msgs[0].1.contains("\"verdict\":\"pass\""), "{}", msgs[0].1);

    // `inspect --provider cos` reads the stored result back through the COS store.
    let inspect_env = emu.env();
    let report = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_image-triage"))
            .args(["inspect", "--provider", "cos", "--json", BUCKET, KEY])
            .env_clear()
            .envs(inspect_env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert!(report.to_string().contains("\"pass\""), "{report}");
    assert!(report.to_string().contains("猫"), "{report}");

    // The Copy event the metadata write caused: skipped.
    rt.lock()
        .unwrap()
        .pending
        .push_back(event(KEY, "cos:ObjectCreated:Copy", &obj.meta));
    let r = wait_results(&rt, 3).await;
    let v: Value = serde_json::from_str(&r[2].1).unwrap();
    assert_eq!(v["outcomes"][0]["code"], "write_back_copy", "{v}");
}

#[tokio::test]
async fn image_function_http_server_takes_credentials_from_headers() {
    let emu = Emulator::start().await;
    emu.put_object(
        BUCKET,
        KEY,
        common::png_header(640, 480, 30_000),
        "image/png",
    );
    emu.moderate_as(KEY, "Block", "Porn", 97);
    let mut envs: Vec<(String, String)> = emu
        .env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("TENCENTCLOUD_"))
        .collect();
    envs.push(("TRIAGE_BLOCK_ACTION".into(), "private".into()));
    envs.push(("TRIAGE_IMS_MAX_ATTEMPTS".into(), "1".into()));
    let port = common::free_port();
    let _child = binary(
        &envs,
        &["scf-http", "--listen", &format!("127.0.0.1:{port}")],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "scf-http did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let http = reqwest::Client::new();
    let invoke = |body: Vec<u8>| {
        http.post(format!("http://127.0.0.1:{port}/event-invoke"))
            .header("content-type", "application/json")
            .header("X-Scf-Request-Id", "3b21a413-6e6a-11ee-b2ba-52540008c7f7")
            .header("X-Scf-Timeout", "30000")
            .header("X-Scf-Region", emulator::REGION)
            .header("X-Scf-Secret-Id", emulator::SECRET_ID)
            .header("X-Scf-Secret-Key", emulator::SECRET_KEY)
            .header("X-Scf-Session-Token", emulator::TOKEN)
            .body(body)
            .send()
    };
    let resp = invoke(event(KEY, "cos:ObjectCreated:Put", &BTreeMap::new()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(v["outcomes"][0]["verdict"], "block", "{v}");
    let obj = emu.object(BUCKET, KEY).unwrap();
    assert_eq!(obj.acl.as_deref(), Some("private"));
    // One ACL write, the block action's (the metadata copy reads the ACL and repeats it).
    assert_eq!(emu.count_method("cos:acl", "PUT"), 1);

    // Re-delivered: already processed, not analysed again; the block verdict the marker vouches
    // for is enforced again (an idempotent ACL write), in case the object came back public.
    let again = invoke(event(KEY, "cos:ObjectCreated:Put", &BTreeMap::new()))
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&again.bytes().await.unwrap()).unwrap();
    assert_eq!(v["outcomes"][0]["code"], "already_processed", "{v}");
    assert_eq!(emu.count_method("cos:acl", "PUT"), 2);
    assert_eq!(
        emu.object(BUCKET, KEY).unwrap().acl.as_deref(),
        Some("private")
    );

    // A retryable failure is a failed invocation (HTTP 500), so SCF retries the event. Other
    // bytes than the first upload's (identical ones would reuse its result: content dedupe).
    emu.put_object(
        BUCKET,
        "uploads/later.png",
        common::png_header(640, 480, 31_000),
        "image/png",
    );
    emu.inject("ims", Fault::ApiError("RequestLimitExceeded"), 1);
    let failed = invoke(event(
        "uploads/later.png",
        "cos:ObjectCreated:Put",
        &BTreeMap::new(),
    ))
    .await
    .unwrap();
    assert_eq!(failed.status(), 500);
    let text = failed.text().await.unwrap();
    assert!(text.contains("RequestLimitExceeded"), "{text}");
    assert!(emu
        .object(BUCKET, "uploads/later.png")
        .unwrap()
        .meta
        .is_empty());
}
