//! Text in images and the user's own libraries, end to end on the embedded default: the real
//! OCR models read rendered text, `TRIAGE_KEYWORDS` turns a hit into a verdict,
//! `TRIAGE_IMAGE_LISTS` recognises re-encoded samples, and the results land in the bucket.
#![cfg(feature = "local")]

mod common;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use common::*;
use image_triage::config::Config;
use image_triage::inspect;
use image_triage::pipeline::Pipeline;
use image_triage::store::ObjectStore;

const CJK_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

/// Render `lines` to PNG bytes with the test renderer and the model cache's Python.
fn render(lines: &[&str], size: u32) -> Vec<u8> {
    let python = cache_dir().join("venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/fetch-models.sh (it makes the venv with Pillow)",
        python.display()
    );
    assert!(
        Path::new(CJK_FONT).is_file(),
        "{CJK_FONT} is missing: apt-get install fonts-wqy-microhei (scripts/fetch-models.sh does as root)"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("text.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/text/render.py");
    let status = std::process::Command::new(python)
        .arg(&script)
        .arg(&out)
        .args([
            "--font",
            CJK_FONT,
            "--size",
            &size.to_string(),
            "--width",
            "1000",
        ])
        .args(lines)
        .status()
        .unwrap();
    assert!(status.success(), "render.py failed for {lines:?}");
    std::fs::read(out).unwrap()
}

async fn upload(store: &dyn ObjectStore, key: &str, body: Vec<u8>) {
    store
        .put(BUCKET, key, Bytes::from(body), "image/png")
        .await
        .unwrap();
}

async fn process(pipeline: &Pipeline, key: &str) -> image_triage::pipeline::Outcome {
    let mut out = pipeline
        .handle_event(&event_for(BUCKET, key, "ObjectCreated:Put"), None)
        .await;
    assert_eq!(out.len(), 1);
    out.remove(0)
}

fn keywords(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("keywords.txt");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_ad_with_a_listed_keyword_does_not_pass_and_names_the_keyword() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let list = keywords(
        dir.path(),
        "# ads\n[ad]\n加微信\n\n[contact:60]\nwhatsapp\n",
    );
    let pipeline = Pipeline::new(config(
        dir.path(),
        &[
            ("TRIAGE_KEYWORDS", list.to_str().unwrap()),
            ("TRIAGE_THRESHOLDS", "ad:50/90"),
        ],
    ));
    upload(&*store, "u/ad.png", render(&["加微信 abc123 领取福利"], 56)).await;
    let o = process(&pipeline, "u/ad.png").await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(o.verdict.as_deref(), Some("block"), "{o:?}");

    let sc = sidecar(dir.path(), "u/ad.png");
    let text = &sc["text"];
    assert_eq!(text["reader"], "local", "{text}");
    assert_eq!(text["lines"][0]["text"], "加微信 abc123 领取福利", "{text}");
    assert!(text["lines"][0]["confidence"].as_f64().unwrap() > 80.0);
    let bbox = text["lines"][0]["bbox"].as_array().unwrap();
    assert!(bbox[2].as_u64().unwrap() > 300, "a wide line: {bbox:?}");
    let hit = &text["hits"][0];
    assert_eq!(hit["category"], "ad");
    assert_eq!(hit["keyword"], "加微信");
    assert_eq!(hit["line"], "加微信 abc123 领取福利");
    assert_eq!(hit["source"], "keywords");
    let reason = sc["verdict"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("ad score 100.0") && reason.contains("加微信"),
        "{reason}"
    );

    // Where people look: metadata, tags and `inspect`, read back from the bucket.
    let report = inspect::inspect(&*store, BUCKET, "u/ad.png", "triage-results/")
        .await
        .unwrap();
    assert_eq!(report.metadata["triage-verdict"], "block");
    assert_eq!(report.metadata["triage-text"], "ad");
    assert!(
        report.tags.contains(&("triage-text".into(), "ad".into())),
        "{:?}",
        report.tags
    );
    let shown = inspect::render(&report);
    assert!(
        shown.contains("加微信 abc123 领取福利")
            && shown.contains("text hit    ad 100: \"加微信\""),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keywords_hidden_with_spaces_or_full_width_letters_are_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let list = keywords(dir.path(), "[ad:60]\n加微信\nwechat\n");
    let pipeline = Pipeline::new(config(
        dir.path(),
        &[("TRIAGE_KEYWORDS", list.to_str().unwrap())],
    ));
    upload(
        &*store,
        "u/hidden.png",
        render(&["加 - 微 - 信 领取", "ＷｅＣｈａｔ：ｋｆ８８"], 56),
    )
    .await;
    let o = process(&pipeline, "u/hidden.png").await;
    // Score 60: review under the default 50/80.
    assert_eq!(o.verdict.as_deref(), Some("review"), "{o:?}");
    let sc = sidecar(dir.path(), "u/hidden.png");
    let found: Vec<&str> = sc["text"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["keyword"].as_str().unwrap())
        .collect();
    assert!(
        found.contains(&"加微信") && found.contains(&"wechat"),
        "{}",
        sc["text"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_benign_text_image_passes_with_its_text_and_a_photo_has_an_empty_text_section() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let list = keywords(dir.path(), "[ad]\n加微信\n");
    let pipeline = Pipeline::new(config(
        dir.path(),
        &[("TRIAGE_KEYWORDS", list.to_str().unwrap())],
    ));
    upload(
        &*store,
        "u/menu.png",
        render(&["今日菜单", "Coffee 12 Tea 10"], 48),
    )
    .await;
    let o = process(&pipeline, "u/menu.png").await;
    assert_eq!(o.verdict.as_deref(), Some("pass"), "{o:?}");
    let sc = sidecar(dir.path(), "u/menu.png");
    let lines: Vec<&str> = sc["text"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["今日菜单", "Coffee 12 Tea 10"], "{}", sc["text"]);
    assert_eq!(sc["text"]["hits"], serde_json::json!([]));
    let report = inspect::inspect(&*store, BUCKET, "u/menu.png", "triage-results/")
        .await
        .unwrap();
    assert!(!report.metadata.contains_key("triage-text"));

    upload(&*store, "u/cat.png", photo("chelsea.png")).await;
    assert_eq!(
        process(&pipeline, "u/cat.png").await.verdict.as_deref(),
        Some("pass")
    );
    let sc = sidecar(dir.path(), "u/cat.png");
    assert_eq!(sc["text"]["lines"], serde_json::json!([]), "{}", sc["text"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocr_off_reads_no_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let list = keywords(dir.path(), "[ad]\n加微信\n");
    let pipeline = Pipeline::new(config(
        dir.path(),
        &[
            ("TRIAGE_KEYWORDS", list.to_str().unwrap()),
            ("TRIAGE_OCR", "off"),
        ],
    ));
    upload(&*store, "u/ad.png", render(&["加微信 abc123"], 56)).await;
    let o = process(&pipeline, "u/ad.png").await;
    assert_eq!(o.verdict.as_deref(), Some("pass"), "{o:?}");
    assert!(sidecar(dir.path(), "u/ad.png").get("text").is_none());
}

/// A lists directory: `block/ad/coffee.png`, `allow/chelsea.png`.
fn lists_dir(root: &Path) -> PathBuf {
    let lists = root.join("lists");
    std::fs::create_dir_all(lists.join("block/ad")).unwrap();
    std::fs::create_dir_all(lists.join("allow")).unwrap();
    std::fs::write(lists.join("block/ad/coffee.png"), photo("coffee.png")).unwrap();
    std::fs::write(lists.join("allow/chelsea.png"), photo("chelsea.png")).unwrap();
    lists
}

/// `png` at half size, as a JPEG of quality 70.
fn half_size_jpeg(png: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(png).unwrap();
    let half = img.resize(
        img.width() / 2,
        img.height() / 2,
        image::imageops::FilterType::Triangle,
    );
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70)
        .encode_image(&half.to_rgb8())
        .unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_encoded_block_sample_does_not_pass_and_an_allow_sample_passes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let lists = lists_dir(dir.path());
    let pipeline = Pipeline::new(config(
        dir.path(),
        &[("TRIAGE_IMAGE_LISTS", lists.to_str().unwrap())],
    ));
    upload(&*store, "u/copy.jpg", half_size_jpeg(&photo("coffee.png"))).await;
    let o = process(&pipeline, "u/copy.jpg").await;
    assert_eq!(o.verdict.as_deref(), Some("block"), "{o:?}");
    let sc = sidecar(dir.path(), "u/copy.jpg");
    assert_eq!(sc["image_list"]["list"], "block");
    assert_eq!(sc["image_list"]["category"], "ad");
    assert_eq!(sc["image_list"]["sample"], "block/ad/coffee.png");
    let reason = sc["verdict"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("block-list sample block/ad/coffee.png"),
        "{reason}"
    );
    let report = inspect::inspect(&*store, BUCKET, "u/copy.jpg", "triage-results/")
        .await
        .unwrap();
    assert_eq!(report.metadata["triage-list"], "block:ad");

    // The allow sample passes even where moderation would not have: block everything else.
    let strict = Pipeline::new(config(
        dir.path(),
        &[
            ("TRIAGE_IMAGE_LISTS", lists.to_str().unwrap()),
            ("TRIAGE_BLOCK_THRESHOLD", "0"),
            ("TRIAGE_REVIEW_THRESHOLD", "0"),
        ],
    ));
    upload(&*store, "u/cat.jpg", half_size_jpeg(&photo("chelsea.png"))).await;
    let o = process(&strict, "u/cat.jpg").await;
    assert_eq!(o.verdict.as_deref(), Some("pass"), "{o:?}");
    let sc = sidecar(dir.path(), "u/cat.jpg");
    assert_eq!(sc["image_list"]["list"], "allow");
    assert_eq!(sc["image_list"]["sample"], "allow/chelsea.png");
    assert!(sc["verdict"]["reason"]
        .as_str()
        .unwrap()
        .contains("allow-list sample allow/chelsea.png"));
    // An unrelated photo matches nothing.
    upload(&*store, "u/rocket.jpg", photo("rocket.jpg")).await;
    process(&pipeline, "u/rocket.jpg").await;
    assert!(sidecar(dir.path(), "u/rocket.jpg")
        .get("image_list")
        .is_none());
}

#[test]
fn a_bad_keyword_file_stops_start_up_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let list = keywords(dir.path(), "# fine\n[ad]\n加微信\n[bad category!]\nx\n");
    let vars = [
        ("TRIAGE_KEYWORDS".to_string(), list.display().to_string()),
        ("TRIAGE_STORE".into(), "local".into()),
        ("TRIAGE_LOCAL_ROOT".into(), dir.path().display().to_string()),
    ];
    let e = Config::from_vars(vars.clone()).unwrap_err();
    assert_eq!(e.var, "TRIAGE_KEYWORDS");
    assert!(e.to_string().contains("line 4"), "{e}");
    let missing = [(
        "TRIAGE_KEYWORDS".to_string(),
        "/nonexistent/k.txt".to_string(),
    )];
    assert_eq!(
        Config::from_vars(missing).unwrap_err().var,
        "TRIAGE_KEYWORDS"
    );
    let lists = [(
        "TRIAGE_IMAGE_LISTS".to_string(),
        "/nonexistent/lists".to_string(),
    )];
    assert_eq!(
        Config::from_vars(lists).unwrap_err().var,
        "TRIAGE_IMAGE_LISTS"
    );
}
