//! The local OCR engine with the real PP-OCRv6 models on text rendered with Pillow
//! (tests/text/render.py), decoded the way an upload is (`decode::plan` + `decode::decode`).
//!
//! Needs the models and the model cache's venv (Pillow) that scripts/fetch-models.sh puts in
//! place, and the fonts of Debian's fonts-wqy-microhei and fonts-dejavu-core.
#![cfg(feature = "local")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use image::RgbImage;
use image_triage::analyzers::local::decode;
use image_triage::analyzers::local::ocr::{Ocr, OcrLine};
use image_triage::analyzers::sampling::FrameSampling;
use image_triage::analyzers::{OCR_DET_FILE, OCR_REC_FILE, ORT_RUNTIME_FILE};
use image_triage::preflight::ImageFormat;

const ZH_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
const LATIN_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// `TRIAGE_MODEL_DIR`, or the models in the cache (as tests/common does).
fn model_dir() -> PathBuf {
    std::env::var_os("TRIAGE_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| image_triage::config::default_cache_dir().join("models"))
}

fn must_exist(path: &Path, what: &str) {
    assert!(
        path.is_file(),
        "{what} {} not found: run scripts/fetch-models.sh (scripts/test.sh does)",
        path.display()
    );
}

fn ocr() -> &'static Ocr {
    static OCR: OnceLock<Ocr> = OnceLock::new();
    OCR.get_or_init(|| {
        let dir = model_dir();
        for file in [OCR_DET_FILE, OCR_REC_FILE, ORT_RUNTIME_FILE] {
            must_exist(&dir.join(file), "model file");
        }
        Ocr::load(
            &dir.join(OCR_DET_FILE),
            &dir.join(OCR_REC_FILE),
            &dir.join(ORT_RUNTIME_FILE),
        )
        .expect("loading the OCR models")
    })
}

/// Render with `render.py ARGS` into a PNG and decode it as the pipeline would.
fn render(args: &[&str]) -> RgbImage {
    let bytes = render_png(args);
    let sampling = FrameSampling::default();
    let plan = decode::plan(&bytes, ImageFormat::Png, sampling).expect("plan");
    let mut decoded = decode::decode(&bytes, &plan, sampling).expect("decode");
    decoded.frames.swap_remove(0).image
}

