//! Cloud Infinite on the COS bucket host: `detect-label` (labels) and
//! `sensitive-content-recognition` (moderation), reference tencent.md §6 and seed 003. The
//! service reads the object itself; requests are signed like any COS GET.

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

use super::builder;
use crate::analyzers::{
    AnalyzerError, AnalyzerInput, CategoryScore, Label, LabelOutput, Labeler, ModerationOutput,
    Moderator, Suggestion,
};
use crate::client::{Service, Tuning};
use crate::cloud::tencent::cos::{CosClient, CosError, Req};
use crate::config::Config;
use crate::preflight::limits::{Limits, COS_CI_MODERATION, COS_CI_TAGGING};
use crate::preflight::ImageFormat;

/// Seed 000: tagging is limited to 20 QPS; 5 s per call.
pub const CI_TUNING: Tuning =
    Tuning::new(Some(20.0), crate::cloud::tencent::api::TAGGING_TIMEOUT, 3);
/// CI moderation: 15 s per call like IMS.
pub const CI_MODERATION_TUNING: Tuning = Tuning::new(
    Some(20.0),
    crate::cloud::tencent::api::MODERATION_TIMEOUT,
    3,
);

fn cos_client(config: &Config) -> CosClient {
    CosClient::from_config(config, "ci")
}

fn analyzer_error(service: &str, e: CosError) -> AnalyzerError {
    AnalyzerError {
        service: service.into(),
        code: Some(e.code),
        message: e.message,
        retryable: e.retryable,
    }
}

pub struct CiLabeler {
    client: CosClient,
    service: Service,
    scenes: Vec<String>,
}

pub fn labeler(config: &Config) -> Result<Arc<dyn Labeler>, AnalyzerError> {
    Ok(Arc::new(CiLabeler {
        client: cos_client(config),
        service: Service::new("ci", config.tuning("ci", CI_TUNING)),
        scenes: builder::scenes(config, "cos-ci")?,
    }))
}

