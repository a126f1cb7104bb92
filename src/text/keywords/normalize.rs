//! The one normalization keywords and text both go through, so that the tricks uploaders use to
//! dodge a word list (full-width letters, capitals, spaces, dashes or zero-width characters
//! between the characters) fold away: NFKC, then Unicode lower-case, then only the letters and
//! digits (`char::is_alphanumeric`) are matched.

use std::ops::Range;

use icu_normalizer::ComposingNormalizerBorrowed;

/// A segment longer than this (a base letter under a pile of combining marks, "zalgo" text) is
/// cut, so that finding segment ends stays linear in the line's length.
const MAX_SEGMENT_CHARS: usize = 32;

/// A normalized string.
///
/// It keeps no map back to the source: matching and the boundary rule work on the normalized
/// chars alone, and the source span of a hit, which only [`super::KeywordList::find`] reports, is
/// worked out afresh for the few lines that have one (see [`SourceMap`]). Mapping every line
/// would mean normalizing char by char, several times slower than one pass over the line.
#[derive(Debug, Default, Clone)]
pub(super) struct Norm {
    /// NFKC + lower-case, separators still in: the context the boundary rule looks at.
    pub full: Vec<char>,
    /// The letters and digits of `full`: what keywords are matched against.
    pub kept: Vec<char>,
    /// For each `kept` char, its index in `full`.
    pub at: Vec<u32>,
}

impl Norm {
    pub fn new(s: &str) -> Norm {
        let mut out = Norm {
            full: Vec::with_capacity(s.len()),
            kept: Vec::with_capacity(s.len()),
            at: Vec::with_capacity(s.len()),
        };
        if s.is_ascii() {
            // NFKC leaves ASCII as it is.
            for b in s.bytes() {
                out.push(char::from(b).to_ascii_lowercase());
            }
            return out;
        }
        let nfkc = ComposingNormalizerBorrowed::new_nfkc();
        for c in nfkc.normalize(s).chars() {
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else if caseless(c) {
                out.push(c);
            } else {
                for l in c.to_lowercase() {
                    out.push(l);
                }
            }
        }
        out
    }

    /// `a`, a space, then `b`: two OCR lines read as one (the space keeps the boundary rule from
    /// gluing the last word of `a` to the first of `b`).
    pub fn join(a: &Norm, b: &Norm) -> Norm {
        let full_off = a.full.len() as u32 + 1;
        let mut out = Norm {
            full: Vec::with_capacity(a.full.len() + 1 + b.full.len()),
            kept: Vec::with_capacity(a.kept.len() + b.kept.len()),
            at: Vec::with_capacity(a.at.len() + b.at.len()),
        };
        out.full.extend_from_slice(&a.full);
        out.full.push(' ');
        out.full.extend_from_slice(&b.full);
        out.kept.extend_from_slice(&a.kept);
        out.kept.extend_from_slice(&b.kept);
        out.at.extend_from_slice(&a.at);
        out.at.extend(b.at.iter().map(|&i| i + full_off));
        out
    }

    fn push(&mut self, c: char) {
        let keep = if c.is_ascii() {
            c.is_ascii_alphanumeric()
        } else {
            ideograph_or_syllable(c) || c.is_alphanumeric()
        };
        if keep {
            self.kept.push(c);
            self.at.push(self.full.len() as u32);
        }
        self.full.push(c);
    }

    /// The `full` char before the `kept` char at `k`, if any.
    pub fn before(&self, k: usize) -> Option<char> {
        let i = *self.at.get(k)? as usize;
        i.checked_sub(1).map(|j| self.full[j])
    }

    /// The `full` char after the `kept` char at `k`, if any.
    pub fn after(&self, k: usize) -> Option<char> {
        let i = *self.at.get(k)? as usize;
        self.full.get(i + 1).copied()
    }
}

/// Chars no case mapping touches (CJK, kana, Hangul, Yi, …: checked by a test), which skip the
/// lower-case tables, the larger part of the cost of normalizing CJK text.
pub(super) fn caseless(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0xA63F | 0xAC00..=0xD7A3 | 0x20000..=0x3FFFF)
}

/// CJK ideographs and Hangul syllables, all letters (checked by a test): skips the alphabetic
/// table, the larger part of the cost of normalizing CJK text once case is out of the way.
pub(super) fn ideograph_or_syllable(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7A3)
}

/// The normalized form of `s`: its letters and digits after NFKC and lower-casing.
pub fn normalize(s: &str) -> String {
    Norm::new(s).kept.into_iter().collect()
}

/// Where in a line each kept char of its `Norm` came from.
///
/// NFKC is applied segment by segment here, so that every normalized char knows its source: a
/// segment ends where normalizing the two sides apart gives what normalizing them together
/// gives. That is NFKC itself in all but contrived inputs; when it is not (the kept chars
/// differ from the line's `Norm`), every span is the whole line.
pub(super) struct SourceMap {
    /// Per kept char, the source bytes of its segment; `None` when segmenting went astray.
    kept: Option<Vec<Range<usize>>>,
    len: usize,
}

