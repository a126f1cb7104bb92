//! OBS object attributes as the API reference documents them (api-obs, mirrored by
//! opentelekomcloud-docs/object-storage-service `api-ref/source/apis/operations_on_objects/`):
//! Uploading an Object - PUT (obs_04_0080), Copying an Object (obs_04_0082), Modifying Object
//! Metadata (obs_04_0091), Configuring an Object ACL (obs_04_0089), Obtaining Object ACL
//! (obs_04_0090), Querying Object Metadata (obs_04_0084).
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::obs::obs_error;
use super::*;

/// The emulated account's domain ID: owner of every bucket and object.
pub const OWNER_ID: &str = "e0d0a1b2c3d4e5f60718293a4b5c6d7e";
/// The grantee OBS names for all users (`<Canned>Everyone</Canned>`).
pub const EVERYONE: &str = "Everyone";

/// The six HTTP headers OBS saves with an object (obs_04_0080 note: Cache-Control, Expires,
/// Content-Encoding, Content-Disposition, Content-Type, Content-Language; Content-Type is
/// [`Obj::content_type`]) and the redirect it "stores in the object metadata".
const STANDARD_HEADERS: [&str; 6] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    REDIRECT,
];
const REDIRECT: &str = "x-obs-website-redirect-location";
pub(crate) const STORAGE_CLASS: &str = "x-obs-storage-class";
/// obs_04_0080 / 0082 / 0091: STANDARD, WARM, COLD, case-sensitive (DEEP_ARCHIVE, Huawei
/// Cloud's newer class, is accepted too so that no valid request is refused).
const STORAGE_CLASSES: [&str; 4] = ["STANDARD", "WARM", "COLD", "DEEP_ARCHIVE"];
/// obs_04_0080 / 0082 x-obs-acl range for objects.
const OBJECT_ACLS: [&str; 3] = ["private", "public-read", "public-read-write"];
const GRANT_HEADERS: [(&str, &str); 4] = [
    ("x-obs-grant-read", "READ"),
    ("x-obs-grant-read-acp", "READ_ACP"),
    ("x-obs-grant-write-acp", "WRITE_ACP"),
    ("x-obs-grant-full-control", "FULL_CONTROL"),
];
const DEFAULT_TYPE: &str = "application/octet-stream";

fn invalid(msg: &str) -> Response {
    obs_error(400, "InvalidArgument", &quick_xml::escape::escape(msg))
}

