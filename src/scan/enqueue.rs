//! `scan --enqueue QUEUE_URL`: instead of triaging here, send one synthetic upload event per
//! object that needs triage, so the platform's own consumers (the Lambda SQS trigger,
//! `image-triage poll-sqs`, an SCF or FunctionGraph queue trigger) do the work in parallel.
//!
//! Each event has the shape the bucket itself would send — an S3 notification
//! (`Records[].s3`, `ObjectCreated:Put`) for S3 and the embedded bucket, the SCF COS trigger
//! record for COS, the native OBS record for OBS — so it takes the same path through
//! `events::parse_event` as a real upload (the tests parse every shape back). Its dedupe key
//! (bucket, key, ETag, configuration) goes where the queue carries one (SQS message attribute and
//! FIFO deduplication id, AMQP `message_id`) and into the event itself as the request id, so a
//! consumer log names it and the file queue can refuse a repeat.

use std::sync::Arc;

use serde_json::{json, Value};

use super::manifest::url_encode_key;
use super::ScanError;
use crate::client::throttle::Throttle;
use crate::config::Config;
use crate::object::Provider;
use crate::sinks::queue::{self, Queue};

/// Who "uploaded", in the fields an upload event names its requester with.
const REQUESTER: &str = "image-triage-scan";

/// An object that needs triage, as the guard saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Needed {
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub version_id: Option<String>,
    pub content_type: Option<String>,
}

/// The dedupe key of the upload event for this content under this configuration. Not the
/// results message's key (`sinks::queue::dedupe_key`), so a FIFO queue that carries both never
/// drops one as a repeat of the other.
pub fn dedupe_key(bucket: &str, key: &str, etag: &str, config_hash: &str) -> String {
    queue::dedupe_key(bucket, key, etag, &format!("upload-event:{config_hash}"))
}

/// `a b+c.png` → `a+b%2Bc.png`: how S3 and OBS notifications escape keys (form encoding: a
/// space is `+`, so a literal `+` must be `%2B`; `/` stays).
pub fn form_encode_key(key: &str) -> String {
    url_encode_key(key).replace("%20", "+")
}

/// The upload event `provider`'s bucket would send for `obj`. `region`: the bucket's region,
/// where the shape names one; `request_id`: the dedupe key.
pub fn upload_event(
    provider: Provider,
    bucket: &str,
    obj: &Needed,
    region: Option<&str>,
    request_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Value, String> {
    let time = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    match provider {
        Provider::S3 | Provider::Local => Ok(s3_event(bucket, obj, region, request_id, &time)),
        Provider::Obs => Ok(obs_event(bucket, obj, region, request_id, &time)),
        Provider::Cos => cos_event(bucket, obj, region, request_id, now.timestamp()),
    }
}

fn s3_event(
    bucket: &str,
    obj: &Needed,
    region: Option<&str>,
    request_id: &str,
    time: &str,
) -> Value {
    let mut object = json!({
        "key": form_encode_key(&obj.key),
        "size": obj.size,
        "eTag": obj.etag,
    });
    if let Some(v) = &obj.version_id {
        object["versionId"] = json!(v);
    }
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region.unwrap_or("us-east-1"),
        "eventTime": time,
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": REQUESTER},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": REQUESTER},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": REQUESTER,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": REQUESTER},
                "arn": format!("arn:aws:s3:::{bucket}"),
            },
            "object": object,
        },
    }]})
}

fn obs_event(
    bucket: &str,
    obj: &Needed,
    region: Option<&str>,
    request_id: &str,
    time: &str,
) -> Value {
    json!({"Records": [{
        "eventVersion": "3.0",
        "eventSource": "OBS",
        "eventRegion": region.unwrap_or_default(),
        "eventTime": time,
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"ID": REQUESTER},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-obs-request-id": request_id, "x-obs-id-2": REQUESTER},
        "obs": {
            "Version": "1.0",
            "configurationId": REQUESTER,
            "bucket": {"name": bucket, "ownerIdentity": {"ID": REQUESTER}, "bucket": bucket},
            "object": {
                "key": form_encode_key(&obj.key),
                "eTag": obj.etag,
                "size": obj.size,
                // OBS writes "null" for an unversioned object.
                "versionId": obj.version_id.as_deref().unwrap_or("null"),
            },
        },
    }]})
}

