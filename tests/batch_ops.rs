//! Batch invocations end to end (issue 15). S3 Batch Operations events of both schema versions
//! through the release binary as a Lambda function under cargo-lambda's Runtime API emulator,
//! against moto with SigV4 enforced; the COS batch shape (UNVERIFIED, see src/events/batch.rs)
//! through the SCF image function and `process --batch-response` against the Tencent emulator.
//! Every response is checked by an independent validator written from the AWS documentation.

mod common;
// Only the emulator itself is used here, not its event builders.
#[allow(unused_imports)]
#[path = "tencent/emulator.rs"]
mod emulator;

use std::process::{Child, Command, Stdio};

use common::lambda::RuntimeEmulator;
use common::moto::{png, Moto};
use serde_json::{json, Value};

/// The child dies with the test, pass or fail.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const RESULT_CODES: [&str; 3] = ["Succeeded", "TemporaryFailure", "PermanentFailure"];

/// The response schema of "Invoke AWS Lambda function" (S3 User Guide, batch-ops-invoke-lambda:
/// "Example response" and "Response and result codes"): `invocationSchemaVersion` and
/// `invocationId` copied from the request, `treatMissingKeysAs` one of the result codes, and
/// one result per task with the task's `taskId`, a `resultCode` and a `resultString`; nothing
/// else. Plus this project's promise: a result string is one line of at most 200 characters.
fn validate(request: &Value, response: &Value) -> Result<(), String> {
    let obj = response.as_object().ok_or("response is not an object")?;
    for key in obj.keys() {
        if ![
            "invocationSchemaVersion",
            "treatMissingKeysAs",
            "invocationId",
            "results",
        ]
        .contains(&key.as_str())
        {
            return Err(format!("undocumented top-level field {key}"));
        }
    }
    for echoed in ["invocationSchemaVersion", "invocationId"] {
        match (obj.get(echoed), request.get(echoed)) {
            (Some(Value::String(got)), Some(Value::String(sent))) if got == sent => {}
            (got, sent) => return Err(format!("{echoed}: sent {sent:?}, answered {got:?}")),
        }
    }
    let treat = obj.get("treatMissingKeysAs").and_then(Value::as_str);
    if !treat.is_some_and(|t| RESULT_CODES.contains(&t)) {
        return Err(format!("treatMissingKeysAs is {treat:?}"));
    }
    let results = obj
        .get("results")
        .and_then(Value::as_array)
        .ok_or("results is not an array")?;
    let tasks = request["tasks"].as_array().ok_or("request without tasks")?;
    if results.len() != tasks.len() {
        return Err(format!(
            "{} results for {} tasks",
            results.len(),
            tasks.len()
        ));
    }
    for (result, task) in results.iter().zip(tasks) {
        let r = result.as_object().ok_or("a result is not an object")?;
        if let Some(k) = r
            .keys()
            .find(|k| !["taskId", "resultCode", "resultString"].contains(&k.as_str()))
        {
            return Err(format!("undocumented result field {k}"));
        }
        if r.get("taskId") != task.get("taskId") {
            return Err(format!("taskId {:?} for task {task}", r.get("taskId")));
        }
        let code = r.get("resultCode").and_then(Value::as_str);
        if !code.is_some_and(|c| RESULT_CODES.contains(&c)) {
            return Err(format!("resultCode {code:?}"));
        }
        let text = r
            .get("resultString")
            .and_then(Value::as_str)
            .ok_or("resultString is not a string")?;
        if text.contains(['\n', '\r']) || text.chars().count() > 200 {
            return Err(format!("resultString {text:?} is not one short line"));
        }
    }
    Ok(())
}