/// `x-obs-meta-*` of a request, values byte for byte (obs_04_0091 wants US-ASCII, encoded by the
/// client, "because the server does not perform such operations"; the emulator keeps whatever
/// came, so a test sees exactly what a client sent). Not UTF-8: refused, the emulator stores
/// text. Duplicate names are joined with `,` so that sending one twice shows.
pub(crate) fn request_meta(h: &HeaderMap) -> Result<BTreeMap<String, String>, Response> {
    let mut meta: BTreeMap<String, String> = BTreeMap::new();
    for (n, v) in h {
        let Some(k) = n.as_str().strip_prefix("x-obs-meta-") else {
            continue;
        };
        let Ok(v) = String::from_utf8(v.as_bytes().to_vec()) else {
            return Err(invalid(&format!(
                "emulator: x-obs-meta-{k} is not UTF-8; it stores metadata as text"
            )));
        };
        meta.entry(k.to_string())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    Ok(meta)
}

/// The standard headers, the redirect and the storage class a request names, validated.
fn request_headers(h: &HeaderMap) -> Result<BTreeMap<String, String>, Response> {
    let mut out = BTreeMap::new();
    for n in STANDARD_HEADERS.iter().chain([&STORAGE_CLASS]) {
        let Some(v) = h.get(*n) else { continue };
        let Ok(v) = String::from_utf8(v.as_bytes().to_vec()) else {
            return Err(invalid(&format!("emulator: {n} is not UTF-8")));
        };
        out.insert(n.to_string(), v);
    }
    if let Some(r) = out.get(REDIRECT) {
        // "The value must start with a slash (/), http://, or https:// and cannot exceed 2 KB."
        let ok = ["/", "http://", "https://"]
            .iter()
            .any(|p| r.starts_with(p));
        if !ok || r.len() > 2048 {
            return Err(invalid(&format!("{REDIRECT} {r:?}")));
        }
    }
    if let Some(c) = out.get(STORAGE_CLASS) {
        if !STORAGE_CLASSES.contains(&c.as_str()) {
            return Err(invalid(&format!(
                "{STORAGE_CLASS} {c:?}: STANDARD, WARM or COLD"
            )));
        }
    }
    // HEAD returns x-obs-storage-class "only when the storage class of an object is not
    // Standard": STANDARD is stored as absent.
    if out.get(STORAGE_CLASS).is_some_and(|c| c == "STANDARD") {
        out.remove(STORAGE_CLASS);
    }
    Ok(out)
}

/// `x-obs-server-side-encryption` (`kms` or `AES256`) and
/// `x-obs-server-side-encryption-kms-key-id` ("can only be used when you specify kms").
fn request_sse(h: &HeaderMap) -> Result<(Option<String>, Option<String>), Response> {
    let sse = Some(header(h, "x-obs-server-side-encryption")).filter(|s| !s.is_empty());
    if let Some(s) = sse {
        if s != "kms" && s != "AES256" {
            return Err(invalid(&format!(
                "x-obs-server-side-encryption {s:?}: kms or AES256"
            )));
        }
    }
    let key = Some(header(h, "x-obs-server-side-encryption-kms-key-id")).filter(|s| !s.is_empty());
    if key.is_some() && sse != Some("kms") {
        return Err(invalid(
            "x-obs-server-side-encryption-kms-key-id needs x-obs-server-side-encryption: kms",
        ));
    }
    Ok((sse.map(str::to_string), key.map(str::to_string)))
}

/// The ACL of `x-obs-acl` and `x-obs-grant-*` (`id=<domainID>`, comma-separated), or `None`
/// when the request has none of them.
#[allow(clippy::type_complexity)]
fn request_acl(h: &HeaderMap) -> Result<Option<(String, Vec<(String, String)>)>, Response> {
    let canned = Some(header(h, "x-obs-acl")).filter(|s| !s.is_empty());
    if canned.is_none() && !GRANT_HEADERS.iter().any(|(n, _)| h.contains_key(*n)) {
        return Ok(None);
    }
    if let Some(c) = canned {
        if !OBJECT_ACLS.contains(&c) {
            return Err(invalid(&format!(
                "x-obs-acl {c:?}: private, public-read or public-read-write"
            )));
        }
    }
    let mut grants = vec![];
    for (name, permission) in GRANT_HEADERS {
        if !h.contains_key(name) {
            continue;
        }
        for item in header(h, name).split(',') {
            let id = item
                .trim()
                .strip_prefix("id=")
                .map(|v| v.trim_matches('"'))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| invalid(&format!("{name}: {item:?} is not id=<domainID>")))?;
            grants.push((permission.to_string(), id.to_string()));
        }
    }
    Ok(Some((canned.unwrap_or("private").to_string(), grants)))
}

/// Everything a PUT Object (obs_04_0080) sets: content type, metadata, the standard headers,
/// storage class, encryption, ACL (`private` when none is named).
pub(crate) fn put_object(
    g: &mut Inner,
    id: (String, String),
    h: &HeaderMap,
    body: &[u8],
) -> Response {
    if !header(h, "content-md5").is_empty() && header(h, "content-md5") != content_md5(body) {
        return obs_error(400, "InvalidDigest", "Content-MD5 mismatch");
    }
    let built = (|| {
        let (sse, sse_kms_key_id) = request_sse(h)?;
        let (acl, grants) = request_acl(h)?.unwrap_or_else(|| ("private".into(), vec![]));
        Ok::<_, Response>(Obj {
            body: body.to_vec(),
            content_type: content_type(h),
            meta: request_meta(h)?,
            headers: request_headers(h)?,
            etag: hex::encode(md5_of(body)),
            acl,
            grants,
            sse,
            sse_kms_key_id,
            tags: vec![],
        })
    })();
    let o = match built {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut resp = sse_headers(&o, HeaderMap::new());
    resp.insert("etag", hv(&format!("\"{}\"", o.etag)));
    g.events
        .push(("ObjectCreated:Put".into(), id.0.clone(), id.1.clone()));
    g.objects.insert(id, o);
    (StatusCode::OK, resp).into_response()
}

fn content_type(h: &HeaderMap) -> String {
    Some(header(h, "content-type"))
        .filter(|c| !c.is_empty())
        .unwrap_or(DEFAULT_TYPE)
        .to_string()
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_bytes(s.as_bytes()).unwrap()
}

/// `x-obs-server-side-encryption` (and the KMS key id) of an encrypted object, as HEAD, GET,
/// PUT and copy answer them.
pub(crate) fn sse_headers(o: &Obj, mut h: HeaderMap) -> HeaderMap {
    if let Some(s) = &o.sse {
        h.insert("x-obs-server-side-encryption", hv(s));
        if let Some(k) = &o.sse_kms_key_id {
            h.insert("x-obs-server-side-encryption-kms-key-id", hv(k));
        }
    }
    h
}

/// HEAD/GET headers: ETag, Content-Type, user metadata byte for byte, the standard headers, the
/// redirect, storage class (only when not STANDARD) and encryption (obs_04_0084).
pub(crate) fn object_headers(o: &Obj) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("etag", hv(&format!("\"{}\"", o.etag)));
    h.insert("content-type", hv(&o.content_type));
    for (k, v) in &o.meta {
        let name = HeaderName::from_bytes(format!("x-obs-meta-{k}").as_bytes()).unwrap();
        h.insert(name, hv(v));
    }
    for (k, v) in &o.headers {
        if k == STORAGE_CLASS && v == "STANDARD" {
            continue;
        }
        h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), hv(v));
    }
    sse_headers(o, h)
}

