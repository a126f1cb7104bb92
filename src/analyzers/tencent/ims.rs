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
            if label.is_empty() || label.eq_ignore_ascii_case("normal") || !hit {
                continue;
            }
            let sub = r["SubLabel"].as_str().filter(|s| !s.is_empty());
            categories.push(CategoryScore {
                category: label.to_ascii_lowercase(),
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
        text: None,
        raw: response,
    }
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
