//! Content Moderation v3: `POST /v3/{project_id}/moderation/image` (huawei_aws.md §6).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::builder::{self, Input};
use super::tagging::{image_source, num};
// The collector the Tencent parsers use too (one place for dedupe and bounds until src/text
// has it).
use crate::analyzers::{
    AnalyzerError, AnalyzerInput, CategoryScore, ModerationOutput, Moderator, Suggestion,
};
use crate::cloud::huawei::api::Api;
use crate::config::Config;
use crate::preflight::limits::HUAWEI_MODERATION;
use crate::preflight::Limits;
use crate::text::vendor::{clip, TextBuilder, KEEP_LINES, KEEP_LINE_BYTES};
use crate::text::{TextOutput, MAX_HITS};

pub struct HuaweiModeration {
    api: Api,
    fallback: super::fallback::Fallback,
    settings: builder::ModerationSettings,
}

impl HuaweiModeration {
    pub fn new(config: &Config) -> Result<Self, AnalyzerError> {
        builder::require_credentials(config, "huawei moderation")?;
        Ok(HuaweiModeration {
            api: builder::api(config, "moderation", builder::MODERATION_DEFAULTS),
            fallback: super::fallback::Fallback,
            settings: builder::ModerationSettings::from_config(config)?,
        })
    }

    pub fn request_body(&self, input: &AnalyzerInput) -> Result<Value, AnalyzerError> {
        let mut body = match &self.settings.biz_type {
            Some(b) => json!({ "biz_type": b }),
            None => {
                json!({ "event_type": self.settings.event_type, "categories": self.settings.categories })
            }
        };
        image_source(&mut body, self.settings.input, input, "huawei moderation")?;
        Ok(body)
    }
}

fn suggestion(s: &str) -> Option<Suggestion> {
    match s.to_ascii_lowercase().as_str() {
        "pass" => Some(Suggestion::Pass),
        "review" => Some(Suggestion::Review),
        "block" => Some(Suggestion::Block),
        _ => None,
    }
}

/// Confidence arrives as a 0–1 float; a value above 1 is taken as already on the 0–100 scale.
fn score(v: &Value) -> f32 {
    let c = num(v).unwrap_or(0.0);
    let pct = if c <= 1.0 { c * 100.0 } else { c };
    pct.clamp(0.0, 100.0)
}

/// The moderation output from a v3 answer. Huawei reports no per-category status: `result`
/// holds `suggestion`, `category`, `details[]` of hits (`suggestion`, `category`, `confidence`,
/// `label`, locations, `segments`) and `ocr_text` (huawei_aws.md §6; API doc moderation_03_0086,
/// 响应参数), and "调用失败时无此字段": a failed call is an `error_code`/`error_msg` answer without
/// `result`, for all categories at once. (`fail_category`, "the scene that failed when several
/// were requested", is documented for V2's error body only, and is an error answer there too.)
/// So an answer without `result`, or without a valid `result.suggestion`, is an error.
///
/// The text is taken as the answer shows it ([`ocr_text`]): without `ocr_text` or text hits it
/// is `None`, since the request may not have asked for `image_text` (see [`parse_result_for`]).
pub fn parse_result(raw: &Value) -> Result<ModerationOutput, String> {
    parse_result_for(raw, false)
}

