//! The Tencent deploy (`deploy/tencent/deploy.sh`, `deploy/tencent/render.py`) checked offline.
//!
//! - Every request the script renders (`--dry-run`) is validated against the API descriptions
//!   tccli itself ships (`tccli/services/<svc>/<version>/api.json`): the action exists and is
//!   online, every member exists and is not disabled, has the documented type (recursively through
//!   objects and lists), every required member is there; plus the documented value rules the
//!   descriptions state in prose (Runtime, trigger Type, TriggerName, MemorySize, Timeout, names).
//! - The script runs end to end (create, update, delete) against the real tccli with only its
//!   HTTP exchange replaced (`tests/deploy_tencent/tccli_offline.py`): tccli parses each
//!   `--cli-input-json`, builds and TC3-signs the request, and the recorded body must equal the
//!   rendered file (a member tccli's SDK model does not know would be dropped, or warned about).
//! - The role's CAM policy grants exactly the actions in `tests/deploy_tencent/cam_actions.tsv`
//!   (what the code calls, mapped to CAM names with their documentation), per configuration and
//!   per resource scope, none a wildcard; the trust policy admits only SCF.
//! - The COS triggers are Put, Post and CompleteMultipartUpload on the upload prefix only.
//! - The function's environment passes the binary's own start-up configuration check.
//!
//! Tools: TRIAGE_DEPLOY_PYTHON (the deploy-tools venv with tccli 3.1.189.1, from
//! `scripts/install-test-tools.sh`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn support() -> PathBuf {
    root().join("tests/deploy_tencent")
}

/// The deploy-tools venv's python (tccli): TRIAGE_DEPLOY_PYTHON, else the cache's.
fn deploy_python() -> PathBuf {
    common::tool("TRIAGE_DEPLOY_PYTHON", "deploy-tools/bin/python")
}

/// tccli's package directory (holds `services/<svc>/<version>/api.json`).
fn tccli_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Command::new(deploy_python())
            .args([
                "-c",
                "import os, tccli; print(tccli.__version__); print(os.path.dirname(tccli.__file__))",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("3.1.189.1"), "the pinned tccli");
        PathBuf::from(lines.next().unwrap())
    })
}

/// The API description of a service (`cam`, `scf`) at the version the CLI uses by default.
fn api(service: &str) -> &'static Value {
    static APIS: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    let all = APIS.get_or_init(|| {
        let mut m = BTreeMap::new();
        for (svc, ver) in [("cam", "v20190116"), ("scf", "v20180416")] {
            let p = tccli_dir().join(format!("services/{svc}/{ver}/api.json"));
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            m.insert(svc.to_string(), serde_json::from_str(&text).unwrap());
        }
        m
    });
    &all[service]
}

/// A small stand-in package: the tests check requests, not the build.
fn package(dir: &Path) -> PathBuf {
    let zip = dir.join("package.zip");
    let py = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\n\
              z.writestr(zipfile.ZipInfo('bootstrap', (2020, 1, 1, 0, 0, 0)), '#!/bin/sh\\n')\n\
              z.close()";
    let st = Command::new(deploy_python())
        .args(["-c", py])
        .arg(&zip)
        .status()
        .unwrap();
    assert!(st.success());
    zip
}

const BASE: [(&str, &str); 2] = [
    ("REGION", "ap-guangzhou"),
    ("BUCKET", "mybucket-1250000000"),
];

/// The configurations the checks run over: the defaults and each alternative.
fn configs() -> Vec<Vec<(&'static str, &'static str)>> {
    vec![
        vec![],
        vec![
            ("LABELER", "tiia"),
            ("MODERATOR", "cos-ci"),
            ("BLOCK_ACTION", "quarantine"),
            ("QUEUE", "image-results"),
            ("DLQ_NAME", "image-triage-dlq"),
        ],
        vec![
            ("BLOCK_ACTION", "delete"),
            ("UPLOAD_PREFIX", "incoming/photos/"),
        ],
        vec![
            ("BLOCK_ACTION", "private"),
            ("LABELER", "none"),
            ("MODERATOR", "none"),
        ],
    ]
}

