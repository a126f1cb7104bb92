//! COS object attributes as the vendor documents them: ACLs (canned, `x-cos-grant-*`, XML
//! AccessControlPolicy), server-side encryption, storage class, user metadata and the standard
//! headers an object keeps. Sources (COS API docs, cloud.tencent.com/document/product/436/…):
//! PUT Object 7749, PUT Object - Copy 10881, PUT Object acl 7748, GET Object acl 7744, HEAD
//! Object 7745, common request/response headers 7728/7729.
#![allow(clippy::result_large_err)]

use super::*;

/// The emulated account (the signing SecretId's owner): the owner of every bucket and object.
pub const OWNER: &str = "qcs::cam::uin/100000000001:uin/100000000001";
/// COS's preset group of everyone, anonymous users included (GET Object acl example).
pub const ALL_USERS: &str = "http://cam.qcloud.com/groups/global/AllUsers";

/// The canned object ACLs (PUT Object acl: "default，private，public-read"); `default`
/// (inherit the bucket's) is stored as `None`.
const OBJECT_ACLS: [&str; 3] = ["default", "private", "public-read"];
/// `x-cos-grant-*` headers and the permission each grants (PUT Object acl request headers).
const GRANT_HEADERS: [(&str, &str); 4] = [
    ("x-cos-grant-read", "READ"),
    ("x-cos-grant-read-acp", "READ_ACP"),
    ("x-cos-grant-write-acp", "WRITE_ACP"),
    ("x-cos-grant-full-control", "FULL_CONTROL"),
];
/// Server-side encryption the COS docs name for `x-cos-server-side-encryption`: SSE-COS
/// (`AES256`) and SSE-KMS (`cos/kms`) (PUT Object examples 3 and 4).
const SSE_VALUES: [&str; 2] = ["AES256", "cos/kms"];

/// What a PUT Object or PUT Object - Copy request says about the destination's attributes
/// besides its content and metadata; absent headers give COS's defaults.
pub(super) struct Attrs {
    pub acl: Option<String>,
    pub grants: Vec<(String, String)>,
    pub sse: Option<String>,
    pub sse_kms_key_id: Option<String>,
    /// `None` = STANDARD.
    pub storage_class: Option<String>,
}

impl Emulator {
    /// Set a bucket's ACL (`private`, the default, `public-read` or `public-read-write`), which
    /// every object whose own ACL is `default` inherits.
    pub fn set_bucket_acl(&self, bucket: &str, acl: &str) {
        assert!(
            ["private", "public-read", "public-read-write"].contains(&acl),
            "not a COS bucket ACL: {acl}"
        );
        let mut i = self.inner.lock().unwrap();
        i.bucket_acls.insert(bucket.into(), acl.into());
    }

    /// The bucket's ACL (`private` unless [`Emulator::set_bucket_acl`] set another).
    pub fn bucket_acl(&self, bucket: &str) -> String {
        let i = self.inner.lock().unwrap();
        i.bucket_acls
            .get(bucket)
            .cloned()
            .unwrap_or_else(|| "private".into())
    }

    /// The access the object's ACL gives in effect: its own canned ACL or, when that is
    /// `default`, the bucket's; `private` turns `public-read` when a grant gives AllUsers READ
    /// or FULL_CONTROL. `None` when there is no such object.
    pub fn effective_acl(&self, bucket: &str, key: &str) -> Option<String> {
        let o = self.object(bucket, key)?;
        let canned = o.acl.clone().unwrap_or_else(|| self.bucket_acl(bucket));
        let public_grant = o
            .grants
            .iter()
            .any(|(p, g)| g == ALL_USERS && (p == "READ" || p == "FULL_CONTROL"));
        Some(if canned == "private" && public_grant {
            "public-read".into()
        } else {
            canned
        })
    }
}

fn invalid(msg: &str) -> Response {
    cos_error(400, "InvalidArgument", &quick_xml::escape::escape(msg))
}

