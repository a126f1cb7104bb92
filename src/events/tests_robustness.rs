//! Key decoding, event-name classification, error texts, serialisation, and garbage input.

use serde_json::json;

use super::*;

fn records(body: &str) -> Vec<EventRecord> {
    match parse_event(body.as_bytes(), None) {
        Ok(records) => records,
        Err(e) => panic!("expected records, got error: {e}"),
    }
}

/// An AWS-style event with one record for `key` and `event_name`.
fn s3_event(event_name: &str, key: &str) -> String {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2025-07-01T12:00:00.000Z", "eventName": event_name,
        "userIdentity": {"principalId": "EXAMPLE"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
               "object": {"key": key, "size": 1, "eTag": "\"abc\"", "versionId": "null"}}
    }]})
    .to_string()
}

#[test]
fn form_decoding() {
    let cases = [
        ("red+flower.jpg", "red flower.jpg"),
        ("photos%2Fdog.png", "photos/dog.png"),
        ("TEST%2F%E4%B8%AD+%E6%96%87.jpg", "TEST/中 文.jpg"),
        ("c%2B%2B+notes.png", "c++ notes.png"),
        ("a%3Ab%3Dc.jpg", "a:b=c.jpg"),
        ("plain/key.jpg", "plain/key.jpg"),
    ];
    for (raw, decoded) in cases {
        assert_eq!(
            decode_key(raw, KeyEncoding::Form).as_deref(),
            Ok(decoded),
            "{raw}"
        );
    }
    assert_eq!(
        decode_key("a+b%20c.jpg", KeyEncoding::Path).as_deref(),
        Ok("a+b c.jpg")
    );
}

#[test]
fn bad_encodings_are_errors() {
    for raw in [
        "bad%ZZ.jpg",
        "trailing%",
        "half%4",
        "%C3%28.jpg",
        "%FF%FE",
        "",
    ] {
        assert!(decode_key(raw, KeyEncoding::Form).is_err(), "{raw}");
    }
    assert!(has_percent_escape("a%2Fb"));
    assert!(!has_percent_escape("100%"));
    assert!(!has_percent_escape("a+b"));
}

#[test]
fn undecodable_key_makes_an_invalid_record_not_a_panic() {
    for key in ["bad%ZZ.jpg", "%C3%28.jpg", "trailing%"] {
        let got = records(&s3_event("ObjectCreated:Put", key));
        assert!(
            matches!(&got[..], [EventRecord::Invalid { index: 0, reason }] if reason.contains("key")),
            "{key}: {got:?}"
        );
    }
    // A removal with an undecodable key is still just skipped, without an object.
    assert_eq!(
        records(&s3_event("ObjectRemoved:Delete", "bad%ZZ")),
        vec![EventRecord::Skip {
            object: None,
            reason: SkipReason::NotObjectCreated {
                event_name: "ObjectRemoved:Delete".to_owned()
            }
        }]
    );
}

#[test]
fn etag_quotes_and_null_version_are_normalised() {
    let got = records(&s3_event("ObjectCreated:Put", "k"));
    let object = got[0].object().expect("object");
    assert_eq!(object.etag.as_deref(), Some("abc"));
    assert_eq!(object.version_id, None);
}

#[test]
fn missing_event_time_and_identity_use_the_lenient_parser() {
    let body = json!({"Records": [{"eventName": "ObjectCreated:Post", "awsRegion": "us-west-2",
        "eventTime": 1751371200,
        "s3": {"bucket": {"name": "b"}, "object": {"key": "x.jpg", "size": "42"}}}]});
    let got = records(&body.to_string());
    let object = got[0].object().expect("object");
    assert_eq!(
        (object.size, object.region.as_deref()),
        (Some(42), Some("us-west-2"))
    );
}

#[test]
fn event_names_are_classified() {
    let created = [
        "ObjectCreated:Put",
        "ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload",
        "cos:ObjectCreated:*",
        "cos:ObjectCreated:Append",
        "OBS:DWR:ObjectCreated:PUT",
    ];
    for name in created {
        assert_eq!(classify(name), Class::Created, "{name}");
    }
    let not_created = [
        "ObjectRemoved:Delete",
        "s3:ObjectRemoved:DeleteMarkerCreated",
        "cos:ObjectRemove:Delete",
        "cos:ObjectRestore:Completed",
        "ObjectRestore:Post",
        "LifecycleExpiration:Delete",
        "ObjectTagging:Put",
        "ObjectAcl:Put",
        "s3:ObjectCreated:PutTagging",
        "s3:ObjectAccessed:Get",
        "ReducedRedundancyLostObject",
    ];
    for name in not_created {
        assert!(
            matches!(
                classify(name),
                Class::Skip(SkipReason::NotObjectCreated { .. })
            ),
            "{name}"
        );
    }
    for name in [
        "Replication:OperationFailedReplication",
        "s3:Replication:OperationReplicatedAfterThreshold",
        "cos:ObjectCreated:Origin",
        "cos:ObjectCreated:Replication",
    ] {
        assert!(
            matches!(classify(name), Class::Skip(SkipReason::Replication { .. })),
            "{name}"
        );
    }
}

