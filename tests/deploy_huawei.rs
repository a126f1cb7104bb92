//! Offline checks of the Huawei Cloud deployment in deploy/functiongraph/.
//!
//! main.tf is parsed with python-hcl2 (tests/deploy_huawei/hcl_to_json.py) and held to
//! tests/deploy_huawei/provider-schema.json, a subset of the huaweicloud provider's schema
//! written from the provider's Go source (commit and file per resource in the JSON), not from
//! main.tf: resource types exist and are not deprecated, every attribute set exists, required
//! ones are present, enum values and ranges hold. The OBS trigger's events and prefix, and the
//! custom policy's OBS actions, are checked against what src/store/obs actually sends. The file
//! is formatted exactly as hclwrite (the formatter `terraform fmt` uses) formats it, through
//! the npm package @cdktf/hcl-tools. package.sh is checked in its --print-commands mode and for
//! its error when the musl standard library is missing (no build is run here).
//! Tools: TRIAGE_DEPLOY_PYTHON (python-hcl2) and TRIAGE_HCL_TOOLS (@cdktf/hcl-tools), both from
//! scripts/install-test-tools.sh.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn read(p: &str) -> String {
    std::fs::read_to_string(repo(p)).unwrap_or_else(|e| panic!("read {p}: {e}"))
}

fn cache() -> PathBuf {
    image_triage::config::default_cache_dir()
}

/// The deploy-tools venv's python (python-hcl2): TRIAGE_DEPLOY_PYTHON, else the cache's.
fn deploy_python() -> PathBuf {
    common::tool("TRIAGE_DEPLOY_PYTHON", "deploy-tools/bin/python")
}

/// main.tf as JSON: literals unquoted, expressions as {"expr"}, templates as {"template"}.
fn tf() -> &'static Value {
    static TF: OnceLock<Value> = OnceLock::new();
    TF.get_or_init(|| {
        let out = Command::new(deploy_python())
            .arg(repo("tests/deploy_huawei/hcl_to_json.py"))
            .arg(repo("deploy/functiongraph/main.tf"))
            .output()
            .expect("run python-hcl2");
        assert!(
            out.status.success(),
            "python-hcl2 could not parse deploy/functiongraph/main.tf:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("hcl_to_json.py output is JSON")
    })
}

fn schema() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| {
        serde_json::from_str(&read("tests/deploy_huawei/provider-schema.json"))
            .expect("provider-schema.json")
    })
}

/// (type, name, body) for every `resource` or `data` block.
fn blocks(kind: &str) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for entry in tf()[kind].as_array().into_iter().flatten() {
        for (ty, named) in entry.as_object().unwrap() {
            for (name, body) in named.as_object().unwrap() {
                if name != "__is_block__" {
                    out.push((ty.clone(), name.clone(), body.clone()));
                }
            }
        }
    }
    out
}

fn resource(ty: &str, name: &str) -> Value {
    blocks("resource")
        .into_iter()
        .find(|(t, n, _)| t == ty && n == name)
        .map(|(_, _, b)| b)
        .unwrap_or_else(|| panic!("main.tf has no resource {ty}.{name}"))
}

fn locals() -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for l in tf()["locals"].as_array().into_iter().flatten() {
        for (k, v) in l.as_object().unwrap() {
            if k != "__is_block__" {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    m
}

fn local(name: &str) -> Value {
    locals()
        .remove(name)
        .unwrap_or_else(|| panic!("main.tf has no local.{name}"))
}

fn variables() -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for v in tf()["variable"].as_array().into_iter().flatten() {
        for (k, body) in v.as_object().unwrap() {
            m.insert(k.clone(), body.clone());
        }
    }
    m
}

fn expr(v: &Value) -> Option<&str> {
    v.get("expr").and_then(Value::as_str)
}

/// A literal, or `var.NAME` resolved to that variable's default.
fn value_of(v: &Value) -> Option<Value> {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(v.clone()),
        _ => {
            let e = expr(v)?;
            let name = e.strip_prefix("var.")?;
            variables().get(name)?.get("default").cloned()
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list of strings, got {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("expected a literal string, got {s}"))
                .to_string()
        })
        .collect()
}

