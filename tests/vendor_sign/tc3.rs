//! Tencent Cloud API 3.0 signature `TC3-HMAC-SHA256`, as the "Signature v3" page states it:
//!
//! 1. `CanonicalRequest = Method\n/\nCanonicalQueryString\nCanonicalHeaders\nSignedHeaders\n
//!    hex(SHA256(payload))`; the query string is empty for POST and the URL's query for GET;
//!    CanonicalHeaders is `name:value\n` (lower-case name, trimmed value) for every header in
//!    SignedHeaders, which must contain at least `content-type` and `host`.
//! 2. `StringToSign = TC3-HMAC-SHA256\n<X-TC-Timestamp>\n<UTC date>/<service>/tc3_request\n
//!    hex(SHA256(CanonicalRequest))`.
//! 3. `kDate = HMAC("TC3"+SecretKey, date)`, `kService = HMAC(kDate, service)`,
//!    `kSigning = HMAC(kService, "tc3_request")`, `Signature = hex(HMAC(kSigning, StringToSign))`.
//! 4. `Authorization: TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request,
//!    SignedHeaders=<list>, Signature=<hex>`.
//!
//! The service refuses a timestamp more than 5 minutes off (`AuthFailure.SignatureExpire`).

use super::{header, hmac_sha256, same, sha256_hex};

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The UTC date `YYYY-MM-DD` of a Unix timestamp.
pub fn utc_date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub fn canonical_request(
    method: &str,
    raw_query: &str,
    signed: &[(String, String)],
    payload: &[u8],
) -> String {
    let method = method.to_ascii_uppercase();
    let query = if method == "POST" { "" } else { raw_query };
    let block: String = signed
        .iter()
        .map(|(n, v)| format!("{}:{}\n", n.to_ascii_lowercase(), v.trim()))
        .collect();
    let names: Vec<String> = signed.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    format!(
        "{method}\n/\n{query}\n{block}\n{}\n{}",
        names.join(";"),
        sha256_hex(payload)
    )
}

pub fn string_to_sign(ts: i64, service: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{ts}\n{}/{service}/tc3_request\n{}",
        utc_date(ts),
        sha256_hex(canonical_request.as_bytes())
    )
}

pub fn signature(secret_key: &str, ts: i64, service: &str, string_to_sign: &str) -> String {
    let k_date = hmac_sha256(
        format!("TC3{secret_key}").as_bytes(),
        utc_date(ts).as_bytes(),
    );
    let k_service = hmac_sha256(&k_date, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()))
}

/// One API 3.0 request as the server received it.
pub struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub raw_query: &'a str,
    /// `(lower-case name, value)` as sent.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Check a request at time `now`; returns the service (the host's first label). Errors are
/// `<API error code>: <message>`.
pub fn verify(
    req: &Request<'_>,
    secret_id: &str,
    secret_key: &str,
    now: i64,
) -> Result<String, String> {
    let auth = header(req.headers, "authorization")
        .ok_or("AuthFailure.SignatureFailure: no Authorization header")?;
    let rest = auth
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or("AuthFailure.SignatureFailure: not TC3-HMAC-SHA256")?;
    let mut credential = None;
    let mut signed_list = None;
    let mut given = None;
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_list = Some(v),
            Some(("Signature", v)) => given = Some(v),
            _ => return Err(format!("AuthFailure.SignatureFailure: bad part {part:?}")),
        }
    }
    let (credential, signed_list, given) = match (credential, signed_list, given) {
        (Some(c), Some(s), Some(g)) => (c, s, g),
        _ => return Err("AuthFailure.SignatureFailure: incomplete Authorization".into()),
    };
    let ts: i64 = header(req.headers, "x-tc-timestamp")
        .and_then(|t| t.trim().parse().ok())
        .ok_or("MissingParameter: X-TC-Timestamp")?;
    if (now - ts).abs() > 300 {
        return Err("AuthFailure.SignatureExpire: timestamp more than 5 minutes off".into());
    }
    let service = req.host.split('.').next().unwrap_or_default();
    let scope: Vec<&str> = credential.split('/').collect();
    match scope.as_slice() {
        [id, _, _, _] if *id != secret_id => {
            return Err("AuthFailure.SecretIdNotFound: unknown SecretId".into())
        }
        [_, date, svc, "tc3_request"] if *date == utc_date(ts) && *svc == service => {}
        _ => {
            return Err(format!(
                "AuthFailure.SignatureFailure: credential scope {credential:?} is not <id>/{}/{service}/tc3_request",
                utc_date(ts)
            ))
        }
    }
    // The server lists the signed headers in ascending order whatever order the client wrote.
    let mut names: Vec<&str> = signed_list.split(';').collect();
    names.sort_unstable();
    for must in ["content-type", "host"] {
        if !names.contains(&must) {
            return Err(format!(
                "AuthFailure.SignatureFailure: {must} is not signed"
            ));
        }
    }
    let signed = names
        .iter()
        .map(|n| {
            let v = if *n == "host" {
                Some(req.host)
            } else {
                header(req.headers, n)
            };
            v.map(|v| (n.to_string(), v.to_string())).ok_or(format!(
                "AuthFailure.SignatureFailure: {n} is signed but not sent"
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let cr = canonical_request(req.method, req.raw_query, &signed, req.body);
    let want = signature(secret_key, ts, service, &string_to_sign(ts, service, &cr));
    if !same(given, &want) {
        return Err("AuthFailure.SignatureFailure: signature differs".into());
    }
    Ok(service.to_string())
}
