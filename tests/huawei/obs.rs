//! The emulated OBS: virtual-host requests, OBS header signatures, objects in memory.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use super::obs_attrs::{copy_object, get_acl, object_headers, put_acl, put_object, set_metadata};
use super::*;

pub(crate) fn obs_error(status: u16, code: &str, msg: &str) -> Response {
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{msg}</Message><RequestId>EMU0001</RequestId></Error>");
    let mut r = (StatusCode::from_u16(status).unwrap(), body).into_response();
    r.headers_mut()
        .insert("x-obs-error-code", code.parse().unwrap());
    r
}

/// The bucket from `<bucket>.obs.<region>.myhuaweicloud.com`.
pub(crate) fn bucket_of(host: &str) -> Option<String> {
    let suffix = format!(".obs.{REGION}.myhuaweicloud.com");
    host.strip_suffix(&suffix).map(str::to_string)
}

fn creds(token: Option<&str>) -> vendor_sign::obs::Creds<'_> {
    vendor_sign::obs::Creds {
        access_key: AK,
        secret_key: SK,
        token,
    }
}

/// Verify an OBS header-signed request (`tests/vendor_sign/obs.rs`, not the crate's signer).
fn verify_obs(
    emu: &Emu,
    method: &Method,
    bucket: &str,
    uri: &Uri,
    h: &HeaderMap,
) -> Result<(), Response> {
    let token = emu.0.lock().unwrap().token.clone();
    let pairs = header_pairs(h);
    vendor_sign::obs::verify_header(
        &vendor_sign::obs::Request {
            method: method.as_str(),
            bucket,
            raw_path: uri.path(),
            raw_query: uri.query().unwrap_or(""),
            headers: &pairs,
        },
        &creds(token.as_deref()),
        chrono::Utc::now().timestamp(),
    )
    .map_err(|(status, code, msg)| obs_error(status, code, &msg))
}