/// The attributes a PUT Object or PUT Object - Copy request sets. PUT Object - Copy: "unless the
/// storage class, ACL and SSE are explicitly specified in the request, the destination is
/// STANDARD, inherits (default) the destination bucket's ACL and does not use SSE, whatever the
/// metadata directive" — so nothing here ever comes from a source object.
pub(super) fn request_attrs(h: &HeaderMap) -> Result<Attrs, Response> {
    let (acl, grants) = acl_from_headers(h)?.unwrap_or_default();
    let sse = header(h, "x-cos-server-side-encryption").map(str::to_string);
    if let Some(s) = &sse {
        if !SSE_VALUES.contains(&s.as_str()) {
            return Err(invalid(&format!(
                "x-cos-server-side-encryption {s:?}: AES256 or cos/kms"
            )));
        }
    }
    let sse_kms_key_id =
        header(h, "x-cos-server-side-encryption-cos-kms-key-id").map(str::to_string);
    // Common request headers, SSE-KMS: the key id names the CMK "when x-cos-server-side-encryption
    // is cos/kms".
    if sse_kms_key_id.is_some() && sse.as_deref() != Some("cos/kms") {
        return Err(invalid(
            "x-cos-server-side-encryption-cos-kms-key-id needs x-cos-server-side-encryption: cos/kms",
        ));
    }
    // PUT Object: "x-cos-storage-class … Default value: STANDARD"; HEAD returns the header only
    // for other classes, so STANDARD is stored as absent.
    let storage_class = header(h, STORAGE_CLASS)
        .filter(|c| *c != "STANDARD")
        .map(str::to_string);
    Ok(Attrs {
        acl,
        grants,
        sse,
        sse_kms_key_id,
        storage_class,
    })
}

