//! The whole function on the Tencent path against the emulator (tests/tencent/emulator.rs):
//! COS event in → CI labels + IMS verdict → metadata, tags, sidecar out, read back from the
//! emulator's state; copy-event guard; block actions applied once; retries and vendor codes.

mod common;
#[path = "tencent/emulator.rs"]
mod emulator;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use emulator::{cos_event, Emulator, Fault};
use image_triage::config::Config;
use image_triage::pipeline::{Outcome, Pipeline};
use image_triage::store::counting::CountingStore;
use image_triage::store::ObjectStore;
use image_triage::Provider;

const BUCKET: &str = "photos-1250000000";
const KEY: &str = "uploads/猫 photo(1).png";

fn config(emu: &Emulator, extra: &[(&str, &str)]) -> Config {
    let mut vars = emu.env();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).expect("valid config")
}

async fn upload(emu: &Emulator, key: &str, size: usize) {
    emu.put_object(BUCKET, key, common::png_header(800, 600, size), "image/png");
}

async fn run(
    p: &Pipeline,
    key: &str,
    event_name: &str,
    meta: &BTreeMap<String, String>,
) -> Outcome {
    let ev = cos_event(BUCKET, key, event_name, meta);
    let mut out = p
        .handle_event(&serde_json::to_vec(&ev).unwrap(), Some(Provider::Cos))
        .await;
    assert_eq!(out.len(), 1);
    out.remove(0)
}

fn sidecar(emu: &Emulator, key: &str) -> serde_json::Value {
    let o = emu
        .object(BUCKET, &format!("triage-results/{key}.json"))
        .expect("sidecar written");
    assert_eq!(o.content_type, "application/json");
    serde_json::from_slice(&o.body).unwrap()
}

#[tokio::test]
async fn cos_event_to_labels_verdict_metadata_tags_and_sidecar() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 200_000).await;
    emu.edit(BUCKET, KEY, |o| {
        o.meta.insert("author".into(), "张三".into());
        o.headers
            .insert("cache-control".into(), "max-age=600".into());
        o.headers
            .insert("x-cos-storage-class".into(), "STANDARD_IA".into());
    });
    let p = Pipeline::new(config(
        &emu,
        &[
            ("TRIAGE_LABEL_SCENES", "camera,web"),
            ("TRIAGE_QUEUE", "cmq://image-results?region=ap-guangzhou"),
        ],
    ));
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.verdict.as_deref(), Some("pass"));
    assert_eq!(o.labels, vec!["猫", "Sofa"]);

    let obj = emu.object(BUCKET, KEY).unwrap();
    assert_eq!(obj.meta["triage-verdict"], "pass");
    assert_eq!(obj.meta["triage-labels"], "%E7%8C%AB,Sofa");
    assert!(obj.meta["triage-marker"].starts_with(&obj.etag));
    assert_eq!(
        obj.content_type, "image/png",
        "the metadata copy re-sent Content-Type"
    );
    assert_eq!(
        obj.meta["author"], "张三",
        "existing user metadata kept, UTF-8 intact"
    );
    assert_eq!(obj.headers["cache-control"], "max-age=600");
    assert_eq!(obj.headers["x-cos-storage-class"], "STANDARD_IA");
    assert!(
        obj.tags.contains(&("triage-verdict".into(), "pass".into())),
        "{:?}",
        obj.tags
    );
    assert_eq!(obj.body.len(), 200_000, "content untouched");

    let s = sidecar(&emu, KEY);
    assert_eq!(s["labels"]["analyzer"], "cos-ci");
    assert_eq!(s["moderation"]["analyzer"], "ims");
    assert_eq!(
        s["labels"]["output"]["raw"]["scenes"]["web"][0]["name"],
        "猫"
    );
    assert_eq!(s["moderation"]["output"]["suggestion"], "pass");
    assert_eq!(s["object"]["region"], "ap-guangzhou");

    // One queue message, through TDMQ SendCmqMsg.
    let msgs = emu.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].0, "image-results");
    let m: serde_json::Value = serde_json::from_str(&msgs[0].1).unwrap();
    assert_eq!(
        (m["key"].as_str(), m["verdict"].as_str()),
        (Some(KEY), Some("pass"))
    );
    assert_eq!(m["result_key"], format!("triage-results/{KEY}.json"));

    // The detect-label call named both scenes; IMS got a presigned URL and a DataId it accepts.
    let log = emu.log();
    let label_call = log.iter().find(|l| l.op == "ci:detect-label").unwrap();
    assert_eq!(
        label_call.query,
        "ci-process=detect-label&scenes=camera%2Cweb"
    );
    assert_eq!(label_call.host, emulator::cos_host(BUCKET));
    assert_eq!(emu.count("ims"), 1);
    assert!(
        log.iter().all(|l| (200..400).contains(&l.status)
            // The content dedupe's lookup of a record not yet written.
            || (l.status == 404 && l.path.contains("/_by-content/"))),
        "every request verified: {log:?}"
    );

    // The metadata write fired cos:ObjectCreated:Copy; that event, carrying the new metadata,
    // is skipped.
    let copies: Vec<_> = emu
        .events()
        .into_iter()
        .filter(|(e, _, k)| e == "cos:ObjectCreated:Copy" && k == KEY)
        .collect();
    assert_eq!(copies.len(), 1);
    let o = run(&p, KEY, "cos:ObjectCreated:Copy", &obj.meta).await;
    assert_eq!(o.code.as_deref(), Some("write_back_copy"), "{o:?}");
    assert_eq!(emu.count("ims"), 1, "no second moderation");
    assert_eq!(emu.messages().len(), 1, "no second message");
}