/// Verify a signed GET URL (what the AI services download) and return the object's bytes.
/// Besides OBS's own checks, the emulator refuses URLs that live longer than an hour (the
/// function asks for short-lived ones).
pub fn fetch_signed_url(emu: &Emu, url: &str) -> Result<Vec<u8>, String> {
    // Split by hand: `url::Url` folds `.`/`..` segments, and the key must stay as sent.
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("not an http(s) URL")?;
    let (authority, path_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let host = authority.split(':').next().unwrap_or_default();
    let bucket = bucket_of(host).ok_or("not an OBS URL of this region")?;
    let token = emu.0.lock().unwrap().token.clone();
    let now = chrono::Utc::now().timestamp();
    let expires = vendor_sign::obs::verify_url(
        &vendor_sign::obs::Request {
            method: "GET",
            bucket: &bucket,
            raw_path: path,
            raw_query: query,
            headers: &[],
        },
        &creds(token.as_deref()),
        now,
    )
    .map_err(|(_, code, msg)| format!("{code}: {msg}"))?;
    if expires > now + 3600 {
        return Err("URL lives longer than an hour".into());
    }
    emu.get(&bucket, &key_of(path))
        .map(|o| o.body)
        .ok_or_else(|| "no such object".into())
}

/// The object key a request path names: the path as sent, without its one leading `/`,
/// percent-decoded once and nothing else (no dot-segment or slash folding), so `/a/./b`,
/// `/a/../b`, `/a//b` and `/a/.` are four keys, none of them `a/b`.
pub fn key_of(raw_path: &str) -> String {
    percent_decode_str(raw_path.strip_prefix('/').unwrap_or(raw_path))
        .decode_utf8_lossy()
        .into_owned()
}

pub(crate) async fn apply_fault(emu: &Emu, service: &'static str, obs: bool) -> Option<Response> {
    match emu.take_fault(service)? {
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Fault::Status(s, body) => {
            let mut r = (StatusCode::from_u16(s).unwrap(), body).into_response();
            if !obs {
                r.headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
            }
            Some(r)
        }
    }
}

pub(crate) async fn obs(
    State(emu): State<Emu>,
    method: Method,
    uri: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let call = emu.arrived("obs", &method, &uri);
    let r = obs_inner(&emu, &method, &uri, &h, body).await;
    emu.answered(call, r.status().as_u16());
    r
}

async fn obs_inner(emu: &Emu, method: &Method, uri: &Uri, h: &HeaderMap, body: Bytes) -> Response {
    if let Some(r) = apply_fault(emu, "obs", true).await {
        return r;
    }
    let Some(bucket) = bucket_of(header(h, "host")) else {
        return obs_error(
            400,
            "InvalidHost",
            "Host is not <bucket>.obs.<region>.myhuaweicloud.com",
        );
    };
    let key = key_of(uri.path());
    let query = query_pairs(uri.query().unwrap_or(""));
    if let Err(r) = verify_obs(emu, method, &bucket, uri, h) {
        return r;
    }
    let has = |n: &str| query.iter().any(|(k, _)| k == n);
    let id = (bucket.clone(), key.clone());
    let mut g = emu.0.lock().unwrap();
    match (method.as_str(), key.is_empty()) {
        ("GET", true) => {
            let get = |n: &str| {
                query
                    .iter()
                    .find(|(k, _)| k == n)
                    .and_then(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let (prefix, marker) = (get("prefix"), get("marker"));
            let max: usize = get("max-keys").parse().unwrap_or(1000);
            let mut keys: Vec<&(String, String)> = g
                .objects
                .keys()
                .filter(|(b, k)| *b == bucket && k.starts_with(&prefix) && *k > marker)
                .collect();
            keys.sort();
            let truncated = keys.len() > max;
            let page: String = keys
                .iter()
                .take(max)
                .map(|id| {
                    let o = &g.objects[*id];
                    format!(
                        "<Contents><Key>{}</Key><ETag>\"{}\"</ETag><Size>{}</Size></Contents>",
                        quick_xml::escape::escape(id.1.as_str()),
                        o.etag,
                        o.body.len()
                    )
                })
                .collect();
            format!("<ListBucketResult><Name>{bucket}</Name><IsTruncated>{truncated}</IsTruncated>{page}</ListBucketResult>").into_response()
        }
        ("HEAD", false) | ("GET", false) => {
            let Some(o) = g.objects.get(&id).cloned() else {
                return obs_error(404, "NoSuchKey", "The specified key does not exist.");
            };
            if has("tagging") {
                let tags: String = o
                    .tags
                    .iter()
                    .map(|(k, v)| {
                        let (k, v) = (quick_xml::escape::escape(k), quick_xml::escape::escape(v));
                        format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>")
                    })
                    .collect();
                return format!("<Tagging><TagSet>{tags}</TagSet></Tagging>").into_response();
            }
            if has("acl") {
                return get_acl(&o);
            }
            let (status, slice) = match header(h, "range")
                .strip_prefix("bytes=")
                .and_then(|r| r.split_once('-'))
            {
                Some((a, b)) => {
                    let a: usize = a.parse().unwrap_or(0);
                    let b: usize = b
                        .parse::<usize>()
                        .map(|b| b + 1)
                        .unwrap_or(o.body.len())
                        .min(o.body.len());
                    if a >= o.body.len() {
                        return obs_error(416, "InvalidRange", "range not satisfiable");
                    }
                    (206, o.body[a..b].to_vec())
                }
                None => (200, o.body.clone()),
            };
            let mut resp_h = object_headers(&o);
            if method == Method::HEAD {
                resp_h.insert("content-length", o.body.len().to_string().parse().unwrap());
                return (StatusCode::OK, resp_h).into_response();
            }
            g.bytes_served += slice.len() as u64;
            (StatusCode::from_u16(status).unwrap(), resp_h, slice).into_response()
        }
        ("PUT", false) if has("metadata") => set_metadata(&mut g, &id, h),
        ("PUT", false) if has("tagging") => {
            if header(h, "content-md5") != content_md5(&body) {
                return obs_error(400, "InvalidDigest", "Content-MD5 mismatch");
            }
            let tags = match image_triage::store::xml::parse_tagging(&body) {
                Ok(t) => t,
                Err(_) => return obs_error(400, "MalformedXML", "bad tagging XML"),
            };
            if let Err(why) = obs_tag_check(&tags) {
                return obs_error(400, "InvalidTag", &quick_xml::escape::escape(&why));
            }
            let Some(o) = g.objects.get_mut(&id) else {
                return obs_error(404, "NoSuchKey", "no such key");
            };
            o.tags = tags;
            StatusCode::OK.into_response()
        }
        ("PUT", false) if has("acl") => put_acl(&mut g, &id, h, &body),
        ("PUT", false) if !header(h, "x-obs-copy-source").is_empty() => copy_object(&mut g, id, h),
        // PutObject (api-obs obs_04_0080) documents no precondition header: If-Match,
        // If-None-Match and x-obs-forbid-overwrite (which OBS clients send, undocumented) are not
        // evaluated here; the upload replaces whatever has the key, as the documented API does.
        ("PUT", false) => put_object(&mut g, id, h, &body),
        ("DELETE", false) => {
            g.objects.remove(&id);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => obs_error(405, "MethodNotAllowed", "not emulated"),
    }
}

/// OBS's documented object-tag limits. Official pages disagree; the emulator enforces a limit
/// one page states unless another page explicitly allows more (so it never refuses a request an
/// official page documents as valid):
/// - API reference "Adding Object Tags" (api-obs obs_04_0172,
///   https://support.huaweicloud.com/intl/en-us/api-obs/obs_04_0172.html, Constraints): ≤ 10
///   tags per object; key case-sensitive, unique, not blank, ≤ 128 characters, none of
///   `, / | < > = * \`; value case-sensitive, may be blank, ≤ 255 characters, none of
///   `, / | < > = * \`.
/// - PHP SDK setObjectTagging (obs_38_0416,
///   https://support.huaweicloud.com/api-obs_php_sdk_api_zh/obs_38_0416.html): key ≤ 128
///   characters of letters (incl. Chinese), digits, space, `_ . : = + - @`, case-sensitive,
///   unique, non-empty; value ≤ 255 characters, same plus `/`, may be empty; ≤ 10 tags.
/// - User guide (usermanual-obs obs_41_0054, /work/shared/reference/huawei_aws.md "Object tags —
///   lengths/chars"): key ≤ 36 characters, no leading/trailing space. The API reference and the
///   SDK both say 128, so 128 here (the store's own rules keep 36).
///
/// So: `=` (SDK, key and value) and `/` (SDK, value) are allowed; `, | < > * \` anywhere and `/`
/// in a key are refused. Error code 400 InvalidTag: the S3-compatible code for an invalid tag
/// (the error table of obs_04_0172 was not available to check it against).
fn obs_tag_check(tags: &[(String, String)]) -> Result<(), String> {
    // obs_04_0172 / obs_38_0416: an object can have up to 10 tags.
    if tags.len() > 10 {
        return Err(format!("{} tags; an object has at most 10", tags.len()));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        // obs_04_0172: key not blank, ≤ 128 characters, none of `,/|<>=*\` (`=`: SDK allows).
        if k.is_empty()
            || k.chars().count() > 128
            || k.contains([',', '/', '|', '<', '>', '*', '\\'])
        {
            return Err(format!(
                "tag key {k:?}: 1 to 128 characters, none of ,/|<>*\\"
            ));
        }
        // obs_04_0172: value ≤ 255 characters, none of `,/|<>=*\` (`=`, `/`: SDK allows).
        if v.chars().count() > 255 || v.contains([',', '|', '<', '>', '*', '\\']) {
            return Err(format!(
                "tag value {v:?}: up to 255 characters, none of ,|<>*\\"
            ));
        }
        // obs_04_0172: a key "must be unique" (case-sensitive); SDK: 不可重复.
        if !seen.insert(k.as_str()) {
            return Err(format!("tag key {k:?} given twice"));
        }
    }
    Ok(())
}
