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
use crate::text::vendor::{bbox, TextBuilder, KEEP_LINE_BYTES};
use crate::text::{TextOutput, MAX_HITS};

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

/// An answer that could not be read as the documented XML.
fn malformed(message: String) -> AnalyzerError {
    AnalyzerError {
        service: "cos-ci".into(),
        code: Some("MalformedXML".into()),
        message,
        retryable: false,
    }
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
        ci_get(&self.client, &self.service, input, req, |xml| {
            parse_detect_label(xml).map_err(malformed)
        })
        .await
    }
}

/// One CI request on the object (signed like COS, on the bucket host) and its parsed XML answer.
async fn ci_get<T>(
    client: &CosClient,
    service: &Service,
    input: &AnalyzerInput,
    mut req: Req,
    parse: fn(&str) -> Result<T, AnalyzerError>,
) -> Result<T, AnalyzerError> {
    req.region = input.object.region.clone();
    let resp = service
        .call(|| client.send(&req))
        .await
        .map_err(|e| analyzer_error("cos-ci", e))?;
    parse(&String::from_utf8_lossy(&resp.body))
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

/// A per-scene result of sensitive-content-recognition (`PornInfo`, `AdsInfo`, …) whose own
/// `Code` is not 0: that scene's check did not run to completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedScene {
    /// The container's element name, e.g. `AdsInfo`.
    pub container: String,
    pub code: String,
    pub msg: String,
}

