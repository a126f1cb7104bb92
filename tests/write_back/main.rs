//! Write-back integrity on the embedded bucket (issue 10): writes apply only to the version that
//! was analysed (`superseded` otherwise), the sidecar exists before anything destructive and
//! before the marker, a quarantined object is never overwritten, and an unwritable sidecar does
//! not make every re-delivery analyse again.

#[path = "../common/mod.rs"]
mod common;
mod hooked;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use common::BUCKET;
use hooked::{Hook, Hooked};
use image_triage::analyzers::*;
use image_triage::pipeline::{Outcome, Pipeline};
use image_triage::preflight::limits::{Limits, TENCENT_IMS};
use image_triage::store::{ObjectStore, StoreError};

const KEY: &str = "in/cat.png";

/// Moderation that blocks everything; optionally replaces the object while it "looks".
struct Blocker {
    calls: AtomicUsize,
    swap: Option<Bytes>,
}

#[async_trait]
impl Moderator for Blocker {
    fn name(&self) -> &'static str {
        "blocker"
    }
    fn limits(&self) -> &Limits {
        &TENCENT_IMS
    }
    fn needs_bytes(&self) -> bool {
        false
    }
    async fn moderate(&self, input: &AnalyzerInput) -> Result<ModerationOutput, AnalyzerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let (Some(body), Some(store)) = (&self.swap, &input.store) {
            let o = &input.object;
            store
                .put(&o.bucket, &o.key, body.clone(), "image/png")
                .await
                .expect("replace during analysis");
        }
        Ok(ModerationOutput {
            suggestion: Suggestion::Block,
            label: "Porn".into(),
            sub_label: None,
            score: 99.0,
            categories: vec![CategoryScore {
                category: "porn".into(),
                score: 99.0,
                label: None,
            }],
            text: None,
            raw: serde_json::Value::Null,
        })
    }
}

fn blocker(swap: Option<Bytes>) -> Arc<Blocker> {
    Arc::new(Blocker {
        calls: AtomicUsize::new(0),
        swap,
    })
}

fn png(seed: u32) -> Bytes {
    let mut b = common::png_header(64 + seed, 64, 4096);
    b[4000] = seed as u8;
    Bytes::from(b)
}

struct Setup {
    _dir: tempfile::TempDir,
    inner: Arc<dyn ObjectStore>,
    hooked: Arc<Hooked>,
    pipeline: Pipeline,
    moderator: Arc<Blocker>,
}

async fn setup(
    action: &str,
    sinks: &str,
    swap: Option<Bytes>,
    rule: impl Fn(&str, &str) -> Hook + Send + Sync + 'static,
) -> Setup {
    setup_with(action, sinks, swap, rule, &[]).await
}

async fn setup_with(
    action: &str,
    sinks: &str,
    swap: Option<Bytes>,
    rule: impl Fn(&str, &str) -> Hook + Send + Sync + 'static,
    extra: &[(&str, &str)],
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn ObjectStore> = common::store(dir.path());
    inner.put(BUCKET, KEY, png(1), "image/png").await.unwrap();
    let hooked = Arc::new(Hooked::new(inner.clone(), rule));
    let mut vars = vec![("TRIAGE_BLOCK_ACTION", action), ("TRIAGE_SINKS", sinks)];
    vars.extend_from_slice(extra);
    let cfg = common::config(dir.path(), &vars);
    let moderator = blocker(swap);
    let pipeline = Pipeline::with_store(cfg, hooked.clone() as Arc<dyn ObjectStore>)
        .with_analyzers(None, Some(moderator.clone() as Arc<dyn Moderator>));
    Setup {
        _dir: dir,
        inner,
        hooked,
        pipeline,
        moderator,
    }
}

async fn run(p: &Pipeline) -> Outcome {
    let ev = common::event_for(BUCKET, KEY, "ObjectCreated:Put");
    p.handle_event(&ev, None).await.remove(0)
}

/// The sidecar of [`KEY`], read from the store behind the wrapper.
async fn sidecar(store: &dyn ObjectStore) -> serde_json::Value {
    let body = store
        .get(BUCKET, "triage-results/in/cat.png.json")
        .await
        .expect("the sidecar exists");
    serde_json::from_slice(&body).unwrap()
}

/// Nothing of ours on the object: no triage-* metadata or tags.
async fn untouched(store: &dyn ObjectStore, key: &str) {
    let m = store.head(BUCKET, key).await.unwrap();
    assert!(
        m.metadata.keys().all(|k| !k.starts_with("triage-")),
        "{m:?}"
    );
    assert!(store.get_tags(BUCKET, key).await.unwrap().is_empty());
}

