//! Issue 17: `TRIAGE_LABELER=tencent-legacy` end to end against the Tencent emulator, whose
//! imagetag endpoint verifies the legacy signature with `tests/vendor_sign/legacy.rs` (checked
//! against the official SDK's vectors) and fetches only presigned URLs on public COS hosts.

mod common;
#[path = "tencent/emulator.rs"]
mod emulator;

use std::collections::BTreeMap;
use std::sync::Arc;

use emulator::{cos_event, Emulator, Fault};
use image_triage::config::Config;
use image_triage::pipeline::{Outcome, Pipeline};
use image_triage::store::counting::CountingStore;
use image_triage::store::ObjectStore;
use image_triage::Provider;
use serde_json::Value;

const BUCKET: &str = "photos-1250000000";

fn config(emu: &Emulator, extra: &[(&str, &str)]) -> Config {
    let mut vars = emu.env();
    vars.push(("TRIAGE_LABELER".into(), "tencent-legacy".into()));
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).expect("valid config")
}

/// One COS upload event for `key` (`size` bytes of PNG) through a counting COS store: the
/// outcome, the bytes the function read, and the sidecar.
async fn triage(
    emu: &Emulator,
    key: &str,
    size: usize,
    extra: &[(&str, &str)],
) -> (Outcome, u64, Value) {
    emu.put_object(BUCKET, key, common::png_header(800, 600, size), "image/png");
    // What the URL path reads, without content dedupe's one read to hash a new upload.
    let mut extra = extra.to_vec();
    extra.push(("TRIAGE_DEDUPE", "off"));
    let cfg = config(emu, &extra);
    let store = Arc::new(CountingStore::new(
        image_triage::store::cos::builder::build(&cfg).unwrap(),
    ));
    let counting: Arc<dyn ObjectStore> = store.clone();
    let p = Pipeline::with_store(cfg, counting);
    let ev = cos_event(BUCKET, key, "cos:ObjectCreated:Put", &BTreeMap::new());
    let o = p
        .handle_event(&serde_json::to_vec(&ev).unwrap(), Some(Provider::Cos))
        .await
        .remove(0);
    let sidecar = emu
        .object(BUCKET, &format!("triage-results/{key}.json"))
        .map(|o| serde_json::from_slice(&o.body).unwrap())
        .unwrap_or(Value::Null);
    (o, store.bytes_read(), sidecar)
}

fn imagetag_bodies(emu: &Emulator) -> Vec<Value> {
    emu.inner
        .lock()
        .unwrap()
        .api_bodies
        .iter()
        .filter(|(op, _)| op == "imagetag")
        .map(|(_, b)| b.clone())
        .collect()
}

#[tokio::test]
async fn cos_upload_is_labelled_by_url_and_written_everywhere() {
    let emu = Emulator::start().await;
    let key = "uploads/legacy 猫.png";
    emu.tag_as(key, &[("天空", 27), ("女孩", 47)]);
    let (o, read, sidecar) = triage(&emu, key, 500_000, &[]).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.labels, vec!["女孩", "天空"]);
    // The service pulled the object; the function read only its preflight.
    assert!(read <= 64 * 1024, "read {read}");
    assert_eq!(emu.url_bytes_served("imagetag"), 500_000);
    let bodies = imagetag_bodies(&emu);
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["appid"], "1250000000");
    assert_eq!(bodies[0]["bucket"], "photos");
    assert!(bodies[0]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://photos-1250000000.cos."));
    assert!(bodies[0].get("image").is_none());
    // Sidecar, metadata and tags.
    assert_eq!(sidecar["labels"]["analyzer"], "tencent-legacy");
    assert_eq!(sidecar["labels"]["output"]["raw"]["code"], 0);
    let obj = emu.object(BUCKET, key).unwrap();
    let labels = obj.meta.get("triage-labels").cloned().unwrap_or_default();
    assert!(labels.contains("%E5%A5%B3%E5%AD%A9"), "{labels}");
    assert!(
        obj.tags
            .iter()
            .any(|(k, v)| k == "triage-label1" && v == "女孩"),
        "{:?}",
        obj.tags
    );
}