/// Checks one block body against a schema node ({attributes, blocks}); returns problems.
fn check_body(path: &str, body: &Value, node: &Value, meta: &[&str], problems: &mut Vec<String>) {
    let attrs = node["attributes"].as_object().cloned().unwrap_or_default();
    let nested = node["blocks"].as_object().cloned().unwrap_or_default();
    let body = body.as_object().unwrap();
    let mut set: BTreeSet<String> = BTreeSet::new();
    for (key, value) in body {
        if key == "__is_block__" || meta.contains(&key.as_str()) {
            continue;
        }
        if key == "dynamic" {
            for d in value.as_array().unwrap() {
                for (bname, dbody) in d.as_object().unwrap() {
                    let Some(bs) = nested.get(bname) else {
                        problems.push(format!(
                            "{path}: dynamic block {bname} is not in the schema"
                        ));
                        continue;
                    };
                    set.insert(bname.clone());
                    for content in dbody["content"].as_array().into_iter().flatten() {
                        check_body(&format!("{path}.{bname}"), content, bs, &[], problems);
                    }
                }
            }
            continue;
        }
        if let Some(bs) = nested.get(key) {
            let items = value.as_array().cloned().unwrap_or_default();
            if let Some(max) = bs["max_items"].as_u64() {
                if items.len() as u64 > max {
                    problems.push(format!(
                        "{path}.{key}: {} blocks, at most {max}",
                        items.len()
                    ));
                }
            }
            for item in &items {
                check_body(&format!("{path}.{key}"), item, bs, &[], problems);
            }
            set.insert(key.clone());
            continue;
        }
        let Some(a) = attrs.get(key) else {
            problems.push(format!(
                "{path}: attribute {key} is not in the provider schema"
            ));
            continue;
        };
        set.insert(key.clone());
        let computed_only = a["computed"] == json!(true)
            && a["optional"] != json!(true)
            && a["required"] != json!(true);
        if computed_only {
            problems.push(format!("{path}.{key}: computed only, cannot be set"));
        }
        if let Some(why) = a.get("deprecated") {
            problems.push(format!("{path}.{key}: deprecated ({why})"));
        }
        if let Some(v) = value_of(value) {
            if let (Some(allowed), Some(s)) = (a["enum"].as_array(), v.as_str()) {
                if !allowed.iter().any(|x| x == s) {
                    problems.push(format!("{path}.{key} = {s:?}: not one of {allowed:?}"));
                }
            }
            if let (Some(range), Some(n)) = (a["range"].as_array(), v.as_f64()) {
                let (lo, hi) = (range[0].as_f64().unwrap(), range[1].as_f64().unwrap());
                if n < lo || n > hi {
                    problems.push(format!("{path}.{key} = {n}: outside [{lo}, {hi}]"));
                }
            }
        }
    }
    for (key, a) in &attrs {
        let required = a["required"] == json!(true) || a["documented_required"] == json!(true);
        if required && !set.contains(key) {
            problems.push(format!("{path}: required attribute {key} is missing"));
        }
        for other in a["conflicts_with"].as_array().into_iter().flatten() {
            if set.contains(key) && set.contains(other.as_str().unwrap()) {
                problems.push(format!("{path}: {key} conflicts with {other}"));
            }
        }
        for other in a["exactly_one_of"].as_array().into_iter().flatten() {
            let n = [key.as_str(), other.as_str().unwrap()]
                .iter()
                .filter(|k| set.contains(**k))
                .count();
            if n != 1 {
                problems.push(format!("{path}: exactly one of {key}, {other} must be set"));
            }
        }
    }
}

#[test]
fn every_resource_and_data_source_is_a_current_one_in_the_provider_schema() {
    let s = schema();
    let types: BTreeSet<String> = blocks("resource").into_iter().map(|(t, _, _)| t).collect();
    assert!(!types.is_empty(), "main.tf declares no resource");
    for t in &types {
        assert!(
            s["deprecated_resources"].get(t).is_none(),
            "{t} is deprecated: {}",
            s["deprecated_resources"][t]
        );
        assert!(
            s["resources"].get(t).is_some(),
            "{t} is not in tests/deploy_huawei/provider-schema.json; check it against the \
             provider source and add it"
        );
    }
    for (t, _, _) in blocks("data") {
        assert!(
            s["data_sources"].get(&t).is_some(),
            "data source {t} not in the schema"
        );
    }
    // The provider block pins the provider whose schema was checked.
    let req = &tf()["terraform"][0]["required_providers"][0]["huaweicloud"];
    assert_eq!(req["source"], "huaweicloud/huaweicloud");
    assert_eq!(req["version"], "~> 1.97", "the schema was read at v1.97.1");
    assert!(
        s["provider"]["describe"]
            .as_str()
            .unwrap()
            .starts_with("v1.97"),
        "schema and version pin disagree"
    );
}

