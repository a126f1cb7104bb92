//! AWS-side fixtures in `events/` parsed in full: S3 (AWS, MinIO, moto), SNS, SQS, EventBridge,
//! multi-record and unknown-shape events.

use super::tests::{fixture, meta, not_created, one, opt, parse};
use super::*;

// ------------------------------------------------------------------------------------------- S3

#[test]
fn s3_put_console_sample() {
    let expected = ObjectRef {
        region: opt("us-east-1"),
        size: Some(1024),
        etag: opt("0123456789abcdef0123456789abcdef"),
        event_name: opt("ObjectCreated:Put"),
        ..ObjectRef::new(Provider::S3, "sourcebucket", "HappyFace.jpg")
    };
    assert_eq!(
        one(fixture!("s3-put.json"), None),
        EventRecord::Process(expected.clone())
    );
    assert_eq!(
        one(fixture!("s3-put.json"), Some(Provider::S3)),
        EventRecord::Process(expected.clone())
    );
    // On FunctionGraph an S3-shaped record is OBS's shape B.
    assert_eq!(
        one(fixture!("s3-put.json"), Some(Provider::Obs)),
        EventRecord::Process(ObjectRef {
            provider: Provider::Obs,
            ..expected
        })
    );
}

#[test]
fn s3_put_encoded_key() {
    let expected = ObjectRef {
        region: opt("eu-west-1"),
        size: Some(2048576),
        etag: opt("b1946ac92492d2347c6235b4d2611184"),
        version_id: opt("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"),
        event_name: opt("ObjectCreated:Put"),
        ..ObjectRef::new(
            Provider::S3,
            "photo-uploads-prod",
            "photos/2024/red flower (1)+été.jpg",
        )
    };
    assert_eq!(
        one(fixture!("s3-put-encoded-key.json"), None),
        EventRecord::Process(expected)
    );
}

#[test]
fn s3_moto_without_identity_fields() {
    let expected = ObjectRef {
        region: opt("us-east-1"),
        size: Some(68),
        etag: opt("61ea96c3c8d2c76fc5a42bfccb6affd9"),
        event_name: opt("ObjectCreated:Put"),
        ..ObjectRef::new(Provider::S3, "uploads", "photos/dog.png")
    };
    assert_eq!(
        one(fixture!("s3-moto.json"), None),
        EventRecord::Process(expected)
    );
}

#[test]
fn s3_minio() {
    let expected = ObjectRef {
        region: None,
        size: Some(629648),
        etag: opt("b7ce786cd89b182bfd5ae765557bbc37"),
        event_name: opt("s3:ObjectCreated:Put"),
        event_meta: meta(&[
            ("content-type", "image/jpeg"),
            ("x-amz-meta-uploader", "alice"),
        ]),
        ..ObjectRef::new(Provider::S3, "images", "photos/cat 2.jpg")
    };
    assert_eq!(
        one(fixture!("s3-minio.json"), None),
        EventRecord::Process(expected)
    );
}

#[test]
fn s3_remove() {
    let expected = ObjectRef {
        region: opt("eu-west-1"),
        version_id: opt("096fKKXTRTtl3on89fVO.nfljtsv6qko"),
        event_name: opt("ObjectRemoved:Delete"),
        ..ObjectRef::new(
            Provider::S3,
            "photo-uploads-prod",
            "photos/2024/old draft.jpg",
        )
    };
    assert_eq!(
        one(fixture!("s3-remove.json"), None),
        EventRecord::Skip {
            object: Some(expected),
            reason: not_created("ObjectRemoved:Delete"),
        }
    );
}

#[test]
fn s3_test_event() {
    assert_eq!(
        one(fixture!("s3-test-event.json"), None),
        EventRecord::Skip {
            object: None,
            reason: SkipReason::TestEvent,
        }
    );
}

#[test]
fn sns_lambda_s3() {
    let expected = ObjectRef {
        region: opt("eu-west-1"),
        size: Some(3145728),
        etag: opt("d41d8cd98f00b204e9800998ecf8427e-2"),
        event_name: opt("ObjectCreated:CompleteMultipartUpload"),
        ..ObjectRef::new(
            Provider::S3,
            "photo-uploads-prod",
            "albums/summer 2024/IMG_0042.HEIC",
        )
    };
    assert_eq!(
        one(fixture!("sns-lambda-s3.json"), None),
        EventRecord::Process(expected)
    );
}

#[test]
fn sns_http_notification() {
    let expected = ObjectRef {
        region: opt("us-east-1"),
        size: Some(12345),
        etag: opt("8a3b7f2e1c9d4a6b5e0f1d2c3b4a5968"),
        event_name: opt("ObjectCreated:Put"),
        ..ObjectRef::new(Provider::S3, "uploads", "in/cat.jpg")
    };
    assert_eq!(
        one(fixture!("sns-http-notification.json"), None),
        EventRecord::Process(expected)
    );
}

#[test]
fn sns_subscription_confirmation() {
    assert_eq!(
        one(fixture!("sns-subscription-confirmation.json"), None),
        EventRecord::Skip {
            object: None,
            reason: SkipReason::SubscriptionConfirmation {
                message_type: "SubscriptionConfirmation".to_owned()
            },
        }
    );
}

