//! Checks of the test emulators themselves, so that "the emulator accepted it" means something:
//!
//! - `tencent`, `huawei`: the emulators' signature verifiers (`tests/vendor_sign/`, written from
//!   the vendors' documentation, importing nothing from this crate) accept the vendors'
//!   published examples and requests signed by the vendors' own SDKs, and refuse them once
//!   anything is changed or stale. The SDK vectors were generated offline (never at test time)
//!   with the SDKs from PyPI, clock frozen and the request captured before it left; each names
//!   the SDK version and the call that produced it.
//! - `legacy_vectors`: the legacy image service's signature (`vendor_sign::legacy`) reproduces
//!   every vector `qcloud-image` 1.0.0 made, accepts them at their time and refuses them once
//!   tampered with, re-keyed or stale.
//! - `huawei_image_models`: the Huawei emulator's media tagging, celebrity recognition and
//!   main-object detection accept exactly the request fields of `huaweicloudsdkimage` 3.1.219's
//!   models and answer only with fields (and JSON types) of its response models
//!   (`tests/vendor_vectors/huawei_image_models.py` → `.json`, generated offline).
//! - `ocr_shapes`: the text both emulators read in an image (a `TEXT:` marker in its bytes) is
//!   answered with only the documented OCR fields and types of IMS, CI and Moderation v3.
//! - `recording`: both emulators log a call when it arrives, before any injected delay or
//!   fault, so retry and timeout tests can assert exact counts.

mod huawei_image_models;
mod huawei_vectors;
mod legacy_vectors;
mod ocr_shapes;
mod recording;
mod tencent_vectors;

#[path = "../tencent/emulator.rs"]
#[allow(unused_imports)]
mod emulator;
#[path = "../huawei/mod.rs"]
mod huawei;
#[path = "../vendor_sign/mod.rs"]
// Also loaded by the other emulator when a test binary uses both.
#[allow(clippy::duplicate_mod)]
mod vendor_sign;

/// `(lower-case name, value)` pairs, as the verifiers take headers.
pub fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect()
}

/// Split a URL into (host, raw path, raw query) without normalising anything.
pub fn split_url(url: &str) -> (&str, &str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    (host, path, query)
}
