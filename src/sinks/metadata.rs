//! The small metadata summary written onto the object: ASCII-safe and within the store's
//! budget (2 KB on COS, counted over every user-metadata key and value).

use std::collections::BTreeMap;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::result::{TriageResult, SCHEMA_ID};

pub const VERDICT: &str = "triage-verdict";
pub const LABELS: &str = "triage-labels";
pub const SCHEMA: &str = "triage-schema";
pub const MARKER: &str = "triage-marker";
pub const RESULT: &str = "triage-result";
/// The categories of the keyword hits in the image's text, e.g. `ad,contact`.
pub const TEXT: &str = "triage-text";
/// The image sample list the upload matched: `block:<category>` or `allow`.
pub const LIST: &str = "triage-list";
/// `sha256:<hex>` of the bytes, where a copy onto itself changes the ETag (see
/// `ObjectMeta::copy_keeps_etag`): the content identity the guard then checks.
pub const CONTENT: &str = "triage-content";
/// `approve` or `block` where a human decided (`image-triage review`): `triage-verdict` is then
/// the human's, and the sidecar's `review` section says who and when.
pub const REVIEWED: &str = "triage-reviewed";

/// Header values must be visible ASCII; `,` separates labels and `%` starts an escape.
const VALUE_ESCAPES: &AsciiSet = &CONTROLS.add(b' ').add(b',').add(b'%').add(b'"').add(b'\\');

pub fn encode_value(v: &str) -> String {
    utf8_percent_encode(v, VALUE_ESCAPES).to_string()
}

pub fn decode_value(v: &str) -> String {
    percent_decode_str(v).decode_utf8_lossy().into_owned()
}

/// `<etag>:<config hash>`: "this content was triaged under this configuration".
pub fn marker(etag: &str, config_hash: &str) -> String {
    format!("{etag}:{config_hash}")
}

/// The summary entries for `result`, fitted into `budget` bytes together with the object's
/// `other` (non-triage) user metadata. Labels that do not fit are left out and a note says so.
pub fn summary(
    result: &TriageResult,
    etag: &str,
    // `sha256` hex of the content, where the write-back gives the object a new ETag.
    content: Option<&str>,
    sidecar: Option<&str>,
    other: &BTreeMap<String, String>,
    budget: usize,
) -> (BTreeMap<String, String>, Option<String>) {
    let mut out = BTreeMap::new();
    out.insert(VERDICT.to_string(), result.decision().to_string());
    out.insert(SCHEMA.to_string(), SCHEMA_ID.to_string());
    out.insert(MARKER.to_string(), marker(etag, &result.config_hash));
    if let Some(r) = &result.review {
        out.insert(REVIEWED.to_string(), r.decision.as_str().to_string());
    }
    if let Some(sha) = content {
        out.insert(CONTENT.to_string(), format!("sha256:{sha}"));
    }
    if let Some(k) = sidecar {
        out.insert(RESULT.to_string(), encode_value(k));
    }
    let used = |m: &BTreeMap<String, String>| -> usize {
        m.iter()
            .chain(other.iter().filter(|(k, _)| !k.starts_with("triage-")))
            .map(|(k, v)| k.len() + v.len())
            .sum()
    };
    let mut note = None;
    if used(&out) > budget {
        // Without room for the marker the guard cannot work; keep only what is essential.
        out.remove(RESULT);
        note = Some(format!(
            "metadata: the object's other user metadata leaves under {budget} bytes; only verdict and marker written"
        ));
    }
    // What the user's own libraries found comes before the labels: it explains the verdict.
    for (key, value) in findings_summary(result) {
        let mut trial = out.clone();
        trial.insert(key.to_string(), encode_value(&value));
        if used(&trial) <= budget {
            out = trial;
        } else if note.is_none() {
            note = Some(format!(
                "metadata: {key} left out for the {budget}-byte metadata budget"
            ));
        }
    }
    let labels = result.labels();
    if labels.is_empty() {
        return (out, note);
    }
    let mut value = String::new();
    let mut kept = 0;
    for l in labels {
        let enc = encode_value(&l.name);
        let candidate = if value.is_empty() {
            enc
        } else {
            format!("{value},{enc}")
        };
        let mut trial = out.clone();
        trial.insert(LABELS.to_string(), candidate.clone());
        if used(&trial) > budget {
            break;
        }
        value = candidate;
        kept += 1;
    }
    if kept > 0 {
        out.insert(LABELS.to_string(), value);
    }
    if kept < labels.len() && note.is_none() {
        note = Some(format!(
            "metadata: {} of {} labels fit the {budget}-byte metadata budget; the sidecar has all",
            kept,
            labels.len()
        ));
    }
    (out, note)
}

