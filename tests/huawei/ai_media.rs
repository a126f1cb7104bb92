//! Image Recognition's media tagging, celebrity recognition and main-object detection, on the
//! image port beside tagging, shaped after `huaweicloudsdkimage` 3.1.219's models (checked by
//! `tests/emulator_checks/huawei_image_models.rs` against the fields the SDK declares):
//!
//! | API | path | log, fault and `url_served` key |
//! |---|---|---|
//! | 媒资图像标签 `RunImageMediaTagging` | `POST /v2/{project_id}/image/media-tagging` | `media-tagging` |
//! | 名人识别 `RunCelebrityRecognition` | `POST /v2/{project_id}/image/celebrity-recognition` | `celebrity` |
//! | 主体识别 `RunImageMainObjectDetection` | `POST /v3/{project_id}/image/main-object-detection` | `main-object` |
//!
//! Like the gateway, a call to another region's host (`image.<region>.myhuaweicloud.com`, region
//! not `cn-north-4`, the only one seed 004 lists for the three) or with another method is
//! answered 404 `APIG.0101` before anything else; then an injected fault; then the signature
//! ([`super::ai::verify_apig`]). The body must be a JSON object of the model's fields only (a
//! `null` counts as absent), each of the model's JSON type: unknown field `AIS.0012`, wrong type
//! or out-of-range value `AIS.0101`, no JSON object `AIS.0014`. `image` and `url` are "二选一"
//! (one of the two) in every model: neither (or only empty strings) is `AIS.0011`, both
//! `AIS.0101`. Seed 004's limits: PNG/JPEG/BMP/WEBP by magic bytes for all three (else
//! `AIS.0102`), base64 at most 10 MiB and the raw image at most 7.5 MiB (else `AIS.0103`), and
//! for media tagging and main-object detection sides of 1–10000 px, read from the image header
//! (else `AIS.0103`). A URL must be an OBS URL signed for this emulator (download failure:
//! `ModelArts.4603`, as for tagging); its bytes count into `url_served` under the API's key.
//!
//! Answers come from what [`Emu::media_tags_as`], [`Emu::celebrities_as`] and
//! [`Emu::main_objects_as`] set for the URL's object key; base64 requests and unset keys get the
//! defaults: [`default_media_tags`] (a cat with a box, grass, and a shadow under the default
//! threshold), no celebrity, and [`default_main_objects`] (one `main_object_box`).
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Map, Value};

use super::ai::{apig_error, verify_apig};
use super::obs::apply_fault;
use super::*;

/// A JSON type a request field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Json {
    Str,
    /// Any JSON number (the SDK's `float`).
    Num,
    /// A JSON integer (the SDK's `int`).
    Int,
}

/// One of the three APIs: where it lives, what it accepts.
#[derive(Debug)]
pub struct Api {
    /// Key of its log entries ([`Emu::calls`]), faults ([`Emu::fault`]) and `url_served`.
    pub op: &'static str,
    /// The resource path as the SDK's `image_client.py` declares it.
    pub path: &'static str,
    /// The body fields accepted, with their JSON types: nothing else is.
    pub fields: &'static [(&'static str, Json)],
    /// `threshold`: lowest, highest, default.
    pub threshold: (f64, f64, f64),
    /// Whether seed 004 bounds the image's sides (1–10000 px).
    pub sides: bool,
}

pub const MEDIA_TAGGING: Api = Api {
    op: "media-tagging",
    path: "/v2/{project_id}/image/media-tagging",
    fields: &[
        ("image", Json::Str),
        ("url", Json::Str),
        ("language", Json::Str),
        ("threshold", Json::Num),
        ("limit", Json::Int),
    ],
    // The model's text says "默认值：60" and, among its bounds, "默认值：0"; 60 is the API's.
    threshold: (0.0, 100.0, 60.0),
    sides: true,
};

pub const CELEBRITY: Api = Api {
    op: "celebrity",
    path: "/v2/{project_id}/image/celebrity-recognition",
    fields: &[
        ("image", Json::Str),
        ("url", Json::Str),
        ("threshold", Json::Num),
    ],
    threshold: (0.0, 1.0, 0.9),
    sides: false,
};

pub const MAIN_OBJECT: Api = Api {
    op: "main-object",
    path: "/v3/{project_id}/image/main-object-detection",
    fields: &[
        ("image", Json::Str),
        ("url", Json::Str),
        ("threshold", Json::Num),
    ],
    threshold: (0.0, 100.0, 30.0),
    sides: true,
};

pub const APIS: [&Api; 3] = [&MEDIA_TAGGING, &CELEBRITY, &MAIN_OBJECT];

/// The only region the three APIs are published in (seed 004, "3 使用限制").
pub const API_REGION: &str = "cn-north-4";

