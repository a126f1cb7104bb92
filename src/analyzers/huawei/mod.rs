//! Huawei Cloud analyzers: Image Tagging v2 and Content Moderation v3, signed with the API
//! Gateway `SDK-HMAC-SHA256` scheme. By default the services pull the object from a
//! short-lived OBS signed URL, so nothing beyond the preflight header is read from the bucket.

pub mod builder;
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

pub fn moderator(config: &Config) -> Result<Arc<dyn Moderator>, AnalyzerError> {
    Ok(Arc::new(moderation::HuaweiModeration::new(config)?))
}
