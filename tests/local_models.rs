//! The whole pipeline with the real local models on real photos, against the embedded bucket.
#![cfg(feature = "local")]

mod common;

use bytes::Bytes;
use common::*;
use image_triage::pipeline::Pipeline;
use image_triage::store::ObjectStore;
use image_triage::{inspect, runtime};

async fn upload(store: &dyn ObjectStore, key: &str, body: Vec<u8>) {
    store
        .put(BUCKET, key, Bytes::from(body), "image/png")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cat_and_coffee_get_plausible_labels_and_pass() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let queue = dir.path().join("queue.jsonl");
    let q = format!("file:{}", queue.display());
    let pipeline = Pipeline::new(config(dir.path(), &[("TRIAGE_QUEUE", &q)]));
    upload(&*store, "photos/chelsea.png", photo("chelsea.png")).await;
    upload(&*store, "photos/coffee.png", photo("coffee.png")).await;

    let cat = pipeline
        .handle_event(
            &event_for(BUCKET, "photos/chelsea.png", "ObjectCreated:Put"),
            None,
        )
        .await;
    assert_eq!(cat.len(), 1);
    assert_eq!(cat[0].status, "done", "{:?}", cat[0]);
    assert_eq!(cat[0].verdict.as_deref(), Some("pass"));
    let sc = sidecar(dir.path(), "photos/chelsea.png");
    assert_eq!(sc["schema"], "image-triage/v1");
    let top = &sc["labels"]["output"]["labels"][0];
    assert!(
        ["tabby", "tiger cat", "Egyptian cat"].contains(&top["name"].as_str().unwrap()),
        "cat photo got {top}"
    );
    assert_eq!(top["first_category"], "animal");
    assert_eq!(top["second_category"], "cat");
    assert!(sc["moderation"]["output"]["score"].as_f64().unwrap() < 20.0);
    assert!(sc["timings_ms"]["labels"].is_u64());

    let coffee = pipeline
        .handle_event(
            &event_for(BUCKET, "photos/coffee.png", "ObjectCreated:Put"),
            None,
        )
        .await;
    assert_eq!(coffee[0].status, "done");
    assert!(
        coffee[0]
            .labels
            .iter()
            .take(2)
            .any(|l| l == "espresso" || l.contains("cup")),
        "coffee photo got {:?}",
        coffee[0].labels
    );
    assert_eq!(coffee[0].verdict.as_deref(), Some("pass"));

    // Read back from the bucket, not from memory: metadata, tags, sidecar.
    let report = inspect::inspect(&*store, BUCKET, "photos/chelsea.png", "triage-results/")
        .await
        .unwrap();
    assert_eq!(report.metadata["triage-verdict"], "pass");
    assert!(report.metadata["triage-marker"].contains(':'));
    assert!(report
        .tags
        .iter()
        .any(|(k, v)| k == "triage-label1" && !v.is_empty()));
    let text = inspect::render(&report);
    assert!(
        text.contains("PASS") && text.contains("[animal/cat]"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&queue).unwrap().lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_and_write_back_copy_do_no_double_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let queue = dir.path().join("q.jsonl");
    let q = format!("file:{}", queue.display());
    let pipeline = Pipeline::new(config(dir.path(), &[("TRIAGE_QUEUE", &q)]));
    upload(&*store, "a/rocket.jpg", photo("rocket.jpg")).await;
    let ev = event_for(BUCKET, "a/rocket.jpg", "ObjectCreated:Put");
    let first = pipeline.handle_event(&ev, None).await;
    assert_eq!(first[0].status, "done");
    let before = std::fs::read(
        dir.path()
            .join(BUCKET)
            .join("triage-results/a/rocket.jpg.json"),
    )
    .unwrap();

    let again = pipeline.handle_event(&ev, None).await;
    assert_eq!(again[0].status, "skipped");
    assert_eq!(again[0].code.as_deref(), Some("already_processed"));
    assert_eq!(
        again[0].verdict, first[0].verdict,
        "a re-delivery reports the same verdict"
    );
    let copy = pipeline
        .handle_event(
            &event_for(BUCKET, "a/rocket.jpg", "ObjectCreated:Copy"),
            None,
        )
        .await;
    assert_eq!(copy[0].code.as_deref(), Some("write_back_copy"));
    let own = pipeline
        .handle_event(
            &event_for(
                BUCKET,
                "triage-results/a/rocket.jpg.json",
                "ObjectCreated:Put",
            ),
            None,
        )
        .await;
    assert_eq!(own[0].code.as_deref(), Some("own_output"));

    assert_eq!(
        std::fs::read_to_string(&queue).unwrap().lines().count(),
        1,
        "one message per object"
    );
    let after = std::fs::read(
        dir.path()
            .join(BUCKET)
            .join("triage-results/a/rocket.jpg.json"),
    )
    .unwrap();
    assert_eq!(before, after, "the stored result is untouched");

    // New content under the same key is new work.
    upload(&*store, "a/rocket.jpg", photo("coffee.png")).await;
    let changed = pipeline.handle_event(&ev, None).await;
    assert_eq!(changed[0].status, "done");
    assert_eq!(std::fs::read_to_string(&queue).unwrap().lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_refusals_are_recorded_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let pipeline = Pipeline::new(config(dir.path(), &[]));
    upload(&*store, "thin.png", png_header(1, 20_000, 4096)).await;
    upload(
        &*store,
        "notes.jpg",
        b"meeting notes, not a photo\n".to_vec(),
    )
    .await;
    upload(&*store, "cut.png", png_header(640, 480, 30)[..20].to_vec()).await;

    let thin = pipeline
        .handle_event(&event_for(BUCKET, "thin.png", "ObjectCreated:Put"), None)
        .await;
    assert_eq!(thin[0].status, "done");
    let sc = sidecar(dir.path(), "thin.png");
    assert_eq!(sc["labels"]["status"], "skipped");
    assert_eq!(sc["moderation"]["status"], "skipped");
    assert!(
        sc["labels"]["reason"].as_str().unwrap().contains("1x20000"),
        "{}",
        sc["labels"]
    );
    assert_eq!(
        sc["verdict"]["decision"], "review",
        "on_error defaults to review"
    );
    assert_eq!(sc["verdict"]["on_error_applied"], true);

    let text = pipeline
        .handle_event(&event_for(BUCKET, "notes.jpg", "ObjectCreated:Put"), None)
        .await;
    assert_eq!(
        (text[0].status, text[0].code.as_deref()),
        ("skipped", Some("not_an_image"))
    );
    assert!(text[0].reason.as_deref().unwrap().contains("not an image"));
    assert!(sidecar(dir.path(), "notes.jpg")["skip_reason"].is_string());

    let cut = pipeline
        .handle_event(&event_for(BUCKET, "cut.png", "ObjectCreated:Put"), None)
        .await;
    assert_eq!(cut[0].code.as_deref(), Some("truncated_header"));

    // A sound header over a corrupt body: preflight passes, decoding fails, on_error decides.
    upload(&*store, "corrupt.png", png_header(640, 480, 5000)).await;
    let corrupt = pipeline
        .handle_event(&event_for(BUCKET, "corrupt.png", "ObjectCreated:Put"), None)
        .await;
    assert_eq!(
        (corrupt[0].status, corrupt[0].verdict.as_deref()),
        ("done", Some("review"))
    );
    let sc = sidecar(dir.path(), "corrupt.png");
    assert_eq!(sc["moderation"]["status"], "failed");
    assert!(
        sc["moderation"]["reason"]
            .as_str()
            .unwrap()
            .contains("corrupt or unsupported png"),
        "{}",
        sc["moderation"]
    );
    assert_eq!(sc["moderation"]["code"], "corrupt_image");
    assert_eq!(sc["moderation"]["retryable"], false);

    let gone = pipeline
        .handle_event(
            &event_for(BUCKET, "never-uploaded.png", "ObjectCreated:Put"),
            None,
        )
        .await;
    assert_eq!(gone[0].code.as_deref(), Some("object_gone"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gif_is_labeled_locally() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let img = image::open(photos_dir().join("chelsea.png")).unwrap();
    let mut gif = std::io::Cursor::new(Vec::new());
    img.write_to(&mut gif, image::ImageFormat::Gif).unwrap();
    upload(&*store, "cat.gif", gif.into_inner()).await;
    let pipeline = Pipeline::new(config(dir.path(), &[]));
    let out = pipeline
        .handle_event(&event_for(BUCKET, "cat.gif", "ObjectCreated:Put"), None)
        .await;
    assert_eq!(out[0].status, "done", "{:?}", out[0]);
    let sc = sidecar(dir.path(), "cat.gif");
    assert_eq!(sc["image"]["format"], "gif");
    assert_eq!(
        sc["labels"]["output"]["labels"][0]["second_category"],
        "cat"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_actions_apply_once() {
    for action in ["quarantine", "delete", "private", "tag"] {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        // Every score is >= 0: force a block to exercise the action on a harmless photo.
        let pipeline = Pipeline::new(config(
            dir.path(),
            &[
                ("TRIAGE_THRESHOLDS", "porn:0/0"),
                ("TRIAGE_BLOCK_ACTION", action),
            ],
        ));
        upload(&*store, "in/astronaut.png", photo("astronaut.png")).await;
        let ev = event_for(BUCKET, "in/astronaut.png", "ObjectCreated:Put");
        let out = pipeline.handle_event(&ev, None).await;
        assert_eq!(
            (out[0].status, out[0].verdict.as_deref()),
            ("done", Some("block")),
            "{action}"
        );
        let sc = sidecar(dir.path(), "in/astronaut.png");
        let actions: Vec<String> = sc["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap().to_string())
            .collect();
        assert!(
            actions.contains(&format!("block:{action}")),
            "{action}: {actions:?}"
        );
        let again = pipeline.handle_event(&ev, None).await;
        assert_eq!(again[0].status, "skipped", "{action}: {:?}", again[0]);
        let obj = dir.path().join(BUCKET).join("in/astronaut.png");
        match action {
            "quarantine" => {
                assert!(!obj.exists());
                assert!(dir
                    .path()
                    .join(BUCKET)
                    .join("triage-quarantine/in/astronaut.png")
                    .exists());
                assert_eq!(again[0].code.as_deref(), Some("object_gone"));
                let moved = pipeline
                    .handle_event(
                        &event_for(
                            BUCKET,
                            "triage-quarantine/in/astronaut.png",
                            "ObjectCreated:Copy",
                        ),
                        None,
                    )
                    .await;
                assert_eq!(moved[0].code.as_deref(), Some("own_output"));
            }
            "delete" => assert!(!obj.exists()),
            "private" => {
                let attrs = std::fs::read_to_string(
                    dir.path()
                        .join(".attrs")
                        .join(BUCKET)
                        .join("in/astronaut.png.json"),
                )
                .unwrap();
                assert!(attrs.contains("\"acl\": \"private\""), "{attrs}");
            }
            _ => {
                let tags = store.get_tags(BUCKET, "in/astronaut.png").await.unwrap();
                assert!(
                    tags.contains(&("triage-blocked".into(), "true".into())),
                    "{tags:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_handler_processes_an_s3_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    upload(&*store, "x/motorcycle.png", photo("motorcycle_left.png")).await;
    let pipeline = Pipeline::new(config(dir.path(), &[]));
    let payload: serde_json::Value =
        serde_json::from_slice(&event_for(BUCKET, "x/motorcycle.png", "ObjectCreated:Put"))
            .unwrap();
    let response = runtime::lambda::handle(&pipeline, payload).await.unwrap();
    assert_eq!(response["outcomes"][0]["status"], "done", "{response}");
    assert!(dir
        .path()
        .join(BUCKET)
        .join("triage-results/x/motorcycle.png.json")
        .exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_path_reads_each_byte_once() {
    use image_triage::store::counting::CountingStore;
    let dir = tempfile::tempdir().unwrap();
    let local = image_triage::store::local::LocalStore::new(dir.path());
    let body = photo("coffee.png");
    let size = body.len() as u64;
    assert!(size > 64 * 1024);
    upload(&local, "c.png", body).await;
    let counting = std::sync::Arc::new(CountingStore::new(local));
    let counter = counting.counter();
    let pipeline = Pipeline::with_store(config(dir.path(), &[]), counting);
    let out = pipeline
        .handle_event(&event_for(BUCKET, "c.png", "ObjectCreated:Put"), None)
        .await;
    assert_eq!(out[0].status, "done");
    assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), size);
}
