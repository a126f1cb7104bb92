//! IMS `ImageModeration` (API 3.0, version 2020-12-29), reference tencent.md §5 and seed 001:
//! the service downloads the object from a short-lived presigned COS URL (`FileUrl`), so no
//! image bytes pass through the function.

use async_trait::async_trait;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use super::builder;
use crate::analyzers::{
    AnalyzerError, AnalyzerInput, CategoryScore, ModerationOutput, Moderator, Suggestion,
};
use crate::client::Tuning;
use crate::cloud::tencent::api::Api;
use crate::config::Config;
use crate::preflight::limits::{Limits, TENCENT_IMS};
use crate::preflight::ImageFormat;
use crate::text::vendor::{bbox, TextBuilder};
use crate::text::TextOutput;

/// Seed 001: 100 QPS per account; the FAQ names a 15 s service timeout.
pub const IMS_TUNING: Tuning = Tuning::new(
    Some(100.0),
    crate::cloud::tencent::api::MODERATION_TIMEOUT,
    3,
);

pub struct Ims {
    api: Api,
    biz_type: Option<String>,
    gif: (u32, u32),
}

pub fn moderator(config: &Config) -> Result<Arc<dyn Moderator>, AnalyzerError> {
    Ok(Arc::new(Ims {
        api: Api::new(config, "ims", "2020-12-29", IMS_TUNING),
        biz_type: builder::biz_type(config, "ims")?,
        gif: builder::gif_frames(config, "ims")?,
    }))
}

/// IMS `DataId` allows `[A-Za-z0-9_-@#]`, at most 64 characters. Keys that fit are sent as they
/// are; others are mapped (every other character → `_`) and, since that can collide, get `#`
/// and a hash of the real key.
pub fn data_id(key: &str) -> String {
    let mapped: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@' | '#') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if mapped == key && key.len() <= 64 {
        return mapped;
    }
    let hash = hex::encode(&Sha256::digest(key.as_bytes())[..6]);
    let keep: String = mapped.chars().take(64 - 1 - hash.len()).collect();
    format!("{keep}#{hash}")
}

pub fn suggestion(s: &str) -> Suggestion {
    match s.to_ascii_lowercase().as_str() {
        "pass" => Suggestion::Pass,
        "block" => Suggestion::Block,
        // "Review" and anything new: a person should look.
        _ => Suggestion::Review,
    }
}

