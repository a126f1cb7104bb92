//! Analyzers: labeling and moderation behind two small traits, each returning a normalized
//! result (confidence and scores on a 0–100 scale) plus the raw vendor payload for the sidecar.
//!
//! Adding a vendor: a module here and one line in [`build_labeler`] / [`build_moderator`].

pub mod huawei;
pub mod inline;
#[cfg(feature = "local")]
pub mod lists;
#[cfg(feature = "local")]
pub mod local;
pub mod sampling;
pub mod tencent;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError, LabelerKind, ModeratorKind};
use crate::object::ObjectRef;
use crate::preflight::{ImageFacts, Limits};

/// The local models' files in `TRIAGE_MODEL_DIR` (named here, outside the `local` feature, because
/// their identity is part of the config hash in every build).
pub const LABELS_MODEL_FILE: &str = "efficientnet_lite0.onnx";
pub const NSFW_MODEL_FILE: &str = "open_nsfw.onnx";
/// ONNX Runtime's library, from the `onnxruntime` PyPI wheel (scripts/fetch-models.sh).
pub const ORT_RUNTIME_FILE: &str = "libonnxruntime.so";
/// PaddleOCR PP-OCRv6 small text detector and recognizer (from the `rapidocr` wheel).
pub const OCR_DET_FILE: &str = "PP-OCRv6_det_small.onnx";
pub const OCR_REC_FILE: &str = "PP-OCRv6_rec_small.onnx";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub name: String,
    /// 0–100.
    pub confidence: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelOutput {
    pub labels: Vec<Label>,
    /// The service's own response, kept for the sidecar.
    pub raw: serde_json::Value,
    /// The service refused the image because it already knows it as bad (the legacy tagging
    /// API's `-5062`): a moderation signal, which makes the verdict at least `review`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged: Option<String>,
    /// Moderation categories a labeling analysis found (celebrity recognition →
    /// `TRIAGE_HUAWEI_CELEBRITY_CATEGORY`), judged by the same thresholds as the moderator's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<CategoryScore>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suggestion {
    Pass,
    Review,
    Block,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    /// Lower-case category, e.g. `porn`, `terrorism`, `politics`, `ad`.
    pub category: String,
    /// 0–100.
    pub score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModerationOutput {
    pub suggestion: Suggestion,
    /// The service's main label (`Normal`, `Porn`, ...).
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_label: Option<String>,
    /// 0–100, the score behind `label`.
    pub score: f32,
    pub categories: Vec<CategoryScore>,
    pub raw: serde_json::Value,
    /// Text the moderation read in the image (the local OCR, or the vendor's OCR results).
    /// Not serialized here: the pipeline moves it to the result's own `text` section.
    #[serde(skip)]
    pub text: Option<crate::text::TextOutput>,
}

/// What an analyzer gets: the object, what preflight learned, the bytes when the analyzer said
/// it needs them (services that pull the object by URL get none), and a short-lived presigned
/// GET URL when it said it needs one (`None` if the store could not presign), and the store the
/// pipeline read the object through (an exception path that needs the bytes after all reads
/// through it, so wrappers, fakes and rate limits see the read).
#[derive(Clone)]
pub struct AnalyzerInput {
    pub object: ObjectRef,
    pub facts: ImageFacts,
    pub bytes: Option<Bytes>,
    pub url: Option<String>,
    pub store: Option<Arc<dyn crate::store::ObjectStore>>,
    /// Work the analyzers of this object share (the local models' one decode).
    pub shared: Shared,
}

/// A slot for work done once per object and used by several analyzers, whichever asks first.
#[derive(Clone, Default)]
pub struct Shared(Arc<tokio::sync::OnceCell<Arc<dyn std::any::Any + Send + Sync>>>);

impl Shared {
    /// The value the first caller computed (`init` runs at most once per object).
    pub async fn get_or_init<T: Send + Sync + 'static, F>(&self, init: F) -> Option<Arc<T>>
    where
        F: std::future::Future<Output = T>,
    {
        let any = self
            .0
            .get_or_init(|| async { Arc::new(init.await) as Arc<dyn std::any::Any + Send + Sync> })
            .await;
        any.clone().downcast::<T>().ok()
    }
}

impl std::fmt::Debug for AnalyzerInput {
    // A presigned URL's signature is a bearer credential: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyzerInput")
            .field("object", &self.object)
            .field("facts", &self.facts)
            .field("bytes", &self.bytes.as_ref().map(|b| b.len()))
            .field("url", &self.url.as_ref().map(|_| "<presigned>"))
            .field("store", &self.store.as_ref().map(|s| s.name()))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("{service}: {message}{}", code.as_deref().map(|c| format!(" (code {c})")).unwrap_or_default())]
pub struct AnalyzerError {
    pub service: String,
    /// The vendor's own error code, kept verbatim.
    pub code: Option<String>,
    pub message: String,
    /// Whether trying again later can help (throttling, timeouts, 5xx).
    pub retryable: bool,
}

/// A bad setting reached at build time (the configuration check normally stops it earlier).
impl From<crate::config::ConfigError> for AnalyzerError {
    fn from(e: crate::config::ConfigError) -> Self {
        AnalyzerError {
            service: "config".into(),
            code: Some("InvalidConfiguration".into()),
            message: e.to_string(),
            retryable: false,
        }
    }
}

/// Codes of an analyzer that looked at the object and declined it without failing: the stage
/// is recorded as skipped with the code, and the verdict follows `TRIAGE_ON_ERROR`. Besides
/// these, the local decoder declines with a preflight limit's code
/// ([`crate::preflight::LimitViolation::CODES`]) when it finds a size the first 64 KiB did not
/// show.
pub const DECLINE_CODES: [&str; 2] = ["decode_budget", "unreadable_format"];

fn is_decline_code(code: &str) -> bool {
    DECLINE_CODES.contains(&code) || crate::preflight::LimitViolation::CODES.contains(&code)
}

impl AnalyzerError {
    /// The object cannot be analysed by this analyzer within its means (see [`DECLINE_CODES`]).
    pub fn declined(service: &str, code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(is_decline_code(code));
        AnalyzerError {
            service: service.into(),
            code: Some(code.into()),
            message: message.into(),
            retryable: false,
        }
    }

    pub fn is_declined(&self) -> bool {
        self.code.as_deref().is_some_and(is_decline_code)
    }

    pub fn permanent(service: &str, message: impl Into<String>) -> Self {
        AnalyzerError {
            service: service.into(),
            code: None,
            message: message.into(),
            retryable: false,
        }
    }
}

#[async_trait]
pub trait Labeler: Send + Sync {
    fn name(&self) -> &'static str;
    fn limits(&self) -> &Limits;
    /// True for in-process models; false for services that fetch the object themselves.
    fn needs_bytes(&self) -> bool;
    /// True for services that fetch the object from a presigned URL.
    fn needs_url(&self) -> bool {
        false
    }
    async fn label(&self, input: &AnalyzerInput) -> Result<LabelOutput, AnalyzerError>;
}

#[async_trait]
pub trait Moderator: Send + Sync {
    fn name(&self) -> &'static str;
    fn limits(&self) -> &Limits;
    fn needs_bytes(&self) -> bool;
    /// True for services that fetch the object from a presigned URL.
    fn needs_url(&self) -> bool {
        false
    }
    async fn moderate(&self, input: &AnalyzerInput) -> Result<ModerationOutput, AnalyzerError>;
}

#[cfg(not(feature = "local"))]
fn not_in_this_build(service: &str, what: &str) -> AnalyzerError {
    AnalyzerError::permanent(
        service,
        format!(
            "the {service} {what} is not available in this build; choose another with TRIAGE_{}=local|none",
            what.to_ascii_uppercase()
        ),
    )
}

/// Every vendor analyzer setting variable (`TRIAGE_LABEL_*`, `TRIAGE_MODERATION_*`,
/// `TRIAGE_HUAWEI_*`, `TRIAGE_*_LIMITS`); another name of those forms is a typo.
pub const SETTINGS_VARS: &[&[&str]] = &[&tencent::builder::VARS, &huawei::builder::VARS];

/// Check the settings of the labeler `kind` without building it (no model is loaded, no
/// credential is needed): the configuration calls this for every labeler it can select.
pub fn check_labeler(kind: LabelerKind, config: &Config) -> Result<(), ConfigError> {
    huawei::extras::Settings::from_config(config)?;
    match kind {
        LabelerKind::None => Ok(()),
        // The local labeler shares the moderator's decode, frame sampling included.
        LabelerKind::Local => {
            sampling::FrameSampling::from_config(config, "local moderation").map(drop)
        }
        LabelerKind::CosCi | LabelerKind::Tiia => tencent::builder::check_labeler(config),
        LabelerKind::TencentLegacy => tencent::legacy::check(config),
        LabelerKind::Huawei | LabelerKind::HuaweiMedia => {
            use huawei::builder::{self, IMAGE_TAGGING, MEDIA_TAGGING};
            let variant = match kind {
                LabelerKind::Huawei => IMAGE_TAGGING,
                _ => MEDIA_TAGGING,
            };
            // Named explicitly, the service must exist in the region (seed 004); as the mere
            // default for OBS events it is not held against a configuration that may never
            // see one.
            if config.labeler == Some(kind) {
                builder::check_region(config, variant.name, variant.regions)?;
            }
            builder::TaggingSettings::for_variant(config, variant).map(drop)
        }
    }
}

/// Check the settings of the moderator `kind` without building it.
pub fn check_moderator(kind: ModeratorKind, config: &Config) -> Result<(), ConfigError> {
    match kind {
        ModeratorKind::None => Ok(()),
        ModeratorKind::Local => {
            sampling::FrameSampling::from_config(config, "local moderation").map(drop)
        }
        ModeratorKind::Ims | ModeratorKind::CosCi => tencent::builder::check_moderator(config),
        ModeratorKind::Huawei => huawei::builder::ModerationSettings::from_config(config).map(drop),
    }
}

/// The labeler for a configured kind; `Ok(None)` when labeling is switched off.
pub fn build_labeler(
    kind: LabelerKind,
    config: &Config,
) -> Result<Option<Arc<dyn Labeler>>, AnalyzerError> {
    // Celebrity recognition and main-object detection run beside whichever labeler is set.
    huawei::extras::wrap(config, labeler_alone(kind, config)?)
}

fn labeler_alone(
    kind: LabelerKind,
    config: &Config,
) -> Result<Option<Arc<dyn Labeler>>, AnalyzerError> {
    match kind {
        LabelerKind::None => Ok(None),
        #[cfg(feature = "local")]
        LabelerKind::Local => Ok(Some(local::labeler(config)?)),
        LabelerKind::CosCi => Ok(Some(tencent::ci::labeler(config)?)),
        LabelerKind::Tiia => Ok(Some(tencent::tiia::labeler(config)?)),
        LabelerKind::TencentLegacy => Ok(Some(tencent::legacy::labeler(config)?)),
        LabelerKind::Huawei => Ok(Some(huawei::labeler(config)?)),
        LabelerKind::HuaweiMedia => Ok(Some(huawei::media_labeler(config)?)),
        #[cfg(not(feature = "local"))]
        LabelerKind::Local => Err(not_in_this_build("local", "labeler")),
    }
}

/// The moderator for a configured kind; `Ok(None)` when moderation is switched off.
pub fn build_moderator(
    kind: ModeratorKind,
    config: &Config,
) -> Result<Option<Arc<dyn Moderator>>, AnalyzerError> {
    match kind {
        ModeratorKind::None => Ok(None),
        #[cfg(feature = "local")]
        ModeratorKind::Local => Ok(Some(local::moderator(config)?)),
        ModeratorKind::Ims => Ok(Some(tencent::ims::moderator(config)?)),
        ModeratorKind::CosCi => Ok(Some(tencent::ci::moderator(config)?)),
        ModeratorKind::Huawei => Ok(Some(huawei::moderator(config)?)),
        #[cfg(not(feature = "local"))]
        ModeratorKind::Local => Err(not_in_this_build("local", "moderator")),
    }
}
