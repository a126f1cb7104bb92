//! Every vendor setting is checked at start: with one bad value, `image-triage process EVENT`
//! exits 2 naming the variable and opens no connection — not even to the store. Every endpoint
//! points at one listener that counts connections; a control run with good settings shows the
//! same set-up does reach it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A listener on 127.0.0.1 that accepts, counts and drops every connection.
struct Counter {
    port: u16,
    hits: Arc<AtomicUsize>,
}

fn counter() -> Counter {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    // Lives until the test process ends; it only counts.
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if conn.is_ok() {
                h.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    Counter { port, hits }
}

fn events_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/events"))
}

/// `process` on `event` with every endpoint at the counter, credentials for every cloud, short
/// timeouts and one attempt, plus `extra`.
fn process(c: &Counter, event: &str, extra: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", c.port);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TRIAGE_MODEL_DIR", home.path());
    for service in [
        "COS",
        "CI",
        "IMS",
        "TIIA",
        "OBS",
        "HUAWEI_IMAGE",
        "HUAWEI_MODERATION",
        "S3",
        "SQS",
        "TDMQ",
    ] {
        cmd.env(format!("TRIAGE_{service}_ENDPOINT"), &url)
            .env(format!("TRIAGE_{service}_TIMEOUT"), "2")
            .env(format!("TRIAGE_{service}_MAX_ATTEMPTS"), "1");
    }
    for (k, v) in [
        ("TENCENTCLOUD_SECRETID", "id"),
        ("TENCENTCLOUD_SECRETKEY", "key"),
        ("TENCENTCLOUD_REGION", "ap-guangzhou"),
        ("HUAWEICLOUD_SDK_AK", "ak"),
        ("HUAWEICLOUD_SDK_SK", "sk"),
        ("HUAWEICLOUD_SDK_PROJECT_ID", "p"),
        ("AWS_ACCESS_KEY_ID", "ak"),
        ("AWS_SECRET_ACCESS_KEY", "sk"),
    ] {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.arg("process").arg(events_dir().join(event));
    let out = cmd.output().unwrap();
    drop(home);
    out
}

#[test]
fn the_control_run_reaches_the_listener() {
    let c = counter();
    let out = process(&c, "cos-put.json", &[]);
    // The store's HEAD went to the listener, which hung up: a failed outcome, not a bad config.
    assert_ne!(out.status.code(), Some(2), "{out:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        c.hits.load(Ordering::SeqCst) > 0,
        "the control run made no connection"
    );
}

#[test]
fn one_bad_vendor_setting_stops_every_provider_before_any_connection() {
    let c = counter();
    let bad: &[(&[(&str, &str)], &str)] = &[
        (&[("TRIAGE_HUAWEI_INPUT", "bogus")], "TRIAGE_HUAWEI_INPUT"),
        (&[("TRIAGE_LABEL_SCENES", "moon")], "TRIAGE_LABEL_SCENES"),
        (
            &[("TRIAGE_MODERATION_BIZ_TYPE", "x")],
            "TRIAGE_MODERATION_BIZ_TYPE",
        ),
        (
            &[("TRIAGE_LABEL_THRESHOLD", "250")],
            "TRIAGE_LABEL_THRESHOLD",
        ),
        (&[("TRIAGE_S3_ADDRESSING", "bogus")], "TRIAGE_S3_ADDRESSING"),
        (&[("TRIAGE_QUEUE", "ftp://x")], "TRIAGE_QUEUE"),
        (
            &[("TRIAGE_QUEUE", "callback+https://hooks.example.com/triage")],
            "TRIAGE_CALLBACK_SECRET",
        ),
        (&[("TRIAGE_LABEL_SCENE", "web")], "TRIAGE_LABEL_SCENE"),
        (&[("TRIAGE_LABLER", "none")], "TRIAGE_LABLER"),
        (&[("TRIAGE_LOG_FORMAT", "jsn")], "TRIAGE_LOG_FORMAT"),
        (
            &[("TRIAGE_COS_ENDPOINT", "http://h/?x")],
            "TRIAGE_COS_ENDPOINT",
        ),
        (
            &[("TRIAGE_MODERATION_CATEGORIES", "porn,gore")],
            "TRIAGE_MODERATION_CATEGORIES",
        ),
        (
            &[("TRIAGE_HUAWEI_TAGGING_LIMITS", "loose")],
            "TRIAGE_HUAWEI_TAGGING_LIMITS",
        ),
        (
            &[("TRIAGE_HUAWEI_REGION", "x@127.0.0.1:1#")],
            "TRIAGE_HUAWEI_REGION",
        ),
        (
            &[("TENCENTCLOUD_REGION", "ap-guangzhou.evil")],
            "TENCENTCLOUD_REGION",
        ),
        // A labeler chosen explicitly still has its settings checked.
        (
            &[
                ("TRIAGE_LABELER", "tiia"),
                ("TRIAGE_MODERATION_GIF_MAX_FRAMES", "lots"),
            ],
            "TRIAGE_MODERATION_GIF_MAX_FRAMES",
        ),
    ];
    for (settings, var) in bad {
        for event in ["cos-put.json", "obs-native.json", "s3-put.json"] {
            let out = process(&c, event, settings);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{settings:?} {event}: {stderr}");
            assert!(
                stderr.contains(&format!("{var}=")),
                "{settings:?} {event}: the message names {var}: {stderr}"
            );
            assert!(out.stdout.is_empty(), "no outcome is printed");
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(c.hits.load(Ordering::SeqCst), 0, "a connection was opened");
}

#[test]
fn queue_errors_show_the_scheme_only() {
    let c = counter();
    let out = process(
        &c,
        "cos-put.json",
        &[("TRIAGE_QUEUE", "ftp://user:hunter2@example.com/q")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// On Lambda a bad setting is an init error the platform records, not just a process exit.
#[test]
fn lambda_reports_a_bad_setting_as_an_init_error() {
    use std::io::{Read, Write};
    let api = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = api.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = api.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        // Headers, then the body Content-Length announces.
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            req.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&req);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    break;
                }
            }
        }
        let _ = conn.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n");
        String::from_utf8_lossy(&req).to_string()
    });
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_image-triage"))
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "triage")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("TRIAGE_LABEL_SCENES", "moon")
        .arg("lambda")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let req = server.join().unwrap();
    assert!(
        req.starts_with("POST /2018-06-01/runtime/init/error "),
        "{req}"
    );
    assert!(req.contains("ImageTriage.InvalidConfiguration"), "{req}");
    assert!(req.contains("TRIAGE_LABEL_SCENES"), "{req}");
}
