//! Tencent Cloud analyzers: COS CI detect-label, IMS ImageModeration, COS CI
//! sensitive-content-recognition and TIIA DetectLabel.

pub mod tc3;