#[test]
fn every_attribute_exists_required_ones_are_set_and_values_are_allowed() {
    let s = schema();
    let meta: Vec<&str> = s["meta_arguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut problems = Vec::new();
    for (ty, name, body) in blocks("resource") {
        let node = &s["resources"][&ty];
        check_body(&format!("{ty}.{name}"), &body, node, &meta, &mut problems);
        if let Some(cond) = node["conditional_required"].as_object() {
            for (when, needed) in cond {
                let (k, v) = when.split_once('=').unwrap();
                if body
                    .get(k)
                    .and_then(value_of)
                    .as_ref()
                    .and_then(Value::as_str)
                    == Some(v)
                {
                    for n in needed.as_array().unwrap() {
                        if body.get(n.as_str().unwrap()).is_none() {
                            problems.push(format!("{ty}.{name}: {n} is required when {when}"));
                        }
                    }
                }
            }
        }
    }
    for (ty, name, body) in blocks("data") {
        check_body(
            &format!("data.{ty}.{name}"),
            &body,
            &s["data_sources"][&ty],
            &meta,
            &mut problems,
        );
    }
    assert!(
        problems.is_empty(),
        "main.tf vs the provider schema:\n{}",
        problems.join("\n")
    );

    // The values this deployment depends on.
    let f = resource("huaweicloud_fgs_function", "triage");
    assert_eq!(
        f["runtime"], "Custom",
        "custom runtime: the ZIP's bootstrap starts the binary"
    );
    assert_eq!(f["handler"], "bootstrap");
    assert_eq!(f["code_type"], "zip");
    assert_eq!(
        expr(&f["agency"]),
        Some("huaweicloud_identity_agency.triage.name")
    );
    let env = local("environment");
    assert_eq!(env["TRIAGE_LABELER"], "huawei");
    assert_eq!(env["TRIAGE_MODERATOR"], "huawei");
    assert_eq!(expr(&env["TRIAGE_BUCKETS"]), Some("var.bucket_name"));
    assert_eq!(
        expr(&env["TRIAGE_RESULTS_PREFIX"]),
        Some("var.results_prefix")
    );
    assert_eq!(
        expr(&env["HUAWEICLOUD_SDK_PROJECT_ID"]),
        Some("data.huaweicloud_identity_projects.region.projects[0].id")
    );

    // Async retry settings: present, within the documented ranges (checked above), the failure
    // destination an OBS prefix of the same bucket.
    let a = resource("huaweicloud_fgs_async_invoke_configuration", "triage");
    assert_eq!(
        expr(&a["function_urn"]),
        Some("huaweicloud_fgs_function.triage.urn")
    );
    assert_eq!(
        expr(&a["max_async_retry_attempts"]),
        Some("var.max_retry_attempts")
    );
    let param = local("failure_destination_param");
    let keys: BTreeSet<&str> = param
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let allowed: BTreeSet<&str> = s["resources"]["huaweicloud_fgs_async_invoke_configuration"]
        ["param_obs_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        keys.is_subset(&allowed),
        "OBS destination param {keys:?} vs {allowed:?}"
    );
    let expires = param["expires"].as_i64().unwrap();
    assert!(
        (0..=365).contains(&expires),
        "expires {expires} outside 0..=365"
    );
}

#[test]
fn the_obs_trigger_uses_valid_event_names_on_the_upload_prefix_only() {
    let t = resource("huaweicloud_fgs_function_trigger", "obs_upload");
    assert_eq!(t["type"], "OBS");
    assert_eq!(
        expr(&t["function_urn"]),
        Some("huaweicloud_fgs_function.triage.urn")
    );
    assert_eq!(
        expr(&t["event_data"]),
        Some("jsonencode(local.obs_trigger_event_data)"),
        "event_data must be built from local.obs_trigger_event_data so it can be checked"
    );
    let data = local("obs_trigger_event_data");
    let spec = &schema()["resources"]["huaweicloud_fgs_function_trigger"]["event_data_obs"];
    for (k, v) in spec["keys"].as_object().unwrap() {
        if v["required"] == json!(true) {
            assert!(data.get(k).is_some(), "OBS event_data lacks {k}");
        }
    }
    for k in data.as_object().unwrap().keys() {
        assert!(
            spec["keys"].get(k).is_some(),
            "OBS event_data key {k} is not a trigger field"
        );
    }
    assert_eq!(expr(&data["bucket"]), Some("var.bucket_name"));
    assert_eq!(
        expr(&data["prefix"]),
        Some("var.upload_prefix"),
        "trigger on the upload prefix"
    );
    assert_eq!(expr(&data["events"]), Some("local.obs_trigger_events"));
    let events = strings(&local("obs_trigger_events"));
    let valid = strings(&spec["events"]);
    for e in &events {
        assert!(
            valid.contains(e),
            "OBS trigger event {e:?} is not one of {valid:?}"
        );
    }
    let got: BTreeSet<&str> = events.iter().map(String::as_str).collect();
    assert_eq!(
        got,
        BTreeSet::from([
            "s3:ObjectCreated:Put",
            "s3:ObjectCreated:Post",
            "s3:ObjectCreated:CompleteMultipartUpload",
        ]),
        "uploads only: not Copy (the metadata fallback and quarantine write copies), not removals"
    );
    // The upload prefix is a folder, and the function's own outputs default outside it.
    let vars = variables();
    let upload = vars["upload_prefix"]["default"].as_str().unwrap();
    assert!(upload.ends_with('/') && !upload.is_empty());
    for v in ["results_prefix", "quarantine_prefix", "failure_prefix"] {
        let p = vars[v]["default"].as_str().unwrap();
        assert!(
            !p.starts_with(upload),
            "{v} default {p:?} lies inside {upload:?}"
        );
    }
    let pre = t["lifecycle"][0]["precondition"][0]["condition"].to_string();
    for v in [
        "results_prefix",
        "quarantine_prefix",
        "failure_prefix",
        "upload_prefix",
    ] {
        assert!(
            pre.contains(&format!("var.{v}")),
            "the precondition ignores var.{v}"
        );
    }
}

/// What each OBS request of src/store/obs needs in IAM (role/policy-based, IAM v3 actions).
/// Sources: OBS API reference, "Object Actions" (obs_04_0112), "Adding Object Tags"
/// (obs_04_0172), "Obtaining Object Tags" (obs_04_0164); the same table is in docs/huawei.md.
fn obs_action_table() -> BTreeMap<(&'static str, &'static str), Vec<&'static str>> {
    BTreeMap::from([
        (("head", "HEAD"), vec!["obs:object:GetObject"]),
        (("get", "GET"), vec!["obs:object:GetObject"]),
        (("get range", "GET"), vec!["obs:object:GetObject"]),
        (("put", "PUT"), vec!["obs:object:PutObject"]),
        (("conditional put", "PUT"), vec!["obs:object:PutObject"]),
        (
            ("copy", "PUT"),
            vec!["obs:object:GetObject", "obs:object:PutObject"],
        ),
        (
            ("set metadata", "PUT"),
            vec!["obs:object:ModifyObjectMetaData"],
        ),
        (
            ("put tags", "PUT"),
            vec![
                "obs:object:PutObjectTagging",
                "obs:object:PutObjectVersionTagging",
            ],
        ),
        (
            ("get tags", "GET"),
            vec![
                "obs:object:GetObjectTagging",
                "obs:object:GetObjectVersionTagging",
            ],
        ),
        (("set acl", "PUT"), vec!["obs:object:PutObjectAcl"]),
        (("get acl", "GET"), vec!["obs:object:GetObjectAcl"]),
        (("delete", "DELETE"), vec!["obs:object:DeleteObject"]),
        (("list", "GET"), vec!["obs:bucket:ListBucket"]),
        // The signed GET URL the AI services download the object with.
        (("presign", "GET"), vec!["obs:object:GetObject"]),
    ])
}

