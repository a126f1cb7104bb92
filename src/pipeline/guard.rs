//! Loop and double-work guards. Pure decisions, so every rule has a unit test.
//!
//! Three things must not cause work: objects the function wrote itself (results and quarantine
//! prefixes), the `ObjectCreated:Copy` event that a metadata write-back fires on S3/COS/OBS, and
//! a re-delivered event for content already triaged under the same configuration.

use std::collections::BTreeMap;

use crate::config::trust::{Claim, MarkerSecret};
use crate::config::Config;
use crate::object::ObjectRef;
use crate::sinks::metadata::{self, MARKER};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub code: &'static str,
    pub reason: String,
    /// The verdict already stored on the object, when the skip is because it was triaged.
    pub existing_verdict: Option<String>,
    /// What the marker claims: the ETag and configuration hash it was written for. Without a
    /// marker secret the claim must be confirmed by the function's own sidecar.
    pub claim: Option<(String, String)>,
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
                claim: None,
            });
        }
    }
    None
}

/// What the object's marker says about earlier work on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// Nothing to skip: no marker, or one for other content or another configuration.
    None,
    /// Finished work: skip.
    Done(Skip),
    /// The marker names another ETag, but also the content's SHA-256 (a copy onto itself
    /// gives multipart and SSE-KMS objects a new ETag): skip if the bytes hash to `sha256`.
    CheckContent { sha256: String, skip: Skip },
}

/// After HEAD: does the object already carry a marker for this content? `stored` is the
/// object's user metadata (lower-case keys, no vendor prefix).
///
/// A re-delivered upload event is finished work when the marker matches this content and this
/// configuration (`already_processed`). A copy event is the echo of a metadata write-back when
/// the marker matches this content under any configuration (`write_back_copy`): two
/// deployments on one bucket each receive the other's copy events, and neither must answer
/// them with another copy. The original upload's own event reaches every deployment.
///
/// With a marker secret the marker counts only with a valid signature over bucket, key, the
/// ETag and configuration it names and the content hash: an uploader who sets `triage-*`
/// metadata cannot make one. Without a secret the caller confirms the claim against the sidecar.
pub fn already_done(
    obj: &ObjectRef,
    stored: &BTreeMap<String, String>,
    etag: &str,
    config_hash: &str,
    secret: Option<&MarkerSecret>,
) -> Prior {
    // COS puts the object's metadata into the event itself, under the full header name.
    let from_event = |name: &str| {
        obj.event_meta
            .iter()
            .find(|(k, _)| k.ends_with(&format!("-meta-{name}")))
            .map(|(_, v)| v)
    };
    let Some(found) = stored.get(MARKER).or(from_event(MARKER)) else {
        return Prior::None;
    };
    let mut parts = found.splitn(3, ':');
    let (found_etag, found_hash, signature) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default().trim(),
        parts.next().unwrap_or_default().trim(),
    );
    let content = stored
        .get(metadata::CONTENT)
        .or(from_event(metadata::CONTENT))
        .map(String::as_str)
        .unwrap_or_default();
    if let Some(secret) = secret {
        let etag_claimed = normalize_etag(found_etag);
        let verdict = stored
            .get(metadata::VERDICT)
            .or(from_event(metadata::VERDICT))
            .map(String::as_str)
            .unwrap_or_default();
        let claim = Claim {
            bucket: &obj.bucket,
            key: &obj.key,
            etag: &etag_claimed,
            config_hash: found_hash,
            content,
            verdict,
        };
        if !secret.verify(signature, &claim) {
            return Prior::None;
        }
    }
    let is_copy = obj
        .event_name
        .as_deref()
        .is_some_and(|n| n.to_ascii_lowercase().contains("copy"));
    if !is_copy && found_hash != config_hash {
        return Prior::None;
    }
    let claim = Some((normalize_etag(found_etag), found_hash.to_string()));
    let existing_verdict = stored.get(metadata::VERDICT).cloned();
    let skip = if is_copy {
        Skip {
            code: "write_back_copy",
            reason: "copy event caused by a metadata write-back (the marker matches this content)"
                .into(),
            existing_verdict,
            claim,
        }
    } else {
        Skip {
            code: "already_processed",
            reason: format!(
                "already triaged: marker {found_etag}:{found_hash} matches this content and configuration"
            ),
            existing_verdict,
            claim,
        }
    };
    if normalize_etag(found_etag) == normalize_etag(etag) {
        return Prior::Done(skip);
    }
    match content.strip_prefix("sha256:") {
        Some(sha) if sha.len() == 64 => Prior::CheckContent {
            sha256: sha.to_ascii_lowercase(),
            skip,
        },
        _ => Prior::None,
    }
}