#[tokio::test]
async fn a_download_failure_goes_inline_once() {
    let emu = Emulator::start().await;
    let key = "uploads/fallback.png";
    emu.inject("imagetag", Fault::LegacyError(-1308), 1);
    emu.tag_inline_as(&[("猫", 88)]);
    let (o, read, sidecar) = triage(&emu, key, 100_000, &[]).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.labels, vec!["猫"]);
    // The emulator keeps the bodies it answered, not the ones a fault answered.
    assert_eq!(emu.count("imagetag"), 2, "one URL request, one inline");
    let bodies = imagetag_bodies(&emu);
    assert!(bodies[0].get("url").is_none());
    assert!(bodies[0]["image"].as_str().unwrap().len() > 100_000);
    assert!(read >= 100_000, "the fallback read the object: {read}");
    assert_eq!(sidecar["labels"]["status"], "done");

    // Twice unable to download: one fallback only, and the stage says why.
    let emu = Emulator::start().await;
    emu.inject("imagetag", Fault::LegacyError(-1507), 1);
    emu.inject("imagetag", Fault::LegacyError(-1506), 1);
    let (o, _, sidecar) = triage(&emu, key, 100_000, &[]).await;
    assert_eq!(emu.count("imagetag"), 2, "{o:?}");
    assert_eq!(sidecar["labels"]["status"], "failed");
    assert_eq!(sidecar["labels"]["code"], "-1506");

    // Over 4 MB once in base64 (seed 000): not sent at all, by URL or inline.
    let emu = Emulator::start().await;
    let (_, read, sidecar) = triage(&emu, key, 3_500_000, &[]).await;
    assert_eq!(emu.count("imagetag"), 0);
    assert!(read <= 64 * 1024, "read {read}");
    assert_eq!(sidecar["labels"]["status"], "skipped", "{sidecar}");
}

#[tokio::test]
async fn the_error_table() {
    // (code, requests made, stage status): retryable codes are asked again, the rest are final.
    let cases: [(i64, usize, &str); 9] = [
        (15, 2, "done"),
        (16, 2, "done"),
        (203, 2, "done"),
        (9, 1, "failed"),
        (11, 1, "failed"),
        (14, 1, "failed"),
        (-1400, 1, "failed"),
        (-1404, 1, "failed"),
        (-1505, 1, "failed"),
    ];
    for (code, requests, status) in cases {
        let emu = Emulator::start().await;
        emu.inject("imagetag", Fault::LegacyError(code), 1);
        let (o, _, sidecar) = triage(&emu, "uploads/e.png", 5_000, &[]).await;
        assert_eq!(emu.count("imagetag"), requests, "{code}: {o:?}");
        assert_eq!(sidecar["labels"]["status"], status, "{code}: {sidecar}");
        if status == "failed" {
            assert_eq!(sidecar["labels"]["code"], code.to_string());
            assert_eq!(sidecar["labels"]["retryable"], false);
        }
    }
    // What to fix is in the message.
    let emu = Emulator::start().await;
    emu.inject("imagetag", Fault::LegacyError(11), 1);
    let (_, _, sidecar) = triage(&emu, "uploads/e.png", 5_000, &[]).await;
    let reason = sidecar["labels"]["reason"].as_str().unwrap();
    assert!(reason.contains("TENCENTCLOUD_SECRETID"), "{reason}");
}

#[tokio::test]
async fn an_image_the_service_marks_bad_is_a_moderation_signal() {
    let emu = Emulator::start().await;
    let key = "uploads/bad.png";
    emu.mark_bad(key);
    let (o, _, sidecar) = triage(&emu, key, 5_000, &[]).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.verdict.as_deref(), Some("review"), "{sidecar}");
    assert_eq!(sidecar["labels"]["status"], "done");
    assert_eq!(sidecar["labels"]["output"]["raw"]["code"], -5062);
    let flag = sidecar["labels"]["output"]["flagged"].as_str().unwrap();
    assert!(flag.contains("bad image"), "{flag}");
    assert!(sidecar["verdict"]["reason"]
        .as_str()
        .unwrap()
        .contains("raised to review"));
}

/// Objects outside COS: the service fetches only Tencent's hosts, so the bytes go inline,
/// signed for `TENCENTCLOUD_APPID`.
#[tokio::test]
async fn objects_elsewhere_go_inline_with_the_configured_appid() {
    let emu = Emulator::start().await;
    emu.tag_inline_as(&[("狗", 66)]);
    let dir = tempfile::tempdir().unwrap();
    let env = emu.env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.extend([
        ("TRIAGE_LABELER", "tencent-legacy"),
        ("TRIAGE_MODERATOR", "none"),
        ("TENCENTCLOUD_APPID", "1250000000"),
    ]);
    let pipeline = Pipeline::new(common::config(dir.path(), &pairs));
    let store = common::store(dir.path());
    store
        .put(
            common::BUCKET,
            "in/dog.png",
            common::png_header(64, 64, 4096).into(),
            "image/png",
        )
        .await
        .unwrap();
    let ev = common::event_for(common::BUCKET, "in/dog.png", "ObjectCreated:Put");
    let o = pipeline.handle_event(&ev, None).await.remove(0);
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.labels, vec!["狗"]);
    let bodies = imagetag_bodies(&emu);
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["appid"], "1250000000");
    assert!(bodies[0].get("url").is_none() && bodies[0].get("bucket").is_none());

    // A malformed AppID stops the configuration, naming the variable.
    let bad = Config::from_vars([
        ("TRIAGE_LABELER".to_string(), "tencent-legacy".to_string()),
        ("TENCENTCLOUD_APPID".to_string(), "12a".to_string()),
    ]);
    assert_eq!(bad.unwrap_err().var, "TENCENTCLOUD_APPID");
}