/// (resultCode, resultString) per task, the response validated first.
fn results(request: &Value, status: u16, body: &str) -> Vec<(String, String)> {
    assert_eq!(status, 200, "{body}");
    let response: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    if let Err(e) = validate(request, &response) {
        panic!("invalid batch response ({e}): {response}");
    }
    response["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resultCode"].as_str().unwrap().to_string(),
                r["resultString"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_result(got: &(String, String), code: &str, text_prefix: &str) {
    assert!(
        got.0 == code && got.1.starts_with(text_prefix),
        "want {code} / {text_prefix}…, got {got:?}"
    );
}

#[test]
fn validator_refuses_what_the_docs_do_not_allow() {
    let request = json!({"invocationSchemaVersion": "1.0", "invocationId": "i",
                         "tasks": [{"taskId": "t"}]});
    let good = json!({"invocationSchemaVersion": "1.0", "treatMissingKeysAs": "PermanentFailure",
                      "invocationId": "i",
                      "results": [{"taskId": "t", "resultCode": "Succeeded", "resultString": "ok"}]});
    assert_eq!(validate(&request, &good), Ok(()));
    let mut bad = vec![];
    for (pointer, value) in [
        ("/invocationId", json!("other")),
        ("/invocationSchemaVersion", json!("2.0")),
        ("/treatMissingKeysAs", json!("Ignore")),
        ("/results/0/taskId", json!("u")),
        ("/results/0/resultCode", json!("Failed")),
        ("/results/0/resultString", json!("two\nlines")),
        ("/results", json!([])),
        ("/outcomes", json!([])),
    ] {
        let mut v = good.clone();
        match v.pointer_mut(pointer) {
            Some(slot) => *slot = value,
            None => {
                v[pointer.trim_start_matches('/')] = value;
            }
        }
        bad.push(validate(&request, &v).is_err());
    }
    assert!(bad.iter().all(|b| *b), "{bad:?}");
}

const K_SPACE: &str = "in/cat photo.png";
const K_UNICODE: &str = "in/猫 +1.png";
const K_PLAIN: &str = "in/plain.png";
const K_ACCENT: &str = "in/été (2).png";

#[test]
fn s3_batch_operations_under_the_runtime_emulator() {
    let moto = Moto::start();
    let photo = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(photo.path(), png(96, 64)).unwrap();
    let keys = json!([K_SPACE, K_UNICODE, K_PLAIN, K_ACCENT]).to_string();
    let versions: Value = serde_json::from_str(&moto.py(&format!(
        r#"
s3.create_bucket(Bucket="uploads")
s3.put_bucket_versioning(Bucket="uploads", VersioningConfiguration={{"Status": "Enabled"}})
body = open({photo:?}, "rb").read()
print(json.dumps({{k: s3.put_object(Bucket="uploads", Key=k, Body=body, ContentType="image/png")["VersionId"]
                   for k in json.loads({keys:?})}}))
"#,
        photo = photo.path().display().to_string(),
    )))
    .unwrap();
    let version = versions[K_SPACE].as_str().unwrap().to_string();

    let emulator = RuntimeEmulator::start();
    let mut function = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    function
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(emulator.function_env())
        .envs(moto.env())
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _function = Killed(function.spawn().expect("start the function"));

    // Schema 1.0: URL-encoded keys (space as `+`, UTF-8 and `+` escaped), bucket ARN, a version.
    let v1 = json!({
        "invocationSchemaVersion": "1.0",
        "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        "job": {"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce"},
        "tasks": [
            {"taskId": "dGFzay0x", "s3Key": "in/cat+photo.png", "s3VersionId": version,
             "s3BucketArn": "arn:aws:s3:::uploads"},
            {"taskId": "dGFzay0y", "s3Key": "in/%E7%8C%AB+%2B1.png", "s3VersionId": null,
             "s3BucketArn": "arn:aws:s3:::uploads"},
            {"taskId": "dGFzay0z", "s3Key": "in/missing+file.png", "s3VersionId": null,
             "s3BucketArn": "arn:aws:s3:::uploads"},
        ]
    });
    let (status, body) = emulator.invoke(v1.to_string().as_bytes());
    let r = results(&v1, status, &body);
    assert_result(&r[0], "Succeeded", "done");
    assert_result(&r[1], "Succeeded", "done");
    // A missing key: the default policy, answered as such.
    assert_result(&r[2], "PermanentFailure", "skipped object_gone");
    assert!(
        body.contains(r#""treatMissingKeysAs":"PermanentFailure""#),
        "{body}"
    );

    // Schema 2.0: raw keys, bucket names, user arguments with a missing-key policy. A raw key that
    // names nothing but is an encoding of one that exists is found through its decoded reading.
    let v2 = json!({
        "invocationSchemaVersion": "2.0",
        "invocationId": "aW52b2NhdGlvbi0y",
        "job": {"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373cf",
                "userArguments": {"treatMissingKeysAs": "Succeeded"}},
        "tasks": [
            {"taskId": "djIt1", "s3Key": K_PLAIN, "s3VersionId": null, "s3Bucket": "uploads"},
            {"taskId": "djIt2", "s3Key": K_ACCENT, "s3VersionId": null, "s3Bucket": "uploads"},
            {"taskId": "djIt3", "s3Key": K_UNICODE, "s3VersionId": null, "s3Bucket": "uploads"},
            {"taskId": "djIt4", "s3Key": "in/cat+photo.png", "s3VersionId": null, "s3Bucket": "uploads"},
            {"taskId": "djIt5", "s3Key": "in/gone.png", "s3VersionId": null, "s3Bucket": "uploads"},
        ]
    });
    let (status, body) = emulator.invoke(v2.to_string().as_bytes());
    let r = results(&v2, status, &body);
    assert_result(&r[0], "Succeeded", "done");
    assert_result(&r[1], "Succeeded", "done");
    assert_result(&r[2], "Succeeded", "skipped already_processed");
    assert_result(&r[3], "Succeeded", "skipped already_processed");
    assert_result(&r[4], "Succeeded", "skipped object_gone");
    assert!(
        body.contains(r#""treatMissingKeysAs":"Succeeded""#),
        "{body}"
    );

    // The same job re-run (a redrive, or the failed-tasks report re-submitted): nothing twice.
    let (status, body) = emulator.invoke(v1.to_string().as_bytes());
    let r = results(&v1, status, &body);
    assert_result(&r[0], "Succeeded", "skipped already_processed");
    assert_result(&r[1], "Succeeded", "skipped already_processed");
    assert_result(&r[2], "PermanentFailure", "skipped object_gone");

    // The sidecars are in the bucket, read back with boto3.
    let found: Value = serde_json::from_str(&moto.py(&format!(
        r#"
out = {{}}
for k in json.loads({keys:?}):
    try:
        out[k] = json.loads(s3.get_object(Bucket="uploads", Key="triage-results/" + k + ".json")["Body"].read())["object"]["key"]
    except Exception as e:
        out[k] = repr(e)
print(json.dumps(out))
"#
    )))
    .unwrap();
    for key in [K_SPACE, K_UNICODE, K_PLAIN, K_ACCENT] {
        assert_eq!(found[key], key, "sidecar of {key}: {found}");
    }

    // The bucket unreachable: a retryable failure is the task's TemporaryFailure (Batch
    // Operations redrives it), not a function error.
    drop(moto);
    let v3 = json!({
        "invocationSchemaVersion": "2.0", "invocationId": "aW52b2NhdGlvbi0z",
        "job": {"id": "j3", "userArguments": {}},
        "tasks": [{"taskId": "djMt1", "s3Key": K_PLAIN, "s3VersionId": null, "s3Bucket": "uploads"}]
    });
    let (status, body) = emulator.invoke(v3.to_string().as_bytes());
    let r = results(&v3, status, &body);
    assert_result(&r[0], "TemporaryFailure", "failed store_error");
}

const COS_BUCKET: &str = "photos-1250000000";
const COS_KEY: &str = "uploads/猫 photo(1).png";
const COS_PLUS: &str = "uploads/a+b c.png";

async fn post(port: u16, body: &Value) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/event-invoke"))
        .header("content-type", "application/json")
        .header("X-Scf-Request-Id", "3b21a413-6e6a-11ee-b2ba-52540008c7f7")
        .header("X-Scf-Timeout", "30000")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn cos_batch_shapes_through_the_scf_image_function_and_process() {
    use emulator::{Emulator, Fault};
    let emu = Emulator::start().await;
    // Distinct contents: an analysis result may be reused for identical bytes.
    for (i, key) in [COS_KEY, COS_PLUS, "uploads/later.png"]
        .into_iter()
        .enumerate()
    {
        let png = common::png_header(640, 480 + i as u32, 30_000);
        emu.put_object(COS_BUCKET, key, png, "image/png");
    }
    let mut envs = emu.env();
    envs.push(("TRIAGE_IMS_MAX_ATTEMPTS".into(), "1".into()));
    let port = common::free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    server
        .args(["scf-http", "--listen", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(envs.clone())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _server = Killed(server.spawn().expect("start scf-http"));
    tokio::task::spawn_blocking(move || common::wait_for_port(port, "scf-http"))
        .await
        .unwrap();

    // S3 spelling with a qcs ARN (the name without its appid), key as sent.
    let a = json!({
        "invocationSchemaVersion": "1.0", "invocationId": "Y29zLWludi0x", "job": {"id": "j1"},
        "tasks": [
            {"taskId": "a1", "s3Key": COS_KEY, "s3VersionId": "",
             "s3BucketArn": "qcs::cos:ap-guangzhou:uid/1250000000:photos"},
            {"taskId": "a2", "s3Key": "uploads/missing.png", "s3VersionId": "",
             "s3BucketArn": "qcs::cos:ap-guangzhou:uid/1250000000:photos-1250000000"},
        ]
    });
    let (status, body) = post(port, &a).await;
    let r = results(&a, status, &body);
    assert_result(&r[0], "Succeeded", "done pass");
    assert_result(&r[1], "PermanentFailure", "skipped object_gone");

    // COS spelling, percent-encoded key (found through its decoded reading); a re-run task.
    let b = json!({
        "invocationSchemaVersion": "2.0", "invocationId": "Y29zLWludi0y",
        "job": {"id": "j2", "userArguments": {}},
        "tasks": [
            {"taskId": "b1", "cosKey": "uploads/a%2Bb%20c.png", "cosVersionId": null, "cosBucket": COS_BUCKET},
            {"taskId": "b2", "cosKey": COS_KEY, "cosVersionId": null, "cosBucket": COS_BUCKET},
        ]
    });
    let (status, body) = post(port, &b).await;
    let r = results(&b, status, &body);
    assert_result(&r[0], "Succeeded", "done pass");
    assert_result(&r[1], "Succeeded", "skipped already_processed pass");
    for key in [COS_KEY, COS_PLUS] {
        let sidecar = format!("triage-results/{key}.json");
        assert!(emu.object(COS_BUCKET, &sidecar).is_some(), "no {sidecar}");
    }

    // A retryable vendor failure: HTTP 200 with a TemporaryFailure task (a plain COS event
    // answers 500 here so that SCF retries it; tencent_scf.rs).
    emu.inject("ims", Fault::ApiError("RequestLimitExceeded"), 1);
    let c = json!({
        "invocationSchemaVersion": "2.0", "invocationId": "Y29zLWludi0z", "job": {"id": "j3"},
        "tasks": [{"taskId": "c1", "cosKey": "uploads/later.png", "cosBucket": COS_BUCKET}]
    });
    let (status, body) = post(port, &c).await;
    let r = results(&c, status, &body);
    assert_result(&r[0], "TemporaryFailure", "failed");
    assert!(r[0].1.contains("RequestLimitExceeded"), "{r:?}");

    // `process --batch-response` answers the fixture's shape the same way (the retry, now done).
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), c.to_string()).unwrap();
    let path = file.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_image-triage"))
            .args(["process", "--provider", "cos", "--batch-response"])
            .arg(&path)
            .env_clear()
            .envs(envs)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = results(&c, 200, stdout.trim());
    assert_result(&r[0], "Succeeded", "done pass");
}