#[tokio::test]
async fn block_verdict_makes_the_object_private_once() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 5_000).await;
    emu.moderate_as(KEY, "Block", "Porn", 95);
    let p = Pipeline::new(config(&emu, &[("TRIAGE_BLOCK_ACTION", "private")]));
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.verdict.as_deref(), Some("block"), "{o:?}");
    // The ACL was set before the metadata copy, and a copy resets the ACL unless it names one:
    // the copy reads the ACL (GET ?acl) and repeats it, so the object is still private after
    // the whole write-back. One ACL write: the block action's.
    assert_eq!(emu.count_method("cos:acl", "PUT"), 1);
    let obj = emu.object(BUCKET, KEY).unwrap();
    assert_eq!(obj.acl.as_deref(), Some("private"));
    assert_eq!(obj.meta["triage-verdict"], "block");
    let s = sidecar(&emu, KEY);
    let actions: Vec<&str> = s["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"block:private"), "{actions:?}");
    // Re-delivery of the same upload: not analysed again; the block verdict (which the marker
    // vouches for) is enforced again, in case the object came back public.
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.code.as_deref(), Some("already_processed"));
    assert!(o.reason.unwrap().contains("enforced"));
    assert_eq!(emu.count_method("cos:acl", "PUT"), 2);
    assert_eq!(
        emu.object(BUCKET, KEY).unwrap().acl.as_deref(),
        Some("private")
    );
    assert_eq!(emu.count("ims"), 1);
}

#[tokio::test]
async fn block_verdict_moves_the_object_once() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 5_000).await;
    emu.moderate_as(KEY, "Block", "Porn", 99);
    let p = Pipeline::new(config(&emu, &[("TRIAGE_BLOCK_ACTION", "quarantine")]));
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.verdict.as_deref(), Some("block"), "{o:?}");
    assert!(emu.object(BUCKET, KEY).is_none(), "moved away");
    let moved = emu
        .object(BUCKET, &format!("triage-quarantine/{KEY}"))
        .expect("quarantined");
    assert_eq!(
        moved.meta["triage-verdict"], "block",
        "the marker travelled"
    );
    // The copy into quarantine fires an event under the quarantine prefix: skipped.
    let o = run(
        &p,
        &format!("triage-quarantine/{KEY}"),
        "cos:ObjectCreated:Copy",
        &moved.meta,
    )
    .await;
    assert_eq!(o.code.as_deref(), Some("own_output"));
    // The original event again: the object is gone, nothing is moved twice.
    let copies = emu.count("cos:copy");
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.code.as_deref(), Some("object_gone"));
    assert_eq!(emu.count("cos:copy"), copies);
}

