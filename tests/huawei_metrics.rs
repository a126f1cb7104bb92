//! Huawei's per-call metric log lines, named like the Cloud Eye metrics. In a test binary of its
//! own: tracing caches each call site's interest process-wide, and a thread-local subscriber set
//! while other tests run in parallel threads can miss events (tokio-rs/tracing callsite race).

mod common;
mod huawei;

use common::png_header;
use huawei::{event_file, target, Fault, Running};
use image_triage::config::Config;
use image_triage::object::Provider;
use image_triage::pipeline::Pipeline;
use serde_json::Value;

fn config(emu: &Running) -> Config {
    Config::from_vars(emu.vars()).expect("valid config")
}

/// Log lines captured from the current thread (the test runtime is single-threaded).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_ai_call_logs_a_cloud_eye_style_metric_line() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A session token too, to show it never reaches a log line.
    let emu = huawei::start(Some("metrics-session-token-5f1c")).await;
    let pipeline = Pipeline::new(config(&emu));
    let body = event_file("obs-native.json");
    let (bucket, key) = target(&body);
    emu.emu
        .put(&bucket, &key, png_header(300, 300, 2000), "image/png");
    emu.emu.fault(
        "moderation",
        Fault::Status(
            400,
            r#"{"error_code":"AIS.0005","error_msg":"The service does not exist."}"#.into(),
        ),
    );
    pipeline.handle_event(&body, Some(Provider::Obs)).await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let metrics: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["metric"].is_string())
        .map(|v| v["fields"].clone())
        .collect();
    assert!(
        metrics
            .iter()
            .any(|m| m["metric"] == "successful_call_times_of_service"
                && m["call_of_interface"] == "image/tagging"
                && m["service"] == "image"),
        "{metrics:?}"
    );
    assert!(
        metrics
            .iter()
            .any(|m| m["metric"] == "failed_call_times_of_service"
                && m["call_of_interface"] == "moderation/image"
                && m["code"] == "AIS.0005"),
        "{metrics:?}"
    );
    // One line per call the emulator saw, per service (retried attempts count, as on the
    // service side).
    for service in ["image", "moderation"] {
        let lines = metrics.iter().filter(|m| m["service"] == service).count();
        assert_eq!(
            lines,
            emu.emu.calls(service, "POST", ""),
            "{service}: {metrics:?}"
        );
        assert!(lines > 0, "{service} was called");
    }
    // No credential in any log line: not the secret key, the security token, a signature or a
    // signed URL.
    let secrets: Vec<String> = emu
        .vars()
        .into_iter()
        .filter(|(k, _)| k == "HUAWEICLOUD_SDK_SK" || k == "HUAWEICLOUD_SDK_SECURITY_TOKEN")
        .map(|(_, v)| v)
        .collect();
    assert!(!secrets.is_empty());
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret in the logs");
    }
    for marker in [
        "Signature=",
        "signature=",
        "Authorization",
        "X-Amz-",
        "AccessKeyId=",
    ] {
        assert!(!text.contains(marker), "{marker} in the logs");
    }
}
