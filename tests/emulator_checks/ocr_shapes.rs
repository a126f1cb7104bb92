//! The emulators' text answers (`tests/tencent/emu_text.rs`, `tests/huawei/ai_text.rs`) use
//! only the documented field names and JSON types, checked here against the vendors' field
//! lists as written in their docs, not against the crate's parsers: IMS `OcrResult` /
//! `OcrTextDetail` (tencent.md §5; SDK `ims/v20201229`), CI's sync answer `OcrResults`
//! (vendor-doc_tencent_ci_image_audit_sync.md), Moderation v3 `ImageDetectionResultDetail` /
//! `OCRTextDetail` (huawei_aws.md §6; SDK `huaweicloudsdkmoderation.v3`).

use serde_json::Value;

use crate::emulator::text as tencent;
use crate::huawei::ai_text as huawei;

const IMS_OCR_RESULT: &[&str] = &[
    "Scene",
    "Suggestion",
    "Label",
    "SubLabel",
    "Score",
    "Text",
    "Details",
];
const IMS_OCR_TEXT_DETAIL: &[&str] = &[
    "Text", "Label", "LibId", "LibName", "Keywords", "Score", "Location", "Rate", "SubLabel",
    "HitInfos",
];
const LOCATION: &[&str] = &["X", "Y", "Width", "Height", "Rotate"];

fn keys_within(v: &Value, allowed: &[&str], what: &str) {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("{what} is an object: {v}"));
    for k in o.keys() {
        assert!(
            allowed.contains(&k.as_str()),
            "{what}: undocumented field {k}"
        );
    }
}

#[test]
fn the_text_marker_is_read_from_the_bytes() {
    for (body, want) in [
        (
            &b"\x89PNG....TEXT:\xe5\x8a\xa0\xe5\xbe\xae\xe4\xbf\xa1 abc123\0rest"[..],
            Some("加微信 abc123"),
        ),
        (b"TEXT:  hello \nmore", Some("hello")),
        (b"TEXT:\0", None),
        (b"no marker", None),
    ] {
        assert_eq!(tencent::text_in(body).as_deref(), want);
        assert_eq!(huawei::text_in(body).as_deref(), want);
    }
    let long = [b"TEXT:".as_slice(), &[b'a'; 1000]].concat();
    assert_eq!(tencent::text_in(&long).unwrap().len(), tencent::MAX_TEXT);
    assert_eq!(huawei::text_in(&long).unwrap().len(), huawei::MAX_TEXT);
}

#[test]
fn ims_ocr_results_have_the_documented_fields_and_types() {
    for text in ["加微信 abc123 裸聊", "欢迎光临"] {
        let results = tencent::ims_ocr_results(text);
        let results = results.as_array().expect("OcrResults is an array");
        assert_eq!(results.len(), 1);
        let r = &results[0];
        keys_within(r, IMS_OCR_RESULT, "OcrResult");
        for k in ["Scene", "Suggestion", "Label", "SubLabel", "Text"] {
            assert!(r[k].is_string(), "OcrResult.{k}: {r}");
        }
        assert!(
            ["Block", "Review", "Pass"].contains(&r["Suggestion"].as_str().unwrap()),
            "{r}"
        );
        assert!(
            r["Score"].is_u64() && r["Score"].as_u64().unwrap() <= 100,
            "int 0-100"
        );
        for d in r["Details"].as_array().expect("Details is an array") {
            keys_within(d, IMS_OCR_TEXT_DETAIL, "OcrTextDetail");
            assert!(d["Text"].is_string() && d["Label"].is_string());
            assert!(d["Keywords"]
                .as_array()
                .unwrap()
                .iter()
                .all(Value::is_string));
            assert!(d["Score"].is_u64() && d["Rate"].is_u64());
            keys_within(&d["Location"], LOCATION, "Location");
            assert!(
                LOCATION.iter().all(|k| d["Location"][k].is_f64()),
                "floats: {d}"
            );
        }
    }
    let hit = tencent::ims_ocr_results("加微信 abc123 裸聊");
    let labels: Vec<_> = hit[0]["Details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["Label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, vec!["Ad", "Porn"], "a detail per label hit");
    assert_eq!(hit[0]["Suggestion"], "Block");
    let plain = tencent::ims_ocr_results("欢迎光临");
    assert_eq!(
        (&plain[0]["Suggestion"], &plain[0]["Label"]),
        (&Value::from("Pass"), &Value::from("Normal"))
    );
    assert!(plain[0]["Details"].as_array().unwrap().is_empty());
}

#[test]
fn ci_ocr_results_have_the_documented_elements() {
    use quick_xml::events::Event;
    let xml = tencent::ci_ocr_results("a <b> & c", &["加微信", "x"]);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut path: Vec<String> = vec![];
    let (mut text, mut keywords) = (String::new(), vec![]);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                let name = String::from_utf8(e.local_name().as_ref().to_vec()).unwrap();
                let allowed: &[&str] = match path.last().map(String::as_str) {
                    None => &["OcrResults"],
                    Some("OcrResults") => &["Text", "Keywords", "Location"],
                    Some("Location") => LOCATION,
                    Some(other) => panic!("no children under {other}"),
                };
                assert!(allowed.contains(&name.as_str()), "undocumented {name}");
                path.push(name);
                if path.last().unwrap() == "Keywords" {
                    keywords.push(String::new());
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let s = t.decode().unwrap().into_owned();
                match path.last().map(String::as_str) {
                    Some("Text") => text.push_str(&s),
                    Some("Keywords") => keywords.last_mut().unwrap().push_str(&s),
                    Some(k) if LOCATION.contains(&k) => {
                        assert!(s.parse::<f64>().is_ok(), "{k} is a float: {s}")
                    }
                    _ => {}
                }
            }
            Event::GeneralRef(r) => {
                let name = r.decode().unwrap();
                text.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(text, "a <b> & c", "escaped and read back");
    assert_eq!(
        keywords,
        vec!["加微信", "x"],
        "Keywords repeat, one per keyword"
    );
}

#[test]
fn huawei_image_text_details_have_the_documented_fields() {
    // 图文审核 labels (API doc, ImageDetectionResultDetail.label).
    const LABELS: &[&str] = &["normal", "qr_code", "porn", "ad", "abuse", "contraband"];
    let details = huawei::image_text_details("加微信 abc123 裸聊");
    assert_eq!(details.len(), 2);
    for d in &details {
        keys_within(
            d,
            &[
                "suggestion",
                "category",
                "confidence",
                "face_location",
                "qr_location",
                "qr_content",
                "segments",
                "label",
            ],
            "ImageDetectionResultDetail",
        );
        assert!(["block", "review"].contains(&d["suggestion"].as_str().unwrap()));
        assert_eq!(d["category"], "image_text");
        assert!(LABELS.contains(&d["label"].as_str().unwrap()), "{d}");
        let c = d["confidence"].as_f64().expect("a float");
        assert!((0.0..=1.0).contains(&c));
        for s in d["segments"].as_array().unwrap() {
            keys_within(s, &["segment", "glossary_name"], "OCRTextDetail");
            assert!(s["segment"].is_string());
        }
    }
    assert!(huawei::image_text_details("欢迎光临").is_empty());
    // Text is read only when the request asks for image_text (or names a policy).
    use serde_json::json;
    assert!(huawei::reads_text(
        &json!({"categories": ["porn", "image_text"]})
    ));
    assert!(!huawei::reads_text(&json!({"categories": ["porn"]})));
    assert!(huawei::reads_text(&json!({"biz_type": "p"})));
}
