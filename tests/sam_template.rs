//! template.yaml passes cfn-lint and the SAM transform (aws-sam-translator, run offline by
//! tests/support/sam_transform.py: cfn-lint does not run the transform), and the transformed
//! CloudFormation says what the deployment needs. Both tools come from
//! scripts/install-test-tools.sh.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn tool(var: &str, name: &str) -> PathBuf {
    common::tool(var, &format!("tools/bin/{name}"))
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn cfn_lint(template: &Path) -> (bool, String) {
    let out = Command::new(tool("TRIAGE_CFN_LINT", "cfn-lint"))
        .arg(template)
        .output()
        .expect("run cfn-lint");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn transform(template: &Path) -> Result<Value, String> {
    let out = Command::new(tool("TRIAGE_TOOLS_PYTHON", "python"))
        .arg(repo("tests/support/sam_transform.py"))
        .arg(template)
        .output()
        .expect("run the SAM transform");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

#[test]
fn template_lints_clean_and_transforms() {
    let (ok, report) = cfn_lint(&repo("template.yaml"));
    assert!(ok, "cfn-lint:\n{report}");
    let cfn = transform(&repo("template.yaml")).unwrap_or_else(|e| panic!("SAM transform: {e}"));
    let r = &cfn["Resources"];

    let f = &r["TriageFunction"]["Properties"];
    assert_eq!(f["Runtime"], "provided.al2023");
    assert_eq!(f["Handler"], "bootstrap");
    // The models layer's ONNX Runtime is the x86_64 build.
    assert_eq!(f["Architectures"][0], "x86_64");
    assert_eq!(f["MemorySize"], 1024);
    let env = &f["Environment"]["Variables"];
    assert!(
        env["TRIAGE_QUEUE"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .starts_with("sqs://"),
        "{env}"
    );
    assert_eq!(env["TRIAGE_MODEL_DIR"], "/opt/models");

    // The models: the layer this template builds unless another layer's ARN is given.
    let layer = r
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, v)| v["Type"] == "AWS::Lambda::LayerVersion")
        .map(|(k, _)| k.clone())
        .expect("a models layer");
    assert_eq!(f["Layers"][0]["Fn::If"][1]["Ref"], layer, "{}", f["Layers"]);
    assert_eq!(
        r[&layer]["Properties"]["CompatibleArchitectures"][0],
        "x86_64"
    );

    // Uploads arrive through EventBridge (a new or an existing bucket alike): this bucket,
    // our prefix, and never the CopyObject the metadata write-back makes.
    let rule = &r["TriageFunctionUploaded"]["Properties"];
    let pattern = &rule["EventPattern"];
    assert_eq!(pattern["detail-type"][0], "Object Created");
    assert_eq!(pattern["detail"]["bucket"]["name"][0]["Ref"], "BucketName");
    assert_eq!(
        pattern["detail"]["object"]["key"][0]["prefix"]["Ref"],
        "UploadPrefix"
    );
    let reasons: Vec<&str> = pattern["detail"]["reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["PutObject", "POST Object", "CompleteMultipartUpload"]
    );
    assert!(r["TriageFunctionUploadedPermission"].is_object());
    let created = &r["UploadBucket"];
    assert_eq!(created["Condition"], "CreateBucket");
    assert_eq!(
        created["Properties"]["NotificationConfiguration"]["EventBridgeConfiguration"]
            ["EventBridgeEnabled"],
        true
    );

    // Failures end in one queue, which is alarmed: Lambda's failure destination after its
    // retries, and EventBridge's dead-letter queue (allowed by the queue policy for this rule).
    let failed = serde_json::json!({"Fn::GetAtt": ["FailedEventsQueue", "Arn"]});
    assert_eq!(
        r["TriageFunctionEventInvokeConfig"]["Properties"]["DestinationConfig"]["OnFailure"]
            ["Destination"],
        failed
    );
    assert_eq!(rule["Targets"][0]["DeadLetterConfig"]["Arn"], failed);
    let qp = r["FailedEventsQueuePolicy"]["Properties"]["PolicyDocument"].to_string();
    assert!(
        qp.contains("events.amazonaws.com") && qp.contains("TriageFunctionUploaded"),
        "{qp}"
    );
    let alarm = &r["FailedEventsAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0],
        "FailedEventsQueue"
    );
    // Logs are kept as long as the user says, in the group the function writes to.
    assert_eq!(
        r["TriageLogGroup"]["Properties"]["RetentionInDays"]["Ref"],
        "LogRetentionDays"
    );
    assert_eq!(f["LoggingConfig"]["LogGroup"]["Ref"], "TriageLogGroup");
    // The template refuses a deploy that analyses nothing.
    assert!(cfn["Rules"]["SomethingIsAnalysed"]["Assertions"].is_array());

    // Least privilege: no wildcard action or resource anywhere in the role.
    let policies = r["TriageFunctionRole"]["Properties"]["Policies"].to_string();
    assert!(
        !policies.contains("\"Action\":\"*\"") && !policies.contains("\"Resource\":\"*\""),
        "{policies}"
    );
    assert!(!policies.contains("s3:*"), "{policies}");
    // Deleting objects is granted only to the block actions that remove one.
    let conditional = r["TriageFunctionRole"]["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|st| {
            st["Fn::If"][0] == "DeletesObjects" && st["Fn::If"][1]["Action"] == "s3:DeleteObject"
        })
        .count();
    assert_eq!(conditional, 1, "{policies}");
    assert_eq!(policies.matches("s3:DeleteObject").count(), 1, "{policies}");
    assert!(
        policies.contains("s3:PutObjectTagging") && policies.contains("sqs:SendMessage"),
        "{policies}"
    );
}