/// [`parse_result`] for a request that did (`ocr_requested`) or may not have asked for the
/// `image_text` category: v3 sends `ocr_text` "只有在category参数配置image_text且检测出文本时"
/// (SDK `ImageDetectionResult.ocr_text`), so when `image_text` was requested an answer without
/// it means OCR ran and read nothing, and the section is there without lines.
pub fn parse_result_for(raw: &Value, ocr_requested: bool) -> Result<ModerationOutput, String> {
    let result = raw.get("result").ok_or("the answer has no result")?;
    let overall = result
        .get("suggestion")
        .and_then(Value::as_str)
        .and_then(suggestion)
        .ok_or("the answer has no valid result.suggestion")?;
    let mut categories: Vec<CategoryScore> = result
        .get("details")
        .and_then(Value::as_array)
        .map(|ds| {
            ds.iter()
                .filter_map(|d| {
                    Some(CategoryScore {
                        category: d.get("category")?.as_str()?.to_ascii_lowercase(),
                        score: d.get("confidence").map(score).unwrap_or(0.0),
                        label: d.get("label").and_then(Value::as_str).map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    categories.sort_by(|a, b| b.score.total_cmp(&a.score));
    let top = categories.first();
    let label = match overall {
        Suggestion::Pass => "normal".to_string(),
        _ => result
            .get("category")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| top.map(|c| c.category.clone()))
            .unwrap_or_else(|| "unknown".into()),
    };
    Ok(ModerationOutput {
        suggestion: overall,
        sub_label: top.and_then(|c| c.label.clone()),
        score: top.map(|c| c.score).unwrap_or(0.0),
        label,
        categories,
        text: ocr_text(result, ocr_requested),
        raw: raw.clone(),
    })
}

/// The text the v3 answer shows (huawei_aws.md §6; SDK `ImageDetectionResult`,
/// `ImageDetectionResultDetail`, `OCRTextDetail`): `result.ocr_text`, all the text read, as
/// lines (split where it breaks; a `details[].ocr_text`, as the video frames carry it, is read
/// the same way); a vendor hit per `details[].segments[].segment`, the text fragment that
/// matched, found in the first line that holds it. The hit's category is the detail's `label`
/// (`ad`, `porn`, `abuse`, `contraband` for `image_text`), the category the same words get from
/// IMS and CI, else its `category` (`image_text`); its score the detail's `confidence`. There
/// is no position or OCR confidence in the answer.
///
/// `None` when nothing shows that OCR ran: no `ocr_text`, no `segments`, and `image_text` not
/// known to be requested (a `biz_type` policy, or a category list without it).
fn ocr_text(result: &Value, ocr_requested: bool) -> Option<TextOutput> {
    let details: Vec<&Value> = result
        .get("details")
        .and_then(Value::as_array)
        .map(|ds| ds.iter().filter(|d| d.is_object()).collect())
        .unwrap_or_default();
    let texts: Vec<&str> = std::iter::once(result)
        .chain(details.iter().copied())
        .filter_map(|v| v.get("ocr_text").and_then(Value::as_str))
        .collect();
    let mut ran = ocr_requested || !texts.is_empty();
    let mut t = TextBuilder::new("huawei");
    for line in texts.iter().flat_map(|s| s.lines()) {
        // Past the kept lines every other line is dropped: stop reading megabytes of them.
        if t.out.truncated && t.out.lines.len() >= KEEP_LINES {
            break;
        }
        t.line(line, None, None);
    }
    for d in details {
        let Some(segments) = d.get("segments").and_then(Value::as_array) else {
            continue;
        };
        ran = true;
        let lower = |k: &str| {
            d.get(k)
                .and_then(Value::as_str)
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty() && s != "normal")
        };
        let Some(category) = lower("label").or_else(|| lower("category")) else {
            continue;
        };
        let confidence = d.get("confidence").map(score);
        for seg in segments {
            // No more hits can be kept: the rest would only be searched for.
            if t.out.hits.len() >= MAX_HITS {
                t.out.truncated = true;
                break;
            }
            let Some(keyword) = seg.get("segment").and_then(Value::as_str) else {
                continue;
            };
            let keyword = keyword.trim();
            if keyword.is_empty() {
                continue;
            }
            // The first kept line that holds the fragment (kept lines only: an answer's text
            // can be megabytes); else the text, or the fragment itself when there is none.
            let line = t
                .out
                .lines
                .iter()
                .find(|l| l.text.contains(keyword))
                .map(|l| l.text.clone())
                .or_else(|| {
                    texts
                        .first()
                        .map(|s| clip(s.trim(), KEEP_LINE_BYTES).0.to_string())
                })
                .unwrap_or_else(|| keyword.to_string());
            t.hit(&category, keyword, &line, confidence);
        }
    }
    ran.then(|| t.finish())
}

#[async_trait]
impl Moderator for HuaweiModeration {
    fn name(&self) -> &'static str {
        "huawei moderation"
    }
    fn limits(&self) -> &Limits {
        &HUAWEI_MODERATION
    }
    fn needs_bytes(&self) -> bool {
        self.settings.input == Input::Base64
    }
    fn needs_url(&self) -> bool {
        self.settings.input == Input::Url
    }
    async fn moderate(&self, input: &AnalyzerInput) -> Result<ModerationOutput, AnalyzerError> {
        let raw = self
            .fallback
            .post(
                &self.api,
                self.settings.input,
                "v3",
                "moderation/image",
                input,
                |i| self.request_body(i),
            )
            .await?;
        parse_result_for(&raw, self.settings.requests_ocr()).map_err(|m| AnalyzerError {
            service: self.name().into(),
            code: Some("MalformedResponse".into()),
            message: m,
            retryable: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{ObjectRef, Provider};
    use crate::preflight::{ImageFacts, ImageFormat};

    fn build(extra: &[(&str, &str)]) -> Result<HuaweiModeration, AnalyzerError> {
        let mut vars = vec![
            ("HUAWEICLOUD_SDK_AK", "ak"),
            ("HUAWEICLOUD_SDK_SK", "sk"),
            ("HUAWEICLOUD_SDK_PROJECT_ID", "p"),
        ];
        vars.extend_from_slice(extra);
        HuaweiModeration::new(
            &Config::core_from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
                .unwrap(),
        )
    }

    fn input(url: Option<&str>, bytes: Option<&[u8]>) -> AnalyzerInput {
        AnalyzerInput {
            object: ObjectRef::new(Provider::Obs, "b", "k.png"),
            facts: ImageFacts {
                format: ImageFormat::Png,
                width: Some(100),
                height: Some(100),
                bytes: 3,
            },
            bytes: bytes.map(bytes::Bytes::copy_from_slice),
            url: url.map(str::to_string),
            store: None,
            shared: Default::default(),
        }
    }

    #[test]
    fn request_bodies() {
        let m = build(&[]).unwrap();
        let b = m.request_body(&input(Some("https://u"), None)).unwrap();
        assert_eq!(
            b,
            json!({"event_type":"album","categories":["terrorism","porn","politics","image_text"],"url":"https://u"})
        );
        let m = build(&[("TRIAGE_MODERATION_BIZ_TYPE", "my_policy")]).unwrap();
        let b = m.request_body(&input(Some("https://u"), None)).unwrap();
        assert_eq!(b, json!({"biz_type":"my_policy","url":"https://u"}));
        let m = build(&[
            ("TRIAGE_HUAWEI_INPUT", "base64"),
            ("TRIAGE_MODERATION_CATEGORIES", "porn, terrorism"),
            ("TRIAGE_MODERATION_EVENT_TYPE", "head_image"),
        ])
        .unwrap();
        let b = m.request_body(&input(None, Some(b"abc"))).unwrap();
        assert_eq!(
            b,
            json!({"event_type":"head_image","categories":["porn","terrorism"],"image":"YWJj"})
        );
        assert!(m.request_body(&input(None, None)).is_err());
        let e = build(&[("TRIAGE_MODERATION_CATEGORIES", "ad")])
            .err()
            .unwrap();
        assert!(e.message.contains("ad"), "{e}");
    }

    #[test]
    fn block_with_details_on_the_common_scale() {
        let raw = json!({"request_id":"r","result":{"suggestion":"block","category":"porn",
            "details":[{"suggestion":"block","category":"porn","confidence":0.93,"label":"sexy"},
                       {"suggestion":"review","category":"terrorism","confidence":"0.4","label":"flag"}]}});
        let out = parse_result(&raw).unwrap();
        assert_eq!(out.suggestion, Suggestion::Block);
        assert_eq!(out.label, "porn");
        assert_eq!(out.sub_label.as_deref(), Some("sexy"));
        assert!((out.score - 93.0).abs() < 0.01);
        assert!((out.categories[1].score - 40.0).abs() < 0.01);
    }

    #[test]
    fn pass_without_details() {
        let out = parse_result(&json!({"result":{"suggestion":"pass","details":[]}})).unwrap();
        assert_eq!(
            (out.suggestion, out.label.as_str(), out.score),
            (Suggestion::Pass, "normal", 0.0)
        );
        assert!(parse_result(&json!({"result":{"suggestion":"maybe"}})).is_err());
    }

    #[test]
    fn an_answer_without_result_is_an_error_not_a_pass() {
        for raw in [
            json!({"error_code":"AIS.0005","error_msg":"The service does not exist."}),
            json!({"request_id":"r"}),
            json!({"request_id":"r","result":{"details":[]}}),
        ] {
            assert!(parse_result(&raw).is_err(), "{raw}");
        }
    }

    /// The v3 answer's documented text fields (huawei_aws.md §6; SDK `ImageDetectionResult`,
    /// `ImageDetectionResultDetail`, `OCRTextDetail`): `ocr_text`, `segments[]{segment,
    /// glossary_name}` under `image_text`, and the doc example's `qr_code` detail.
    #[test]
    fn ocr_text_and_segments_become_lines_and_vendor_hits() {
        let raw = json!({"request_id": "r", "result": {"suggestion": "block", "category": "image_text",
            "details": [
                {"suggestion": "block", "category": "image_text", "confidence": 0.95, "label": "ad",
                 "segments": [{"segment": "加微信"}, {"segment": "abc123", "glossary_name": "my_words"}]},
                {"suggestion": "review", "category": "image_text", "confidence": 1.0, "label": "qr_code",
                 "qr_location": {"top_left_x": 1, "top_left_y": 2, "bottom_right_x": 30, "bottom_right_y": 40},
                 "qr_content": "https://example.com", "segments": null},
                {"suggestion": "block", "category": "porn", "confidence": 0.9, "label": "porn"}],
            "ocr_text": "欢迎光临\n加微信 abc123"}});
        let out = parse_result(&raw).unwrap();
        let cats: Vec<_> = out
            .categories
            .iter()
            .map(|c| (c.category.as_str(), c.label.as_deref()))
            .collect();
        assert_eq!(
            cats,
            vec![
                ("image_text", Some("qr_code")),
                ("image_text", Some("ad")),
                ("porn", Some("porn"))
            ],
            "categories as before"
        );
        let t = out.text.expect("ocr_text says OCR ran");
        assert_eq!(t.reader, "huawei");
        let lines: Vec<_> = t.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(lines, vec!["欢迎光临", "加微信 abc123"]);
        assert!(t
            .lines
            .iter()
            .all(|l| l.bbox.is_none() && l.confidence.is_none()));
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
                ("ad", "abc123", "加微信 abc123", Some(95.0)),
            ]
        );
        assert!(t
            .hits
            .iter()
            .all(|h| h.source == crate::text::HitSource::Vendor));
    }

    #[test]
    fn the_text_section_is_there_when_ocr_ran() {
        let pass = json!({"result": {"suggestion": "pass", "category": "", "details": []}});
        assert_eq!(
            parse_result(&pass).unwrap().text,
            None,
            "image_text maybe not asked"
        );
        let t = parse_result_for(&pass, true)
            .unwrap()
            .text
            .expect("asked: read nothing");
        assert!(t.lines.is_empty() && t.hits.is_empty());
        // The doc example: text read, a QR code found, no segments.
        let doc = json!({"request_id": "x", "result": {"suggestion": "block", "category": "image_text",
            "details": [{"suggestion": "block", "category": "image_text", "confidence": 1.0, "label": "qr_code"}],
            "ocr_text": "xxxxxxxxx"}});
        let t = parse_result(&doc).unwrap().text.unwrap();
        assert_eq!(t.lines[0].text, "xxxxxxxxx");
        assert!(t.hits.is_empty());
        // A segment without ocr_text: the fragment is its own line of reference.
        let seg = json!({"result": {"suggestion": "review", "details": [{"category": "image_text",
            "label": "normal", "confidence": 0.5, "segments": [{"segment": "x"}]}]}});
        let t = parse_result(&seg).unwrap().text.unwrap();
        assert_eq!(
            (t.hits[0].category.as_str(), t.hits[0].line.as_str()),
            ("image_text", "x"),
            "a normal label leaves the category"
        );
    }

    #[test]
    fn hostile_text_fields_neither_panic_nor_grow() {
        let odd = json!({"result": {"suggestion": "review", "ocr_text": 5, "details": [
            "x", 7, null,
            {"category": "image_text", "label": 7, "confidence": "high", "segments": "nope"},
            {"category": "image_text", "label": 7, "confidence": 3, "ocr_text": ["a"],
             "segments": [1, {"segment": 5}, {"segment": "  "}, {"segment": "k"}, null]},
            {"category": 9, "segments": [{"segment": "lost"}]}]}});
        let t = parse_result(&odd)
            .unwrap()
            .text
            .expect("segments say OCR ran");
        assert!(t.lines.is_empty());
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
        assert_eq!(hits, vec![("image_text", "k", "k", Some(3.0))]);

        // 10,000 lines of text, 10,000 segments, a huge line: bounded while read.
        let mut text: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        text.push_str(&"广".repeat(100_000));
        let segments: Vec<Value> = (0..10_000)
            .map(|i| json!({"segment": format!("line {i}")}))
            .collect();
        let raw = json!({"result": {"suggestion": "block", "ocr_text": text, "details": [
            {"category": "image_text", "label": "ad", "confidence": 0.8, "segments": segments}]}});
        let mut t = parse_result(&raw).unwrap().text.unwrap();
        assert!(t.truncated);
        assert_eq!(t.lines.len(), KEEP_LINES);
        assert_eq!(t.hits.len(), MAX_HITS);
        assert_eq!(t.hits[1].line, "line 1");
        assert!(t.lines.iter().all(|l| l.text.len() <= KEEP_LINE_BYTES));
        t.bound();
        assert_eq!(t.lines.len(), crate::text::MAX_LINES);
        assert!(t
            .hits
            .iter()
            .all(|h| h.line.len() <= crate::text::MAX_LINE_BYTES));
    }

    #[test]
    fn ocr_follows_the_requested_categories() {
        // An explicit list without image_text wins (it is also the ad/QR-code moderation).
        assert!(build(&[]).unwrap().settings.requests_ocr());
        assert!(!build(&[("TRIAGE_MODERATION_CATEGORIES", "porn")])
            .unwrap()
            .settings
            .requests_ocr());
        assert!(
            !build(&[("TRIAGE_MODERATION_BIZ_TYPE", "my_policy")])
                .unwrap()
                .settings
                .requests_ocr(),
            "a policy's categories are not known here"
        );
    }
}
