//! `cargo bench --bench lists`: the image sample lists (`TRIAGE_IMAGE_LISTS`) at scale. Writes
//! 5,000 generated sample images (smooth random pictures, 96×96 PNG) into a temporary lists
//! directory, loads it cold (every sample decoded and hashed) and again from the hash cache,
//! then measures [`ImageLists::find`] per upload (the median over many runs, for uploads that
//! match a sample and for uploads that match none: a full scan) and [`ImageLists::hash`] on
//! reduced frames (the demo photos' and the largest a reduced frame can be). It also checks
//! matching at that scale: every sample's re-upload (half size, JPEG) must find that sample, and
//! no two samples may match each other (pictures of one style: the hard case for false
//! matches). Prints Markdown tables for the README. `BENCH_SAMPLES` changes the number of
//! samples.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{Rgb, RgbImage};
use image_triage::analyzers::lists::{Hash, ImageLists};
use image_triage::analyzers::local::decode::{self, reduce};
use image_triage::analyzers::sampling::FrameSampling;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64())
}

/// A smooth random picture: a few soft colour blobs on a gradient, different for every seed.
fn picture(seed: u64, w: u32, h: u32) -> RgbImage {
    let mut rng = fastrand::Rng::with_seed(seed);
    let base: [f32; 6] = std::array::from_fn(|_| rng.f32() * 255.0);
    let blobs: Vec<(f32, f32, f32, [f32; 3])> = (0..5)
        .map(|_| {
            (
                rng.f32(),
                rng.f32(),
                0.05 + rng.f32() * 0.2,
                std::array::from_fn(|_| rng.f32() * 255.0 - 128.0),
            )
        })
        .collect();
    RgbImage::from_fn(w, h, |x, y| {
        let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
        Rgb(std::array::from_fn(|c| {
            let mut value = base[c] * (1.0 - u) + base[c + 3] * v;
            for (bx, by, r, colour) in &blobs {
                let d2 = ((u - bx).powi(2) + (v - by).powi(2)) / (r * r);
                value += colour[c] * (-d2).exp();
            }
            value.clamp(0.0, 255.0) as u8
        }))
    })
}

fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("jpeg");
    out
}

/// The reduced first frame the pipeline hashes.
fn reduced(bytes: &[u8]) -> RgbImage {
    let sampling = FrameSampling {
        interval: 0,
        max_frames: 1,
    };
    let format = image_triage::preflight::sniff(bytes).expect("format");
    let plan = decode::plan(bytes, format, sampling).expect("plan");
    let mut decoded = decode::decode(bytes, &plan, sampling).expect("decode");
    decoded.frames.remove(0).image
}

/// Sample `i`'s path: a few categories, as a real block list has, and an allow list.
fn sample_path(i: usize) -> String {
    match i % 10 {
        0 => format!("allow/{i:05}.png"),
        1..=3 => format!("block/ad/{i:05}.png"),
        4..=6 => format!("block/porn/{i:05}.png"),
        _ => format!("block/{i:05}.png"),
    }
}

/// What a re-upload does to sample `i`: half size (48 px), JPEG q80.
fn reupload(i: usize) -> Vec<u8> {
    let half = image::imageops::resize(
        &picture(i as u64, 96, 96),
        48,
        48,
        image::imageops::FilterType::Triangle,
    );
    jpeg(&half, 80)
}

fn write_samples(dir: &Path, n: usize) {
    for i in 0..n {
        let path = dir.join(sample_path(i));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, png(&picture(i as u64, 96, 96))).expect("write");
    }
}

/// Median microseconds per `find`, over `rounds` rounds of all `uploads`.
fn per_find(lists: &ImageLists, uploads: &[Hash], rounds: usize) -> (f64, usize) {
    let mut found = 0;
    let mut times = Vec::new();
    for _ in 0..rounds {
        let (n, s) = timed(|| uploads.iter().filter(|h| lists.find(h).is_some()).count());
        found = n;
        times.push(s * 1e6 / uploads.len() as f64);
    }
    (median(times), found)
}