/// Media tagging: `limit`'s range and default.
pub const LIMIT: (i64, i64, i64) = (1, 150, 10);
pub const MAX_BASE64: usize = 10 * 1024 * 1024;
pub const MAX_RAW: usize = MAX_BASE64 / 4 * 3;
pub const MAX_SIDE: u32 = 10_000;

/// One media tag: names and type in both languages, confidence 0–100, detection boxes.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaTag {
    /// `(zh, en)`.
    pub tag: (String, String),
    /// `(zh, en)`.
    pub kind: (String, String),
    pub confidence: f64,
    /// `([width, height, top_left_x, top_left_y], confidence 0–100)`.
    pub instances: Vec<([i64; 4], f64)>,
}

impl MediaTag {
    pub fn new(tag_zh: &str, tag_en: &str, type_zh: &str, type_en: &str, confidence: f64) -> Self {
        MediaTag {
            tag: (tag_zh.into(), tag_en.into()),
            kind: (type_zh.into(), type_en.into()),
            confidence,
            instances: vec![],
        }
    }
    /// Add a box `[width, height, top_left_x, top_left_y]` found with `confidence`.
    pub fn with_box(mut self, b: [i64; 4], confidence: f64) -> Self {
        self.instances.push((b, confidence));
        self
    }
}

/// One main-object result: `main_object_box` or `bounding_box`, location
/// `[width, height, top_left_x, top_left_y]`, confidence 0–100.
#[derive(Debug, Clone, PartialEq)]
pub struct MainObject {
    pub label: String,
    pub location: [f64; 4],
    pub confidence: f64,
}

impl MainObject {
    pub fn new(label: &str, location: [f64; 4], confidence: f64) -> Self {
        MainObject {
            label: label.into(),
            location,
            confidence,
        }
    }
}

/// Answers set per object key.
#[derive(Debug, Default)]
pub struct Configured {
    pub media_tags: HashMap<String, Vec<MediaTag>>,
    /// `(name, confidence 0–1)`.
    pub celebrities: HashMap<String, Vec<(String, f64)>>,
    pub main_objects: HashMap<String, Vec<MainObject>>,
}

/// Cat 92.5 (type animal, one box), grass 71.25 (plant), shadow 30.0 (other; under the default
/// threshold of 60).
pub fn default_media_tags() -> Vec<MediaTag> {
    vec![
        MediaTag::new("猫", "Cat", "动物", "Animal", 92.5).with_box([320, 240, 40, 60], 88.1),
        MediaTag::new("草地", "Grass", "植物", "Plant", 71.25),
        MediaTag::new("影子", "Shadow", "其他", "Other", 30.0),
    ]
}

/// One `main_object_box` at the SDK's example location, confidence 91.37.
pub fn default_main_objects() -> Vec<MainObject> {
    vec![MainObject::new(
        "main_object_box",
        [139.58, 261.32, 256.13, 85.2],
        91.37,
    )]
}

impl Emu {
    /// Media tags for URL requests naming object `key` (any bucket), instead of the defaults.
    pub fn media_tags_as(&self, key: &str, tags: &[MediaTag]) {
        let mut g = self.0.lock().unwrap();
        g.image_answers.media_tags.insert(key.into(), tags.to_vec());
    }
    /// Celebrities `(name, confidence 0–1)` in object `key`; faces 357×510 px, side by side.
    pub fn celebrities_as(&self, key: &str, people: &[(&str, f64)]) {
        let people = people.iter().map(|(n, c)| (n.to_string(), *c)).collect();
        let mut g = self.0.lock().unwrap();
        g.image_answers.celebrities.insert(key.into(), people);
    }
    /// Main objects in object `key`, instead of the default.
    pub fn main_objects_as(&self, key: &str, objects: &[MainObject]) {
        let mut g = self.0.lock().unwrap();
        g.image_answers
            .main_objects
            .insert(key.into(), objects.to_vec());
    }
}

/// The API `path` names (project included), if it is one of the three.
pub(super) fn api_of(path: &str) -> Option<&'static Api> {
    APIS.into_iter()
        .find(|a| a.path.replace("{project_id}", PROJECT) == path)
}

pub(super) async fn handle(
    emu: &Emu,
    api: &'static Api,
    method: &Method,
    uri: &Uri,
    h: &HeaderMap,
    body: &[u8],
) -> Response {
    let call = emu.arrived(api.op, method, uri);
    let r = answer(emu, api, method, uri, h, body)
        .await
        .unwrap_or_else(|e| e);
    emu.answered(call, r.status().as_u16());
    r
}

