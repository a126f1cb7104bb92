//! What the emulated Content Moderation v3 reads in an image. The text an object "contains" is
//! written in its bytes after a `TEXT:` marker (`TEXT:加微信 abc123`), up to a NUL, a line break
//! or [`MAX_TEXT`] bytes, as `BLOCKME` makes it porn: decided from the object. Whether the
//! service reads it is the request's: `ocr_text` is sent "只有在category参数配置image_text且检测出
//! 文本时" (SDK `ImageDetectionResult.ocr_text`), so only with `image_text` in `categories` (or
//! a `biz_type`, whose console policy the emulator takes to hold every category). The text is
//! matched against the emulator's glossary ([`GLOSSARY`]); a hit is an `image_text` detail with
//! the documented label (`ad`, `porn`, …: the 图文审核 labels) and `segments[]{segment}`
//! (SDK `ImageDetectionResultDetail`, `OCRTextDetail`; huawei_aws.md §6).

use serde_json::{json, Value};

/// Marks the text an object's image holds.
pub const TEXT_MARKER: &[u8] = b"TEXT:";
/// At most this many bytes after the marker are the text.
pub const MAX_TEXT: usize = 200;
/// The emulated built-in glossary: fragment, `image_text` label.
pub const GLOSSARY: &[(&str, &str)] = &[("加微信", "ad"), ("裸聊", "porn")];
/// The confidence of a glossary hit (0–1).
pub const CONFIDENCE: f64 = 0.95;

/// The text an object's image holds, if its bytes carry the marker.
pub fn text_in(body: &[u8]) -> Option<String> {
    let start = body
        .windows(TEXT_MARKER.len())
        .position(|w| w == TEXT_MARKER)?
        + TEXT_MARKER.len();
    let rest = &body[start..body.len().min(start + MAX_TEXT)];
    let end = rest
        .iter()
        .position(|b| matches!(b, 0 | b'\n' | b'\r'))
        .unwrap_or(rest.len());
    let text = String::from_utf8_lossy(&rest[..end]).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Whether the request makes the service read text: `image_text` among its categories, or a
/// policy (`biz_type`).
pub fn reads_text(req: &Value) -> bool {
    req.get("biz_type").is_some()
        || req
            .get("categories")
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| c == "image_text"))
}

/// The `image_text` details for `text`: one per label the glossary hits, with its segments.
pub fn image_text_details(text: &str) -> Vec<Value> {
    let mut out: Vec<(&str, Vec<Value>)> = Vec::new();
    for (fragment, label) in GLOSSARY.iter().filter(|(f, _)| text.contains(f)) {
        let seg = json!({"segment": fragment});
        match out.iter_mut().find(|(l, _)| l == label) {
            Some((_, segs)) => segs.push(seg),
            None => out.push((label, vec![seg])),
        }
    }
    out.into_iter()
        .map(|(label, segments)| {
            json!({"suggestion": "block", "category": "image_text", "confidence": CONFIDENCE,
                "label": label, "segments": segments})
        })
        .collect()
}
