//! What the review page lists: one small summary per sidecar, the filters, and the walk that
//! fills a page from the listing newest first. Pure, so the paging rules have tests; the server
//! (review/mod.rs) reads the sidecars a walk asks for.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::result::{ReviewDecision, TriageResult};

/// A category counts for the category filter from this score (0-100) up: every image has a
/// `porn` score, most of them near 0.
pub const CATEGORY_MIN_SCORE: f32 = 10.0;
/// Categories shown per tile.
const TOP_CATEGORIES: usize = 3;

/// One sidecar in the listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub sidecar: String,
    /// The sidecar's size as listed: larger ones are not read (`MAX_SIDECAR_BYTES`).
    pub size: u64,
    /// The sidecar's ETag: a cached summary is for this version only.
    pub etag: String,
    pub at: Option<DateTime<Utc>>,
}

/// What a tile shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub key: String,
    pub sidecar: String,
    /// The ETag of the content the result describes: sent back with a decision (refused when
    /// the result has changed since) and part of the thumbnail URL (cached per version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `pass`, `review`, `block`, or `skipped` (not an image); `unreadable` for a sidecar that
    /// is not a result.
    pub verdict: String,
    pub reason: String,
    /// The machine verdict a human overrode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_verdict: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed: Option<Reviewed>,
    /// Highest category scores first (moderation, keyword hits, image lists), 0-100.
    pub categories: Vec<(String, f32)>,
    pub labels: Vec<String>,
    /// `category: keyword` per text hit.
    pub hits: Vec<String>,
    pub processed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reviewed {
    pub decision: ReviewDecision,
    pub reviewer: String,
    pub at: DateTime<Utc>,
}

impl Summary {
    pub fn of(result: &TriageResult, sidecar: &str) -> Summary {
        let mut categories: Vec<(String, f32)> = vec![];
        let mut add = |c: &str, s: f32| match categories.iter_mut().find(|(n, _)| n == c) {
            Some((_, old)) => *old = old.max(s),
            None => categories.push((c.to_string(), s)),
        };
        if let Some(out) = &result.moderation.output {
            for c in &out.categories {
                add(&c.category, c.score);
            }
        }
        let mut hits = vec![];
        if let Some(t) = &result.text {
            for h in &t.hits {
                add(&h.category, h.score.unwrap_or(100.0));
                hits.push(format!("{}: {}", h.category, h.keyword));
            }
        }
        if let Some(m) = &result.image_list {
            if let Some(c) = &m.category {
                add(c, 100.0);
            }
        }
        categories.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let reason = match &result.verdict {
            Some(v) => v.reason.clone(),
            None => result.skip_reason.clone().unwrap_or_default(),
        };
        Summary {
            key: result.object.key.clone(),
            sidecar: sidecar.to_string(),
            etag: result
                .object
                .etag
                .as_deref()
                .map(crate::pipeline::guard::normalize_etag),
            verdict: result.decision().to_string(),
            reason,
            machine_verdict: result
                .review
                .as_ref()
                .map(|r| r.machine_verdict.decision.as_str().to_string()),
            reviewed: result.review.as_ref().map(|r| Reviewed {
                decision: r.decision,
                reviewer: r.reviewer.clone(),
                at: r.at,
            }),
            categories,
            labels: result.labels().iter().map(|l| l.name.clone()).collect(),
            hits,
            processed_at: Some(result.processed_at),
            size: result
                .image
                .as_ref()
                .and_then(|i| Some((i.width?, i.height?))),
        }
    }

    /// A sidecar that could not be read as a result: listed only without a verdict filter.
    pub fn unreadable(sidecar: &str, why: &str) -> Summary {
        Summary {
            key: String::new(),
            sidecar: sidecar.to_string(),
            etag: None,
            verdict: "unreadable".into(),
            reason: why.to_string(),
            machine_verdict: None,
            reviewed: None,
            categories: vec![],
            labels: vec![],
            hits: vec![],
            processed_at: None,
            size: None,
        }
    }
}

/// The page's filters, as query parameters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Query {
    /// `review` when absent; `any` for every verdict.
    pub verdict: Option<String>,
    pub category: Option<String>,
    pub label: Option<String>,
    /// Text-hit filter: `any` for any hit, else a part of a hit's category or keyword.
    pub text: Option<String>,
    /// `YYYY-MM-DD` (UTC), inclusive.
    pub since: Option<String>,
    pub until: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub verdict: Option<String>,
    pub category: Option<String>,
    pub label: Option<String>,
    pub text: Option<String>,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

const VERDICTS: [&str; 5] = ["pass", "review", "block", "skipped", "unreadable"];

