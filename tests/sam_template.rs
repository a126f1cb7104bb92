//! template.yaml passes cfn-lint and the SAM transform (aws-sam-translator, run offline by
//! tests/support/sam_transform.py: cfn-lint does not run the transform), and the transformed
//! CloudFormation says what the deployment needs. Both tools come from
//! scripts/install-test-tools.sh.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn tool(var: &str, name: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| common::cache_dir().join("tools/bin").join(name));
    assert!(
        p.is_file(),
        "{} not found: run scripts/install-test-tools.sh",
        p.display()
    );
    p
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
    assert_eq!(f["Architectures"][0], "arm64");
    let env = &f["Environment"]["Variables"];
    assert!(
        env["TRIAGE_QUEUE"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .starts_with("sqs://"),
        "{env}"
    );

    // The upload event: our prefix only, and never the copy the metadata write-back fires.
    let n = &r["UploadBucket"]["Properties"]["NotificationConfiguration"]["LambdaConfigurations"];
    let events: Vec<&str> = n
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Event"].as_str().unwrap())
        .collect();
    assert!(events.contains(&"s3:ObjectCreated:Put"), "{events:?}");
    assert!(
        !events
            .iter()
            .any(|e| e.contains("Copy") || e.ends_with('*')),
        "{events:?}"
    );
    for c in n.as_array().unwrap() {
        assert_eq!(
            c["Filter"]["S3Key"]["Rules"][0]["Value"]["Ref"], "UploadPrefix",
            "{c}"
        );
    }
    assert!(r["TriageFunctionUploadedPermission"].is_object());

    // Least privilege: no wildcard action or resource anywhere in the role.
    let policies = r["TriageFunctionRole"]["Properties"]["Policies"].to_string();
    assert!(
        !policies.contains("\"Action\":\"*\"") && !policies.contains("\"Resource\":\"*\""),
        "{policies}"
    );
    assert!(!policies.contains("s3:*"), "{policies}");
    assert!(
        policies.contains("s3:PutObjectTagging") && policies.contains("sqs:SendMessage"),
        "{policies}"
    );
}

#[test]
fn the_checks_catch_broken_templates() {
    let text = std::fs::read_to_string(repo("template.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // An S3 event whose bucket is not one of this template's buckets: only the transform sees it.
    let bad_bucket = dir.path().join("bad-bucket.yaml");
    std::fs::write(
        &bad_bucket,
        text.replace("Bucket: !Ref UploadBucket", "Bucket: some-other-bucket"),
    )
    .unwrap();
    let e = transform(&bad_bucket).unwrap_err();
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