/// The SCF COS trigger record (reference tencent.md §1): the bucket as `name` + `appid`, the
/// key as `/<appid>/<name>/<key>`, the object's URL on its COS host when the region is known
/// (the parser takes the key from the URL's path then). The key is percent-encoded in both: the
/// parser decodes an escaped key field, and a raw one holding `%41` would be misread.
fn cos_event(
    bucket: &str,
    obj: &Needed,
    region: Option<&str>,
    request_id: &str,
    time: i64,
) -> Result<Value, String> {
    let (name, appid) = bucket
        .rsplit_once('-')
        .filter(|(n, a)| !n.is_empty() && !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("COS bucket {bucket:?} is not <name>-<appid>"))?;
    let path = url_encode_key(&obj.key);
    let mut meta = json!({"x-cos-request-id": request_id, "ETag": obj.etag});
    if let Some(ct) = &obj.content_type {
        meta["Content-Type"] = json!(ct);
    }
    let mut cos_bucket = json!({"name": name, "appid": appid});
    let mut cos_object = json!({
        "meta": meta,
        "vid": obj.version_id.as_deref().unwrap_or_default(),
        "key": format!("/{appid}/{name}/{path}"),
        "size": obj.size,
    });
    if let Some(r) = region {
        cos_bucket["region"] = json!(r);
        cos_bucket["cosRegion"] = json!(r);
        cos_object["url"] = json!(format!("https://{bucket}.cos.{r}.myqcloud.com/{path}"));
    }
    Ok(json!({"Records": [{
        "cos": {
            "cosSchemaVersion": "1.0",
            "cosObject": cos_object,
            "cosBucket": cos_bucket,
            "cosNotificationId": REQUESTER,
        },
        "event": {
            "eventName": "cos:ObjectCreated:Put",
            "eventVersion": "1.0",
            "eventTime": time,
            "eventSource": "qcs::cos",
            "requestParameters": {"requestSourceIP": "127.0.0.1", "requestHeaders": {}},
            "eventQueue": "",
            "reservedInfo": "",
            "reqid": 0,
        },
    }]}))
}

/// The region an event for `provider`'s bucket names: the one the function's store would use.
pub fn region_for(config: &Config, provider: Provider) -> Option<String> {
    match provider {
        Provider::Cos => config
            .env
            .get(crate::cloud::tencent::REGION_VAR)
            .map(str::to_string),
        Provider::Obs => Some(crate::cloud::huawei::region(&config.env)),
        Provider::S3 | Provider::Local => config
            .env
            .get("AWS_REGION")
            .or_else(|| config.env.get("AWS_DEFAULT_REGION"))
            .map(str::to_string),
    }
}

/// Sends the upload events of one bucket, at most `rate` a second.
#[derive(Debug, Clone)]
pub struct Enqueuer {
    queue: Queue,
    throttle: Arc<Throttle>,
    provider: Provider,
    bucket: String,
    region: Option<String>,
    config_hash: String,
}

impl Enqueuer {
    pub fn new(queue: Queue, rate: f64, config: &Config, provider: Provider, bucket: &str) -> Self {
        Enqueuer {
            queue,
            throttle: Arc::new(Throttle::new(rate)),
            provider,
            bucket: bucket.to_string(),
            region: region_for(config, provider),
            config_hash: config.config_hash(provider),
        }
    }

