use std::sync::Arc;

use super::*;
use crate::config::trust::Trust;
use crate::object::Provider;
use crate::result::{Label, LabelOutput, Stage, SCHEMA_ID};
use crate::store::local::LocalStore;
use crate::verdict::{Decision, Verdict};

fn secret(s: &str) -> MarkerSecret {
    let t = Trust::from_get(|n| (n == "TRIAGE_MARKER_SECRET").then(|| s.to_string())).unwrap();
    t.marker_secret.unwrap()
}

fn analysed(key: &str, decision: Decision) -> TriageResult {
    TriageResult {
        schema: SCHEMA_ID.into(),
        object: ObjectRef::new(Provider::S3, "photos", key),
        image: None,
        labels: Stage::done(
            "local",
            LabelOutput {
                labels: vec![Label {
                    name: "cat".into(),
                    confidence: 91.5,
                    first_category: None,
                    second_category: None,
                }],
                raw: serde_json::Value::Null,
                flagged: None,
                signals: vec![],
            },
        ),
        moderation: Stage::disabled(),
        text: None,
        image_list: None,
        verdict: Some(Verdict {
            decision,
            reason: "scores below thresholds".into(),
            on_error_applied: false,
        }),
        skip_reason: None,
        actions: vec![crate::result::ActionRecord {
            action: "metadata".into(),
            status: "done".into(),
            detail: None,
        }],
        timings_ms: Default::default(),
        notes: vec![],
        config_hash: "cfg1".into(),
        processed_at: Utc::now(),
        tool: TriageResult::tool(),
        reused: None,
        review: None,
        failure: None,
    }
}

const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[test]
fn a_record_stands_only_for_its_bytes_and_configuration() {
    let r = ContentRecord::new(&analysed("a.jpg", Decision::Pass), SHA, None);
    assert!(r.check(SHA, "cfg1", None).is_ok());
    assert!(
        r.result.actions.is_empty(),
        "the write-back is the key's own"
    );
    let other = SHA.replace('9', "8");
    assert!(r
        .check(&other, "cfg1", None)
        .unwrap_err()
        .contains("other bytes"));
    assert!(r.check(SHA, "cfg2", None).unwrap_err().contains("cfg1"));
    let mut wrong = r.clone();
    wrong.schema = SCHEMA_ID.into();
    assert!(
        wrong.check(SHA, "cfg1", None).is_err(),
        "a sidecar is not a record"
    );
    let mut none = r.clone();
    none.result.verdict = None;
    assert!(none.check(SHA, "cfg1", None).is_err());
}

#[test]
fn with_a_secret_only_a_record_signed_with_it_stands() {
    let s = secret("0123456789abcdef-secret");
    let r = ContentRecord::new(&analysed("a.jpg", Decision::Block), SHA, Some(&s));
    assert!(r.signature.is_some());
    assert!(r.check(SHA, "cfg1", Some(&s)).is_ok());
    // Through JSON and back, as it is stored.
    let back: ContentRecord = serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap();
    assert!(back.check(SHA, "cfg1", Some(&s)).is_ok());

    let mut forged = back.clone();
    forged.result.verdict.as_mut().unwrap().decision = Decision::Pass;
    assert!(forged
        .check(SHA, "cfg1", Some(&s))
        .unwrap_err()
        .contains("signature"));
    let unsigned = ContentRecord::new(&analysed("a.jpg", Decision::Pass), SHA, None);
    assert!(unsigned.check(SHA, "cfg1", Some(&s)).is_err());
    let other = ContentRecord::new(
        &analysed("a.jpg", Decision::Pass),
        SHA,
        Some(&secret("another-secret-of-16+")),
    );
    assert!(other.check(SHA, "cfg1", Some(&s)).is_err());
    let mut moved = back;
    moved.key = "elsewhere.jpg".into();
    assert!(moved.check(SHA, "cfg1", Some(&s)).is_err());
}

