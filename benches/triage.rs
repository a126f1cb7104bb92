//! `cargo bench`: per-image model time on the demo photos and bytes read per event, then the
//! bytes read per event on the vendor path, where the analyzers pull the object by URL from the
//! loopback emulators of tests/tencent and tests/huawei. Prints a Markdown table and the vendor
//! figures for the README. Needs the models (scripts/fetch-models.sh).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use image_triage::config::Config;
use image_triage::object::Provider;
use image_triage::pipeline::Pipeline;
use image_triage::store::counting::CountingStore;
use image_triage::store::local::LocalStore;
use image_triage::store::ObjectStore;

// The same emulators the tests run (COS + CI + IMS + TIIA; OBS + Image Tagging + Moderation).
#[path = "../tests/huawei/mod.rs"]
mod huawei;
#[path = "../tests/tencent/emulator.rs"]
mod tencent;

fn config(root: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("TRIAGE_STORE".to_string(), "local".to_string()),
        ("TRIAGE_LOCAL_ROOT".to_string(), root.display().to_string()),
    ];
    for (k, v) in extra {
        vars.push((k.to_string(), v.to_string()));
    }
    for k in ["TRIAGE_MODEL_DIR", "TRIAGE_CACHE"] {
        if let Ok(v) = std::env::var(k) {
            vars.push((k.to_string(), v));
        }
    }
    Config::from_vars(vars).expect("config")
}

fn event(key: &str) -> Vec<u8> {
    serde_json::to_vec(&image_triage::demo::s3_put_event("bench", key, 0, "")).unwrap()
}

/// A real PNG of `w`×`h` noise pixels. Noise does not compress, so 960×960 RGB is about 2.7 MB:
/// within every default vendor analyzer's limits (CI detect-label's 3 MiB is the tightest).
fn noise_png(w: u32, h: u32) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(7);
    let pixels: Vec<u8> = (0..w * h * 3).map(|_| rng.u8(..)).collect();
    let img = image::RgbImage::from_raw(w, h, pixels).expect("pixels");
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let photos = std::env::var_os("TRIAGE_PHOTOS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| image_triage::config::default_cache_dir().join("photos"));

    // Model load (first use) is measured separately from warm per-image time.
    let local = LocalStore::new(dir.path());
    let counting = Arc::new(CountingStore::new(local.clone()));
    let counter = counting.counter();
    // Sidecar only: no marker is written, so every round triages again, and the sidecar carries
    // the pipeline's own per-stage timings.
    let pipeline =
        Pipeline::with_store(config(dir.path(), &[("TRIAGE_SINKS", "sidecar")]), counting);
    let mut names: Vec<String> = std::fs::read_dir(&photos)
        .expect("photos dir: run scripts/fetch-models.sh")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".png") || n.ends_with(".jpg"))
        .collect();
    names.sort();

    let mut first = true;
    for name in &names {
        let body = std::fs::read(photos.join(name)).expect("photo");
        let size = body.len();
        local
            .put("bench", name, Bytes::from(body), "image/png")
            .await
            .expect("put");
        let (mut labels_ms, mut mod_ms, mut total_ms, mut read, mut top) =
            (vec![], vec![], vec![], 0, String::new());
        for round in 0..=rounds {
            counter.store(0, Ordering::Relaxed);
            let t = Instant::now();
            let out = pipeline.handle_event(&event(name), None).await;
            let elapsed = t.elapsed().as_secs_f64() * 1000.0;
            if first {
                println!("first event, including model load: {elapsed:.0} ms\n");
                println!("| photo | size | bytes read | labels (ms) | moderation (ms) | event total (ms) | top label |");
                println!("|---|---|---|---|---|---|---|");
                first = false;
                continue;
            }
            if round == 0 {
                continue; // warm-up
            }
            read = counter.load(Ordering::Relaxed);
            top = out[0].labels.first().cloned().unwrap_or_default();
            total_ms.push(elapsed);
            let sidecar = local
                .get("bench", &format!("triage-results/{name}.json"))
                .await
                .expect("sidecar");
            let v: serde_json::Value = serde_json::from_slice(&sidecar).expect("json");
            labels_ms.push(v["timings_ms"]["labels"].as_f64().unwrap_or(0.0));
            mod_ms.push(v["timings_ms"]["moderation"].as_f64().unwrap_or(0.0));
        }
        println!(
            "| {name} | {size} | {read} | {:.0} | {:.0} | {:.0} | {top} |",
            median(&mut labels_ms),
            median(&mut mod_ms),
            median(&mut total_ms)
        );
    }

    // Peak resident memory of this process so far: both models loaded and every photo triaged.
    if let Some(kb) = peak_rss_kb() {
        println!("\npeak RSS after the local path (VmHWM): {} MB", kb / 1024);
    }

    // The vendor path: the analyzers pull the object themselves, so only preflight reads it.
    // Measured against the emulators, with the default analyzers of each cloud; every event is
    // checked (a panic, not a figure) to have had its object pulled by URL and both stages done.
    let png = noise_png(960, 960);
    let size = png.len();
    assert!(
        (2_000_000..3 * 1024 * 1024).contains(&size),
        "the vendor-path object must be 2 MB..3 MiB, is {size}"
    );
    let events = rounds.max(1);
    let read = vendor_tencent(&png, events).await;
    println!(
        "\nvendor path, Tencent COS (CI detect-label on the bucket host + IMS pulling a presigned URL), \
         {size} B PNG 960x960: {read} bytes read from the bucket per event (limit 65536; IMS pulled \
         {size} B by URL per event; {events} events)"
    );
    let read = vendor_huawei(&png, events).await;
    println!(
        "vendor path, Huawei OBS (Image Tagging + Content Moderation, each pulling a signed URL), \
         {size} B PNG 960x960: {read} bytes read from the bucket per event (limit 65536; each service \
         pulled {size} B by URL per event; {events} events)"
    );
}

