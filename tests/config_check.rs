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
        (&[("AWS_REGION", "us-east-1/x")], "AWS_REGION"),
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