/// Content-Type, `x-cos-meta-*` and the standard headers of a request (PUT Object, or a
/// Replaced copy: "按本次请求的请求头中的元数据信息作为目标对象的元数据信息"). Metadata values are
/// kept byte for byte; a value that is not UTF-8 is refused (the emulator stores text).
/// Duplicate `x-cos-meta-*` headers are joined with `,` so that sending one twice shows.
#[allow(clippy::type_complexity)]
pub(super) fn request_content(
    h: &HeaderMap,
) -> Result<(String, BTreeMap<String, String>, BTreeMap<String, String>), Response> {
    let mut meta: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in h {
        let Some(k) = name.as_str().strip_prefix("x-cos-meta-") else {
            continue;
        };
        let Ok(v) = String::from_utf8(value.as_bytes().to_vec()) else {
            return Err(invalid(&format!(
                "emulator: x-cos-meta-{k} is not UTF-8; it stores metadata as text"
            )));
        };
        meta.entry(k.to_string())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let content_type = header(h, "content-type")
        .unwrap_or("application/octet-stream")
        .to_string();
    let headers = STORED_HEADERS
        .iter()
        .filter_map(|n| Some((n.to_string(), header_utf8(h, n)?)))
        .collect();
    Ok((content_type, meta, headers))
}

/// Apply [`Attrs`] to an object (storage class lives in its headers).
pub(super) fn set_attrs(o: &mut Object, a: Attrs) {
    o.acl = a.acl;
    o.grants = a.grants;
    o.sse = a.sse;
    o.sse_kms_key_id = a.sse_kms_key_id;
    o.headers.remove(STORAGE_CLASS);
    if let Some(c) = a.storage_class {
        o.headers.insert(STORAGE_CLASS.into(), c);
    }
}

/// The ACL `x-cos-acl` and `x-cos-grant-*` set, or `None` when the request has none of them.
/// `x-cos-acl`: `default`, `private` or `public-read`. A grant header is a comma-separated list
/// of `id="<OwnerUin>"` (or `id="<OwnerUin>/<SubUin>"`, or a full `qcs::cam::…` ID) and, as for
/// buckets, `uri="<group URI>"`.
#[allow(clippy::type_complexity)]
pub(super) fn acl_from_headers(
    h: &HeaderMap,
) -> Result<Option<(Option<String>, Vec<(String, String)>)>, Response> {
    let canned = header(h, "x-cos-acl");
    let present = canned.is_some() || GRANT_HEADERS.iter().any(|(n, _)| h.contains_key(*n));
    if !present {
        return Ok(None);
    }
    let acl = match canned {
        None | Some("default") => None,
        Some(c) if OBJECT_ACLS.contains(&c) => Some(c.to_string()),
        Some(c) => {
            return Err(invalid(&format!(
                "x-cos-acl {c:?}: an object ACL is default, private or public-read"
            )))
        }
    };
    let mut grants = vec![];
    for (name, permission) in GRANT_HEADERS {
        let Some(list) = header(h, name) else {
            continue;
        };
        for item in list.split(',') {
            let grantee = grantee(item.trim()).ok_or_else(|| {
                invalid(&format!("{name}: {item:?} is not id=\"…\" or uri=\"…\""))
            })?;
            grants.push((permission.to_string(), grantee));
        }
    }
    Ok(Some((acl, grants)))
}

/// `id="100000000001"` → `qcs::cam::uin/100000000001:uin/100000000001`;
/// `id="100000000001/100000000011"` → `qcs::cam::uin/100000000001:uin/100000000011`;
/// `uri="…"` → the URI.
fn grantee(item: &str) -> Option<String> {
    let (kind, value) = item.split_once('=')?;
    let value = value.strip_prefix('"')?.strip_suffix('"')?;
    if value.is_empty() || value.contains('"') {
        return None;
    }
    match kind.trim() {
        "uri" => Some(value.to_string()),
        "id" if value.starts_with("qcs::cam::") => Some(value.to_string()),
        "id" => {
            let (root, sub) = value.split_once('/').unwrap_or((value, value));
            Some(format!("qcs::cam::uin/{root}:uin/{sub}"))
        }
        _ => None,
    }
}

#[derive(serde::Deserialize)]
struct PolicyXml {
    #[serde(rename = "Owner")]
    owner: Option<OwnerXml>,
    #[serde(rename = "AccessControlList")]
    list: Option<ListXml>,
}

#[derive(serde::Deserialize)]
struct OwnerXml {
    #[serde(rename = "ID")]
    id: Option<String>,
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
    #[serde(rename = "URI")]
    uri: Option<String>,
}

/// The ACL of a PUT Object acl XML body (AccessControlPolicy: Owner/ID and AccessControlList
/// required; ≤ 100 Grants; a Grantee has a URI (Group) or an ID (CanonicalUser), not both;
/// object permissions READ, READ_ACP, WRITE_ACP, FULL_CONTROL). Stored as a canned ACL plus
/// grants: `public-read` when AllUsers gets READ, else `private`; the owner's FULL_CONTROL and
/// that AllUsers READ are implied by the canned ACL and not kept as grants.
#[allow(clippy::type_complexity)]
pub(super) fn acl_from_body(
    body: &[u8],
) -> Result<(Option<String>, Vec<(String, String)>), Response> {
    let malformed = |why: &str| cos_error(400, "MalformedXML", why);
    let text = std::str::from_utf8(body).map_err(|_| malformed("body is not UTF-8"))?;
    let p: PolicyXml =
        quick_xml::de::from_str(text).map_err(|_| malformed("not an AccessControlPolicy"))?;
    if p.owner
        .and_then(|o| o.id)
        .is_none_or(|id| id.trim().is_empty())
    {
        return Err(malformed("AccessControlPolicy.Owner.ID is required"));
    }
    let list = p
        .list
        .ok_or_else(|| malformed("AccessControlPolicy.AccessControlList is required"))?;
    if list.grants.len() > 100 {
        return Err(invalid("an AccessControlList holds at most 100 Grants"));
    }
    let mut grants = vec![];
    for g in list.grants {
        let permission = g.permission.trim().to_string();
        if !["READ", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"].contains(&permission.as_str()) {
            return Err(invalid(&format!("Permission {permission:?}")));
        }
        let grantee = match (g.grantee.id, g.grantee.uri) {
            (Some(id), None) => id.trim().to_string(),
            (None, Some(uri)) => uri.trim().to_string(),
            _ => return Err(malformed("a Grantee has one ID or one URI")),
        };
        grants.push((permission, grantee));
    }
    let public = grants.iter().any(|(p, g)| p == "READ" && g == ALL_USERS);
    grants.retain(|(p, g)| !(p == "READ" && g == ALL_USERS || p == "FULL_CONTROL" && g == OWNER));
    let canned = if public { "public-read" } else { "private" };
    Ok((Some(canned.to_string()), grants))
}

fn grant_xml(grantee: &str, permission: &str) -> String {
    let g = quick_xml::escape::escape(grantee);
    let who = if grantee.starts_with("http://") || grantee.starts_with("https://") {
        format!("xsi:type=\"Group\"><URI>{g}</URI>")
    } else {
        format!("xsi:type=\"CanonicalUser\"><ID>{g}</ID><DisplayName>{g}</DisplayName>")
    };
    format!("<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" {who}</Grantee><Permission>{permission}</Permission></Grant>")
}

/// The GET Object acl / GET Bucket acl body: AllUsers READ for `public-read` (READ and WRITE
/// for a `public-read-write` bucket), the owner's FULL_CONTROL (COS ACL overview: "the resource
/// owner always has FULL_CONTROL"), then the explicit grants.
pub(super) fn acl_xml(canned: &str, grants: &[(String, String)]) -> String {
    let mut x = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy><Owner><ID>{OWNER}</ID><DisplayName>{OWNER}</DisplayName></Owner><AccessControlList>");
    if canned.starts_with("public-read") {
        x.push_str(&grant_xml(ALL_USERS, "READ"));
    }
    if canned == "public-read-write" {
        x.push_str(&grant_xml(ALL_USERS, "WRITE"));
    }
    x.push_str(&grant_xml(OWNER, "FULL_CONTROL"));
    // A grant the canned ACL already gives (a client repeating the owner's FULL_CONTROL or
    // AllUsers READ as x-cos-grant-* headers) is listed once.
    let implied = |p: &str, g: &str| {
        p == "FULL_CONTROL" && g == OWNER
            || p == "READ" && g == ALL_USERS && canned.starts_with("public-read")
    };
    for (p, g) in grants.iter().filter(|(p, g)| !implied(p, g)) {
        x.push_str(&grant_xml(g, p));
    }
    x.push_str("</AccessControlList></AccessControlPolicy>");
    x
}

/// GET Object acl for an object. For `default` (inherit the bucket's ACL) the API docs do not
/// say what the body holds. A COS SDK maintainer (tencentyun/qcloud-sdk-dotnet issue 19,
/// 2020-12-29) says the body of an inheriting object is the same as a private one's — even in
/// a public bucket — and that the response header `x-cos-acl: default` tells them apart; the
/// emulator answers so, with `x-cos-acl` on every answer. UNVERIFIED against the API docs.
pub(super) fn object_acl_reply(o: &Object) -> Response {
    let canned = o.acl.as_deref().unwrap_or("default");
    let body_acl = if canned == "default" {
        "private"
    } else {
        canned
    };
    Response::builder()
        .status(200)
        .header("content-type", "application/xml")
        .header("x-cos-acl", canned)
        .body(Body::from(acl_xml(body_acl, &o.grants)))
        .unwrap()
}

/// `x-cos-server-side-encryption` (and the KMS key id) of an encrypted object, as HEAD, GET, PUT
/// and PUT Object - Copy answer them (common response headers, SSE; PUT Object example 4).
pub(super) fn sse_headers(
    o: &Object,
    mut b: axum::http::response::Builder,
) -> axum::http::response::Builder {
    if let Some(s) = &o.sse {
        b = b.header("x-cos-server-side-encryption", s.as_str());
        if let Some(k) = &o.sse_kms_key_id {
            b = b.header("x-cos-server-side-encryption-cos-kms-key-id", k.as_str());
        }
    }
    b
}
