//! Keyword lists (`TRIAGE_KEYWORDS`): words and phrases that, found in an image's text, score a
//! category like any model would, so `TRIAGE_THRESHOLDS` decides review or block for them too.
//!
//! The file is UTF-8 (a leading BOM is skipped), read line by line:
//!
//! ```text
//! # Contact details in ads.          <- comment: first non-space char is `#`
//! [ad]                               <- section: every hit scores `ad` 100
//! 加微信
//! add wechat
//! [ad:60]                            <- section: every hit scores `ad` 60
//! 私聊
//! ```
//!
//! Blank lines are skipped. `[category]` or `[category:score]` starts a section: the category is
//! lower-cased and must be 1–32 of `a-z 0-9 _ -`; the score, 0–100 (default 100), is what each hit
//! of the section scores its category. Every other line, trimmed, is one keyword or phrase of the
//! current section (a `#` inside it is part of it). A category may have several sections; the
//! same keyword may sit in several categories (each one hits). Any error stops loading and names
//! its line.
//!
//! A line starting with `[` is always a header, one starting with `#` always a comment: neither
//! char counts in matching anyway (below), so a keyword never needs them.
//!
//! Matching folds the usual tricks away (see [`normalize()`]): both sides go through NFKC,
//! lower-casing, and lose everything but letters and digits, so `加 微 信`, `加-微-信`, `ＷｅＣｈａｔ`
//! and `wechat` with zero-width spaces between the letters all hit. Latin keywords match whole
//! words: one starting (ending) with a Latin letter does not hit when a Latin letter is glued to
//! it in the text (`sex` does not hit `Essex`), one starting (ending) with a digit not when a
//! digit is (`110` does not hit `1100`); a letter next to a digit is a word boundary (`wechat`
//! hits `wechat123`). Other scripts have no boundary rule. OCR cuts text into boxes, so each pair
//! of consecutive lines (of the same frame) is also read as one.

mod normalize;
#[cfg(test)]
mod tests;
mod trie;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use self::normalize::{Edge, Norm, SourceMap};
use self::trie::Trie;
use super::{HitSource, TextHit, TextOutput};

pub use self::normalize::normalize;

/// A keyword file may not be bigger than this (it is read whole at start-up).
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// A keyword file may not hold more keyword lines than this.
pub const MAX_KEYWORDS: usize = 100_000;
/// The score of a section whose header gives none.
pub const DEFAULT_SCORE: f32 = 100.0;

/// Names the matching rules in the fingerprint, so a change to them changes the configuration
/// hash even when the file does not change.
const RULES_VERSION: &str = "image-triage keywords v1: nfkc, lowercase, alphanumeric; latin edges";

/// Why a keyword file was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeywordError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: larger than the {} MiB limit", path.display(), MAX_FILE_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("{}: no keywords (only blank lines and comments)", path.display())]
    NoKeywords { path: PathBuf },
    #[error("{}: line {line}: {what}", path.display())]
    Line {
        path: PathBuf,
        /// 1-based.
        line: usize,
        what: LineError,
    },
}