#[tokio::test]
async fn retryable_errors_are_retried_within_the_call() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 5_000).await;
    emu.inject("ims", Fault::ApiError("RequestLimitExceeded"), 1);
    emu.inject(
        "ims",
        Fault::Reply(502, "text/html", "<html>bad gateway</html>".into()),
        1,
    );
    emu.inject(
        "cos:tagging",
        Fault::Reply(429, "text/plain", "Too Many Requests".into()),
        1,
    );
    emu.inject(
        "cos:HEAD",
        Fault::Reply(
            503,
            "application/xml",
            "<Error><Code>SlowDown</Code><Message>m</Message></Error>".into(),
        ),
        1,
    );
    emu.inject("ci:detect-label", Fault::Delay(Duration::from_secs(4)), 1);
    emu.inject(
        "cos:copy",
        Fault::Reply(
            200,
            "application/xml",
            "<Error><Code>InternalError</Code><Message>copy failed</Message></Error>".into(),
        ),
        1,
    );
    let p = Pipeline::new(config(
        &emu,
        &[
            ("TRIAGE_CI_TIMEOUT", "1.5"),
            ("TRIAGE_IMS_MAX_ATTEMPTS", "4"),
        ],
    ));
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(emu.count("ims"), 3);
    assert_eq!(
        emu.count("ci:detect-label"),
        2,
        "timed out once, then answered"
    );
    assert_eq!(
        emu.count("cos:copy"),
        2,
        "a 200 with <Error> is an error, retried"
    );
    assert_eq!(
        emu.object(BUCKET, KEY).unwrap().meta["triage-verdict"],
        "pass"
    );
}

#[tokio::test]
async fn exhausted_retries_write_nothing_and_ask_the_platform_to_retry() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 5_000).await;
    emu.inject(
        "ims",
        Fault::ApiError("ResourceUnavailable.ImageDownloadError"),
        2,
    );
    let p = Pipeline::new(config(&emu, &[("TRIAGE_IMS_MAX_ATTEMPTS", "2")]));
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!((o.status, o.retryable), ("failed", true), "{o:?}");
    assert!(o
        .reason
        .unwrap()
        .contains("ResourceUnavailable.ImageDownloadError"));
    assert!(emu.object(BUCKET, KEY).unwrap().meta.is_empty());
    assert!(emu
        .object(BUCKET, &format!("triage-results/{KEY}.json"))
        .is_none());
    // The platform's retry finds a healthy service.
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.status, "done");
}

#[tokio::test]
async fn permanent_errors_are_recorded_with_the_vendor_code() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 5_000).await;
    emu.inject(
        "ims",
        Fault::ApiError("InvalidParameterValue.InvalidImageContent"),
        1,
    );
    emu.inject(
        "ci:detect-label",
        Fault::Reply(
            400,
            "application/xml",
            "<Error><Code>InvalidImageFormat</Code><Message>bad</Message></Error>".into(),
        ),
        1,
    );
    let p = Pipeline::new(config(&emu, &[]));
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.verdict.as_deref(), Some("review"), "on_error default");
    assert_eq!(emu.count("ims"), 1, "not retried");
    assert_eq!(emu.count("ci:detect-label"), 1);
    let s = sidecar(&emu, KEY);
    assert_eq!(s["moderation"]["status"], "failed");
    assert_eq!(
        s["moderation"]["code"], "InvalidParameterValue.InvalidImageContent",
        "{s}"
    );
    assert_eq!(s["labels"]["code"], "InvalidImageFormat");
    assert_eq!(s["moderation"]["retryable"], false);
}

