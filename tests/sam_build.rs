//! The AWS deploy as a user runs it: `sam validate --lint` and `sam build` of template.yaml with
//! the real AWS SAM CLI, cargo-lambda and zig (all from PyPI, installed by
//! scripts/install-test-tools.sh). The build must produce the function's `bootstrap` and the
//! models layer, and the layer must hold exactly the files the local analyzers load, as
//! scripts/fetch-models.sh verified them.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `sam` with cargo-lambda and zig (the tools venv) first on PATH, no telemetry, a region
/// (no account or credentials are used by either command).
fn sam() -> Command {
    let sam = common::tool("TRIAGE_SAM", "deploy-tools/bin/sam");
    let tools_bin = std::env::var_os("TRIAGE_TOOLS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::cache_dir().join("tools/bin"));
    let path = std::env::join_paths(std::iter::once(tools_bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let mut c = Command::new(sam);
    c.current_dir(repo())
        .env("PATH", path)
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_REGION", "us-east-1");
    c
}

fn run(mut c: Command, what: &str) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

#[test]
fn sam_validate_lint_and_sam_build_make_the_function_and_the_models_layer() {
    let mut validate = sam();
    validate.args(["validate", "--lint"]);
    let said = run(validate, "sam validate --lint");
    assert!(said.contains("is a valid SAM Template"), "{said}");

    let out = tempfile::tempdir().unwrap();
    let build_dir = out.path().join("build");
    let mut build = sam();
    // Its own target directory: the test build's is locked while tests run, and cargo-lambda
    // builds for an explicit target triple anyway (nothing to share with target/release).
    build
        .args(["build", "--build-dir"])
        .arg(&build_dir)
        .env("CARGO_TARGET_DIR", repo().join("target/sam"));
    let said = run(build, "sam build");
    assert!(said.contains("Build Succeeded"), "{said}");

    // The function: our binary, as `bootstrap`, an x86_64 ELF executable (the layer's ONNX
    // Runtime is x86_64), answering like the image-triage CLI.
    let bootstrap = build_dir.join("TriageFunction/bootstrap");
    let elf = std::fs::read(&bootstrap).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), 0x3e, "not x86_64");
    let limits = Command::new(&bootstrap).arg("limits").output().unwrap();
    assert!(limits.status.success(), "{limits:?}");
    assert!(
        String::from_utf8_lossy(&limits.stdout).contains("local labels"),
        "{limits:?}"
    );

    // The layer: models/ with exactly the five files and their manifest; each file's SHA-256
    // is the one fetch-models.sh recorded (and checked against its pins).
    let models = build_dir.join("ModelsLayer/models");
    let mut found: Vec<String> = std::fs::read_dir(&models)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "MANIFEST.txt",
            "PP-OCRv6_det_small.onnx",
            "PP-OCRv6_rec_small.onnx",
            "efficientnet_lite0.onnx",
            "libonnxruntime.so",
            "open_nsfw.onnx",
        ]
    );
    let manifest: BTreeMap<String, String> = std::fs::read_to_string(models.join("MANIFEST.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            (f.next().unwrap().to_string(), f.next().unwrap().to_string())
        })
        .collect();
    for name in found.iter().filter(|n| *n != "MANIFEST.txt") {
        assert_eq!(
            Some(&sha256_file(&models.join(name))),
            manifest.get(name),
            "{name}"
        );
    }
    let ort = std::fs::read(models.join("libonnxruntime.so")).unwrap();
    assert_eq!(
        u16::from_le_bytes([ort[18], ort[19]]),
        0x3e,
        "ORT not x86_64"
    );

    // The function mounts the layer at /opt: the binary finds the models where the layer puts
    // them. Run it against the built layer the way Lambda would lay it out.
    let bucket = tempfile::tempdir().unwrap();
    let photos = common::photo("chelsea.png");
    std::fs::create_dir_all(bucket.path().join("b/uploads")).unwrap();
    std::fs::write(bucket.path().join("b/uploads/cat.png"), photos).unwrap();
    let event = out.path().join("event.json");
    std::fs::write(
        &event,
        common::event_for("b", "uploads/cat.png", "ObjectCreated:Put"),
    )
    .unwrap();
    let processed = Command::new(&bootstrap)
        .arg("process")
        .arg(&event)
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", bucket.path())
        .env("TRIAGE_MODEL_DIR", &models)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&processed.stdout);
    assert!(processed.status.success(), "{processed:?}");
    let outcome: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(outcome["status"], "done", "{outcome}");
    let sidecar: serde_json::Value = serde_json::from_slice(
        &std::fs::read(bucket.path().join("b/triage-results/uploads/cat.png.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sidecar["labels"]["status"], "done", "{sidecar}");
    assert_eq!(sidecar["moderation"]["status"], "done", "{sidecar}");

    // The built template points the function at the built code and layer.
    let built = std::fs::read_to_string(build_dir.join("template.yaml")).unwrap();
    assert!(built.contains("CodeUri: TriageFunction"), "{built}");
    assert!(built.contains("ContentUri: ModelsLayer"), "{built}");
}
