//! `cargo bench`: per-image model time on the demo photos and bytes read per event.
//! Prints a Markdown table for the README. Needs the models (scripts/fetch-models.sh).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use image_triage::config::Config;
use image_triage::pipeline::Pipeline;
use image_triage::store::counting::CountingStore;
use image_triage::store::local::LocalStore;
use image_triage::store::ObjectStore;

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

fn png_header(w: u32, h: u32, size: usize) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
    v.extend_from_slice(b"IHDR");
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    v.resize(size, 0);
    v
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

    // The vendor path: services pull the object themselves, so only preflight reads it.
    let big = png_header(6000, 4000, 48 * 1024 * 1024);
    local
        .put("bench", "huge.png", Bytes::from(big), "image/png")
        .await
        .expect("put");
    let counting = Arc::new(CountingStore::new(local.clone()));
    let counter = counting.counter();
    let vendor = Pipeline::with_store(
        config(
            dir.path(),
            &[("TRIAGE_LABELER", "none"), ("TRIAGE_MODERATOR", "none")],
        ),
        counting,
    );
    vendor.handle_event(&event("huge.png"), None).await;
    println!(
        "\nvendor path (analyzers pull by URL), 48 MiB object: {} bytes read per event (limit 65536)",
        counter.load(Ordering::Relaxed)
    );
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