/// Every (op, method) src/store/obs sends: `Self::req("op", Method::X, …)` (or a `const OP`),
/// plus the presigned GET.
fn obs_requests_in_source() -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for f in ["src/store/obs/mod.rs", "src/store/obs/client.rs"] {
        let src = read(f);
        let consts: BTreeMap<String, String> = src
            .lines()
            .filter_map(|l| {
                let l = l.trim().strip_prefix("const ")?;
                let (name, rest) = l.split_once(": &str = \"")?;
                Some((name.to_string(), rest.trim_end_matches("\";").to_string()))
            })
            .collect();
        for (i, _) in src.match_indices("Self::req(") {
            let rest = &src[i + "Self::req(".len()..];
            let (op, rest) = rest.split_once(',').unwrap();
            let method = rest
                .trim()
                .strip_prefix("Method::")
                .unwrap()
                .split(|c: char| !c.is_ascii_alphabetic())
                .next()
                .unwrap();
            let op = op.trim();
            let op = match op.strip_prefix('"') {
                Some(lit) => lit.trim_end_matches('"').to_string(),
                None => consts
                    .get(op)
                    .unwrap_or_else(|| panic!("{f}: Self::req({op}, …) not resolved"))
                    .clone(),
            };
            found.insert((op, method.to_string()));
        }
        if src.contains("async fn presign(") {
            found.insert(("presign".into(), "GET".into()));
        }
    }
    assert!(found.len() >= 10, "too few OBS requests found: {found:?}");
    found
}

