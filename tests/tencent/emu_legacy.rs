//! The legacy image service on `service.image.myqcloud.com`: `POST /v1/detection/imagetag_detect`
//! (图片标签, seed 002), signed with the multi-effective signature (`vendor_sign::legacy`, pinned
//! to the official SDK `qcloud-image` 1.0.0). Every answer the service defines is HTTP 200 with
//! `{"code": N, "message": …}`; success adds `tags`.
//!
//! Checks, in order: signature (4, 5, 9, 11, 14), content type and JSON body (3), `appid` equal to
//! the signature's `a` (12) and `bucket`, when sent, to its `b` (6), then `url` (preferred, like
//! the service: "如果 url 和 image 都提供, 仅使用 url") or `image`.
//!
//! A `url` is fetched only when it is a public COS host, `<name>-<appid>.cos.<region>.myqcloud.com`
//! (anything else, loopback included, is -1507 and no connection is made); its appid must be the
//! request's (6); then the object must exist here and the presigned URL verify
//! ([`presigned_object`], as for IMS and TIIA), else -1308; an object [`Emulator::mark_bad`]
//! is -5062. Image bytes (fetched or inline) must be JPEG, PNG or BMP by their magic bytes
//! (-1400; empty -1300); inline Base64 text is at most 4 MB (seed 000: "图片经过base64编码不超过
//! 4M"; over it -1400).

use super::api::{presigned_object, served_by_url};
use super::*;
use base64::Engine as _;

pub const LEGACY_HOST: &str = "service.image.myqcloud.com";
pub const IMAGETAG_PATH: &str = "/v1/detection/imagetag_detect";
/// Seed 000: the Base64 text of an image is at most 4M.
pub const MAX_BASE64: usize = 4 << 20;
/// The tags answered when none were set with [`Emulator::tag_as`] / [`Emulator::tag_inline_as`]
/// (seed 002's example answer).
pub const DEFAULT_TAGS: [(&str, i64); 2] = [("天空", 27), ("女孩", 47)];

type Tags = Vec<(String, i64)>;

impl Emulator {
    /// The tags imagetag answers for a URL request naming object `key` (any bucket).
    pub fn tag_as(&self, key: &str, tags: &[(&str, i64)]) {
        self.inner
            .lock()
            .unwrap()
            .imagetag_tags
            .insert(key.into(), owned(tags));
    }

    /// The tags imagetag answers for inline (`image`) requests.
    pub fn tag_inline_as(&self, tags: &[(&str, i64)]) {
        self.inner.lock().unwrap().imagetag_inline = Some(owned(tags));
    }

    /// URL requests for object `key` (any bucket) answer -5062: the image is flagged as bad.
    pub fn mark_bad(&self, key: &str) {
        self.inner.lock().unwrap().imagetag_bad.insert(key.into());
    }
}

fn owned(tags: &[(&str, i64)]) -> Tags {
    tags.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

/// The meaning seed 002's table gives a code (the emulator's `message`, before any detail).
pub fn meaning(code: i64) -> &'static str {
    match code {
        0 => "success",
        3 => "错误的请求",
        4 => "签名为空",
        5 => "签名串错误",
        6 => "appid /存储桶/ url 不匹配",
        7 => "签名编码失败（内部错误）",
        8 => "签名解码失败（内部错误）",
        9 => "签名过期",
        10 => "appid 不存在",
        11 => "secretid 不存在",
        12 => "appid 不匹配",
        13 => "重放攻击",
        14 => "签名失败",
        15 => "操作太频繁，触发频控",
        16 => "内部错误",
        200 => "内部打包失败",
        201 => "内部解包失败",
        202 => "内部链接失败",
        203 => "内部处理超时",
        -1300 => "图片为空",
        -1308 => "url 图片下载失败",
        -1400 => "非法的图片格式",
        -1403 => "图片下载失败",
        -1404 => "图片无法识别",
        -1505 => "url 格式不对",
        -1506 => "图片下载超时",
        -1507 => "无法访问 url 对应的图片服务器",
        -5062 => "url 对应的图片已被标注为不良图片，无法访问",
        _ => "未知错误",
    }
}

/// An error answer: HTTP 200, `{"code": code, "message": …}` (how the SDK reads errors).
pub fn legacy_error(code: i64, detail: &str) -> Response {
    let message = if detail.is_empty() {
        meaning(code).to_string()
    } else if detail.starts_with(meaning(code)) {
        detail.to_string()
    } else {
        format!("{}: {detail}", meaning(code))
    };
    reply(
        200,
        "application/json",
        json!({"code": code, "message": message}).to_string(),
    )
}

pub(super) fn serve_legacy(
    inner: &Mutex<Inner>,
    method: &Method,
    raw_path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if raw_path != IMAGETAG_PATH {
        let e = json!({"code": 3, "message": format!("no API at {raw_path} (emulated: {IMAGETAG_PATH})")});
        return reply(404, "application/json", e.to_string());
    }
    if method != Method::POST {
        let e = json!({"code": 3, "message": format!("{method} {IMAGETAG_PATH}: POST only")});
        return reply(405, "application/json", e.to_string());
    }
    match imagetag(inner, headers, body) {
        Ok(tags) => {
            let tags: Vec<Value> = tags
                .into_iter()
                .map(|(n, c)| json!({"tag_name": n, "tag_confidence": c}))
                .collect();
            reply(
                200,
                "application/json",
                json!({"code": 0, "message": "success", "tags": tags}).to_string(),
            )
        }
        Err((code, detail)) => legacy_error(code, &detail),
    }
}