#[tokio::test]
async fn replaced_during_analysis_nothing_is_written_on_the_new_content() {
    let s = setup(
        "quarantine",
        "metadata,tags,sidecar",
        Some(png(2)),
        |_, _| Hook::Go,
    )
    .await;
    let o = run(&s.pipeline).await;
    assert_eq!(
        (o.status, o.code.as_deref()),
        ("skipped", Some("superseded")),
        "{o:?}"
    );
    assert_eq!(s.inner.get(BUCKET, KEY).await.unwrap(), png(2), "not moved");
    untouched(&*s.inner, KEY).await;
    assert!(s
        .inner
        .head(BUCKET, "triage-quarantine/in/cat.png")
        .await
        .is_err());
    assert!(s
        .inner
        .head(BUCKET, "triage-results/in/cat.png.json")
        .await
        .is_err());
}

#[tokio::test]
async fn replaced_after_the_metadata_write_the_block_action_does_not_touch_it() {
    let s = setup("delete", "metadata,sidecar", None, |_, _| Hook::Go).await;
    s.hooked.replace_after_metadata(KEY, png(3));
    let o = run(&s.pipeline).await;
    assert_eq!(o.code.as_deref(), Some("superseded"), "{o:?}");
    assert_eq!(s.hooked.called("delete"), 0);
    assert_eq!(
        s.inner.get(BUCKET, KEY).await.unwrap(),
        png(3),
        "the new upload survives"
    );
    // The audit record of the analysed version was written before the block action.
    let sc = sidecar(&*s.inner).await;
    assert_eq!(sc["verdict"]["decision"], "block", "{sc}");
}

#[tokio::test]
async fn the_sidecar_is_written_before_the_marker_and_before_a_quarantine() {
    let s = setup("quarantine", "metadata,sidecar", None, |_, _| Hook::Go).await;
    let o = run(&s.pipeline).await;
    assert_eq!(o.status, "done", "{o:?}");
    let calls = s.hooked.calls.lock().unwrap().clone();
    let pos = |op: &str, key: &str| {
        calls
            .iter()
            .position(|(o, k)| o == op && k == key)
            .unwrap_or_else(|| panic!("no {op} {key}: {calls:?}"))
    };
    let sidecar_put = pos("put", "triage-results/in/cat.png.json");
    assert!(sidecar_put < pos("update_metadata_if", KEY), "{calls:?}");
    assert!(sidecar_put < pos("rename", KEY), "{calls:?}");
    // The final sidecar says where the object went.
    let sc = sidecar(&*s.inner).await;
    let actions = sc["actions"].as_array().unwrap();
    let q = actions
        .iter()
        .find(|a| a["action"] == "block:quarantine")
        .unwrap();
    assert_eq!(q["status"], "done", "{sc}");
    assert!(s
        .inner
        .head(BUCKET, "triage-quarantine/in/cat.png")
        .await
        .is_ok());
}

#[tokio::test]
async fn a_quarantined_object_is_never_overwritten() {
    let s = setup("quarantine", "metadata,sidecar", None, |_, _| Hook::Go).await;
    assert_eq!(run(&s.pipeline).await.status, "done");
    let first = s
        .inner
        .get(BUCKET, "triage-quarantine/in/cat.png")
        .await
        .unwrap();
    // Another blocked upload under the same key.
    s.inner.put(BUCKET, KEY, png(4), "image/png").await.unwrap();
    let etag = s.inner.head(BUCKET, KEY).await.unwrap().etag;
    let o = run(&s.pipeline).await;
    assert_eq!(o.status, "done", "{o:?}");
    assert_eq!(
        s.inner
            .get(BUCKET, "triage-quarantine/in/cat.png")
            .await
            .unwrap(),
        first,
        "the earlier quarantined object was overwritten"
    );
    let second = format!("triage-quarantine/in/cat.png~{}", etag.trim_matches('"'));
    assert_eq!(s.inner.get(BUCKET, &second).await.unwrap(), png(4));
}

