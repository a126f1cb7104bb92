//! Issue 18: media tagging, celebrity recognition and main-object detection end to end against
//! the loopback Huawei emulator (tests/huawei), whose three APIs are checked against the
//! request/response models of Huawei's SDK (`tests/emulator_checks/huawei_image_models.rs`).

mod common;
mod huawei;

use common::png_header;
use huawei::{event_file, target, Fault, MediaTag, Running};
use image_triage::config::Config;
use image_triage::object::Provider;
use image_triage::pipeline::{Outcome, Pipeline};
use serde_json::Value;

const TOKEN: &str = "EMUTOKEN-temporary";

fn config(emu: &Running, extra: &[(&str, &str)]) -> Config {
    let mut vars = emu.vars();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).expect("valid config")
}

/// One OBS upload of a `size`-byte PNG through a counting store: the outcome, the bytes the
/// function read from the bucket, and the sidecar (`null` when none was written).
async fn triage(emu: &Running, extra: &[(&str, &str)], size: usize) -> (Outcome, u64, Value) {
    // What the URL path reads, without content dedupe's one read to hash a new upload.
    let mut extra = extra.to_vec();
    extra.push(("TRIAGE_DEDUPE", "off"));
    let cfg = config(emu, &extra);
    let counting = image_triage::store::counting::CountingStore::new(
        image_triage::store::obs::builder::build(&cfg).unwrap(),
    );
    let counter = counting.counter();
    let pipeline = Pipeline::with_store(cfg, std::sync::Arc::new(counting));
    let body = event_file("obs-native.json");
    let (bucket, key) = target(&body);
    emu.emu
        .put(&bucket, &key, png_header(1000, 800, size), "image/png");
    let out = pipeline
        .handle_event(&body, Some(Provider::Obs))
        .await
        .remove(0);
    let sidecar = emu
        .emu
        .get(&bucket, &format!("triage-results/{key}.json"))
        .map_or(Value::Null, |o| serde_json::from_slice(&o.body).unwrap());
    let read = counter.load(std::sync::atomic::Ordering::Relaxed);
    (out, read, sidecar)
}

fn key() -> String {
    target(&event_file("obs-native.json")).1
}

#[tokio::test]
async fn media_tags_and_celebrities_by_url_into_every_sink() {
    let emu = huawei::start(Some(TOKEN)).await;
    let k = key();
    emu.emu.media_tags_as(
        &k,
        &[
            MediaTag::new("人", "Person", "人物", "People", 95.5)
                .with_box([100, 200, 10, 20], 90.0),
            MediaTag::new("舞台", "Stage", "场景", "Scene", 80.0),
        ],
    );
    emu.emu.celebrities_as(&k, &[("Famous Person", 0.97)]);
    let (o, read, sidecar) = triage(
        &emu,
        &[
            ("TRIAGE_LABELER", "huawei-media"),
            ("TRIAGE_HUAWEI_CELEBRITY", "on"),
            ("TRIAGE_HUAWEI_MAIN_OBJECT", "on"),
        ],
        500_000,
    )
    .await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.labels, vec!["Famous Person", "Person", "Stage"]);
    // The services pulled the object by URL; the function read only its preflight.
    assert!(read <= 64 * 1024, "read {read}");
    for api in ["media-tagging", "celebrity", "main-object"] {
        assert_eq!(emu.emu.calls(api, "POST", ""), 1, "{api}");
        assert_eq!(emu.emu.url_bytes_served(api), 500_000, "{api}");
    }
    assert_eq!(
        emu.emu.calls("image", "POST", ""),
        0,
        "image tagging not called"
    );
    // Labels keep their type; celebrities have their own category; boxes stay in the sidecar.
    let labels = &sidecar["labels"]["output"]["labels"];
    assert_eq!(labels[0]["first_category"], "celebrity");
    assert_eq!(labels[1]["first_category"], "People");
    let raw = &sidecar["labels"]["output"]["raw"];
    assert_eq!(
        raw["labels"]["result"]["tags"][0]["instances"][0]["bounding_box"]["width"],
        100
    );
    assert_eq!(raw["celebrity"]["result"][0]["label"], "Famous Person");
    assert!(raw["celebrity"]["result"][0]["face_detail"]["w"].is_number());
    assert_eq!(raw["main_object"]["result"][0]["label"], "main_object_box");
    assert_eq!(sidecar["labels"]["analyzer"], "huawei media tagging");
    // No category configured: a public figure changes nothing.
    assert_eq!(o.verdict.as_deref(), Some("pass"));
    let (bucket, k) = target(&event_file("obs-native.json"));
    let obj = emu.emu.get(&bucket, &k).unwrap();
    assert!(
        obj.meta["triage-labels"].contains("Famous"),
        "{:?}",
        obj.meta
    );
    assert!(obj.tags.iter().any(|(_, v)| v == "Stage"), "{:?}", obj.tags);
}

