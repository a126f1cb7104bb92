//! `image-triage scan` on the embedded bucket, as a user runs it. No models: the analyzers are
//! `none`, so every image ends `done` with the default verdict.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{png_header, BUCKET};
use serde_json::Value;

fn put(root: &Path, key: &str) {
    let path = root.join(BUCKET).join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, png_header(320, 240, 1200)).unwrap();
}

fn scan(root: &Path, args: &[&str]) -> (Output, Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_image-triage"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", root)
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .arg("scan")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON outcome per line"))
        .collect();
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    (out, lines, stderr)
}

fn keys_with(lines: &[Value], status: &str) -> Vec<String> {
    let mut k: Vec<String> = lines
        .iter()
        .filter(|l| l["status"] == status)
        .map(|l| l["key"].as_str().unwrap().to_string())
        .collect();
    k.sort();
    k
}

#[test]
fn scan_triages_only_unprocessed_objects_and_rescan_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for k in [
        "photos/a.png",
        "photos/b.png",
        "photos/sub/c.png",
        "other/d.png",
    ] {
        put(root, k);
    }
    // Our own outputs are never triaged, even when the scan covers them.
    put(root, "triage-results/photos/old.png");
    put(root, "triage-quarantine/photos/bad.png");
    std::fs::write(
        root.join(BUCKET).join("photos/readme.txt"),
        b"not an image at all",
    )
    .unwrap();

    // First a prefix scan: only photos/.
    let (out, lines, stderr) = scan(root, &[BUCKET, "photos/", "--concurrency", "2"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        keys_with(&lines, "done"),
        ["photos/a.png", "photos/b.png", "photos/sub/c.png"]
    );
    assert_eq!(keys_with(&lines, "skipped"), ["photos/readme.txt"]);
    assert!(
        stderr.contains("3 done") && stderr.contains("complete"),
        "{stderr}"
    );
    let sidecar = root.join(BUCKET).join("triage-results/photos/a.png.json");
    let written = std::fs::metadata(&sidecar).unwrap().modified().unwrap();

    // The whole bucket: d is new, the rest is already processed; own outputs are left out: the
    // two placed there plus what the first scan wrote under the results prefix (three sidecars,
    // one for the text file, and the content records of the analysed bytes: content dedupe).
    let own = walk(&root.join(BUCKET))
        .iter()
        .filter(|k| k.starts_with("triage-"))
        .count();
    let (out, lines, stderr) = scan(root, &[BUCKET]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(keys_with(&lines, "done"), ["other/d.png"]);
    let skipped: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["status"] == "skipped")
        .map(|l| (l["key"].as_str().unwrap(), l["code"].as_str().unwrap()))
        .collect();
    assert!(
        skipped.contains(&("photos/a.png", "already_processed")),
        "{skipped:?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l["key"].as_str().unwrap().starts_with("triage-")),
        "own outputs must not be triaged: {lines:?}"
    );
    assert!(own >= 6, "{own}");
    assert!(
        stderr.contains(&format!("{own} own output left out")),
        "{own}: {stderr}"
    );

    // Again: nothing to do, nothing rewritten.
    let (out, lines, stderr) = scan(root, &[BUCKET, "--concurrency", "8"]);
    assert!(out.status.success(), "{stderr}");
    assert!(keys_with(&lines, "done").is_empty(), "{lines:?}");
    assert_eq!(
        std::fs::metadata(&sidecar).unwrap().modified().unwrap(),
        written,
        "a re-scan rewrites nothing"
    );
}

#[test]
fn scan_resumes_from_a_marker_and_from_its_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let keys: Vec<String> = (0..12).map(|i| format!("img/{i:02}.png")).collect();
    for k in &keys {
        put(root, k);
    }

    // --start-after: only the keys after it.
    let (out, lines, stderr) = scan(root, &[BUCKET, "img/", "--start-after", "img/08.png"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        keys_with(&lines, "done"),
        ["img/09.png", "img/10.png", "img/11.png"]
    );

    // --state: records the marker; the full run completes and says so.
    let state = root.join("scan-state.json");
    let state_arg = state.to_str().unwrap();
    let (out, lines, stderr) = scan(
        root,
        &[BUCKET, "img/", "--state", state_arg, "--concurrency", "3"],
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(keys_with(&lines, "done").len(), 9);
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["start_after"], "img/11.png");
    assert_eq!(saved["complete"], true);
    assert_eq!(saved["prefix"], "img/");

    // An interrupted scan's state file: resume after its marker.
    let mut partial = saved.clone();
    partial["start_after"] = "img/05.png".into();
    partial["complete"] = false.into();
    std::fs::write(&state, serde_json::to_vec(&partial).unwrap()).unwrap();
    std::fs::write(
        root.join(BUCKET).join("img/03.png"),
        png_header(640, 480, 999),
    )
    .unwrap(); // new content, before the marker
    std::fs::write(
        root.join(BUCKET).join("img/07.png"),
        png_header(640, 480, 999),
    )
    .unwrap(); // after it
    let (out, lines, stderr) = scan(root, &[BUCKET, "img/", "--state", state_arg]);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resuming after \"img/05.png\""), "{stderr}");
    assert_eq!(keys_with(&lines, "done"), ["img/07.png"]);
    assert_eq!(lines.len(), 6, "img/06..11 only: {lines:?}");

    // A state file of another scan is refused.
    let (out, _, stderr) = scan(root, &[BUCKET, "other/", "--state", state_arg]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("belongs to a scan of"), "{stderr}");
}

#[test]
fn scan_reports_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _, stderr) = scan(dir.path(), &[BUCKET, "--concurrency", "0"]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // An empty bucket is a complete, empty scan.
    let (out, lines, stderr) = scan(dir.path(), &["empty-bucket"]);
    assert!(out.status.success(), "{stderr}");
    assert!(lines.is_empty());
    assert!(stderr.contains("0 listed"), "{stderr}");
}

/// Every object key in the embedded bucket's directory.
fn walk(dir: &Path) -> Vec<String> {
    fn go(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                go(base, &p, out);
            } else if let Ok(rel) = p.strip_prefix(base) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = vec![];
    go(dir, dir, &mut out);
    out
}