/// ETags arrive quoted or not, in any case, depending on the API that reported them.
pub fn normalize_etag(e: &str) -> String {
    e.trim().trim_matches('"').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Provider;
    use crate::sinks::metadata::CONTENT as CONTENT_KEY;

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
        let s = done(already_done(&o, &meta, "abc", "h1", None));
        assert_eq!(
            (s.code, s.existing_verdict.as_deref()),
            ("already_processed", Some("pass"))
        );
        o.event_name = Some("ObjectCreated:Copy".into());
        assert_eq!(
            done(already_done(&o, &meta, "\"abc\"", "h1", None)).code,
            "write_back_copy"
        );
        // Another deployment's write-back echo: not ours to answer with another copy.
        assert_eq!(
            done(already_done(&o, &meta, "abc", "h2", None)).code,
            "write_back_copy"
        );
        // Other content: work again.
        assert_eq!(already_done(&o, &meta, "abd", "h1", None), Prior::None);
        // An upload event under another configuration: work again.
        o.event_name = Some("ObjectCreated:Put".into());
        assert_eq!(already_done(&o, &meta, "abc", "h2", None), Prior::None);
        assert_eq!(
            already_done(&o, &BTreeMap::new(), "abc", "h1", None),
            Prior::None
        );
    }

    #[test]
    fn cos_event_metadata_counts_too() {
        let mut o = ObjectRef::new(Provider::Cos, "b-1250000000", "k.jpg");
        o.event_name = Some("cos:ObjectCreated:Copy".into());
        o.event_meta
            .insert("x-cos-meta-triage-marker".into(), "abc:h1".into());
        assert_eq!(
            done(already_done(&o, &BTreeMap::new(), "abc", "h1", None)).code,
            "write_back_copy"
        );
    }

    #[test]
    fn a_new_etag_with_a_content_hash_asks_for_the_bytes() {
        let sha = "a".repeat(64);
        let meta = BTreeMap::from([
            (MARKER.to_string(), "abc-2:h1".to_string()),
            (metadata::CONTENT.to_string(), format!("sha256:{sha}")),
        ]);
        let mut o = ObjectRef::new(Provider::S3, "b", "k.jpg");
        o.event_name = Some("ObjectCreated:Copy".into());
        match already_done(&o, &meta, "0123", "h1", None) {
            Prior::CheckContent { sha256, skip } => {
                assert_eq!(
                    (sha256.as_str(), skip.code),
                    (sha.as_str(), "write_back_copy")
                )
            }
            other => panic!("{other:?}"),
        }
        let no_hash = BTreeMap::from([(MARKER.to_string(), "abc-2:h1".to_string())]);
        assert_eq!(already_done(&o, &no_hash, "0123", "h1", None), Prior::None);
    }

    fn done(p: Prior) -> Skip {
        match p {
            Prior::Done(s) => s,
            other => panic!("not done: {other:?}"),
        }
    }

    #[test]
    fn with_a_secret_only_a_signed_marker_counts() {
        let secret = crate::config::trust::Trust::from_get(|n| {
            (n == "TRIAGE_MARKER_SECRET").then(|| "0123456789abcdef-secret".to_string())
        })
        .unwrap()
        .marker_secret
        .unwrap();
        let mut o = ObjectRef::new(Provider::S3, "b", "k.jpg");
        o.event_name = Some("ObjectCreated:Put".into());
        let claim = Claim {
            bucket: "b",
            key: "k.jpg",
            etag: "abc",
            config_hash: "h1",
            content: "",
            verdict: "block",
        };
        let sig = secret.sign(&claim);
        let signed = BTreeMap::from([
            (MARKER.to_string(), format!("abc:h1:{sig}")),
            (metadata::VERDICT.to_string(), "block".to_string()),
        ]);
        assert_eq!(
            done(already_done(&o, &signed, "abc", "h1", Some(&secret))).code,
            "already_processed"
        );
        // An uploader's marker: unsigned, or signed for another key, or replayed with a forged
        // content hash.
        let forged = BTreeMap::from([(MARKER.to_string(), "abc:h1".to_string())]);
        assert_eq!(
            already_done(&o, &forged, "abc", "h1", Some(&secret)),
            Prior::None
        );
        // The verdict is signed: an uploader cannot turn `block` into `pass`.
        let mut passed = signed.clone();
        passed.insert(metadata::VERDICT.to_string(), "pass".to_string());
        assert_eq!(
            already_done(&o, &passed, "abc", "h1", Some(&secret)),
            Prior::None
        );
        let other = secret.sign(&Claim {
            key: "other.jpg",
            ..claim
        });
        let moved = BTreeMap::from([(MARKER.to_string(), format!("abc:h1:{other}"))]);
        assert_eq!(
            already_done(&o, &moved, "abc", "h1", Some(&secret)),
            Prior::None
        );
        let mut replay = signed.clone();
        replay.insert(
            CONTENT_KEY.to_string(),
            format!("sha256:{}", "a".repeat(64)),
        );
        assert_eq!(
            already_done(&o, &replay, "new", "h1", Some(&secret)),
            Prior::None
        );
        o.event_name = Some("ObjectCreated:Copy".into());
        assert_eq!(
            already_done(&o, &forged, "abc", "h1", Some(&secret)),
            Prior::None
        );
    }
}
