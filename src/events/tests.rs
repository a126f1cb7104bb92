//! COS and OBS fixtures in `events/` parsed in full (AWS shapes: `tests_aws.rs`), and the helpers
//! both fixture test files share.

use std::collections::BTreeMap;

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../events/", $name))
    };
}
pub(super) use fixture;

pub(super) fn parse(body: &str, hint: Option<Provider>) -> Vec<EventRecord> {
    match parse_event(body.as_bytes(), hint) {
        Ok(records) => records,
        Err(e) => panic!("expected records, got error: {e}"),
    }
}

pub(super) fn one(body: &str, hint: Option<Provider>) -> EventRecord {
    let mut records = parse(body, hint);
    assert_eq!(records.len(), 1, "{records:#?}");
    records.remove(0)
}

pub(super) fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(super) fn opt(s: &str) -> Option<String> {
    Some(s.to_owned())
}

pub(super) fn not_created(event_name: &str) -> SkipReason {
    SkipReason::NotObjectCreated {
        event_name: event_name.to_owned(),
    }
}

// ------------------------------------------------------------------------------------------ COS

#[test]
fn cos_put() {
    let expected = ObjectRef {
        region: opt("ap-guangzhou"),
        size: Some(48213),
        url: opt("http://testpic-1253970026.cos.ap-guangzhou.myqcloud.com/photos/cat.jpg"),
        event_name: opt("cos:ObjectCreated:Put"),
        event_meta: meta(&[
            ("content-type", "image/jpeg"),
            ("x-cos-meta-mykey", "myvalue"),
            (
                "x-cos-request-id",
                "NWMxOWY4MGFfMjViMjU4NjRfMTUyMV8yNzhhZjM=",
            ),
        ]),
        ..ObjectRef::new(Provider::Cos, "testpic-1253970026", "photos/cat.jpg")
    };
    assert_eq!(
        one(fixture!("cos-put.json"), None),
        EventRecord::Process(expected.clone())
    );
    // COS records are unambiguous: a wrong hint does not change them.
    assert_eq!(
        one(fixture!("cos-put.json"), Some(Provider::S3)),
        EventRecord::Process(expected.clone())
    );
    // The same record as the message body of SCF's CMQ trigger (what `scan --enqueue cmq://`
    // sends): unwrapped like an SQS body.
    assert_eq!(
        one(fixture!("cmq-cos.json"), Some(Provider::Cos)),
        EventRecord::Process(expected)
    );
}

