//! Tencent Cloud analyzers: COS CI detect-label (labels, default for COS), IMS ImageModeration
//! (moderation, default for COS), and the alternatives COS CI sensitive-content-recognition
//! (`TRIAGE_MODERATOR=cos-ci`) and TIIA DetectLabel (`TRIAGE_LABELER=tiia`).

pub mod api;
pub mod ci;
pub mod errors;
pub mod ims;
pub mod settings;
pub mod tc3;
pub mod tiia;