#[tokio::test]
async fn wrong_credentials_are_refused_by_the_emulator() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 5_000).await;
    let mut vars = emu.env();
    vars.retain(|(k, _)| k != "TENCENTCLOUD_SESSIONTOKEN");
    let p = Pipeline::new(Config::from_vars(vars).unwrap());
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.status, "failed");
    assert!(
        o.reason.as_deref().unwrap_or_default().contains("HTTP 403"),
        "HEAD answers carry no body, so the status is all a client sees: {o:?}"
    );
    assert_eq!(emu.log()[0].status, 403);
    assert!(!o.retryable);
}

#[tokio::test]
async fn alternatives_tiia_labels_and_ci_moderation() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 5_000).await;
    emu.moderate_as(KEY, "Review", "Porn", 70);
    let p = Pipeline::new(config(
        &emu,
        &[
            ("TRIAGE_LABELER", "tiia"),
            ("TRIAGE_MODERATOR", "cos-ci"),
            ("TRIAGE_MODERATION_BIZ_TYPE", "test_1001"),
        ],
    ));
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.verdict.as_deref(), Some("review"));
    assert_eq!(o.labels, vec!["猫"]);
    assert_eq!(emu.count("tiia"), 1);
    let ci = emu
        .log()
        .into_iter()
        .find(|l| l.op == "ci:sensitive-content-recognition")
        .unwrap();
    assert!(ci.query.contains("biz-type=test_1001"), "{}", ci.query);
}

/// CI answers 200 with `Result` 0, but its `AdsInfo` scene carries a non-zero `Code` (the sync
/// API doc: "`0` indicates a success, while other numbers correspond to different errors";
/// -65007 from CI's content moderation error table): moderation failed, not passed. The stage is
/// recorded as failed with that code and the verdict is `TRIAGE_ON_ERROR`'s.
#[tokio::test]
async fn a_failed_ci_moderation_scene_is_a_failed_stage_not_a_pass() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 5_000).await;
    emu.inject(
        "ci:sensitive-content-recognition",
        Fault::Reply(
            200,
            "application/xml",
            "<RecognitionResult><JobId>j</JobId><CompressionResult>0</CompressionResult><Result>0</Result><Label>Normal</Label><SubLabel></SubLabel><Score>0</Score><PornInfo><Code>0</Code><Msg>OK</Msg><HitFlag>0</HitFlag><Label></Label><SubLabel></SubLabel><Score>2</Score></PornInfo><AdsInfo><Code>-65007</Code><Msg>File content error. Decoding failed</Msg><HitFlag>0</HitFlag><Label></Label><SubLabel></SubLabel><Score>0</Score></AdsInfo></RecognitionResult>".into(),
        ),
        1,
    );
    let p = Pipeline::new(config(&emu, &[("TRIAGE_MODERATOR", "cos-ci")]));
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.verdict.as_deref(), Some("review"), "on_error default");
    assert_eq!(
        emu.count("ci:sensitive-content-recognition"),
        1,
        "not retried"
    );
    let s = sidecar(&emu, KEY);
    assert_eq!(s["moderation"]["analyzer"], "cos-ci", "{s}");
    assert_eq!(s["moderation"]["status"], "failed", "{s}");
    assert_eq!(s["moderation"]["code"], "-65007", "{s}");
    assert_eq!(s["moderation"]["retryable"], false, "{s}");
    assert!(
        s["moderation"]["reason"]
            .as_str()
            .is_some_and(|m| m.contains("AdsInfo") && m.contains("Decoding failed")),
        "{s}"
    );
    assert_eq!(s["verdict"]["decision"], "review", "{s}");
    assert_eq!(s["verdict"]["on_error_applied"], true, "{s}");
    assert_eq!(
        emu.object(BUCKET, KEY).unwrap().meta["triage-verdict"],
        "review"
    );
}