#[test]
fn a_reused_result_names_the_new_object_and_where_it_came_from() {
    let r = ContentRecord::new(&analysed("first.jpg", Decision::Review), SHA, None);
    let mut obj = ObjectRef::new(Provider::S3, "photos", "second.jpg");
    obj.etag = Some("e2".into());
    let out = r.reuse_for(&obj, "triage-results/_by-content/x");
    assert_eq!(out.object, obj);
    assert_eq!(out.verdict, r.result.verdict);
    assert_eq!(out.labels, r.result.labels);
    let reuse = out.reused.as_ref().unwrap();
    assert_eq!(
        (reuse.content_sha256.as_str(), reuse.record.as_str()),
        (SHA, "triage-results/_by-content/x")
    );
    // The first key may be another uploader's: not named in the new key's result.
    let json = serde_json::to_string(&out).unwrap();
    assert!(!json.contains("first.jpg"), "{json}");
    assert!(out.actions.is_empty());
    assert!(!worth_remembering(&out), "a reuse is not remembered again");
    assert!(worth_remembering(&analysed("a", Decision::Pass)));
    let mut failed = analysed("a", Decision::Review);
    failed.moderation.status = StageStatus::Failed;
    assert!(!worth_remembering(&failed), "a failed stage is not kept");
    let mut declined = analysed("a", Decision::Review);
    declined.moderation.status = StageStatus::Skipped;
    declined.verdict.as_mut().unwrap().on_error_applied = true;
    assert!(
        !worth_remembering(&declined),
        "an on_error verdict is not kept"
    );
    let mut unlisted = analysed("a", Decision::Pass);
    unlisted.notes.push(format!(
        "{}: sample unreadable",
        super::super::LISTS_NOT_CHECKED
    ));
    assert!(
        !worth_remembering(&unlisted),
        "judged without the image lists"
    );
}

#[test]
fn records_of_ours_never_sit_where_a_sidecar_can() {
    let day = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let counter = counter_key("triage-results/", day);
    assert_eq!(counter, "triage-results/_daily-cap/2026-12-02");
    let content = content_key("triage-results/", SHA);
    for ours in [&counter, &content] {
        assert!(!ours.ends_with(".json"));
        // The object whose sidecar would come closest.
        let key = ours.trim_start_matches("triage-results/");
        assert_ne!(&crate::result::sidecar_key("triage-results/", key), ours);
    }
}

#[tokio::test]
async fn the_counter_grants_up_to_the_cap_then_refuses() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let store = LocalStore::new(dir.path());
    let now = Utc::now();
    for want in 1..=3 {
        assert_eq!(
            reserve(&store, "b", "r/", 3, now).await.unwrap(),
            Reserve::Granted { count: want }
        );
    }
    assert_eq!(
        reserve(&store, "b", "r/", 3, now).await.unwrap(),
        Reserve::Reached { count: 3 }
    );
    // A raised cap lets more through the same day; the next day starts again.
    assert_eq!(
        reserve(&store, "b", "r/", 4, now).await.unwrap(),
        Reserve::Granted { count: 4 }
    );
    let tomorrow = now + chrono::Duration::days(1);
    assert_eq!(
        reserve(&store, "b", "r/", 4, tomorrow).await.unwrap(),
        Reserve::Granted { count: 1 }
    );
    let raw = store
        .get("b", &counter_key("r/", now.date_naive()))
        .await
        .unwrap();
    let c: Counter = serde_json::from_slice(&raw).unwrap();
    assert_eq!((c.count, c.cap, c.schema.as_str()), (4, 4, COUNTER_SCHEMA));
}

#[tokio::test]
async fn concurrent_reservations_never_pass_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let store = Arc::new(LocalStore::new(dir.path()));
    let now = Utc::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let s = store.clone();
        tasks.spawn(async move { reserve(&*s, "b", "r/", 5, now).await.unwrap() });
    }
    let mut granted = vec![];
    while let Some(r) = tasks.join_next().await {
        if let Reserve::Granted { count } = r.unwrap() {
            granted.push(count);
        }
    }
    granted.sort();
    assert_eq!(granted, vec![1, 2, 3, 4, 5]);
}

/// A counter that is not ours (garbage, another schema) does not stop every event of the day:
/// it is replaced, counting from 1.
#[tokio::test]
async fn a_counter_that_is_not_ours_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let store = LocalStore::new(dir.path());
    let now = Utc::now();
    let key = counter_key("r/", now.date_naive());
    let other =
        br#"{"schema":"x","day":"x","count":7,"cap":9,"updated_at":"2026-12-02T00:00:00Z"}"#;
    for junk in [&b"not json"[..], &other[..]] {
        store
            .put("b", &key, Bytes::copy_from_slice(junk), "text/plain")
            .await
            .unwrap();
        assert_eq!(
            reserve(&store, "b", "r/", 3, now).await.unwrap(),
            Reserve::Granted { count: 1 }
        );
    }
    let c: Counter = serde_json::from_slice(&store.get("b", &key).await.unwrap()).unwrap();
    assert_eq!((c.count, c.schema.as_str()), (1, COUNTER_SCHEMA));
}