/// Copying an Object (obs_04_0082).
/// - `x-obs-metadata-directive`: COPY (default) copies the source's content type, metadata,
///   standard headers and redirect; REPLACE takes them from the request; other values are 400,
///   and copying an object onto itself needs REPLACE ("Otherwise, the request is invalid").
/// - "The ACL of the source object is not copied … By default, the ACL of the target object is
///   private", unless `x-obs-acl` / `x-obs-grant-*` name one.
/// - Storage class: "If you do not use this header, the object storage class is the default
///   storage class of the destination bucket" (STANDARD here), whatever the directive.
/// - Encryption comes from the request's `x-obs-server-side-encryption*` ("used to encrypt the
///   target object"); none → not encrypted. Onto itself, the directive "cannot change an
///   encrypted object to a non-encrypted one … If you use this parameter to change the
///   encryption of an object, OBS returns a 400 error": a self-copy whose request does not
///   name the object's own encryption algorithm is refused (the error code is not documented;
///   `InvalidRequest` here).
/// - Tags: `x-obs-tagging-directive` COPY copies them; without it "tags are not copied", the
///   copy gets the `x-obs-tagging` ones (or none).
/// - Fires `ObjectCreated:Copy`.
pub(crate) fn copy_object(g: &mut Inner, id: (String, String), h: &HeaderMap) -> Response {
    let src = header(h, "x-obs-copy-source").trim_start_matches('/');
    let src = percent_decode_str(src).decode_utf8_lossy().into_owned();
    let Some((sb, sk)) = src.split_once('/') else {
        return obs_error(400, "InvalidArgument", "bad copy source");
    };
    let src_id = (sb.to_string(), sk.to_string());
    let Some(source) = g.objects.get(&src_id).cloned() else {
        return obs_error(404, "NoSuchKey", "copy source missing");
    };
    // Copied only while the source's ETag is x-obs-copy-source-if-match, else 412 (OBS errors:
    // PreconditionFailed). ETags are compared without their quotes, which clients send or not.
    let want = header(h, "x-obs-copy-source-if-match");
    if !want.is_empty() && want.trim_matches('"') != source.etag {
        return obs_error(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        );
    }
    let replace = match header(h, "x-obs-metadata-directive") {
        "" | "COPY" => false,
        "REPLACE" => true,
        d => return invalid(&format!("x-obs-metadata-directive {d:?}: COPY or REPLACE")),
    };
    if src_id == id && !replace {
        return obs_error(
            400,
            "InvalidRequest",
            "copying an object onto itself needs x-obs-metadata-directive: REPLACE",
        );
    }
    let built = (|| {
        let (sse, sse_kms_key_id) = request_sse(h)?;
        if src_id == id && sse != source.sse {
            return Err(obs_error(
                400,
                "InvalidRequest",
                "a copy onto itself cannot change the object's server-side encryption",
            ));
        }
        let (acl, grants) = request_acl(h)?.unwrap_or_else(|| ("private".into(), vec![]));
        let requested = request_headers(h)?;
        let mut o = Obj {
            acl,
            grants,
            sse,
            sse_kms_key_id,
            ..source.clone()
        };
        if replace {
            o.content_type = content_type(h);
            o.meta = request_meta(h)?;
            o.headers = requested.clone();
        }
        o.headers.remove(STORAGE_CLASS);
        if let Some(c) = requested.get(STORAGE_CLASS) {
            o.headers.insert(STORAGE_CLASS.into(), c.clone());
        }
        o.tags = match header(h, "x-obs-tagging-directive") {
            "COPY" => source.tags.clone(),
            "" | "REPLACE" => tagging_header(header(h, "x-obs-tagging")),
            d => return Err(invalid(&format!("x-obs-tagging-directive {d:?}"))),
        };
        Ok(o)
    })();
    let o = match built {
        Ok(o) => o,
        Err(r) => return r,
    };
    let etag = o.etag.clone();
    let resp = sse_headers(&o, HeaderMap::new());
    g.objects.insert(id.clone(), o);
    g.copy_events += 1;
    g.events.push(("ObjectCreated:Copy".into(), id.0, id.1));
    (
        StatusCode::OK,
        resp,
        format!("<CopyObjectResult><LastModified>2025-07-01T12:00:00.000Z</LastModified><ETag>\"{etag}\"</ETag></CopyObjectResult>"),
    )
        .into_response()
}

