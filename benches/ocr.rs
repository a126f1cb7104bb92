//! `cargo bench --bench ocr`: the local OCR per image, beside rapidocr on ONNX Runtime (one
//! thread, the same two .onnx files; `scripts/ocr-bench.sh`), for an image without text, one
//! with 3 lines and one with 20. The images are rendered by `tests/text/render.py` and go
//! through the real decode (`decode::plan` + `decode`) first; the bench checks that every line
//! was read (the path it claims), then times detection alone and detection + recognition
//! (median of 10 after 2 warm-up runs). Needs the models (scripts/fetch-models.sh), Pillow in
//! the model cache's venv and fonts-wqy-microhei. Prints a Markdown table for the README.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use image_triage::analyzers::local::decode;
use image_triage::analyzers::local::ocr::Ocr;
use image_triage::analyzers::sampling::FrameSampling;
use image_triage::analyzers::{OCR_DET_FILE, OCR_REC_FILE, ORT_RUNTIME_FILE};
use image_triage::preflight::ImageFormat;

const FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
const ROUNDS: usize = 10;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn time(mut f: impl FnMut()) -> f64 {
    for _ in 0..2 {
        f();
    }
    median(
        (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

/// Render `lines` (none: a gradient without text) into `dir/name`.
fn render(dir: &Path, name: &str, lines: &[String], python: &Path) -> PathBuf {
    let out = dir.join(name);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/text/render.py");
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .arg(&out)
        .args(["--font", FONT, "--size", "30"]);
    cmd.args(["--width", "1000", "--height", "700"]);
    if lines.is_empty() {
        cmd.args(["--background", "gradient"]);
    }
    let status = cmd.args(lines).status().expect("run render.py");
    assert!(status.success(), "render.py failed for {name}");
    out
}

/// rapidocr's figures per image name: (detection ms, total ms, lines), when it can run here.
fn reference(files: &[PathBuf]) -> Vec<(String, f64, f64, u64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ocr-bench.sh");
    let out = Command::new("bash").arg(script).args(files).output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        eprintln!("rapidocr figures unavailable (scripts/ocr-bench.sh failed)");
        return vec![];
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["image"].as_str()?.to_string(),
                v["ort_det_ms"].as_f64()?,
                v["ort_total_ms"].as_f64()?,
                v["lines"].as_u64()?,
            ))
        })
        .collect()
}

fn main() {
    let cache = image_triage::config::default_cache_dir();
    let models = std::env::var_os("TRIAGE_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("models"));
    let python = cache.join("venv/bin/python");
    let ocr = Ocr::load(
        &models.join(OCR_DET_FILE),
        &models.join(OCR_REC_FILE),
        &models.join(ORT_RUNTIME_FILE),
    )
    .expect("OCR models (run scripts/fetch-models.sh)");
    let dir = tempfile::tempdir().expect("temp dir");
    let line = |i: usize| format!("第{i}行 Line {i}: 加微信 abc{i:03} 领取福利");
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("no-text.png", vec![]),
        ("3-lines.png", (1..=3).map(line).collect()),
        ("20-lines.png", (1..=20).map(line).collect()),
    ];
    let files: Vec<PathBuf> = cases
        .iter()
        .map(|(name, lines)| render(dir.path(), name, lines, &python))
        .collect();
    let reference = reference(&files);

    println!("| image | working size | lines read | detection | detection + recognition | rapidocr (ONNX Runtime, 1 thread): detection / total |");
    println!("|---|---|---|---|---|---|");
    for ((name, lines), file) in cases.iter().zip(&files) {
        let bytes = std::fs::read(file).expect("rendered image");
        let sampling = FrameSampling::default();
        let plan = decode::plan(&bytes, ImageFormat::Png, sampling).expect("plan");
        let decoded = decode::decode(&bytes, &plan, sampling).expect("decode");
        let frame = &decoded.frames[0].image;
        let read = ocr.read(frame).expect("read");
        // The path claimed: every rendered line read, and nothing in the blank image.
        assert_eq!(read.len(), lines.len(), "{name}: read {read:?}");
        let det = time(|| {
            ocr.detect(frame).expect("detect");
        });
        let all = time(|| {
            ocr.read(frame).expect("read");
        });
        let theirs = reference
            .iter()
            .find(|r| r.0 == *name)
            .map(|r| format!("{:.0} / {:.0} ms ({} lines)", r.1, r.2, r.3))
            .unwrap_or_else(|| "—".into());
        println!(
            "| {name} | {}×{} | {} | {det:.0} ms | {all:.0} ms | {theirs} |",
            frame.width(),
            frame.height(),
            read.len()
        );
    }
}
