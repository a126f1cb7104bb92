//! Content Moderation v3: `POST /v3/{project_id}/moderation/image` (huawei_aws.md §6).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::builder::{self, Input};
use super::tagging::{image_source, num};
use crate::analyzers::{
    AnalyzerError, AnalyzerInput, CategoryScore, ModerationOutput, Moderator, Suggestion,
};
use crate::cloud::huawei::api::Api;
use crate::config::Config;
use crate::preflight::limits::HUAWEI_MODERATION;
use crate::preflight::Limits;

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
pub fn parse_result(raw: &Value) -> Result<ModerationOutput, String> {
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
        text: None,
        raw: raw.clone(),
    })
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
        parse_result(&raw).map_err(|m| AnalyzerError {
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
}