/// The moderation output from an IMS `Response`.
///
/// IMS has no per-scene status: `LabelResults`/`ObjectResults`/`OcrResults`/`LibResults` items
/// carry `Scene, Suggestion, Label, SubLabel, Score, Details` (plus `Names` / `Text`) and no
/// code or message (tencent.md §5; SDK `ims/v20201229` `LabelResult` etc.). A failed moderation
/// is the API 3.0 `Response.Error` envelope (§4.4), which [`Api::call`] turns into an error
/// before this runs, so a partial failure cannot reach here; an answer without `Suggestion` is
/// `Review`, never `Pass`.
pub fn parse(response: Value) -> ModerationOutput {
    let mut categories = Vec::new();
    let results = |name: &str| response[name].as_array().cloned().unwrap_or_default();
    for (i, name) in ["LabelResults", "ObjectResults", "OcrResults", "LibResults"]
        .iter()
        .enumerate()
    {
        for r in results(name) {
            let label = r["Label"].as_str().unwrap_or_default();
            let hit = i == 0 || r["Suggestion"].as_str().is_some_and(|s| s != "Pass");
            let Some(category) = category(label).filter(|_| hit) else {
                continue;
            };
            let sub = r["SubLabel"].as_str().filter(|s| !s.is_empty());
            categories.push(CategoryScore {
                category,
                score: r["Score"].as_f64().unwrap_or(0.0) as f32,
                label: Some(sub.unwrap_or(label).to_string()),
            });
        }
    }
    ModerationOutput {
        suggestion: suggestion(response["Suggestion"].as_str().unwrap_or("Review")),
        label: response["Label"].as_str().unwrap_or("Normal").to_string(),
        sub_label: response["SubLabel"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        score: response["Score"].as_f64().unwrap_or(0.0) as f32,
        categories,
        text: ocr_text(&response),
        raw: response,
    }
}

/// The project's category for an IMS label (`Ad` → `ad`); `None` for `Normal` or no label.
fn category(label: &str) -> Option<String> {
    let label = label.trim();
    (!label.is_empty() && !label.eq_ignore_ascii_case("normal")).then(|| label.to_ascii_lowercase())
}

/// A number IMS sends as a JSON number (or, leniently, as a numeric string); never NaN or ±∞.
fn number(v: Option<&Value>) -> Option<f64> {
    let v = v?;
    v.as_f64()
        .or_else(|| v.as_str()?.trim().parse().ok())
        .filter(|n: &f64| n.is_finite())
}

/// A vendor score or confidence on the 0–100 scale.
fn percent(n: f64) -> f32 {
    n.clamp(0.0, 100.0) as f32
}

/// The text IMS read, from `OcrResults[]` (SDK `ims/v20201229` `OcrResult`: `Scene, Suggestion,
/// Label, SubLabel, Score, Text, Details[]`; `OcrTextDetail`: `Text, Label, LibId, LibName,
/// Keywords[], Score, Location{X,Y,Width,Height,Rotate}, Rate` where `Rate` is the OCR's own
/// confidence, 0–100, and `Score` the label's). A line per detail that has text (positioned),
/// then each result's whole `Text` when no detail already carries it (IMS puts all the text it
/// read there, details only cover what a label matched); a vendor hit per keyword of a detail,
/// under the detail's label (else the result's).
///
/// `None` when the answer cannot say that OCR ran: the official example answers
/// `OcrResults: []` (for a porn image, text or not unknown), and OCR can be switched off in
/// the console policy (seed 001, "图片 OCR 是否可以关闭模型打击"), so an empty or missing list
/// does not tell "read nothing" from "did not read". One result entry, even with an empty
/// `Text`, says OCR ran: then the section is there, possibly without lines.
fn ocr_text(response: &Value) -> Option<TextOutput> {
    let results: Vec<&serde_json::Map<String, Value>> = response
        .get("OcrResults")?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .collect();
    if results.is_empty() {
        return None;
    }
    let mut t = TextBuilder::new("ims");
    for r in results {
        let whole = s(r.get("Text"));
        let r_label = s(r.get("Label"));
        let r_score = number(r.get("Score")).map(percent);
        let details = r.get("Details").and_then(Value::as_array);
        for d in details.into_iter().flatten().filter_map(Value::as_object) {
            let text = s(d.get("Text"));
            let location = d.get("Location");
            let bbox = location.and_then(|l| {
                bbox(
                    number(l.get("X")),
                    number(l.get("Y")),
                    number(l.get("Width")),
                    number(l.get("Height")),
                )
            });
            t.line(text, number(d.get("Rate")).map(percent), bbox);
            let label = Some(s(d.get("Label")))
                .filter(|l| !l.is_empty())
                .unwrap_or(r_label);
            let Some(category) = category(label) else {
                continue;
            };
            let line = if text.is_empty() { whole } else { text };
            let score = number(d.get("Score")).map(percent).or(r_score);
            let keywords = d.get("Keywords").and_then(Value::as_array);
            for k in keywords.into_iter().flatten().filter_map(Value::as_str) {
                t.hit(&category, k, line, score);
            }
        }
        t.line(whole, None, None);
    }
    Some(t.finish())
}

/// A string field, trimmed; "" when missing or not a string.
fn s(v: Option<&Value>) -> &str {
    v.and_then(Value::as_str).unwrap_or_default().trim()
}

#[async_trait]
impl Moderator for Ims {
    fn name(&self) -> &'static str {
        "ims"
    }
    fn limits(&self) -> &Limits {
        &TENCENT_IMS
    }
    fn needs_bytes(&self) -> bool {
        false
    }
    fn needs_url(&self) -> bool {
        true
    }
    async fn moderate(&self, input: &AnalyzerInput) -> Result<ModerationOutput, AnalyzerError> {
        let url = input.url.as_deref().ok_or_else(|| {
            AnalyzerError::permanent("ims", "no presigned URL of the object to hand to IMS")
        })?;
        let mut body = json!({
            "DataId": data_id(&input.object.key),
            "FileUrl": url,
        });
        if let Some(b) = &self.biz_type {
            body["BizType"] = json!(b);
        }
        if input.facts.format == ImageFormat::Gif {
            body["Interval"] = json!(self.gif.0);
            body["MaxFrames"] = json!(self.gif.1);
        }
        let response = self
            .api
            .call("ImageModeration", input.object.region.as_deref(), &body)
            .await
            .map_err(|e| super::api_error("ims", e))?;
        Ok(parse(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::vendor::{KEEP_LINES, KEEP_LINE_BYTES};
    use crate::text::{HitSource, MAX_HITS, MAX_LINES, MAX_LINE_BYTES};

    #[test]
    fn data_ids_fit_the_charset() {
        assert_eq!(data_id("cat-01_x@y#z"), "cat-01_x@y#z");
        let d = data_id("uploads/猫 photo(1).jpg");
        assert!(d.starts_with("uploads_"), "{d}");
        assert!(d.len() <= 64);
        assert!(d
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-@#".contains(c)));
        assert_ne!(data_id("a/b"), data_id("a_b"), "mapped keys do not collide");
        assert!(data_id(&"x".repeat(100)).len() <= 64);
    }

    #[test]
    fn official_example_output() {
        let v: Value = serde_json::from_str(r#"{"RequestId": "a6", "DataId": "a6", "BizType": "test_1001", "Suggestion": "Block", "FileMD5": "", "Label": "Porn", "SubLabel": "SexBehavior", "Score": 90,
          "LabelResults": [{"Scene": "Porn", "Suggestion": "Block", "Label": "Porn", "SubLabel": "SexBehavior", "Score": 90, "Details": []}],
          "ObjectResults": [{"Scene": "QrCode", "Suggestion": "Block", "Label": "Ad", "SubLabel": "", "Score": 100, "Names": ["QRCODE"], "Details": []}],
          "OcrResults": [], "LibResults": null, "RecognitionResults": [], "Extra": ""}"#).unwrap();
        let m = parse(v);
        assert_eq!(m.suggestion, Suggestion::Block);
        assert_eq!(
            (m.label.as_str(), m.sub_label.as_deref(), m.score),
            ("Porn", Some("SexBehavior"), 90.0)
        );
        assert_eq!(m.categories.len(), 2);
        assert_eq!(m.categories[0].category, "porn");
        assert_eq!(
            (m.categories[1].category.as_str(), m.categories[1].score),
            ("ad", 100.0)
        );
        let pass = parse(
            serde_json::json!({"Suggestion": "Pass", "Label": "Normal", "Score": 0, "LabelResults": [{"Label": "Normal", "Score": 99}]}),
        );
        assert_eq!(pass.suggestion, Suggestion::Pass);
        assert!(pass.categories.is_empty());
    }

    /// The documented `OcrResult` / `OcrTextDetail` shape (tencent.md §5, SDK models): two
    /// details on the same line (the built-in Ad library and a custom one), and the whole text.
    #[test]
    fn ocr_results_become_lines_and_vendor_hits() {
        let v = json!({"RequestId": "r", "DataId": "d", "BizType": "", "Suggestion": "Block",
        "Label": "Ad", "SubLabel": "", "Score": 95,
        "LabelResults": [{"Scene": "Porn", "Suggestion": "Pass", "Label": "Normal", "SubLabel": "", "Score": 0, "Details": []}],
        "ObjectResults": [], "LibResults": null, "RecognitionResults": [], "Extra": "",
        "OcrResults": [{"Scene": "OCR", "Suggestion": "Block", "Label": "Ad", "SubLabel": "",
            "Score": 95, "Text": "加微信 abc123 欢迎光临",
            "Details": [
                {"Text": "加微信 abc123", "Label": "Ad", "LibId": "", "LibName": "",
                 "Keywords": ["加微信"], "Score": 95, "Rate": 98, "SubLabel": "", "HitInfos": [],
                 "Location": {"X": 12.4, "Y": 30.0, "Width": 200.2, "Height": 40.0, "Rotate": 0.0}},
                {"Text": "加微信 abc123", "Label": "Custom", "LibId": "lib-1", "LibName": "my words",
                 "Keywords": ["abc123", "加微信"], "Score": 80, "Rate": 98, "SubLabel": "",
                 "Location": {"X": 12.4, "Y": 30.0, "Width": 200.2, "Height": 40.0, "Rotate": 0.0}}
            ]}]});
        let m = parse(v);
        assert_eq!(
            m.categories
                .iter()
                .map(|c| (c.category.as_str(), c.score))
                .collect::<Vec<_>>(),
            vec![("ad", 95.0)],
            "the OCR scene still scores its label"
        );
        let t = m.text.expect("OCR ran");
        assert_eq!(t.reader, "ims");
        assert!(!t.truncated);
        let lines: Vec<_> = t
            .lines
            .iter()
            .map(|l| (l.text.as_str(), l.bbox, l.confidence))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("加微信 abc123", Some([12, 30, 200, 40]), Some(98.0)),
                ("加微信 abc123 欢迎光临", None, None),
            ]
        );
        let hits: Vec<_> = t
            .hits
            .iter()
            .map(|h| {
                (
                    h.category.as_str(),
                    h.keyword.as_str(),
                    h.line.as_str(),
                    h.score,
                )
            })
            .collect();
        assert_eq!(
            hits,
            vec![
                ("ad", "加微信", "加微信 abc123", Some(95.0)),
                ("custom", "abc123", "加微信 abc123", Some(80.0)),
                ("custom", "加微信", "加微信 abc123", Some(80.0)),
            ]
        );
        assert!(t.hits.iter().all(|h| h.source == HitSource::Vendor));
        assert_eq!(t.hit_categories(), vec!["ad", "custom"]);
    }

    #[test]
    fn the_text_section_is_there_only_when_ocr_ran() {
        // Missing, null, or [] (the official example's value): OCR may not have run.
        for v in [
            json!({"Suggestion": "Pass", "Label": "Normal"}),
            json!({"Suggestion": "Pass", "OcrResults": null}),
            json!({"Suggestion": "Pass", "OcrResults": []}),
            json!({"Suggestion": "Pass", "OcrResults": "none"}),
        ] {
            assert_eq!(parse(v.clone()).text, None, "{v}");
        }
        // An OCR result without text: OCR ran and read nothing.
        let none = parse(json!({"Suggestion": "Pass", "OcrResults": [{"Scene": "OCR",
            "Suggestion": "Pass", "Label": "Normal", "SubLabel": "", "Score": 0, "Text": "", "Details": []}]}));
        let t = none.text.expect("OCR ran");
        assert!(t.lines.is_empty() && t.hits.is_empty());
        // Text without a label: a line, no hits, no category.
        let plain = parse(json!({"Suggestion": "Pass", "OcrResults": [{"Scene": "OCR",
            "Suggestion": "Pass", "Label": "Normal", "Score": 0, "Text": " 欢迎光临 ", "Details": null}]}));
        assert!(plain.categories.is_empty());
        let t = plain.text.unwrap();
        assert_eq!(t.lines[0].text, "欢迎光临");
        assert!(t.hits.is_empty());
        // Keywords under a Normal label are not hits.
        let normal = parse(json!({"OcrResults": [{"Label": "Normal", "Text": "t",
            "Details": [{"Text": "t", "Label": "Normal", "Keywords": ["t"]}]}]}));
        assert!(normal.text.unwrap().hits.is_empty());
    }

    #[test]
    fn hostile_ocr_results_neither_panic_nor_grow() {
        let v = json!({"OcrResults": [1, "x", null, [], {"Details": "nope", "Text": 5, "Label": {}},
        {"Label": "Ad", "Score": "97", "Text": "whole", "Details": [
            {"Keywords": "加微信", "Location": {"X": "a"}, "Text": ["x"]},
            {"Keywords": [1, null, "  ", "k"], "Label": 7, "Text": "t", "Score": "high", "Rate": 1000,
             "Location": {"X": -5, "Y": 1e300, "Width": 1e308, "Height": "3"}},
            {"Keywords": ["z"], "Text": "u", "Score": -20, "Location": {"X": 1, "Y": 1, "Width": 0, "Height": 9}},
            7
        ]}]});
        let t = parse(v).text.expect("object entries say OCR ran");
        let lines: Vec<_> = t
            .lines
            .iter()
            .map(|l| (l.text.as_str(), l.bbox, l.confidence))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("t", Some([0, u32::MAX, u32::MAX, 3]), Some(100.0)),
                ("u", None, None),
                ("whole", None, None)
            ]
        );
        let hits: Vec<_> = t
            .hits
            .iter()
            .map(|h| {
                (
                    h.category.as_str(),
                    h.keyword.as_str(),
                    h.line.as_str(),
                    h.score,
                )
            })
            .collect();
        // A label that is not a string falls back to the result's; scores that are not numbers
        // to the result's; negative ones are 0.
        assert_eq!(
            hits,
            vec![("ad", "k", "t", Some(97.0)), ("ad", "z", "u", Some(0.0))]
        );

        // 10,000 results, each with its own lines and keywords, some of them megabytes long:
        // bounded while collected, then cut to the result's bounds by the pipeline's bound().
        let huge = "广".repeat(1_000_000);
        let many: Vec<Value> = (0..10_000)
            .map(|i| {
                let whole = if i < 3 { huge.clone() } else { format!("{i} whole") };
                json!({"Label": "Ad", "Score": 90, "Text": whole,
                    "Details": [{"Text": format!("line {i}"), "Keywords": [format!("k{i}"), "广".repeat(200)]}]})
            })
            .collect();
        let mut t = parse(json!({"Suggestion": "Block", "OcrResults": many}))
            .text
            .unwrap();
        assert!(t.truncated);
        assert_eq!(t.lines.len(), KEEP_LINES);
        assert_eq!(t.hits.len(), MAX_HITS);
        assert_eq!(
            t.lines[1].text.len(),
            KEEP_LINE_BYTES - 2,
            "cut on a char boundary"
        );
        assert!(t.lines.iter().all(|l| l.text.len() <= KEEP_LINE_BYTES));
        assert!(t
            .hits
            .iter()
            .all(|h| h.line.len() <= KEEP_LINE_BYTES && h.keyword.len() <= MAX_LINE_BYTES));
        assert_eq!(t.lines[0].text, "line 0");
        t.bound();
        assert_eq!(t.lines.len(), MAX_LINES);
        assert!(t.lines.iter().all(|l| l.text.len() <= MAX_LINE_BYTES));
    }

    #[test]
    fn only_an_explicit_pass_passes() {
        for v in [
            json!({"Label": "Normal", "Score": 0, "LabelResults": []}),
            json!({"Suggestion": null, "Label": "Normal"}),
            json!({"Suggestion": "Unknown", "Label": "Normal"}),
        ] {
            assert_eq!(parse(v.clone()).suggestion, Suggestion::Review, "{v}");
        }
    }
}