/// One COS event through a `CountingStore` around the COS store: the outcome, the bytes the
/// function read from the bucket, and the sidecar.
async fn run_counted(emu: &Emulator, key: &str, size: usize) -> (Outcome, u64, serde_json::Value) {
    upload(emu, key, size).await;
    // Content dedupe (on by default) reads each new upload once to hash it; see
    // `dedupe_reads_each_new_upload_once` for that path.
    let cfg = config(emu, &[("TRIAGE_DEDUPE", "off")]);
    let store = Arc::new(CountingStore::new(
        image_triage::store::cos::builder::build(&cfg).unwrap(),
    ));
    let counting: Arc<dyn ObjectStore> = store.clone();
    let p = Pipeline::with_store(cfg, counting);
    let o = run(&p, key, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    (o, store.bytes_read(), sidecar(emu, key))
}

/// `detect-label` calls CI answered for `key` on the bucket host (CI reads the object in place).
fn ci_labels_served(emu: &Emulator, key: &str) -> usize {
    let path = format!("/{key}");
    emu.log()
        .iter()
        .filter(|l| {
            l.op == "ci:detect-label"
                && percent_encoding::percent_decode_str(&l.path).decode_utf8_lossy() == path
                && l.status == 200
        })
        .count()
}

/// The README's claim for the default COS analyzers: IMS downloads the object through a
/// presigned URL and CI detect-label reads it in place on the bucket host, so the function reads
/// only preflight's first 64 KiB from the bucket, whatever the object's size. Sizes the
/// analyzers accept, so the URL path really runs: 3 000 000 B is under CI's 3 MiB; 20 000 000 B
/// is over it (labels skipped) but under IMS's 30 MB, which still pulls all of it by URL.
#[tokio::test]
async fn analyzers_pull_by_url_while_the_store_reads_only_64_kib() {
    let emu = Emulator::start().await;
    for (size, ci_accepts) in [(10_000usize, true), (3_000_000, true), (20_000_000, false)] {
        let key = format!("uploads/猫 big-{size}.png");
        let ims_before = emu.url_bytes_served("ims");
        let (o, read, s) = run_counted(&emu, &key, size).await;
        assert_eq!(o.status, "done", "{o:?}");
        assert_eq!(o.verdict.as_deref(), Some("pass"), "{o:?}");

        // Moderation ran, and IMS got the object by URL: every byte of it.
        assert_eq!(s["moderation"]["analyzer"], "ims", "{s}");
        assert_eq!(s["moderation"]["status"], "done", "{s}");
        let pulled = emu.url_bytes_served("ims") - ims_before;
        assert_eq!(pulled, size as u64, "IMS pulled the object by URL");

        if ci_accepts {
            assert_eq!(s["labels"]["analyzer"], "cos-ci", "{s}");
            assert_eq!(s["labels"]["status"], "done", "{s}");
            assert_eq!(ci_labels_served(&emu, &key), 1, "CI labelled it in place");
        } else {
            assert_eq!(s["labels"]["status"], "skipped", "{s}");
            assert_eq!(s["labels"]["code"], "too_large", "{s}");
            assert_eq!(ci_labels_served(&emu, &key), 0);
        }

        // The function itself read the preflight range and nothing more.
        println!("object of {size} B: IMS pulled {pulled} B by URL, {read} B read from the bucket");
        assert_eq!(read, size.min(64 * 1024) as u64, "{size}: read {read}");
    }
    assert_eq!(emu.url_bytes_served("tiia"), 0, "TIIA is not configured");
}

/// 48 MiB is over every Tencent analyzer's limit: both stages are skipped by preflight, nothing
/// is pulled by URL, and the bucket still serves only the 64 KiB preflight range.
#[tokio::test]
async fn an_object_over_every_vendor_limit_is_not_pulled_at_all() {
    let emu = Emulator::start().await;
    let key = "uploads/huge.png";
    let (o, read, s) = run_counted(&emu, key, 48 << 20).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(s["labels"]["status"], "skipped", "{s}");
    assert_eq!(s["moderation"]["status"], "skipped", "{s}");
    assert_eq!(emu.url_bytes_served("ims"), 0);
    assert_eq!(emu.count("ims"), 0);
    assert_eq!(emu.count("ci:detect-label"), 0);
    assert_eq!(read, 64 * 1024);
}

#[tokio::test]
async fn store_operations_round_trip_through_the_emulator() {
    let emu = Emulator::start().await;
    let cfg = config(&emu, &[]);
    let store = image_triage::store::cos::builder::build(&cfg).unwrap();
    for k in ["uploads/a.png", "uploads/b c.png", "other/x.png"] {
        upload(&emu, k, 1_000).await;
    }
    let page = store.list(BUCKET, "uploads/", None, 10).await.unwrap();
    let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, vec!["uploads/a.png", "uploads/b c.png"]);
    assert_eq!(page.objects[0].size, 1_000);
    let after = store
        .list(BUCKET, "uploads/", Some("uploads/a.png"), 10)
        .await
        .unwrap();
    assert_eq!(after.objects.len(), 1);

    let head = store
        .get_range(BUCKET, "uploads/a.png", 0..16)
        .await
        .unwrap();
    assert_eq!(&head[1..4], b"PNG");
    assert!(store
        .get_range(BUCKET, "uploads/a.png", 5_000..6_000)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.get(BUCKET, "uploads/a.png").await.unwrap().len(),
        1_000
    );

    store
        .put_tags(BUCKET, "uploads/a.png", &[("k".into(), "v 1".into())])
        .await
        .unwrap();
    assert_eq!(
        store.get_tags(BUCKET, "uploads/a.png").await.unwrap(),
        vec![("k".to_string(), "v 1".to_string())]
    );
    store
        .rename(BUCKET, "uploads/b c.png", "moved/b c.png", None)
        .await
        .unwrap();
    assert!(emu.object(BUCKET, "uploads/b c.png").is_none());
    assert!(emu.object(BUCKET, "moved/b c.png").is_some());
    store.delete(BUCKET, "moved/b c.png").await.unwrap();
    assert!(matches!(
        store.head(BUCKET, "moved/b c.png").await,
        Err(image_triage::store::StoreError::NotFound { .. })
    ));

    let url = store
        .presign(BUCKET, "uploads/a.png", Duration::from_secs(60))
        .await
        .unwrap();
    // The bucket's production host, not the endpoint the function talks to: IMS and TIIA fetch
    // COS links only there (seed 001).
    assert!(
        url.starts_with(&format!(
            "https://{}/uploads/a.png?q-sign-algorithm=sha1&",
            emulator::cos_host(BUCKET)
        )),
        "{url}"
    );
    assert!(
        url.contains("&x-cos-security-token="),
        "temporary keys need the token"
    );
}

