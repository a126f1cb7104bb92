//! The result of triaging one object: the `image-triage/v1` document written as the sidecar,
//! summarised into metadata and tags, and sent as the queue message.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analyzers::AnalyzerError;
/// The analyzers' normalized outputs, as sinks read them from a result.
pub use crate::analyzers::{CategoryScore, Label, LabelOutput, ModerationOutput, Suggestion};
use crate::object::ObjectRef;
use crate::preflight::ImageFacts;
use crate::verdict::Verdict;

pub const SCHEMA_ID: &str = "image-triage/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    Done,
    /// Preflight found the object outside the service's limits, or the analyzer declined it
    /// (`decode_budget`, `unreadable_format`).
    Skipped,
    Failed,
    /// Switched off by configuration.
    Disabled,
}

/// One analyzer's part of the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Stage<T> {
    /// `local`, `ims`, `cos-ci`, ... or `none`.
    pub analyzer: String,
    pub status: StageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Stable code for the reason (`aspect_ratio`, `format`, the vendor's error code, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default)]
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<T>,
}

impl<T> Stage<T> {
    pub fn disabled() -> Self {
        Stage {
            analyzer: "none".into(),
            status: StageStatus::Disabled,
            reason: None,
            code: None,
            retryable: false,
            output: None,
        }
    }
    pub fn skipped(analyzer: &str, code: &str, reason: String) -> Self {
        Stage {
            analyzer: analyzer.into(),
            status: StageStatus::Skipped,
            reason: Some(reason),
            code: Some(code.into()),
            retryable: false,
            output: None,
        }
    }
    /// Failed, or skipped when the analyzer declined the object ([`AnalyzerError::is_declined`]).
    pub fn from_error(analyzer: &str, e: &AnalyzerError) -> Self {
        match e.code.as_deref() {
            Some(code) if e.is_declined() => Stage::skipped(
                analyzer,
                code,
                crate::logging::redact_url_queries(&e.message),
            ),
            _ => Stage::failed(analyzer, e),
        }
    }
    pub fn failed(analyzer: &str, e: &AnalyzerError) -> Self {
        Stage {
            analyzer: analyzer.into(),
            status: StageStatus::Failed,
            // Vendor text may quote the presigned URL it was given.
            reason: Some(crate::logging::redact_url_queries(&e.to_string())),
            code: e.code.clone(),
            retryable: e.retryable,
            output: None,
        }
    }
    /// Why a retry could help, when this stage failed in a way that a retry can fix.
    pub fn retry_reason(&self) -> Option<String> {
        (self.status == StageStatus::Failed && self.retryable)
            .then(|| self.reason.clone().unwrap_or_else(|| self.analyzer.clone()))
    }
    pub fn done(analyzer: &str, output: T) -> Self {
        Stage {
            analyzer: analyzer.into(),
            status: StageStatus::Done,
            reason: None,
            code: None,
            retryable: false,
            output: Some(output),
        }
    }
}

/// One write-back or block action, as it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// `metadata`, `tags`, `sidecar`, `queue`, `block:quarantine`, ...
    pub action: String,
    /// `done`, `failed` or `skipped`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageResult {
    pub schema: String,
    pub object: ObjectRef,
    /// `None` when the object is not an image at all (see `skip_reason`).
    pub image: Option<ImageFacts>,
    pub labels: Stage<LabelOutput>,
    pub moderation: Stage<ModerationOutput>,
    /// Text read in the image and the keyword hits in it (local OCR or the vendor's), when
    /// text reading ran (`TRIAGE_OCR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<crate::text::TextOutput>,
    /// The image sample (`TRIAGE_IMAGE_LISTS`) the upload matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_list: Option<ListMatch>,
    /// `None` when the whole object was skipped.
    pub verdict: Option<Verdict>,
    /// Set when the object itself could not be triaged (not an image, truncated, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    pub actions: Vec<ActionRecord>,
    /// Milliseconds per stage: `preflight`, `analyze`, `labels`, `moderation`, `sinks`, `total`.
    pub timings_ms: BTreeMap<String, u64>,
    /// Things a reader should know: tags dropped for the budget, metadata trimmed, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub config_hash: String,
    pub processed_at: chrono::DateTime<chrono::Utc>,
    pub tool: ToolInfo,
    /// Set when the analysis was not run for this object: the same bytes had been analysed
    /// under this configuration (content dedupe, `TRIAGE_DEDUPE`), and that result was reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused: Option<Reuse>,
    /// Set when triage of this object failed for good (or where no retry will come): the
    /// outcome's code and reason, so the failure is in the bucket, not only in a log line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureRecord>,
    /// A human decision on this content (`image-triage review`): `verdict` is then the human's,
    /// and this section keeps who decided, when, and the machine verdict it overrode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<HumanReview>,
}

