//! Huawei Cloud end to end against the loopback emulator (tests/huawei): OBS events of each
//! shape in, labels / verdict / metadata / tags / sidecar out, read back from the emulator.

mod common;
mod huawei;

use std::time::Duration;

use common::png_header;
use huawei::{event_file, target, Fault, Running};
use image_triage::config::Config;
use image_triage::object::Provider;
use image_triage::pipeline::Pipeline;
use image_triage::store::ObjectStore;
use serde_json::Value;

const TOKEN: &str = "EMUTOKEN-temporary";

fn config(emu: &Running, extra: &[(&str, &str)]) -> Config {
    let mut vars = emu.vars();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).expect("valid config")
}

fn blocked_png() -> Vec<u8> {
    let mut b = png_header(800, 600, 4096);
    b[1000..1007].copy_from_slice(b"BLOCKME");
    b
}

fn sidecar(emu: &Running, bucket: &str, key: &str) -> Value {
    let o = emu
        .emu
        .get(bucket, &format!("triage-results/{key}.json"))
        .unwrap_or_else(|| panic!("no sidecar for {key}"));
    serde_json::from_slice(&o.body).unwrap()
}

#[tokio::test]
async fn every_obs_event_shape_in_results_out() {
    let emu = huawei::start(Some(TOKEN)).await;
    let pipeline = Pipeline::new(config(&emu, &[]));
    for file in [
        "obs-native.json",
        "obs-s3-shape.json",
        "obs-s3-shape-old.json",
        "obs-eventgrid.json",
    ] {
        let body = event_file(file);
        let (bucket, key) = target(&body);
        emu.emu
            .put(&bucket, &key, png_header(640, 480, 20_000), "image/png");
        let out = pipeline.handle_event(&body, Some(Provider::Obs)).await;
        assert_eq!(out[0].status, "done", "{file}: {out:?}");
        assert_eq!(out[0].verdict.as_deref(), Some("pass"), "{file}");
        assert_eq!(out[0].labels, vec!["Cat", "Grass"], "{file}");

        let obj = emu.emu.get(&bucket, &key).unwrap();
        assert!(
            obj.meta.contains_key("triage-marker"),
            "{file}: {:?}",
            obj.meta
        );
        assert_eq!(
            obj.meta.get("triage-verdict").map(String::as_str),
            Some("pass")
        );
        assert!(obj.meta["triage-labels"].contains("Cat"), "{:?}", obj.meta);
        assert!(
            obj.tags.iter().any(|(_, v)| v == "Cat"),
            "{file}: {:?}",
            obj.tags
        );
        let sc = sidecar(&emu, &bucket, &key);
        assert_eq!(sc["labels"]["output"]["labels"][0]["name"], "Cat");
        assert_eq!(sc["moderation"]["output"]["suggestion"], "pass");
    }
    let g = emu.emu.0.lock().unwrap();
    assert_eq!(
        g.copy_events, 0,
        "metadata is written in place: no Copy event"
    );
    assert!(
        g.log.iter().all(|l| l.status < 400
            // The content dedupe's lookup of a record not yet written.
            || (l.status == 404 && l.path.contains("/_by-content/"))),
        "{:?}",
        g.log
            .iter()
            .filter(|l| l.status >= 400 && !l.path.contains("/_by-content/"))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn block_applies_its_action_once_and_redelivery_does_no_double_work() {
    let emu = huawei::start(None).await;
    let pipeline = Pipeline::new(config(&emu, &[("TRIAGE_BLOCK_ACTION", "private")]));
    let body = event_file("obs-native.json");
    let (bucket, key) = target(&body);
    emu.emu.put(&bucket, &key, blocked_png(), "image/png");

    let first = pipeline.handle_event(&body, Some(Provider::Obs)).await;
    assert_eq!(first[0].status, "done", "{first:?}");
    assert_eq!(first[0].verdict.as_deref(), Some("block"));
    assert_eq!(emu.emu.get(&bucket, &key).unwrap().acl, "private");
    let sc = sidecar(&emu, &bucket, &key);
    assert!((sc["moderation"]["output"]["score"].as_f64().unwrap() - 97.0).abs() < 0.01);

    let again = pipeline.handle_event(&body, Some(Provider::Obs)).await;
    assert_eq!(again[0].status, "skipped", "{again:?}");
    assert_eq!(again[0].verdict.as_deref(), Some("block"));
    // Not analysed again; the block verdict is enforced again (idempotent).
    assert_eq!(
        emu.emu.calls("obs", "PUT", "acl"),
        2,
        "block action re-asserted on re-delivery"
    );
    assert_eq!(emu.emu.get(&bucket, &key).unwrap().acl, "private");
    assert_eq!(emu.emu.calls("moderation", "POST", ""), 1);
    assert_eq!(emu.emu.calls("image", "POST", ""), 1);
    assert_eq!(emu.emu.calls("obs", "PUT", "metadata"), 1);
}

#[tokio::test]
async fn retryable_errors_are_retried_with_vendor_bodies() {
    let emu = huawei::start(Some(TOKEN)).await;
    let pipeline = Pipeline::new(config(&emu, &[("TRIAGE_HUAWEI_MODERATION_TIMEOUT", "1")]));
    let body = event_file("obs-s3-shape.json");
    let (bucket, key) = target(&body);
    emu.emu
        .put(&bucket, &key, png_header(300, 300, 2000), "image/png");
    emu.emu.fault("obs", Fault::Status(503, "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".into()));
    emu.emu.fault(
        "moderation",
        Fault::Status(
            429,
            r#"{"error_code":"APIG.0308","error_msg":"The request is throttled"}"#.into(),
        ),
    );
    emu.emu
        .fault("moderation", Fault::Delay(Duration::from_secs(3)));
    emu.emu.fault(
        "image",
        Fault::Status(
            500,
            r#"{"error_code":"AIS.0500","error_msg":"internal error"}"#.into(),
        ),
    );

    let out = pipeline.handle_event(&body, Some(Provider::Obs)).await;
    assert_eq!(out[0].status, "done", "{out:?}");
    assert_eq!(out[0].labels, vec!["Cat", "Grass"]);
    assert!(emu.emu.calls("moderation", "POST", "") >= 2);
    assert_eq!(emu.emu.calls("image", "POST", ""), 2);
    let g = emu.emu.0.lock().unwrap();
    assert!(g.log.iter().any(|l| l.service == "obs" && l.status == 503));
    assert!(g
        .log
        .iter()
        .any(|l| l.service == "moderation" && l.status == 429));
}

#[tokio::test]
async fn permanent_vendor_errors_keep_their_code_and_are_not_retried() {
    let emu = huawei::start(None).await;
    let pipeline = Pipeline::new(config(&emu, &[]));
    let body = event_file("obs-native.json");
    let (bucket, key) = target(&body);
    emu.emu
        .put(&bucket, &key, png_header(300, 300, 2000), "image/png");
    emu.emu.fault(
        "image",
        Fault::Status(
            400,
            r#"{"error_code":"AIS.0005","error_msg":"The service does not exist."}"#.into(),
        ),
    );
    let out = pipeline.handle_event(&body, Some(Provider::Obs)).await;
    assert_eq!(out[0].status, "done", "{out:?}");
    assert_eq!(
        emu.emu.calls("image", "POST", ""),
        1,
        "a 400 is not retried"
    );
    let sc = sidecar(&emu, &bucket, &key);
    let reason = sc["labels"]["reason"].as_str().unwrap();
    assert!(reason.contains("AIS.0005"), "{reason}");
}

#[tokio::test]
async fn wrong_secret_is_refused_by_the_emulator() {
    let emu = huawei::start(None).await;
    let mut vars = emu.vars();
    for (k, v) in vars.iter_mut() {
        if k == "HUAWEICLOUD_SDK_SK" {
            *v = "not-the-secret".into();
        }
    }
    let cfg = Config::from_vars(vars).unwrap();
    let store = image_triage::store::obs::builder::build(&cfg).unwrap();
    emu.emu
        .put("bkt", "k.png", png_header(10, 10, 100), "image/png");
    let e = store.head("bkt", "k.png").await.unwrap_err();
    assert!(!e.retryable(), "{e}");
    assert!(e.to_string().contains("403"), "{e}");
}

#[tokio::test]
async fn metadata_falls_back_to_copy_and_the_copy_event_does_nothing() {
    let emu = huawei::start(Some(TOKEN)).await;
    emu.emu.0.lock().unwrap().no_set_metadata = true;
    let pipeline = Pipeline::new(config(&emu, &[]));
    let body = event_file("obs-native.json");
    let (bucket, key) = target(&body);
    emu.emu
        .put(&bucket, &key, png_header(300, 300, 2000), "image/png");
    // A private object, as an OBS upload without an ACL is (the seed helper makes it public):
    // the fallback copy is private too, so nothing about who can read it changes.
    emu.emu
        .0
        .lock()
        .unwrap()
        .objects
        .get_mut(&(bucket.clone(), key.clone()))
        .unwrap()
        .acl = "private".into();
    let out = pipeline.handle_event(&body, Some(Provider::Obs)).await;
    assert_eq!(out[0].status, "done", "{out:?}");
    assert_eq!(emu.emu.0.lock().unwrap().copy_events, 1);
    assert_eq!(emu.emu.get(&bucket, &key).unwrap().acl, "private");
    let obj = emu.emu.get(&bucket, &key).unwrap();
    assert!(obj.meta.contains_key("triage-marker"));
    assert_eq!(obj.content_type, "image/png");
    // The Copy event OBS fires for that write.
    let copy = String::from_utf8(body)
        .unwrap()
        .replace("ObjectCreated:Put", "ObjectCreated:Copy");
    let again = pipeline
        .handle_event(copy.as_bytes(), Some(Provider::Obs))
        .await;
    assert_eq!(again[0].status, "skipped", "{again:?}");
    assert_eq!(emu.emu.calls("moderation", "POST", ""), 1);
}

/// The README's claim for Huawei: Image Tagging and Content Moderation download the object
/// through a signed OBS URL, so the function reads only preflight's first 64 KiB from the bucket,
/// whatever the object's size. Sizes both services accept (up to 7.5 MiB), so the URL path really
/// runs; then one over their limits, which neither service pulls.
#[tokio::test]
async fn analyzers_pull_by_url_while_the_bucket_serves_only_64_kib() {
    let emu = huawei::start(Some(TOKEN)).await;
    // Content dedupe (on by default) reads each new upload once to hash it.
    let cfg = config(&emu, &[("TRIAGE_DEDUPE", "off")]);
    let counting = image_triage::store::counting::CountingStore::new(
        image_triage::store::obs::builder::build(&cfg).unwrap(),
    );
    let counter = counting.counter();
    let pipeline = Pipeline::with_store(cfg, std::sync::Arc::new(counting));
    let body = event_file("obs-native.json");
    let (bucket, key) = target(&body);
    let pulled = |service: &str| emu.emu.url_bytes_served(service);
    for (size, accepted) in [
        (2_000usize, true),
        (300_000, true),
        (7_000_000, true),
        (40_000_000, false),
    ] {
        emu.emu
            .put(&bucket, &key, png_header(1000, 800, size), "image/png");
        emu.emu.0.lock().unwrap().bytes_served = 0;
        counter.store(0, std::sync::atomic::Ordering::Relaxed);
        let before = (pulled("image"), pulled("moderation"));
        let out = pipeline.handle_event(&body, Some(Provider::Obs)).await;
        assert_eq!(out[0].status, "done", "{out:?}");
        let sc = sidecar(&emu, &bucket, &key);
        let by_url = (pulled("image") - before.0, pulled("moderation") - before.1);
        if accepted {
            assert_eq!(sc["labels"]["status"], "done", "{sc}");
            assert_eq!(sc["moderation"]["status"], "done", "{sc}");
            assert_eq!(out[0].labels, vec!["Cat", "Grass"]);
            assert_eq!(
                by_url,
                (size as u64, size as u64),
                "both services pulled the whole object by URL"
            );
        } else {
            assert_eq!(sc["labels"]["status"], "skipped", "{sc}");
            assert_eq!(sc["moderation"]["status"], "skipped", "{sc}");
            assert_eq!(by_url, (0, 0), "nothing pulled");
        }
        // What the function read: through the counting wrapper, and as OBS served it.
        let read = counter.load(std::sync::atomic::Ordering::Relaxed);
        let served = emu.emu.0.lock().unwrap().bytes_served;
        println!("object {size} B: pulled by URL {by_url:?} B, {read} B read from the bucket");
        assert_eq!(read, size.min(64 * 1024) as u64, "{size}: read {read}");
        assert_eq!(served, read, "OBS served what the store counted");
    }
}

#[tokio::test]
async fn store_operations_against_the_emulator() {
    let emu = huawei::start(Some(TOKEN)).await;
    let cfg = config(&emu, &[]);
    let store = image_triage::store::obs::builder::build(&cfg).unwrap();
    store
        .put(
            "bkt",
            "a/x y.png",
            bytes::Bytes::from_static(b"0123456789"),
            "image/png",
        )
        .await
        .unwrap();
    let m = store.head("bkt", "a/x y.png").await.unwrap();
    assert_eq!((m.size, m.content_type.as_deref()), (10, Some("image/png")));
    assert_eq!(
        &store.get_range("bkt", "a/x y.png", 2..5).await.unwrap()[..],
        b"234"
    );
    assert!(store
        .get_range("bkt", "a/x y.png", 20..30)
        .await
        .unwrap()
        .is_empty());
    let meta = [("note".to_string(), "猫 cat".to_string())]
        .into_iter()
        .collect();
    store
        .update_metadata("bkt", "a/x y.png", &meta)
        .await
        .unwrap();
    assert_eq!(
        store.head("bkt", "a/x y.png").await.unwrap().metadata["note"],
        "猫 cat"
    );
    store
        .put_tags("bkt", "a/x y.png", &[("k".into(), "v".into())])
        .await
        .unwrap();
    assert_eq!(
        store.get_tags("bkt", "a/x y.png").await.unwrap(),
        vec![("k".to_string(), "v".to_string())]
    );
    let url = store
        .presign("bkt", "a/x y.png", Duration::from_secs(300))
        .await
        .unwrap();
    assert!(url.starts_with(
        "https://bkt.obs.cn-north-4.myhuaweicloud.com/a/x%20y.png?x-obs-security-token="
    ));
    assert_eq!(
        huawei::fetch_signed_url(&emu.emu, &url).unwrap(),
        b"0123456789"
    );
    store
        .rename("bkt", "a/x y.png", "q/x y.png", None)
        .await
        .unwrap();
    assert!(matches!(
        store.head("bkt", "a/x y.png").await,
        Err(image_triage::store::StoreError::NotFound { .. })
    ));
    let page = store.list("bkt", "q/", None, 10).await.unwrap();
    assert_eq!(page.objects.len(), 1);
    assert_eq!(page.objects[0].key, "q/x y.png");
    store.delete("bkt", "q/x y.png").await.unwrap();
    store.delete("bkt", "q/x y.png").await.unwrap();
    assert!(emu.emu.get("bkt", "q/x y.png").is_none());
}

#[tokio::test]
async fn a_failed_url_download_falls_back_to_base64_once() {
    let emu = huawei::start(Some(TOKEN)).await;
    let pipeline = Pipeline::new(config(&emu, &[]));
    let body = event_file("obs-native.json");
    let (bucket, key) = target(&body);
    emu.emu
        .put(&bucket, &key, png_header(300, 300, 100_000), "image/png");
    emu.emu.fault(
        "image",
        Fault::Status(
            400,
            r#"{"error_code":"ModelArts.4702","error_msg":"The OBS agency failed to be queried."}"#
                .into(),
        ),
    );
    let out = pipeline.handle_event(&body, Some(Provider::Obs)).await;
    assert_eq!(out[0].status, "done", "{out:?}");
    assert_eq!(out[0].labels, vec!["Cat", "Grass"]);
    assert_eq!(emu.emu.calls("image", "POST", ""), 2, "URL, then inline");
    assert_eq!(emu.emu.calls("moderation", "POST", ""), 1);
    // The 64 KiB preflight and the rest for the content dedupe's hash, then the fallback's own
    // whole read (bytes reach an analyzer only where it asks; the fallback checks the inline
    // limit when it reads).
    assert_eq!(
        emu.emu.0.lock().unwrap().bytes_served,
        65_536 + (100_000 - 65_536) + 100_000
    );
}

/// When the pipeline already holds the whole object (another analyzer needed the bytes), the
/// fallback sends those: no second read from the bucket.
#[tokio::test]
async fn the_fallback_uses_bytes_already_read() {
    use image_triage::analyzers::{AnalyzerInput, Labeler};
    let emu = huawei::start(Some(TOKEN)).await;
    let cfg = config(&emu, &[]);
    let png = png_header(300, 300, 20_000);
    emu.emu.put("bkt", "k.png", png.clone(), "image/png");
    emu.emu.fault(
        "image",
        Fault::Status(
            400,
            r#"{"error_code":"ModelArts.4702","error_msg":"The OBS agency failed to be queried."}"#
                .into(),
        ),
    );
    let store = image_triage::store::obs::builder::build(&cfg).unwrap();
    let url = store
        .presign("bkt", "k.png", Duration::from_secs(300))
        .await
        .unwrap();
    let labeler = image_triage::analyzers::huawei::tagging::HuaweiTagging::new(&cfg).unwrap();
    let input = AnalyzerInput {
        object: image_triage::ObjectRef::new(Provider::Obs, "bkt", "k.png"),
        facts: image_triage::preflight::inspect_header(&png, png.len() as u64).unwrap(),
        bytes: Some(bytes::Bytes::from(png)),
        url: Some(url),
        store: None,
        shared: Default::default(),
    };
    let out = labeler.label(&input).await.unwrap();
    assert_eq!(out.labels[0].name, "Cat");
    assert_eq!(emu.emu.calls("image", "POST", ""), 2, "URL, then inline");
    assert_eq!(emu.emu.0.lock().unwrap().bytes_served, 0, "nothing re-read");
}

#[tokio::test]
async fn a_wrong_security_token_is_refused_by_every_service() {
    let emu = huawei::start(Some(TOKEN)).await;
    let mut vars = emu.vars();
    for (k, v) in vars.iter_mut() {
        if k == "HUAWEICLOUD_SDK_SECURITY_TOKEN" {
            *v = "stale-token".into();
        }
    }
    let cfg = Config::from_vars(vars).unwrap();
    emu.emu
        .put("bkt", "k.png", png_header(300, 300, 1000), "image/png");
    let store = image_triage::store::obs::builder::build(&cfg).unwrap();
    let e = store.head("bkt", "k.png").await.unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");

    use image_triage::analyzers::{AnalyzerInput, Labeler};
    let labeler = image_triage::analyzers::huawei::tagging::HuaweiTagging::new(&cfg).unwrap();
    let input = AnalyzerInput {
        object: image_triage::ObjectRef::new(Provider::Obs, "bkt", "k.png"),
        facts: image_triage::preflight::inspect_header(&png_header(300, 300, 1000), 1000).unwrap(),
        bytes: Some(bytes::Bytes::from(png_header(300, 300, 1000))),
        url: None,
        store: None,
        shared: Default::default(),
    };
    let e = labeler.label(&input).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("APIG.0301"), "{e}");
    assert!(!e.retryable);
    assert_eq!(
        emu.emu.calls("image", "POST", ""),
        1,
        "auth failures are not retried"
    );
}

/// A PNG whose bytes carry the emulator's text marker: an image that "contains" `text`.
fn png_with_text(text: &str) -> Vec<u8> {
    let mut b = png_header(800, 600, 20_000);
    let marked = format!("TEXT:{text}\0");
    b[1000..1000 + marked.len()].copy_from_slice(marked.as_bytes());
    b
}

/// Moderate `key` (already in the emulator) with the moderation built from `cfg`, by URL.
async fn moderate(
    emu: &Running,
    cfg: &Config,
    key: &str,
) -> image_triage::analyzers::ModerationOutput {
    use image_triage::analyzers::{AnalyzerInput, Moderator};
    let body = emu.emu.get("bkt", key).unwrap().body;
    let store = image_triage::store::obs::builder::build(cfg).unwrap();
    let url = store
        .presign("bkt", key, Duration::from_secs(300))
        .await
        .unwrap();
    let m = image_triage::analyzers::huawei::moderation::HuaweiModeration::new(cfg).unwrap();
    let input = AnalyzerInput {
        object: image_triage::ObjectRef::new(Provider::Obs, "bkt", key),
        facts: image_triage::preflight::inspect_header(&body, body.len() as u64).unwrap(),
        bytes: None,
        url: Some(url),
        store: None,
        shared: Default::default(),
    };
    m.moderate(&input).await.unwrap()
}

/// Moderation v3 reads the text in the image under `image_text` (in the default categories):
/// `ocr_text` and the glossary hit's `segments` come back as `ModerationOutput.text`. Without
/// `image_text` requested nothing is read; requested on an image without text, the section is
/// there without lines.
#[tokio::test]
async fn moderation_reads_the_text_in_the_image() {
    use image_triage::analyzers::Suggestion;
    use image_triage::text::HitSource;
    let emu = huawei::start(Some(TOKEN)).await;
    emu.emu
        .put("bkt", "ad.png", png_with_text("加微信 abc123"), "image/png");
    emu.emu
        .put("bkt", "none.png", png_header(800, 600, 20_000), "image/png");

    let cfg = config(&emu, &[]);
    let m = moderate(&emu, &cfg, "ad.png").await;
    assert_eq!(
        (m.suggestion, m.label.as_str()),
        (Suggestion::Block, "image_text")
    );
    assert_eq!(m.sub_label.as_deref(), Some("ad"));
    let t = m.text.expect("image_text was requested");
    assert_eq!(t.reader, "huawei");
    let lines: Vec<_> = t.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(lines, vec!["加微信 abc123"]);
    assert_eq!(t.hits.len(), 1, "{t:?}");
    let h = &t.hits[0];
    assert_eq!(
        (
            h.category.as_str(),
            h.keyword.as_str(),
            h.line.as_str(),
            h.source
        ),
        ("ad", "加微信", "加微信 abc123", HitSource::Vendor)
    );
    assert!((h.score.unwrap() - 95.0).abs() < 0.01);

    let t = moderate(&emu, &cfg, "none.png").await.text;
    let t = t.expect("image_text requested: OCR ran, read nothing");
    assert!(t.lines.is_empty() && t.hits.is_empty());

    let no_ocr = config(&emu, &[("TRIAGE_MODERATION_CATEGORIES", "porn,terrorism")]);
    let m = moderate(&emu, &no_ocr, "ad.png").await;
    assert_eq!(m.suggestion, Suggestion::Pass, "the text was not read");
    assert_eq!(m.text, None);
}
