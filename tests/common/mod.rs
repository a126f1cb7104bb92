//! Shared set-up for the integration tests: a temporary embedded bucket, the real models, and
//! the real demo photos (both fetched by scripts/fetch-models.sh, which the test command runs).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use image_triage::config::Config;
use image_triage::store::local::LocalStore;

pub const BUCKET: &str = "uploads-bucket";

pub fn cache_dir() -> PathBuf {
    image_triage::config::default_cache_dir()
}

/// A test tool installed by scripts/install-test-tools.sh: `$var` when set, else `in_cache`
/// under the cache (e.g. `tools/bin/cfn-lint`); a clear failure when it is not there.
pub fn tool(var: &str, in_cache: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(in_cache));
    assert!(
        p.is_file(),
        "{} not found: run `eval \"$(bash scripts/install-test-tools.sh)\"` (sets {var})",
        p.display()
    );
    p
}

pub fn model_dir() -> PathBuf {
    let dir = std::env::var_os("TRIAGE_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("models"));
    assert!(
        dir.join("open_nsfw.onnx").is_file() && dir.join("efficientnet_lite0.onnx").is_file(),
        "the models are not in {}: run scripts/fetch-models.sh (scripts/test.sh does)",
        dir.display()
    );
    dir
}

pub fn photos_dir() -> PathBuf {
    let dir = std::env::var_os("TRIAGE_PHOTOS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("photos"));
    assert!(
        dir.join("chelsea.png").is_file(),
        "demo photos are not in {}: run scripts/fetch-models.sh",
        dir.display()
    );
    dir
}

pub fn photo(name: &str) -> Vec<u8> {
    std::fs::read(photos_dir().join(name)).expect("demo photo")
}

/// A config as the environment would give it, with the local store at `root` and the models.
pub fn config(root: &std::path::Path, pairs: &[(&str, &str)]) -> Config {
    let mut vars: Vec<(String, String)> = vec![
        ("TRIAGE_STORE".into(), "local".into()),
        ("TRIAGE_LOCAL_ROOT".into(), root.display().to_string()),
        ("TRIAGE_MODEL_DIR".into(), model_dir().display().to_string()),
    ];
    vars.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).expect("valid test config")
}

pub fn store(root: &std::path::Path) -> Arc<LocalStore> {
    Arc::new(LocalStore::new(root))
}

/// A PNG header claiming `w`×`h`, padded to `size` bytes: enough for preflight, which never
/// decodes.
pub fn png_header(w: u32, h: u32, size: usize) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
    v.extend_from_slice(b"IHDR");
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    v.resize(size.max(v.len()), 0);
    v
}

pub fn event_for(bucket: &str, key: &str, name: &str) -> Vec<u8> {
    let mut ev = image_triage::demo::s3_put_event(bucket, key, 0, "");
    ev["Records"][0]["eventName"] = name.into();
    serde_json::to_vec(&ev).unwrap()
}

pub fn sidecar(root: &std::path::Path, key: &str) -> serde_json::Value {
    let path = root
        .join(BUCKET)
        .join("triage-results")
        .join(format!("{key}.json"));
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}
/// The sidecar of `key` in any store, parsed.
pub async fn sidecar_json(
    store: &dyn image_triage::store::ObjectStore,
    bucket: &str,
    key: &str,
) -> serde_json::Value {
    let body = store
        .get(bucket, &format!("triage-results/{key}.json"))
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"));
    serde_json::from_slice(&body).unwrap()
}
pub mod lambda;
pub mod moto;

/// A port nothing listens on right now (bind 0, read it back, let it go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait up to 30 s for a child process to listen on `port`.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not listen on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// One HTTP/1.0 exchange (HTTP/1.0 keeps the response unchunked, so reading to EOF gives the
/// body): (status, lower-cased head, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// POST a JSON body: (status, body).
pub fn post_json(port: u16, path: &str, body: &[u8]) -> (u16, String) {
    let (status, _, body) = http(
        port,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body,
    );
    (status, body)
}
