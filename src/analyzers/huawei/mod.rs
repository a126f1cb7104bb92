//! Huawei Cloud analyzers: Image Tagging v2 and media tagging (`huawei-media`), the optional
//! celebrity recognition and main-object detection beside them (extras.rs), and Content
//! Moderation v3, signed with the API
//! Gateway `SDK-HMAC-SHA256` scheme. By default the services pull the object from a
//! short-lived OBS signed URL, so nothing beyond the preflight header is read from the bucket.

pub mod builder;
pub mod extras;
pub mod fallback;
pub mod moderation;
pub mod tagging;

use std::sync::Arc;

use super::{AnalyzerError, Labeler, Moderator};
use crate::cloud::huawei::api::ApiError;
use crate::config::Config;

impl From<ApiError> for AnalyzerError {
    fn from(e: ApiError) -> Self {
        AnalyzerError {
            service: e.service,
            code: e.code,
            message: e.message,
            retryable: e.retryable,
        }
    }
}

pub fn labeler(config: &Config) -> Result<Arc<dyn Labeler>, AnalyzerError> {
    Ok(Arc::new(tagging::HuaweiTagging::new(config)?))
}

/// Media tagging (`TRIAGE_LABELER=huawei-media`).
pub fn media_labeler(config: &Config) -> Result<Arc<dyn Labeler>, AnalyzerError> {
    Ok(Arc::new(tagging::HuaweiTagging::variant(
        config,
        builder::MEDIA_TAGGING,
    )?))
}

pub fn moderator(config: &Config) -> Result<Arc<dyn Moderator>, AnalyzerError> {
    Ok(Arc::new(moderation::HuaweiModeration::new(config)?))
}
