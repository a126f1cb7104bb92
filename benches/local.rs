//! `cargo bench --bench local`: the local path per input, for the demo photos and the hostile
//! inputs of `tests/hostile` (generated here): decode time (plan + reduced decode), each model's
//! time on that input's frames beside ONNX Runtime's single-threaded time on the same `.onnx`
//! file (`scripts/ort-bench.sh`, from its PyPI wheel), and the peak RSS of a whole
//! `image-triage process` run of the input (getrusage of the child, through a Python wrapper:
//! the crate forbids unsafe code). Needs the models (scripts/fetch-models.sh). Prints a Markdown
//! table for the README.

#[path = "../tests/hostile/mod.rs"]
mod hostile;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use image_triage::analyzers::local::decode;
use image_triage::analyzers::local::image_prep;
use image_triage::analyzers::local::model::{self, Model};
use image_triage::analyzers::sampling::FrameSampling;
use image_triage::analyzers::{LABELS_MODEL_FILE, NSFW_MODEL_FILE, ORT_RUNTIME_FILE};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64() * 1000.0)
}

/// ONNX Runtime's median per model file name, from scripts/ort-bench.sh (None when it cannot
/// run here, e.g. without PyPI).
fn ort_figures(models: &Path) -> Vec<(String, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ort-bench.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(format!(
            "{}:1x3x224x224",
            models.join(LABELS_MODEL_FILE).display()
        ))
        .arg(format!(
            "{}:1x224x224x3",
            models.join(NSFW_MODEL_FILE).display()
        ))
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        eprintln!("ONNX Runtime figures unavailable (scripts/ort-bench.sh failed)");
        return vec![];
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["model"].as_str()?.to_string(),
                v["ort_median_ms"].as_f64()?,
            ))
        })
        .collect()
}

/// Peak RSS (MiB) and outcome of `image-triage process` on `file`, against a fresh local bucket.
fn whole_process(file: &Path, models: &Path) -> (f64, String) {
    let root = tempfile::tempdir().expect("tempdir");
    let key = file.file_name().unwrap().to_string_lossy().to_string();
    std::fs::create_dir_all(root.path().join("bench")).unwrap();
    std::fs::copy(file, root.path().join("bench").join(&key)).expect("copy");
    let event = root.path().join("event.json");
    let body = image_triage::demo::s3_put_event("bench", &key, 0, "");
    std::fs::write(&event, serde_json::to_vec(&body).unwrap()).unwrap();
    let out = Command::new(hostile::python())
        .args(["-c", hostile::RSS_WRAPPER, "600"])
        .args([env!("CARGO_BIN_EXE_image-triage"), "process"])
        .arg(&event)
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", root.path())
        .env("TRIAGE_MODEL_DIR", models)
        .env("TRIAGE_SINKS", "sidecar")
        .output()
        .expect("python3 runs the RSS wrapper");
    let kib = hostile::peak_rss_kib(&String::from_utf8_lossy(&out.stderr)).unwrap_or(0) as f64;
    let sidecar = root
        .path()
        .join("bench/triage-results")
        .join(format!("{key}.json"));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sidecar).unwrap_or_default()).unwrap_or_default();
    let stage = |s: &str| {
        let st = v[s]["status"].as_str().unwrap_or("?");
        match v[s]["code"].as_str() {
            Some(c) => format!("{st} ({c})"),
            None => st.to_string(),
        }
    };
    let outcome = format!(
        "{}; moderation {}",
        v["verdict"]["decision"].as_str().unwrap_or("no verdict"),
        stage("moderation")
    );
    (kib / 1024.0, outcome)
}