#[derive(Debug, Deserialize, Default, serde::Serialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CiLabel {
    pub confidence: String,
    pub name: String,
    pub first_category: String,
    pub second_category: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct SceneLabels {
    labels: Vec<CiLabel>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct DetectLabelResult {
    web_labels: Option<SceneLabels>,
    camera_labels: Option<SceneLabels>,
    album_labels: Option<SceneLabels>,
    news_labels: Option<SceneLabels>,
    /// The legacy shape without scenes: labels directly under the root.
    labels: Vec<CiLabel>,
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Merge labels of several scenes: one entry per name, the highest confidence, best first.
pub fn merge(per_scene: &[(String, Vec<Label>)]) -> Vec<Label> {
    let mut out: Vec<Label> = Vec::new();
    for (_, labels) in per_scene {
        for l in labels {
            match out.iter_mut().find(|o| o.name == l.name) {
                Some(o) if o.confidence >= l.confidence => {}
                Some(o) => *o = l.clone(),
                None => out.push(l.clone()),
            }
        }
    }
    out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    out
}

/// Parse the detect-label XML into labels per scene (each scene's list kept for the sidecar).
pub fn parse_detect_label(xml: &str) -> Result<LabelOutput, String> {
    let r: DetectLabelResult =
        quick_xml::de::from_str(xml).map_err(|e| format!("unreadable detect-label XML: {e}"))?;
    let convert = |ls: Vec<CiLabel>| -> Vec<Label> {
        ls.into_iter()
            .filter(|l| !l.name.trim().is_empty())
            .map(|l| Label {
                name: l.name.trim().to_string(),
                confidence: l.confidence.trim().parse::<f32>().unwrap_or(0.0),
                first_category: opt(&l.first_category),
                second_category: opt(&l.second_category),
            })
            .collect()
    };
    let mut per_scene: Vec<(String, Vec<Label>)> = Vec::new();
    for (name, s) in [
        ("web", r.web_labels),
        ("camera", r.camera_labels),
        ("album", r.album_labels),
        ("news", r.news_labels),
    ] {
        if let Some(s) = s {
            per_scene.push((name.into(), convert(s.labels)));
        }
    }
    if !r.labels.is_empty() {
        per_scene.push(("default".into(), convert(r.labels)));
    }
    let raw = json!({ "scenes": per_scene.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>() });
    Ok(LabelOutput {
        labels: merge(&per_scene),
        raw,
        flagged: None,
        signals: vec![],
    })
}

#[async_trait]
impl Labeler for CiLabeler {
    fn name(&self) -> &'static str {
        "cos-ci"
    }
    fn limits(&self) -> &Limits {
        &COS_CI_TAGGING
    }
    fn needs_bytes(&self) -> bool {
        false
    }
    async fn label(&self, input: &AnalyzerInput) -> Result<LabelOutput, AnalyzerError> {
        let req = Req::new(Method::GET, &input.object.bucket, &input.object.key)
            .param("ci-process", "detect-label")
            .param("scenes", &self.scenes.join(","));
        ci_get(&self.client, &self.service, input, req, parse_detect_label).await
    }
}

/// One CI request on the object (signed like COS, on the bucket host) and its parsed XML answer.
async fn ci_get<T>(
    client: &CosClient,
    service: &Service,
    input: &AnalyzerInput,
    mut req: Req,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, AnalyzerError> {
    req.region = input.object.region.clone();
    let resp = service
        .call(|| client.send(&req))
        .await
        .map_err(|e| analyzer_error("cos-ci", e))?;
    parse(&String::from_utf8_lossy(&resp.body)).map_err(|m| AnalyzerError {
        service: "cos-ci".into(),
        code: Some("MalformedXML".into()),
        message: m,
        retryable: false,
    })
}

pub struct CiModerator {
    client: CosClient,
    service: Service,
    biz_type: Option<String>,
    gif: (u32, u32),
}

pub fn moderator(config: &Config) -> Result<Arc<dyn Moderator>, AnalyzerError> {
    Ok(Arc::new(CiModerator {
        client: cos_client(config),
        service: Service::new(
            "ci-moderation",
            config.tuning("ci-moderation", CI_MODERATION_TUNING),
        ),
        biz_type: builder::biz_type(config, "cos-ci")?,
        gif: builder::gif_frames(config, "cos-ci")?,
    }))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct SceneInfo {
    code: String,
    score: String,
    label: String,
    sub_label: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Recognition {
    result: String,
    label: String,
    sub_label: String,
    score: String,
    porn_info: Option<SceneInfo>,
    ads_info: Option<SceneInfo>,
    politics_info: Option<SceneInfo>,
    terrorist_info: Option<SceneInfo>,
    terrorism_info: Option<SceneInfo>,
    teenager_info: Option<SceneInfo>,
}

fn num(s: &str) -> f32 {
    s.trim().parse().unwrap_or(0.0)
}

/// Parse the sensitive-content-recognition XML. `Result`: 0 normal, 1 sensitive, 2 suspicious.
pub fn parse_recognition(xml: &str) -> Result<ModerationOutput, String> {
    let r: Recognition = quick_xml::de::from_str(xml)
        .map_err(|e| format!("unreadable sensitive-content-recognition XML: {e}"))?;
    let suggestion = match r.result.trim() {
        "0" => Suggestion::Pass,
        "1" => Suggestion::Block,
        _ => Suggestion::Review,
    };
    let mut categories = Vec::new();
    for (category, info) in [
        ("porn", &r.porn_info),
        ("ad", &r.ads_info),
        ("politics", &r.politics_info),
        ("terrorism", &r.terrorist_info),
        ("terrorism", &r.terrorism_info),
        ("teenager", &r.teenager_info),
    ] {
        let Some(i) = info else { continue };
        if !matches!(i.code.trim(), "" | "0") {
            continue;
        }
        let label = opt(&i.sub_label).or_else(|| opt(&i.label));
        categories.push(CategoryScore {
            category: category.into(),
            score: num(&i.score),
            label,
        });
    }
    let raw = json!({
        "Result": r.result, "Label": r.label, "SubLabel": r.sub_label, "Score": r.score,
        "Categories": categories,
    });
    Ok(ModerationOutput {
        suggestion,
        label: opt(&r.label).unwrap_or_else(|| "Normal".into()),
        sub_label: opt(&r.sub_label),
        score: num(&r.score),
        categories,
        raw,
    })
}

#[async_trait]
impl Moderator for CiModerator {
    fn name(&self) -> &'static str {
        "cos-ci"
    }
    fn limits(&self) -> &Limits {
        &COS_CI_MODERATION
    }
    fn needs_bytes(&self) -> bool {
        false
    }
    async fn moderate(&self, input: &AnalyzerInput) -> Result<ModerationOutput, AnalyzerError> {
        let mut req = Req::new(Method::GET, &input.object.bucket, &input.object.key)
            .param("ci-process", "sensitive-content-recognition");
        if let Some(b) = &self.biz_type {
            req = req.param("biz-type", b);
        }
        if input.facts.format == ImageFormat::Gif {
            req = req
                .param("interval", &self.gif.0.to_string())
                .param("max-frames", &self.gif.1.to_string());
        }
        // Objects over 5 MB are only moderated with large-image-detect=1 (doc, ≤ 32 MB).
        if input.facts.bytes > 5 * 1024 * 1024 {
            req = req.param("large-image-detect", "1");
        }
        ci_get(&self.client, &self.service, input, req, parse_recognition).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_label_doc_example_keeps_each_scene() {
        let xml = "<RecognitionResult><AlbumLabels><Labels><Confidence>72</Confidence><FirstCategory>Animals and plants</FirstCategory><Name>Deer</Name><SecondCategory>Mammals</SecondCategory></Labels></AlbumLabels><CameraLabels><Labels><Confidence>26</Confidence><FirstCategory>Animals and plants</FirstCategory><Name>Antelope</Name><SecondCategory>Mammals</SecondCategory></Labels><Labels><Confidence>18</Confidence><FirstCategory>Animals and plants</FirstCategory><Name>Deer</Name><SecondCategory>Mammals</SecondCategory></Labels></CameraLabels><NewsLabels><Labels><Confidence>60</Confidence><Name>Plant</Name></Labels></NewsLabels><WebLabels><Labels><Confidence>97</Confidence><FirstCategory>Animals and plants</FirstCategory><Name>Wildlife</Name><SecondCategory>Other</SecondCategory></Labels></WebLabels></RecognitionResult>";
        let out = parse_detect_label(xml).unwrap();
        let names: Vec<(&str, f32)> = out
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.confidence))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Wildlife", 97.0),
                ("Deer", 72.0),
                ("Plant", 60.0),
                ("Antelope", 26.0)
            ]
        );
        assert_eq!(out.raw["scenes"]["camera"].as_array().unwrap().len(), 2);
        assert_eq!(out.raw["scenes"]["news"][0]["name"], "Plant");
        assert!(out.labels[2].first_category.is_none());
        let legacy = parse_detect_label("<RecognitionResult><Labels><Confidence>87</Confidence><Name>猫</Name></Labels></RecognitionResult>").unwrap();
        assert_eq!(legacy.labels[0].name, "猫");
        assert!(
            parse_detect_label("<RecognitionResult></RecognitionResult>")
                .unwrap()
                .labels
                .is_empty()
        );
    }

    #[test]
    fn recognition_doc_example() {
        let xml = "<RecognitionResult><JobId>x</JobId><CompressionResult>0</CompressionResult><Result>1</Result><Label>Porn</Label><SubLabel>SexBehavior</SubLabel><Score>95</Score><PornInfo><Code>0</Code><Msg>OK</Msg><HitFlag>1</HitFlag><Label>xxx</Label><SubLabel>SexBehavior</SubLabel><Score>95</Score></PornInfo><AdsInfo><Code>0</Code><HitFlag>0</HitFlag><Score></Score></AdsInfo></RecognitionResult>";
        let m = parse_recognition(xml).unwrap();
        assert_eq!(m.suggestion, Suggestion::Block);
        assert_eq!((m.label.as_str(), m.score), ("Porn", 95.0));
        assert_eq!(m.categories[0].category, "porn");
        assert_eq!(m.categories[1].score, 0.0, "empty elements parse leniently");
        let review = parse_recognition(
            "<RecognitionResult><Result>2</Result><Label>Ads</Label></RecognitionResult>",
        )
        .unwrap();
        assert_eq!(review.suggestion, Suggestion::Review);
    }
}