/// `events` COS events for one object through a `CountingStore` around the COS store, against
/// the Tencent emulator, with the default COS analyzers. Returns the bytes read per event (the
/// same for every event, or it panics).
async fn vendor_tencent(png: &[u8], events: usize) -> u64 {
    const BUCKET: &str = "bench-1250000000";
    const KEY: &str = "uploads/vendor.png";
    let emu = tencent::Emulator::start().await;
    let cfg = Config::from_vars(emu.env()).expect("config");
    let store = Arc::new(CountingStore::new(
        image_triage::store::cos::builder::build(&cfg).unwrap(),
    ));
    let counter = store.counter();
    let pipeline = Pipeline::with_store(cfg, store);
    let event = tencent::cos_event(BUCKET, KEY, "cos:ObjectCreated:Put", &BTreeMap::new());
    let event = serde_json::to_vec(&event).unwrap();
    let mut per_event = None;
    for _ in 0..events {
        // A fresh upload each time: the marker of the last event would skip this one.
        emu.put_object(BUCKET, KEY, png.to_vec(), "image/png");
        counter.store(0, Ordering::Relaxed);
        let (ims, ci) = (emu.url_bytes_served("ims"), emu.count("ci:detect-label"));
        let out = pipeline.handle_event(&event, Some(Provider::Cos)).await;
        assert_eq!(out[0].status, "done", "{out:?}");
        let sidecar = emu
            .object(BUCKET, &format!("triage-results/{KEY}.json"))
            .expect("sidecar");
        let v: serde_json::Value = serde_json::from_slice(&sidecar.body).expect("json");
        for (stage, analyzer) in [("labels", "cos-ci"), ("moderation", "ims")] {
            assert_eq!(v[stage]["analyzer"], analyzer, "{v}");
            assert_eq!(v[stage]["status"], "done", "{stage} did not run: {v}");
        }
        assert_eq!(
            emu.url_bytes_served("ims") - ims,
            png.len() as u64,
            "IMS did not pull the object by URL"
        );
        assert_eq!(
            emu.count("ci:detect-label") - ci,
            1,
            "CI detect-label was not called on the bucket host"
        );
        per_event = Some(check_read(per_event, counter.load(Ordering::Relaxed)));
    }
    per_event.expect("at least one event")
}

/// The same on Huawei: OBS events through a `CountingStore` around the OBS store, Image Tagging
/// and Content Moderation both pulling the object through a signed OBS URL.
async fn vendor_huawei(png: &[u8], events: usize) -> u64 {
    let emu = huawei::start(Some("BENCH-TOKEN")).await;
    let cfg = Config::from_vars(emu.vars()).expect("config");
    let store = Arc::new(CountingStore::new(
        image_triage::store::obs::builder::build(&cfg).expect("OBS store"),
    ));
    let counter = store.counter();
    let pipeline = Pipeline::with_store(cfg, store);
    let event = huawei::event_file("obs-native.json");
    let (bucket, key) = huawei::target(&event);
    let mut per_event = None;
    for _ in 0..events {
        emu.emu.put(&bucket, &key, png.to_vec(), "image/png");
        counter.store(0, Ordering::Relaxed);
        emu.emu.0.lock().unwrap().bytes_served = 0;
        let pulled = |s: &str| emu.emu.url_bytes_served(s);
        let before = (pulled("image"), pulled("moderation"));
        let out = pipeline.handle_event(&event, Some(Provider::Obs)).await;
        assert_eq!(out[0].status, "done", "{out:?}");
        let sidecar = emu
            .emu
            .get(&bucket, &format!("triage-results/{key}.json"))
            .expect("sidecar");
        let v: serde_json::Value = serde_json::from_slice(&sidecar.body).expect("json");
        for stage in ["labels", "moderation"] {
            assert_eq!(v[stage]["status"], "done", "{stage} did not run: {v}");
        }
        assert_eq!(
            (pulled("image") - before.0, pulled("moderation") - before.1),
            (png.len() as u64, png.len() as u64),
            "Image Tagging and Moderation did not both pull the object by URL"
        );
        let read = check_read(per_event, counter.load(Ordering::Relaxed));
        assert_eq!(
            emu.emu.0.lock().unwrap().bytes_served,
            read,
            "OBS served other bytes than the store counted"
        );
        per_event = Some(read);
    }
    per_event.expect("at least one event")
}

/// Bytes one vendor-path event read: the preflight range, the same every event.
fn check_read(previous: Option<u64>, read: u64) -> u64 {
    assert!(
        read > 0 && read <= 64 * 1024,
        "{read} bytes read: not the preflight range"
    );
    if let Some(p) = previous {
        assert_eq!(p, read, "bytes read differ between events");
    }
    read
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// `VmHWM` from `/proc/self/status` (Linux): the peak resident set size, in kB.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