fn deploy_sh(args: &[&str], vars: &[(&str, &str)], extra_env: &[(&str, &OsStr)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("deploy/tencent/deploy.sh")).args(args);
    for k in [
        "REGION",
        "BUCKET",
        "UPLOAD_PREFIX",
        "RESULTS_PREFIX",
        "QUARANTINE_PREFIX",
        "FUNCTION_NAME",
        "NAMESPACE",
        "ROLE_NAME",
        "POLICY_NAME",
        "MEMORY_MB",
        "TIMEOUT_S",
        "LABELER",
        "MODERATOR",
        "BLOCK_ACTION",
        "QUEUE",
        "DLQ_TYPE",
        "DLQ_NAME",
        "RETRY_NUM",
        "MSG_TTL",
        "EXTRA_ENV",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("PYTHON", deploy_python());
    for (k, v) in BASE.iter().chain(vars) {
        cmd.env(k, v);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `deploy.sh [--delete] --dry-run DIR`: the rendered files by name.
fn render(mode: &str, vars: &[(&str, &str)]) -> (tempfile::TempDir, BTreeMap<String, Value>) {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("requests");
    let zip = package(dir.path());
    let out_s = out_dir.to_str().unwrap().to_string();
    let zip_s = zip.to_str().unwrap().to_string();
    let args: Vec<&str> = if mode == "delete" {
        vec!["--delete", "--dry-run", &out_s]
    } else {
        vec!["--dry-run", &out_s, "--zip", &zip_s]
    };
    let out = deploy_sh(&args, vars, &[]);
    assert!(
        out.status.success(),
        "deploy.sh {args:?} with {vars:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(&out_dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.ends_with(".json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
        files.insert(name, v);
    }
    (dir, files)
}

/// `NN-<service>-<Action>[-what].json` → (service, action).
fn request_of(name: &str) -> Option<(String, String)> {
    let stem = name.strip_suffix(".json")?;
    let mut parts = stem.splitn(4, '-');
    let nn = parts.next()?;
    if nn.len() != 2 || !nn.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((parts.next()?.to_string(), parts.next()?.to_string()))
}

/// Problems of `value` against the description of `object` (a request or a nested structure).
fn check_object(api: &Value, object: &str, value: &Value, at: &str, bad: &mut Vec<String>) {
    let Some(desc) = api["objects"].get(object) else {
        bad.push(format!(
            "{at}: no structure {object} in the API description"
        ));
        return;
    };
    let Some(map) = value.as_object() else {
        bad.push(format!("{at}: expected an object ({object})"));
        return;
    };
    let members = desc["members"].as_array().unwrap();
    for m in members {
        let name = m["name"].as_str().unwrap();
        if m["required"] == true && !map.contains_key(name) {
            bad.push(format!("{at}: required member {name} missing"));
        }
    }
    for (k, v) in map {
        let Some(m) = members.iter().find(|m| m["name"] == k.as_str()) else {
            bad.push(format!("{at}.{k}: not a member of {object}"));
            continue;
        };
        if m["disabled"] == true {
            bad.push(format!("{at}.{k}: disabled in the API description"));
        }
        if m["document"].as_str().unwrap_or("").contains("已下线") {
            bad.push(format!(
                "{at}.{k}: the API description says this feature is withdrawn"
            ));
        }
        let (ty, member) = (m["type"].as_str().unwrap(), m["member"].as_str().unwrap());
        let here = format!("{at}.{k}");
        match ty {
            "list" => match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        check_value(api, member, item, &format!("{here}[{i}]"), bad);
                    }
                }
                None => bad.push(format!("{here}: expected a list of {member}")),
            },
            "object" => check_object(api, member, v, &here, bad),
            _ => check_value(api, member, v, &here, bad),
        }
    }
}

/// A scalar by its `member` type, or a structure by name.
fn check_value(api: &Value, member: &str, v: &Value, at: &str, bad: &mut Vec<String>) {
    let ok = match member {
        "string" => v.is_string(),
        "int64" | "int" | "integer" => v.is_i64(),
        "uint64" => v.is_u64(),
        "bool" => v.is_boolean(),
        "float" | "double" => v.is_number(),
        other if api["objects"].get(other).is_some() => {
            check_object(api, other, v, at, bad);
            true
        }
        other => {
            bad.push(format!("{at}: unknown member type {other}"));
            true
        }
    };
    if !ok {
        bad.push(format!("{at}: {v} is not a {member}"));
    }
}

