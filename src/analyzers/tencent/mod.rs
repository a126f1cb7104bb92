//! Tencent Cloud analyzers: COS CI detect-label (labels, default for COS), IMS ImageModeration
//! (moderation, default for COS), and the alternatives COS CI sensitive-content-recognition
//! (`TRIAGE_MODERATOR=cos-ci`), TIIA DetectLabel (`TRIAGE_LABELER=tiia`) and the legacy image
//! tagging API (`TRIAGE_LABELER=tencent-legacy`). Signing, the API
//! 3.0 client and the error table are Tencent's shared code in [`crate::cloud::tencent`].

pub mod builder;
pub mod ci;
pub mod ims;
pub mod legacy;
pub mod tiia;

use crate::analyzers::AnalyzerError;
use crate::cloud::tencent::api::ApiError;

/// An API 3.0 failure as the analyzer `service` reports it (the vendor code kept verbatim).
fn api_error(service: &str, e: ApiError) -> AnalyzerError {
    AnalyzerError {
        service: service.into(),
        code: Some(e.code),
        message: e.message,
        retryable: e.retryable,
    }
}
