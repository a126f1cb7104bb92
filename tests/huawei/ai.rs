//! The emulated Image Tagging and Content Moderation services (SDK-HMAC-SHA256 verified). The
//! image port also serves media tagging, celebrity recognition and main-object detection
//! (`ai_media.rs`). Image Tagging answers as `image.cn-north-4.myhuaweicloud.com` and, the other
//! region seed 004 lists for it, `image.cn-east-3.myhuaweicloud.com`.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};

use super::ai_text;
use super::apig_client::image_host;
use super::obs::apply_fault;
use super::*;

/// Regions Image Tagging is published in (seed 004, "3 使用限制"): 华北-北京四, 华东-上海一.
pub const IMAGE_REGIONS: &[&str] = &["cn-north-4", "cn-east-3"];

pub(super) fn apig_error(status: u16, code: &str, msg: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        json!({"error_code": code, "error_msg": msg}).to_string(),
    )
        .into_response()
}

/// Verify an `SDK-HMAC-SHA256` request with `tests/vendor_sign/apig.rs` (the gateway's rules,
/// its 15-minute `X-Sdk-Date` window included), plus the emulator's: `host` and `x-sdk-date`
/// signed, the production `Host`, the project id, and a temporary token that is signed.
pub(super) fn verify_apig(
    emu: &Emu,
    method: &Method,
    host: &str,
    uri: &Uri,
    h: &HeaderMap,
    body: &[u8],
) -> Result<(), Response> {
    let denied = |m: &str| {
        apig_error(
            401,
            "APIG.0301",
            &format!("Incorrect IAM authentication information: {m}"),
        )
    };
    let token = emu.0.lock().unwrap().token.clone();
    let pairs = header_pairs(h);
    let v = vendor_sign::apig::verify(
        &vendor_sign::apig::Request {
            method: method.as_str(),
            raw_path: uri.path(),
            raw_query: uri.query().unwrap_or(""),
            headers: &pairs,
            body,
        },
        AK,
        SK,
        token.as_deref(),
        chrono::Utc::now().timestamp(),
    )
    .map_err(|e| denied(&e))?;
    let signed = |n: &str| v.signed_headers.iter().any(|s| s == n);
    for must in ["host", "x-sdk-date"] {
        if !signed(must) {
            return Err(denied(&format!("{must} not signed")));
        }
    }
    if token.is_some() && !signed("x-security-token") {
        return Err(denied("X-Security-Token not signed"));
    }
    if header(h, "host") != host {
        return Err(denied("wrong Host"));
    }
    if header(h, "x-project-id") != PROJECT {
        return Err(denied("wrong X-Project-Id"));
    }
    Ok(())
}

/// The image a request names: a signed OBS URL (verified) or base64.
fn image_of(emu: &Emu, req: &Value) -> Result<Vec<u8>, Response> {
    if let Some(url) = req.get("url").and_then(Value::as_str) {
        return fetch_signed_url(emu, url).map_err(|m| {
            apig_error(
                400,
                "ModelArts.4603",
                &format!("image download failed: {m}"),
            )
        });
    }
    if let Some(b64) = req.get("image").and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| apig_error(400, "AIS.0103", "bad base64"));
    }
    Err(apig_error(400, "AIS.0101", "neither url nor image"))
}

async fn ai(
    emu: &Emu,
    service: &'static str,
    method: &Method,
    uri: &Uri,
    h: &HeaderMap,
    body: &[u8],
) -> Result<(Value, Vec<u8>), Response> {
    if let Some(r) = apply_fault(emu, service, false).await {
        return Err(r);
    }
    let host = match header(h, "host") {
        hs if service == "image" && IMAGE_REGIONS.iter().any(|r| hs == image_host(r)) => hs.into(),
        _ => format!("{service}.{REGION}.myhuaweicloud.com"),
    };
    verify_apig(emu, method, &host, uri, h, body)?;
    let req: Value = serde_json::from_slice(body)
        .map_err(|_| apig_error(400, "AIS.0101", "body is not JSON"))?;
    let img = image_of(emu, &req)?;
    if req.get("url").is_some() {
        *emu.0.lock().unwrap().url_served.entry(service).or_default() += img.len() as u64;
    }
    Ok((req, img))
}

