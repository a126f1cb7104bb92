//! Human decisions (`Pipeline::decide`, what the review page calls) against the guard, with no
//! analyzers at all (no models needed): signed under a marker secret, kept when the same
//! content is triaged again, refused on changed content, ignored when planted.

mod common;

use bytes::Bytes;
use common::*;
use image_triage::pipeline::{DecideError, Pipeline};
use image_triage::review::plan::Action;
use image_triage::store::ObjectStore;
use image_triage::Provider;

const SECRET: (&str, &str) = ("TRIAGE_MARKER_SECRET", "0123456789abcdef-review-secret");
const BASE: &[(&str, &str)] = &[
    ("TRIAGE_LABELER", "none"),
    ("TRIAGE_MODERATOR", "none"),
    ("TRIAGE_BLOCK_ACTION", "tag"),
    SECRET,
];

fn pipeline(root: &std::path::Path, extra: &[(&str, &str)]) -> Pipeline {
    let pairs: Vec<(&str, &str)> = BASE.iter().chain(extra).copied().collect();
    Pipeline::with_store(config(root, &pairs), store(root))
}

async fn upload(root: &std::path::Path, key: &str, w: u32) {
    store(root)
        .put(
            BUCKET,
            key,
            Bytes::from(png_header(w, 64, 4000)),
            "image/png",
        )
        .await
        .unwrap();
}

async fn deliver(p: &Pipeline, key: &str) -> image_triage::pipeline::Outcome {
    let mut out = p
        .handle_event(&event_for(BUCKET, key, "ObjectCreated:Put"), None)
        .await;
    out.remove(0)
}

#[tokio::test]
async fn a_signed_decision_survives_triage_of_the_same_content_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    upload(root, "in/a.png", 64).await;
    let p = pipeline(root, &[]);
    let o = deliver(&p, "in/a.png").await;
    assert_eq!(
        (o.status, o.verdict.as_deref()),
        ("done", Some("pass")),
        "{o:?}"
    );

    let d = p
        .decide(
            Provider::Local,
            BUCKET,
            "in/a.png",
            Action::Block,
            "ana",
            None,
        )
        .await
        .unwrap();
    let review = d.result.review.clone().unwrap();
    assert!(review.signature.is_some(), "signed under the marker secret");
    let meta = store(root).head(BUCKET, "in/a.png").await.unwrap().metadata;
    assert_eq!(meta["triage-verdict"], "block");
    assert_eq!(meta["triage-reviewed"], "block");
    let tags = store(root).get_tags(BUCKET, "in/a.png").await.unwrap();
    assert!(
        tags.contains(&("triage-blocked".into(), "true".into())),
        "{tags:?}"
    );

    // Re-delivered: finished work, the human's verdict (the marker's signature covers it).
    let o = deliver(&p, "in/a.png").await;
    assert_eq!(
        (o.code.as_deref(), o.verdict.as_deref()),
        (Some("already_processed"), Some("block")),
        "{o:?}"
    );
    // Another configuration: triaged again, the decision written back again, not analysed.
    let changed = pipeline(root, &[("TRIAGE_MAX_LABELS", "3")]);
    let o = deliver(&changed, "in/a.png").await;
    assert_eq!(
        (o.status, o.verdict.as_deref()),
        ("done", Some("block")),
        "{o:?}"
    );
    let s = sidecar(root, "in/a.png");
    assert_eq!(s["review"]["reviewer"], "ana");
    assert!(
        s["notes"].to_string().contains("human decision kept"),
        "{s}"
    );

    // Undo of a `tag` block: the machine verdict again, the block tag gone.
    changed
        .decide(
            Provider::Local,
            BUCKET,
            "in/a.png",
            Action::Undo,
            "ana",
            None,
        )
        .await
        .unwrap();
    let tags = store(root).get_tags(BUCKET, "in/a.png").await.unwrap();
    assert!(!tags.iter().any(|(k, _)| k == "triage-blocked"), "{tags:?}");
    assert_eq!(sidecar(root, "in/a.png")["verdict"]["decision"], "pass");

    // New content under the key: a decision on the old content is refused, nothing written.
    changed
        .decide(
            Provider::Local,
            BUCKET,
            "in/a.png",
            Action::Block,
            "ana",
            None,
        )
        .await
        .unwrap();
    upload(root, "in/a.png", 65).await;
    let before = std::fs::read(root.join(BUCKET).join("triage-results/in/a.png.json")).unwrap();
    let e = changed
        .decide(
            Provider::Local,
            BUCKET,
            "in/a.png",
            Action::Approve,
            "ana",
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::Changed { .. }), "{e}");
    assert!(
        e.to_string().contains("changed since it was analysed"),
        "{e}"
    );
    let after = std::fs::read(root.join(BUCKET).join("triage-results/in/a.png.json")).unwrap();
    assert_eq!(before, after);
    // ... and its own event triages it as usual.
    let o = deliver(&changed, "in/a.png").await;
    assert_eq!(
        (o.status, o.verdict.as_deref()),
        ("done", Some("pass")),
        "{o:?}"
    );
    assert!(sidecar(root, "in/a.png").get("review").is_none());
}

