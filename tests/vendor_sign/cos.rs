//! COS request signature, `q-sign-algorithm=sha1`, as the COS API documentation ("Request
//! Signature", 436/7778) states it:
//!
//! 1. `KeyTime = "<start>;<end>"`, `SignKey = hex(HMAC-SHA1(SecretKey, KeyTime))`.
//! 2. Every query parameter and header that is signed: name `lower(UrlEncode(name))`, value
//!    `UrlEncode(value)` (UrlEncode keeps only `A-Z a-z 0-9 - _ . ~`), sorted by name, joined as
//!    `k=v&k=v`; their names joined by `;` are `q-url-param-list` / `q-header-list`.
//! 3. `HttpString = lower(method)\n<decoded path>\n<params>\n<headers>\n`.
//! 4. `StringToSign = sha1\n<KeyTime>\nhex(SHA1(HttpString))\n`.
//! 5. `q-signature = hex(HMAC-SHA1(SignKey as its hex text, StringToSign))`.
//!
//! The `q-*` fields travel in the `Authorization` header (`k=v&k=v`) or, for a presigned URL,
//! URL-encoded in the query. With temporary credentials `x-cos-security-token` is a header, or
//! a query parameter of a presigned URL, signed or not (the Python SDK signs it as a parameter
//! when the caller passes it in `Params`; the JS and Go SDKs append it unsigned).

use super::{header, hmac_sha1, parse_query, pct_decode, pct_encode, same, sha1_hex, UNRESERVED};

/// UrlEncode of the signing rules.
pub fn encode(s: &str) -> String {
    pct_encode(s, UNRESERVED)
}

/// The request path for `key` as the Python SDK sends it (`quote(key, '/-_.~')`, then `./` →
/// `.%2F` so that no proxy folds dot segments).
pub fn wire_path(key: &str) -> String {
    format!("/{}", pct_encode(key, b"/-_.~")).replace("./", ".%2F")
}

pub fn sign_key(secret_key: &str, key_time: &str) -> String {
    hex::encode(hmac_sha1(secret_key.as_bytes(), key_time.as_bytes()))
}

/// `(list, joined)` of step 2.
pub fn canonical(pairs: &[(String, String)]) -> (String, String) {
    let mut enc: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (encode(k).to_ascii_lowercase(), encode(v)))
        .collect();
    enc.sort();
    let list: Vec<&str> = enc.iter().map(|(k, _)| k.as_str()).collect();
    let joined: Vec<String> = enc.iter().map(|(k, v)| format!("{k}={v}")).collect();
    (list.join(";"), joined.join("&"))
}

pub fn http_string(
    method: &str,
    decoded_path: &str,
    params: &[(String, String)],
    headers: &[(String, String)],
) -> String {
    format!(
        "{}\n{decoded_path}\n{}\n{}\n",
        method.to_ascii_lowercase(),
        canonical(params).1,
        canonical(headers).1
    )
}

pub fn string_to_sign(key_time: &str, http_string: &str) -> String {
    format!("sha1\n{key_time}\n{}\n", sha1_hex(http_string.as_bytes()))
}

pub fn signature(
    secret_key: &str,
    key_time: &str,
    method: &str,
    decoded_path: &str,
    params: &[(String, String)],
    headers: &[(String, String)],
) -> String {
    let sts = string_to_sign(
        key_time,
        &http_string(method, decoded_path, params, headers),
    );
    hex::encode(hmac_sha1(
        sign_key(secret_key, key_time).as_bytes(),
        sts.as_bytes(),
    ))
}

pub struct Creds<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    /// The token every request must carry (temporary credentials), if any.
    pub token: Option<&'a str>,
}

/// One request as the server received it.
pub struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    /// The path as sent (percent-encoded).
    pub raw_path: &'a str,
    /// The query string as sent, without `?`.
    pub raw_query: &'a str,
    /// `(lower-case name, value)` as sent; `host` is taken from [`Request::host`].
    pub headers: &'a [(String, String)],
}