impl SourceMap {
    pub fn new(s: &str) -> SourceMap {
        let nfkc = ComposingNormalizerBorrowed::new_nfkc();
        let mut kept: Vec<(char, Range<usize>)> = Vec::with_capacity(s.len());
        let mut push_segment = |from: usize, to: usize| {
            for c in nfkc.normalize(&s[from..to]).chars() {
                kept.extend(
                    c.to_lowercase()
                        .filter(|l| l.is_alphanumeric())
                        .map(|l| (l, from..to)),
                );
            }
        };
        let mut seg_start = 0;
        let mut seg_chars = 0;
        for (i, c) in s.char_indices() {
            if i > 0
                && (seg_chars >= MAX_SEGMENT_CHARS
                    || starts_segment(c)
                    || splits_cleanly(&nfkc, &s[seg_start..i], c))
            {
                push_segment(seg_start, i);
                seg_start = i;
                seg_chars = 0;
            }
            seg_chars += 1;
        }
        if !s.is_empty() {
            push_segment(seg_start, s.len());
        }
        let same = kept.iter().map(|(c, _)| *c).eq(Norm::new(s).kept);
        SourceMap {
            kept: same.then(|| kept.into_iter().map(|(_, r)| r).collect()),
            len: s.len(),
        }
    }

    /// The source bytes of the kept chars `start..end`, separators between them included.
    pub fn span(&self, start: usize, end: usize) -> Range<usize> {
        let ranges = self.kept.as_deref().unwrap_or_default();
        match (
            ranges.get(start),
            end.checked_sub(1).and_then(|e| ranges.get(e)),
        ) {
            (Some(first), Some(last)) if start < end => first.start..last.end,
            _ => 0..self.len,
        }
    }
}

/// Chars that never combine with what precedes them under NFKC (starters that no composition
/// takes as its second char), so a segment can start there without asking the normalizer.
fn starts_segment(c: char) -> bool {
    c.is_ascii() || matches!(c as u32, 0x3000 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xFF01..=0xFF5E)
}

/// Whether normalizing `seg` and `c` apart gives what normalizing them together gives.
fn splits_cleanly(nfkc: &ComposingNormalizerBorrowed<'_>, seg: &str, c: char) -> bool {
    let mut buf = [0u8; 4];
    let c_str = c.encode_utf8(&mut buf);
    let mut both = String::with_capacity(seg.len() + c_str.len());
    both.push_str(seg);
    both.push_str(c_str);
    let both = nfkc.normalize(&both);
    let left = nfkc.normalize(seg);
    let right = nfkc.normalize(c_str);
    both.len() == left.len() + right.len() && both.starts_with(&*left) && both.ends_with(&*right)
}

/// How a keyword's first or last char meets the text next to a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Edge {
    /// Not Latin (CJK, Cyrillic, …): words are not space-separated in every such script, so
    /// there is no boundary rule.
    Free,
    /// A Latin letter: the text must not have a Latin letter right there (`sex` ≠ `Essex`).
    Letter,
    /// An ASCII digit: the text must not have a digit right there (`110` ≠ `1100`).
    Digit,
}

impl Edge {
    pub fn of(c: char) -> Edge {
        if c.is_ascii_digit() {
            Edge::Digit
        } else if is_latin_letter(c) {
            Edge::Letter
        } else {
            Edge::Free
        }
    }

    /// Whether a match edge of this kind may have `neighbour` next to it in the text.
    ///
    /// A letter next to a digit is a boundary: spammers glue numbers to the word (`wechat123456`,
    /// `qq12345`), and a letter/digit change is where a reader sees the word end anyway. A
    /// letter glued to letters is not (`mywechatid` does not hit `wechat`): otherwise short
    /// Latin keywords hit inside ordinary words (`ad` in `bad`, `sex` in `Essex`), which sends
    /// innocent uploads to review or blocks them; a glued spelling that matters can be listed
    /// as its own keyword, an unwanted hit inside a word cannot be taken back.
    pub fn allows(self, neighbour: Option<char>) -> bool {
        match (self, neighbour) {
            (_, None) | (Edge::Free, _) => true,
            (Edge::Letter, Some(n)) => !is_latin_letter(n),
            (Edge::Digit, Some(n)) => !n.is_ascii_digit(),
        }
    }
}

/// A Latin-script letter (after lower-casing): ASCII and the Latin blocks.
fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (c.is_alphabetic()
            && matches!(c as u32,
                0x00C0..=0x024F | 0x0250..=0x02AF | 0x1D00..=0x1DBF | 0x1E00..=0x1EFF
                | 0x2C60..=0x2C7F | 0xA720..=0xA7FF | 0xAB30..=0xAB6F))
}