/// The documented value rules of the members deploy.sh sets, from the API descriptions' own
/// prose (quoted in the messages).
fn check_documented_values(action: &str, req: &Value, bad: &mut Vec<String>) {
    let s = |k: &str| req.get(k).and_then(Value::as_str);
    let doc = |obj: &str, member: &str| -> String {
        api("scf")["objects"][obj]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == member)
            .map(|m| m["document"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    if let Some(name) = s("FunctionName") {
        // "名称长度2-60", letters, digits, - and _, a letter first, no - or _ last.
        let ok = (2..=60).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && !name.ends_with(['-', '_'])
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            bad.push(format!(
                "{action}: FunctionName {name:?} breaks the naming rule"
            ));
        }
    }
    if action == "CreateFunction" {
        let runtime = s("Runtime").unwrap_or("");
        let listed = doc("CreateFunctionRequest", "Runtime");
        if !listed.lines().any(|l| l.trim() == format!("- {runtime}")) {
            bad.push(format!(
                "CreateFunction: Runtime {runtime:?} is not in {listed:?}"
            ));
        }
        if runtime != "CustomRuntime" {
            bad.push("CreateFunction: the bootstrap needs Runtime CustomRuntime".into());
        }
        // "创建触发器函数请填写Event"
        if s("Type") != Some("Event") {
            bad.push("CreateFunction: a COS-triggered function is Type Event".into());
        }
        // "文件名称.方法名称", both parts starting and ending with a letter, 2-60 characters.
        let handler = s("Handler").unwrap_or("");
        let part_ok = |p: &str| {
            !p.is_empty()
                && p.starts_with(|c: char| c.is_ascii_alphabetic())
                && p.ends_with(|c: char| c.is_ascii_alphabetic())
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        match handler.split_once('.') {
            Some((a, b)) if part_ok(a) && part_ok(b) && (2..=60).contains(&handler.len()) => {}
            _ => bad.push(format!(
                "CreateFunction: Handler {handler:?} is not file.method"
            )),
        }
        // "不能同时指定Cos、ZipFile或 DemoId"; "CodeSource 代码来源，支持ZipFile, Cos, Demo 其中之一"
        let code = req["Code"].as_object().map(|o| o.len()).unwrap_or(0);
        if code != 1 || req["Code"].get("ZipFile").is_none() || s("CodeSource") != Some("ZipFile") {
            bad.push("CreateFunction: Code must be exactly the ZipFile, CodeSource ZipFile".into());
        }
    }
    if let Some(mem) = req.get("MemorySize").and_then(Value::as_i64) {
        // "可选范围 64、128MB-3072MB，并且以 128MB 为阶梯"
        if !(mem == 64 || ((128..=3072).contains(&mem) && mem % 128 == 0)) {
            bad.push(format!("{action}: MemorySize {mem}"));
        }
    }
    if let Some(t) = req.get("Timeout").and_then(Value::as_i64) {
        // "可选值范围 1-900 秒"
        if !(1..=900).contains(&t) {
            bad.push(format!("{action}: Timeout {t}"));
        }
    }
    if let Some(vars) = req
        .pointer("/Environment/Variables")
        .and_then(Value::as_array)
    {
        // "不可为空字符"
        for v in vars {
            if v["Key"].as_str().unwrap_or("").is_empty()
                || v["Value"].as_str().unwrap_or("").is_empty()
            {
                bad.push(format!("{action}: empty environment variable {v}"));
            }
        }
    }
    for k in ["RoleName", "PolicyName", "AttachRoleName", "DetachRoleName"] {
        // "长度为1~128个字符，可包含英文字母、数字和+=,.@-_"
        if let Some(n) = s(k) {
            let ok = (1..=128).contains(&n.len())
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
            if !ok {
                bad.push(format!("{action}: {k} {n:?}"));
            }
        }
    }
    if let Some(t) = req.pointer("/DeadLetterConfig/Type") {
        // SCF's error table: "Type should be CMQ-TOPIC, CMQ-QUEUE, topic or queue".
        if !["CMQ-TOPIC", "CMQ-QUEUE", "topic", "queue"].contains(&t.as_str().unwrap_or("")) {
            bad.push(format!("{action}: DeadLetterConfig.Type {t}"));
        }
    }
    if let Some(doc) = s("PolicyDocument") {
        match serde_json::from_str::<Value>(doc) {
            Ok(p) if p["version"] == "2.0" && p["statement"].is_array() => {}
            _ => bad.push(format!(
                "{action}: PolicyDocument is not a CAM policy (version 2.0)"
            )),
        }
    }
    if matches!(action, "CreateTrigger" | "DeleteTrigger") {
        // Type: "目前支持 cos 、cls 、 timer、 ckafka、http类型".
        if s("Type") != Some("cos") {
            bad.push(format!("{action}: Type {:?}", s("Type")));
        }
        // "如果是cos触发器，需要是对应cos存储桶适用于XML API的访问域名"
        if s("TriggerName") != Some("mybucket-1250000000.cos.ap-guangzhou.myqcloud.com") {
            bad.push(format!(
                "{action}: TriggerName {:?} is not the bucket's XML API host",
                s("TriggerName")
            ));
        }
        if action == "CreateTrigger" && s("Enable").is_some_and(|e| e != "OPEN" && e != "CLOSE") {
            bad.push("CreateTrigger: Enable is OPEN or CLOSE".into());
        }
    }
}

/// Every request of `files` against the API description; problems as lines.
fn validate(files: &BTreeMap<String, Value>) -> Vec<String> {
    let mut bad = Vec::new();
    let mut seen = 0;
    for (name, req) in files {
        let Some((svc, action)) = request_of(name) else {
            continue;
        };
        seen += 1;
        let api = api(&svc);
        let Some(a) = api["actions"].get(&action) else {
            bad.push(format!("{name}: {svc} has no action {action}"));
            continue;
        };
        if a["status"] != "online" {
            bad.push(format!("{name}: {action} is {}", a["status"]));
        }
        check_object(api, a["input"].as_str().unwrap(), req, name, &mut bad);
        check_documented_values(&action, req, &mut bad);
    }
    assert!(seen >= 8, "only {seen} requests rendered");
    bad
}

#[test]
fn every_rendered_request_matches_the_api_descriptions_tccli_ships() {
    for vars in configs() {
        for mode in ["deploy", "delete"] {
            let (_dir, files) = render(mode, &vars);
            let bad = validate(&files);
            assert!(bad.is_empty(), "{mode} {vars:?}:\n  {}", bad.join("\n  "));
        }
    }
}

#[test]
fn the_validator_catches_what_the_api_descriptions_forbid() {
    let (_dir, mut files) = render("deploy", &[]);
    let f = files.get_mut("21-scf-CreateFunction.json").unwrap();
    f["Bogus"] = Value::from(1);
    f["MemorySize"] = Value::from("256");
    f["Runtime"] = Value::from("Rust1");
    f["Environment"]["Variables"][0]["Name"] = Value::from("x");
    f["Code"]["GitUrl"] = Value::from("https://example.com/x.git");
    f.as_object_mut().unwrap().remove("FunctionName");
    let t = files.get_mut("41-scf-CreateTrigger-Put.json").unwrap();
    t["Type"] = Value::from("cos_bucket");
    files.insert(
        "99-scf-PutFunctionEventInvokeConfig.json".into(),
        Value::Object(Default::default()),
    );
    let bad = validate(&files).join("\n");
    for want in [
        "Bogus: not a member of CreateFunctionRequest",
        "MemorySize: \"256\" is not a int64",
        "Runtime \"Rust1\" is not in",
        "Variables[0].Name: not a member of Variable",
        "GitUrl: the API description says this feature is withdrawn",
        "required member FunctionName missing",
        "CreateTrigger: Type Some(\"cos_bucket\")",
        "scf has no action PutFunctionEventInvokeConfig",
    ] {
        assert!(bad.contains(want), "{want:?} not reported in:\n{bad}");
    }
}

/// The account the offline tccli keeps, after deploy.sh ran with `args`.
fn run_offline(state: &Path, args: &[&str], vars: &[(&str, &str)], zip: &Path) -> Value {
    let home = state.parent().unwrap().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let tccli = support().join("tccli-offline");
    let mut all: Vec<&str> = args.to_vec();
    let zip_s = zip.to_str().unwrap();
    if !args.contains(&"--delete") {
        all.extend(["--zip", zip_s]);
    }
    let py = deploy_python();
    // Fake credentials: tccli signs with them; nothing leaves the machine.
    let env: [(&str, &OsStr); 6] = [
        ("TCCLI", tccli.as_os_str()),
        ("OFFLINE_STATE", state.as_os_str()),
        ("HOME", home.as_os_str()),
        ("TRIAGE_DEPLOY_PYTHON", py.as_os_str()),
        ("TENCENTCLOUD_SECRET_ID", OsStr::new("AKIDEXAMPLEOFFLINE")),
        ("TENCENTCLOUD_SECRET_KEY", OsStr::new("offline-secret-key")),
    ];
    let out = deploy_sh(&all, vars, &env);
    assert!(
        out.status.success(),
        "deploy.sh {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap()
}

#[test]
fn deploy_sh_runs_end_to_end_through_the_real_tccli_offline() {
    let vars = configs()[1].clone();
    let (dir, files) = render("deploy", &vars);
    let zip = package(dir.path());
    // The package render() used was made the same way, so the ZipFile members match.
    let state = dir.path().join("account.json");

    // A fresh account: everything is created, in order, and each body tccli built and signed is
    // exactly the rendered request.
    let st = run_offline(&state, &[], &vars, &zip);
    let calls = st["calls"].as_array().unwrap();
    let actions: Vec<&str> = calls
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "GetRole",
            "CreateRole",
            "ListPolicies",
            "CreatePolicy",
            "AttachRolePolicy",
            "GetFunction",
            "CreateFunction",
            "GetFunction",
            "UpdateFunctionEventInvokeConfig",
            "ListTriggers",
            "CreateTrigger",
            "CreateTrigger",
            "CreateTrigger",
        ]
    );
    for c in calls {
        let action = c["action"].as_str().unwrap();
        let svc = c["service"].as_str().unwrap();
        assert_eq!(c["region"], "ap-guangzhou", "{action}");
        assert_eq!(
            c["version"],
            api(svc)["metadata"]["apiVersion"],
            "{action}: the API version tccli sends is the described one"
        );
        let rendered: Vec<&Value> = files
            .iter()
            .filter(|(n, _)| request_of(n).is_some_and(|(s, a)| s == svc && a == action))
            .map(|(_, v)| v)
            .collect();
        assert!(
            rendered.contains(&&c["params"]),
            "{action}: tccli sent {} — not one of the rendered requests",
            c["params"]
        );
    }

    // Run again: everything exists, so the role is kept, the policy gets a new default version
    // (with the id ListPolicies gave), the code and configuration are updated, triggers kept.
    let st = run_offline(&state, &[], &vars, &zip);
    let calls = &st["calls"].as_array().unwrap()[13..];
    let actions: Vec<&str> = calls
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "GetRole",
            "ListPolicies",
            "CreatePolicyVersion",
            "AttachRolePolicy",
            "GetFunction",
            "UpdateFunctionCode",
            "GetFunction",
            "UpdateFunctionConfiguration",
            "GetFunction",
            "UpdateFunctionEventInvokeConfig",
            "ListTriggers",
        ]
    );
    assert_eq!(
        calls[2]["params"]["PolicyId"], 100,
        "the existing policy's id"
    );
    assert_eq!(
        st["triggers"].as_array().unwrap().len(),
        3,
        "no trigger twice"
    );

    // Clean up: triggers, function, policy (by id), role.
    let st = run_offline(&state, &["--delete"], &vars, &zip);
    let calls = &st["calls"].as_array().unwrap()[24..];
    let actions: Vec<&str> = calls
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "DeleteTrigger",
            "DeleteTrigger",
            "DeleteTrigger",
            "DeleteFunction",
            "DetachRolePolicy",
            "ListPolicies",
            "DeletePolicy",
            "DeleteRole",
        ]
    );
    assert_eq!(calls[6]["params"]["PolicyId"], serde_json::json!([100]));
    for k in ["functions", "policies"] {
        assert!(st[k].as_object().unwrap().is_empty(), "{k} left: {}", st[k]);
    }
    for k in ["roles", "triggers"] {
        assert!(st[k].as_array().unwrap().is_empty(), "{k} left: {}", st[k]);
    }
}

