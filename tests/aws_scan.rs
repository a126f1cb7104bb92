//! `image-triage scan` on an S3 bucket in moto (SigV4 enforced): objects uploaded before the
//! function existed get triaged, through ListObjectsV2 paging, and a second scan finds nothing to do.
//! Results are read back with boto3, not from the function.

mod common;

use std::process::Command;

use common::moto::{png, Moto};
use serde_json::Value;

fn scan(moto: &Moto, args: &[&str]) -> (Vec<Value>, String, Option<i32>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .arg("scan")
        .args(args);
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run image-triage scan");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

fn count(lines: &[Value], status: &str, code: Option<&str>) -> usize {
    lines
        .iter()
        .filter(|l| l["status"] == status && code.is_none_or(|c| l["code"] == c))
        .count()
}

#[test]
fn scan_backfills_an_s3_bucket_and_a_second_scan_does_nothing() {
    let moto = Moto::start();
    let photo = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(photo.path(), png(120, 90)).unwrap();
    // 7 photos and a text file (two pages of 5), an object under another prefix.
    moto.py(&format!(
        r#"
s3.create_bucket(Bucket="old")
body = open({photo:?}, "rb").read()
for i in range(7):
    s3.put_object(Bucket="old", Key=f"archive/p{{i}}.png", Body=body, ContentType="image/png")
s3.put_object(Bucket="old", Key="archive/readme.png", Body=b"not an image at all", ContentType="image/png")
s3.put_object(Bucket="old", Key="elsewhere/x.png", Body=body)
"#,
        photo = photo.path().to_str().unwrap()
    ));

    let (lines, stderr, code) = scan(
        &moto,
        &["old", "archive/", "--provider", "s3", "--page-size", "5"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lines.len(), 8, "{lines:?}");
    assert_eq!(count(&lines, "done", None), 7, "{lines:?}");
    assert_eq!(
        count(&lines, "skipped", Some("not_an_image")),
        1,
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| l["key"] != "elsewhere/x.png"));

    let stored: Value = serde_json::from_str(&moto.py(
        r#"
out = {}
for i in range(7):
    k = f"archive/p{i}.png"
    h = s3.head_object(Bucket="old", Key=k)
    tags = s3.get_object_tagging(Bucket="old", Key=k)["TagSet"]
    side = json.loads(s3.get_object(Bucket="old", Key="triage-results/" + k + ".json")["Body"].read())
    out[k] = {"marker": h["Metadata"].get("triage-marker"), "etag": h["ETag"].strip('"'),
              "tags": {t["Key"]: t["Value"] for t in tags}, "sidecar_key": side["object"]["key"]}
out["elsewhere"] = s3.head_object(Bucket="old", Key="elsewhere/x.png")["Metadata"]
print(json.dumps(out))
"#,
    ))
    .unwrap();
    for i in 0..7 {
        let k = format!("archive/p{i}.png");
        let o = &stored[&k];
        let marker = o["marker"].as_str().unwrap_or_else(|| panic!("{k}: {o}"));
        assert!(marker.starts_with(o["etag"].as_str().unwrap()), "{k}: {o}");
        assert!(o["tags"]["triage-verdict"].is_string(), "{k}: {o}");
        assert_eq!(o["sidecar_key"], k.as_str());
    }
    assert_eq!(
        stored["elsewhere"],
        serde_json::json!({}),
        "outside the prefix"
    );

    // Everything has a current result now, the text file's "not an image" included (the
    // sidecars under triage-results/ are not listed under archive/).
    let (lines, stderr, code) = scan(&moto, &["old", "archive/", "--provider", "s3"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(count(&lines, "done", None), 0, "{lines:?}");
    assert_eq!(
        count(&lines, "skipped", Some("already_processed")),
        8,
        "{lines:?}"
    );
}