#[tokio::test]
async fn a_public_figure_category_sends_to_review_through_the_thresholds() {
    let emu = huawei::start(Some(TOKEN)).await;
    emu.emu.celebrities_as(&key(), &[("Famous Person", 0.97)]);
    let policy = [
        ("TRIAGE_HUAWEI_CELEBRITY", "on"),
        ("TRIAGE_HUAWEI_CELEBRITY_CATEGORY", "public_figure"),
        ("TRIAGE_THRESHOLDS", "public_figure:60/100"),
    ];
    let (o, _, sidecar) = triage(&emu, &policy, 4096).await;
    assert_eq!(o.verdict.as_deref(), Some("review"), "{sidecar}");
    assert!(sidecar["verdict"]["reason"]
        .as_str()
        .unwrap()
        .contains("public_figure"));
    assert_eq!(
        sidecar["labels"]["output"]["signals"][0]["label"],
        "Famous Person"
    );
    // Image tagging (the OBS default) still labels beside it.
    assert_eq!(emu.emu.calls("image", "POST", ""), 1);

    // Nobody recognised: pass.
    let emu = huawei::start(Some(TOKEN)).await;
    let (o, _, _) = triage(&emu, &policy, 4096).await;
    assert_eq!(o.verdict.as_deref(), Some("pass"));
}

#[tokio::test]
async fn extra_analyses_fail_apart_from_the_labels() {
    // Not enabled for the account: recorded beside the labels, which are kept.
    let emu = huawei::start(Some(TOKEN)).await;
    emu.emu.fault(
        "celebrity",
        Fault::Status(
            400,
            r#"{"error_code": "AIS.0004", "error_msg": "service not enabled"}"#.into(),
        ),
    );
    let (o, _, sidecar) = triage(&emu, &[("TRIAGE_HUAWEI_CELEBRITY", "on")], 4096).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.labels, vec!["Cat", "Grass"]);
    assert_eq!(
        sidecar["labels"]["output"]["raw"]["celebrity"]["error"]["code"],
        "AIS.0004"
    );
    // Throttled for good: the event fails retryably and writes nothing, so the platform's
    // retry runs all of it again.
    let emu = huawei::start(Some(TOKEN)).await;
    for _ in 0..8 {
        emu.emu.fault(
            "main-object",
            Fault::Status(
                429,
                r#"{"error_code": "APIG.0308", "error_msg": "slow down"}"#.into(),
            ),
        );
    }
    let (o, _, sidecar) = triage(&emu, &[("TRIAGE_HUAWEI_MAIN_OBJECT", "on")], 4096).await;
    assert_eq!((o.status, o.retryable), ("failed", true), "{o:?}");
    assert!(o.reason.unwrap_or_default().contains("APIG.0308"));
    assert_eq!(sidecar, Value::Null);
}

#[tokio::test]
async fn a_failed_download_goes_inline_once() {
    let emu = huawei::start(Some(TOKEN)).await;
    emu.emu.fault(
        "media-tagging",
        Fault::Status(
            400,
            r#"{"error_code": "ModelArts.4603", "error_msg": "download failed"}"#.into(),
        ),
    );
    let (o, read, _) = triage(&emu, &[("TRIAGE_LABELER", "huawei-media")], 100_000).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(emu.emu.calls("media-tagging", "POST", ""), 2);
    assert!(read >= 100_000, "the inline retry read the object: {read}");
}