#[test]
fn the_custom_policy_allows_exactly_the_obs_actions_the_write_back_uses() {
    let table = obs_action_table();
    let mut function = BTreeSet::new();
    let mut scan = BTreeSet::new();
    for (op, method) in obs_requests_in_source() {
        let actions = table
            .get(&(op.as_str(), method.as_str()))
            .unwrap_or_else(|| {
                panic!(
                "src/store/obs sends a new request ({op:?}, {method}): add its OBS IAM action to \
                 obs_action_table, main.tf and the table in docs/huawei.md"
            )
            });
        scan.extend(actions.iter().map(|a| a.to_string()));
        // Only the local commands list a bucket; the function never does (checked below).
        if op != "list" {
            function.extend(actions.iter().map(|a| a.to_string()));
        }
    }
    for f in walk("src") {
        let text = std::fs::read_to_string(&f).unwrap();
        let rel = f
            .strip_prefix(repo(""))
            .unwrap()
            .to_string_lossy()
            .to_string();
        // Listing is for the local commands (`scan`, `review`) that run with a user's keys.
        let local_only = ["src/store", "src/scan", "src/review"];
        if !local_only.iter().any(|d| rel.starts_with(d)) {
            assert!(
                !text.contains(".list("),
                "{rel} lists a bucket: the agency lacks obs:bucket:ListBucket"
            );
        }
        // No caller deletes a specific version: DeleteObjectVersion is not granted.
        if !rel.starts_with("src/store") {
            assert!(
                !text.contains(".delete_version("),
                "{rel} deletes a version"
            );
        }
    }
    let got: BTreeSet<String> = strings(&local("obs_writeback_actions"))
        .into_iter()
        .collect();
    assert_eq!(
        got.len(),
        strings(&local("obs_writeback_actions")).len(),
        "duplicate actions"
    );
    assert_eq!(
        got, function,
        "local.obs_writeback_actions vs what src/store/obs sends"
    );
    let scan_bucket: BTreeSet<String> = strings(&local("obs_scan_bucket_actions"))
        .into_iter()
        .collect();
    let scan_got: BTreeSet<String> = got.union(&scan_bucket).cloned().collect();
    assert_eq!(scan_got, scan, "the scan policy vs what scan sends");

    // The policies: Allow, those actions, this bucket's objects (and the bucket for ListBucket).
    assert_eq!(
        local("obs_object_resource")["template"],
        "obs:*:*:object:${var.bucket_name}/*"
    );
    assert_eq!(
        local("obs_bucket_resource")["template"],
        "obs:*:*:bucket:${var.bucket_name}"
    );
    let wb = local("obs_writeback_policy");
    assert_eq!(wb["Version"], "1.1");
    let st = wb["Statement"].as_array().unwrap();
    assert_eq!(
        st.len(),
        1,
        "one statement: the write-back actions on the bucket's objects"
    );
    assert_eq!(st[0]["Effect"], "Allow");
    assert_eq!(expr(&st[0]["Action"]), Some("local.obs_writeback_actions"));
    assert_eq!(
        expr(&st[0]["Resource"][0]),
        Some("local.obs_object_resource")
    );
    let sp = local("obs_scan_policy");
    let st = sp["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!(
        expr(&st[1]["Action"]),
        Some("local.obs_scan_bucket_actions")
    );
    assert_eq!(
        expr(&st[1]["Resource"][0]),
        Some("local.obs_bucket_resource")
    );

    // OBS is a global service: type AX, granted on the domain; the agency holds no system OBS
    // role (OBS OperateAccess cannot write metadata, tags or ACLs).
    let role = resource("huaweicloud_identity_role", "obs_writeback");
    assert_eq!(role["type"], "AX");
    assert_eq!(
        expr(&role["policy"]),
        Some("jsonencode(local.obs_writeback_policy)")
    );
    let scan_role = resource("huaweicloud_identity_role", "obs_scan");
    assert_eq!(
        expr(&scan_role["policy"]),
        Some("jsonencode(local.obs_scan_policy)")
    );
    let agency = resource("huaweicloud_identity_agency", "triage");
    assert_eq!(
        agency["delegated_service_name"], "op_svc_cff",
        "delegated to FunctionGraph"
    );
    assert_eq!(
        agency["domain_roles"],
        json!([{"expr": "huaweicloud_identity_role.obs_writeback.name"}]),
        "the agency's only global role is the write-back policy"
    );
    assert!(agency.get("all_resources_roles").is_none());
    // Image Tagging and Content Moderation: the role both services' guides prescribe, on the
    // function's region.
    let pr = &agency["project_role"];
    assert_eq!(pr.as_array().unwrap().len(), 1);
    assert_eq!(expr(&pr[0]["project"]), Some("var.region"));
    assert_eq!(expr(&pr[0]["roles"]), Some("local.ai_project_roles"));
    assert_eq!(strings(&local("ai_project_roles")), vec!["Tenant Guest"]);
    assert!(!read("deploy/functiongraph/main.tf").contains("OperateAccess"));

    // docs/huawei.md documents the same set, one row per action.
    let docs = read("docs/huawei.md");
    for a in &scan {
        assert!(
            docs.contains(&format!("`{a}`")),
            "docs/huawei.md does not name {a}"
        );
    }
}