#[test]
fn sqs_s3_flattens_test_event_and_record() {
    let expected = ObjectRef {
        region: opt("eu-west-1"),
        size: Some(3402110),
        etag: opt("3858f62230ac3c915f300c664312c63f"),
        event_name: opt("ObjectCreated:Put"),
        ..ObjectRef::new(
            Provider::S3,
            "photo-uploads-prod",
            "uploads/2025/07/IMG_1234.JPG",
        )
    };
    assert_eq!(
        parse(fixture!("sqs-s3.json"), Some(Provider::S3)),
        vec![
            EventRecord::Skip {
                object: None,
                reason: SkipReason::TestEvent
            },
            EventRecord::Process(expected),
        ]
    );
}

#[test]
fn sqs_sns_s3() {
    let expected = ObjectRef {
        region: opt("eu-west-1"),
        size: Some(88412),
        etag: opt("c1e2d3f4a5b6978812345678abcdef01"),
        version_id: opt("Tn0M6hPcOb1K3vCJ8vA5kqFS.3mGkGyb"),
        event_name: opt("ObjectCreated:Copy"),
        ..ObjectRef::new(
            Provider::S3,
            "photo-uploads-prod",
            "avatars/u=42/profile pic.webp",
        )
    };
    assert_eq!(
        one(fixture!("sqs-sns-s3.json"), None),
        EventRecord::Process(expected)
    );
}

#[test]
fn eventbridge_object_created() {
    let expected = ObjectRef {
        region: opt("ca-central-1"),
        size: Some(5),
        etag: opt("b1946ac92492d2347c6235b4d2611184"),
        version_id: opt("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"),
        event_name: opt("Object Created:PutObject"),
        // Raw key: colons kept, no decoding.
        ..ObjectRef::new(
            Provider::S3,
            "amzn-s3-demo-bucket1",
            "photos/2025-07-01T12:00:00/cat.jpg",
        )
    };
    assert_eq!(
        one(
            fixture!("eventbridge-object-created.json"),
            Some(Provider::Obs)
        ),
        EventRecord::Process(expected)
    );
}

#[test]
fn eventbridge_other_detail_types_are_skipped() {
    let mut event: Value =
        serde_json::from_str(fixture!("eventbridge-object-created.json")).expect("fixture");
    event["detail-type"] = Value::from("Object Deleted");
    event["detail"]["reason"] = Value::from("DeleteObject");
    let record = one(&event.to_string(), None);
    assert_eq!(
        record.object().map(|o| o.bucket.as_str()),
        Some("amzn-s3-demo-bucket1")
    );
    assert!(matches!(
        record,
        EventRecord::Skip { reason: SkipReason::NotObjectCreated { ref event_name }, .. }
            if event_name == "Object Deleted:DeleteObject"
    ));
}

#[test]
fn multi_record_keeps_going_after_a_bad_record() {
    let records = parse(fixture!("multi-record.json"), None);
    let good = ObjectRef {
        region: opt("eu-west-1"),
        size: Some(1000),
        etag: opt("11111111111111111111111111111111"),
        event_name: opt("ObjectCreated:Put"),
        ..ObjectRef::new(Provider::S3, "photo-uploads-prod", "batch/a 1.png")
    };
    let removed = ObjectRef {
        region: opt("eu-west-1"),
        version_id: opt("EMAsj9AvSsqmBVBKdmYdH4e9fSAN.0Ri"),
        event_name: opt("ObjectRemoved:DeleteMarkerCreated"),
        ..ObjectRef::new(Provider::S3, "photo-uploads-prod", "batch/b.png")
    };
    assert_eq!(
        records,
        vec![
            EventRecord::Process(good),
            EventRecord::Skip {
                object: Some(removed),
                reason: not_created("ObjectRemoved:DeleteMarkerCreated"),
            },
            EventRecord::Invalid {
                index: 2,
                reason: "S3 record has no s3.bucket.name".to_owned()
            },
        ]
    );
}

#[test]
fn not_an_event_names_expected_shapes_and_found_keys() {
    let err = parse_event(fixture!("not-an-event.json").as_bytes(), None).expect_err("unknown");
    assert!(matches!(err, EventError::UnknownShape { .. }));
    let text = err.to_string();
    for expected in [
        "COS trigger",
        "OBS trigger",
        "S3 notification",
        "SNS",
        "SQS",
        "EventBridge",
        "CloudEvent",
        "s3:TestEvent",
        "[items, message, user]",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
}

/// A Lambda on-failure destination record (the template's FailedEventsQueue holds these, each in
/// an SQS body): the failed event is `requestPayload`, so `poll-sqs` on that queue re-triages it.
#[test]
fn lambda_destination_records_unwrap_the_failed_event() {
    let failed: Value =
        serde_json::from_str(fixture!("eventbridge-object-created.json")).expect("fixture");
    let record = serde_json::json!({
        "version": "1.0",
        "timestamp": "2026-12-01T12:00:05.000Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": "arn:aws:lambda:ca-central-1:111122223333:function:image-triage:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3
        },
        "requestPayload": failed,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "store_error", "errorType": "ImageTriage.RetryableFailure"}
    });
    let sqs = serde_json::json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "r", "body": record.to_string(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:ca-central-1:111122223333:failed",
        "awsRegion": "ca-central-1"
    }]});
    for event in [record, sqs] {
        let got = one(&event.to_string(), None);
        assert_eq!(
            got.object().map(|o| (o.bucket.as_str(), o.key.as_str())),
            Some(("amzn-s3-demo-bucket1", "photos/2025-07-01T12:00:00/cat.jpg")),
            "{event}"
        );
        assert!(matches!(got, EventRecord::Process(_)), "{got:?}");
    }
}