#[tokio::test]
async fn an_unwritable_sidecar_fails_once_and_is_not_analysed_again() {
    // The marker must stand on its own: signed (without a secret it needs the sidecar).
    let secret = [("TRIAGE_MARKER_SECRET", "write-back-test-secret")];
    let s = setup_with(
        "none",
        "metadata,sidecar",
        None,
        |op, key| {
            if op == "put" && key.starts_with("triage-results/") {
                Hook::Fail(StoreError::remote(
                    BUCKET,
                    key,
                    "put",
                    403,
                    "AccessDenied",
                    "no write access to the results prefix",
                    false,
                ))
            } else {
                Hook::Go
            }
        },
        &secret,
    )
    .await;
    let o = run(&s.pipeline).await;
    assert_eq!(
        (o.status, o.code.as_deref(), o.retryable),
        ("failed", Some("write_back_failed"), false),
        "{o:?}"
    );
    assert!(o.reason.as_deref().unwrap().contains("sidecar"), "{o:?}");
    let m = s.inner.head(BUCKET, KEY).await.unwrap();
    assert!(m.metadata.contains_key("triage-marker"), "{m:?}");
    // A re-delivery finds the marker: the analyzers are not called again.
    let again = run(&s.pipeline).await;
    assert_eq!(
        again.code.as_deref(),
        Some("already_processed"),
        "{again:?}"
    );
    assert_eq!(s.moderator.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_run_that_died_before_the_marker_is_finished_by_the_redelivery() {
    // The metadata write fails once (the process "dies" after the sidecar).
    let failed = Arc::new(AtomicUsize::new(0));
    let f = failed.clone();
    let s = setup("none", "metadata,sidecar", None, move |op, key| {
        if op == "update_metadata_if" && f.fetch_add(1, Ordering::SeqCst) == 0 {
            Hook::Fail(StoreError::remote(
                BUCKET, key, "copy", 503, "SlowDown", "busy", true,
            ))
        } else {
            Hook::Go
        }
    })
    .await;
    let o = run(&s.pipeline).await;
    assert_eq!((o.status, o.retryable), ("failed", true), "{o:?}");
    assert!(s
        .inner
        .head(BUCKET, "triage-results/in/cat.png.json")
        .await
        .is_ok());
    let o = run(&s.pipeline).await;
    assert_eq!(o.status, "done", "{o:?}");
    let o = run(&s.pipeline).await;
    assert_eq!(o.code.as_deref(), Some("already_processed"), "{o:?}");
    // The copy event of the write-back is recognised too.
    let copy = common::event_for(BUCKET, KEY, "ObjectCreated:Copy");
    let o = s.pipeline.handle_event(&copy, None).await.remove(0);
    assert_eq!(o.code.as_deref(), Some("write_back_copy"), "{o:?}");
    // The redelivery reused the content record the first run wrote before it died (content
    // dedupe): one analysis in all.
    assert_eq!(s.moderator.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_copy_that_changed_the_etag_is_recognised_by_its_content() {
    let s = setup("none", "metadata,sidecar", None, |_, _| Hook::Go).await;
    assert_eq!(run(&s.pipeline).await.status, "done");
    let m = s.inner.head(BUCKET, KEY).await.unwrap();
    let marker = m.metadata["triage-marker"].clone();
    // As S3 leaves a multipart or SSE-KMS object after the metadata copy: the marker (and the
    // sidecar) name the ETag that was analysed, the object now has another, and the content
    // hash is recorded.
    let sha = image_triage::client::sign::sha256_hex(&s.inner.get(BUCKET, KEY).await.unwrap());
    let entries: std::collections::BTreeMap<String, String> = [
        ("triage-marker", marker.clone()),
        ("triage-content", format!("sha256:{sha}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    s.inner
        .update_metadata(BUCKET, KEY, &entries)
        .await
        .unwrap();
    s.hooked
        .report_etag(Some("0123456789abcdef0123456789abcdef-2"));
    let copy = common::event_for(BUCKET, KEY, "ObjectCreated:Copy");
    let reads = s.hooked.called("get_range");
    let o = s.pipeline.handle_event(&copy, None).await.remove(0);
    assert_eq!(o.code.as_deref(), Some("write_back_copy"), "{o:?}");
    assert!(
        s.hooked.called("get_range") > reads,
        "the content was read to compare"
    );
    // Other bytes under that marker and hash: analysed again.
    s.hooked.report_etag(None);
    s.inner.put(BUCKET, KEY, png(5), "image/png").await.unwrap();
    s.inner
        .update_metadata(BUCKET, KEY, &entries)
        .await
        .unwrap();
    s.hooked
        .report_etag(Some("0123456789abcdef0123456789abcdef-2"));
    let o = s.pipeline.handle_event(&copy, None).await.remove(0);
    // Analysed (the faked ETag then makes the write-back stop as superseded).
    assert_ne!(o.code.as_deref(), Some("write_back_copy"), "{o:?}");
    assert_eq!(s.moderator.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn private_on_a_bucket_without_acls_is_a_failed_action_with_its_own_code() {
    // S3 answers so where object ownership is "bucket owner enforced" (moto does not enforce it).
    let s = setup("private", "metadata,sidecar", None, |op, key| {
        if op == "set_private" {
            Hook::Fail(StoreError::remote(
                BUCKET,
                key,
                "PUT ?acl",
                400,
                "AccessControlListNotSupported",
                "The bucket does not allow ACLs",
                false,
            ))
        } else {
            Hook::Go
        }
    })
    .await;
    let o = run(&s.pipeline).await;
    assert_eq!(
        (o.status, o.code.as_deref(), o.retryable),
        ("failed", Some("acl_not_supported"), false),
        "{o:?}"
    );
    // Recorded where a user looks: the sidecar carries the failure.
    let sc = sidecar(&*s.inner).await;
    assert_eq!(sc["failure"]["code"], "acl_not_supported", "{sc}");
    // A failed action, not a failed write-back: the results went out, with the action failed.
    assert_eq!(sc["verdict"]["decision"], "block", "{sc}");
    let private = sc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "block:private")
        .unwrap();
    assert_eq!(private["status"], "failed", "{sc}");
    let m = s.inner.head(BUCKET, KEY).await.unwrap();
    assert_eq!(m.metadata["triage-verdict"], "block", "{m:?}");
    let again = run(&s.pipeline).await;
    assert_eq!(
        again.code.as_deref(),
        Some("already_processed"),
        "{again:?}"
    );
    assert_eq!(s.moderator.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_metadata_copy_refused_by_its_precondition_is_superseded() {
    // What S3/COS/OBS answer when the object changed between the check and the copy.
    let s = setup("quarantine", "metadata,sidecar", None, |op, key| {
        if op == "update_metadata_if" {
            Hook::Fail(StoreError::remote(
                BUCKET,
                key,
                "copy",
                412,
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
                false,
            ))
        } else {
            Hook::Go
        }
    })
    .await;
    let o = run(&s.pipeline).await;
    assert_eq!(
        (o.status, o.code.as_deref()),
        ("skipped", Some("superseded")),
        "{o:?}"
    );
    assert_eq!(s.hooked.called("rename"), 0, "not quarantined");
    let sc = sidecar(&*s.inner).await;
    let meta = sc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "metadata")
        .unwrap();
    assert_eq!(
        meta["status"], "skipped",
        "the sidecar does not claim it: {sc}"
    );
}

#[tokio::test]
async fn a_key_too_long_for_a_sidecar_gets_a_bounded_one() {
    let s = setup("none", "metadata,sidecar", None, |_, _| Hook::Go).await;
    let key = format!(
        "in/{}/{}/{}/{}/{}.png",
        "a".repeat(200),
        "b".repeat(200),
        "c".repeat(200),
        "d".repeat(200),
        "e".repeat(180)
    );
    s.inner
        .put(BUCKET, &key, png(6), "image/png")
        .await
        .unwrap();
    let ev = common::event_for(BUCKET, &key, "ObjectCreated:Put");
    let o = s.pipeline.handle_event(&ev, None).await.remove(0);
    assert_eq!(o.status, "done", "{o:?}");
    let sidecar = o.result_key.clone().unwrap();
    assert!(
        sidecar.starts_with("triage-results/long-keys/"),
        "{sidecar}"
    );
    let sc: serde_json::Value =
        serde_json::from_slice(&s.inner.get(BUCKET, &sidecar).await.unwrap()).unwrap();
    assert_eq!(sc["object"]["key"], key.as_str());
    assert!(sc["notes"].to_string().contains("too long"), "{sc}");
    let m = s.inner.head(BUCKET, &key).await.unwrap();
    assert!(m.metadata["triage-result"].contains("long-keys"), "{m:?}");
    let again = s.pipeline.handle_event(&ev, None).await.remove(0);
    assert_eq!(
        again.code.as_deref(),
        Some("already_processed"),
        "{again:?}"
    );
}

/// `serve` with an early reply: no retry will come, so even a retryable failure is kept in the
/// sidecar, where a user looks.
#[tokio::test]
async fn a_failure_nobody_retries_is_recorded_in_the_sidecar() {
    let s = setup("none", "metadata,sidecar", None, |_, _| Hook::Go).await;
    let obj = image_triage::ObjectRef::new(image_triage::Provider::S3, BUCKET, KEY);
    let failed = Outcome::failed(Some(&obj), "analyzer_unavailable", "ims: throttled", true);
    s.pipeline
        .record_unretried(&[failed], image_triage::Provider::S3)
        .await;
    let sc = sidecar(&*s.inner).await;
    assert_eq!(sc["failure"]["code"], "analyzer_unavailable", "{sc}");
    assert_eq!(sc["failure"]["retryable"], true);
    assert_eq!(sc["object"]["key"], KEY);
    untouched(&*s.inner, KEY).await;
}

#[tokio::test]
async fn the_tag_block_action_is_carried_out_and_recorded() {
    let s = setup("tag", "metadata,sidecar", None, |_, _| Hook::Go).await;
    let o = run(&s.pipeline).await;
    assert_eq!(
        (o.status, o.verdict.as_deref()),
        ("done", Some("block")),
        "{o:?}"
    );
    let tags = s.inner.get_tags(BUCKET, KEY).await.unwrap();
    assert!(
        tags.contains(&("triage-blocked".to_string(), "true".to_string())),
        "{tags:?}"
    );
    let sc = sidecar(&*s.inner).await;
    assert!(sc["actions"].to_string().contains("block:tag"), "{sc}");
}
