//! The release binary as a Lambda function under the real Runtime API emulator
//! (`cargo lambda watch --only-lambda-apis`, installed by scripts/install-test-tools.sh).

mod common;

use std::process::{Command, Stdio};

use common::lambda::RuntimeEmulator;
use common::*;

/// The function process dies with the test, pass or fail.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn release_binary_answers_invocations_through_the_runtime_api() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(BUCKET).join("in")).unwrap();
    std::fs::write(
        dir.path().join(BUCKET).join("in/cat photo.png"),
        photo("chelsea.png"),
    )
    .unwrap();

    let emulator = RuntimeEmulator::start();
    let _function = Killed(
        Command::new(env!("CARGO_BIN_EXE_image-triage"))
            .envs(emulator.function_env())
            .env("TRIAGE_STORE", "local")
            .env("TRIAGE_LOCAL_ROOT", dir.path())
            .env("TRIAGE_MODEL_DIR", model_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the function"),
    );

    let event = event_for(BUCKET, "in/cat photo.png", "ObjectCreated:Put");
    let (status, body) = emulator.invoke(&event);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["outcomes"][0]["status"], "done", "{v}");
    assert_eq!(v["outcomes"][0]["key"], "in/cat photo.png");
    assert!(dir
        .path()
        .join(BUCKET)
        .join("triage-results/in/cat photo.png.json")
        .is_file());

    // The same function instance keeps serving: a re-delivery is recognised.
    let (_, body) = emulator.invoke(&event);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["outcomes"][0]["code"], "already_processed", "{v}");
}

/// Deployed without its models layer, the function stops at init (reported to the Runtime
/// API, exit 2) instead of marking every upload `model_missing`.
#[test]
fn a_function_without_its_models_fails_at_init() {
    let empty = tempfile::tempdir().unwrap();
    let emulator = RuntimeEmulator::start();
    let out = Command::new(env!("CARGO_BIN_EXE_image-triage"))
        .envs(emulator.function_env())
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", empty.path())
        .env("TRIAGE_MODEL_DIR", empty.path())
        .stdin(Stdio::null())
        .output()
        .expect("run the function");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for file in [
        "efficientnet_lite0.onnx",
        "open_nsfw.onnx",
        "libonnxruntime.so",
    ] {
        assert!(stderr.contains(file), "{stderr}");
    }
    // Nothing was marked.
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}
