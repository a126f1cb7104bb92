//! Loop and double-work guards. Pure decisions, so every rule has a unit test.
//!
//! Three things must not cause work: objects the function wrote itself (results and quarantine
//! prefixes), the `ObjectCreated:Copy` event that a metadata write-back fires on S3/COS/OBS, and
//! a re-delivered event for content already triaged under the same configuration.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::object::ObjectRef;
use crate::sinks::metadata::{self, MARKER};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub code: &'static str,
    pub reason: String,
    /// The verdict already stored on the object, when the skip is because it was triaged.
    pub existing_verdict: Option<String>,
}

/// Before touching the store: is this one of our own outputs?
pub fn own_output(obj: &ObjectRef, config: &Config) -> Option<Skip> {
    for (prefix, what) in [
        (&config.results_prefix, "results"),
        (&config.quarantine_prefix, "quarantine"),
    ] {
        if obj.key.starts_with(prefix.as_str()) {
            return Some(Skip {
                code: "own_output",
                reason: format!("{} is under the {what} prefix {prefix:?}", obj.key),
                existing_verdict: None,
            });
        }
    }
    None
}

/// After HEAD: does the object already carry our marker for this content and configuration?
/// `stored` is the object's user metadata (lower-case keys, no vendor prefix).
pub fn already_done(
    obj: &ObjectRef,
    stored: &BTreeMap<String, String>,
    etag: &str,
    config_hash: &str,
) -> Option<Skip> {
    // COS puts the object's metadata into the event itself, under the full header name.
    let from_event = obj
        .event_meta
        .iter()
        .find(|(k, _)| k.ends_with(&format!("-meta-{MARKER}")))
        .map(|(_, v)| v);
    let found = stored.get(MARKER).or(from_event)?;
    let want = metadata::marker(&normalize_etag(etag), config_hash);
    let found_norm = {
        let (e, h) = found.rsplit_once(':').unwrap_or((found.as_str(), ""));
        metadata::marker(&normalize_etag(e), h.trim())
    };
    if found_norm != want {
        return None;
    }
    let existing_verdict = stored.get(metadata::VERDICT).cloned();
    let is_copy = obj
        .event_name
        .as_deref()
        .is_some_and(|n| n.to_ascii_lowercase().contains("copy"));
    Some(if is_copy {
        Skip {
            code: "write_back_copy",
            reason: "copy event caused by the metadata write-back (marker matches this content and configuration)".into(),
            existing_verdict,
        }
    } else {
        Skip {
            code: "already_processed",
            reason: format!("already triaged: marker {found} matches this ETag and configuration"),
            existing_verdict,
        }
    })
}

/// ETags arrive quoted or not, in any case, depending on the API that reported them.
pub fn normalize_etag(e: &str) -> String {
    e.trim().trim_matches('"').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Provider;

    fn cfg() -> Config {
        Config::default()
    }

    #[test]
    fn own_outputs_are_skipped() {
        let c = cfg();
        let o = ObjectRef::new(Provider::S3, "b", "triage-results/cat.jpg.json");
        assert_eq!(own_output(&o, &c).unwrap().code, "own_output");
        let o = ObjectRef::new(Provider::S3, "b", "triage-quarantine/cat.jpg");
        assert!(own_output(&o, &c).unwrap().reason.contains("quarantine"));
        let o = ObjectRef::new(Provider::S3, "b", "photos/triage-results/cat.jpg");
        assert!(own_output(&o, &c).is_none());
    }

    #[test]
    fn marker_match_skips_and_copy_events_say_why() {
        let meta = BTreeMap::from([
            (MARKER.to_string(), "\"ABC\":h1".to_string()),
            ("triage-verdict".to_string(), "pass".to_string()),
        ]);
        let mut o = ObjectRef::new(Provider::S3, "b", "k.jpg");
        o.event_name = Some("ObjectCreated:Put".into());
        let s = already_done(&o, &meta, "abc", "h1").unwrap();
        assert_eq!(
            (s.code, s.existing_verdict.as_deref()),
            ("already_processed", Some("pass"))
        );
        o.event_name = Some("ObjectCreated:Copy".into());
        assert_eq!(
            already_done(&o, &meta, "\"abc\"", "h1").unwrap().code,
            "write_back_copy"
        );
        // Other content or other configuration: work again.
        assert!(already_done(&o, &meta, "abd", "h1").is_none());
        assert!(already_done(&o, &meta, "abc", "h2").is_none());
        assert!(already_done(&o, &BTreeMap::new(), "abc", "h1").is_none());
    }

    #[test]
    fn cos_event_metadata_counts_too() {
        let mut o = ObjectRef::new(Provider::Cos, "b-1250000000", "k.jpg");
        o.event_name = Some("cos:ObjectCreated:Copy".into());
        o.event_meta
            .insert("x-cos-meta-triage-marker".into(), "abc:h1".into());
        assert_eq!(
            already_done(&o, &BTreeMap::new(), "abc", "h1")
                .unwrap()
                .code,
            "write_back_copy"
        );
    }
}
