//! OBS V2 signatures as the OBS API reference states them ("Authentication of Signature in a
//! Header", obs_04_0010, and "in a URL", obs_04_0011):
//!
//! `StringToSign = VERB\nContent-MD5\nContent-Type\nDate\nCanonicalizedHeaders
//! CanonicalizedResource`, `Signature = Base64(HMAC-SHA1(SK, StringToSign))`.
//!
//! - Date: the `Date` header, or empty when `x-obs-date` is sent; in a signed URL, `Expires`.
//! - CanonicalizedHeaders: every `x-obs-*` header, lower-case name, trimmed value, duplicate
//!   names joined by `,`, sorted, one `name:value\n` each.
//! - CanonicalizedResource: `/<bucket>` + the request path as sent (`/` for the bucket itself),
//!   then the sub-resources of the documented list (and any `x-obs-*` parameter) with their
//!   decoded values, sorted, `?a&b=v`.
//! - Header form: `Authorization: OBS <AK>:<Signature>`; a `Date` more than 15 minutes off the
//!   server clock is `RequestTimeTooSkewed`. URL form: `AccessKeyId`, `Expires` (absolute Unix
//!   seconds), `Signature` query parameters; past `Expires` the URL is refused.
//! - Temporary credentials: `x-obs-security-token` as a header (so it is signed among the
//!   `x-obs-*` headers) or, in a URL, as a query parameter (so it is a sub-resource).

use base64::Engine;

use super::{header, hmac_sha1, parse_query, same};

/// The sub-resources of obs_04_0010 that enter the canonical resource.
const SUB_RESOURCES: &[&str] = &[
    "CDNNotifyConfiguration",
    "acl",
    "append",
    "attname",
    "backtosource",
    "cors",
    "customdomain",
    "delete",
    "deletebucket",
    "directcoldaccess",
    "encryption",
    "inventory",
    "length",
    "lifecycle",
    "location",
    "logging",
    "metadata",
    "modify",
    "name",
    "notification",
    "orchestration",
    "partNumber",
    "policy",
    "position",
    "quota",
    "rename",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "storageClass",
    "storagePolicy",
    "storageinfo",
    "tagging",
    "torrent",
    "truncate",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "x-image-process",
    "x-image-save-bucket",
    "x-image-save-object",
    "x-obs-security-token",
];

fn is_sub_resource(name: &str) -> bool {
    SUB_RESOURCES.contains(&name) || name.to_ascii_lowercase().starts_with("x-obs-")
}

pub fn canonical_resource(
    bucket: &str,
    raw_path: &str,
    query: &[(String, Option<String>)],
) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    let mut subs: Vec<&(String, Option<String>)> =
        query.iter().filter(|(k, _)| is_sub_resource(k)).collect();
    subs.sort_by(|a, b| a.0.cmp(&b.0));
    let subs: Vec<String> = subs
        .into_iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    let mut out = format!("/{bucket}{path}");
    if !subs.is_empty() {
        out.push('?');
        out.push_str(&subs.join("&"));
    }
    out
}

pub fn canonical_headers(headers: &[(String, String)]) -> String {
    let mut obs: Vec<(String, String)> = vec![];
    for (n, v) in headers {
        let n = n.to_ascii_lowercase();
        if !n.starts_with("x-obs-") {
            continue;
        }
        match obs.iter_mut().find(|(m, _)| *m == n) {
            Some((_, all)) => {
                all.push(',');
                all.push_str(v.trim());
            }
            None => obs.push((n, v.trim().to_string())),
        }
    }
    obs.sort();
    obs.iter().map(|(n, v)| format!("{n}:{v}\n")).collect()
}

pub fn string_to_sign(
    verb: &str,
    content_md5: &str,
    content_type: &str,
    date: &str,
    headers: &[(String, String)],
    resource: &str,
) -> String {
    format!(
        "{verb}\n{content_md5}\n{content_type}\n{date}\n{}{resource}",
        canonical_headers(headers)
    )
}

pub fn signature(secret_key: &str, string_to_sign: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(hmac_sha1(secret_key.as_bytes(), string_to_sign.as_bytes()))
}

