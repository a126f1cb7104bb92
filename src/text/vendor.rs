//! What the vendors' moderation parsers share to put the text they return into a
//! [`TextOutput`]: bounded collection of lines and hits from untrusted answers, and boxes.

use super::{HitSource, TextHit, TextLine, TextOutput, MAX_HITS, MAX_LINES, MAX_LINE_BYTES};

/// `[x, y, width, height]` in whole pixels from a vendor's float box; `None` for a box without
/// area (IMS and CI send all zeros, or empty elements, when there is no position). A rotated
/// box (`Rotate`) keeps its own corner and size: the section has no angle to carry.
pub fn bbox(x: Option<f64>, y: Option<f64>, w: Option<f64>, h: Option<f64>) -> Option<[u32; 4]> {
    let (x, y, w, h) = (x?, y?, w?, h?);
    if ![x, y, w, h].iter().all(|v| v.is_finite()) || w < 1.0 || h < 1.0 {
        return None;
    }
    // `as` saturates: a negative corner is 0, a huge one u32::MAX.
    let px = |v: f64| v.round() as u32;
    Some([px(x), px(y), px(w), px(h)])
}

/// Lines a vendor parser keeps. More than the result's [`MAX_LINES`]: the pipeline matches the
/// user's keywords against the lines before it cuts the section to the result's bounds
/// ([`TextOutput::bound`], "so a hit is never lost to it"), so the parsers leave that cut to it
/// and only bound what an untrusted answer can make them hold.
pub const KEEP_LINES: usize = 2 * MAX_LINES;
/// Bytes of a line a vendor parser keeps: IMS documents its OCR text as at most 5000 bytes
/// (`OcrTextDetail.Text`, "OCR文本识别上限在5000字节内"); the result keeps [`MAX_LINE_BYTES`].
pub const KEEP_LINE_BYTES: usize = 5000;

/// Collects a vendor's OCR lines and keyword hits into a [`TextOutput`], deduplicated and
/// bounded while collecting ([`KEEP_LINES`] lines of [`KEEP_LINE_BYTES`], [`MAX_HITS`] hits:
/// vendor hits are not matched again, so more could only be cut), whatever an untrusted answer
/// lists: thousands of results, megabytes of text. Shared by the vendors' moderation parsers
/// (IMS, CI, Huawei), whose answers differ only in where the text sits.
pub struct TextBuilder {
    pub out: TextOutput,
}

impl TextBuilder {
    pub fn new(reader: &str) -> Self {
        TextBuilder {
            out: TextOutput::new(reader, vec![]),
        }
    }

    /// Keep `text` as a line (blank text is no line). The same text read again (another scene,
    /// another label's detail) stays one line, and lends it a position or confidence it lacked.
    pub fn line(&mut self, text: &str, confidence: Option<f32>, bbox: Option<[u32; 4]>) {
        let (text, cut) = clip(text.trim(), KEEP_LINE_BYTES);
        if text.is_empty() {
            return;
        }
        if let Some(l) = self.out.lines.iter_mut().find(|l| l.text == text) {
            l.bbox = l.bbox.or(bbox);
            l.confidence = l.confidence.or(confidence);
            self.out.truncated |= cut;
            return;
        }
        if self.out.lines.len() >= KEEP_LINES {
            self.out.truncated = true;
            return;
        }
        self.out.truncated |= cut;
        self.out.lines.push(TextLine {
            text: text.to_string(),
            confidence,
            bbox,
            frame: None,
        });
    }

    /// Keep a vendor keyword hit (a blank keyword or category is none); once per
    /// category, keyword and line.
    pub fn hit(&mut self, category: &str, keyword: &str, line: &str, score: Option<f32>) {
        let (keyword, cut_k) = clip(keyword.trim(), MAX_LINE_BYTES);
        let (line, cut_l) = clip(line.trim(), KEEP_LINE_BYTES);
        let category = category.trim();
        if keyword.is_empty() || category.is_empty() {
            return;
        }
        let known = self
            .out
            .hits
            .iter()
            .any(|h| h.category == category && h.keyword == keyword && h.line == line);
        if known {
            return;
        }
        if self.out.hits.len() >= MAX_HITS {
            self.out.truncated = true;
            return;
        }
        self.out.truncated |= cut_k || cut_l;
        self.out.hits.push(TextHit {
            category: category.to_string(),
            keyword: keyword.to_string(),
            line: line.to_string(),
            source: HitSource::Vendor,
            score,
        });
    }

    /// The section, for the pipeline to match and bound.
    pub fn finish(self) -> TextOutput {
        self.out
    }
}

/// `s` cut to at most `max` bytes on a character boundary, and whether it was cut.
pub fn clip(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}
