//! Issue 11, point 2: only the vendor's endpoint is ever contacted. Bucket names smuggled into
//! events (an S3 bucket, a COS APPID, an OBS bucket carrying `@127.0.0.1:PORT`) open no
//! connection to a sentinel listener and end in a recorded `failed` outcome; a bucket outside
//! `TRIAGE_BUCKETS` is refused; and signed requests never follow a redirect.

mod common;
#[path = "tencent/emulator.rs"]
#[allow(unused_imports)]
mod emulator;

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use image_triage::config::Config;
use image_triage::pipeline::Pipeline;
use image_triage::Provider;
use serde_json::Value;

/// Counts the connections made to it.
fn sentinel() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    (port, seen)
}

fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars: Vec<(String, String)> = [
        ("TRIAGE_LABELER", "none"),
        ("TRIAGE_MODERATOR", "none"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_REGION", "us-east-1"),
        ("TENCENTCLOUD_SECRETID", "AKIDexample"),
        ("TENCENTCLOUD_SECRETKEY", "secret"),
        ("TENCENTCLOUD_REGION", "ap-guangzhou"),
        ("HUAWEICLOUD_SDK_AK", "AK"),
        ("HUAWEICLOUD_SDK_SK", "SK"),
        (
            "HUAWEICLOUD_SDK_PROJECT_ID",
            "0123456789abcdef0123456789abcdef",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).unwrap()
}

fn event_file(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test]
async fn smuggled_bucket_names_open_no_connection() {
    let (port, seen) = sentinel();
    let pipeline = Pipeline::new(config(&[]));
    let host = format!("127.0.0.1:{port}");

    let s3 = common::event_for(&format!("a@{host}"), "k.png", "ObjectCreated:Put");
    let mut cos = event_file("cos-put.json");
    cos["Records"][0]["cos"]["cosBucket"]["appid"] = format!("1@{host}/").into();
    let mut obs = event_file("obs-native.json");
    obs["Records"][0]["obs"]["bucket"]["name"] = format!("x@{host}#").into();
    obs["Records"][0]["obs"]["bucket"]["bucket"] = format!("x@{host}#").into();

    for (name, body, hint) in [
        ("s3", s3, Some(Provider::S3)),
        (
            "cos",
            serde_json::to_vec(&cos).unwrap(),
            Some(Provider::Cos),
        ),
        (
            "obs",
            serde_json::to_vec(&obs).unwrap(),
            Some(Provider::Obs),
        ),
    ] {
        let out = pipeline.handle_event(&body, hint).await;
        let o = &out[0];
        assert_eq!(o.status, "failed", "{name}: {out:?}");
        assert!(
            matches!(o.code.as_deref(), Some("invalid_bucket")),
            "{name}: {o:?}"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a connection reached the sentinel"
    );
}

#[tokio::test]
async fn buckets_outside_the_allow_list_are_refused_untouched() {
    let (port, seen) = sentinel();
    let endpoint = format!("http://127.0.0.1:{port}");
    let pipeline = Pipeline::new(config(&[
        ("TRIAGE_BUCKETS", "uploads-*"),
        ("TRIAGE_S3_ENDPOINT", &endpoint),
    ]));
    let ev = common::event_for("someone-elses", "k.png", "ObjectCreated:Put");
    let o = pipeline.handle_event(&ev, None).await.remove(0);
    assert_eq!(
        (o.status, o.code.as_deref()),
        ("failed", Some("bucket_not_allowed")),
        "{o:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "the other bucket was contacted"
    );
}

#[tokio::test]
async fn signed_requests_do_not_follow_redirects() {
    use std::io::{Read, Write};
    let (sentinel_port, seen) = sentinel();
    // Answers every request with a redirect to the sentinel.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{sentinel_port}/stolen\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = s.write_all(reply.as_bytes());
        }
    });
    let endpoint = format!("http://127.0.0.1:{port}");
    let cfg = config(&[
        ("TRIAGE_S3_ENDPOINT", &endpoint),
        ("TRIAGE_S3_MAX_ATTEMPTS", "1"),
    ]);
    let s3 = image_triage::store::for_provider(&cfg, Provider::S3).unwrap();
    let e = s3.head("uploads", "k.png").await.unwrap_err();
    assert!(e.to_string().contains("307"), "{e}");
    // The shared client of the vendor APIs too.
    let r = image_triage::client::http()
        .get(&endpoint)
        .header("x-amz-security-token", "secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(seen.load(Ordering::SeqCst), 0, "a redirect was followed");
}

/// An uploaded file that reads like a COS error document is the object's bytes, not an error:
/// it neither makes the function retry nor puts the uploader's text into its errors.
#[tokio::test]
async fn an_object_that_looks_like_an_error_is_just_bytes() {
    let emu = emulator::Emulator::start().await;
    let body = br#"<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>attacker text</Message></Error>"#;
    emu.put_object(
        "photos-1250000000",
        "in/e.xml",
        body.to_vec(),
        "application/xml",
    );
    let cfg = Config::from_vars(emu.env()).unwrap();
    let cos = image_triage::store::for_provider(&cfg, Provider::Cos).unwrap();
    let got = cos.get("photos-1250000000", "in/e.xml").await.unwrap();
    assert_eq!(&got[..], &body[..]);
    let part = cos
        .get_range("photos-1250000000", "in/e.xml", 0..40)
        .await
        .unwrap();
    assert_eq!(&part[..], &body[..40]);
}

/// Issue 11, point 5: vendor text that quotes the presigned URL it was given (with its
/// signature and session token) reaches neither the outcome nor the sidecar.
#[tokio::test]
async fn vendor_text_quoting_a_signed_url_is_redacted() {
    let emu = emulator::Emulator::start().await;
    let (bucket, key) = ("photos-1250000000", "in/quoted.png");
    emu.put_object(bucket, key, common::png_header(800, 600, 5000), "image/png");
    let quoted = "https://photos-1250000000.cos.ap-guangzhou.myqcloud.com/in/quoted.png?q-sign-algorithm=sha1&q-ak=AKID&q-signature=5ec2e75ec2e7&x-cos-security-token=T0KEN5ECRET";
    let envelope = serde_json::json!({"Response": {
        "Error": {"Code": "InvalidParameter", "Message": format!("cannot use {quoted}; Signature=5ec2e75ec2e7")},
        "RequestId": "r-1",
    }});
    emu.inject(
        "ims",
        emulator::Fault::Reply(200, "application/json", envelope.to_string()),
        1,
    );
    let pipeline = Pipeline::new(Config::from_vars(emu.env()).unwrap());
    let ev = emulator::cos_event(bucket, key, "cos:ObjectCreated:Put", &Default::default());
    let o = pipeline
        .handle_event(&serde_json::to_vec(&ev).unwrap(), Some(Provider::Cos))
        .await
        .remove(0);
    let sidecar = emu
        .object(bucket, &format!("triage-results/{key}.json"))
        .expect("the sidecar records the failed stage");
    let sidecar = String::from_utf8(sidecar.body).unwrap();
    assert!(
        sidecar.contains("InvalidParameter") && sidecar.contains("quoted.png?<redacted>"),
        "{sidecar}"
    );
    for text in [format!("{o:?}"), sidecar] {
        assert!(
            !text.contains("5ec2e75ec2e7") && !text.contains("T0KEN5ECRET"),
            "{text}"
        );
    }
}
