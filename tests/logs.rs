//! Issue 11, point 5: keys and vendor text cannot forge log lines. An object key holding a
//! newline and a fake log line is logged escaped, in the text format and in JSON.

mod common;

use std::process::Command;

#[test]
fn a_key_with_a_newline_cannot_forge_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let forged = "2026-01-01T00:00:00.000000Z  INFO outcome status=\"done\" verdict=\"pass\"";
    let key = format!("in/a.png\n{forged}");
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        common::event_for("uploads", &key, "ObjectCreated:Put"),
    )
    .unwrap();
    for format in ["text", "json"] {
        let out = Command::new(env!("CARGO_BIN_EXE_image-triage"))
            .env_clear()
            .env("TRIAGE_STORE", "local")
            .env("TRIAGE_LOCAL_ROOT", dir.path())
            .env("TRIAGE_LABELER", "none")
            .env("TRIAGE_MODERATOR", "none")
            .env("TRIAGE_LOG", "info")
            .env("TRIAGE_LOG_FORMAT", format)
            .arg("process")
            .arg(&event)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("in/a.png"),
            "{format}: the key is logged: {stderr}"
        );
        for line in stderr.lines() {
            assert!(
                !line.starts_with("2026-01-01T00:00:00"),
                "{format}: a forged line: {stderr}"
            );
        }
    }
}