async fn answer(
    emu: &Emu,
    api: &'static Api,
    method: &Method,
    uri: &Uri,
    h: &HeaderMap,
    body: &[u8],
) -> Result<Response, Response> {
    let region = header(h, "host")
        .strip_prefix("image.")
        .and_then(|r| r.strip_suffix(".myhuaweicloud.com"));
    if method != Method::POST || region.is_some_and(|r| r != API_REGION) {
        return Err(apig_error(
            404,
            "APIG.0101",
            "The API does not exist or has not been published",
        ));
    }
    if let Some(r) = apply_fault(emu, api.op, false).await {
        return Err(r);
    }
    verify_apig(
        emu,
        method,
        &format!("image.{API_REGION}.myhuaweicloud.com"),
        uri,
        h,
        body,
    )?;
    let req = parse(api, body)?;
    let (img, key) = match &req.source {
        Source::Url(url) => {
            let img = fetch_signed_url(emu, url).map_err(|m| {
                apig_error(
                    400,
                    "ModelArts.4603",
                    &format!("image download failed: {m}"),
                )
            })?;
            *emu.0.lock().unwrap().url_served.entry(api.op).or_default() += img.len() as u64;
            (img, url_key(url))
        }
        Source::Base64(b64) => {
            if b64.len() > MAX_BASE64 {
                return Err(too_big("the base64 image is over 10 MB"));
            }
            let img = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| invalid("image is not base64"))?;
            (img, None)
        }
    };
    check_image(api, &img)?;
    let g = emu.0.lock().unwrap();
    let set = &g.image_answers;
    let key = key.as_deref().unwrap_or("");
    let out = match api.op {
        "media-tagging" => {
            let all = set
                .media_tags
                .get(key)
                .cloned()
                .unwrap_or_else(default_media_tags);
            json!({"result": {"tags": media_tags(&all, &req)}})
        }
        "celebrity" => {
            let people = set.celebrities.get(key).cloned().unwrap_or_default();
            let result: Vec<Value> = people
                .iter()
                .enumerate()
                .filter(|(_, (_, c))| *c >= req.threshold)
                .map(|(i, (name, c))| {
                    json!({"label": name, "confidence": c,
                           "face_detail": {"w": 357, "h": 510, "x": 260 + 400 * i as i64, "y": 201}})
                })
                .collect();
            json!({ "result": result })
        }
        _ => {
            let objects = set
                .main_objects
                .get(key)
                .cloned()
                .unwrap_or_else(default_main_objects);
            let result: Vec<Value> = objects
                .iter()
                .filter(|o| o.confidence >= req.threshold)
                .map(|o| {
                    let [w, h, x, y] = o.location.map(num_str);
                    json!({"label": o.label, "confidence": num_str(o.confidence),
                           "location": {"width": w, "height": h, "top_left_x": x, "top_left_y": y}})
                })
                .collect();
            json!({ "result": result })
        }
    };
    Ok((
        StatusCode::OK,
        [("content-type", "application/json")],
        out.to_string(),
    )
        .into_response())
}

enum Source {
    Url(String),
    Base64(String),
}

struct Req {
    source: Source,
    threshold: f64,
    en: bool,
    limit: usize,
}

fn invalid(m: &str) -> Response {
    apig_error(
        400,
        "AIS.0101",
        &format!("The input parameter is invalid: {m}"),
    )
}

fn too_big(m: &str) -> Response {
    apig_error(
        400,
        "AIS.0103",
        &format!("The image size does not meet the requirements: {m}"),
    )
}

/// The body checked against `api`'s model.
fn parse(api: &Api, body: &[u8]) -> Result<Req, Response> {
    let not_json = || {
        apig_error(
            400,
            "AIS.0014",
            "The JSON format of the input data is incorrect.",
        )
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| not_json())?;
    let obj: &Map<String, Value> = v.as_object().ok_or_else(not_json)?;
    for (name, value) in obj {
        let Some((_, kind)) = api.fields.iter().find(|(n, _)| n == name) else {
            return Err(apig_error(
                400,
                "AIS.0012",
                &format!("The request parameter is not supported: {name}"),
            ));
        };
        let ok = match kind {
            _ if value.is_null() => true,
            Json::Str => value.is_string(),
            Json::Num => value.is_number(),
            Json::Int => value.is_i64() || value.is_u64(),
        };
        if !ok {
            return Err(invalid(&format!("{name} must be {kind:?}")));
        }
    }
    let text = |n: &str| obj.get(n).and_then(Value::as_str).filter(|s| !s.is_empty());
    let source = match (text("image"), text("url")) {
        (None, None) => {
            return Err(apig_error(
                400,
                "AIS.0011",
                "The request parameter is missing or left empty: image or url",
            ))
        }
        (Some(_), Some(_)) => return Err(invalid("image and url are mutually exclusive")),
        (Some(b), None) => Source::Base64(b.into()),
        (None, Some(u)) => Source::Url(u.into()),
    };
    let (lo, hi, default) = api.threshold;
    let threshold = obj
        .get("threshold")
        .and_then(Value::as_f64)
        .unwrap_or(default);
    if !(lo..=hi).contains(&threshold) {
        return Err(invalid(&format!("threshold must be within {lo}–{hi}")));
    }
    let en = match text("language").unwrap_or("zh") {
        "zh" => false,
        "en" => true,
        _ => return Err(invalid("language must be zh or en")),
    };
    let limit = obj.get("limit").and_then(Value::as_i64).unwrap_or(LIMIT.2);
    if !(LIMIT.0..=LIMIT.1).contains(&limit) {
        return Err(invalid("limit must be within 1–150"));
    }
    Ok(Req {
        source,
        threshold,
        en,
        limit: limit as usize,
    })
}

