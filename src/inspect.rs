//! `image-triage inspect`: what is stored for one object, read back from the bucket itself.

use std::fmt::Write as _;

use serde::Serialize;

use crate::result::{sidecar_key, StageStatus, TriageResult};
use crate::sinks::metadata;
use crate::store::{ObjectStore, StoreError};

#[derive(Debug, Serialize)]
pub struct Report {
    pub bucket: String,
    pub key: String,
    /// False when the object is gone (deleted or quarantined) but its result remains.
    pub object_exists: bool,
    /// Our entries of the object's user metadata.
    pub metadata: std::collections::BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    pub result_key: String,
    pub result: Option<TriageResult>,
}

impl Report {
    pub fn found_anything(&self) -> bool {
        self.result.is_some() || !self.metadata.is_empty()
    }
}

pub async fn inspect(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    results_prefix: &str,
) -> Result<Report, StoreError> {
    let (object_exists, metadata, tags) = match store.head(bucket, key).await {
        Ok(head) => {
            let ours = head
                .metadata
                .into_iter()
                .filter(|(k, _)| k.starts_with("triage-"))
                .collect();
            (true, ours, store.get_tags(bucket, key).await?)
        }
        Err(StoreError::NotFound { .. }) => (false, Default::default(), vec![]),
        Err(e) => return Err(e),
    };
    let result_key = sidecar_key(results_prefix, key);
    let result = match store.get(bucket, &result_key).await {
        Ok(body) => serde_json::from_slice(&body).ok(),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(Report {
        bucket: bucket.into(),
        key: key.into(),
        object_exists,
        metadata,
        tags,
        result_key,
        result,
    })
}

/// The human-readable view.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}/{}", r.bucket, r.key);
    if !r.object_exists {
        let _ = writeln!(s, "  object      (not in the bucket: deleted or moved)");
    }
    if !r.found_anything() {
        let _ = writeln!(s, "  no triage result stored for this object");
        return s;
    }
    if let Some(res) = &r.result {
        match &res.verdict {
            Some(v) => {
                let _ = writeln!(
                    s,
                    "  verdict     {}  ({})",
                    v.decision.as_str().to_uppercase(),
                    v.reason
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "  verdict     SKIPPED  ({})",
                    res.skip_reason.as_deref().unwrap_or("-")
                );
            }
        }
        let labels: Vec<String> = res
            .labels()
            .iter()
            .map(|l| {
                let cat = match (&l.first_category, &l.second_category) {
                    (Some(a), Some(b)) => format!(" [{a}/{b}]"),
                    (Some(a), None) => format!(" [{a}]"),
                    _ => String::new(),
                };
                format!("{} {:.0}%{cat}", l.name, l.confidence)
            })
            .collect();
        let _ = writeln!(
            s,
            "  labels      {}",
            stage_line(
                &res.labels.analyzer,
                res.labels.status,
                res.labels.reason.as_deref(),
                &labels.join(", ")
            )
        );
        let moderation = res
            .moderation
            .output
            .as_ref()
            .map(|m| {
                let cats: Vec<String> = m
                    .categories
                    .iter()
                    .map(|c| format!("{} {:.1}", c.category, c.score))
                    .collect();
                format!("{} ({})", m.label, cats.join(", "))
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  moderation  {}",
            stage_line(
                &res.moderation.analyzer,
                res.moderation.status,
                res.moderation.reason.as_deref(),
                &moderation
            )
        );
        if let Some(t) = &res.text {
            render_text(&mut s, t);
        }
        if let Some(m) = &res.image_list {
            let what = match (m.list, &m.category) {
                (crate::result::ListKind::Allow, _) => "allow-list".to_string(),
                (crate::result::ListKind::Block, Some(c)) => format!("block-list ({c})"),
                (crate::result::ListKind::Block, None) => "block-list".to_string(),
            };
            let _ = writeln!(
                s,
                "  image list  {what} sample {} (hash distance {})",
                printable(&m.sample),
                m.distance
            );
        }
        if let Some(u) = &res.reused {
            let _ = writeln!(
                s,
                "  reused      result of the same bytes analysed {} ({})",
                u.analysed_at.format("%Y-%m-%d %H:%M:%S UTC"),
                printable(&u.record)
            );
        }
        if let Some(img) = &res.image {
            let dims = match (img.width, img.height) {
                (Some(w), Some(h)) => format!("{w}x{h}"),
                _ => "size unknown".into(),
            };
            let _ = writeln!(
                s,
                "  image       {} {dims}, {} bytes",
                img.format.as_str(),
                img.bytes
            );
        }
        for a in &res.actions {
            let _ = writeln!(
                s,
                "  action      {} {}{}",
                a.action,
                a.status,
                a.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
        }
        for n in &res.notes {
            let _ = writeln!(s, "  note        {}", printable(n));
        }
        let _ = writeln!(
            s,
            "  result      {} ({}, processed {})",
            r.result_key,
            res.schema,
            res.processed_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
    } else {
        let _ = writeln!(s, "  result      no sidecar at {}", r.result_key);
    }
    if !r.metadata.is_empty() {
        let meta: Vec<String> = r
            .metadata
            .iter()
            .map(|(k, v)| {
                let v = if k == metadata::LABELS {
                    metadata::decode_labels(v).join(", ")
                } else {
                    v.clone()
                };
                format!("{k}={v}")
            })
            .collect();
        let _ = writeln!(s, "  metadata    {}", meta.join("; "));
    }
    if !r.tags.is_empty() {
        let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(s, "  tags        {}", tags.join("; "));
    }
    s
}

/// The text section: every line (with its confidence) and every keyword hit.
fn render_text(s: &mut String, t: &crate::text::TextOutput) {
    let lines: Vec<String> = t
        .lines
        .iter()
        .map(|l| match l.confidence {
            Some(c) => format!("{:?} {c:.0}%", printable(&l.text)),
            None => format!("{:?}", printable(&l.text)),
        })
        .collect();
    let shown = if lines.is_empty() {
        "no text found".to_string()
    } else {
        lines.join(", ")
    };
    let more = if t.truncated { " (truncated)" } else { "" };
    let _ = writeln!(s, "  text        {shown}  ({}){more}", t.reader);
    for h in &t.hits {
        let by = match h.source {
            crate::text::HitSource::Keywords => "TRIAGE_KEYWORDS",
            crate::text::HitSource::Vendor => "vendor library",
        };
        let score = h.score.map(|v| format!(" {v:.0}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "  text hit    {}{score}: {:?} in {:?} ({by})",
            h.category,
            printable(&h.keyword),
            printable(&h.line)
        );
    }
}

/// Text from images and vendors, safe for a terminal (no control or escape characters).
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

fn stage_line(analyzer: &str, status: StageStatus, reason: Option<&str>, done: &str) -> String {
    match status {
        StageStatus::Done => format!("{done}  ({analyzer})"),
        StageStatus::Disabled => "disabled".into(),
        StageStatus::Skipped => format!("skipped by {analyzer}: {}", reason.unwrap_or("-")),
        StageStatus::Failed => format!("failed in {analyzer}: {}", reason.unwrap_or("-")),
    }
}