impl Filter {
    pub fn from_query(q: &Query) -> Result<Filter, String> {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase)
        };
        let verdict = match text(&q.verdict).as_deref() {
            None => Some("review".to_string()),
            Some("any") => None,
            Some(v) if VERDICTS.contains(&v) => Some(v.to_string()),
            Some(v) => {
                return Err(format!(
                    "verdict {v:?}: expected any, {}",
                    VERDICTS.join(", ")
                ))
            }
        };
        let date = |v: &Option<String>, name: &str| -> Result<Option<NaiveDate>, String> {
            match text(v) {
                None => Ok(None),
                Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| format!("{name} {d:?}: expected YYYY-MM-DD")),
            }
        };
        Ok(Filter {
            verdict,
            category: text(&q.category),
            label: text(&q.label),
            text: text(&q.text),
            since: date(&q.since, "since")?,
            until: date(&q.until, "until")?,
        })
    }

    /// Whether an entry written at `at` can match (decided from the listing, without reading).
    pub fn date_ok(&self, at: Option<DateTime<Utc>>) -> bool {
        let Some(day) = at.map(|t| t.date_naive()) else {
            return self.since.is_none() && self.until.is_none();
        };
        self.since.is_none_or(|s| day >= s) && self.until.is_none_or(|u| day <= u)
    }

    pub fn matches(&self, s: &Summary) -> bool {
        if self.verdict.as_deref().is_some_and(|v| v != s.verdict) {
            return false;
        }
        if let Some(c) = &self.category {
            let hit = s
                .categories
                .iter()
                .any(|(n, score)| n.to_lowercase() == *c && *score >= CATEGORY_MIN_SCORE);
            if !hit {
                return false;
            }
        }
        if let Some(l) = &self.label {
            if !s
                .labels
                .iter()
                .any(|n| n.to_lowercase().contains(l.as_str()))
            {
                return false;
            }
        }
        match self.text.as_deref() {
            None => true,
            Some("any") => !s.hits.is_empty(),
            Some(t) => s.hits.iter().any(|h| h.to_lowercase().contains(t)),
        }
    }
}

/// Tile data for the page: the top categories only.
pub fn for_tile(mut s: Summary) -> Summary {
    s.categories.truncate(TOP_CATEGORIES);
    s
}

/// How far a walk got.
#[derive(Debug, Clone, PartialEq)]
pub enum Walk {
    /// Read these entries' sidecars (indexes into the listing), then walk again.
    Read(Vec<usize>),
    /// The page: matching entries, and where the next page starts (`None`: the end).
    Page {
        matched: Vec<usize>,
        next: Option<usize>,
        scanned: usize,
    },
}

/// Fill a page of up to `limit` matches from `entries` (newest first), starting at `from`,
/// looking at no more than `max_scan` entries (the page then ends early, with a cursor).
/// `known(i)` is entry `i`'s summary when it has been read; entries not read yet are asked for
/// in batches of `batch`, so only the sidecars a page needs are read.
pub fn walk<'a>(
    entries: &[Entry],
    from: usize,
    limit: usize,
    max_scan: usize,
    batch: usize,
    filter: &Filter,
    known: impl Fn(usize) -> Option<&'a Summary>,
) -> Walk {
    let mut matched = vec![];
    let mut unread = vec![];
    let mut i = from;
    while i < entries.len() {
        if i - from >= max_scan.max(1) {
            break;
        }
        if filter.date_ok(entries[i].at) {
            match known(i) {
                None => {
                    unread.push(i);
                    if unread.len() >= batch.max(1) {
                        return Walk::Read(unread);
                    }
                }
                Some(s) if unread.is_empty() && filter.matches(s) => {
                    matched.push(i);
                    if matched.len() >= limit.max(1) {
                        i += 1;
                        break;
                    }
                }
                Some(_) => {}
            }
        }
        i += 1;
    }
    if !unread.is_empty() {
        return Walk::Read(unread);
    }
    Walk::Page {
        matched,
        next: (i < entries.len()).then_some(i),
        scanned: i - from,
    }
}

/// Newest first (by the listing's time; entries without one last), then by key.
pub fn sort_newest_first(entries: &mut [Entry]) {
    entries.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.sidecar.cmp(&b.sidecar)));
}

/// Whether a listed key under the results prefix is a sidecar (not a cost-guard record).
pub fn is_sidecar(relative: &str) -> bool {
    relative.ends_with(".json")
        && !relative.starts_with("_by-content/")
        && !relative.starts_with("_daily-cap/")
}

#[cfg(test)]
mod tests;
