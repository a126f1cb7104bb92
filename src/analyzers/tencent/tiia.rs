//! TIIA `DetectLabel` (API 3.0, version 2019-05-29), reference tencent.md §7: an alternative
//! labeler that downloads the object from a presigned URL (`ImageUrl`).

use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::Arc;

use super::builder;
use crate::analyzers::{AnalyzerError, AnalyzerInput, Label, LabelOutput, Labeler};
use crate::client::Tuning;
use crate::cloud::tencent::api::Api;
use crate::config::Config;
use crate::preflight::limits::{Limits, TENCENT_TAGGING};

/// 20 requests per second by default (tencent.md §7), 5 s per call.
pub const TIIA_TUNING: Tuning =
    Tuning::new(Some(20.0), crate::cloud::tencent::api::TAGGING_TIMEOUT, 3);

pub struct Tiia {
    api: Api,
    scenes: Vec<String>,
}

pub fn labeler(config: &Config) -> Result<Arc<dyn Labeler>, AnalyzerError> {
    Ok(Arc::new(Tiia {
        api: Api::new(config, "tiia", "2019-05-29", TIIA_TUNING),
        scenes: builder::scenes(config, "tiia")?,
    }))
}

/// Labels from a `DetectLabel` response: `Labels` is the WEB scene; arrays may be `null`.
pub fn parse(response: Value) -> LabelOutput {
    let mut per_scene = Vec::new();
    for (scene, field) in [
        ("web", "Labels"),
        ("camera", "CameraLabels"),
        ("album", "AlbumLabels"),
        ("news", "NewsLabels"),
    ] {
        let Some(items) = response[field].as_array() else {
            continue;
        };
        let labels: Vec<Label> = items
            .iter()
            .filter_map(|i| {
                let name = i["Name"].as_str()?.trim().to_string();
                let cat = |k: &str| i[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
                Some(Label {
                    name,
                    confidence: i["Confidence"].as_f64().unwrap_or(0.0) as f32,
                    first_category: cat("FirstCategory"),
                    second_category: cat("SecondCategory"),
                })
            })
            .collect();
        per_scene.push((scene.to_string(), labels));
    }
    LabelOutput {
        labels: super::ci::merge(&per_scene),
        raw: response,
        flagged: None,
        signals: vec![],
    }
}

#[async_trait]
impl Labeler for Tiia {
    fn name(&self) -> &'static str {
        "tiia"
    }
    fn limits(&self) -> &Limits {
        &TENCENT_TAGGING
    }
    fn needs_bytes(&self) -> bool {
        false
    }
    fn needs_url(&self) -> bool {
        true
    }
    async fn label(&self, input: &AnalyzerInput) -> Result<LabelOutput, AnalyzerError> {
        let url = input.url.as_deref().ok_or_else(|| {
            AnalyzerError::permanent("tiia", "no presigned URL of the object to hand to TIIA")
        })?;
        let scenes: Vec<String> = self.scenes.iter().map(|s| s.to_ascii_uppercase()).collect();
        let body = json!({ "ImageUrl": url, "Scenes": scenes });
        let response = self
            .api
            .call("DetectLabel", input.object.region.as_deref(), &body)
            .await
            .map_err(|e| super::api_error("tiia", e))?;
        Ok(parse(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_example_output() {
        let v: Value = serde_json::from_str(r#"{"NewsLabels": [{"Confidence": 80, "Name": "塔楼", "SecondCategory": "建筑", "FirstCategory": "场景"}],
 "Labels": [{"Name": "塔楼", "FirstCategory": "场景", "SecondCategory": "建筑", "Confidence": 81}],
 "CameraLabels": [{"Name": "夜景", "FirstCategory": "场景", "SecondCategory": "自然风光", "Confidence": 92}],
 "AlbumLabels": null, "RequestId": "e6d6"}"#).unwrap();
        let out = parse(v);
        let names: Vec<(&str, f32)> = out
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.confidence))
            .collect();
        assert_eq!(names, vec![("夜景", 92.0), ("塔楼", 81.0)]);
        assert_eq!(out.labels[0].second_category.as_deref(), Some("自然风光"));
    }
}
