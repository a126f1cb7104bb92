//! `image-triage serve` as a real process: token, health, backpressure, SNS subscription
//! confirmation, and draining in-flight requests on SIGTERM. A listener that accepts and never
//! answers stands in for a slow S3, so requests can be held in flight on purpose.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{free_port, http, wait_for_port};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Accepts connections and holds them open without a reply, until the test ends.
fn silent_endpoint() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

fn start(extra: &[(&str, &str)]) -> (Server, u16) {
    let port = free_port();
    let s3 = format!("http://127.0.0.1:{}", silent_endpoint());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .env("TRIAGE_S3_ENDPOINT", &s3)
        .env("TRIAGE_S3_TIMEOUT", "5")
        .env("TRIAGE_S3_MAX_ATTEMPTS", "1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let server = Server(cmd.spawn().expect("start serve"));
    wait_for_port(port, "image-triage serve");
    (server, port)
}

const TOKEN: (&str, &str) = ("x-triage-token", "t0k");

#[test]
fn token_health_backpressure_and_sns_confirmation() {
    // The confirmation listener stands in for a self-hosted SNS, named by TRIAGE_SNS_ENDPOINT.
    let confirm = TcpListener::bind("127.0.0.1:0").unwrap();
    let confirm_port = confirm.local_addr().unwrap().port();
    let sns = format!("http://127.0.0.1:{confirm_port}");
    let (_server, port) = start(&[
        ("TRIAGE_SERVE_TOKEN", "t0k"),
        ("TRIAGE_SERVE_CONCURRENCY", "1"),
        ("TRIAGE_SNS_ENDPOINT", &sns),
    ]);
    let (status, _, body) = http(port, "GET", "/healthz", &[], b"");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"free_slots\":1"), "{body}");
    assert_eq!(http(port, "HEAD", "/events", &[], b"").0, 200);

    let test_event = br#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"uploads"}"#;
    assert_eq!(http(port, "POST", "/", &[], test_event).0, 401);
    assert_eq!(
        http(port, "POST", "/", &[("x-triage-token", "nope")], test_event).0,
        401
    );
    let (status, _, body) = http(port, "POST", "/", &[TOKEN], test_event);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("test_event"), "{body}");
    assert_eq!(
        http(port, "POST", "/events?token=t0k", &[], test_event).0,
        200
    );
    assert_eq!(
        http(
            port,
            "POST",
            "/",
            &[("authorization", "Bearer t0k")],
            test_event
        )
        .0,
        200
    );
    assert_eq!(http(port, "POST", "/", &[TOKEN], b"not json").0, 400);

    // One slot: while an upload is stuck on the silent S3, the next request is shed with 503.
    let event = common::event_for("uploads", "in/a.png", "ObjectCreated:Put");
    let (tx, rx) = mpsc::channel();
    let ev = event.clone();
    std::thread::spawn(move || tx.send(http(port, "POST", "/", &[TOKEN], &ev)).unwrap());
    std::thread::sleep(Duration::from_millis(1000));
    let (status, head, _) = http(port, "POST", "/", &[TOKEN], &event);
    assert_eq!(status, 503);
    assert!(head.contains("retry-after: 1"), "{head}");
    // The stuck one ends in a retryable failure: a 5xx, so the sender delivers it again.
    let (status, _, body) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("\"retryable\":true"), "{body}");

    // A SubscribeURL on any other host is not fetched, token or not (blind SSRF).
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let elsewhere = serde_json::json!({
        "Type": "SubscriptionConfirmation",
        "SubscribeURL": format!("http://127.0.0.1:{}/?Action=ConfirmSubscription", other.local_addr().unwrap().port()),
    });
    let (status, _, _) = http(
        port,
        "POST",
        "/",
        &[TOKEN],
        elsewhere.to_string().as_bytes(),
    );
    assert_eq!(status, 403);
    std::thread::sleep(Duration::from_millis(200));
    assert!(other.accept().is_err(), "the other host was contacted");

    // SNS subscription confirmation: the server GETs the SubscribeURL.
    let seen = std::thread::spawn(move || {
        let (mut s, _) = confirm.accept().unwrap();
        let mut buf = [0u8; 2048];
        let n = s.read(&mut buf).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let msg = serde_json::json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": "m1",
        "Token": "tok",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:uploads",
        "SubscribeURL": format!("http://127.0.0.1:{confirm_port}/?Action=ConfirmSubscription&Token=tok"),
    });
    let (status, _, body) = http(port, "POST", "/", &[TOKEN], msg.to_string().as_bytes());
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"confirmed\":true"), "{body}");
    assert!(seen
        .join()
        .unwrap()
        .starts_with("GET /?Action=ConfirmSubscription&Token=tok "));
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits() {
    let (mut server, port) = start(&[]);
    // Without a token, only AWS's own SNS endpoints are confirmed.
    let msg = r#"{"Type":"SubscriptionConfirmation","SubscribeURL":"http://127.0.0.1:9/?Action=ConfirmSubscription"}"#;
    assert_eq!(http(port, "POST", "/", &[], msg.as_bytes()).0, 403);
    let event = common::event_for("uploads", "in/b.png", "ObjectCreated:Put");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(http(port, "POST", "/", &[], &event)).unwrap());
    std::thread::sleep(Duration::from_millis(1000));
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // The request in flight still gets its answer (the retryable failure after the S3 timeout).
    let (status, _, body) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(status, 500, "{body}");
    let started = Instant::now();
    let exit = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// Beyond loopback without a token, `serve` refuses to start (before it listens), naming what
/// to set.
#[test]
fn non_loopback_without_a_token_refuses_to_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_image-triage"))
        .args(["serve", "--bind", "0.0.0.0:1"])
        .env_clear()
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TRIAGE_SERVE_TOKEN") && err.contains("TRIAGE_SERVE_INSECURE"),
        "{err}"
    );
}