/// What a reviewer decided about one object's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewDecision {
    /// The content may stay: the verdict becomes `pass`.
    Approve,
    /// The verdict becomes `block`, and the configured block action applies.
    Block,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Approve => "approve",
            ReviewDecision::Block => "block",
        }
    }
    pub fn verdict(self) -> crate::verdict::Decision {
        match self {
            ReviewDecision::Approve => crate::verdict::Decision::Pass,
            ReviewDecision::Block => crate::verdict::Decision::Block,
        }
    }
}

/// The `review` section of a result: a human's decision, tied to the content reviewed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumanReview {
    pub decision: ReviewDecision,
    /// `--reviewer`, else the OS user.
    pub reviewer: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The machine's verdict the decision overrode (the first one, when decided twice).
    pub machine_verdict: Verdict,
    /// The ETag of the content reviewed (without quotes): a re-triage of this content keeps
    /// the decision, new content under the key is triaged again.
    pub etag: String,
    /// SHA-256 (hex) of the content reviewed, where the metadata copy gives the object a new
    /// ETag (multipart, KMS: `ObjectMeta::copy_keeps_etag`): the ETag alone would no longer
    /// name it after the decision's own write-back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// With `TRIAGE_MARKER_SECRET`: HMAC over bucket, key, ETag, decision, reviewer and time
    /// (and the content hash, when there is one), so a decision planted under the results
    /// prefix does not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl HumanReview {
    fn signed_parts<'a>(&'a self, bucket: &'a str, key: &'a str, at: &'a str) -> Vec<&'a str> {
        let mut parts = vec![
            "image-triage review v1",
            bucket,
            key,
            &self.etag,
            self.decision.as_str(),
            &self.reviewer,
            at,
        ];
        // Appended only when present, so decisions signed before the field existed verify.
        if let Some(c) = &self.content {
            parts.push(c);
        }
        parts
    }

    /// Sign for `bucket`/`key` (no signature without a secret).
    pub fn sign(
        &mut self,
        bucket: &str,
        key: &str,
        secret: Option<&crate::config::trust::MarkerSecret>,
    ) {
        let at = self.at.to_rfc3339();
        self.signature = secret.map(|s| s.sign_parts(&self.signed_parts(bucket, key, &at)));
    }

    /// Whether this decision stands for `bucket`/`key` with content `etag` (or, where the
    /// caller hashed it, content `sha256`): the same content, and, with a secret, a valid
    /// signature.
    pub fn stands(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
        sha256: Option<&str>,
        secret: Option<&crate::config::trust::MarkerSecret>,
    ) -> bool {
        let norm = |e: &str| e.trim().trim_matches('"').to_ascii_lowercase();
        let same_content = match (&self.content, sha256) {
            (Some(reviewed), Some(now)) => reviewed.eq_ignore_ascii_case(now),
            _ => false,
        };
        if norm(&self.etag) != norm(etag) && !same_content {
            return false;
        }
        let at = self.at.to_rfc3339();
        match (secret, &self.signature) {
            (None, _) => true,
            (Some(s), Some(sig)) => s.verify_parts(sig, &self.signed_parts(bucket, key, &at)),
            (Some(_), None) => false,
        }
    }
}

/// Which image sample list (`TRIAGE_IMAGE_LISTS`) an upload matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    /// Known good: the verdict is `pass`.
    Allow,
    /// Known bad: scores its category (`block/<category>/`, else `block`).
    Block,
}

