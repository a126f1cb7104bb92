//! Huawei API Gateway AK/SK signature `SDK-HMAC-SHA256`, as the API signing guide
//! (support.huaweicloud.com/devg-apisign, "API Signing Algorithm") states it:
//!
//! 1. `CanonicalRequest = Method\nCanonicalURI\nCanonicalQueryString\nCanonicalHeaders\n
//!    SignedHeaders\nhex(SHA256(body))`.
//!    - CanonicalURI: every path segment URI-encoded (only `A-Z a-z 0-9 - _ . ~` kept), and it
//!      must end with `/` ("the URI must end with a slash when the signature is computed; the
//!      request itself need not").
//!    - CanonicalQueryString: parameters sorted by name, names and values URI-encoded,
//!      `name=value` joined by `&` (an empty value keeps its `=`).
//!    - CanonicalHeaders: `lower(name):trim(value)\n` for each signed header, in order.
//!    - With `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` the body hash is that literal.
//! 2. `StringToSign = SDK-HMAC-SHA256\n<X-Sdk-Date>\nhex(SHA256(CanonicalRequest))`.
//! 3. `Signature = hex(HMAC-SHA256(SK, StringToSign))`.
//! 4. `Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b>, Signature=<hex>`.
//!
//! "Besides its format the gateway checks the X-Sdk-Date value against the time it received
//! the request: more than 15 minutes apart and the request is refused." Temporary credentials
//! add `X-Security-Token`, signed like any other header.

use super::UNRESERVED;
use super::{header, hmac_sha256, parse_query, pct_decode, pct_encode, same, sha256_hex};

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// The gateway's window around `X-Sdk-Date`, in seconds.
pub const MAX_SKEW: i64 = 15 * 60;

fn encode(s: &str) -> String {
    pct_encode(s, UNRESERVED)
}

pub fn canonical_uri(raw_path: &str) -> String {
    let mut uri: String = raw_path
        .split('/')
        .map(|seg| encode(&pct_decode(seg)))
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

pub fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = parse_query(raw_query)
        .into_iter()
        .map(|(k, v)| (encode(&k), encode(&v.unwrap_or_default())))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn canonical_request(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    signed: &[(String, String)],
    body: &[u8],
) -> String {
    let block: String = signed
        .iter()
        .map(|(n, v)| format!("{}:{}\n", n.to_ascii_lowercase(), v.trim()))
        .collect();
    let names: Vec<String> = signed.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    let unsigned = signed
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("x-sdk-content-sha256") && v == "UNSIGNED-PAYLOAD");
    let payload = if unsigned {
        "UNSIGNED-PAYLOAD".to_string()
    } else {
        sha256_hex(body)
    };
    format!(
        "{}\n{}\n{}\n{block}\n{}\n{payload}",
        method.to_ascii_uppercase(),
        canonical_uri(raw_path),
        canonical_query(raw_query),
        names.join(";")
    )
}

pub fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

pub fn signature(secret_key: &str, string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(
        secret_key.as_bytes(),
        string_to_sign.as_bytes(),
    ))
}

/// One request as the gateway received it.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent (percent-encoded, no trailing `/` needed).
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// `(lower-case name, value)` as sent, `host` included.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// What a valid request signed, for the caller's own policy checks.
#[derive(Debug, Clone)]
pub struct Verified {
    pub signed_headers: Vec<String>,
}

/// Check a request at time `now` (Unix seconds). `token`: the `X-Security-Token` temporary
/// credentials must carry. Errors read like the gateway's `error_msg`.
pub fn verify(
    req: &Request<'_>,
    access_key: &str,
    secret_key: &str,
    token: Option<&str>,
    now: i64,
) -> Result<Verified, String> {
    let auth = header(req.headers, "authorization").ok_or("no Authorization header")?;
    let rest = auth
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or("not an SDK-HMAC-SHA256 Authorization")?;
    let (mut access, mut list, mut given) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Access", v)) => access = Some(v),
            Some(("SignedHeaders", v)) => list = Some(v),
            Some(("Signature", v)) => given = Some(v),
            _ => return Err(format!("malformed Authorization part {part:?}")),
        }
    }
    let (access, list, given) = match (access, list, given) {
        (Some(a), Some(l), Some(g)) => (a, l, g),
        _ => return Err("incomplete Authorization".into()),
    };
    if access != access_key {
        return Err("unknown access key".into());
    }
    let date = header(req.headers, "x-sdk-date").ok_or("no X-Sdk-Date")?;
    let when = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| format!("X-Sdk-Date {date:?} is not YYYYMMDDTHHMMSSZ"))?
        .and_utc()
        .timestamp();
    if (now - when).abs() > MAX_SKEW {
        return Err(format!(
            "X-Sdk-Date {date} is more than 15 minutes from the gateway's clock"
        ));
    }
    if let Some(t) = token {
        if header(req.headers, "x-security-token") != Some(t) {
            return Err("X-Security-Token missing or wrong".into());
        }
    }
    let names: Vec<String> = list.split(';').map(str::to_string).collect();
    let signed = names
        .iter()
        .map(|n| {
            header(req.headers, n)
                .map(|v| (n.clone(), v.to_string()))
                .ok_or(format!("signed header {n} not sent"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let cr = canonical_request(req.method, req.raw_path, req.raw_query, &signed, req.body);
    if !same(given, &signature(secret_key, &string_to_sign(date, &cr))) {
        return Err("verify aksk signature fail".into());
    }
    Ok(Verified {
        signed_headers: names,
    })
}
