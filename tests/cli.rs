//! The `image-triage` command as a user runs it: exit codes, stdout, stderr.

mod common;

use std::process::Command;

use common::*;

fn bin(root: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", root)
        .env("TRIAGE_MODEL_DIR", model_dir());
    c
}

#[test]
#[cfg(feature = "local")] // needs the local models
fn process_then_inspect() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(BUCKET).join("in")).unwrap();
    std::fs::write(
        dir.path().join(BUCKET).join("in/coffee cup.png"),
        photo("coffee.png"),
    )
    .unwrap();
    let event = dir.path().join("event.json");
    // Keys arrive form-encoded: "coffee cup.png" is "coffee+cup.png" in the event.
    std::fs::write(
        &event,
        event_for(BUCKET, "in/coffee cup.png", "ObjectCreated:Put"),
    )
    .unwrap();
    let text =
        String::from_utf8(event_for(BUCKET, "in/coffee cup.png", "ObjectCreated:Put")).unwrap();
    assert!(text.contains("in%2Fcoffee+cup.png"), "{text}");

    let out = bin(dir.path()).arg("process").arg(&event).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["status"], "done");
    assert_eq!(lines[0]["key"], "in/coffee cup.png");

    let out = bin(dir.path())
        .args(["inspect", BUCKET, "in/coffee cup.png"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let human = String::from_utf8(out.stdout).unwrap();
    assert!(human.contains("verdict     PASS"), "{human}");
    let out = bin(dir.path())
        .args(["inspect", BUCKET, "in/coffee cup.png", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"]["schema"], "image-triage/v1");
    assert_eq!(v["metadata"]["triage-verdict"], "pass");

    let out = bin(dir.path())
        .args(["inspect", BUCKET, "in/nothing.png"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no triage result"));
}

#[test]
fn bad_input_gets_clear_errors_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{not json").unwrap();
    let out = bin(dir.path()).arg("process").arg(&junk).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a bad event is not worth a retry"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["code"].as_str()),
        (Some("failed"), Some("invalid_event"))
    );

    let out = bin(dir.path())
        .args(["process", "/nonexistent/event.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/event.json"));

    let out = bin(dir.path())
        .env("TRIAGE_BLOCK_ACTION", "burn")
        .arg("process")
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TRIAGE_BLOCK_ACTION") && err.contains("quarantine"),
        "{err}"
    );
}

#[test]
#[cfg(feature = "local")] // needs the local models
fn demo_runs_on_the_fetched_photos() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bucket-root");
    let out = bin(dir.path())
        .args(["demo", "--root"])
        .arg(&root)
        .arg("--photos")
        .arg(photos_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[animal/cat]"), "{stdout}");
    assert!(stdout.contains("espresso"), "{stdout}");
    assert!(root.join("events/chelsea.png.json").is_file());
    // The text image and the built-in example keyword list: a text hit, shown by `inspect`.
    assert!(
        stdout.contains("text hit    ad 100: \"加微信\"") || stdout.contains("\"add wechat\""),
        "{stdout}"
    );
    // The README's replay, with the same keyword list: already processed, same verdict.
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/keywords.example.txt");
    let out = bin(&root)
        .env("TRIAGE_KEYWORDS", &example)
        .arg("process")
        .arg(root.join("events/text-ad.png.json"))
        .output()
        .unwrap();
    let replay = String::from_utf8_lossy(&out.stdout);
    assert!(
        replay.contains("already_processed") && replay.contains("\"verdict\":\"block\""),
        "{replay}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The README's cost estimate on the demo bucket, with one new upload: it is counted, and
    // nothing is analysed or written.
    std::fs::copy(
        root.join("demo/uploads/chelsea.png"),
        root.join("demo/uploads/new.png"),
    )
    .unwrap();
    let out = bin(&root)
        .env("TRIAGE_KEYWORDS", example)
        .args(["scan", "demo", "--dry-run"])
        .output()
        .unwrap();
    let est = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(est.contains("1 object(s) need triage"), "{est}");
    assert!(est.contains("0 billable calls"), "{est}");
    assert!(est.contains("nothing sent or written"), "{est}");
    assert!(!root
        .join("demo/triage-results/uploads/new.png.json")
        .exists());
}

/// `TRIAGE_STORE=local` resolves every provider's event against the embedded bucket
/// (`ROOT/BUCKET/KEY`), so the shipped fixtures run end to end without a cloud account.
#[test]
#[cfg(feature = "local")] // needs the local models
fn shipped_fixtures_of_every_provider_run_against_the_embedded_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let cases = [
        (
            "cos-put.json",
            "testpic-1253970026",
            "photos/cat.jpg",
            vec!["done"],
        ),
        (
            "obs-native.json",
            "examplebucket",
            "photos/cat 1.jpg",
            vec!["done"],
        ),
        (
            "obs-eventgrid.json",
            "triage-input",
            "images/dog 狗.jpg",
            vec!["done"],
        ),
        (
            "s3-put-encoded-key.json",
            "",
            "photos/2024/red flower (1)+été.jpg",
            vec!["done"],
        ),
        (
            "sqs-s3.json",
            "",
            "uploads/2025/07/IMG_1234.JPG",
            vec!["skipped", "done"],
        ),
        (
            "multi-record.json",
            "",
            "batch/a 1.png",
            vec!["done", "skipped", "failed"],
        ),
        ("s3-remove.json", "", "", vec!["skipped"]),
    ];
    for (file, bucket, key, want) in cases {
        let text = std::fs::read_to_string(fixtures.join(file)).unwrap();
        let bucket = if bucket.is_empty() {
            // The S3 fixtures name their bucket in the record.
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let rec = &v["Records"][v["Records"].as_array().unwrap().len() - 1];
            let body = rec
                .get("body")
                .and_then(|b| b.as_str())
                .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap());
            let rec = body
                .as_ref()
                .map(|b| &b["Records"][0])
                .unwrap_or(&v["Records"][0]);
            rec["s3"]["bucket"]["name"].as_str().unwrap().to_string()
        } else {
            bucket.to_string()
        };
        if !key.is_empty() {
            let path = dir.path().join(&bucket).join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, photo("chelsea.png")).unwrap();
        }
        let out = bin(dir.path())
            .arg("process")
            .arg(fixtures.join(file))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let statuses: Vec<String> = stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["status"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(statuses, want, "{file}: {stdout}");
        if !key.is_empty() {
            let sidecar = dir
                .path()
                .join(&bucket)
                .join("triage-results")
                .join(format!("{key}.json"));
            assert!(
                sidecar.is_file(),
                "{file}: no sidecar at {}",
                sidecar.display()
            );
        }
    }
}
