//! End to end against moto with SigV4 enforced: a real PutObject fires the bucket notification,
//! the function (the real binary) triages the object, and the results are read back from moto
//! with boto3, not from the function's memory.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};

use common::lambda::RuntimeEmulator;
use common::moto::{png, Moto};
use common::{free_port, wait_for_port};

/// The `image-triage` binary as a child that dies with the test; its stderr goes to a file.
struct Function {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Function {
    fn start(moto: &Moto, args: &[&str], extra: &[(&str, &str)]) -> Function {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-triage"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TRIAGE_LABELER", "none")
            .env("TRIAGE_MODERATOR", "none")
            .env("TRIAGE_LOG", "info")
            .env("TRIAGE_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap());
        for (k, v) in moto.env() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Function {
            child: cmd.spawn().expect("start image-triage"),
            log,
        }
    }

    fn log(&self) -> String {
        let mut s = String::new();
        let _ = self.log.reopen().unwrap().read_to_string(&mut s);
        s
    }
}

/// Upload `key` with boto3 and read back, with boto3, what the function wrote.
const UPLOAD_AND_READ_BACK: &str = r#"
key = os.environ["KEY"]
s3.put_object(Bucket="uploads", Key=key, Body=open(os.environ["PHOTO"], "rb").read(), ContentType="image/png")
deadline = time.time() + 60
def sidecar_written():
    try:
        s3.head_object(Bucket="uploads", Key="triage-results/" + key + ".json")
        return True
    except Exception:
        return False
# With an early reply the triage runs after the upload returns; the sidecar is written last.
while True:
    h = s3.head_object(Bucket="uploads", Key=key)
    if ("triage-marker" in h["Metadata"] and sidecar_written()) or time.time() > deadline:
        break
    time.sleep(0.2)
tags = s3.get_object_tagging(Bucket="uploads", Key=key)["TagSet"]
try:
    sidecar = json.loads(s3.get_object(Bucket="uploads", Key="triage-results/" + key + ".json")["Body"].read())
except Exception as e:
    sidecar = {"error": str(e)}
print(json.dumps({"meta": h["Metadata"], "etag": h["ETag"], "tags": tags, "sidecar": sidecar}))
"#;

fn check_results(v: &serde_json::Value, key: &str) {
    let meta = &v["meta"];
    let marker = meta["triage-marker"]
        .as_str()
        .unwrap_or_else(|| panic!("no marker: {v}"));
    let etag = v["etag"].as_str().unwrap().trim_matches('"');
    assert!(
        marker.starts_with(etag),
        "marker {marker} is for this content ({etag})"
    );
    let verdict = meta["triage-verdict"].as_str().unwrap();
    let tags = v["tags"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["Key"] == "triage-verdict" && t["Value"] == verdict),
        "{v}"
    );
    assert_eq!(v["sidecar"]["object"]["key"], key, "{v}");
    assert_eq!(v["sidecar"]["verdict"]["decision"], verdict, "{v}");
}

#[test]
fn s3_put_to_sns_to_http_serve_writes_results_on_the_object() {
    let moto = Moto::start();
    let port = free_port();
    let serve = Function::start(
        &moto,
        &["serve", "--bind", &format!("127.0.0.1:{port}")],
        // moto posts to SNS HTTP subscribers inside the upload's own PUT handler and sets the
        // object's tags after that: an early reply lets the upload finish first, as on AWS.
        &[
            ("TRIAGE_SERVE_TOKEN", "tok-123"),
            ("TRIAGE_SERVE_REPLY", "early"),
        ],
    );
    wait_for_port(port, "image-triage serve");
    let photo = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(photo.path(), png(320, 240)).unwrap();
    moto.py(&format!(
        r#"
s3.create_bucket(Bucket="uploads")
topic = sns.create_topic(Name="uploads")["TopicArn"]
sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="http://127.0.0.1:{port}/events?token=tok-123")
s3.put_bucket_notification_configuration(Bucket="uploads", NotificationConfiguration={{
    "TopicConfigurations": [{{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}}]}})
"#
    ));
    let key = "in/cat photo+1.png";
    let out = Command::new(
        std::env::var_os("TRIAGE_TOOLS_PYTHON")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| common::cache_dir().join("tools/bin/python")),
    )
    .arg("-c")
    .arg(format!("{}\n{UPLOAD_AND_READ_BACK}", common::moto::PRELUDE))
    .env("EP", &moto.endpoint)
    .env("AK", &moto.access_key)
    .env("SK", &moto.secret_key)
    .env("KEY", key)
    .env("PHOTO", photo.path())
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check_results(&v, key);
    // The outcome is logged just after the sidecar is written.
    let started = std::time::Instant::now();
    let mut log = serve.log();
    while !log.contains("\"status\":\"done\"")
        && started.elapsed() < std::time::Duration::from_secs(10)
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
        log = serve.log();
    }
    // The notification setup's s3:TestEvent, and the ObjectCreated:Copy our own metadata
    // write-back fired, were recognised and skipped.
    assert!(log.contains("test_event"), "{log}");
    assert!(log.contains("write_back_copy"), "{log}");
    assert!(log.contains("own_output"), "{log}");
    assert_eq!(
        log.matches("\"status\":\"done\"").count(),
        1,
        "triaged once: {log}"
    );
}