#[tokio::test]
async fn queue_errors_keep_the_tdmq_code() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 5_000).await;
    emu.inject(
        "tdmq",
        Fault::ApiError("FailedOperation.CmqBackendError"),
        1,
    );
    let p = Pipeline::new(config(&emu, &[("TRIAGE_QUEUE", "cmq://image-results")]));
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.status, "done", "a backend hiccup is retried: {o:?}");
    assert_eq!(emu.count("tdmq"), 2);

    upload(&emu, "uploads/second.png", 5_000).await;
    emu.inject("tdmq", Fault::ApiError("ResourceNotFound"), 1);
    let o = run(
        &p,
        "uploads/second.png",
        "cos:ObjectCreated:Put",
        &BTreeMap::new(),
    )
    .await;
    assert_eq!((o.status, o.retryable), ("failed", false), "{o:?}");
    assert!(o.reason.as_deref().unwrap().contains("ResourceNotFound"));
    assert!(
        emu.object(BUCKET, "uploads/second.png")
            .unwrap()
            .meta
            .is_empty(),
        "no marker after a failed queue write: the retry does the whole job"
    );
}

#[tokio::test]
async fn the_bucket_region_comes_from_the_event_without_tencentcloud_region() {
    let emu = Emulator::start().await;
    upload(&emu, KEY, 50_000).await;
    let vars: Vec<(String, String)> = emu
        .env()
        .into_iter()
        .filter(|(k, _)| k != "TENCENTCLOUD_REGION")
        .chain([("TRIAGE_MODERATOR".to_string(), "none".to_string())])
        .collect();
    let p = Pipeline::new(Config::from_vars(vars).expect("valid config"));
    // COS store and CI both address the bucket host, built from the event's cosRegion.
    let o = run(&p, KEY, "cos:ObjectCreated:Put", &BTreeMap::new()).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert!(emu
        .object(BUCKET, KEY)
        .unwrap()
        .meta
        .contains_key("triage-marker"));
}

