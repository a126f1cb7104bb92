//! The legacy Tencent image service's "multi-effective" signature (多次有效签名), used by
//! `service.image.myqcloud.com` (e.g. `POST /v1/detection/imagetag_detect`), as the official SDK
//! `qcloud-image` 1.0.0 (PyPI) makes it in `qcloud_image/auth.py`, `Auth.get_sign`:
//!
//! 1. `orig = a=<appid>&b=<bucket>&k=<SecretId>&e=<now+howlong>&t=<now>&r=<random>&f=`
//!    (values raw, nothing percent-encoded; `r` from `random.randint(0, 999999999)`; `f` is empty
//!    for a multi-effective signature, a file id for a single-use one).
//! 2. `Authorization = Base64( HMAC-SHA1(SecretKey, orig) as 20 raw bytes ‖ orig )`.
//!
//! There is no session token in this scheme. Error codes are the service's own (seed 002):
//! 4 签名为空, 5 签名串错误, 9 签名过期, 11 secretid 不存在, 14 签名失败.
//! Pinned to the SDK's output in `tests/vendor_vectors/legacy_image_sign.json`.

use base64::Engine as _;
use hmac::{Hmac, Mac};

/// Length of the raw HMAC-SHA1 prefix.
const MAC_LEN: usize = 20;
/// How far `t` may lie in the future (clock skew between signer and service).
pub const MAX_SKEW: i64 = 300;

/// The fields of a signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// `a`: the appid.
    pub appid: String,
    /// `b`: the bucket (may be empty).
    pub bucket: String,
    /// `k`: the SecretId.
    pub secret_id: String,
    /// `e`: expiry, Unix seconds.
    pub expires: i64,
    /// `t`: when it was made, Unix seconds.
    pub issued: i64,
    /// `r`: the random number, as sent.
    pub random: String,
}

/// The signed text, exactly as `Auth.get_sign` builds it.
pub fn orig(
    appid: &str,
    bucket: &str,
    secret_id: &str,
    expires: i64,
    now: i64,
    random: u64,
) -> String {
    format!("a={appid}&b={bucket}&k={secret_id}&e={expires}&t={now}&r={random}&f=")
}

fn mac(secret_key: &str) -> Hmac<sha1::Sha1> {
    Hmac::<sha1::Sha1>::new_from_slice(secret_key.as_bytes()).expect("any key length")
}

/// The `Authorization` value the SDK sends (`expires` is absolute: `now + howlong`).
pub fn sign(
    appid: &str,
    bucket: &str,
    secret_id: &str,
    secret_key: &str,
    now: i64,
    expires: i64,
    random: u64,
) -> String {
    let text = orig(appid, bucket, secret_id, expires, now, random);
    let mut m = mac(secret_key);
    m.update(text.as_bytes());
    let mut raw = m.finalize().into_bytes().to_vec();
    raw.extend_from_slice(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn malformed(why: impl Into<String>) -> (i64, String) {
    (5, format!("签名串错误: {}", why.into()))
}

/// `orig` split into its seven fields. Stricter than strictly needed: the SDK always sends all
/// seven keys (`a b k e t r f`), each once, nothing else, so anything else is malformed here.
fn parse(text: &str) -> Result<Parsed, (i64, String)> {
    let mut fields: [Option<&str>; 7] = [None; 7];
    const KEYS: [&str; 7] = ["a", "b", "k", "e", "t", "r", "f"];
    for part in text.split('&') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| malformed(format!("{part:?} has no '='")))?;
        let i = KEYS
            .iter()
            .position(|x| *x == k)
            .ok_or_else(|| malformed(format!("unknown field {k:?}")))?;
        if fields[i].replace(v).is_some() {
            return Err(malformed(format!("field {k:?} twice")));
        }
    }
    let [Some(a), Some(b), Some(k), Some(e), Some(t), Some(r), Some(f)] = fields else {
        return Err(malformed("a, b, k, e, t, r and f are all required"));
    };
    let number = |name: &str, v: &str| -> Result<i64, (i64, String)> {
        if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
            return Err(malformed(format!("{name}={v:?} is not a whole number")));
        }
        v.parse()
            .map_err(|_| malformed(format!("{name}={v:?} out of range")))
    };
    let (expires, issued) = (number("e", e)?, number("t", t)?);
    number("r", r)?;
    if a.is_empty() || k.is_empty() {
        return Err(malformed("empty appid or SecretId"));
    }
    // e=0 with a file id is the single-use form (单次有效签名), not accepted by this API.
    if !f.is_empty() || expires == 0 {
        return Err(malformed(
            "single-use signature (f=<fileid>, e=0); expected multi-effective",
        ));
    }
    if expires <= issued {
        return Err(malformed(format!("e={expires} is not after t={issued}")));
    }
    Ok(Parsed {
        appid: a.into(),
        bucket: b.into(),
        secret_id: k.into(),
        expires,
        issued,
        random: r.into(),
    })
}

/// Verify an `Authorization` value at `now` for the one known key pair.
///
/// Order: empty (4); not Base64, too short for the 20-byte HMAC, orig not UTF-8 or not the SDK's
/// `a=…&f=` form (5); `k` not the known SecretId (11); HMAC differs (14, compared in constant
/// time); `e < now` (9); `t` more than [`MAX_SKEW`] in the future (14). The HMAC is checked before
/// the expiry so that 9 only ever answers a genuine signature.
pub fn verify(
    authorization: &str,
    secret_id_expected: &str,
    secret_key: &str,
    now: i64,
) -> Result<Parsed, (i64, String)> {
    let authorization = authorization.trim();
    if authorization.is_empty() {
        return Err((4, "签名为空: no authorization header".into()));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(authorization)
        .map_err(|e| malformed(format!("not Base64: {e}")))?;
    if raw.len() <= MAC_LEN {
        return Err(malformed(format!("{} bytes, no room for orig", raw.len())));
    }
    let (tag, text) = raw.split_at(MAC_LEN);
    let text = std::str::from_utf8(text).map_err(|_| malformed("orig is not UTF-8"))?;
    let p = parse(text)?;
    if p.secret_id != secret_id_expected {
        return Err((11, format!("secretid 不存在: {:?}", p.secret_id)));
    }
    let mut m = mac(secret_key);
    m.update(text.as_bytes());
    if m.verify_slice(tag).is_err() {
        return Err((14, "签名失败: HMAC-SHA1 does not match".into()));
    }
    if p.expires < now {
        return Err((9, format!("签名过期: e={} < now={now}", p.expires)));
    }
    // A `t` from the future is authentic and well-formed, so neither 5 (签名串错误, a malformed
    // string) nor 9 (签名过期) fits; the service just will not authenticate it yet: 14 (签名失败),
    // the generic refusal. Allowing it would let a skewed signer mint signatures that outlive
    // the lifetime it meant.
    if p.issued > now + MAX_SKEW {
        return Err((
            14,
            format!(
                "签名失败: t={} is more than {MAX_SKEW}s after now={now}",
                p.issued
            ),
        ));
    }
    Ok(p)
}