/// What a valid request signed, for the caller's own policy checks.
#[derive(Debug, Clone)]
pub struct Verified {
    /// True when the `q-*` fields came in the query (presigned URL).
    pub presigned: bool,
    pub header_list: Vec<String>,
    pub param_list: Vec<String>,
    /// Decoded query parameters other than the `q-*` fields (signed or not), in order.
    pub params: Vec<(String, String)>,
    /// Parameters sent but not signed (an unsigned presigned-URL token is not counted).
    pub unsigned_params: Vec<String>,
}

/// Check a request's COS signature at time `now` (Unix seconds). Errors name the COS error
/// code first (`SignatureDoesNotMatch: ...`).
pub fn verify(req: &Request<'_>, creds: &Creds<'_>, now: i64) -> Result<Verified, String> {
    let query: Vec<(String, String)> = parse_query(req.raw_query)
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    let auth_header = header(req.headers, "authorization");
    let presigned = auth_header.is_none();
    type Pairs = Vec<(String, String)>;
    let (fields, params): (Pairs, Pairs) = match auth_header {
        Some(a) => (
            a.split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            query,
        ),
        None => query.into_iter().partition(|(k, _)| k.starts_with("q-")),
    };
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .ok_or(format!("AccessDenied: no {k}"))
    };
    if field("q-sign-algorithm")? != "sha1" {
        return Err("InvalidArgument: q-sign-algorithm must be sha1".into());
    }
    if field("q-ak")? != creds.secret_id {
        return Err("InvalidAccessKeyId: unknown SecretId".into());
    }
    let key_time = field("q-key-time")?;
    if field("q-sign-time")? != key_time {
        return Err("SignatureDoesNotMatch: q-sign-time differs from q-key-time".into());
    }
    let (start, end) = key_time
        .split_once(';')
        .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
        .ok_or("AccessDenied: bad q-key-time")?;
    if now < start {
        return Err("RequestTimeTooSkewed: the signature is not valid yet".into());
    }
    if now > end {
        return Err("AccessDenied: Request has expired".into());
    }
    let token = if presigned {
        params
            .iter()
            .find(|(k, _)| k == "x-cos-security-token")
            .map(|(_, v)| v.as_str())
    } else {
        header(req.headers, "x-cos-security-token")
    };
    if let Some(want) = creds.token {
        if token != Some(want) {
            return Err("InvalidAccessKeyId: missing or wrong x-cos-security-token".into());
        }
    }
    let split = |s: String| -> Vec<String> {
        s.split(';')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let header_list = split(field("q-header-list")?);
    let param_list = split(field("q-url-param-list")?);
    let signed_headers = header_list
        .iter()
        .map(|h| {
            let v = if h == "host" {
                Some(req.host)
            } else {
                header(req.headers, h)
            };
            v.map(|v| (h.clone(), v.to_string()))
                .ok_or(format!("SignatureDoesNotMatch: signed header {h} not sent"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let name = |k: &str| encode(k).to_ascii_lowercase();
    let signed_params: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| param_list.contains(&name(k)))
        .cloned()
        .collect();
    for p in &param_list {
        if !signed_params.iter().any(|(k, _)| name(k) == *p) {
            return Err(format!(
                "SignatureDoesNotMatch: signed parameter {p} not sent"
            ));
        }
    }
    let unsigned_params = params
        .iter()
        .map(|(k, _)| name(k))
        .filter(|k| !(param_list.contains(k) || presigned && k == "x-cos-security-token"))
        .collect();
    let want = signature(
        creds.secret_key,
        &key_time,
        req.method,
        &pct_decode(req.raw_path),
        &signed_params,
        &signed_headers,
    );
    if !same(&field("q-signature")?, &want) {
        return Err("SignatureDoesNotMatch: q-signature differs".into());
    }
    Ok(Verified {
        presigned,
        header_list,
        param_list,
        params,
        unsigned_params,
    })
}