fn write(path: &Path, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> PathBuf {
    let mut w = BufWriter::new(std::fs::File::create(path).expect("create"));
    f(&mut w).expect("generate");
    w.flush().unwrap();
    path.to_path_buf()
}

fn hostile_inputs(dir: &Path) -> Vec<PathBuf> {
    use hostile::*;
    let png = |w, h, channels, sixteen_bit| PngSpec {
        width: w,
        height: h,
        channels,
        sixteen_bit,
        interlaced: false,
    };
    vec![
        write(&dir.join("png-9000x9000.png"), |o| {
            write_png(o, png(9000, 9000, 3, false))
        }),
        write(&dir.join("png16-rgba-7500x7500.png"), |o| {
            write_png(o, png(7500, 7500, 4, true))
        }),
        write(&dir.join("png-20000x20000.png"), |o| {
            write_png(o, png(20000, 20000, 3, false))
        }),
        write(&dir.join("jpeg-16000x16000.jpg"), |o| {
            let spec = ycbcr_420(16000, 16000, false);
            write_jpeg(o, &spec, checker_dc(&spec, YCBCR_FLAT))
        }),
        write(&dir.join("jpeg-progressive-4000x3000.jpg"), |o| {
            let spec = ycbcr_420(4000, 3000, true);
            write_jpeg(o, &spec, checker_dc(&spec, YCBCR_FLAT))
        }),
        write(&dir.join("jpeg-cmyk-3000x2000.jpg"), |o| {
            let spec = cmyk(3000, 2000);
            write_jpeg(o, &spec, checker_dc(&spec, CMYK_FLAT))
        }),
        write(&dir.join("gif-3000-frames.gif"), |o| {
            many_frames_gif(o, 400, 3000)
        }),
    ]
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let cache = image_triage::config::default_cache_dir();
    let models = std::env::var_os("TRIAGE_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("models"));
    let photos = std::env::var_os("TRIAGE_PHOTOS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("photos"));
    let lib = models.join(ORT_RUNTIME_FILE);
    let labels = Model::load(&models.join(LABELS_MODEL_FILE), &lib)
        .expect("labels model: run scripts/fetch-models.sh");
    let nsfw = Model::load(&models.join(NSFW_MODEL_FILE), &lib).expect("nsfw model");
    // ONNX Runtime is measured before and after our runs (the machine's speed drifts over a
    // few minutes); the table shows the mean of the two.
    let ort_before = ort_figures(&models);
    let mut rows = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&photos)
        .expect("photos dir: run scripts/fetch-models.sh")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "png" || e == "jpg"))
        .collect();
    inputs.sort();
    inputs.extend(hostile_inputs(dir.path()));

    for path in &inputs {
        let bytes = std::fs::read(path).expect("input");
        let name = path.file_name().unwrap().to_string_lossy();
        let format = image_triage::preflight::sniff(&bytes).expect("an image format");
        let (mut decode_ms, mut decoded) = (vec![], None);
        for _ in 0..rounds {
            let (d, ms) = timed(|| {
                let plan = decode::plan(&bytes, format, FrameSampling::default())?;
                decode::decode(&bytes, &plan, FrameSampling::default())
            });
            decode_ms.push(ms);
            decoded = Some(d.expect("decode"));
        }
        let decoded = decoded.unwrap();
        // Like scripts/ort_bench.py: warm-up runs, then the median of at least 20; an
        // animation's frames take turns.
        let runs = rounds.max(20);
        let time_model = |model: &Model, input: &dyn Fn(usize) -> model::Input| {
            for i in 0..3 {
                model.run(input(i)).expect("model");
            }
            let times = (0..runs).map(|i| {
                let t = input(i);
                timed(|| model.run(t).expect("model")).1
            });
            median(times.collect())
        };
        let frame = |i: usize| &decoded.frames[i % decoded.frames.len()].image;
        let labels_ms = time_model(&labels, &|_| image_prep::efficientnet_input(frame(0)));
        let nsfw_ms = time_model(&nsfw, &|i| image_prep::open_nsfw_input(frame(i)));
        let (rss, outcome) = whole_process(path, &models);
        rows.push((
            format!(
                "| {name} | {} | {}×{} | {:.0} | {} | {labels_ms:.1} |",
                bytes.len(),
                decoded.width,
                decoded.height,
                median(decode_ms),
                decoded.frames.len(),
            ),
            format!("| {nsfw_ms:.1} |"),
            format!("| {rss:.0} | {outcome} |"),
        ));
    }
    let ort_after = ort_figures(&models);
    let ort_of = |file: &str| {
        let pick = |v: &[(String, f64)]| v.iter().find(|(m, _)| m == file).map(|(_, ms)| *ms);
        match (pick(&ort_before), pick(&ort_after)) {
            (Some(a), Some(b)) => {
                eprintln!("ONNX Runtime {file}: {a:.1} ms before, {b:.1} ms after");
                format!("{:.1}", (a + b) / 2.0)
            }
            _ => "n/a".to_string(),
        }
    };
    let (ort_labels, ort_nsfw) = (ort_of(LABELS_MODEL_FILE), ort_of(NSFW_MODEL_FILE));
    println!(
        "| input | bytes | size (px) | decode (ms) | frames | labels model (ms) | ONNX Runtime (ms) | moderation model per frame (ms) | ONNX Runtime (ms) | peak RSS, whole process (MiB) | outcome |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (head, nsfw, tail) in rows {
        println!("{head} {ort_labels} {nsfw} {ort_nsfw} {tail}");
    }
}
