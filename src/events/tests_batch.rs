//! Batch invocations (`batch.rs`): the fixtures in `events/` parsed in full, keys in every
//! encoding, malformed tasks and invocations, and the response mapping.

use serde_json::{json, Value};

use super::{
    detect, respond, result_code, result_string, BatchError, BatchInvocation, ResultCode,
    MAX_RESULT_STRING, MAX_TASKS,
};
use crate::events::{parse_event, EventError, EventRecord};
use crate::object::{ObjectRef, Provider};
use crate::pipeline::Outcome;

fn fixture(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn invocation(v: &Value, hint: Option<Provider>) -> BatchInvocation {
    detect(v, hint)
        .expect("a batch invocation")
        .expect("answerable")
}

fn object(inv: &BatchInvocation, i: usize) -> &ObjectRef {
    match &inv.tasks[i].record {
        EventRecord::Process(o) => o,
        other => panic!("task {i} is {other:?}"),
    }
}

fn invalid_reason(inv: &BatchInvocation, i: usize) -> &str {
    match &inv.tasks[i].record {
        EventRecord::Invalid { index, reason } => {
            assert_eq!(*index, i);
            reason
        }
        other => panic!("task {i} is {other:?}"),
    }
}

fn v1(tasks: Value) -> Value {
    json!({"invocationSchemaVersion": "1.0", "invocationId": "inv", "job": {"id": "j"}, "tasks": tasks})
}

fn v2(tasks: Value) -> Value {
    json!({"invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "j"}, "tasks": tasks})
}

#[test]
fn s3_schema_1_0_fixture_decodes_the_url_encoded_key() {
    let inv = invocation(&fixture("s3-batch-1.0.json"), Some(Provider::S3));
    assert_eq!(inv.schema_version, "1.0");
    assert_eq!(
        inv.invocation_id,
        "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo"
    );
    assert_eq!(
        inv.job_id.as_deref(),
        Some("f3cc4f60-61f6-4a2b-8a21-d07600c373ce")
    );
    assert_eq!(inv.treat_missing_keys_as, ResultCode::PermanentFailure);
    assert_eq!(inv.tasks.len(), 1);
    let task = &inv.tasks[0];
    assert_eq!(task.task_id, "dGFza2lkZ29lc2hlcmUK");
    let o = object(&inv, 0);
    assert_eq!(
        (o.provider, o.bucket.as_str()),
        (Provider::S3, "amzn-s3-demo-bucket")
    );
    assert_eq!(o.key, "photos/2024/red flower (1)+été.jpg");
    assert_eq!(o.version_id.as_deref(), Some("1"));
    // `+` read as a literal plus, then the key as sent: tried only if the first names nothing.
    assert_eq!(
        task.other_keys,
        [
            "photos/2024/red+flower+(1)+été.jpg",
            "photos/2024/red+flower+(1)%2B%C3%A9t%C3%A9.jpg"
        ]
    );
    assert_eq!(
        task.raw_key.as_deref(),
        Some("photos/2024/red+flower+(1)%2B%C3%A9t%C3%A9.jpg")
    );
}

#[test]
fn s3_schema_2_0_fixture_takes_the_key_as_sent_first() {
    let inv = invocation(&fixture("s3-batch-2.0.json"), Some(Provider::S3));
    assert_eq!(inv.schema_version, "2.0");
    assert_eq!(inv.treat_missing_keys_as, ResultCode::Succeeded);
    assert_eq!(inv.user_arguments["note"], "backfill 2025-07");
    let o = object(&inv, 0);
    assert_eq!(o.bucket, "amzn-s3-demo-bucket");
    assert_eq!(o.key, "albums/summer 2024/IMG 0042+1 猫.jpg");
    assert_eq!(o.version_id, None, "null version");
    assert_eq!(
        inv.tasks[0].other_keys,
        ["albums/summer 2024/IMG 0042 1 猫.jpg"]
    );
    // An encoded 2.0 key (if AWS sends one) is found through its decoded reading.
    let inv = invocation(
        &v2(
            json!([{"taskId": "t", "s3Key": "a%20b%2Bc.png", "s3Bucket": "b", "s3VersionId": "null"}]),
        ),
        None,
    );
    assert_eq!(object(&inv, 0).key, "a%20b%2Bc.png");
    assert_eq!(object(&inv, 0).version_id, None);
    assert_eq!(inv.tasks[0].other_keys, ["a b+c.png"]);
}

#[test]
fn cos_fixtures_in_both_spellings() {
    // S3 spelling with a qcs ARN: COS inferred without a hint, region from the ARN.
    let inv = invocation(&fixture("cos-batch.json"), None);
    assert_eq!(inv.provider, Provider::Cos);
    let o = object(&inv, 0);
    assert_eq!(
        (o.bucket.as_str(), o.key.as_str()),
        ("photos-1250000000", "photos/猫 cat+1.jpg")
    );
    assert_eq!(o.region.as_deref(), Some("ap-guangzhou"));
    assert_eq!(o.version_id, None, "empty version");
    assert_eq!(inv.tasks[0].other_keys, ["photos/猫 cat 1.jpg"]);
    // COS spelling, percent-encoded key: sent form first, then decoded.
    let inv = invocation(&fixture("cos-batch-cos-fields.json"), Some(Provider::Cos));
    let o = object(&inv, 0);
    assert_eq!(
        (o.provider, o.bucket.as_str()),
        (Provider::Cos, "photos-1250000000")
    );
    assert_eq!(o.key, "photos/%E7%8C%AB%20cat%2B1.jpg");
    assert_eq!(inv.tasks[0].other_keys, ["photos/猫 cat+1.jpg"]);
    assert_eq!(o.version_id.as_deref(), Some("MTg0NDUxNzcwMDUxNzYwODM3NjQ"));
    // The runtime's hint wins over the inference.
    assert_eq!(
        invocation(&fixture("cos-batch.json"), Some(Provider::S3)).provider,
        Provider::S3
    );
}

#[test]
fn bucket_arns_of_every_documented_form() {
    let inv = invocation(
        &v1(json!([
            {"taskId": "a", "s3Key": "k", "s3BucketArn": "arn:aws:s3:us-east-1:0123456788:awsexamplebucket1"},
            {"taskId": "b", "s3Key": "k", "s3BucketArn": "arn:aws-cn:s3:::cn-bucket"},
            {"taskId": "c", "s3Key": "k", "cosBucketArn": "qcs::cos:ap-beijing:uid/1250000000:photos"},
            {"taskId": "d", "s3Key": "k", "s3BucketArn": "plain-name"},
            {"taskId": "e", "s3Key": "k", "s3BucketArn": "arn:aws:iam::123:role/x"},
            {"taskId": "f", "s3Key": "k", "s3BucketArn": "arn:aws:s3:::"},
            {"taskId": "g", "s3Key": "k", "s3Bucket": "a/b"},
        ])),
        Some(Provider::S3),
    );
    let o = object(&inv, 0);
    assert_eq!(
        (o.bucket.as_str(), o.region.as_deref()),
        ("awsexamplebucket1", Some("us-east-1"))
    );
    assert_eq!(object(&inv, 1).bucket, "cn-bucket");
    assert_eq!(object(&inv, 1).region, None);
    assert_eq!(object(&inv, 2).bucket, "photos-1250000000", "appid added");
    assert_eq!(object(&inv, 3).bucket, "plain-name");
    for i in [4, 5, 6] {
        assert!(
            invalid_reason(&inv, i).contains("bucket"),
            "{:?}",
            inv.tasks[i]
        );
    }
}

#[test]
fn keys_with_spaces_unicode_plus_and_bad_escapes() {
    let inv = invocation(
        &v1(json!([
            {"taskId": "a", "s3Key": "in/cat photo.png", "s3BucketArn": "arn:aws:s3:::b"},
            {"taskId": "b", "s3Key": "in/%E7%8C%AB+%2B1.png", "s3BucketArn": "arn:aws:s3:::b"},
            {"taskId": "c", "s3Key": "in/100%.png", "s3BucketArn": "arn:aws:s3:::b"},
            {"taskId": "d", "s3Key": "in/%FF.png", "s3BucketArn": "arn:aws:s3:::b"},
        ])),
        None,
    );
    assert_eq!(object(&inv, 0).key, "in/cat photo.png");
    assert!(inv.tasks[0].other_keys.is_empty());
    assert_eq!(object(&inv, 1).key, "in/猫 +1.png");
    assert_eq!(
        inv.tasks[1].other_keys,
        ["in/猫++1.png", "in/%E7%8C%AB+%2B1.png"]
    );
    // Not a URL encoding's output: the key as sent is the only reading.
    assert_eq!(object(&inv, 2).key, "in/100%.png");
    assert!(inv.tasks[2].other_keys.is_empty());
    assert_eq!(object(&inv, 3).key, "in/%FF.png", "not UTF-8 once decoded");
}

#[test]
fn malformed_tasks_are_invalid_tasks_not_panics() {
    let inv = invocation(
        &v2(json!([
            "not an object",
            {"s3Key": "k", "s3Bucket": "b"},
            {"taskId": "no-key", "s3Bucket": "b"},
            {"taskId": "empty-key", "s3Key": "", "s3Bucket": "b"},
            {"taskId": "no-bucket", "s3Key": "k"},
            {"taskId": 7, "s3Key": ["k"], "s3Bucket": "b"},
            null,
        ])),
        Some(Provider::S3),
    );
    assert_eq!(inv.tasks.len(), 7);
    assert!(invalid_reason(&inv, 0).contains("a JSON string"));
    assert_eq!(inv.tasks[1].task_id, "");
    assert!(invalid_reason(&inv, 1).contains("taskId"));
    assert!(invalid_reason(&inv, 2).contains("s3Key"));
    assert!(invalid_reason(&inv, 3).contains("s3Key"));
    assert!(invalid_reason(&inv, 4).contains("`s3Bucket`"));
    assert_eq!(inv.tasks[5].task_id, "7", "numeric ids are echoed as text");
    assert!(invalid_reason(&inv, 5).contains("s3Key"));
    assert!(invalid_reason(&inv, 6).contains("JSON null"));
    // 1.0 names its own bucket field.
    let inv = invocation(&v1(json!([{"taskId": "t", "s3Key": "k"}])), None);
    assert!(invalid_reason(&inv, 0).contains("`s3BucketArn`"));
    // Every task is answered, each a permanent failure saying why.
    let outcomes: Vec<Outcome> = (0..7)
        .map(|i| Outcome::failed(None, "invalid_record", format!("record {i}: x"), false))
        .collect();
    let inv = invocation(&v2(json!([{"taskId": "a"}, {"taskId": "b"}])), None);
    let r = respond(&inv, &outcomes[..1]);
    assert_eq!(r["results"][0]["resultCode"], "PermanentFailure");
    assert_eq!(r["results"][1]["taskId"], "b", "no outcome: still answered");
    assert_eq!(r["results"][1]["resultCode"], "PermanentFailure");
}

#[test]
fn unknown_schema_versions_fail_every_task_and_are_echoed() {
    for version in [json!("3.0"), json!(null), json!({"v": 1})] {
        let v = json!({"invocationSchemaVersion": version, "invocationId": "inv",
                       "tasks": [{"taskId": "t", "s3Key": "k", "s3Bucket": "b"}]});
        let inv = invocation(&v, Some(Provider::S3));
        assert!(
            invalid_reason(&inv, 0).contains("invocationSchemaVersion"),
            "{version}"
        );
        let outcome = Outcome::failed(None, "invalid_record", invalid_reason(&inv, 0), false);
        let r = respond(&inv, &[outcome]);
        assert_eq!(r["results"][0]["resultCode"], "PermanentFailure");
        assert_eq!(r["invocationSchemaVersion"], version.as_str().unwrap_or(""));
    }
}

#[test]
fn empty_huge_and_broken_invocations() {
    let inv = invocation(&v1(json!([])), None);
    assert!(inv.tasks.is_empty());
    assert_eq!(respond(&inv, &[])["results"], json!([]));
    let many: Vec<Value> = (0..MAX_TASKS)
        .map(|i| json!({"taskId": i.to_string()}))
        .collect();
    assert_eq!(invocation(&v1(json!(many)), None).tasks.len(), MAX_TASKS);
    let huge: Vec<Value> = (0..1_000_000).map(|_| json!(null)).collect();
    assert_eq!(
        detect(&v1(json!(huge)), None),
        Some(Err(BatchError::TooManyTasks { count: 1_000_000 }))
    );
    let no_id = json!({"invocationSchemaVersion": "1.0", "tasks": []});
    assert_eq!(detect(&no_id, None), Some(Err(BatchError::NoInvocationId)));
    let not_array = json!({"invocationId": "i", "tasks": {"taskId": "t"}});
    assert!(matches!(
        detect(&not_array, None),
        Some(Err(BatchError::TasksNotArray { .. }))
    ));
    // Not batch invocations at all.
    for v in [
        fixture("s3-put.json"),
        json!({"tasks": []}),
        json!([1]),
        json!("x"),
    ] {
        assert_eq!(detect(&v, None), None, "{v}");
    }
    let with_records = json!({"invocationId": "i", "tasks": [], "Records": []});
    assert_eq!(detect(&with_records, None), None);
}

#[test]
fn parse_event_says_a_batch_invocation_is_answered_elsewhere() {
    let body = serde_json::to_vec(&fixture("s3-batch-2.0.json")).unwrap();
    let e = parse_event(&body, Some(Provider::S3)).unwrap_err();
    assert_eq!(e, EventError::BatchInvocation);
    assert!(e.to_string().contains("Batch Operations"), "{e}");
    let e = parse_event(br#"{"invocationId": "i", "tasks": 3}"#, None).unwrap_err();
    assert!(
        matches!(
            e,
            EventError::InvalidBatch(BatchError::TasksNotArray { .. })
        ),
        "{e}"
    );
    assert!(e.to_string().contains("not an array"), "{e}");
}

fn done(verdict: &str) -> Outcome {
    Outcome {
        status: "done",
        code: None,
        reason: None,
        verdict: Some(verdict.into()),
        ..Outcome::skipped(None, "x", "")
    }
}

#[test]
fn outcomes_map_to_result_codes_and_short_strings() {
    let pf = ResultCode::PermanentFailure;
    let mut already = Outcome::skipped(None, "already_processed", "marker matches");
    already.verdict = Some("block".into());
    let cases = [
        (done("pass"), pf, ResultCode::Succeeded, "done pass"),
        (
            already,
            pf,
            ResultCode::Succeeded,
            "skipped already_processed block",
        ),
        (
            Outcome::skipped(None, "not_an_image", "text/plain"),
            pf,
            ResultCode::Succeeded,
            "skipped not_an_image",
        ),
        (
            Outcome::skipped(None, "object_gone", "gone"),
            pf,
            pf,
            "skipped object_gone",
        ),
        (
            Outcome::skipped(None, "object_gone", "gone"),
            ResultCode::Succeeded,
            ResultCode::Succeeded,
            "skipped object_gone",
        ),
        (
            Outcome::skipped(None, "daily_cap", "cap reached"),
            ResultCode::Succeeded,
            pf,
            "skipped daily_cap",
        ),
        (
            Outcome::failed(None, "daily_cap", "cap reached", true),
            pf,
            pf,
            "failed daily_cap: cap reached",
        ),
        (
            Outcome::failed(None, "store_error", "timed out", true),
            pf,
            ResultCode::TemporaryFailure,
            "failed store_error: timed out",
        ),
        (
            Outcome::failed(None, "invalid_bucket", "bad name", false),
            pf,
            pf,
            "failed invalid_bucket: bad name",
        ),
    ];
    for (outcome, treat, want, text) in cases {
        assert_eq!(result_code(&outcome, treat), want, "{outcome:?}");
        assert_eq!(result_string(&outcome), text);
    }
    // Long multi-line vendor errors: one line, capped.
    let long = format!("line one\r\n\tline two {}", "x".repeat(500));
    let s = result_string(&Outcome::failed(None, "store_error", long, true));
    assert!(
        s.starts_with("failed store_error: line one line two x"),
        "{s}"
    );
    assert_eq!(s.chars().count(), MAX_RESULT_STRING);
    assert!(s.ends_with('…') && !s.contains('\n') && !s.contains('\r'));
}

#[test]
fn the_response_echoes_ids_and_the_missing_key_policy() {
    let inv = invocation(&fixture("s3-batch-2.0.json"), Some(Provider::S3));
    let r = respond(&inv, &[Outcome::skipped(None, "object_gone", "gone")]);
    assert_eq!(
        r,
        json!({
            "invocationSchemaVersion": "2.0",
            "treatMissingKeysAs": "Succeeded",
            "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
            "results": [{"taskId": "dGFza2lkZ29lc2hlcmUK", "resultCode": "Succeeded",
                         "resultString": "skipped object_gone"}]
        })
    );
    // A top-level value is read too; an unknown one is ignored.
    let mut v = v1(json!([]));
    v["treatMissingKeysAs"] = json!("TemporaryFailure");
    assert_eq!(
        invocation(&v, None).treat_missing_keys_as,
        ResultCode::TemporaryFailure
    );
    v["treatMissingKeysAs"] = json!("Maybe");
    assert_eq!(
        invocation(&v, None).treat_missing_keys_as,
        ResultCode::PermanentFailure
    );
}