fn main() {
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
        .max(1);
    let photos = std::env::var_os("TRIAGE_PHOTOS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| image_triage::config::default_cache_dir().join("photos"));
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("cache dir");
    let (_, write_s) = timed(|| write_samples(dir.path(), samples));
    eprintln!("{samples} samples written in {write_s:.1} s");

    let (check, check_s) = timed(|| ImageLists::check(dir.path()).expect("check"));
    let (cold, cold_s) =
        timed(|| ImageLists::load(dir.path(), Some(cache.path())).expect("cold load"));
    let (warm, warm_s) =
        timed(|| ImageLists::load(dir.path(), Some(cache.path())).expect("warm load"));
    assert_eq!((cold.decoded(), warm.decoded()), (samples, 0));
    eprintln!("fingerprint {check}");

    // Every sample's re-upload finds that sample; no two samples match each other.
    let (found_own, reupload_s) = timed(|| {
        (0..samples)
            .filter(|&i| {
                let m = warm.find(&ImageLists::hash(&reduced(&reupload(i))));
                m.is_some_and(|m| m.sample == sample_path(i))
            })
            .count()
    });
    let hashes: Vec<Hash> = (0..samples)
        .map(|i| {
            let bytes = std::fs::read(dir.path().join(sample_path(i))).expect("sample");
            ImageLists::hash_encoded(&bytes).expect("hash")
        })
        .collect();
    let (pairs, false_pairs) = {
        let mut pairs = 0u64;
        let mut matched = 0u64;
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                pairs += 1;
                matched += u64::from(a.compare(b).matches);
            }
        }
        (pairs, matched)
    };
    eprintln!("re-uploads checked in {reupload_s:.1} s");

    // Uploads that match: samples' re-uploads. Uploads that match none: other generated
    // pictures, and the demo photos (a full scan each).
    let matching: Vec<Hash> = (0..samples.min(200))
        .map(|i| ImageLists::hash(&reduced(&reupload(i * 7 % samples))))
        .collect();
    let mut unmatched: Vec<Hash> = (0..200)
        .map(|i| ImageLists::hash(&reduced(&png(&picture(1_000_000 + i, 96, 96)))))
        .collect();
    let mut frames: Vec<(String, RgbImage)> = Vec::new();
    for name in [
        "chelsea.png",
        "coffee.png",
        "astronaut.png",
        "rocket.jpg",
        "motorcycle_left.png",
    ] {
        match std::fs::read(photos.join(name)) {
            Ok(bytes) => frames.push((name.to_string(), reduced(&bytes))),
            Err(e) => eprintln!("{name}: {e} (run scripts/fetch-models.sh)"),
        }
    }
    unmatched.extend(frames.iter().map(|(_, f)| ImageLists::hash(f)));
    let rounds = 101;
    let (match_us, found) = per_find(&warm, &matching, rounds);
    let (miss_us, false_found) = per_find(&warm, &unmatched, rounds);

    // The largest reduced frame: a 2,000,000-pixel working image (reduce::MAX_WORK_PIXELS).
    let side = (reduce::MAX_WORK_PIXELS as f64 / 1.5).sqrt() as u32;
    frames.push((
        format!(
            "generated {}×{} (largest reduced frame)",
            side * 3 / 2,
            side
        ),
        picture(42, side * 3 / 2, side),
    ));
    let mut hash_rows = Vec::new();
    for (name, frame) in &frames {
        let times: Vec<f64> = (0..51)
            .map(|_| timed(|| ImageLists::hash(frame)).1 * 1e6)
            .collect();
        hash_rows.push(format!(
            "| {name} | {}×{} | {:.0} |",
            frame.width(),
            frame.height(),
            median(times)
        ));
    }

    println!("| samples | check (s) | cold load, all decoded (s) | load from the hash cache (s) | find, matching upload (µs) | find, no match: full scan (µs) |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {samples} | {check_s:.2} | {cold_s:.2} | {warm_s:.2} | {match_us:.2} ({found} of {} matched) | {miss_us:.2} ({false_found} of {} matched) |",
        matching.len(),
        unmatched.len()
    );
    println!();
    println!(
        "| samples | their re-uploads (48 px, JPEG q80) found | false matches among sample pairs |"
    );
    println!("|---|---|---|");
    println!("| {samples} | {found_own} | {false_pairs} of {pairs} |");
    println!();
    println!("| reduced frame | size (px) | ImageLists::hash (µs) |");
    println!("|---|---|---|");
    for row in hash_rows {
        println!("{row}");
    }
}