/// A PNG whose bytes carry the emulators' text marker: an image that "contains" `text`.
fn png_with_text(text: &str) -> Vec<u8> {
    let mut b = common::png_header(800, 600, 20_000);
    let marked = format!("TEXT:{text}\0");
    b[1000..1000 + marked.len()].copy_from_slice(marked.as_bytes());
    b
}

/// The input a moderator gets for `key` in the emulator: facts from the bytes, the presigned
/// production URL IMS downloads from (CI reads the object on the bucket host).
async fn analyzer_input(
    cfg: &Config,
    key: &str,
    body: &[u8],
) -> image_triage::analyzers::AnalyzerInput {
    let store = image_triage::store::cos::builder::build(cfg).unwrap();
    let url = store
        .presign(BUCKET, key, Duration::from_secs(300))
        .await
        .unwrap();
    image_triage::analyzers::AnalyzerInput {
        object: image_triage::ObjectRef::new(Provider::Cos, BUCKET, key),
        facts: image_triage::preflight::inspect_header(body, body.len() as u64).unwrap(),
        bytes: None,
        url: Some(url),
        store: None,
        shared: Default::default(),
    }
}

/// IMS reads the text in the image: `OcrResults` (with the ad keyword `加微信`) comes back as
/// `ModerationOutput.text`, and still scores its label; an image without text has no section.
#[tokio::test]
async fn ims_moderation_reads_the_text_in_the_image() {
    use image_triage::analyzers::Suggestion;
    use image_triage::text::HitSource;
    let emu = Emulator::start().await;
    let cfg = config(&emu, &[]);
    let ims = image_triage::analyzers::tencent::ims::moderator(&cfg).unwrap();

    let body = png_with_text("加微信 abc123");
    emu.put_object(BUCKET, KEY, body.clone(), "image/png");
    let m = ims
        .moderate(&analyzer_input(&cfg, KEY, &body).await)
        .await
        .unwrap();
    assert_eq!((m.suggestion, m.label.as_str()), (Suggestion::Block, "Ad"));
    assert!(m.categories.iter().any(|c| c.category == "ad"), "{m:?}");
    let t = m.text.expect("IMS read text");
    assert_eq!(t.reader, "ims");
    assert_eq!(t.lines.len(), 1, "{t:?}");
    assert_eq!(t.lines[0].text, "加微信 abc123");
    assert_eq!(t.lines[0].bbox, Some([10, 20, 160, 32]));
    assert_eq!(t.lines[0].confidence, Some(99.0));
    assert_eq!(t.hits.len(), 1, "{t:?}");
    let h = &t.hits[0];
    assert_eq!(
        (
            h.category.as_str(),
            h.keyword.as_str(),
            h.line.as_str(),
            h.source,
            h.score
        ),
        (
            "ad",
            "加微信",
            "加微信 abc123",
            HitSource::Vendor,
            Some(95.0)
        )
    );

    // Text without a keyword: read, not a hit, and the image still passes.
    let plain = png_with_text("欢迎光临");
    emu.put_object(BUCKET, "plain.png", plain.clone(), "image/png");
    let m = ims
        .moderate(&analyzer_input(&cfg, "plain.png", &plain).await)
        .await
        .unwrap();
    assert_eq!(m.suggestion, Suggestion::Pass);
    let t = m.text.expect("IMS read text");
    assert_eq!(t.lines[0].text, "欢迎光临");
    assert!(t.hits.is_empty());

    // No text: `OcrResults: []`, which cannot tell that OCR ran.
    let none = common::png_header(800, 600, 20_000);
    emu.put_object(BUCKET, "none.png", none.clone(), "image/png");
    let m = ims
        .moderate(&analyzer_input(&cfg, "none.png", &none).await)
        .await
        .unwrap();
    assert_eq!(m.text, None);
}

