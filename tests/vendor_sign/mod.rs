//! Signature verifiers for the test emulators, written from the vendors' documentation and
//! checked against the vendors' published examples and vectors generated with their SDKs
//! (`tests/vendor_vectors/`), never against this crate's signers: nothing here imports
//! `image_triage`, so a bug in `src/cloud/**` or `src/store/obs/credential.rs` cannot make the
//! emulators agree with it. Only `hmac`, `sha1`, `sha2`, `base64`, `hex` (and `chrono` for
//! dates) are used.
//!
//! - [`cos`]: COS `q-sign-algorithm=sha1`, `Authorization` header and presigned query form
//!   (intl.cloud.tencent.com/document/api/436/7778).
//! - [`tc3`]: Tencent Cloud API 3.0 `TC3-HMAC-SHA256` (cloud.tencent.com/document/api/362/4208).
//! - [`obs`]: OBS V2 `Authorization: OBS ak:sig` and the signed-URL query form
//!   (support.huaweicloud.com/api-obs obs_04_0010 and obs_04_0011).
//! - [`apig`]: Huawei API Gateway `SDK-HMAC-SHA256` with `X-Security-Token` and the gateway's
//!   15-minute `X-Sdk-Date` window (support.huaweicloud.com/devg-apisign).
//! - [`legacy`]: the legacy image service's (`service.image.myqcloud.com`) multi-effective
//!   signature, as the official SDK `qcloud-image` 1.0.0 makes it (`qcloud_image/auth.py`).
//!
//! Headers are passed as `(lower-case name, value as sent)` pairs so the verifiers do not
//! depend on an HTTP crate either.
#![allow(dead_code)]

pub mod apig;
pub mod cos;
pub mod legacy;
pub mod obs;
pub mod tc3;

use hmac::{Hmac, Mac};

/// Percent-encode every byte of `s` except `A-Z a-z 0-9` and the bytes in `keep`
/// (upper-case hex, UTF-8).
pub fn pct_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The RFC 3986 unreserved marks (besides letters and digits).
pub const UNRESERVED: &[u8] = b"-_.~";

/// Undo `%XX` escapes (invalid escapes stay as they are); the result is read as UTF-8 lossily.
pub fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A raw query string as a server reads it: `&`-separated, `+` is a space, `%XX` decoded; a
/// parameter without `=` has no value.
pub fn parse_query(raw: &str) -> Vec<(String, Option<String>)> {
    let dec = |s: &str| pct_decode(&s.replace('+', " "));
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (dec(k), Some(dec(v))),
            None => (dec(p), None),
        })
        .collect()
}

/// The value of a header (`name` in lower case).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub fn hmac_sha1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).expect("any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(data))
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Byte-wise equality that does not stop at the first difference.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
