//! The S3 store against a real moto server with SigV4 enforced.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::moto::{png, Moto};
use image_triage::config::Config;
use image_triage::store::{self, StoreError};
use image_triage::Provider;

fn config(moto: &Moto, extra: &[(&str, &str)]) -> Config {
    let mut vars = moto.env();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_store_round_trip_on_moto_with_sigv4_enforced() {
    let moto = Moto::start();
    moto.py("s3.create_bucket(Bucket='photos')");
    let s3 = store::for_provider(&config(&moto, &[]), Provider::S3).unwrap();
    let key = "in/my cat+1 é.png";
    let body = png(64, 48);
    s3.put("photos", key, body.clone().into(), "image/png")
        .await
        .unwrap();

    let meta = s3.head("photos", key).await.unwrap();
    assert_eq!(meta.size, body.len() as u64);
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    assert_eq!(meta.etag.len(), 32, "{meta:?}");
    assert_eq!(
        &s3.get_range("photos", key, 1..4).await.unwrap()[..],
        &body[1..4]
    );
    assert_eq!(
        s3.get_range("photos", key, 10..1_000_000)
            .await
            .unwrap()
            .len(),
        body.len() - 10
    );
    assert_eq!(s3.get("photos", key).await.unwrap().len(), body.len());

    let tags = vec![
        ("triage-verdict".to_string(), "pass".to_string()),
        ("label".to_string(), "cat dog+1".to_string()),
    ];
    s3.put_tags("photos", key, &tags).await.unwrap();
    // Metadata by copy-onto-itself keeps other metadata, the content type and the ETag.
    s3.update_metadata("photos", key, &BTreeMap::from([("a".into(), "1".into())]))
        .await
        .unwrap();
    s3.update_metadata("photos", key, &BTreeMap::from([("b".into(), "2".into())]))
        .await
        .unwrap();
    let after = s3.head("photos", key).await.unwrap();
    assert_eq!(after.metadata.get("a").map(String::as_str), Some("1"));
    assert_eq!(after.metadata.get("b").map(String::as_str), Some("2"));
    assert_eq!(after.content_type.as_deref(), Some("image/png"));
    assert_eq!(after.etag, meta.etag);

    let got_before = s3.get_tags("photos", key).await.unwrap();
    assert_eq!(got_before.len(), 2);
    // (tags were set before the metadata copy: the copy keeps them)
    let mut got = s3.get_tags("photos", key).await.unwrap();
    got.sort();
    let mut want = tags.clone();
    want.sort();
    assert_eq!(got, want);
    s3.set_private("photos", key).await.unwrap();

    // Read back by boto3, not by our client.
    let seen = moto.py(&format!(
        "h = s3.head_object(Bucket='photos', Key={key:?}); t = s3.get_object_tagging(Bucket='photos', Key={key:?})\nprint(json.dumps([h['Metadata'], t['TagSet']]))"
    ));
    let v: serde_json::Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(v[0]["b"], "2", "{v}");

    // Other object properties survive the metadata copy.
    let props = moto.py(
        r#"
s3.put_object(Bucket="photos", Key="props.png", Body=b"x", ContentType="image/png", CacheControl="max-age=60",
              ContentDisposition="inline", StorageClass="STANDARD_IA", Metadata={"keep": "me"})
print("ok")
"#,
    );
    assert_eq!(props.trim(), "ok");
    s3.update_metadata(
        "photos",
        "props.png",
        &BTreeMap::from([("c".into(), "3".into())]),
    )
    .await
    .unwrap();
    let h = moto.py(
        "h = s3.head_object(Bucket='photos', Key='props.png')\nprint(json.dumps([h['Metadata'], h.get('CacheControl'), h.get('ContentDisposition'), h.get('StorageClass'), h['ContentType']]))",
    );
    let h: serde_json::Value = serde_json::from_str(&h).unwrap();
    assert_eq!(h[0]["keep"], "me", "{h}");
    assert_eq!(h[0]["c"], "3", "{h}");
    assert_eq!(h[1], "max-age=60", "{h}");
    assert_eq!(h[2], "inline", "{h}");
    assert_eq!(h[3], "STANDARD_IA", "{h}");
    assert_eq!(h[4], "image/png", "{h}");
    assert_eq!(v[1].as_array().unwrap().len(), 2, "{v}");

    // moto's auth mode answers any presigned URL (its own boto3's too) with a 500 (KeyError
    // HTTP_AUTHORIZATION), so the presigned signature is checked against AWS's documented vector in
    // store::s3::credential instead; here only its shape, and that anonymous reads are refused.
    let url = s3
        .presign("photos", key, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/photos/in/my%20cat%2B1%20%C3%A9.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&",
            moto.endpoint
        )),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-Expires=60&") && url.contains("&X-Amz-Signature="),
        "{url}"
    );
    let plain = url.split('?').next().unwrap().to_string();
    assert_eq!(reqwest::get(&plain).await.unwrap().status(), 403);

    for i in 0..3 {
        s3.put(
            "photos",
            &format!("list/{i}.png"),
            body.clone().into(),
            "image/png",
        )
        .await
        .unwrap();
    }
    let page = s3.list("photos", "list/", None, 2).await.unwrap();
    assert_eq!(page.objects.len(), 2);
    assert_eq!(page.next_marker.as_deref(), Some("list/1.png"));
    let page = s3
        .list("photos", "list/", page.next_marker.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(page.objects[0].key, "list/2.png");
    assert_eq!(page.next_marker, None);

    s3.rename("photos", key, "quarantine/x.png", None)
        .await
        .unwrap();
    assert!(matches!(
        s3.head("photos", key).await,
        Err(StoreError::NotFound { .. })
    ));
    s3.delete("photos", "quarantine/x.png").await.unwrap();
    assert!(matches!(
        s3.head("photos", "quarantine/x.png").await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_rejected_and_not_retried() {
    let moto = Moto::start();
    moto.py(
        "s3.create_bucket(Bucket='photos'); s3.put_object(Bucket='photos', Key='k', Body=b'x')",
    );
    let mut vars = moto.env();
    vars.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    vars.push(("AWS_SECRET_ACCESS_KEY".into(), "wrong-secret".into()));
    let cfg = Config::from_vars(vars).unwrap();
    let s3 = store::for_provider(&cfg, Provider::S3).unwrap();
    let e = s3.get("photos", "k").await.unwrap_err();
    match &e {
        StoreError::PermissionDenied { status, code, .. } => {
            assert_eq!(
                (*status, code.as_str(), e.retryable()),
                (403, "SignatureDoesNotMatch", false),
                "{e}"
            )
        }
        other => panic!("{other}"),
    }
    // The right secret reads the same object.
    let ok = store::for_provider(&config(&moto, &[]), Provider::S3).unwrap();
    assert_eq!(&ok.get("photos", "k").await.unwrap()[..], b"x");
}

#[tokio::test(flavor = "multi_thread")]
async fn temporary_credentials_with_a_session_token() {
    let moto = Moto::start();
    let creds = moto.py(
        r#"
s3.create_bucket(Bucket="photos")
iam = boto3.client("iam", **kw)
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
iam.put_role_policy(RoleName="fn", PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
c = boto3.client("sts", **kw).assume_role(RoleArn=role, RoleSessionName="triage")["Credentials"]
print(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
"#,
    );
    let mut parts = creds.split_whitespace();
    let (ak, sk, token) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut vars: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .collect();
    vars.push(("AWS_ACCESS_KEY_ID".into(), ak.into()));
    vars.push(("AWS_SECRET_ACCESS_KEY".into(), sk.into()));
    vars.push(("AWS_SESSION_TOKEN".into(), token.into()));
    let cfg = Config::from_vars(vars).unwrap();
    let s3 = store::for_provider(&cfg, Provider::S3).unwrap();
    s3.put("photos", "t.png", png(8, 8).into(), "image/png")
        .await
        .unwrap();
    assert_eq!(
        s3.head("photos", "t.png")
            .await
            .unwrap()
            .content_type
            .as_deref(),
        Some("image/png")
    );
    // The same temporary key without its session token is refused.
    let without: Vec<(String, String)> = cfg_vars_without_token(&moto, ak, sk);
    let s3 = store::for_provider(&Config::from_vars(without).unwrap(), Provider::S3).unwrap();
    let e = s3.head("photos", "t.png").await.unwrap_err();
    assert!(
        matches!(e, StoreError::PermissionDenied { .. }),
        "a temporary key without its token: {e}"
    );
}

fn cfg_vars_without_token(moto: &Moto, ak: &str, sk: &str) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET") && k != "AWS_SESSION_TOKEN"
        })
        .collect();
    vars.push(("AWS_ACCESS_KEY_ID".into(), ak.into()));
    vars.push(("AWS_SECRET_ACCESS_KEY".into(), sk.into()));
    vars
}

#[tokio::test(flavor = "multi_thread")]
async fn sqs_fifo_results_queue_drops_a_resent_message() {
    use image_triage::sinks::queue::{dedupe_key, QueueMessage};
    use image_triage::sinks::sqs::SqsQueue;
    let moto = Moto::start();
    let url = moto.py(
        "print(sqs.create_queue(QueueName='results.fifo', Attributes={'FifoQueue': 'true'})['QueueUrl'])",
    );
    let path = url.trim().splitn(4, '/').nth(3).unwrap().to_string();
    let q = SqsQueue::new(
        &format!("sqs://sqs.us-east-1.amazonaws.com/{path}"),
        &config(&moto, &[]),
    )
    .unwrap();
    let msg = QueueMessage {
        schema: "image-triage/v1",
        dedupe_key: dedupe_key("photos", "a.png", "etag1", "cfg1"),
        bucket: "photos",
        key: "a.png",
        etag: "etag1",
        verdict: Some("pass"),
        labels: vec!["cat"],
        result_key: None,
        processed_at: chrono::Utc::now(),
    };
    assert!(q.publish(&msg).await.unwrap());
    assert!(q.publish(&msg).await.unwrap(), "SQS accepts the re-send");
    let got = moto.py(&format!(
        "r = sqs.receive_message(QueueUrl={:?}, MaxNumberOfMessages=10, WaitTimeSeconds=1)\nprint(json.dumps([m['Body'] for m in r.get('Messages', [])]))",
        url.trim()
    ));
    let bodies: Vec<String> = serde_json::from_str(&got).unwrap();
    assert_eq!(bodies.len(), 1, "{bodies:?}");

    // SQS requests are checked too: a wrong secret is refused, and not retried.
    let mut vars = moto.env();
    vars.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    vars.push(("AWS_SECRET_ACCESS_KEY".into(), "wrong".into()));
    let bad = SqsQueue::new(
        &format!("sqs://sqs.us-east-1.amazonaws.com/{path}"),
        &Config::from_vars(vars).unwrap(),
    )
    .unwrap();
    let e = bad.publish(&msg).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("403"), "{e}");
    let v: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(v["dedupe_key"], msg.dedupe_key.as_str());
}