#[test]
fn cmq_trigger_without_a_json_body_is_an_invalid_record() {
    let ev = r#"{"Records":[{"CMQ":{"type":"queue","msgId":"1","msgBody":"Hello from CMQ!"}},
        {"CMQ":{"type":"topic","msgId":"2"}}]}"#;
    let records = parse(ev, Some(Provider::Cos));
    assert_eq!(records.len(), 2);
    for (i, r) in records.iter().enumerate() {
        match r {
            EventRecord::Invalid { index, reason } => {
                assert_eq!(*index, i);
                assert!(reason.contains("CMQ.msgBody"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn cos_put_legacy_host() {
    let expected = ObjectRef {
        // Legacy `cosbj` host and short code `bj`: region from the table.
        region: opt("ap-beijing"),
        size: Some(1024),
        version_id: opt("15945fbff94a6476647d1e08b64ed9f71566028555"),
        url: opt("http://ritchiechen-cos-test-123456.cosbj.myqcloud.com/uploads/foobar.png"),
        event_name: opt("cos:ObjectCreated:Post"),
        event_meta: meta(&[
            (
                "content-type",
                "multipart/form-data; boundary=--------------------------596145496123040012358932",
            ),
            ("x-cos-request-id", "NWQ3ZWEyNTJfNzQyOTIyMDlfNzUxNl82NWY="),
        ]),
        ..ObjectRef::new(
            Provider::Cos,
            "ritchiechen-cos-test-123456",
            "uploads/foobar.png",
        )
    };
    assert_eq!(
        one(fixture!("cos-put-legacy-host.json"), None),
        EventRecord::Process(expected)
    );
}

#[test]
fn cos_copy_is_processed() {
    let expected = ObjectRef {
        region: opt("ap-guangzhou"),
        size: Some(48213),
        url: opt("http://testpic-1253970026.cos.ap-guangzhou.myqcloud.com/photos/cat-copy.jpg"),
        event_name: opt("cos:ObjectCreated:Copy"),
        event_meta: meta(&[
            ("content-type", "image/jpeg"),
            (
                "x-cos-request-id",
                "NWMxOWY4MGFfMjViMjU4NjRfMTUyMV8yNzhhZjM=",
            ),
        ]),
        ..ObjectRef::new(Provider::Cos, "testpic-1253970026", "photos/cat-copy.jpg")
    };
    assert_eq!(
        one(fixture!("cos-copy.json"), None),
        EventRecord::Process(expected)
    );
}

#[test]
fn cos_remove_is_skipped_with_object() {
    let expected = ObjectRef {
        region: opt("ap-chengdu"),
        size: Some(0),
        url: opt("http://testpic-1253970026.cos.ap-chengdu.myqcloud.com/photos/old.jpg"),
        event_name: opt("cos:ObjectRemove:Delete"),
        event_meta: meta(&[(
            "x-cos-request-id",
            "NWMxOWY4MGFfMjViMjU4NjRfMTUyMV8yOTk5MDA=",
        )]),
        ..ObjectRef::new(Provider::Cos, "testpic-1253970026", "photos/old.jpg")
    };
    assert_eq!(
        one(fixture!("cos-remove.json"), None),
        EventRecord::Skip {
            object: Some(expected),
            reason: not_created("cos:ObjectRemove:Delete"),
        }
    );
}

#[test]
fn cos_origin_pull_is_replication() {
    let expected = ObjectRef {
        region: opt("ap-shanghai"),
        size: Some(20480),
        url: opt("http://testpic-1253970026.cos.ap-shanghai.myqcloud.com/mirror/banner.png"),
        event_name: opt("cos:ObjectCreated:Origin"),
        event_meta: meta(&[
            ("content-type", "image/png"),
            (
                "x-cos-request-id",
                "NWMxOWY4MGFfMjViMjU4NjRfMTUyMV8zMDAwMDE=",
            ),
        ]),
        ..ObjectRef::new(Provider::Cos, "testpic-1253970026", "mirror/banner.png")
    };
    let record = one(fixture!("cos-origin-pull.json"), None);
    assert_eq!(
        record,
        EventRecord::Skip {
            object: Some(expected),
            reason: SkipReason::Replication {
                event_name: "cos:ObjectCreated:Origin".to_owned()
            },
        }
    );
}

#[test]
fn cos_nonascii_key_from_url_path() {
    let expected = ObjectRef {
        region: opt("ap-guangzhou"),
        size: Some(51200),
        url: opt(
            "http://testpic-1253970026.cos.ap-guangzhou.myqcloud.com/photos/%E4%B8%AD%20%E6%96%87+1.jpg",
        ),
        event_name: opt("cos:ObjectCreated:Put"),
        event_meta: meta(&[
            ("content-type", "image/jpeg"),
            ("x-cos-meta-uploader", "li.lei"),
            ("x-cos-request-id", "NWMxOWY4MGFfMjViMjU4NjRfMTUyMV8zMDAwMDI="),
        ]),
        // `+` in a URL path is a plus, not a space.
        ..ObjectRef::new(Provider::Cos, "testpic-1253970026", "photos/中 文+1.jpg")
    };
    assert_eq!(
        one(fixture!("cos-nonascii-key.json"), None),
        EventRecord::Process(expected)
    );
}

/// A COS record built around the given `cosObject` / `cosBucket` / `eventTime`.
fn cos_event(object: Value, bucket: Value, event_time: Value) -> String {
    serde_json::json!({"Records": [{
        "cos": {"cosSchemaVersion": "1.0", "cosObject": object, "cosBucket": bucket},
        "event": {"eventName": "cos:ObjectCreated:Put", "eventTime": event_time, "eventSource": "qcs::cos"}
    }]})
    .to_string()
}

fn default_bucket() -> Value {
    serde_json::json!({"region": "gz", "name": "testpic", "appid": "1253970026"})
}

#[test]
fn cos_key_field_encoded_or_raw_without_url() {
    // UNVERIFIED whether `key` is percent-encoded: both forms give the same key.
    for key in [
        "/1253970026/testpic/photos/中 文+1.jpg",
        "/1253970026/testpic/photos/%E4%B8%AD%20%E6%96%87+1.jpg",
    ] {
        let body = cos_event(
            serde_json::json!({"key": key, "size": 1, "vid": ""}),
            default_bucket(),
            serde_json::json!(1545205770),
        );
        let record = one(&body, None);
        let object = record.object().expect("object");
        assert_eq!(object.key, "photos/中 文+1.jpg", "{key}");
        assert_eq!(object.region.as_deref(), Some("ap-guangzhou"));
        assert_eq!(object.url, None);
    }
}

#[test]
fn cos_url_wins_when_key_field_disagrees() {
    let body = cos_event(
        serde_json::json!({
            "url": "http://testpic-1253970026.cos.ap-guangzhou.myqcloud.com/a/b%2Bc.jpg",
            "key": "/1253970026/testpic/a/b c.jpg"}),
        default_bucket(),
        serde_json::json!(1),
    );
    assert_eq!(
        one(&body, None).object().map(|o| o.key.as_str()),
        Some("a/b+c.jpg")
    );
}

#[test]
fn cos_cdn_url_path_is_not_a_key() {
    let body = cos_event(
        serde_json::json!({"url": "https://cdn.example.com/static/x.jpg",
            "key": "/1253970026/testpic/x.jpg"}),
        default_bucket(),
        serde_json::json!(1),
    );
    let record = one(&body, None);
    let object = record.object().expect("object");
    assert_eq!(object.key, "x.jpg");
    assert_eq!(object.region.as_deref(), Some("ap-guangzhou"));
}

#[test]
fn cos_region_from_extra_bucket_fields_with_legacy_host() {
    let body = cos_event(
        serde_json::json!({"url": "http://testpic-1253970026.cosgz.myqcloud.com/x.jpg",
            "key": "/1253970026/testpic/x.jpg"}),
        serde_json::json!({"region": "zz", "name": "testpic", "appid": 1253970026,
            "cosRegion": "ap-guangzhou", "s3Region": "ap-guangzhou"}),
        serde_json::json!(1),
    );
    let record = one(&body, None);
    let object = record.object().expect("object");
    assert_eq!(object.region.as_deref(), Some("ap-guangzhou"));
    // A numeric appid is accepted.
    assert_eq!(object.bucket, "testpic-1253970026");
}

#[test]
fn cos_unknown_short_region_is_none() {
    let body = cos_event(
        serde_json::json!({"key": "/1/b/x.jpg"}),
        serde_json::json!({"region": "zz", "name": "b", "appid": "1"}),
        serde_json::json!(1),
    );
    assert_eq!(
        one(&body, None).object().and_then(|o| o.region.clone()),
        None
    );
}

#[test]
fn cos_event_time_int_or_string() {
    for time in [
        serde_json::json!(1545205770),
        serde_json::json!("1970-01-01T00:00:00.000Z"),
        serde_json::json!("1545205770"),
        Value::Null,
    ] {
        let body = cos_event(
            serde_json::json!({"key": "/1/b/x.jpg"}),
            serde_json::json!({"region": "gz", "name": "b", "appid": "1"}),
            time.clone(),
        );
        assert!(
            matches!(one(&body, None), EventRecord::Process(_)),
            "{time}"
        );
    }
}

#[test]
fn cos_without_bucket_or_key_is_invalid() {
    let no_bucket = cos_event(
        serde_json::json!({"key": "/1/b/x.jpg"}),
        serde_json::json!({"region": "gz"}),
        serde_json::json!(1),
    );
    assert!(matches!(
        one(&no_bucket, None),
        EventRecord::Invalid { index: 0, .. }
    ));
    let no_key = cos_event(
        serde_json::json!({}),
        default_bucket(),
        serde_json::json!(1),
    );
    assert!(matches!(
        one(&no_key, None),
        EventRecord::Invalid { index: 0, .. }
    ));
    // The bucket can come from the URL host when cosBucket lacks it.
    let from_host = cos_event(
        serde_json::json!({"url": "http://pics-1250000000.cos.ap-beijing.myqcloud.com/a.jpg"}),
        serde_json::json!({}),
        serde_json::json!(1),
    );
    let record = one(&from_host, None);
    let object = record.object().expect("object");
    assert_eq!(
        (
            object.bucket.as_str(),
            object.key.as_str(),
            object.region.as_deref()
        ),
        ("pics-1250000000", "a.jpg", Some("ap-beijing"))
    );
}

// ------------------------------------------------------------------------------------------ OBS

#[test]
fn obs_native() {
    let expected = ObjectRef {
        region: opt("cn-north-4"),
        size: Some(777835),
        etag: opt("9d377b10ce778c4938b3c7e2c63a229a"),
        event_name: opt("ObjectCreated:Put"),
        ..ObjectRef::new(Provider::Obs, "examplebucket", "photos/cat 1.jpg")
    };
    assert_eq!(
        one(fixture!("obs-native.json"), None),
        EventRecord::Process(expected)
    );
}

fn obs_s3_shape_expected(provider: Provider) -> ObjectRef {
    ObjectRef {
        region: opt("eu-de"),
        size: Some(5),
        etag: opt("5d41402abc4b2a76b9719d911017c592"),
        event_name: opt("ObjectCreated:Put"),
        ..ObjectRef::new(provider, "fg-sample-obs-go-runtime-sdk", "test2.txt")
    }
}

#[test]
fn obs_s3_shape() {
    // No hint: the capital-P `PrincipalId` marks it as OBS.
    assert_eq!(
        one(fixture!("obs-s3-shape.json"), None),
        EventRecord::Process(obs_s3_shape_expected(Provider::Obs))
    );
    assert_eq!(
        one(fixture!("obs-s3-shape.json"), Some(Provider::Obs)),
        EventRecord::Process(obs_s3_shape_expected(Provider::Obs))
    );
    // The hint wins over the heuristic.
    assert_eq!(
        one(fixture!("obs-s3-shape.json"), Some(Provider::S3)),
        EventRecord::Process(obs_s3_shape_expected(Provider::S3))
    );
}

#[test]
fn obs_s3_shape_old() {
    let expected = ObjectRef {
        // The old sample's placeholder is kept as sent.
        region: opt("region"),
        size: Some(777835),
        etag: opt("9d377b10ce778c4938b3c7e2c63a229a"),
        event_name: opt("ObjectCreated:Post"),
        ..ObjectRef::new(Provider::Obs, "syj-input2", "input/sunset beach.jpg")
    };
    assert_eq!(
        one(fixture!("obs-s3-shape-old.json"), None),
        EventRecord::Process(expected)
    );
}

#[test]
fn obs_eventgrid() {
    let expected = ObjectRef {
        region: opt("cn-north-4"),
        size: Some(240311),
        etag: opt("3858f62230ac3c915f300c664312c63f"),
        version_id: opt("G00101A0F057D2A5FFFFCB8700806592null"),
        event_name: opt("ObjectCreated:Put"),
        ..ObjectRef::new(Provider::Obs, "triage-input", "images/dog 狗.jpg")
    };
    assert_eq!(
        one(fixture!("obs-eventgrid.json"), None),
        EventRecord::Process(expected)
    );
}

#[test]
fn obs_eventgrid_name_from_type_and_string_data() {
    let mut event: Value = serde_json::from_str(fixture!("obs-eventgrid.json")).expect("fixture");
    let data = event["data"].take();
    let mut data_without_name = data.clone();
    if let Some(obj) = data_without_name.as_object_mut() {
        obj.remove("eventName");
    }
    event["data"] = Value::String(data_without_name.to_string());
    event["type"] = Value::from("OBS:DWR:ObjectRemoved:DELETE");
    let record = one(&event.to_string(), None);
    assert_eq!(
        record,
        EventRecord::Skip {
            object: record.object().cloned(),
            reason: not_created("OBS:DWR:ObjectRemoved:DELETE"),
        }
    );
    assert_eq!(
        record.object().map(|o| o.key.as_str()),
        Some("images/dog 狗.jpg")
    );
}

#[test]
fn foreign_cloudevent_is_unknown_shape() {
    let body = r#"{"specversion":"1.0","source":"github","type":"push","data":{"ref":"main"}}"#;
    let err = parse_event(body.as_bytes(), None).expect_err("unknown");
    assert!(err.to_string().contains("CloudEvent"), "{err}");
}
