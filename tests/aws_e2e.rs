//! End to end against moto with SigV4 enforced: a real PutObject fires the bucket notification,
//! the function (the real binary) triages the object, and the results are read back from moto
//! with boto3, not from the function's memory.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};

use common::moto::{free_port, png, wait_for_port, Moto};

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
while True:
    h = s3.head_object(Bucket="uploads", Key=key)
    if "triage-marker" in h["Metadata"] or time.time() > deadline:
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
    let log = serve.log();
    check_results(&v, key);
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