fn media_tags(all: &[MediaTag], req: &Req) -> Vec<Value> {
    let mut kept: Vec<&MediaTag> = all
        .iter()
        .filter(|t| t.confidence >= req.threshold)
        .collect();
    kept.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    kept.truncate(req.limit);
    kept.iter()
        .map(|t| {
            let pick = |p: &(String, String)| if req.en { p.1.clone() } else { p.0.clone() };
            let instances: Vec<Value> = t
                .instances
                .iter()
                .map(|([w, h, x, y], c)| {
                    json!({"bounding_box": {"width": w, "height": h, "top_left_x": x, "top_left_y": y},
                           "confidence": num_str(*c)})
                })
                .collect();
            json!({
                "confidence": num_str(t.confidence),
                "type": pick(&t.kind),
                "tag": pick(&t.tag),
                "i18n_tag": {"zh": t.tag.0, "en": t.tag.1},
                "i18n_type": {"zh": t.kind.0, "en": t.kind.1},
                "instances": instances,
            })
        })
        .collect()
}

/// A float as the service prints it in strings: `92.5`, `30.0`.
fn num_str(f: f64) -> String {
    if f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// The object key of a signed OBS URL.
fn url_key(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let path = &rest[rest.find('/')?..];
    Some(key_of(path.split_once('?').map_or(path, |(p, _)| p)))
}

/// Seed 004's format, size and side limits.
fn check_image(api: &Api, img: &[u8]) -> Result<(), Response> {
    if img.len() > MAX_RAW {
        return Err(too_big("the image is over 7.5 MB"));
    }
    let Some(format) = format_of(img) else {
        return Err(apig_error(
            400,
            "AIS.0102",
            "The image format is not supported: PNG, JPEG, BMP or WEBP only",
        ));
    };
    if api.sides {
        let (w, h) = sides_of(format, img).ok_or_else(|| too_big("unreadable dimensions"))?;
        if !(1..=MAX_SIDE).contains(&w) || !(1..=MAX_SIDE).contains(&h) {
            return Err(too_big(&format!("{w}×{h} px; sides must be 1–10000 px")));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    Bmp,
    Webp,
}

/// The format by its magic bytes.
pub fn format_of(b: &[u8]) -> Option<Format> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if b.starts_with(b"BM") {
        Some(Format::Bmp)
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some(Format::Webp)
    } else {
        None
    }
}

/// Width and height from the header (PNG IHDR; JPEG's first SOFn; BMP's info header; WEBP's
/// VP8, VP8L or VP8X chunk).
pub fn sides_of(format: Format, b: &[u8]) -> Option<(u32, u32)> {
    let be16 = |i: usize| Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?) as u32);
    let le16 = |i: usize| Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?) as u32);
    let le24 = |i: usize| Some(le16(i)? | (*b.get(i + 2)? as u32) << 16);
    let be32 = |i: usize| Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let le32 = |i: usize| Some(i32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?));
    match format {
        Format::Png => {
            if b.get(12..16)? != b"IHDR" {
                return None;
            }
            Some((be32(16)?, be32(20)?))
        }
        // BITMAPCOREHEADER (12 bytes) has 16-bit sides; the others signed 32-bit ones.
        Format::Bmp if le32(14)? == 12 => Some((le16(18)?, le16(20)?)),
        Format::Bmp => Some((le32(18)?.unsigned_abs(), le32(22)?.unsigned_abs())),
        Format::Jpeg => {
            let mut i = 2;
            while i + 9 < b.len() {
                match (b[i], b[i + 1]) {
                    (0xFF, 0xFF) => i += 1,
                    (0xFF, m) if (0xC0..=0xCF).contains(&m) && ![0xC4, 0xC8, 0xCC].contains(&m) => {
                        return Some((be16(i + 7)?, be16(i + 5)?));
                    }
                    (0xFF, _) => i += 2 + be16(i + 2)? as usize,
                    _ => return None,
                }
            }
            None
        }
        Format::Webp => match b.get(12..16)? {
            b"VP8 " => Some((le16(26)? & 0x3FFF, le16(28)? & 0x3FFF)),
            b"VP8L" => {
                let bits = le32(21)? as u32;
                Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            }
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            _ => None,
        },
    }
}