fn walk(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![repo(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

/// The @cdktf/hcl-tools package directory (hclwrite.Format compiled to WebAssembly).
fn hcl_tools() -> PathBuf {
    let p = std::env::var_os("TRIAGE_HCL_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("hcl-tools/node_modules/@cdktf/hcl-tools"));
    assert!(
        p.join("package.json").is_file(),
        "@cdktf/hcl-tools not found at {}: run `eval \"$(bash scripts/install-test-tools.sh)\"` \
         (sets TRIAGE_HCL_TOOLS; it runs `npm install --prefix <cache>/hcl-tools \
         @cdktf/hcl-tools@0.21.0`)",
        p.display()
    );
    p
}

#[test]
fn main_tf_is_formatted_as_terraform_fmt_formats_it() {
    let tools = hcl_tools();
    let main_tf = repo("deploy/functiongraph/main.tf");
    let script = "const {format} = require(process.argv[1]);\
        const fs = require('fs');\
        const src = fs.readFileSync(process.argv[2], 'utf8');\
        format(src).then(out => { if (out !== src) { process.stdout.write(out); process.exit(3); } })\
        .catch(e => { console.error(e); process.exit(4); });";
    let out = Command::new("node")
        .args(["-e", script])
        .arg(&tools)
        .arg(&main_tf)
        .output()
        .expect("run node (Debian package nodejs)");
    assert!(
        out.status.success(),
        "deploy/functiongraph/main.tf is not hclwrite-formatted (what `terraform fmt` would \
         write follows; status {:?}, stderr {}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    // The rules `terraform fmt` adds to hclwrite.Format: no interpolation-only strings
    // ("${x}" becomes x) and no legacy quoted or bare collection types.
    fn walk_json(v: &Value, bad: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(t)) = m.get("template") {
                    let inner = t.strip_prefix("${").and_then(|s| s.strip_suffix('}'));
                    if inner.is_some_and(|i| !i.contains("${") && !i.contains('}')) {
                        bad.push(t.clone());
                    }
                }
                m.values().for_each(|x| walk_json(x, bad));
            }
            Value::Array(a) => a.iter().for_each(|x| walk_json(x, bad)),
            _ => {}
        }
    }
    let mut bad = Vec::new();
    walk_json(tf(), &mut bad);
    assert!(
        bad.is_empty(),
        "interpolation-only strings terraform fmt rewrites: {bad:?}"
    );
    for (name, v) in variables() {
        let ty = expr(&v["type"]).unwrap_or_default().to_string();
        assert!(
            !["list", "map", "set"].contains(&ty.as_str()),
            "variable {name}: bare type {ty} (terraform fmt writes {ty}(any))"
        );
    }
}

fn package(args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
    let mut c = Command::new("sh");
    c.arg(repo("deploy/functiongraph/package.sh")).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run package.sh")
}

#[test]
fn package_sh_builds_a_static_musl_binary_per_architecture() {
    for (arch, triple) in [
        ("x86_64", "x86_64-unknown-linux-musl"),
        ("arm64", "aarch64-unknown-linux-musl"),
    ] {
        let out = package(&[arch, "--print-commands"], &[]);
        assert!(
            out.status.success(),
            "{arch}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let build = text
            .lines()
            .find(|l| l.starts_with("cargo "))
            .unwrap_or_else(|| panic!("{arch}: no cargo command in {text}"));
        for want in [
            "--release",
            "--no-default-features",
            &format!("--target {triple}"),
        ] {
            assert!(build.contains(want), "{arch}: {build:?} lacks {want}");
        }
        assert!(
            build.starts_with("cargo zigbuild ")
                || (arch == "x86_64" && build.starts_with("cargo build ")),
            "{arch}: {build:?}"
        );
        assert!(
            text.contains(&format!(
                "target/functiongraph/image-triage-{arch}.zip bootstrap image-triage"
            )),
            "{arch}: zip layout: {text}"
        );
    }
    // The default is x86_64; an unknown architecture is a usage error.
    let out = package(&["--print-commands"], &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--target x86_64-unknown-linux-musl"));
    let out = package(&["sparc"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));

    // Without the musl standard library it stops before building, naming the rustup command.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("rustc");
    std::fs::write(&fake, format!("#!/bin/sh\necho {}\n", dir.path().display())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (arch, triple) in [
        ("x86_64", "x86_64-unknown-linux-musl"),
        ("arm64", "aarch64-unknown-linux-musl"),
    ] {
        let out = package(&[arch], &[("RUSTC", &fake)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{arch}: {err}");
        assert!(
            err.contains(&format!("rustup target add {triple}")),
            "{arch}: {err}"
        );
    }

    // main.tf deploys package.sh's output for the chosen architecture.
    let vars = variables();
    let allowed = vars["architecture"]["validation"][0]["condition"].to_string();
    assert!(
        allowed.contains("x86_64") && allowed.contains("arm64"),
        "{allowed}"
    );
    assert_eq!(vars["architecture"]["default"], "x86_64");
    assert!(expr(&local("code_zip"))
        .unwrap()
        .contains("/../../target/functiongraph/image-triage-${var.architecture}.zip"));
    // The ZIP's entry point starts the custom runtime.
    let bootstrap = read("deploy/functiongraph/bootstrap");
    assert!(
        bootstrap.contains("/image-triage\" functiongraph"),
        "{bootstrap}"
    );
}

#[test]
fn the_walkthrough_names_every_variable_and_output() {
    let docs = read("docs/huawei.md");
    for name in variables().keys() {
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/huawei.md does not name the variable `{name}`"
        );
    }
    for o in tf()["output"].as_array().into_iter().flatten() {
        for name in o.as_object().unwrap().keys() {
            assert!(
                docs.contains(&format!("`{name}`")),
                "docs/huawei.md does not name output `{name}`"
            );
        }
    }
}