impl KeywordError {
    /// The 1-based line the error is on, when it is about one line.
    pub fn line(&self) -> Option<usize> {
        match self {
            KeywordError::Line { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// What is wrong with one line of a keyword file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("keyword before any [category] header")]
    KeywordBeforeHeader,
    #[error("malformed header {0:?}: expected [category] or [category:score]")]
    MalformedHeader(String),
    #[error("bad category name {0:?}: expected 1-32 of a-z, 0-9, _ and -")]
    BadCategory(String),
    #[error("bad score {0:?}: expected a number from 0 to 100")]
    BadScore(String),
    #[error("keyword {0:?} has no letters or digits, so it would match any text")]
    EmptyKeyword(String),
    #[error("not valid UTF-8")]
    InvalidUtf8,
    #[error("more than {MAX_KEYWORDS} keywords")]
    TooManyKeywords,
    #[error("section [{0}] has no keywords")]
    EmptySection(String),
}

/// One keyword of one category.
#[derive(Debug, Clone)]
struct Entry {
    category: usize,
    /// As the file wrote it (trimmed).
    keyword: String,
    score: f32,
    normalized: String,
    /// How many chars the normalized form has.
    len: usize,
    first: Edge,
    last: Edge,
}

/// A keyword found in a line (see [`KeywordList::find`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Found<'k> {
    pub category: &'k str,
    /// As the file wrote it.
    pub keyword: &'k str,
    /// The section's score.
    pub score: f32,
    /// Byte range of the first occurrence in the line, separators and all.
    pub span: Range<usize>,
}

/// A parsed keyword file, indexed for matching.
#[derive(Clone)]
pub struct KeywordList {
    path: PathBuf,
    categories: Vec<String>,
    entries: Vec<Entry>,
    trie: Trie,
    /// The longest normalized keyword, in chars: bounds the cross-line search.
    max_len: usize,
}

impl fmt::Debug for KeywordList {
    // The entries and the index would drown any log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeywordList")
            .field("path", &self.path)
            .field("keywords", &self.entries.len())
            .field("categories", &self.categories)
            .finish()
    }
}

/// An open section while parsing.
struct Section {
    category: usize,
    score: f32,
    header_line: usize,
    keywords: usize,
}

impl KeywordList {
    /// Read and parse the file at `path`.
    pub fn load(path: &Path) -> Result<KeywordList, KeywordError> {
        let io = |source| KeywordError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        // One byte over the limit is enough to refuse the file, whatever its real size.
        file.take(MAX_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        KeywordList::parse(&bytes, path)
    }

    /// Parse a keyword file's content; `path` only names it in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<KeywordList, KeywordError> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(KeywordError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut categories: Vec<String> = vec![];
        let mut entries: Vec<Entry> = vec![];
        // (category, normalized) → entry: a keyword listed twice for a category hits once.
        let mut index: HashMap<(usize, String), usize> = HashMap::new();
        let mut section: Option<Section> = None;
        let mut keyword_lines = 0usize;
        let line_error = |line: usize, what: LineError| KeywordError::Line {
            path: path.to_path_buf(),
            line,
            what,
        };
        let close = |s: &Section, categories: &[String]| {
            if s.keywords == 0 {
                Err(line_error(
                    s.header_line,
                    LineError::EmptySection(categories[s.category].clone()),
                ))
            } else {
                Ok(())
            }
        };

        // A UTF-8 sequence never holds the byte `\n`, so splitting first is safe and lets an
        // encoding error name its line.
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let n = i + 1;
            let text =
                std::str::from_utf8(raw).map_err(|_| line_error(n, LineError::InvalidUtf8))?;
            // `trim` also takes the `\r` of CRLF files and ideographic spaces.
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            if text.starts_with('[') {
                if let Some(s) = &section {
                    close(s, &categories)?;
                }
                let (name, score) = parse_header(text).map_err(|e| line_error(n, e))?;
                let category = match categories.iter().position(|c| *c == name) {
                    Some(c) => c,
                    None => {
                        categories.push(name);
                        categories.len() - 1
                    }
                };
                section = Some(Section {
                    category,
                    score,
                    header_line: n,
                    keywords: 0,
                });
                continue;
            }
            let Some(s) = section.as_mut() else {
                return Err(line_error(n, LineError::KeywordBeforeHeader));
            };
            keyword_lines += 1;
            if keyword_lines > MAX_KEYWORDS {
                return Err(line_error(n, LineError::TooManyKeywords));
            }
            let kept = Norm::new(text).kept;
            let (Some(&first), Some(&last)) = (kept.first(), kept.last()) else {
                return Err(line_error(n, LineError::EmptyKeyword(text.to_string())));
            };
            s.keywords += 1;
            let normalized: String = kept.iter().collect();
            match index.get(&(s.category, normalized.clone())) {
                // Listed again for the same category: the higher score wins (the safer reading
                // of a list that contradicts itself).
                Some(&e) => {
                    if s.score > entries[e].score {
                        entries[e].score = s.score;
                        entries[e].keyword = text.to_string();
                    }
                }
                None => {
                    index.insert((s.category, normalized.clone()), entries.len());
                    entries.push(Entry {
                        category: s.category,
                        keyword: text.to_string(),
                        score: s.score,
                        normalized,
                        len: kept.len(),
                        first: Edge::of(first),
                        last: Edge::of(last),
                    });
                }
            }
        }
        match &section {
            Some(s) => close(s, &categories)?,
            None => {
                return Err(KeywordError::NoKeywords {
                    path: path.to_path_buf(),
                })
            }
        }
        let trie = Trie::build(entries.iter().map(|e| e.normalized.as_str()));
        let max_len = entries.iter().map(|e| e.len).max().unwrap_or(0);
        Ok(KeywordList {
            path: path.to_path_buf(),
            categories,
            entries,
            trie,
            max_len,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many keywords (a keyword listed twice for one category counts once).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The categories the file scores, in order of first appearance.
    pub fn categories(&self) -> Vec<&str> {
        self.categories.iter().map(String::as_str).collect()
    }

    /// SHA-256 (hex) of what the list matches and reports (categories, scores, keywords), not of
    /// its bytes: comments, blank lines, order and spacing around keywords do not change it.
    pub fn fingerprint(&self) -> String {
        let mut rows: Vec<(&str, &str, u32, &str)> = self
            .entries
            .iter()
            .map(|e| {
                let category = self.categories[e.category].as_str();
                (
                    category,
                    e.normalized.as_str(),
                    e.score.to_bits(),
                    e.keyword.as_str(),
                )
            })
            .collect();
        rows.sort_unstable();
        let mut h = Sha256::new();
        // Length-prefixed fields: no keyword text can forge a field boundary.
        let mut field = |s: &[u8]| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s);
        };
        field(RULES_VERSION.as_bytes());
        for (category, normalized, score, keyword) in rows {
            field(category.as_bytes());
            field(normalized.as_bytes());
            field(&score.to_le_bytes());
            field(keyword.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// The keywords found in one line: one per keyword (its first occurrence), in order of
    /// occurrence.
    pub fn find(&self, line: &str) -> Vec<Found<'_>> {
        let norm = Norm::new(line);
        let found = self.scan(&norm, 0..norm.kept.len(), None);
        if found.is_empty() {
            return vec![];
        }
        let map = SourceMap::new(line);
        found
            .into_iter()
            .map(|(e, at)| self.found(e, map.span(at.start, at.end)))
            .collect()
    }

    /// Add a hit to `text.hits` for each keyword found in its lines: one per (keyword, line),
    /// none that is already there. A keyword found only across two consecutive lines of the
    /// same frame reports the two joined with a space as its line.
    pub fn apply(&self, text: &mut TextOutput) {
        if self.entries.is_empty() || text.lines.is_empty() {
            return;
        }
        let norms: Vec<Norm> = text.lines.iter().map(|l| Norm::new(&l.text)).collect();
        let per_line: Vec<Vec<(usize, Range<usize>)>> = norms
            .iter()
            .map(|n| self.scan(n, 0..n.kept.len(), None))
            .collect();
        let mut seen: HashSet<(String, String, String)> = text
            .hits
            .iter()
            .filter(|h| h.source == HitSource::Keywords)
            .map(|h| (h.category.clone(), h.keyword.clone(), h.line.clone()))
            .collect();
        let mut new_hits = vec![];
        let mut push = |e: &Entry, line: &str| {
            let category = &self.categories[e.category];
            let key = (category.clone(), e.keyword.clone(), line.to_string());
            if seen.insert(key) {
                new_hits.push(TextHit {
                    category: category.clone(),
                    keyword: e.keyword.clone(),
                    line: line.to_string(),
                    source: HitSource::Keywords,
                    score: Some(e.score),
                });
            }
        };
        for (i, found) in per_line.iter().enumerate() {
            let line = &text.lines[i];
            for (e, _) in found {
                push(&self.entries[*e], &line.text);
            }
            let Some(next) = text.lines.get(i + 1) else {
                continue;
            };
            // Boxes of different frames (or pages) are not one text (no frame: the first).
            if line.frame.unwrap_or(0) != next.frame.unwrap_or(0) {
                continue;
            }
            let (a, b) = (&norms[i], &norms[i + 1]);
            if a.kept.is_empty() || b.kept.is_empty() {
                continue;
            }
            let joined = Norm::join(a, b);
            // Only matches that start in the last max_len - 1 chars of `a` can cross into `b`.
            let from = a.kept.len().saturating_sub(self.max_len.saturating_sub(1));
            let crossing = self.scan(&joined, from..a.kept.len(), Some(a.kept.len()));
            let mut joined_text = None;
            for (e, _) in crossing {
                let alone = |f: &Vec<(usize, Range<usize>)>| f.iter().any(|(x, _)| *x == e);
                if alone(found) || alone(&per_line[i + 1]) {
                    continue;
                }
                let joined_text =
                    joined_text.get_or_insert_with(|| format!("{} {}", line.text, next.text));
                push(&self.entries[e], joined_text);
            }
        }
        text.hits.extend(new_hits);
    }

    fn found(&self, e: usize, span: Range<usize>) -> Found<'_> {
        let entry = &self.entries[e];
        Found {
            category: &self.categories[entry.category],
            keyword: &entry.keyword,
            score: entry.score,
            span,
        }
    }

    /// The entries whose keyword occurs in `norm` starting at a kept index in `starts` (and,
    /// with `cross`, ending after that index), boundary rule checked, each once with the kept
    /// range of its first such occurrence.
    fn scan(
        &self,
        norm: &Norm,
        starts: Range<usize>,
        cross: Option<usize>,
    ) -> Vec<(usize, Range<usize>)> {
        let mut out: Vec<(usize, Range<usize>)> = vec![];
        let mut seen: HashSet<usize> = HashSet::new();
        for start in starts {
            self.trie.walk(&norm.kept[start..], |e, len| {
                let end = start + len;
                if cross.is_some_and(|c| end <= c) {
                    return;
                }
                let entry = &self.entries[e];
                if entry.first.allows(norm.before(start))
                    && entry.last.allows(norm.after(end - 1))
                    && seen.insert(e)
                {
                    out.push((e, start..end));
                }
            });
        }
        out
    }
}

/// `[category]` or `[category:score]` (spaces inside allowed).
fn parse_header(text: &str) -> Result<(String, f32), LineError> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| LineError::MalformedHeader(text.to_string()))?;
    let (name, score) = match inner.split_once(':') {
        Some((name, score)) => (name, Some(score.trim())),
        None => (inner, None),
    };
    let written = name.trim();
    let name = written.to_ascii_lowercase();
    let name_ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !name_ok {
        return Err(LineError::BadCategory(written.to_string()));
    }
    let score = match score {
        None => DEFAULT_SCORE,
        Some(s) => parse_score(s).ok_or_else(|| LineError::BadScore(s.to_string()))?,
    };
    Ok((name, score))
}

/// `50`, `87.5`: plain decimals only (`f32::from_str` would also take `inf`, `NaN` and `1e2`).
fn parse_score(s: &str) -> Option<f32> {
    let (int, frac) = match s.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (s, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !frac.is_none_or(digits) {
        return None;
    }
    let v: f32 = s.parse().ok()?;
    (0.0..=100.0).contains(&v).then_some(v)
}