/// `x-obs-tagging: TagA=A&TagB` (URL-encoded; no `=`: empty value).
fn tagging_header(v: &str) -> Vec<(String, String)> {
    query_pairs(v)
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect()
}

/// Modifying Object Metadata (obs_04_0091), `PUT ?metadata`:
/// - `x-obs-metadata-directive` is mandatory: REPLACE_NEW or REPLACE.
/// - REPLACE: "All original metadata is replaced by metadata specified in the request.
///   Metadata that is not specified (except for x-obs-storage-class) is deleted"; changing the
///   storage class "must be" REPLACE_NEW, so REPLACE with another class is refused.
/// - REPLACE_NEW: "The metadata that has an existing value is replaced. A value is assigned to
///   the metadata that does not have a value. The metadata that is not specified remains
///   unchanged. Custom metadata is replaced." (zh: 备注：自定义头域作替换处理). So the standard
///   headers merge, and the `x-obs-meta-*` set is replaced as a whole by the request's — unless
///   [`Inner::replace_new_merges_meta`] asks for the other reading (merge, as the Node.js SDK
///   doc obs_39_0417 words it without the note).
/// - Only metadata changes: ACL, encryption, tags, content and ETag stay; no event.
pub(crate) fn set_metadata(g: &mut Inner, id: &(String, String), h: &HeaderMap) -> Response {
    if g.no_set_metadata {
        return obs_error(
            405,
            "MethodNotAllowed",
            "SetObjectMetadata is not supported",
        );
    }
    let merge_meta = g.replace_new_merges_meta;
    let Some(o) = g.objects.get_mut(id) else {
        return obs_error(404, "NoSuchKey", "no such key");
    };
    let directive = header(h, "x-obs-metadata-directive");
    let (meta, requested) = match (request_meta(h), request_headers(h)) {
        (Ok(m), Ok(r)) => (m, r),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let class = o.headers.get(STORAGE_CLASS).cloned();
    match directive {
        "REPLACE_NEW" => {
            if merge_meta {
                o.meta.extend(meta);
            } else {
                o.meta = meta;
            }
            if h.contains_key("content-type") {
                o.content_type = content_type(h);
            }
            if h.get(STORAGE_CLASS).is_some() && !requested.contains_key(STORAGE_CLASS) {
                o.headers.remove(STORAGE_CLASS); // set back to STANDARD
            }
            o.headers.extend(requested);
        }
        "REPLACE" => {
            if h.get(STORAGE_CLASS).is_some() && requested.get(STORAGE_CLASS) != class.as_ref() {
                return invalid(
                    "changing the storage class needs x-obs-metadata-directive: REPLACE_NEW",
                );
            }
            o.meta = meta;
            o.content_type = content_type(h);
            o.headers = requested;
            if let Some(c) = class {
                o.headers.insert(STORAGE_CLASS.into(), c);
            }
        }
        _ => {
            return invalid("x-obs-metadata-directive must be REPLACE_NEW or REPLACE");
        }
    }
    // "If a request carries this header field, the response message must contain this header
    // field": the directive and every metadata header sent are echoed.
    let mut resp = HeaderMap::new();
    for (n, v) in h {
        let s = n.as_str();
        if s == "x-obs-metadata-directive"
            || s == "content-type"
            || s.starts_with("x-obs-meta-")
            || STANDARD_HEADERS.contains(&s)
            || s == STORAGE_CLASS
        {
            resp.append(n.clone(), v.clone());
        }
    }
    (StatusCode::OK, resp).into_response()
}

#[derive(serde::Deserialize)]
struct PolicyXml {
    #[serde(rename = "AccessControlList")]
    list: Option<ListXml>,
}

#[derive(serde::Deserialize)]
struct ListXml {
    #[serde(rename = "Grant", default)]
    grants: Vec<GrantXml>,
}

#[derive(serde::Deserialize)]
struct GrantXml {
    #[serde(rename = "Grantee")]
    grantee: GranteeXml,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(serde::Deserialize)]
struct GranteeXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "Canned")]
    canned: Option<String>,
}