#[test]
fn the_checks_catch_broken_templates() {
    let text = std::fs::read_to_string(repo("template.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // An S3 event (which needs a bucket of this template) in place of the EventBridge rule:
    // only the transform sees it.
    let bad_event = dir.path().join("bad-event.yaml");
    assert!(text.contains("Type: EventBridgeRule"));
    std::fs::write(
        &bad_event,
        text.replace("Type: EventBridgeRule", "Type: S3"),
    )
    .unwrap();
    let e = transform(&bad_event).unwrap_err();
    assert!(e.contains("Bucket") || e.contains("S3"), "{e}");
    // A misspelt property: cfn-lint's job.
    let typo = dir.path().join("typo.yaml");
    std::fs::write(
        &typo,
        text.replace("Handler: bootstrap", "Handlr: bootstrap"),
    )
    .unwrap();
    let (ok, report) = cfn_lint(&typo);
    assert!(!ok, "{report}");
}

/// events/deployed-upload.json, substituted as docs/aws.md says, is an upload event for the
/// object it names: the binary (here on a local bucket) triages exactly that object.
#[test]
fn the_local_invoke_event_reaches_the_object_it_names() {
    let text = std::fs::read_to_string(repo("events/deployed-upload.json")).unwrap();
    for placeholder in ["__BUCKET__", "__KEY__", "__REGION__", "__ACCOUNT__"] {
        assert!(text.contains(placeholder), "{placeholder}");
    }
    let event = text
        .replace("__BUCKET__", "my-uploads-123")
        .replace("__KEY__", "uploads/cat.png")
        .replace("__REGION__", "eu-west-1")
        .replace("__ACCOUNT__", "111122223333");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("my-uploads-123/uploads")).unwrap();
    std::fs::write(
        dir.path().join("my-uploads-123/uploads/cat.png"),
        common::photo("chelsea.png"),
    )
    .unwrap();
    let event_file = dir.path().join("event.json");
    std::fs::write(&event_file, event).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_image-triage"))
        .arg("process")
        .arg(&event_file)
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", dir.path())
        .env("TRIAGE_MODEL_DIR", common::model_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let outcome: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(outcome["status"], "done", "{outcome}");
    assert_eq!(outcome["key"], "uploads/cat.png", "{outcome}");
    assert!(dir
        .path()
        .join("my-uploads-123/triage-results/uploads/cat.png.json")
        .is_file());
}