/// The sample an upload matched, by perceptual hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListMatch {
    pub list: ListKind,
    /// The category a block sample scores (its folder under `block/`), lower-case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The sample's path relative to `TRIAGE_IMAGE_LISTS`, e.g. `block/ad/flyer.jpg`.
    pub sample: String,
    /// Differing bits between the two perceptual hashes (0 = the same picture).
    pub distance: u32,
}

/// Where a reused result came from: the analysis of identical bytes (the key they were analysed
/// under is in the content record, not here: it may be another uploader's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reuse {
    /// SHA-256 of the bytes, computed by the function (never a hash an uploader can set).
    pub content_sha256: String,
    pub analysed_at: chrono::DateTime<chrono::Utc>,
    /// The content record the result was read from (`<results prefix>_by-content/<sha256>`).
    pub record: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub code: String,
    pub reason: String,
    pub retryable: bool,
}

impl TriageResult {
    /// A copy whose free text (reasons, notes, action details) holds no URL query, user-info,
    /// signature or token (see `logging::redact_url_queries`): what goes into the bucket.
    /// Names and keys stay as they are.
    pub fn redacted(&self) -> TriageResult {
        let redact = |s: &String| crate::logging::redact_url_queries(s);
        let mut r = self.clone();
        r.labels.reason = r.labels.reason.as_ref().map(redact);
        r.moderation.reason = r.moderation.reason.as_ref().map(redact);
        r.skip_reason = r.skip_reason.as_ref().map(redact);
        r.notes = r.notes.iter().map(redact).collect();
        for a in &mut r.actions {
            a.detail = a.detail.as_ref().map(redact);
        }
        if let Some(f) = &mut r.failure {
            f.reason = redact(&f.reason);
        }
        if let Some(v) = &mut r.verdict {
            v.reason = redact(&v.reason);
        }
        r
    }

    pub fn tool() -> ToolInfo {
        ToolInfo {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// The verdict as metadata, tags and the marker's signature carry it (`skipped` when the
    /// object itself was skipped).
    pub fn decision(&self) -> &'static str {
        self.verdict
            .as_ref()
            .map_or("skipped", |v| v.decision.as_str())
    }

    /// The labels, best first (empty when labeling did not run).
    pub fn labels(&self) -> &[Label] {
        self.labels
            .output
            .as_ref()
            .map(|o| o.labels.as_slice())
            .unwrap_or(&[])
    }
}

/// The longest sidecar key: COS allows 850 bytes, the least of the stores (S3 and OBS 1,024).
pub const MAX_SIDECAR_KEY: usize = 850;

/// Where the sidecar for `key` lives: `<results_prefix><key>.json`, or, where that would be
/// longer than any store allows, `<results_prefix>long-keys/<sha256 of key>.json` (the
/// object's `triage-result` metadata and the result's `notes` name it).
pub fn sidecar_key(results_prefix: &str, key: &str) -> String {
    bounded_key(results_prefix, key, ".json")
}

/// `<prefix><key><suffix>`, or `<prefix>long-keys/<sha256 of key><suffix>` where that would
/// be longer than [`MAX_SIDECAR_KEY`]: a key of ours derived from an object's key that every
/// store can hold.
pub fn bounded_key(prefix: &str, key: &str, suffix: &str) -> String {
    let plain = format!("{prefix}{key}{suffix}");
    if plain.len() <= MAX_SIDECAR_KEY {
        plain
    } else {
        format!(
            "{prefix}long-keys/{}{suffix}",
            crate::client::sign::sha256_hex(key.as_bytes())
        )
    }
}

#[cfg(test)]
mod sidecar_key_tests {
    use super::*;

    #[test]
    fn long_keys_get_a_bounded_sidecar_key() {
        assert_eq!(sidecar_key("r/", "a/b.png"), "r/a/b.png.json");
        let long = "k".repeat(1000);
        let k = sidecar_key("triage-results/", &long);
        assert!(
            k.starts_with("triage-results/long-keys/") && k.len() < 120,
            "{k}"
        );
        assert_eq!(k, sidecar_key("triage-results/", &long), "stable");
        let edge = "e".repeat(MAX_SIDECAR_KEY - "r/".len() - ".json".len());
        assert_eq!(sidecar_key("r/", &edge), format!("r/{edge}.json"));
        assert!(sidecar_key("r/", &format!("{edge}x")).starts_with("r/long-keys/"));
    }
}