pub(crate) async fn image(
    State(emu): State<Emu>,
    method: Method,
    uri: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(api) = ai_media::api_of(uri.path()) {
        return ai_media::handle(&emu, api, &method, &uri, &h, &body).await;
    }
    let call = emu.arrived("image", &method, &uri);
    let r = if uri.path() != format!("/v2/{PROJECT}/image/tagging") {
        apig_error(
            404,
            "APIG.0101",
            "The API does not exist or has not been published",
        )
    } else {
        match ai(&emu, "image", &method, &uri, &h, &body).await {
            Err(r) => r,
            Ok((req, _img)) => {
                let zh = req.get("language").and_then(Value::as_str) == Some("zh");
                let threshold = req.get("threshold").and_then(Value::as_f64).unwrap_or(60.0);
                let all = [
                    ("猫", "Cat", "动物", "Animal", "92.5"),
                    ("草地", "Grass", "植物", "Plant", "71.25"),
                    ("影子", "Shadow", "其他", "Other", "30.0"),
                ];
                let tags: Vec<Value> = all.iter().filter(|t| t.4.parse::<f64>().unwrap() >= threshold).map(|(zt, et, zy, ey, c)| json!({
                    "confidence": c, "type": if zh { zy } else { ey }, "tag": if zh { zt } else { et },
                    "i18n_tag": {"zh": zt, "en": et}, "i18n_type": {"zh": zy, "en": ey}, "instances": []
                })).collect();
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    json!({"result": {"tags": tags}}).to_string(),
                )
                    .into_response()
            }
        }
    };
    emu.answered(call, r.status().as_u16());
    r
}

/// Objects whose bytes contain `BLOCKME` are porn with 0.97 confidence; others pass. Text in
/// the image (a `TEXT:` marker, `ai_text.rs`) is read when the request asks for `image_text`:
/// `ocr_text`, and a blocking `image_text` detail per glossary label it hits.
pub(crate) async fn moderation(
    State(emu): State<Emu>,
    method: Method,
    uri: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let call = emu.arrived("moderation", &method, &uri);
    let r = if uri.path() != format!("/v3/{PROJECT}/moderation/image") {
        apig_error(
            404,
            "APIG.0101",
            "The API does not exist or has not been published",
        )
    } else {
        match ai(&emu, "moderation", &method, &uri, &h, &body).await {
            Err(r) => r,
            Ok((req, img)) => {
                if req.get("biz_type").is_none()
                    && (req.get("event_type").is_none() || req.get("categories").is_none())
                {
                    apig_error(
                        400,
                        "AIS.0102",
                        "event_type and categories are required without biz_type",
                    )
                } else {
                    let bad = img.windows(7).any(|w| w == b"BLOCKME");
                    let mut result = if bad {
                        json!({"suggestion":"block","category":"porn","details":[{"suggestion":"block","category":"porn","confidence":0.97,"label":"porn"}]})
                    } else {
                        json!({"suggestion":"pass","category":"","details":[]})
                    };
                    let text = ai_text::text_in(&img).filter(|_| ai_text::reads_text(&req));
                    if let Some(text) = text {
                        let hits = ai_text::image_text_details(&text);
                        if !hits.is_empty() && !bad {
                            result["suggestion"] = json!("block");
                            result["category"] = json!("image_text");
                        }
                        if let Some(ds) = result["details"].as_array_mut() {
                            ds.extend(hits);
                        }
                        result["ocr_text"] = json!(text);
                    }
                    (
                        StatusCode::OK,
                        [("content-type", "application/json")],
                        json!({"request_id":"emu-1","result":result}).to_string(),
                    )
                        .into_response()
                }
            }
        }
    };
    emu.answered(call, r.status().as_u16());
    r
}