/// CI reads the text in the image: the root `Text` and the `AdsInfo` scene's `OcrResults` come
/// back as one line with its position and a vendor hit under `ad`.
#[tokio::test]
async fn ci_moderation_reads_the_text_in_the_image() {
    use image_triage::analyzers::Suggestion;
    let emu = Emulator::start().await;
    let cfg = config(&emu, &[("TRIAGE_MODERATOR", "cos-ci")]);
    let ci = image_triage::analyzers::tencent::ci::moderator(&cfg).unwrap();

    let body = png_with_text("加微信 abc123 & 裸聊");
    emu.put_object(BUCKET, KEY, body.clone(), "image/png");
    let m = ci
        .moderate(&analyzer_input(&cfg, KEY, &body).await)
        .await
        .unwrap();
    assert_eq!(m.suggestion, Suggestion::Block);
    let t = m.text.expect("CI read text");
    assert_eq!(t.reader, "cos-ci");
    let lines: Vec<_> = t.lines.iter().map(|l| (l.text.as_str(), l.bbox)).collect();
    assert_eq!(
        lines,
        vec![("加微信 abc123 & 裸聊", Some([10, 20, 240, 32]))],
        "both scenes and the root Text read one line"
    );
    let hits: Vec<_> = t
        .hits
        .iter()
        .map(|h| (h.category.as_str(), h.keyword.as_str(), h.score))
        .collect();
    assert_eq!(
        hits,
        vec![("porn", "裸聊", Some(95.0)), ("ad", "加微信", Some(95.0))]
    );

    // No text: nothing in the answer says the policy reads text.
    let none = common::png_header(800, 600, 20_000);
    emu.put_object(BUCKET, "none.png", none.clone(), "image/png");
    let m = ci
        .moderate(&analyzer_input(&cfg, "none.png", &none).await)
        .await
        .unwrap();
    assert_eq!(m.suggestion, Suggestion::Pass);
    assert_eq!(m.text, None);
}

/// With content dedupe on (the default), the function reads a new upload once, whole, to hash
/// it (the vendors still pull it by URL); a second key with the same bytes is not analysed.
#[tokio::test]
async fn dedupe_reads_each_new_upload_once() {
    let emu = Emulator::start().await;
    let size = 3_000_000;
    upload(&emu, "uploads/one.png", size).await;
    let cfg = config(&emu, &[]);
    let store = Arc::new(CountingStore::new(
        image_triage::store::cos::builder::build(&cfg).unwrap(),
    ));
    let counting: Arc<dyn ObjectStore> = store.clone();
    let p = Pipeline::with_store(cfg, counting);
    let o = run(
        &p,
        "uploads/one.png",
        "cos:ObjectCreated:Put",
        &BTreeMap::new(),
    )
    .await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(
        store.bytes_read(),
        size as u64,
        "read once, whole, to hash it"
    );
    assert_eq!(
        emu.url_bytes_served("ims"),
        size as u64,
        "IMS still pulled it by URL"
    );

    upload(&emu, "uploads/two.png", size).await;
    let o = run(
        &p,
        "uploads/two.png",
        "cos:ObjectCreated:Put",
        &BTreeMap::new(),
    )
    .await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(emu.count("ims"), 1, "the copy was not analysed");
    // The copy's bytes, and the content record (a few KiB).
    let read = store.bytes_read() - size as u64;
    assert!(
        (size as u64..size as u64 + 16 * 1024).contains(&read),
        "read {read}"
    );
    assert!(sidecar(&emu, "uploads/two.png")["reused"]["record"]
        .as_str()
        .unwrap()
        .starts_with("triage-results/_by-content/"));
}