#[test]
fn record_without_event_name_is_invalid() {
    let body = json!({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]});
    assert!(matches!(
        &records(&body.to_string())[..],
        [EventRecord::Invalid { index: 0, .. }]
    ));
}

#[test]
fn not_json_error_says_so_with_position() {
    let err = parse_event(b"{\"Records\": [", None).expect_err("not json");
    assert!(
        matches!(err, EventError::NotJson { line: 1, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.starts_with("event body is not JSON: "), "{text}");
    assert_eq!(
        text,
        "event body is not JSON: EOF while parsing a list (line 1, column 13)"
    );
    let err = parse_event(b"", None).expect_err("empty");
    assert!(err.to_string().contains("not JSON"), "{err}");
    let err = parse_event(&[0xff, 0xfe, b'{'], None).expect_err("binary");
    assert!(matches!(err, EventError::NotJson { .. }));
}

#[test]
fn empty_or_odd_records() {
    assert_eq!(
        parse_event(br#"{"Records": []}"#, None),
        Err(EventError::EmptyRecords)
    );
    let err = parse_event(br#"{"Records": {"s3": {}}}"#, None).expect_err("not array");
    assert!(
        err.to_string().contains("`Records` that is an object"),
        "{err}"
    );
    // A DynamoDB stream event: Records of a shape we do not know at all.
    let err = parse_event(br#"{"Records": [{"eventID": "1", "dynamodb": {}}]}"#, None)
        .expect_err("foreign records");
    let text = err.to_string();
    assert!(
        text.contains("COS trigger") && text.contains("[dynamodb, eventID]"),
        "{text}"
    );
    // One unknown record among known ones is only that record's problem.
    let body = json!({"Records": [
        serde_json::from_str::<Value>(&s3_event("ObjectCreated:Put", "a")).expect("json")["Records"][0],
        {"eventID": "1"}, 7
    ]});
    let got = records(&body.to_string());
    assert!(matches!(got[0], EventRecord::Process(_)));
    assert!(matches!(got[1], EventRecord::Invalid { index: 1, .. }));
    assert!(matches!(got[2], EventRecord::Invalid { index: 2, .. }));
}

#[test]
fn non_object_payloads_are_unknown_shapes() {
    for body in ["[]", "42", "null", "true", "\"hello\"", "{}"] {
        let err = parse_event(body.as_bytes(), None).expect_err(body);
        assert!(
            matches!(err, EventError::UnknownShape { .. }),
            "{body}: {err}"
        );
    }
}

#[test]
fn double_encoded_payload_is_unwrapped() {
    let inner = s3_event("ObjectCreated:Put", "a%2Fb.jpg");
    let body = Value::String(inner).to_string();
    let got = records(&body);
    assert_eq!(got[0].object().map(|o| o.key.as_str()), Some("a/b.jpg"));
}

#[test]
fn wrapper_failures_point_at_the_wrapper_record() {
    let body = json!({"Records": [
        {"messageId": "1", "body": "plain text, not JSON", "eventSource": "aws:sqs"},
        {"messageId": "2", "body": s3_event("ObjectCreated:Put", "bad%ZZ"), "eventSource": "aws:sqs"},
        {"messageId": "3", "body": "{\"Records\": []}", "eventSource": "aws:sqs"},
        {"messageId": "4", "body": s3_event("ObjectCreated:Put", "ok.jpg"), "eventSource": "aws:sqs"},
    ]});
    let got = records(&body.to_string());
    assert_eq!(got.len(), 4);
    let reasons: Vec<(usize, &str)> = got
        .iter()
        .filter_map(|r| match r {
            EventRecord::Invalid { index, reason } => Some((*index, reason.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{got:?}");
    assert!(
        reasons[0].0 == 0
            && reasons[0]
                .1
                .contains("Records[0].body: event body is not JSON")
    );
    assert!(reasons[1].0 == 1 && reasons[1].1.starts_with("Records[1].body → record 0: key"));
    assert!(reasons[2].0 == 2 && reasons[2].1.contains("empty `Records`"));
    assert_eq!(got[3].object().map(|o| o.key.as_str()), Some("ok.jpg"));
}

#[test]
fn sns_odd_messages() {
    let unsubscribe =
        json!({"Type": "UnsubscribeConfirmation", "TopicArn": "arn:aws:sns:x", "Message": "bye"});
    assert!(matches!(
        &records(&unsubscribe.to_string())[..],
        [EventRecord::Skip {
            object: None,
            reason: SkipReason::SubscriptionConfirmation { .. }
        }]
    ));
    let not_json = json!({"Type": "Notification", "TopicArn": "arn:aws:sns:x", "Message": "hello"});
    assert!(matches!(
        &records(&not_json.to_string())[..],
        [EventRecord::Invalid { index: 0, reason }] if reason.starts_with("SNS Message: ")
    ));
    let lambda =
        json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Weird", "Message": "{}"}}]});
    assert!(matches!(
        &records(&lambda.to_string())[..],
        [EventRecord::Invalid { index: 0, reason }] if reason.contains("unsupported SNS message type")
    ));
}

#[test]
fn nesting_is_bounded() {
    let mut body = s3_event("ObjectCreated:Put", "deep.jpg");
    for _ in 0..6 {
        body = json!({"Records": [{"body": body}]}).to_string();
    }
    let got = records(&body);
    assert!(
        matches!(&got[..], [EventRecord::Invalid { index: 0, reason }] if reason.contains("nests more than")),
        "{got:?}"
    );
}

#[test]
fn outcomes_serialise_with_codes() {
    let skip = EventRecord::Skip {
        object: None,
        reason: SkipReason::Replication {
            event_name: "cos:ObjectCreated:Origin".to_owned(),
        },
    };
    assert_eq!(
        serde_json::to_value(&skip).expect("serialise"),
        json!({"kind": "skip", "object": null, "reason": {
            "code": "replication", "event_name": "cos:ObjectCreated:Origin",
            "message": "event `cos:ObjectCreated:Origin` is a copy made by the storage service (replication or origin pull)"}})
    );
    let process = EventRecord::Process(ObjectRef::new(Provider::S3, "b", "k"));
    assert_eq!(
        serde_json::to_value(&process).expect("serialise"),
        json!({"kind": "process", "provider": "s3", "bucket": "b", "key": "k"})
    );
    let invalid = EventRecord::Invalid {
        index: 3,
        reason: "why".to_owned(),
    };
    assert_eq!(
        serde_json::to_value(&invalid).expect("serialise"),
        json!({"kind": "invalid", "index": 3, "reason": "why"})
    );
    let codes = [
        (SkipReason::TestEvent, "test_event"),
        (
            SkipReason::NotObjectCreated {
                event_name: "x".into(),
            },
            "not_object_created",
        ),
        (
            SkipReason::SubscriptionConfirmation {
                message_type: "SubscriptionConfirmation".into(),
            },
            "subscription_confirmation",
        ),
    ];
    for (reason, code) in codes {
        assert_eq!(reason.code(), code);
        assert!(!reason.to_string().is_empty());
    }
}

/// xorshift64*: deterministic, so a failure is reproducible without a dev-dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const FIXTURES: &[&str] = &[
    include_str!("../../events/cos-put.json"),
    include_str!("../../events/cos-nonascii-key.json"),
    include_str!("../../events/obs-native.json"),
    include_str!("../../events/obs-eventgrid.json"),
    include_str!("../../events/s3-minio.json"),
    include_str!("../../events/sns-lambda-s3.json"),
    include_str!("../../events/sqs-sns-s3.json"),
    include_str!("../../events/eventbridge-object-created.json"),
    include_str!("../../events/multi-record.json"),
];

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Pure noise, with a bias towards JSON punctuation so the parser gets past the first byte.
    const ALPHABET: &[u8] = b"{}[]\":,0123456789.eE+-truefalsn \\/%Records s3 cos obs body Sns";
    for _ in 0..2000 {
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    ALPHABET[rng.below(ALPHABET.len())]
                }
            })
            .collect();
        let _ = parse_event(&bytes, None);
    }
    // Mutated fixtures: flipped bytes, truncations, and type swaps keep the shape recognisable.
    for fixture in FIXTURES {
        for round in 0..300 {
            let mut bytes = fixture.as_bytes().to_vec();
            match round % 3 {
                0 => {
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(bytes.len());
                        bytes[at] = rng.next() as u8;
                    }
                }
                1 => bytes.truncate(rng.below(bytes.len())),
                _ => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let swaps = [
                        ("\"", "1"),
                        ("{", "["),
                        ("\"size\": ", "\"size\": -"),
                        ("%", "%%"),
                    ];
                    let (from, to) = swaps[rng.below(swaps.len())];
                    bytes = text.replacen(from, to, 1 + rng.below(3)).into_bytes();
                }
            }
            let hint = [None, Some(Provider::Obs), Some(Provider::S3)][round % 3];
            let _ = parse_event(&bytes, hint);
        }
    }
}

#[test]
fn wrong_types_in_known_shapes_are_invalid_records() {
    let bodies = [
        json!({"Records": [{"cos": null, "event": {"eventName": "cos:ObjectCreated:Put"}}]}),
        json!({"Records": [{"cos": {"cosObject": {"key": 5}}, "event": {"eventName": 1}}]}),
        json!({"Records": [{"obs": [], "eventName": "ObjectCreated:Put"}]}),
        json!({"Records": [{"s3": "x", "eventName": "ObjectCreated:Put"}]}),
        json!({"Records": [{"Sns": 1}]}),
        json!({"Records": [{"body": 1}]}),
        json!({"source": "aws.s3", "detail-type": 5, "detail": []}),
        json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "b"}}}),
    ];
    for body in bodies {
        let got = records(&body.to_string());
        assert!(
            matches!(&got[..], [EventRecord::Invalid { index: 0, .. }]),
            "{body}: {got:?}"
        );
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let body = "[".repeat(100_000);
    assert!(matches!(
        parse_event(body.as_bytes(), None),
        Err(EventError::NotJson { .. })
    ));
}
