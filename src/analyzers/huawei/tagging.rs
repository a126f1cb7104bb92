//! Image Tagging v2: `POST /v2/{project_id}/image/tagging` (huawei_aws.md §5).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::builder::{self, Input};
use crate::analyzers::{AnalyzerError, AnalyzerInput, Label, LabelOutput, Labeler};
use crate::cloud::huawei::api::Api;
use crate::config::Config;

use crate::preflight::Limits;

pub struct HuaweiTagging {
    api: Api,
    fallback: super::fallback::Fallback,
    settings: builder::TaggingSettings,
}

impl HuaweiTagging {
    /// Image tagging (`TRIAGE_LABELER=huawei`).
    pub fn new(config: &Config) -> Result<Self, AnalyzerError> {
        Self::variant(config, builder::IMAGE_TAGGING)
    }

    /// Image tagging or media tagging (`TRIAGE_LABELER=huawei-media`).
    pub fn variant(config: &Config, variant: builder::Variant) -> Result<Self, AnalyzerError> {
        builder::require_credentials(config, variant.name)?;
        Ok(HuaweiTagging {
            api: builder::api(config, "image", builder::IMAGE_DEFAULTS),
            fallback: super::fallback::Fallback,
            settings: builder::TaggingSettings::for_variant(config, variant)?,
        })
    }

    pub fn request_body(&self, input: &AnalyzerInput) -> Result<Value, AnalyzerError> {
        let mut body = json!({
            "language": self.settings.language,
            "threshold": self.settings.threshold,
            "limit": self.settings.limit,
        });
        image_source(
            &mut body,
            self.settings.input,
            input,
            self.settings.variant.name,
        )?;
        Ok(body)
    }
}

/// `url` when the URL path is usable, else `image` (base64) when the bytes are at hand.
pub(super) fn image_source(
    body: &mut Value,
    mode: Input,
    input: &AnalyzerInput,
    service: &str,
) -> Result<(), AnalyzerError> {
    if crate::analyzers::inline::url_or_image(body, input, mode == Input::Url) {
        return Ok(());
    }
    Err(AnalyzerError::permanent(
        service,
        "no signed OBS URL for the object (store cannot presign); set TRIAGE_HUAWEI_INPUT=base64",
    ))
}

/// A number the service may send as a string (`"98.14"`) or as a number.
pub(super) fn num(v: &Value) -> Option<f32> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_f64().map(|f| f as f32),
        _ => None,
    }
}

/// `result.tags[]` into labels, best first.
pub fn parse_tags(raw: &Value, language: &str) -> Result<Vec<Label>, String> {
    let tags = raw
        .pointer("/result/tags")
        .and_then(Value::as_array)
        .ok_or("the answer has no result.tags")?;
    let mut labels: Vec<Label> = tags
        .iter()
        .filter_map(|t| {
            let name = t
                .pointer(&format!("/i18n_tag/{language}"))
                .and_then(Value::as_str)
                .or_else(|| t.get("tag").and_then(Value::as_str))?
                .trim();
            let category = t
                .pointer(&format!("/i18n_type/{language}"))
                .and_then(Value::as_str)
                .or_else(|| t.get("type").and_then(Value::as_str))
                .map(str::to_string);
            Some(Label {
                name: name.to_string(),
                confidence: t.get("confidence").and_then(num)?.clamp(0.0, 100.0),
                first_category: category.filter(|c| !c.is_empty()),
                second_category: None,
            })
        })
        .filter(|l| !l.name.is_empty())
        .collect();
    labels.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    Ok(labels)
}

#[async_trait]
impl Labeler for HuaweiTagging {
    fn name(&self) -> &'static str {
        self.settings.variant.name
    }
    fn limits(&self) -> &Limits {
        &self.settings.limits
    }
    fn needs_bytes(&self) -> bool {
        self.settings.input == Input::Base64
    }
    fn needs_url(&self) -> bool {
        self.settings.input == Input::Url
    }
    async fn label(&self, input: &AnalyzerInput) -> Result<LabelOutput, AnalyzerError> {
        let raw = self
            .fallback
            .post(
                &self.api,
                self.settings.input,
                "v2",
                self.settings.variant.interface,
                input,
                |i| self.request_body(i),
            )
            .await?;
        let labels = parse_tags(&raw, &self.settings.language).map_err(|m| AnalyzerError {
            service: self.name().into(),
            code: Some("MalformedResponse".into()),
            message: m,
            retryable: false,
        })?;
        Ok(LabelOutput {
            labels,
            raw,
            flagged: None,
            signals: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config::core_from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn settings_are_checked_when_built() {
        let base = [("HUAWEICLOUD_SDK_AK", "ak"), ("HUAWEICLOUD_SDK_SK", "sk")];
        let e = HuaweiTagging::new(&cfg(&base)).err().unwrap();
        assert_eq!(e.code.as_deref(), Some("MissingProjectId"));
        assert!(e.message.contains("HUAWEICLOUD_SDK_PROJECT_ID"));
        let with_project = [&base[..], &[("RUNTIME_PROJECT_ID", "p")]].concat();
        let t = HuaweiTagging::new(&cfg(&with_project)).unwrap();
        assert!(t.needs_url() && !t.needs_bytes());
        assert_eq!(t.limits().max_side, Some(4096));
        let local = [
            &with_project[..],
            &[("TRIAGE_STORE", "local"), ("TRIAGE_LOCAL_ROOT", "/tmp/x")],
        ]
        .concat();
        assert!(HuaweiTagging::new(&cfg(&local)).unwrap().needs_bytes());
        let current = [
            &with_project[..],
            &[("TRIAGE_HUAWEI_TAGGING_LIMITS", "current")],
        ]
        .concat();
        assert_eq!(
            HuaweiTagging::new(&cfg(&current))
                .unwrap()
                .limits()
                .max_side,
            Some(10_000)
        );
        for bad in [
            ("TRIAGE_LABEL_LANGUAGE", "fr"),
            ("TRIAGE_LABEL_THRESHOLD", "101"),
            ("TRIAGE_LABEL_LIMIT", "0"),
            ("TRIAGE_HUAWEI_INPUT", "ftp"),
        ] {
            let vars = [&with_project[..], &[bad]].concat();
            let e = HuaweiTagging::new(&cfg(&vars)).err().unwrap();
            assert!(e.message.contains(bad.0), "{e}");
        }
    }

    #[test]
    fn confidence_as_string_or_number_and_language() {
        let raw = json!({"result":{"tags":[
            {"confidence":"61.5","type":"动物","tag":"猫","i18n_tag":{"zh":"猫","en":"Cat"},"i18n_type":{"zh":"动物","en":"Animal"}},
            {"confidence":98.14,"tag":"Grass","type":""},
            {"confidence":"n/a","tag":"Bad"}
        ]}});
        let en = parse_tags(&raw, "en").unwrap();
        assert_eq!(en.len(), 2);
        assert_eq!(en[0].name, "Grass");
        assert!((en[0].confidence - 98.14).abs() < 0.01);
        assert_eq!(en[1].name, "Cat");
        assert_eq!(en[1].first_category.as_deref(), Some("Animal"));
        let zh = parse_tags(&raw, "zh").unwrap();
        assert_eq!(zh[1].name, "猫");
        assert!(parse_tags(&json!({"error_code":"x"}), "en").is_err());
    }
}
