//! Text in images: the lines an OCR read (the local models or a vendor's moderation), and the
//! keyword hits found in them, in one shape whatever the cloud (the result's `text` section).

pub mod keywords;
pub mod vendor;

use serde::{Deserialize, Serialize};

/// At most this many lines are kept in a result (a poster can hold hundreds).
pub const MAX_LINES: usize = 50;
/// At most this many bytes of one line are kept.
pub const MAX_LINE_BYTES: usize = 300;
/// At most this many hits are kept.
pub const MAX_HITS: usize = 20;

/// One line of text found in the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextLine {
    pub text: String,
    /// 0–100, when the reader gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// `[x, y, width, height]` in the source image's pixels, when the reader gives a position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[u32; 4]>,
    /// The animation frame (or page) it was read in, when not the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<u32>,
}

/// Who decided that a line holds a forbidden word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HitSource {
    /// The user's keyword list (`TRIAGE_KEYWORDS`): scores its category.
    Keywords,
    /// The vendor's own keyword libraries: already part of the vendor's moderation scores.
    Vendor,
}

/// A keyword found in a line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextHit {
    /// Lower-case category, e.g. `ad`.
    pub category: String,
    /// The keyword as the list (or the vendor) wrote it.
    pub keyword: String,
    /// The line it was found in.
    pub line: String,
    pub source: HitSource,
    /// 0–100: what the hit scores its category (vendor hits: the vendor's score, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

/// The `text` section of a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextOutput {
    /// Who read the text: `local`, `ims`, `cos-ci`, `huawei`.
    pub reader: String,
    pub lines: Vec<TextLine>,
    #[serde(default)]
    pub hits: Vec<TextHit>,
    /// Lines (or hits) were left out to keep the result small.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl TextOutput {
    pub fn new(reader: &str, lines: Vec<TextLine>) -> Self {
        TextOutput {
            reader: reader.into(),
            lines,
            hits: vec![],
            truncated: false,
        }
    }

    /// Keep the section within [`MAX_LINES`], [`MAX_LINE_BYTES`] and [`MAX_HITS`] (lines are
    /// matched against keywords before this cut, so a hit is never lost to it).
    pub fn bound(&mut self) {
        if self.lines.len() > MAX_LINES {
            self.lines.truncate(MAX_LINES);
            self.truncated = true;
        }
        for line in &mut self.lines {
            if truncate_str(&mut line.text, MAX_LINE_BYTES) {
                self.truncated = true;
            }
        }
        if self.hits.len() > MAX_HITS {
            // Scoring hits first: they decide the verdict.
            self.hits.sort_by_key(|h| h.source != HitSource::Keywords);
            self.hits.truncate(MAX_HITS);
            self.truncated = true;
        }
        for hit in &mut self.hits {
            if truncate_str(&mut hit.line, MAX_LINE_BYTES) {
                self.truncated = true;
            }
        }
    }

    /// The categories of the hits, distinct, in order of first appearance.
    pub fn hit_categories(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![];
        for h in &self.hits {
            if !out.contains(&h.category.as_str()) {
                out.push(&h.category);
            }
        }
        out
    }
}

/// Cut `s` to at most `max` bytes on a character boundary; true when it was cut.
fn truncate_str(s: &mut String, max: usize) -> bool {
    let (kept, cut) = vendor::clip(s, max);
    let end = kept.len();
    s.truncate(end);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: &str) -> TextLine {
        TextLine {
            text: t.into(),
            confidence: None,
            bbox: None,
            frame: None,
        }
    }

    #[test]
    fn the_section_is_bounded_on_char_boundaries() {
        let mut t = TextOutput::new("local", (0..80).map(|_| line(&"加".repeat(200))).collect());
        t.bound();
        assert!(t.truncated);
        assert_eq!(t.lines.len(), MAX_LINES);
        assert!(t.lines.iter().all(|l| l.text.len() <= MAX_LINE_BYTES));
        assert_eq!(t.lines[0].text.chars().count(), MAX_LINE_BYTES / 3);
        let mut small = TextOutput::new("local", vec![line("hello")]);
        small.bound();
        assert!(!small.truncated);
    }
}