pub struct Creds<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub token: Option<&'a str>,
}

/// One OBS request as the server received it (virtual-host style: the bucket is in the Host).
pub struct Request<'a> {
    pub method: &'a str,
    pub bucket: &'a str,
    /// The path as sent (percent-encoded).
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// `(lower-case name, value)` as sent.
    pub headers: &'a [(String, String)],
}

/// An OBS refusal: HTTP status, error code, message.
pub type Refusal = (u16, &'static str, String);

/// Check a header-signed request at time `now`.
pub fn verify_header(req: &Request<'_>, creds: &Creds<'_>, now: i64) -> Result<(), Refusal> {
    let auth = header(req.headers, "authorization").ok_or((
        403,
        "AccessDenied",
        "no Authorization header".to_string(),
    ))?;
    let (ak, given) = auth
        .strip_prefix("OBS ")
        .and_then(|r| r.rsplit_once(':'))
        .ok_or((403, "AccessDenied", format!("not an OBS signature: {auth}")))?;
    if ak != creds.access_key {
        return Err((403, "InvalidAccessKeyId", "unknown access key".into()));
    }
    if let Some(t) = creds.token {
        if header(req.headers, "x-obs-security-token") != Some(t) {
            return Err((
                403,
                "InvalidToken",
                "security token missing or wrong".into(),
            ));
        }
    }
    let obs_date = header(req.headers, "x-obs-date");
    let when = obs_date
        .or(header(req.headers, "date"))
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
        .ok_or((
            403,
            "AccessDenied",
            "no valid Date or x-obs-date".to_string(),
        ))?;
    if (now - when.timestamp()).abs() > 15 * 60 {
        return Err((
            403,
            "RequestTimeTooSkewed",
            "request time more than 15 minutes off".into(),
        ));
    }
    let date = if obs_date.is_some() {
        ""
    } else {
        header(req.headers, "date").unwrap_or_default()
    };
    let resource = canonical_resource(req.bucket, req.raw_path, &parse_query(req.raw_query));
    let sts = string_to_sign(
        req.method,
        header(req.headers, "content-md5").unwrap_or_default(),
        header(req.headers, "content-type").unwrap_or_default(),
        date,
        req.headers,
        &resource,
    );
    if !same(given, &signature(creds.secret_key, &sts)) {
        return Err((
            403,
            "SignatureDoesNotMatch",
            format!("signature differs; string to sign {sts:?}"),
        ));
    }
    Ok(())
}

/// Check a signed URL (query authentication) at time `now`; returns its `Expires`.
pub fn verify_url(req: &Request<'_>, creds: &Creds<'_>, now: i64) -> Result<i64, Refusal> {
    let query = parse_query(req.raw_query);
    let get = |n: &str| {
        query
            .iter()
            .find(|(k, _)| k == n)
            .and_then(|(_, v)| v.clone())
    };
    let denied = |m: &str| (403, "AccessDenied", m.to_string());
    if get("AccessKeyId").as_deref() != Some(creds.access_key) {
        return Err(denied("missing or unknown AccessKeyId"));
    }
    let expires: i64 = get("Expires")
        .and_then(|e| e.parse().ok())
        .ok_or_else(|| denied("no Expires"))?;
    if now > expires {
        return Err(denied("Request has expired"));
    }
    if let Some(t) = creds.token {
        if get("x-obs-security-token").as_deref() != Some(t) {
            return Err((
                403,
                "InvalidToken",
                "security token missing or wrong".into(),
            ));
        }
    }
    let given = get("Signature").ok_or_else(|| denied("no Signature"))?;
    let resource = canonical_resource(req.bucket, req.raw_path, &query);
    let sts = string_to_sign(
        req.method,
        header(req.headers, "content-md5").unwrap_or_default(),
        header(req.headers, "content-type").unwrap_or_default(),
        &expires.to_string(),
        req.headers,
        &resource,
    );
    if !same(&given, &signature(creds.secret_key, &sts)) {
        return Err((
            403,
            "SignatureDoesNotMatch",
            format!("signature differs; string to sign {sts:?}"),
        ));
    }
    Ok(expires)
}