/// Configuring an Object ACL (obs_04_0089), `PUT ?acl`: an `x-obs-acl` (and `x-obs-grant-*`)
/// header, as the SDKs' canned form sends it, or an AccessControlPolicy body (≤ 100 Grants;
/// Grantee an ID or `<Canned>Everyone</Canned>`; READ, READ_ACP, WRITE_ACP, FULL_CONTROL).
/// A body is kept as a canned ACL plus grants: Everyone READ makes it `public-read`, else
/// `private`; the owner's FULL_CONTROL is implied. `Delivered` is accepted and not modelled.
pub(crate) fn put_acl(
    g: &mut Inner,
    id: &(String, String),
    h: &HeaderMap,
    body: &[u8],
) -> Response {
    let acl = match request_acl(h) {
        Err(r) => return r,
        Ok(Some(a)) => a,
        Ok(None) if body.is_empty() => return invalid("no x-obs-acl header and no ACL body"),
        Ok(None) => match acl_from_body(body) {
            Ok(a) => a,
            Err(r) => return r,
        },
    };
    let Some(o) = g.objects.get_mut(id) else {
        return obs_error(404, "NoSuchKey", "no such key");
    };
    (o.acl, o.grants) = acl;
    StatusCode::OK.into_response()
}

#[allow(clippy::type_complexity)]
fn acl_from_body(body: &[u8]) -> Result<(String, Vec<(String, String)>), Response> {
    let malformed = || obs_error(400, "MalformedXML", "not an AccessControlPolicy");
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    let p: PolicyXml = quick_xml::de::from_str(text).map_err(|_| malformed())?;
    let list = p.list.ok_or_else(malformed)?;
    if list.grants.len() > 100 {
        return Err(invalid("an object ACL holds at most 100 grants"));
    }
    let mut grants = vec![];
    for gr in list.grants {
        let permission = gr.permission.trim().to_string();
        if !["READ", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"].contains(&permission.as_str()) {
            return Err(invalid(&format!("Permission {permission:?}")));
        }
        let grantee = match (gr.grantee.id, gr.grantee.canned) {
            (Some(id), None) => id.trim().to_string(),
            (None, Some(c)) if c.trim() == EVERYONE => EVERYONE.to_string(),
            _ => return Err(malformed()),
        };
        grants.push((permission, grantee));
    }
    let public = grants.iter().any(|(p, g)| p == "READ" && g == EVERYONE);
    grants.retain(|(p, g)| !(p == "READ" && g == EVERYONE || p == "FULL_CONTROL" && g == OWNER_ID));
    let canned = if public { "public-read" } else { "private" };
    Ok((canned.to_string(), grants))
}

fn grant_xml(grantee: &str, permission: &str) -> String {
    let who = if grantee == EVERYONE {
        format!("<Canned>{EVERYONE}</Canned>")
    } else {
        format!("<ID>{}</ID>", quick_xml::escape::escape(grantee))
    };
    format!("<Grant><Grantee>{who}</Grantee><Permission>{permission}</Permission></Grant>")
}

/// Obtaining Object ACL (obs_04_0090): the owner's FULL_CONTROL, Everyone READ for
/// `public-read` (READ and WRITE for `public-read-write`), then the explicit grants.
/// `Delivered` is the documented default, `true`.
pub(crate) fn get_acl(o: &Obj) -> Response {
    let mut x = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><AccessControlPolicy><Owner><ID>{OWNER_ID}</ID></Owner><Delivered>true</Delivered><AccessControlList>");
    x.push_str(&grant_xml(OWNER_ID, "FULL_CONTROL"));
    if o.acl.starts_with("public-read") {
        x.push_str(&grant_xml(EVERYONE, "READ"));
    }
    if o.acl == "public-read-write" {
        x.push_str(&grant_xml(EVERYONE, "WRITE"));
    }
    // A grant the canned ACL already gives (the owner's FULL_CONTROL, Everyone READ of a
    // public object, repeated as x-obs-grant-* headers) is listed once.
    let implied = |p: &str, g: &str| {
        p == "FULL_CONTROL" && g == OWNER_ID
            || p == "READ" && g == EVERYONE && o.acl.starts_with("public-read")
    };
    for (p, g) in o.grants.iter().filter(|(p, g)| !implied(p, g)) {
        x.push_str(&grant_xml(g, p));
    }
    x.push_str("</AccessControlList></AccessControlPolicy>");
    (StatusCode::OK, [("content-type", "application/xml")], x).into_response()
}