#[tokio::test]
async fn a_planted_decision_does_not_count_and_a_signed_marker_needs_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    upload(root, "in/b.png", 64).await;
    let p = pipeline(root, &[]);
    assert_eq!(deliver(&p, "in/b.png").await.status, "done");
    // An uploader who can write under the results prefix plants an unsigned approval of a
    // block, and says on the object that a human decided.
    let mut s = sidecar(root, "in/b.png");
    let etag = s["object"]["etag"].clone();
    s["verdict"]["decision"] = "block".into();
    s["review"] = serde_json::json!({"decision": "block", "reviewer": "mallory",
        "at": "2026-12-01T00:00:00Z", "etag": etag,
        "machine_verdict": {"decision": "pass", "reason": "", "on_error_applied": false}});
    let key = "triage-results/in/b.png.json";
    let st = store(root);
    st.put(BUCKET, key, Bytes::from(s.to_string()), "application/json")
        .await
        .unwrap();
    let mut meta = st.head(BUCKET, "in/b.png").await.unwrap().metadata;
    meta.insert("triage-reviewed".into(), "block".into());
    st.update_metadata(BUCKET, "in/b.png", &meta).await.unwrap();
    let changed = pipeline(root, &[("TRIAGE_MAX_LABELS", "3")]);
    let o = deliver(&changed, "in/b.png").await;
    assert_eq!(
        (o.status, o.verdict.as_deref()),
        ("done", Some("pass")),
        "{o:?}"
    );
    assert!(sidecar(root, "in/b.png").get("review").is_none());

    // The function signs its markers: `review` without the secret would unsign it.
    let unsigned = Pipeline::with_store(
        config(
            root,
            &[("TRIAGE_LABELER", "none"), ("TRIAGE_MODERATOR", "none")],
        ),
        store(root),
    );
    let e = unsigned
        .decide(
            Provider::Local,
            BUCKET,
            "in/b.png",
            Action::Approve,
            "ana",
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::NeedsSecret { .. }), "{e}");
}

#[tokio::test]
async fn a_decision_needs_the_result_to_describe_the_content_the_page_showed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    upload(root, "in/c.png", 64).await;
    let p = pipeline(root, &[]);
    assert_eq!(deliver(&p, "in/c.png").await.status, "done");
    let etag = sidecar(root, "in/c.png")["object"]["etag"]
        .as_str()
        .unwrap()
        .to_string();
    // The page showed another version of the result.
    let e = p
        .decide(
            BUCKET_PROVIDER,
            BUCKET,
            "in/c.png",
            Action::Block,
            "ana",
            Some("0f0f"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::Changed { .. }), "{e}");
    assert!(e.to_string().contains("the page showed"), "{e}");
    // The signed marker matches the object, but the result describes other content.
    let key = "triage-results/in/c.png.json";
    let mut s = sidecar(root, "in/c.png");
    s["object"]["etag"] = "00000000000000000000000000000000".into();
    store(root)
        .put(BUCKET, key, Bytes::from(s.to_string()), "application/json")
        .await
        .unwrap();
    let e = p
        .decide(
            BUCKET_PROVIDER,
            BUCKET,
            "in/c.png",
            Action::Block,
            "ana",
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::Changed { .. }), "{e}");
    s["object"]["etag"] = etag.clone().into();
    store(root)
        .put(BUCKET, key, Bytes::from(s.to_string()), "application/json")
        .await
        .unwrap();
    p.decide(
        BUCKET_PROVIDER,
        BUCKET,
        "in/c.png",
        Action::Block,
        "ana",
        Some(&etag),
    )
    .await
    .unwrap();

    // The kept verdict comes from the signed decision, not from the stored `verdict`.
    let mut s = sidecar(root, "in/c.png");
    s["verdict"]["decision"] = "pass".into();
    store(root)
        .put(BUCKET, key, Bytes::from(s.to_string()), "application/json")
        .await
        .unwrap();
    let changed = pipeline(root, &[("TRIAGE_MAX_LABELS", "3")]);
    let o = deliver(&changed, "in/c.png").await;
    assert_eq!(
        (o.status, o.verdict.as_deref()),
        ("done", Some("block")),
        "{o:?}"
    );
    assert_eq!(sidecar(root, "in/c.png")["verdict"]["decision"], "block");
}

#[tokio::test]
async fn without_the_metadata_sink_a_decision_is_kept_too() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    upload(root, "in/d.png", 64).await;
    let sinks = ("TRIAGE_SINKS", "tags,sidecar");
    let p = pipeline(root, &[sinks]);
    assert_eq!(deliver(&p, "in/d.png").await.status, "done");
    p.decide(
        BUCKET_PROVIDER,
        BUCKET,
        "in/d.png",
        Action::Block,
        "ana",
        None,
    )
    .await
    .unwrap();
    let meta = store(root).head(BUCKET, "in/d.png").await.unwrap().metadata;
    assert!(!meta.contains_key("triage-reviewed"), "{meta:?}");
    let o = deliver(&p, "in/d.png").await;
    assert_eq!(
        (o.code.as_deref(), o.verdict.as_deref()),
        (Some("already_processed"), Some("block")),
        "{o:?}"
    );
    // A new configuration: the decision is found in the sidecar and kept.
    let changed = pipeline(root, &[sinks, ("TRIAGE_MAX_LABELS", "3")]);
    let o = deliver(&changed, "in/d.png").await;
    assert_eq!(
        (o.status, o.verdict.as_deref()),
        ("done", Some("block")),
        "{o:?}"
    );
    assert!(
        sidecar(root, "in/d.png")["notes"]
            .to_string()
            .contains("human decision kept"),
        "without the fix the configuration change re-triages it as pass"
    );
}

const BUCKET_PROVIDER: Provider = Provider::Local;