type Answer<T> = Result<T, (i64, String)>;

fn imagetag(inner: &Mutex<Inner>, headers: &HeaderMap, body: &[u8]) -> Answer<Tags> {
    // No session token in this scheme: x-cos-security-token and the like are ignored.
    let auth = header_utf8(headers, "authorization").unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    let signed = vendor_sign::legacy::verify(&auth, SECRET_ID, SECRET_KEY, now)?;
    // Seed 002: application/json for url and image-as-Base64 (multipart/form-data, the file
    // upload form, is not emulated). The SDK's own Base64 call sends no content type at all.
    let ct = header(headers, "content-type").unwrap_or_default();
    let mime = ct.split(';').next().unwrap_or_default().trim();
    if !(mime.is_empty() || mime.eq_ignore_ascii_case("application/json")) {
        return Err((3, format!("content-type {ct:?}: application/json only")));
    }
    let req: Value =
        serde_json::from_slice(body).map_err(|e| (3, format!("body is not JSON: {e}")))?;
    if !req.is_object() {
        return Err((3, "body is not a JSON object".into()));
    }
    inner
        .lock()
        .unwrap()
        .api_bodies
        .push(("imagetag".into(), req.clone()));
    let appid = match &req["appid"] {
        Value::String(s) => s.as_str(),
        Value::Null => return Err((3, "appid is required".into())),
        other => return Err((3, format!("appid must be a string, not {other}"))),
    };
    if appid != signed.appid {
        return Err((
            12,
            format!("appid {appid:?}, signed for {:?}", signed.appid),
        ));
    }
    match &req["bucket"] {
        Value::Null => {}
        Value::String(b) if *b == signed.bucket => {}
        other => return Err((6, format!("bucket {other}, signed for {:?}", signed.bucket))),
    }
    match &req["url"] {
        Value::String(u) if !u.is_empty() => return by_url(inner, appid, u),
        Value::String(_) | Value::Null => {}
        other => return Err((-1505, format!("url must be a string, not {other}"))),
    }
    let text = match &req["image"] {
        Value::String(s) if !s.is_empty() => s,
        Value::String(_) | Value::Null => return Err((-1300, "neither url nor image".into())),
        other => return Err((-1400, format!("image must be Base64 text, not {other}"))),
    };
    if text.len() > MAX_BASE64 {
        return Err((
            -1400,
            format!("image is {} bytes of Base64, over 4M", text.len()),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| (-1400, format!("image is not Base64: {e}")))?;
    image_format(&bytes)?;
    let st = inner.lock().unwrap();
    Ok(st
        .imagetag_inline
        .clone()
        .unwrap_or_else(|| owned(&DEFAULT_TAGS)))
}

/// JPEG, PNG or BMP by magic bytes (seed 002: "图像格式为 jpg/png/bmp 其中之一").
fn image_format(b: &[u8]) -> Answer<&'static str> {
    if b.is_empty() {
        return Err((-1300, "the image has no bytes".into()));
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("jpg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("png")
    } else if b.starts_with(b"BM") {
        Ok("bmp")
    } else {
        let head: Vec<String> = b.iter().take(4).map(|x| format!("{x:02x}")).collect();
        Err((
            -1400,
            format!("not jpg/png/bmp (starts {})", head.join(" ")),
        ))
    }
}

/// `(bucket, appid)` of a public COS host `<name>-<appid>.cos.<region>.myqcloud.com`.
fn cos_bucket(host: &str) -> Option<(&str, &str)> {
    let (bucket, region) = host.strip_suffix(".myqcloud.com")?.split_once(".cos.")?;
    let (name, appid) = bucket.rsplit_once('-')?;
    let ok = !name.is_empty()
        && !name.contains('.')
        && !appid.is_empty()
        && appid.bytes().all(|c| c.is_ascii_digit())
        && !region.is_empty()
        && !region.contains('.');
    ok.then_some((bucket, appid))
}

fn by_url(inner: &Mutex<Inner>, appid: &str, url: &str) -> Answer<Tags> {
    let u = url::Url::parse(url).map_err(|e| (-1505, format!("{url:?}: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err((-1505, format!("{url:?}: not http(s)")));
    }
    let host = u.host_str().unwrap_or_default();
    // The emulator fetches nothing but its own COS objects: any other host is a server the
    // service could not reach, and no connection is attempted.
    let Some((_, url_appid)) = cos_bucket(host) else {
        return Err((
            -1507,
            format!("{host:?} is not a public COS host (<name>-<appid>.cos.<region>.myqcloud.com)"),
        ));
    };
    if url_appid != appid {
        return Err((6, format!("url of appid {url_appid}, request for {appid}")));
    }
    let (bucket, key) = presigned_object(inner, url).map_err(|e| (-1308, e))?;
    if inner.lock().unwrap().imagetag_bad.contains(&key) {
        return Err((-5062, String::new()));
    }
    let body = inner
        .lock()
        .unwrap()
        .objects
        .get(&(bucket.clone(), key.clone()))
        .map(|o| o.body.clone())
        .unwrap_or_default();
    image_format(&body)?;
    served_by_url(inner, "imagetag", &bucket, &key);
    let st = inner.lock().unwrap();
    Ok(st
        .imagetag_tags
        .get(&key)
        .cloned()
        .unwrap_or_else(|| owned(&DEFAULT_TAGS)))
}
