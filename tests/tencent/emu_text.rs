//! What the emulated IMS and CI moderation read in an image. The text an object "contains" is
//! written in its bytes after a `TEXT:` marker (`TEXT:加微信 abc123`), up to a NUL, a line break
//! or [`MAX_TEXT`] bytes: decided from the object, never from the request (IMS reads text
//! whatever is asked; for CI the console policy decides, seed 001 / the sync API doc). The text
//! is matched against the emulator's keyword library ([`OCR_KEYWORDS`]; seed 001: OCR text is
//! checked against keyword libraries). Answers follow the documented shapes: IMS `OcrResults[]`
//! (`Scene, Suggestion, Label, SubLabel, Score, Text, Details[]{Text, Label, LibId, LibName,
//! Keywords[], Score, Location{X,Y,Width,Height,Rotate}, Rate, SubLabel}`, tencent.md §5 and
//! the SDK's `OcrResult` / `OcrTextDetail`), CI's root `Text` and per-scene
//! `OcrResults{Text, Keywords, Location}` (vendor-doc_tencent_ci_image_audit_sync.md).

use serde_json::{json, Value};

/// Marks the text an object's image holds.
pub const TEXT_MARKER: &[u8] = b"TEXT:";
/// At most this many bytes after the marker are the text.
pub const MAX_TEXT: usize = 200;
/// The emulated keyword library: keyword, IMS label.
pub const OCR_KEYWORDS: &[(&str, &str)] = &[("加微信", "Ad"), ("裸聊", "Porn")];
/// The score of a keyword hit (and of its label's OCR result).
pub const OCR_SCORE: u32 = 95;
/// The OCR's confidence in the text it read (`Rate`, 0–100).
pub const OCR_RATE: u32 = 99;

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

/// The labels `text` hits, each with its keywords, in library order.
pub fn hits(text: &str) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for (k, label) in OCR_KEYWORDS.iter().filter(|(k, _)| text.contains(k)) {
        match out.iter_mut().find(|(l, _)| l == label) {
            Some((_, ks)) => ks.push(k),
            None => out.push((label, vec![k])),
        }
    }
    out
}

/// Where the emulator says the text sits: (10, 20), 16 px a character, 32 px high.
pub fn location(text: &str) -> (f64, f64, f64, f64) {
    (10.0, 20.0, 16.0 * text.chars().count() as f64, 32.0)
}

/// IMS `OcrResults` for an image holding `text`: one OCR result; a detail per hit label.
pub fn ims_ocr_results(text: &str) -> Value {
    let hits = hits(text);
    let (x, y, w, h) = location(text);
    let details: Vec<Value> = hits
        .iter()
        .map(|(label, keywords)| {
            json!({"Text": text, "Label": label, "LibId": "", "LibName": "", "Keywords": keywords,
                "Score": OCR_SCORE, "Location": {"X": x, "Y": y, "Width": w, "Height": h, "Rotate": 0.0},
                "Rate": OCR_RATE, "SubLabel": ""})
        })
        .collect();
    let (suggestion, label, score) = match hits.first() {
        Some((label, _)) => ("Block", *label, OCR_SCORE),
        None => ("Pass", "Normal", 0),
    };
    json!([{"Scene": "OCR", "Suggestion": suggestion, "Label": label, "SubLabel": "",
        "Score": score, "Text": text, "Details": details}])
}

/// CI's scene container and its `Label` for an IMS label the library uses.
pub fn ci_scene(label: &str) -> (&'static str, &'static str) {
    match label {
        "Porn" => ("PornInfo", "Porn"),
        _ => ("AdsInfo", "Ads"),
    }
}

/// A CI `OcrResults` element for `text` and the keywords it hit.
pub fn ci_ocr_results(text: &str, keywords: &[&str]) -> String {
    let (x, y, w, h) = location(text);
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut xml = format!("<OcrResults><Text>{}</Text>", esc(text));
    for k in keywords {
        xml.push_str(&format!("<Keywords>{}</Keywords>", esc(k)));
    }
    xml.push_str(&format!(
        "<Location><X>{x}</X><Y>{y}</Y><Width>{w}</Width><Height>{h}</Height><Rotate>0</Rotate></Location></OcrResults>"
    ));
    xml
}

/// How severe a Suggestion is: the answer's top result is its most severe part's.
pub fn severity(suggestion: &str) -> u8 {
    match suggestion {
        "Block" => 2,
        "Review" => 1,
        _ => 0,
    }
}