/// `image-triage ARGS` to completion with moto's variables; (stdout, stderr, success).
fn run_function(moto: &Moto, args: &[&str], extra: &[(&str, &str)]) -> (String, String, bool) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none");
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run image-triage");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

fn python(moto: &Moto, script: &str, vars: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = Command::new(
        std::env::var_os("TRIAGE_TOOLS_PYTHON")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| common::cache_dir().join("tools/bin/python")),
    );
    cmd.arg("-c")
        .arg(format!("{}\n{script}", common::moto::PRELUDE))
        .env("EP", &moto.endpoint)
        .env("AK", &moto.access_key)
        .env("SK", &moto.secret_key);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

const RESULTS_MESSAGES: &str = r#"
url = sqs.get_queue_url(QueueName="results")["QueueUrl"]
msgs = []
while True:
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"])
    if not r.get("Messages"):
        break
    for m in r["Messages"]:
        msgs.append({"body": json.loads(m["Body"]), "attr": m["MessageAttributes"]["dedupe_key"]["StringValue"]})
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
print(json.dumps(msgs))
"#;

#[test]
fn s3_put_to_sqs_consumed_by_poll_sqs_writes_results_and_one_results_message() {
    let moto = Moto::start();
    let photo = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(photo.path(), png(200, 150)).unwrap();
    let urls = python(
        &moto,
        r#"
s3.create_bucket(Bucket="uploads")
up = sqs.create_queue(QueueName="uploads")["QueueUrl"]
res = sqs.create_queue(QueueName="results")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=up, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
s3.put_bucket_notification_configuration(Bucket="uploads", NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
print(json.dumps({"uploads": up, "results": res}))
"#,
        &[],
    );
    let key = "in/dog 2.png";
    python(
        &moto,
        r#"s3.put_object(Bucket="uploads", Key=os.environ["KEY"], Body=open(os.environ["PHOTO"], "rb").read(), ContentType="image/png"); print("{}")"#,
        &[("KEY", key), ("PHOTO", photo.path().to_str().unwrap())],
    );
    // The results queue named the sqs:// way, through the endpoint override.
    let results = format!(
        "sqs://sqs.us-east-1.amazonaws.com/{}",
        urls["results"]
            .as_str()
            .unwrap()
            .splitn(4, '/')
            .nth(3)
            .unwrap()
    );
    let uploads = urls["uploads"].as_str().unwrap();
    let extra = [("TRIAGE_QUEUE", results.as_str())];
    let args = ["poll-sqs", uploads, "--wait", "1", "--exit-when-empty"];
    let (stdout, stderr, ok) = run_function(&moto, &args, &extra);
    assert!(ok, "{stderr}");
    // The s3:TestEvent, the upload, then the copy fired by our metadata write-back and the
    // sidecar's own notification.
    assert!(stdout.contains("\"code\":\"test_event\""), "{stdout}");
    assert_eq!(stdout.matches("\"status\":\"done\"").count(), 1, "{stdout}");
    assert!(stdout.contains("write_back_copy"), "{stdout}\n{stderr}");

    let v = python(&moto, UPLOAD_READ_BACK_ONLY, &[("KEY", key)]);
    check_results(&v, key);
    // `inspect` reads the same results through the S3 store.
    let (stdout, stderr, ok) = run_function(
        &moto,
        &["inspect", "uploads", key, "--provider", "s3", "--json"],
        &[],
    );
    assert!(ok, "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert!(
        report
            .to_string()
            .contains(v["meta"]["triage-marker"].as_str().unwrap()),
        "{report}"
    );
    let msgs = python(&moto, RESULTS_MESSAGES, &[]);
    let msgs = msgs.as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0]["body"]["key"], key);
    assert_eq!(msgs[0]["body"]["dedupe_key"], msgs[0]["attr"]);

    // A re-delivered upload event: recognised, no second results message.
    let event = String::from_utf8(common::event_for("uploads", key, "ObjectCreated:Put")).unwrap();
    python(
        &moto,
        r#"sqs.send_message(QueueUrl=os.environ["Q"], MessageBody=os.environ["BODY"]); print("{}")"#,
        &[("Q", uploads), ("BODY", &event)],
    );
    let (stdout, stderr, ok) = run_function(&moto, &args, &extra);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("already_processed"), "{stdout}");
    let msgs = python(&moto, RESULTS_MESSAGES, &[]);
    assert_eq!(msgs.as_array().unwrap().len(), 0, "{msgs}");
}

const UPLOAD_READ_BACK_ONLY: &str = r#"
key = os.environ["KEY"]
h = s3.head_object(Bucket="uploads", Key=key)
tags = s3.get_object_tagging(Bucket="uploads", Key=key)["TagSet"]
sidecar = json.loads(s3.get_object(Bucket="uploads", Key="triage-results/" + key + ".json")["Body"].read())
print(json.dumps({"meta": h["Metadata"], "etag": h["ETag"], "tags": tags, "sidecar": sidecar}))
"#;