/// The PNG `render.py ARGS` makes.
fn render_png(args: &[&str]) -> Vec<u8> {
    let python = model_dir()
        .join("..")
        .join("venv")
        .join("bin")
        .join("python");
    must_exist(&python, "the model cache's Python (with Pillow)");
    for font in [ZH_FONT, LATIN_FONT] {
        assert!(
            Path::new(font).is_file(),
            "{font} not found: install Debian's fonts-wqy-microhei and fonts-dejavu-core"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("text.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/text/render.py");
    let status = Command::new(&python)
        .arg(&script)
        .arg(&out)
        .args(args)
        .status()
        .expect("running render.py");
    assert!(status.success(), "render.py {args:?} failed");
    std::fs::read(&out).unwrap()
}

/// A poster-sized canvas with `lines` in `font` at `size` px.
fn poster(font: &str, size: u32, lines: &[&str], extra: &[&str]) -> RgbImage {
    let size = size.to_string();
    let mut args = vec![
        "--font", font, "--size", &size, "--width", "1000", "--height", "600",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(lines);
    render(&args)
}

fn texts(lines: &[OcrLine]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

fn read(img: &RgbImage) -> Vec<OcrLine> {
    let lines = ocr().read(img).expect("ocr");
    for l in &lines {
        assert!((0.0..=1.0).contains(&l.confidence), "{l:?}");
    }
    lines
}

#[test]
fn chinese_spam_line_reads_back_exactly() {
    let line = "禁止赌博 加微信 abc123 领取福利";
    let lines = read(&poster(ZH_FONT, 48, &[line], &[]));
    assert_eq!(texts(&lines), [line]);
    assert!(lines[0].confidence > 0.9, "{lines:?}");
}

#[test]
fn latin_with_accents_reads_back_exactly() {
    let line = "Straße café naïve Größe";
    assert_eq!(texts(&read(&poster(LATIN_FONT, 48, &[line], &[]))), [line]);
}

#[test]
fn english_line_reads_back_with_its_box() {
    let line = "The quick brown fox 2026";
    let lines = read(&poster(LATIN_FONT, 48, &[line], &[]));
    assert_eq!(texts(&lines), [line]);
    // Drawn at (48, 48): the box hugs the glyphs, in the image's pixels, clockwise.
    let [tl, tr, br, bl] = lines[0].quad;
    assert!(
        (30.0..=50.0).contains(&tl[0]) && (35.0..=60.0).contains(&tl[1]),
        "{tl:?}"
    );
    assert!((650.0..=700.0).contains(&tr[0]) && tr[1] < br[1] && bl[1] > tl[1]);
    assert!((90.0..=120.0).contains(&br[1]), "{br:?}");
}

#[test]
fn three_lines_come_back_in_order() {
    let want = [
        "First line of text",
        "Second line here 42",
        "Third and last line",
    ];
    let lines = read(&poster(LATIN_FONT, 44, &want, &[]));
    assert_eq!(texts(&lines), want);
    assert!(lines.windows(2).all(|p| p[0].quad[0][1] < p[1].quad[0][1]));
}

#[test]
fn images_without_text_give_no_lines() {
    for background in ["gradient", "noise"] {
        let img = render(&[
            "--font",
            LATIN_FONT,
            "--width",
            "1000",
            "--height",
            "700",
            "--background",
            background,
        ]);
        assert_eq!(texts(&read(&img)), Vec::<&str>::new(), "{background}");
        if background == "gradient" {
            // Not even a box: the detector has nothing to hand the recognizer.
            assert!(ocr().detect(&img).unwrap().is_empty());
        }
    }
}

#[test]
fn coloured_and_turned_posters_read_the_same() {
    let line = "禁止赌博 加微信 abc123 领取福利";
    let red_on_yellow = poster(
        ZH_FONT,
        48,
        &[line],
        &["--fg", "230,30,30", "--background", "#f0d000"],
    );
    assert_eq!(texts(&read(&red_on_yellow)), [line]);
    // Turned 8° counter-clockwise: the box turns with it.
    let turned = read(&poster(ZH_FONT, 48, &[line], &["--angle", "8"]));
    assert_eq!(texts(&turned), [line]);
    let [tl, tr, ..] = turned[0].quad;
    let slope = (tl[1] - tr[1]) / (tr[0] - tl[0]);
    assert!(
        (slope - 8f32.to_radians().tan()).abs() < 0.03,
        "{:?}",
        turned[0].quad
    );
}

#[test]
fn a_large_upload_is_read_after_the_decoder_reduces_it() {
    // 2000×1200 with 96 px text: the decoder halves it (short side 448..896).
    let line = "The quick brown fox 2026";
    let img = render(&[
        "--font", LATIN_FONT, "--size", "96", "--width", "2000", "--height", "1200", line,
    ]);
    assert_eq!(img.dimensions(), (1000, 600));
    assert_eq!(texts(&read(&img)), [line]);
}

/// A dense 2000×1000 image (22 lines of 26 px text) at full size, the largest input OCR sees
/// (the decoder would halve it): every line is read within the per-image caps. Its speed is
/// measured in `cargo bench --bench ocr`, its memory bound in tests/local_memory.rs.
#[test]
fn a_dense_2000x1000_poster_is_read_whole() {
    let lines: Vec<String> = (1..=22)
        .map(|i| format!("Line {i}: 扫码领取红包 The quick brown fox jumps over 0123456789"))
        .collect();
    let mut args = vec![
        "--font", ZH_FONT, "--size", "26", "--width", "2000", "--height", "1000",
    ];
    args.extend(lines.iter().map(String::as_str));
    let img = image::load_from_memory(&render_png(&args))
        .unwrap()
        .to_rgb8();
    assert_eq!(img.dimensions(), (2000, 1000));
    let read = ocr().read(&img).unwrap();
    assert_eq!(read.len(), 22, "{read:?}");
}