/// `triage-text` (hit categories) and `triage-list` (the matched sample list), when found.
pub fn findings_summary(result: &TriageResult) -> Vec<(&'static str, String)> {
    let mut out = vec![];
    if let Some(t) = &result.text {
        let categories = t.hit_categories();
        if !categories.is_empty() {
            out.push((TEXT, categories.join(",")));
        }
    }
    if let Some(m) = &result.image_list {
        let value = match (m.list, &m.category) {
            (crate::result::ListKind::Allow, _) => "allow".to_string(),
            (crate::result::ListKind::Block, Some(c)) => format!("block:{c}"),
            (crate::result::ListKind::Block, None) => "block".to_string(),
        };
        out.push((LIST, value));
    }
    out
}

/// Labels back from a `triage-labels` value.
pub fn decode_labels(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(decode_value)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{ObjectRef, Provider};
    use crate::result::{Label, LabelOutput};
    use crate::result::{Stage, TriageResult};

    fn result_with(labels: &[&str]) -> TriageResult {
        TriageResult {
            schema: SCHEMA_ID.into(),
            object: ObjectRef::new(Provider::Local, "b", "k.jpg"),
            image: None,
            labels: Stage::done(
                "local",
                LabelOutput {
                    labels: labels
                        .iter()
                        .map(|n| Label {
                            name: n.to_string(),
                            confidence: 90.0,
                            first_category: None,
                            second_category: None,
                        })
                        .collect(),
                    raw: serde_json::Value::Null,
                    flagged: None,
                    signals: vec![],
                },
            ),
            moderation: Stage::disabled(),
            text: None,
            image_list: None,
            verdict: None,
            skip_reason: None,
            actions: vec![],
            timings_ms: Default::default(),
            notes: vec![],
            config_hash: "abcdef012345".into(),
            processed_at: chrono::Utc::now(),
            tool: TriageResult::tool(),
            reused: None,
            review: None,
            failure: None,
        }
    }

    #[test]
    fn non_ascii_labels_are_percent_encoded_and_round_trip() {
        let r = result_with(&["天空", "Egyptian cat", "a,b%c"]);
        let (m, note) = summary(
            &r,
            "etag1",
            None,
            Some("triage-results/k.jpg.json"),
            &BTreeMap::new(),
            2048,
        );
        assert!(note.is_none());
        let v = &m[LABELS];
        assert_eq!(v, "%E5%A4%A9%E7%A9%BA,Egyptian%20cat,a%2Cb%25c");
        assert!(m.values().all(|v| v.bytes().all(|b| b.is_ascii_graphic())));
        assert_eq!(decode_labels(v), vec!["天空", "Egyptian cat", "a,b%c"]);
        assert_eq!(m[MARKER], "etag1:abcdef012345");
        assert_eq!(m[VERDICT], "skipped");
    }

    #[test]
    fn summary_stays_within_budget_counting_other_metadata() {
        let long: Vec<String> = (0..200).map(|i| format!("label-number-{i:03}")).collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        let r = result_with(&refs);
        let other = BTreeMap::from([("owner".to_string(), "x".repeat(500))]);
        let (m, note) = summary(&r, "e", None, None, &other, 2048);
        let total: usize = m
            .iter()
            .chain(other.iter())
            .map(|(k, v)| k.len() + v.len())
            .sum();
        assert!(total <= 2048, "{total}");
        assert!(note.unwrap().contains("labels fit"));
        assert!(decode_labels(&m[LABELS]).len() > 10);
        // Other metadata that already fills the budget still leaves verdict and marker.
        let other = BTreeMap::from([("owner".to_string(), "x".repeat(2040))]);
        let (m, note) = summary(&r, "e", None, Some("s"), &other, 2048);
        assert!(m.contains_key(MARKER) && !m.contains_key(LABELS) && !m.contains_key(RESULT));
        assert!(note.is_some());
    }
}