/// `(action, scope)` pairs the mapping table grants under `vars`.
fn expected_grants(vars: &[(&str, &str)], scan: bool) -> BTreeSet<(String, String)> {
    let get = |k: &str, d: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| d.to_string())
    };
    let table = std::fs::read_to_string(support().join("cam_actions.tsv")).unwrap();
    let mut out = BTreeSet::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 5, "cam_actions.tsv: {line:?}");
        assert!(
            cols[4].contains('['),
            "cam_actions.tsv: {line:?} cites no documentation"
        );
        let when = cols[2];
        let on = match when.split_once('=') {
            None if when == "always" => true,
            None if when == "queue" => !get("QUEUE", "").is_empty(),
            None if when == "scan" => scan,
            Some(("labeler", v)) => get("LABELER", "cos-ci") == v,
            Some(("moderator", v)) => get("MODERATOR", "ims") == v,
            Some(("block", vs)) => vs.split('|').any(|v| get("BLOCK_ACTION", "none") == v),
            _ => panic!("cam_actions.tsv: unknown condition {when:?}"),
        };
        if on {
            out.insert((cols[0].to_string(), cols[1].to_string()));
        }
    }
    out
}

/// `(action, scope)` pairs a policy grants; scope from the resource.
fn granted(policy: &Value, vars: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    let get = |k: &str, d: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| d.to_string())
    };
    let cos = "qcs::cos:ap-guangzhou:uid/1250000000:mybucket-1250000000/";
    let scopes = [
        (
            format!("{cos}{}*", get("UPLOAD_PREFIX", "uploads/")),
            "upload",
        ),
        (
            format!("{cos}{}*", get("RESULTS_PREFIX", "triage-results/")),
            "results",
        ),
        (
            format!("{cos}{}*", get("QUARANTINE_PREFIX", "triage-quarantine/")),
            "quarantine",
        ),
        (format!("{cos}*"), "bucket"),
        (
            "qcs::ci:ap-guangzhou:uid/1250000000:bucket/mybucket-1250000000/*".into(),
            "ci",
        ),
        ("*".into(), "any"),
    ];
    assert_eq!(policy["version"], "2.0");
    let mut out = BTreeSet::new();
    for st in policy["statement"].as_array().unwrap() {
        assert_eq!(st["effect"], "allow", "{st}");
        assert!(st.get("condition").is_none());
        for r in st["resource"].as_array().unwrap() {
            let scope = scopes
                .iter()
                .find(|(res, _)| res == r.as_str().unwrap())
                .unwrap_or_else(|| panic!("resource {r} is none of the expected scopes"))
                .1;
            for a in st["action"].as_array().unwrap() {
                let a = a.as_str().unwrap();
                assert!(!a.contains('*'), "wildcard action {a}");
                assert!(
                    a.starts_with("name/"),
                    "{a}: CAM actions are name/<service>:<Action>"
                );
                // Operation-level services only on "*"; COS and CI never on "*".
                let svc = &a[5..a.find(':').unwrap()];
                assert_eq!(
                    scope == "any",
                    !matches!(svc, "cos" | "ci"),
                    "{a} on {r}: resource-level services get their resource, others \"*\""
                );
                assert!(
                    out.insert((a.to_string(), scope.to_string())),
                    "{a} on {r} twice"
                );
            }
        }
    }
    out
}

