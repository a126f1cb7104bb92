//! The release binary as a Lambda function under the real Runtime API emulator
//! (`cargo lambda watch --only-lambda-apis`, installed by scripts/install-test-tools.sh).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Children that die with the test, pass or fail.
struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "emulator did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// HTTP/1.0 keeps the response unchunked, so reading to EOF gives the body.
fn post(port: u16, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn release_binary_answers_invocations_through_the_runtime_api() {
    let cargo_lambda = std::env::var_os("TRIAGE_CARGO_LAMBDA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("tools/bin/cargo-lambda"));
    assert!(
        cargo_lambda.is_file(),
        "{} not found: run scripts/install-test-tools.sh (scripts/test.sh does)",
        cargo_lambda.display()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(BUCKET).join("in")).unwrap();
    std::fs::write(
        dir.path().join(BUCKET).join("in/cat photo.png"),
        photo("chelsea.png"),
    )
    .unwrap();

    let port = free_port();
    let emulator = Command::new(&cargo_lambda)
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cargo-lambda");
    let mut children = Killed(vec![emulator]);
    wait_for(port);
    let function = Command::new(env!("CARGO_BIN_EXE_image-triage"))
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", dir.path())
        .env("TRIAGE_MODEL_DIR", model_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the function");
    children.0.push(function);

    let event = event_for(BUCKET, "in/cat photo.png", "ObjectCreated:Put");
    let (status, body) = post(port, "/2015-03-31/functions/_/invocations", &event);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["outcomes"][0]["status"], "done", "{v}");
    assert_eq!(v["outcomes"][0]["key"], "in/cat photo.png");
    assert!(dir
        .path()
        .join(BUCKET)
        .join("triage-results/in/cat photo.png.json")
        .is_file());

    // The same function instance keeps serving: a re-delivery is recognised.
    let (_, body) = post(port, "/2015-03-31/functions/_/invocations", &event);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["outcomes"][0]["code"], "already_processed", "{v}");
}
