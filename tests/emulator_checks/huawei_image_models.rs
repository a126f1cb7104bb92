//! The emulated media tagging, celebrity recognition and main-object detection
//! (`tests/huawei/ai_media.rs`) against `huaweicloudsdkimage` 3.1.219's own models, as
//! `tests/vendor_vectors/huawei_image_models.py` read them into `huawei_image_models.json`:
//!
//! - each API lives at the SDK client's method and resource path;
//! - the request fields the emulator accepts are exactly the request model's, with the JSON type
//!   each declares (`str` a string, `float` any number, `int` an integer);
//! - every field of every answer the emulator gives is a field of the response model (through
//!   nested models, lists and the documented sub-fields of `object` fields) with a compatible
//!   JSON type, and between them the answers use every field the response models declare.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::huawei::ai_media::{Api, Json, APIS};
use crate::huawei::apig_client::{apig_post, image_host, signed_obs_url};
use crate::huawei::{self, MediaTag, PROJECT, REGION, SK};

fn sdk() -> Value {
    serde_json::from_str(include_str!("../vendor_vectors/huawei_image_models.json")).unwrap()
}

/// The emulator's API at the path the SDK declares for `op`.
fn api_for(sdk: &Value, op: &str) -> &'static Api {
    let o = &sdk["operations"][op];
    assert_eq!(o["method"], "POST", "{op}");
    let path = o["path"].as_str().unwrap();
    APIS.into_iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("{op}: the emulator serves nothing at {path}"))
}

#[test]
fn the_sdk_vectors_name_the_three_operations() {
    let sdk = sdk();
    assert_eq!(sdk["sdk"], "huaweicloudsdkimage 3.1.219");
    let ops = sdk["operations"].as_object().unwrap();
    assert_eq!(ops.len(), 3);
    let served: BTreeSet<&str> = ops.keys().map(|op| api_for(&sdk, op).op).collect();
    assert_eq!(served.len(), 3, "one emulated API per SDK operation");
}

#[test]
fn request_fields_are_the_request_models() {
    let sdk = sdk();
    for (op, o) in sdk["operations"].as_object().unwrap() {
        let api = api_for(&sdk, op);
        let model = o["request_body"].as_str().unwrap();
        let declared: BTreeSet<(&str, &str)> = sdk["models"][model]["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str().unwrap()))
            .collect();
        let accepted: BTreeSet<(&str, &str)> = api
            .fields
            .iter()
            .map(|(n, j)| {
                let t = match j {
                    Json::Str => "str",
                    Json::Num => "float",
                    Json::Int => "int",
                };
                (*n, t)
            })
            .collect();
        assert_eq!(accepted, declared, "{op}: emulator vs {model}");
    }
}

/// Check `v` against the SDK type `t` at `at`; note each model field met in `seen`.
fn check(sdk: &Value, t: &str, v: &Value, at: &str, seen: &mut BTreeSet<String>) {
    if let Some(item) = t.strip_prefix("list[").and_then(|r| r.strip_suffix(']')) {
        let list = v
            .as_array()
            .unwrap_or_else(|| panic!("{at}: {v} is not a {t}"));
        for (i, e) in list.iter().enumerate() {
            check(sdk, item, e, &format!("{at}[{i}]"), seen);
        }
        return;
    }
    let ok = match t {
        "str" => v.is_string(),
        "int" => v.is_i64() || v.is_u64(),
        "float" => v.is_number(),
        "bool" => v.is_boolean(),
        "object" => v.is_object(),
        model => {
            let m = &sdk["models"][model];
            assert!(m.is_object(), "{at}: the SDK has no model {model}");
            let fields = v
                .as_object()
                .unwrap_or_else(|| panic!("{at}: {v} is not a {model}"));
            for (name, fv) in fields {
                let at = format!("{at}.{name}");
                let ft = m["fields"][name]
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: {model} has no field {name}"));
                seen.insert(format!("{model}.{name}"));
                check(sdk, ft, fv, &at, seen);
                if ft == "object" {
                    let subs = m["object_fields"][name]
                        .as_object()
                        .unwrap_or_else(|| panic!("{at}: {model}.{name} documents no fields"));
                    for (sub, sv) in fv.as_object().unwrap() {
                        let st = subs
                            .get(sub)
                            .unwrap_or_else(|| panic!("{at}.{sub}: not documented by {model}"));
                        seen.insert(format!("{model}.{name}.{sub}"));
                        match st.as_str() {
                            Some(st) => check(sdk, st, sv, &format!("{at}.{sub}"), seen),
                            // No type declared: a scalar at least.
                            None => assert!(sv.is_number() || sv.is_string(), "{at}.{sub}: {sv}"),
                        }
                    }
                }
            }
            true
        }
    };
    assert!(ok, "{at}: {v} is not the SDK's {t}");
}

/// Every field (and documented `object` sub-field) of the models reachable from `model`.
fn declared(sdk: &Value, model: &str, out: &mut BTreeSet<String>) {
    let m = &sdk["models"][model];
    for (name, t) in m["fields"].as_object().unwrap() {
        out.insert(format!("{model}.{name}"));
        let t = t.as_str().unwrap();
        let inner = t
            .strip_prefix("list[")
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(t);
        if sdk["models"][inner].is_object() {
            declared(sdk, inner, out);
        }
        if let Some(subs) = m["object_fields"][name].as_object() {
            out.extend(subs.keys().map(|s| format!("{model}.{name}.{s}")));
        }
    }
}

#[tokio::test]
async fn answers_are_the_response_models() {
    let sdk = sdk();
    let run = huawei::start(None).await;
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&[0, 0, 3, 0x20, 0, 0, 2, 0x58]);
    png.resize(256, 0);
    run.emu.put("b", "star.png", png.clone(), "image/png");
    run.emu.celebrities_as("star.png", &[("Some Name", 0.97)]);
    let tag = MediaTag::new("车", "Car", "交通", "Vehicle", 99.5);
    run.emu
        .media_tags_as("star.png", &[tag.with_box([1, 2, 3, 4], 97.25)]);
    let url = signed_obs_url(&run.emu, "b", "star.png");
    let inline = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &png);
    for (op, o) in sdk["operations"].as_object().unwrap() {
        let api = api_for(&sdk, op);
        let response = o["response"].as_str().unwrap();
        let path = api.path.replace("{project_id}", PROJECT);
        let mut seen = BTreeSet::new();
        let mut bodies = vec![
            json!({ "url": url }),
            json!({"image": inline, "threshold": 0}),
        ];
        if api.fields.iter().any(|(n, _)| *n == "language") {
            bodies.push(json!({"url": url, "language": "en", "threshold": 0, "limit": 150}));
        }
        for body in bodies {
            let (s, v) = apig_post(&run, &image_host(REGION), &path, &body, SK).await;
            assert_eq!(s, 200, "{op} {body}: {v}");
            check(&sdk, response, &v, op, &mut seen);
        }
        let mut all = BTreeSet::new();
        declared(&sdk, response, &mut all);
        let unused: Vec<&String> = all.difference(&seen).collect();
        assert!(unused.is_empty(), "{op}: never answered {unused:?}");
    }
}
