//! Issue 15, points 3 and 4: content dedupe (the same bytes under two keys are analysed once,
//! counted by the vendor emulator) and the daily cap (two processes against moto share one
//! counter in the bucket, kept with conditional writes).

mod common;
#[path = "tencent/emulator.rs"]
#[allow(unused_imports)]
mod emulator;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use common::moto::Moto;
use emulator::{cos_event, Emulator};
use image_triage::config::Config;
use image_triage::pipeline::{Outcome, Pipeline};
use image_triage::Provider;
use sha2::{Digest, Sha256};

const BUCKET: &str = "photos-1250000000";

fn config(emu: &Emulator, extra: &[(&str, &str)]) -> Config {
    let mut vars = emu.env();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).expect("valid config")
}

async fn triage(p: &Pipeline, key: &str) -> Outcome {
    let ev = cos_event(BUCKET, key, "cos:ObjectCreated:Put", &BTreeMap::new());
    let mut out = p
        .handle_event(&serde_json::to_vec(&ev).unwrap(), Some(Provider::Cos))
        .await;
    assert_eq!(out.len(), 1);
    out.remove(0)
}

fn sidecar(emu: &Emulator, key: &str) -> serde_json::Value {
    let o = emu
        .object(BUCKET, &format!("triage-results/{key}.json"))
        .unwrap_or_else(|| panic!("sidecar of {key}"));
    serde_json::from_slice(&o.body).unwrap()
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[tokio::test]
async fn the_same_bytes_under_two_keys_are_analysed_once() {
    let emu = Emulator::start().await;
    let bytes = common::png_header(800, 600, 40_000);
    emu.put_object(BUCKET, "a/first.png", bytes.clone(), "image/png");
    emu.put_object(BUCKET, "b/second copy.png", bytes.clone(), "image/png");
    emu.moderate_as("a/first.png", "Block", "Porn", 97);
    let p = Pipeline::new(config(&emu, &[("TRIAGE_LABEL_SCENES", "web")]));

    let first = triage(&p, "a/first.png").await;
    assert_eq!(
        (first.status, first.verdict.as_deref()),
        ("done", Some("block"))
    );
    let second = triage(&p, "b/second copy.png").await;
    assert_eq!(
        (second.status, second.verdict.as_deref()),
        ("done", Some("block")),
        "{second:?}"
    );
    assert_eq!(second.labels, first.labels);
    assert_eq!(emu.count("ims"), 1, "one moderation call for two keys");
    assert_eq!(emu.count("ci:detect-label"), 1, "one labeling call");

    let s1 = sidecar(&emu, "a/first.png");
    let s2 = sidecar(&emu, "b/second copy.png");
    assert!(s1.get("reused").is_none());
    assert_eq!(s2["object"]["key"], "b/second copy.png");
    assert!(
        !s2.to_string().contains("a/first.png"),
        "the first uploader's key is not disclosed: {s2}"
    );
    assert_eq!(s2["reused"]["content_sha256"], sha256(&bytes));
    assert_eq!(s2["moderation"], s1["moderation"]);
    assert_eq!(s2["verdict"], s1["verdict"]);
    let record = format!("triage-results/_by-content/{}", sha256(&bytes));
    assert_eq!(s2["reused"]["record"], record.as_str());
    assert!(emu.object(BUCKET, &record).is_some());
    // The second key got its own write-back: metadata and tags.
    let obj = emu.object(BUCKET, "b/second copy.png").unwrap();
    assert_eq!(obj.meta["triage-verdict"], "block");
    assert!(obj
        .tags
        .contains(&("triage-verdict".into(), "block".into())));
    assert_eq!(obj.body, bytes, "content untouched");

    // Different bytes are analysed; so are the same bytes under another configuration.
    let mut other = bytes.clone();
    other[30_000] ^= 0xff;
    emu.put_object(BUCKET, "c/other.png", other, "image/png");
    assert_eq!(triage(&p, "c/other.png").await.status, "done");
    assert_eq!(emu.count("ims"), 2);
    emu.put_object(BUCKET, "d/third.png", bytes.clone(), "image/png");
    let stricter = Pipeline::new(config(
        &emu,
        &[
            ("TRIAGE_LABEL_SCENES", "web"),
            ("TRIAGE_BLOCK_THRESHOLD", "99"),
        ],
    ));
    assert_eq!(triage(&stricter, "d/third.png").await.status, "done");
    assert_eq!(emu.count("ims"), 3, "another configuration analyses again");
    assert!(sidecar(&emu, "d/third.png").get("reused").is_none());
}

#[tokio::test]
async fn dedupe_off_analyses_every_key() {
    let emu = Emulator::start().await;
    let bytes = common::png_header(800, 600, 20_000);
    for k in ["x/1.png", "x/2.png"] {
        emu.put_object(BUCKET, k, bytes.clone(), "image/png");
    }
    let p = Pipeline::new(config(&emu, &[("TRIAGE_DEDUPE", "off")]));
    for k in ["x/1.png", "x/2.png"] {
        assert_eq!(triage(&p, k).await.status, "done");
    }
    assert_eq!(emu.count("ims"), 2);
    assert!(emu
        .object(
            BUCKET,
            &format!("triage-results/_by-content/{}", sha256(&bytes))
        )
        .is_none());
}

/// Someone who can write under the results prefix plants a record saying `pass` for bytes the
/// moderation blocks. With the marker secret it is not signed, so it is not reused.
#[tokio::test]
async fn a_planted_content_record_is_not_trusted_with_a_secret() {
    let emu = Emulator::start().await;
    let bytes = common::png_header(800, 600, 30_000);
    emu.put_object(BUCKET, "u/bad.png", bytes.clone(), "image/png");
    emu.moderate_as("u/bad.png", "Block", "Porn", 99);
    let secret = ("TRIAGE_MARKER_SECRET", "0123456789abcdef0123");
    let cfg = config(&emu, &[secret]);
    let hash = cfg.config_hash(Provider::Cos);
    let planted = serde_json::json!({
        "schema": "image-triage/by-content/v1",
        "content_sha256": sha256(&bytes),
        "config_hash": hash,
        "bucket": BUCKET, "key": "u/benign.png",
        "analysed_at": "2026-12-01T00:00:00Z",
        "signature": "00000000000000000000000000000000",
        "result": {
            "schema": "image-triage/v1",
            "object": {"provider": "cos", "bucket": BUCKET, "key": "u/benign.png"},
            "image": null,
            "labels": {"analyzer": "none", "status": "disabled", "retryable": false},
            "moderation": {"analyzer": "ims", "status": "done", "retryable": false},
            "verdict": {"decision": "pass", "reason": "planted", "on_error_applied": false},
            "actions": [], "timings_ms": {}, "config_hash": hash,
            "processed_at": "2026-12-01T00:00:00Z",
            "tool": {"name": "image-triage", "version": "0"}
        }
    });
    emu.put_object(
        BUCKET,
        &format!("triage-results/_by-content/{}", sha256(&bytes)),
        serde_json::to_vec(&planted).unwrap(),
        "application/json",
    );
    let p = Pipeline::new(cfg);
    let o = triage(&p, "u/bad.png").await;
    assert_eq!(
        (o.status, o.verdict.as_deref()),
        ("done", Some("block")),
        "{o:?}"
    );
    assert_eq!(emu.count("ims"), 1, "analysed, not reused");
    let s = sidecar(&emu, "u/bad.png");
    assert!(s.get("reused").is_none());
    assert!(
        s["notes"].to_string().contains("signature"),
        "the sidecar says why the record was not used: {}",
        s["notes"]
    );
    // The record is now the function's own, signed: a copy of the bytes reuses it.
    emu.put_object(BUCKET, "u/bad-again.png", bytes.clone(), "image/png");
    let again = triage(&p, "u/bad-again.png").await;
    assert_eq!(again.verdict.as_deref(), Some("block"));
    assert_eq!(emu.count("ims"), 1);
    assert_eq!(
        sidecar(&emu, "u/bad-again.png")["reused"]["content_sha256"],
        sha256(&bytes)
    );
}

/// `image-triage process -` fed one S3 event with these keys, moto's variables and `extra`.
fn process(moto: &Moto, keys: &[String], extra: &[(&str, String)]) -> std::process::Child {
    let records: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| image_triage::demo::s3_put_event("cap-bucket", k, 0, "")["Records"][0].clone())
        .collect();
    let event = serde_json::json!({ "Records": records });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    cmd.args(["process", "-", "--provider", "s3"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run image-triage process");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&serde_json::to_vec(&event).unwrap())
        .unwrap();
    drop(stdin);
    child
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_share_one_daily_cap() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let keys: Vec<String> = (0..10).map(|i| format!("up/photo {i}.png")).collect();
    // Ten different images (dedupe must not be what keeps the count down).
    moto.py(
        r#"
import io, struct, zlib
s3.create_bucket(Bucket="cap-bucket")
def png(w, h):
    raw = b"".join(b"\x00" + bytes(v for x in range(w) for v in ((x * 7 + y) % 256, (y * 3) % 256, (x ^ y) % 256)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
for i in range(10):
    s3.put_object(Bucket="cap-bucket", Key=f"up/photo {i}.png", Body=png(64 + i, 48), ContentType="image/png")
"#,
    );
    let extra = [
        ("TRIAGE_LABELER", "local".to_string()),
        ("TRIAGE_MODERATOR", "none".to_string()),
        ("TRIAGE_OCR", "off".to_string()),
        (
            "TRIAGE_MODEL_DIR",
            common::model_dir().display().to_string(),
        ),
        ("TRIAGE_DAILY_CAP", "3".to_string()),
        ("TRIAGE_SINKS", "metadata,sidecar".to_string()),
    ];
    let a = process(&moto, &keys[..5], &extra);
    let b = process(&moto, &keys[5..], &extra);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut outcomes: Vec<serde_json::Value> = vec![];
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            outcomes.push(serde_json::from_str(line).unwrap());
        }
    }
    assert_eq!(outcomes.len(), 10, "{outcomes:?}");
    let done = outcomes.iter().filter(|o| o["status"] == "done").count();
    let capped: Vec<&serde_json::Value> = outcomes
        .iter()
        .filter(|o| o["status"] == "skipped" && o["code"] == "daily_cap")
        .collect();
    assert_eq!((done, capped.len()), (3, 7), "{outcomes:#?}");
    assert!(capped.iter().all(|o| o["retryable"] == false));
    assert!(capped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("TRIAGE_DAILY_CAP=3"));

    // In the bucket: three results whose labeler ran, none for the capped, and the counter.
    let listing = moto.py(r#"
import json, datetime
out = {"sidecars": [], "marked": []}
for o in s3.list_objects_v2(Bucket="cap-bucket").get("Contents", []):
    k = o["Key"]
    if k.endswith(".json") and k.startswith("triage-results/up/"):
        s = json.loads(s3.get_object(Bucket="cap-bucket", Key=k)["Body"].read())
        out["sidecars"].append([k, s["labels"]["status"], s["labels"]["analyzer"]])
    if k.startswith("up/"):
        m = s3.head_object(Bucket="cap-bucket", Key=k)["Metadata"]
        if "triage-verdict" in m:
            out["marked"].append(k)
day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
c = s3.get_object(Bucket="cap-bucket", Key=f"triage-results/_daily-cap/{day}")
out["counter"] = json.loads(c["Body"].read())
out["counter_type"] = c["ContentType"]
print(json.dumps(out))
"#);
    let got: serde_json::Value = serde_json::from_str(listing.trim()).unwrap();
    let sidecars = got["sidecars"].as_array().unwrap();
    assert_eq!(sidecars.len(), 3, "{got}");
    assert!(
        sidecars.iter().all(|s| s[1] == "done" && s[2] == "local"),
        "every result is a real analysis: {got}"
    );
    assert_eq!(got["marked"].as_array().unwrap().len(), 3);
    assert_eq!(got["counter"]["count"], 3);
    assert_eq!(got["counter"]["cap"], 3);
    assert_eq!(got["counter"]["schema"], "image-triage/daily-cap/v1");
    assert_eq!(got["counter_type"], "application/json");
}
