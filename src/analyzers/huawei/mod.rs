//! Huawei Cloud analyzers: Image Tagging v2 and Content Moderation v3, signed with the API
//! Gateway `SDK-HMAC-SHA256` scheme.

pub mod apig;