    /// Send the event of `obj`; false when the queue refused it as a repeat.
    pub async fn send(&self, obj: &Needed) -> Result<bool, ScanError> {
        let key = dedupe_key(&self.bucket, &obj.key, &obj.etag, &self.config_hash);
        let event = upload_event(
            self.provider,
            &self.bucket,
            obj,
            self.region.as_deref(),
            &key,
            chrono::Utc::now(),
        )
        .map_err(|reason| ScanError::Event {
            key: obj.key.clone(),
            reason,
        })?;
        self.throttle.acquire().await;
        self.queue
            .send_raw(&event.to_string(), &key)
            .await
            .map_err(|e| ScanError::Send(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{parse_event, EventRecord};

    const KEY: &str = "photos/red flower+1 %41 猫/a,b.png";

    fn needed(version: Option<&str>) -> Needed {
        Needed {
            key: KEY.into(),
            size: 1234,
            etag: "9d377b10ce778c4938b3c7e2c63a229a".into(),
            version_id: version.map(str::to_string),
            content_type: Some("image/png".into()),
        }
    }

    fn parsed_object(body: &[u8], hint: Option<Provider>) -> crate::object::ObjectRef {
        match parse_event(body, hint).unwrap().as_slice() {
            [EventRecord::Process(o)] => o.clone(),
            other => panic!("expected one Process record: {other:?}"),
        }
    }

    fn event(
        provider: Provider,
        bucket: &str,
        version: Option<&str>,
        region: Option<&str>,
    ) -> Vec<u8> {
        upload_event(
            provider,
            bucket,
            &needed(version),
            region,
            "rid",
            chrono::Utc::now(),
        )
        .unwrap()
        .to_string()
        .into_bytes()
    }

    #[test]
    fn s3_events_parse_back_to_the_object_bare_and_inside_sqs() {
        let body = event(Provider::S3, "uploads", Some("v1"), Some("eu-west-1"));
        for hint in [None, Some(Provider::S3)] {
            let o = parsed_object(&body, hint);
            assert_eq!(
                (o.provider, o.bucket.as_str(), o.key.as_str()),
                (Provider::S3, "uploads", KEY)
            );
            assert_eq!(o.etag.as_deref(), Some("9d377b10ce778c4938b3c7e2c63a229a"));
            assert_eq!((o.size, o.version_id.as_deref()), (Some(1234), Some("v1")));
            assert_eq!(o.region.as_deref(), Some("eu-west-1"));
            assert_eq!(o.event_name.as_deref(), Some("ObjectCreated:Put"));
        }
        // Lambda's own S3 event type reads it too (strict: RFC 3339 time, every required field).
        let strict: aws_lambda_events::event::s3::S3Event = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            strict.records[0].s3.object.key.as_deref(),
            Some("photos/red+flower%2B1+%2541+%E7%8C%AB/a%2Cb.png")
        );
        // As the Lambda SQS trigger delivers it: the event is the message body.
        let sqs = json!({"Records": [{"messageId": "m1", "eventSource": "aws:sqs",
            "body": String::from_utf8(body.clone()).unwrap()}]});
        let o = parsed_object(sqs.to_string().as_bytes(), Some(Provider::S3));
        assert_eq!((o.bucket.as_str(), o.key.as_str()), ("uploads", KEY));
        // The embedded bucket gets the S3 shape too.
        let o = parsed_object(&event(Provider::Local, "demo", None, None), None);
        assert_eq!((o.key.as_str(), o.version_id), (KEY, None));
    }

    #[test]
    fn obs_events_parse_back_to_the_object() {
        let body = event(Provider::Obs, "examplebucket", None, Some("cn-north-4"));
        for hint in [None, Some(Provider::Obs)] {
            let o = parsed_object(&body, hint);
            assert_eq!(
                (o.provider, o.bucket.as_str(), o.key.as_str()),
                (Provider::Obs, "examplebucket", KEY)
            );
            assert_eq!((o.size, o.version_id.as_deref()), (Some(1234), None));
            assert_eq!(o.etag.as_deref(), Some("9d377b10ce778c4938b3c7e2c63a229a"));
            assert_eq!(o.region.as_deref(), Some("cn-north-4"));
        }
    }

    #[test]
    fn cos_events_parse_back_to_the_object_with_and_without_a_region() {
        for region in [Some("ap-guangzhou"), None] {
            let body = event(Provider::Cos, "testpic-1253970026", Some("MTg0"), region);
            for hint in [None, Some(Provider::Cos)] {
                let o = parsed_object(&body, hint);
                assert_eq!(
                    (o.provider, o.bucket.as_str(), o.key.as_str()),
                    (Provider::Cos, "testpic-1253970026", KEY)
                );
                assert_eq!(o.region.as_deref(), region);
                assert_eq!(
                    (o.size, o.version_id.as_deref()),
                    (Some(1234), Some("MTg0"))
                );
                assert_eq!(o.etag.as_deref(), Some("9d377b10ce778c4938b3c7e2c63a229a"));
            }
        }
        let e = upload_event(
            Provider::Cos,
            "no-appid",
            &needed(None),
            None,
            "r",
            chrono::Utc::now(),
        );
        assert!(e.unwrap_err().contains("<name>-<appid>"));
    }

    #[test]
    fn keys_are_escaped_as_the_vendors_escape_them() {
        assert_eq!(form_encode_key("a b+c/d.png"), "a+b%2Bc/d.png");
        assert_ne!(
            dedupe_key("b", "k", "e", "c"),
            queue::dedupe_key("b", "k", "e", "c"),
            "an upload event and a results message never share a dedupe key"
        );
    }

    #[tokio::test]
    async fn the_file_queue_holds_one_event_a_line_and_refuses_a_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let config = Config::from_vars([
            ("TRIAGE_STORE".to_string(), "local".to_string()),
            (
                "TRIAGE_LOCAL_ROOT".to_string(),
                dir.path().display().to_string(),
            ),
        ])
        .unwrap();
        let q = Queue::for_url(&format!("file:{}", path.display()), &config).unwrap();
        let e = Enqueuer::new(q, 1000.0, &config, Provider::Local, "demo");
        assert!(e.send(&needed(None)).await.unwrap());
        assert!(
            !e.send(&needed(None)).await.unwrap(),
            "same content, same configuration"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        let o = parsed_object(text.trim().as_bytes(), None);
        assert_eq!((o.bucket.as_str(), o.key.as_str()), ("demo", KEY));
    }
}