/// Every per-scene container of the answer whose `Code` says that scene failed, in document
/// order. The sync API doc (vendor-doc_tencent_ci_image_audit_sync.md, "Response body": the
/// `PornInfo`/`AdsInfo` sub-nodes) defines `Code` as "Error code. `0` indicates a success, while
/// other numbers correspond to different errors" and `Msg` as the error message. Any direct child
/// of the root named `…Info` with a `Code` child counts, so scenes this module does not map to a
/// category (a policy's `biz-type` decides which scenes run) are covered too. A container without
/// `Code` (or with an empty one) is not a failure, as before.
pub fn failed_scenes(xml: &str) -> Result<Vec<FailedScene>, String> {
    use quick_xml::events::Event;
    let unreadable =
        |e: &dyn std::fmt::Display| format!("unreadable sensitive-content-recognition XML: {e}");
    // Text is not trimmed by the reader: it would cut the spaces around an entity in `Msg`.
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut scene: Option<FailedScene> = None;
    let mut failed = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| unreadable(&e))?;
        // Text of a direct child of the scene container (`Code`, `Msg`), entities resolved.
        if let Some(text) = event_text(&event).map_err(|e| unreadable(&e))? {
            if let (Some(s), 3) = (scene.as_mut(), path.len()) {
                match path[2].as_str() {
                    "Code" => s.code.push_str(&text),
                    "Msg" => s.msg.push_str(&text),
                    _ => {}
                }
            }
            continue;
        }
        match event {
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                if path.len() == 2 && path[1].ends_with("Info") {
                    scene = Some(FailedScene {
                        container: path[1].clone(),
                        code: String::new(),
                        msg: String::new(),
                    });
                }
            }
            Event::End(_) => {
                if path.len() == 2 {
                    if let Some(s) = scene.take() {
                        if !scene_ran(&s.code) {
                            failed.push(FailedScene {
                                code: s.code.trim().to_string(),
                                msg: s.msg.trim().to_string(),
                                ..s
                            });
                        }
                    }
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(failed)
}

/// The character data an XML event carries (text, CDATA, or one entity or character
/// reference, which quick-xml reports apart from the text around it), entities resolved; `None`
/// for markup.
fn event_text(event: &quick_xml::events::Event) -> Result<Option<String>, String> {
    use quick_xml::events::Event;
    let text = match event {
        Event::Text(t) => t.decode().map_err(|e| e.to_string())?.into_owned(),
        Event::CData(t) => t.decode().map_err(|e| e.to_string())?.into_owned(),
        Event::GeneralRef(r) => {
            let name = r.decode().map_err(|e| e.to_string())?;
            match r.resolve_char_ref().map_err(|e| e.to_string())? {
                Some(c) => c.to_string(),
                None => quick_xml::escape::resolve_predefined_entity(&name)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("&{name};")),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(text))
}

/// A scene `Code` that does not say the scene failed: `0`, or none at all. Anything else,
/// including a value that is not a number, is a failure.
fn scene_ran(code: &str) -> bool {
    let code = code.trim();
    code.is_empty() || code.parse::<i64>() == Ok(0)
}

/// Whether a failed scene's `Code` is transient. The codes come from CI's error-code page (the
/// one the sync API doc links for `Code`; vendor-doc_tencent_cos_error_codes.md, "Data
/// processing errors"): only the frequency-control codes say that trying again later helps:
/// -164 "The request frequency is too high", -29214 "Frequency control is triggered" (image
/// download errors), -60949 "The request frequency is too high" (image persistence errors). The
/// content moderation codes (-61011 missing file, -65007 undecodable, -65010 download failed,
/// -65011/-65012/-65013 file unsuitable, -65014 no CI role, -65015 no scene, -65016 unknown
/// BizType) and "Other: Internal error" name no transient condition: permanent.
pub fn transient_scene_code(code: &str) -> bool {
    matches!(code.trim(), "-164" | "-29214" | "-60949")
}

/// The moderation error for failed scenes: the first failed scene's vendor code, every failed
/// scene named with its Code and Msg; retryable only when every one of them is transient.
fn scene_error(failed: &[FailedScene]) -> AnalyzerError {
    let detail = failed
        .iter()
        .map(|f| format!("{} (Code {}, Msg {:?})", f.container, f.code, f.msg))
        .collect::<Vec<_>>()
        .join("; ");
    AnalyzerError {
        service: "cos-ci".into(),
        code: failed.first().map(|f| f.code.clone()),
        message: format!(
            "sensitive-content-recognition sub-check{} failed: {detail}; the moderation result is incomplete",
            if failed.len() == 1 { "" } else { "s" }
        ),
        retryable: !failed.is_empty() && failed.iter().all(|f| transient_scene_code(&f.code)),
    }
}

/// Parse the sensitive-content-recognition XML. `Result`: 0 normal, 1 sensitive, 2 suspicious.
/// A scene whose own `Code` is not 0 makes the whole answer a moderation error
/// ([`failed_scenes`]): the overall `Result` cannot speak for a scene that was not checked, so it
/// must not become a verdict (a pass least of all).
pub fn parse_recognition(xml: &str) -> Result<ModerationOutput, AnalyzerError> {
    let r: Recognition = quick_xml::de::from_str(xml)
        .map_err(|e| malformed(format!("unreadable sensitive-content-recognition XML: {e}")))?;
    let failed = failed_scenes(xml).map_err(malformed)?;
    if !failed.is_empty() {
        return Err(scene_error(&failed));
    }
    let suggestion = match r.result.trim() {
        "0" => Suggestion::Pass,
        "1" => Suggestion::Block,
        _ => Suggestion::Review,
    };
    let mut categories = Vec::new();
    // Every container here has Code empty or 0: failed ones were refused above.
    for (category, info) in [
        ("porn", &r.porn_info),
        ("ad", &r.ads_info),
        ("politics", &r.politics_info),
        ("terrorism", &r.terrorist_info),
        ("terrorism", &r.terrorism_info),
        ("teenager", &r.teenager_info),
    ] {
        let Some(i) = info else { continue };
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
        // The answer was read above; the text is extra, so a part of it that cannot be read
        // costs the text, never the verdict.
        text: ocr_text(xml),
        raw,
    })
}

/// The project's category for a scene container's OCR hits: the one [`parse_recognition`] gives
/// the container's score; for a scene it does not score (a policy can run others, e.g.
/// `AbuseInfo`, `IllegalInfo`), the container's name without `Info`, lower-case.
fn scene_category(container: &str) -> String {
    match container {
        "PornInfo" => "porn".into(),
        "AdsInfo" => "ad".into(),
        "PoliticsInfo" => "politics".into(),
        "TerroristInfo" | "TerrorismInfo" => "terrorism".into(),
        "TeenagerInfo" => "teenager".into(),
        other => other
            .strip_suffix("Info")
            .unwrap_or(other)
            .to_ascii_lowercase(),
    }
}

/// One `OcrResults` entry while it is read.
#[derive(Default)]
struct OcrEntry {
    text: String,
    keywords: Vec<String>,
    keyword: String,
    /// `X`, `Y`, `Width`, `Height` as sent.
    location: [String; 4],
}

/// Append `add` to `s` while `s` is under `max` bytes (a character at a time): an untrusted
/// answer's text can be megabytes, of which only a line's worth is kept. `max` leaves room past
/// [`KEEP_LINE_BYTES`], so a cut is still seen (and flagged) when the line is kept.
fn push_bounded(s: &mut String, add: &str, max: usize) {
    for c in add.chars() {
        if s.len() + c.len_utf8() > max {
            return;
        }
        s.push(c);
    }
}

/// The text CI read, from the sync answer (vendor-doc_tencent_ci_image_audit_sync.md): every
/// scene container (`PornInfo`, `AdsInfo`, … any direct `…Info` child of the root) may carry
/// `OcrResults[]{Text, Keywords[], Location{X,Y,Width,Height,Rotate}}`, "returned if there is
/// non-compliant content"; the root's `Text` is all the text OCR read, "returned if text content
/// detection is enabled in the moderation policy". A line per distinct OCR result text
/// (positioned; the same text under two scenes is one line), then the root `Text` unless a
/// result already carries it; a vendor hit per keyword under the scene's category
/// ([`scene_category`]), scored with the scene's `Score`.
///
/// `None` when the answer has neither a root `Text` nor any `OcrResults`: then the policy may
/// not detect text at all, which is not "no text". A root `Text`, even empty, says OCR ran.
/// Read with the event reader rather than serde: `OcrResults` and `Keywords` repeat (possibly
/// interleaved with other elements) and can number thousands; they are taken up to the bounds
/// while reading. `None` too for XML the reader refuses (the moderation itself was read from it
/// already).
pub fn ocr_text(xml: &str) -> Option<TextOutput> {
    use quick_xml::events::Event;
    const KEEP: usize = KEEP_LINE_BYTES + 4;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut b = TextBuilder::new("cos-ci");
    let mut ran = false;
    let mut whole = String::new();
    let mut entry: Option<OcrEntry> = None;
    // The current scene's `Score`, and where its hits start (they are scored at its end, since
    // `Score` may come after `OcrResults`).
    let mut scene_score = String::new();
    let mut scene_hits = 0;
    let in_scene = |p: &[String]| p.len() >= 2 && p[1].ends_with("Info");
    let in_entry = |p: &[String]| in_scene(p) && p.len() >= 3 && p[2] == "OcrResults";
    loop {
        let event = reader.read_event().ok()?;
        if let Some(text) = event_text(&event).ok()? {
            match path.len() {
                2 if path[1] == "Text" => push_bounded(&mut whole, &text, KEEP),
                3 if in_scene(&path) && path[2] == "Score" => {
                    push_bounded(&mut scene_score, &text, 32)
                }
                4 if in_entry(&path) => {
                    if let Some(e) = entry.as_mut() {
                        match path[3].as_str() {
                            "Text" => push_bounded(&mut e.text, &text, KEEP),
                            "Keywords" => push_bounded(&mut e.keyword, &text, KEEP),
                            _ => {}
                        }
                    }
                }
                5 if in_entry(&path) && path[3] == "Location" => {
                    let i = ["X", "Y", "Width", "Height"]
                        .iter()
                        .position(|n| *n == path[4]);
                    if let (Some(e), Some(i)) = (entry.as_mut(), i) {
                        push_bounded(&mut e.location[i], &text, 32);
                    }
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                match path.len() {
                    2 if path[1] == "Text" => ran = true,
                    2 if in_scene(&path) => {
                        scene_score.clear();
                        scene_hits = b.out.hits.len();
                    }
                    // A repeated `Score`: the last one counts.
                    3 if in_scene(&path) && path[2] == "Score" => scene_score.clear(),
                    3 if in_entry(&path) => {
                        ran = true;
                        entry = Some(OcrEntry::default());
                    }
                    _ => {}
                }
            }
            // `<Text/>` at the root, `<OcrResults/>` in a scene: OCR ran, read nothing.
            Event::Empty(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                ran |= (path.len() == 1 && name == b"Text")
                    || (path.len() == 2 && in_scene(&path) && name == b"OcrResults");
            }
            Event::End(_) => {
                if in_entry(&path) {
                    match path.len() {
                        4 if path[3] == "Keywords" => {
                            if let Some(e) = entry.as_mut() {
                                let k = std::mem::take(&mut e.keyword);
                                // One more than can be kept as hits, so the cut is
                                // still flagged; the rest are only dropped.
                                if e.keywords.len() <= MAX_HITS {
                                    e.keywords.push(k);
                                }
                            }
                        }
                        3 => {
                            if let Some(e) = entry.take() {
                                let n = |s: &str| s.trim().parse::<f64>().ok();
                                let [x, y, w, h] = &e.location;
                                b.line(&e.text, None, bbox(n(x), n(y), n(w), n(h)));
                                let category = scene_category(&path[1]);
                                for k in &e.keywords {
                                    b.hit(&category, k, &e.text, None);
                                }
                            }
                        }
                        _ => {}
                    }
                } else if path.len() == 2 && in_scene(&path) {
                    let score = scene_score
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|s| s.is_finite())
                        .map(|s| s.clamp(0.0, 100.0));
                    for h in b.out.hits.iter_mut().skip(scene_hits) {
                        h.score = h.score.or(score);
                    }
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    b.line(&whole, None, None);
    ran.then(|| b.finish())
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

    /// The doc's sync answer with a second scene: `PornInfo` ran (Code 0), `AdsInfo` did not.
    fn with_ads_code(code: &str, msg: &str) -> String {
        format!("<RecognitionResult><JobId>x</JobId><Result>0</Result><Label>Normal</Label><SubLabel></SubLabel><Score>0</Score><PornInfo><Code>0</Code><Msg>OK</Msg><HitFlag>0</HitFlag><Label></Label><SubLabel></SubLabel><Score>3</Score></PornInfo><AdsInfo><Code>{code}</Code><Msg>{msg}</Msg><HitFlag>0</HitFlag><Label></Label><SubLabel></SubLabel><Score>0</Score></AdsInfo></RecognitionResult>")
    }

    #[test]
    fn a_failed_scene_is_a_moderation_error_not_a_pass() {
        let e =
            parse_recognition(&with_ads_code("-65007", "decode failed &amp; gave up")).unwrap_err();
        assert_eq!(e.service, "cos-ci");
        assert_eq!(e.code.as_deref(), Some("-65007"));
        assert!(!e.retryable, "-65007 (undecodable) is permanent");
        assert!(e.message.contains("AdsInfo"), "{e}");
        assert!(e.message.contains("Code -65007"), "{e}");
        assert!(e.message.contains("decode failed & gave up"), "{e}");
        assert!(
            !e.message.contains("PornInfo"),
            "the scene that ran is not named: {e}"
        );

        // Throttled scenes are worth another try; a mix with a permanent failure is not.
        let e = parse_recognition(&with_ads_code("-29214", "frequency control")).unwrap_err();
        assert!(e.retryable, "{e}");
        let two = with_ads_code("-164", "slow down").replace(
            "</RecognitionResult>",
            "<TerroristInfo><Code>-65016</Code><Msg>BizType does not exist</Msg></TerroristInfo></RecognitionResult>",
        );
        let e = parse_recognition(&two).unwrap_err();
        assert_eq!(
            e.code.as_deref(),
            Some("-164"),
            "the first failed scene's code"
        );
        assert!(!e.retryable);
        assert!(
            e.message.contains("sub-checks failed: AdsInfo (Code -164")
                && e.message
                    .contains("TerroristInfo (Code -65016, Msg \"BizType does not exist\")"),
            "{e}"
        );

        // Scenes this module has no category for are checked as well.
        let other = with_ads_code("0", "OK").replace(
            "</RecognitionResult>",
            "<AbuseInfo><Code>-1</Code><Msg>internal</Msg></AbuseInfo></RecognitionResult>",
        );
        let e = parse_recognition(&other).unwrap_err();
        assert!(e.message.contains("AbuseInfo (Code -1"), "{e}");
        assert!(
            !e.retryable,
            "an unlisted code is an internal error: permanent"
        );
    }

    #[test]
    fn scenes_that_all_ran_give_the_result_as_before() {
        let m = parse_recognition(&with_ads_code("0", "OK")).unwrap();
        assert_eq!(m.suggestion, Suggestion::Pass);
        assert_eq!(m.label, "Normal");
        let cats: Vec<(&str, f32)> = m
            .categories
            .iter()
            .map(|c| (c.category.as_str(), c.score))
            .collect();
        assert_eq!(cats, vec![("porn", 3.0), ("ad", 0.0)]);
        // No Code at all (nothing says the scene failed), and nested Codes are not scene Codes.
        let m = parse_recognition("<RecognitionResult><Result>0</Result><PornInfo><HitFlag>0</HitFlag><OcrResults><Code>7</Code></OcrResults></PornInfo></RecognitionResult>").unwrap();
        assert_eq!(m.suggestion, Suggestion::Pass);
        assert!(
            failed_scenes("<RecognitionResult><Code>5</Code></RecognitionResult>")
                .unwrap()
                .is_empty()
        );
        // Unreadable XML is still MalformedXML.
        let e = parse_recognition("<RecognitionResult><PornInfo>").unwrap_err();
        assert_eq!(e.code.as_deref(), Some("MalformedXML"), "{e}");
    }

    /// The sync answer's documented OCR shape (vendor-doc_tencent_ci_image_audit_sync.md): the
    /// root `Text`, and `OcrResults{Text, Keywords[], Location}` in two scenes for one line.
    const OCR_ANSWER: &str = "<RecognitionResult><JobId>j</JobId><State>Success</State><Object>a.png</Object>\
        <CompressionResult>0</CompressionResult><Result>1</Result><Label>Ads</Label><Category></Category>\
        <SubLabel></SubLabel><Score>95</Score><Text>加微信 abc123 欢迎光临</Text>\
        <PornInfo><Code>0</Code><Msg>OK</Msg><HitFlag>0</HitFlag><Score>10</Score><Label></Label><SubLabel></SubLabel></PornInfo>\
        <AdsInfo><Code>0</Code><Msg>OK</Msg><HitFlag>1</HitFlag><Label>Ads</Label><SubLabel></SubLabel>\
        <OcrResults><Text>加微信 abc123</Text><Keywords>加微信</Keywords><Keywords>abc123</Keywords>\
        <Location><X>12.4</X><Y>30</Y><Width>200.2</Width><Height>40</Height><Rotate>0</Rotate></Location></OcrResults>\
        <Score>95</Score></AdsInfo>\
        <PoliticsInfo><Code>0</Code><Msg>OK</Msg><HitFlag>2</HitFlag><Score>70</Score>\
        <OcrResults><Text>加微信 abc123</Text><Keywords>abc123</Keywords>\
        <Location><X>12.4</X><Y>30</Y><Width>200.2</Width><Height>40</Height><Rotate>0</Rotate></Location></OcrResults>\
        </PoliticsInfo></RecognitionResult>";

    #[test]
    fn ocr_results_of_every_scene_become_one_set_of_lines_and_hits() {
        let m = parse_recognition(OCR_ANSWER).unwrap();
        assert_eq!(m.suggestion, Suggestion::Block);
        let t = m.text.expect("OCR ran");
        assert_eq!(t.reader, "cos-ci");
        assert!(!t.truncated);
        let lines: Vec<_> = t
            .lines
            .iter()
            .map(|l| (l.text.as_str(), l.bbox, l.confidence))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("加微信 abc123", Some([12, 30, 200, 40]), None),
                ("加微信 abc123 欢迎光临", None, None),
            ],
            "the line both scenes read is one line"
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
                ("ad", "abc123", "加微信 abc123", Some(95.0)),
                ("politics", "abc123", "加微信 abc123", Some(70.0)),
            ],
            "each scene's category and Score, wherever Score sits"
        );
        assert!(t
            .hits
            .iter()
            .all(|h| h.source == crate::text::HitSource::Vendor));
    }

    #[test]
    fn the_text_section_is_there_only_when_the_answer_shows_ocr() {
        // The doc's example answer: no root Text, no OcrResults: the policy may not read text.
        let doc = "<RecognitionResult><JobId>x</JobId><CompressionResult>0</CompressionResult><Result>1</Result><Label>Porn</Label><SubLabel>SexBehavior</SubLabel><Score>95</Score><PornInfo><Code>0</Code><Msg>OK</Msg><HitFlag>1</HitFlag><Label>xxx</Label><SubLabel>SexBehavior</SubLabel><Score>95</Score></PornInfo></RecognitionResult>";
        assert_eq!(parse_recognition(doc).unwrap().text, None);
        // The doc's response-body template: empty OcrResults elements, so OCR ran, read nothing.
        let template = "<RecognitionResult><JobId>xxxxxxxxxxxxxxx</JobId><Result>1</Result><Label>Porn</Label><SubLabel>SexBehavior</SubLabel><Score>90</Score><PornInfo><Code>0</Code><Msg>OK</Msg><HitFlag>1</HitFlag><Label>xxx</Label><SubLabel>SexBehavior</SubLabel><Score>100</Score><OcrResults><Text></Text><Keywords></Keywords><Location><X></X><Y></Y><Width></Width><Height></Height><Rotate></Rotate></Location></OcrResults></PornInfo></RecognitionResult>";
        let t = parse_recognition(template).unwrap().text.expect("OCR ran");
        assert!(t.lines.is_empty() && t.hits.is_empty(), "{t:?}");
        // An empty root Text: OCR on in the policy, nothing read.
        for xml in [
            "<RecognitionResult><Result>0</Result><Text></Text></RecognitionResult>",
            "<RecognitionResult><Result>0</Result><Text/></RecognitionResult>",
            "<RecognitionResult><Result>0</Result><AdsInfo><OcrResults/></AdsInfo></RecognitionResult>",
        ] {
            let t = parse_recognition(xml).unwrap().text.expect(xml);
            assert!(t.lines.is_empty(), "{xml}");
        }
        // Root text only (no non-compliant content): a line, no hits; entities resolved.
        let t = ocr_text("<RecognitionResult><Text> A &amp; B &#x52A0; <![CDATA[<c>]]></Text></RecognitionResult>").unwrap();
        assert_eq!(t.lines[0].text, "A & B 加 <c>");
        assert!(t.hits.is_empty());
    }

    #[test]
    fn hostile_ocr_xml_neither_panics_nor_grows() {
        // Wrong types, odd nesting, interleaved repeats (which serde would refuse), a scene
        // this module does not score, and Location values that are not numbers.
        let odd = "<RecognitionResult><Result>2</Result>\
            <AdsInfo><OcrResults><Text>one</Text><Keywords><b>x</b></Keywords><Keywords>  </Keywords>\
            <Location><X>abc</X><Y>1</Y><Width>5</Width><Height>5</Height></Location></OcrResults>\
            <Score>250</Score><OcrResults><Text>two</Text><Keywords>k</Keywords>\
            <Location><X>-3</X><Y>1e300</Y><Width>NaN</Width><Height>4</Height></Location></OcrResults>\
            </AdsInfo>\
            <AbuseInfo><OcrResults><Keywords>骂</Keywords><Text>three</Text>\
            <Location><X>-3</X><Y>1e30</Y><Width>9</Width><Height>4</Height></Location></OcrResults></AbuseInfo>\
            <OcrResults><Text>not in a scene</Text></OcrResults></RecognitionResult>";
        let t = parse_recognition(odd).unwrap().text.unwrap();
        let lines: Vec<_> = t.lines.iter().map(|l| (l.text.as_str(), l.bbox)).collect();
        assert_eq!(
            lines,
            vec![
                ("one", None),
                ("two", None),
                ("three", Some([0, u32::MAX, 9, 4]))
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
                ("ad", "k", "two", Some(100.0)),
                ("abuse", "骂", "three", None)
            ],
            "the scene's Score wherever it sits, clamped; a scene without Score has none"
        );
        // 10,000 results with long text and many keywords each: bounded while read, then cut
        // to the result's bounds by the pipeline's bound().
        let long = "广".repeat(2000);
        let mut xml = String::from("<RecognitionResult><Result>1</Result><Text>");
        xml.push_str(&long);
        xml.push_str("</Text><AdsInfo><Score>90</Score>");
        for i in 0..10_000 {
            let text = if i < 3 {
                format!("{i} {long}")
            } else {
                format!("line {i}")
            };
            xml.push_str(&format!("<OcrResults><Text>{text}</Text>"));
            for k in 0..25 {
                xml.push_str(&format!("<Keywords>k{i}-{k}</Keywords>"));
            }
            xml.push_str("</OcrResults>");
        }
        xml.push_str("</AdsInfo></RecognitionResult>");
        let mut t = parse_recognition(&xml).unwrap().text.unwrap();
        assert!(t.truncated);
        assert_eq!(t.lines.len(), crate::text::vendor::KEEP_LINES);
        assert_eq!(t.hits.len(), MAX_HITS);
        assert!(t.lines.iter().all(|l| l.text.len() <= KEEP_LINE_BYTES));
        assert!(t.hits.iter().all(|h| h.score == Some(90.0)));
        t.bound();
        assert_eq!(t.lines.len(), crate::text::MAX_LINES);
        assert!(t
            .lines
            .iter()
            .all(|l| l.text.len() <= crate::text::MAX_LINE_BYTES));
        // Markup the reader refuses costs the text only (here: a mismatched end tag).
        assert_eq!(
            ocr_text("<RecognitionResult><Text>a</Txt></RecognitionResult>"),
            None
        );
    }
}