#[test]
fn the_role_policy_grants_exactly_what_the_function_does() {
    for vars in configs() {
        let (_dir, files) = render("deploy", &vars);
        let policy = &files["policy.json"];
        assert_eq!(
            granted(policy, &vars),
            expected_grants(&vars, false),
            "{vars:?}"
        );
        // The policy CAM receives is this document.
        for f in [
            "13-cam-CreatePolicy.json",
            "14-cam-CreatePolicyVersion.json",
        ] {
            let sent: Value =
                serde_json::from_str(files[f]["PolicyDocument"].as_str().unwrap()).unwrap();
            assert_eq!(&sent, policy, "{f}");
        }
        // The operator's scan policy: the same plus listing.
        let scan = &files["scan-policy.json"];
        assert_eq!(
            granted(scan, &vars),
            expected_grants(&vars, true),
            "{vars:?}"
        );
    }
    // Every row of the table is exercised by some configuration.
    let all: BTreeSet<_> = configs()
        .iter()
        .flat_map(|v| expected_grants(v, true))
        .collect();
    let rows = std::fs::read_to_string(support().join("cam_actions.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count();
    assert_eq!(
        all.len(),
        rows,
        "a cam_actions.tsv row no configuration reaches"
    );
}

#[test]
fn the_trust_policy_lets_only_scf_assume_the_role() {
    let (_dir, files) = render("deploy", &[]);
    let trust: Value = serde_json::from_str(
        files["11-cam-CreateRole.json"]["PolicyDocument"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(trust, files["trust.json"]);
    assert_eq!(
        trust,
        serde_json::json!({"version": "2.0", "statement": [{
            "action": "name/sts:AssumeRole", "effect": "allow",
            "principal": {"service": ["scf.qcloud.com"]}}]})
    );
    // The function runs as that role.
    assert_eq!(
        files["21-scf-CreateFunction.json"]["Role"],
        "image-triage-role"
    );
    assert_eq!(
        files["15-cam-AttachRolePolicy.json"]["AttachRoleName"],
        "image-triage-role"
    );
}

/// COS trigger events (SCF "COS Trigger Description",
/// https://www.tencentcloud.com/document/product/583/9707): the upload events the table lists.
const COS_CREATED_EVENTS: [&str; 7] = [
    "cos:ObjectCreated:*",
    "cos:ObjectCreated:Put",
    "cos:ObjectCreated:Post",
    "cos:ObjectCreated:Copy",
    "cos:ObjectCreated:CompleteMultipartUpload",
    "cos:ObjectCreated:Origin",
    "cos:ObjectCreated:Replication",
];

#[test]
fn the_triggers_watch_uploads_under_the_upload_prefix_only() {
    for vars in configs() {
        let prefix = vars
            .iter()
            .find(|(k, _)| *k == "UPLOAD_PREFIX")
            .map_or("uploads/", |(_, v)| v);
        let (_dir, files) = render("deploy", &vars);
        let mut events = BTreeSet::new();
        for (name, req) in files.iter().filter(|(n, _)| n.contains("-CreateTrigger-")) {
            let desc: Value = serde_json::from_str(req["TriggerDesc"].as_str().unwrap()).unwrap();
            let event = desc["event"].as_str().unwrap();
            assert!(
                COS_CREATED_EVENTS.contains(&event),
                "{name}: {event} is not a COS event"
            );
            assert_eq!(desc["filter"]["Prefix"], prefix, "{name}");
            assert_eq!(desc["filter"]["Suffix"], "", "{name}");
            assert_eq!(req["Qualifier"], "$DEFAULT");
            events.insert(event.to_string());
        }
        // Never Copy (the metadata write-back is a self-copy), never the wildcard that includes it.
        assert_eq!(
            events,
            BTreeSet::from([
                "cos:ObjectCreated:Put".to_string(),
                "cos:ObjectCreated:Post".into(),
                "cos:ObjectCreated:CompleteMultipartUpload".into()
            ])
        );
        // The function knows the prefixes the triggers must avoid.
        let env = &files["21-scf-CreateFunction.json"]["Environment"]["Variables"];
        let var = |k: &str| {
            env.as_array()
                .unwrap()
                .iter()
                .find(|v| v["Key"] == k)
                .map(|v| v["Value"].clone())
        };
        for k in ["TRIAGE_RESULTS_PREFIX", "TRIAGE_QUARANTINE_PREFIX"] {
            let p = var(k).unwrap();
            let p = p.as_str().unwrap();
            assert!(
                !p.starts_with(prefix) && !prefix.starts_with(p),
                "{k}={p} overlaps {prefix}"
            );
        }
    }
    // A trigger prefix that would see the function's own outputs is refused before any call.
    for (k, v) in [
        ("UPLOAD_PREFIX", "triage-results/in/"),
        ("RESULTS_PREFIX", "uploads/results/"),
        ("UPLOAD_PREFIX", "triage-quarantine/"),
    ] {
        let out = deploy_sh(&["--delete", "--dry-run", "/nonexistent/x"], &[(k, v)], &[]);
        assert_eq!(out.status.code(), Some(2), "{k}={v}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("overlaps"), "{k}={v}: {err}");
    }
}

#[test]
fn async_retry_and_dead_letter_settings_are_sent() {
    let (_dir, files) = render("deploy", &[]);
    let retry = &files["30-scf-UpdateFunctionEventInvokeConfig.json"];
    assert_eq!(
        retry["AsyncTriggerConfig"]["RetryConfig"],
        serde_json::json!([{"RetryNum": 2}])
    );
    assert_eq!(retry["AsyncTriggerConfig"]["MsgTTL"], 3600);
    assert!(files["21-scf-CreateFunction.json"]
        .get("DeadLetterConfig")
        .is_none());

    // DLQ_NAME alone: a CMQ queue. The accepted Types are those of SCF's error table
    // (InvalidParameterValue.DeadLetterConfig: "CMQ-TOPIC, CMQ-QUEUE, topic or queue",
    // SCF "Common Error Codes" page, tencentyun/intlcloud-documents
    // yehe_doc/微服务和Serverless/无服务器云函数/开发指南/常见错误码解决方法_intl_en.md).
    let (_dir, files) = render("deploy", &[("DLQ_NAME", "image-triage-dlq")]);
    assert_eq!(
        files["21-scf-CreateFunction.json"]["DeadLetterConfig"]["Type"],
        "CMQ-QUEUE"
    );
    let (_dir, files) = render(
        "deploy",
        &[("DLQ_NAME", "image-triage-dlt"), ("DLQ_TYPE", "CMQ-TOPIC")],
    );
    assert_eq!(
        files["21-scf-CreateFunction.json"]["DeadLetterConfig"],
        serde_json::json!({"Type": "CMQ-TOPIC", "Name": "image-triage-dlt"})
    );
    let vars = [
        ("DLQ_TYPE", "CMQ-QUEUE"),
        ("DLQ_NAME", "image-triage-dlq"),
        ("RETRY_NUM", "1"),
        ("MSG_TTL", "21600"),
    ];
    let (_dir, files) = render("deploy", &vars);
    let dlq = serde_json::json!({"Type": "CMQ-QUEUE", "Name": "image-triage-dlq"});
    assert_eq!(files["21-scf-CreateFunction.json"]["DeadLetterConfig"], dlq);
    assert_eq!(
        files["23-scf-UpdateFunctionConfiguration.json"]["DeadLetterConfig"],
        dlq
    );
    let retry = &files["30-scf-UpdateFunctionEventInvokeConfig.json"];
    assert_eq!(retry["AsyncTriggerConfig"]["RetryConfig"][0]["RetryNum"], 1);
    assert_eq!(retry["AsyncTriggerConfig"]["MsgTTL"], 21600);

    // A type without a queue, or a type SCF does not take, is refused.
    for vars in [
        [("DLQ_TYPE", "CMQ-QUEUE"), ("DLQ_NAME", "")],
        [("DLQ_TYPE", "QUEUE"), ("DLQ_NAME", "q")],
    ] {
        let out = deploy_sh(&["--delete", "--dry-run", "/nonexistent/x"], &vars, &[]);
        assert_eq!(out.status.code(), Some(2), "{vars:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("DLQ_TYPE"), "{vars:?}: {err}");
    }
}

#[test]
fn the_function_environment_passes_the_binarys_own_configuration_check() {
    for vars in configs() {
        let (dir, files) = render("deploy", &vars);
        let env = files["21-scf-CreateFunction.json"]["Environment"]["Variables"].clone();
        let event = dir.path().join("not-an-event.json");
        std::fs::write(&event, b"{\"not\": \"an event\"}").unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-triage"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("TRIAGE_MODEL_DIR", dir.path())
            // What SCF gives the function.
            .env("TENCENTCLOUD_SECRETID", "AKIDEXAMPLE")
            .env("TENCENTCLOUD_SECRETKEY", "secret")
            .env("TENCENTCLOUD_SESSIONTOKEN", "token")
            .env("TENCENTCLOUD_REGION", "ap-guangzhou");
        for v in env.as_array().unwrap() {
            cmd.env(v["Key"].as_str().unwrap(), v["Value"].as_str().unwrap());
        }
        let out = cmd
            .arg("process")
            .arg(&event)
            .args(["--provider", "cos"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(2), "{vars:?}: {err}");
        assert!(!err.contains("invalid configuration"), "{vars:?}: {err}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("invalid_event"),
            "{vars:?}: the event was reached: {stdout}"
        );
    }
}

#[test]
fn bad_variables_are_refused_before_anything_is_called() {
    for (k, v, says) in [
        ("BUCKET", "mybucket", "<name>-<appid>"),
        ("REGION", "Guangzhou", "ap-guangzhou"),
        ("UPLOAD_PREFIX", "uploads", "ending in /"),
        ("MEMORY_MB", "200", "steps of 128"),
        ("TIMEOUT_S", "901", "1-900"),
        ("LABELER", "local", "cos-ci, tiia or none"),
        ("BLOCK_ACTION", "burn", "quarantine"),
    ] {
        let out = deploy_sh(&["--delete", "--dry-run", "/nonexistent/x"], &[(k, v)], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{k}={v}: {err}");
        assert!(err.contains(k) && err.contains(says), "{k}={v}: {err}");
    }
}

#[test]
fn a_missing_musl_target_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    // A rustc whose musl target library directory has no standard library.
    let rustc = dir.path().join("rustc");
    std::fs::write(
        &rustc,
        format!("#!/bin/sh\necho {}/no-such-libdir\n", dir.path().display()),
    )
    .unwrap();
    let st = Command::new("chmod")
        .arg("755")
        .arg(&rustc)
        .status()
        .unwrap();
    assert!(st.success());
    let out_dir = dir.path().join("requests");
    let out = deploy_sh(
        &["--dry-run", out_dir.to_str().unwrap()],
        &[],
        &[("RUSTC", rustc.as_os_str())],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("rustup target add x86_64-unknown-linux-musl"),
        "{err}"
    );
    assert!(!out_dir.exists(), "nothing rendered without a package");
}

#[test]
fn the_package_is_an_executable_bootstrap_alone_in_a_zip() {
    let dir = tempfile::tempdir().unwrap();
    let (rustc, cargo) = (dir.path().join("rustc"), dir.path().join("cargo"));
    let libdir = dir.path().join("musl-lib");
    std::fs::create_dir_all(&libdir).unwrap();
    std::fs::write(libdir.join("libstd-0123456789abcdef.rlib"), b"").unwrap();
    std::fs::write(&rustc, format!("#!/bin/sh\necho {}\n", libdir.display())).unwrap();
    // A cargo that checks the build it is asked for and leaves a stand-in binary where cargo would.
    std::fs::write(
        &cargo,
        "#!/bin/sh\n\
         [ \"$*\" = 'build --release --locked --no-default-features --target x86_64-unknown-linux-musl' ] \
         || { echo \"unexpected cargo $*\" >&2; exit 9; }\n\
         mkdir -p \"$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release\"\n\
         printf 'static binary' > \"$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release/image-triage\"\n",
    )
    .unwrap();
    for f in [&rustc, &cargo] {
        assert!(Command::new("chmod")
            .arg("755")
            .arg(f)
            .status()
            .unwrap()
            .success());
    }
    let target = dir.path().join("target");
    let out_dir = dir.path().join("requests");
    let out = deploy_sh(
        &["--dry-run", out_dir.to_str().unwrap()],
        &[],
        &[
            ("RUSTC", rustc.as_os_str()),
            ("CARGO", cargo.as_os_str()),
            ("CARGO_TARGET_DIR", target.as_os_str()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zip = target.join("image-triage-scf.zip");
    let listing = Command::new(deploy_python())
        .args([
            "-c",
            "import json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\n\
             print(json.dumps([[i.filename, i.external_attr >> 16, z.read(i).decode()] for i in z.infolist()]))",
        ])
        .arg(&zip)
        .output()
        .unwrap();
    let entries: Value = serde_json::from_slice(&listing.stdout).unwrap();
    assert_eq!(
        entries,
        serde_json::json!([["bootstrap", 0o100755, "static binary"]])
    );
    // That zip is what CreateFunction and UpdateFunctionCode carry.
    let create: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("21-scf-CreateFunction.json")).unwrap(),
    )
    .unwrap();
    let b64 = Command::new(deploy_python())
        .args([
            "-c",
            "import base64, sys; print(base64.b64encode(open(sys.argv[1], 'rb').read()).decode())",
        ])
        .arg(&zip)
        .output()
        .unwrap();
    assert_eq!(
        create["Code"]["ZipFile"],
        String::from_utf8(b64.stdout).unwrap().trim()
    );
}