#[test]
fn lambda_binary_under_the_runtime_emulator_writes_results_to_moto() {
    let moto = Moto::start();
    let photo = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(photo.path(), png(256, 256)).unwrap();
    let key = "uploads/sub dir/bird.png";
    python(
        &moto,
        r#"s3.create_bucket(Bucket="uploads"); s3.put_object(Bucket="uploads", Key=os.environ["KEY"], Body=open(os.environ["PHOTO"], "rb").read(), ContentType="image/png"); print("{}")"#,
        &[("KEY", key), ("PHOTO", photo.path().to_str().unwrap())],
    );

    let emulator = RuntimeEmulator::start();
    let function_env = emulator.function_env();
    let function_env: Vec<(&str, &str)> = function_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let _function = Function::start(&moto, &[], &function_env);
    let event = common::event_for("uploads", key, "ObjectCreated:Put");
    let (status, body) = emulator.invoke(&event);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["outcomes"][0]["status"], "done", "{v}");

    let back = python(&moto, UPLOAD_READ_BACK_ONLY, &[("KEY", key)]);
    check_results(&back, key);

    // The copy event the write-back fires, delivered as Lambda would: skipped.
    let copy = common::event_for("uploads", key, "ObjectCreated:Copy");
    let (_, body) = emulator.invoke(&copy);
    assert!(body.contains("write_back_copy"), "{body}");
}

/// A MinIO webhook delivery, as MinIO sends it: `Authorization: Bearer <auth_token>`, the
/// `s3:`-prefixed event name, the key URL-encoded, user metadata in the record.
#[test]
fn minio_style_webhook_into_serve_writes_results() {
    let moto = Moto::start();
    let photo = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(photo.path(), png(128, 96)).unwrap();
    let key = "in/minio shot.png";
    python(
        &moto,
        r#"s3.create_bucket(Bucket="uploads"); s3.put_object(Bucket="uploads", Key=os.environ["KEY"], Body=open(os.environ["PHOTO"], "rb").read(), ContentType="image/png"); print("{}")"#,
        &[("KEY", key), ("PHOTO", photo.path().to_str().unwrap())],
    );
    let port = free_port();
    let _serve = Function::start(
        &moto,
        &["serve", "--bind", &format!("127.0.0.1:{port}")],
        &[("TRIAGE_SERVE_TOKEN", "minio-secret")],
    );
    wait_for_port(port, "image-triage serve");
    let event = serde_json::json!({
        "EventName": "s3:ObjectCreated:Put",
        "Key": format!("uploads/{key}"),
        "Records": [{
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2026-11-21T10:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put",
            "userIdentity": {"principalId": "minioadmin"},
            "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "17A", "x-minio-origin-endpoint": "http://127.0.0.1:9000"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {"name": "uploads", "ownerIdentity": {"principalId": "minioadmin"}, "arn": "arn:aws:s3:::uploads"},
                "object": {"key": "in%2Fminio+shot.png", "size": 1, "eTag": "x", "contentType": "image/png",
                           "userMetadata": {"content-type": "image/png"}, "sequencer": "17A"}
            },
            "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO (linux; amd64)"}
        }]
    });
    let (status, _, body) = common::http(
        port,
        "POST",
        "/events",
        &[
            ("Authorization", "Bearer minio-secret"),
            ("Content-Type", "application/json"),
        ],
        event.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"done\""), "{body}");
    let back = python(&moto, UPLOAD_READ_BACK_ONLY, &[("KEY", key)]);
    check_results(&back, key);
}

/// A message whose records fail for good is not deleted by `poll-sqs`: SQS delivers it again,
/// and the queue's redrive policy moves it to the dead-letter queue after its receive count.
#[test]
fn poll_sqs_leaves_a_permanent_failure_to_the_dead_letter_queue() {
    let moto = Moto::start();
    let urls = python(
        &moto,
        r#"
dlq = sqs.create_queue(QueueName="uploads-dlq")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
up = sqs.create_queue(QueueName="uploads", Attributes={
    "VisibilityTimeout": "1",
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
sqs.send_message(QueueUrl=up, MessageBody='{"Records": "not an S3 event"}')
print(json.dumps({"uploads": up, "dlq": dlq}))
"#,
        &[],
    );
    let uploads = urls["uploads"].as_str().unwrap();
    // Each run: one receive that fails the record, then (the message hidden) an empty one.
    for _ in 0..3 {
        let args = ["poll-sqs", uploads, "--wait", "1", "--exit-when-empty"];
        let (_, stderr, ok) = run_function(&moto, &args, &[]);
        assert!(ok, "{stderr}");
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let left = python(
        &moto,
        r#"
counts = {}
for name in ("uploads", "uploads-dlq"):
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    counts[name] = [m["Body"] for m in r.get("Messages", [])]
print(json.dumps(counts))
"#,
        &[],
    );
    assert_eq!(
        left["uploads-dlq"].as_array().map(Vec::len),
        Some(1),
        "the failed message reached the dead-letter queue: {left}"
    );
    assert_eq!(left["uploads"].as_array().map(Vec::len), Some(0), "{left}");
}
