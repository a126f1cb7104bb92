//! Cost guards, kept in the bucket itself so no other service is needed:
//!
//! - **Content dedupe** (`TRIAGE_DEDUPE`, on by default): the result of analysed bytes is kept
//!   under `<results prefix>_by-content/<sha256>`; a new key whose bytes have the same SHA-256
//!   (computed here from the bytes: never an ETag, which is MD5 and collides on purpose, nor a
//!   checksum an uploader sends) under the same configuration reuses it, and its sidecar says so.
//! - **Daily cap** (`TRIAGE_DAILY_CAP`): at most N objects analysed per UTC day and bucket,
//!   counted in `<results prefix>_daily-cap/<YYYY-MM-DD>` with conditional writes
//!   ([`ObjectStore::put_if`]), so every instance of the function shares one count.
//!
//! Neither record ends in `.json`, which every sidecar key does (`result::sidecar_key`): an
//! object uploaded as `_daily-cap/2026-12-02` gets its sidecar at `…/_daily-cap/2026-12-02.json`
//! and cannot reset the counter, nor an object's sidecar pose as a content record.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::client::backoff::Backoff;
use crate::client::sign::sha256_hex;
use crate::config::trust::MarkerSecret;
use crate::object::ObjectRef;
use crate::result::{Reuse, StageStatus, TriageResult};
use crate::store::{ObjectStore, PutCondition, StoreError};

pub const CONTENT_SCHEMA: &str = "image-triage/by-content/v1";
pub const COUNTER_SCHEMA: &str = "image-triage/daily-cap/v1";
/// Objects larger than this are analysed without dedupe: every vendor's size limit is below
/// it, and the bytes are held in memory to hash them.
pub const DEDUPE_MAX_BYTES: u64 = 32 << 20;
/// Attempts at the counter before the event fails as retryable: each conflict means another
/// instance counted in the meantime, so this many means heavy contention, not a stuck counter.
const COUNTER_ATTEMPTS: u32 = 40;
/// A counter or content record larger than this is not ours.
const MAX_RECORD_BYTES: u64 = 4 << 20;

pub fn content_key(results_prefix: &str, sha256: &str) -> String {
    format!("{results_prefix}_by-content/{sha256}")
}

pub fn counter_key(results_prefix: &str, day: NaiveDate) -> String {
    format!("{results_prefix}_daily-cap/{}", day.format("%Y-%m-%d"))
}

/// What `_by-content/<sha256>` holds: the result of analysing those bytes, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentRecord {
    pub schema: String,
    pub content_sha256: String,
    pub config_hash: String,
    pub bucket: String,
    pub key: String,
    pub analysed_at: DateTime<Utc>,
    pub result: TriageResult,
    /// HMAC with `TRIAGE_MARKER_SECRET` over the rest; with a secret, an unsigned or wrongly
    /// signed record is never reused (an uploader may be able to write under the results prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl ContentRecord {
    /// The record of `result`, whose bytes hash to `sha256`. Free text is redacted and the
    /// write-back's own actions are left out: they belong to the analysed key.
    pub fn new(result: &TriageResult, sha256: &str, secret: Option<&MarkerSecret>) -> Self {
        let mut kept = result.redacted();
        kept.actions.clear();
        kept.failure = None;
        let record = ContentRecord {
            schema: CONTENT_SCHEMA.into(),
            content_sha256: sha256.into(),
            config_hash: result.config_hash.clone(),
            bucket: result.object.bucket.clone(),
            key: result.object.key.clone(),
            analysed_at: result.processed_at,
            result: kept,
            signature: None,
        };
        record.signed(secret)
    }

    fn signed_parts(&self) -> Vec<&str> {
        // The result is covered through the JSON of its parsed form, so what is checked is
        // what is reused (a re-serialisation that differs only fails the check: a miss).
        vec![
            "image-triage by-content v1",
            &self.content_sha256,
            &self.config_hash,
            &self.bucket,
            &self.key,
        ]
    }

    fn result_digest(&self) -> String {
        sha256_hex(&serde_json::to_vec(&self.result).unwrap_or_default())
    }

    fn sign_with(&self, secret: &MarkerSecret) -> String {
        let at = self.analysed_at.to_rfc3339();
        let digest = self.result_digest();
        let mut parts = self.signed_parts();
        parts.push(&at);
        parts.push(&digest);
        secret.sign_parts(&parts)
    }

    /// Sign (or re-sign) the record with `secret`.
    pub fn signed(mut self, secret: Option<&MarkerSecret>) -> Self {
        self.signature = secret.map(|s| self.sign_with(s));
        self
    }

    /// Why this record may not stand for bytes hashing to `sha256` under `config_hash`, if so.
    pub fn check(
        &self,
        sha256: &str,
        config_hash: &str,
        secret: Option<&MarkerSecret>,
    ) -> Result<(), String> {
        if self.schema != CONTENT_SCHEMA {
            return Err(format!("schema {:?}, not {CONTENT_SCHEMA}", self.schema));
        }
        if self.content_sha256 != sha256 {
            return Err("it describes other bytes".into());
        }
        if self.config_hash != config_hash || self.result.config_hash != config_hash {
            return Err(format!(
                "analysed under configuration {}, not {config_hash}",
                self.config_hash
            ));
        }
        if self.result.verdict.is_none() {
            return Err("it holds no verdict".into());
        }
        if let Some(secret) = secret {
            let want = self.sign_with(secret);
            let ok = self.signature.as_deref().is_some_and(|s| {
                s.len() == want.len()
                    && s.bytes()
                        .zip(want.bytes())
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0
            });
            if !ok {
                return Err("its signature does not match TRIAGE_MARKER_SECRET".into());
            }
        }
        Ok(())
    }

    /// The result to write for `obj`: this record's analysis, `obj`'s identity, no actions yet.
    pub fn reuse_for(&self, obj: &ObjectRef, record_key: &str) -> TriageResult {
        let mut r = self.result.clone();
        r.object = obj.clone();
        r.actions.clear();
        r.failure = None;
        r.timings_ms.clear();
        r.processed_at = Utc::now();
        r.tool = TriageResult::tool();
        // Not the key the bytes were first analysed under: in a bucket shared by several
        // uploaders that would tell one who else uploaded the same file, and where.
        r.reused = Some(Reuse {
            content_sha256: self.content_sha256.clone(),
            analysed_at: self.analysed_at,
            record: record_key.into(),
        });
        r.notes.push(format!(
            "not analysed again: the same bytes (SHA-256 {}) were analysed at {} under this \
             configuration; that result ({record_key}) is reused",
            self.content_sha256,
            self.analysed_at.to_rfc3339()
        ));
        r
    }
}

/// Whether a finished result is worth keeping by content: it has a verdict that the analysis
/// made, not `on_error` (a failed or declined moderation must not stand in for a later, working
/// one), no analyzer failed, and every configured check ran.
pub fn worth_remembering(result: &TriageResult) -> bool {
    result.verdict.as_ref().is_some_and(|v| !v.on_error_applied)
        && result.reused.is_none()
        && result.labels.status != StageStatus::Failed
        && result.moderation.status != StageStatus::Failed
        && !result
            .notes
            .iter()
            .any(|n| n.starts_with(super::LISTS_NOT_CHECKED))
}

/// The content record for `sha256`, when there is one this configuration may reuse.
/// `Ok(Err(why))`: a record exists but does not stand (logged by the caller, then analysed).
pub async fn lookup(
    store: &dyn ObjectStore,
    bucket: &str,
    results_prefix: &str,
    sha256: &str,
    config_hash: &str,
    secret: Option<&MarkerSecret>,
) -> Result<Option<Result<(ContentRecord, String), String>>, StoreError> {
    let key = content_key(results_prefix, sha256);
    let raw = match read_small(store, bucket, &key).await? {
        None => return Ok(None),
        Some(raw) => raw,
    };
    let record: ContentRecord = match serde_json::from_slice(&raw) {
        Ok(r) => r,
        Err(e) => return Ok(Some(Err(format!("{key}: not a content record: {e}")))),
    };
    Ok(Some(
        record
            .check(sha256, config_hash, secret)
            .map(|()| (record, key.clone()))
            .map_err(|why| format!("{key}: {why}")),
    ))
}

/// Write the content record (last writer wins: both describe the same bytes).
pub async fn remember(
    store: &dyn ObjectStore,
    results_prefix: &str,
    result: &TriageResult,
    sha256: &str,
    secret: Option<&MarkerSecret>,
) -> Result<String, StoreError> {
    let record = ContentRecord::new(result, sha256, secret);
    let key = content_key(results_prefix, sha256);
    let body = serde_json::to_vec_pretty(&record).unwrap_or_default();
    store
        .put(
            &result.object.bucket,
            &key,
            Bytes::from(body),
            "application/json",
        )
        .await?;
    Ok(key)
}

/// What `_daily-cap/<day>` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    pub schema: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// Objects analysed (or being analysed) that day.
    pub count: u64,
    /// The cap the last writer had.
    pub cap: u64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// One analysis reserved: the count is now `count`.
    Granted { count: u64 },
    /// The cap is reached: nothing was counted.
    Reached { count: u64 },
}

/// Count one analysis against today's cap in `bucket`, unless the cap is reached: read the
/// counter, write `count + 1` only while it is still the version read (`If-Match`; the first
/// of the day with `If-None-Match: *`), and on a conflict read again.
pub async fn reserve(
    store: &dyn ObjectStore,
    bucket: &str,
    results_prefix: &str,
    cap: u64,
    now: DateTime<Utc>,
) -> Result<Reserve, StoreError> {
    let day = now.date_naive();
    let key = counter_key(results_prefix, day);
    let backoff = Backoff {
        base: Duration::from_millis(10),
        max: Duration::from_millis(500),
    };
    for attempt in 0..COUNTER_ATTEMPTS {
        let current = match store.head(bucket, &key).await {
            Ok(meta) => match read_small(store, bucket, &key).await {
                Ok(Some(raw)) => {
                    // Not a counter of ours (written by hand, cut short): counted from 0 again
                    // rather than failing every event of the day; the write replaces it.
                    let count = match serde_json::from_slice::<Counter>(&raw) {
                        Ok(c) if c.schema == COUNTER_SCHEMA => c.count,
                        _ => {
                            tracing::warn!(counter = %key, "daily cap counter unreadable: replaced");
                            0
                        }
                    };
                    Some((meta.etag, count))
                }
                // Deleted between the HEAD and the GET: read again.
                Ok(None) => {
                    tokio::time::sleep(backoff.wait(attempt)).await;
                    continue;
                }
                // Too large to be ours.
                Err(e @ StoreError::Remote { status: 200, .. }) => {
                    tracing::warn!(counter = %key, error = %e, "daily cap counter unreadable: replaced");
                    Some((meta.etag, 0))
                }
                Err(e) => return Err(e),
            },
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let count = current.as_ref().map_or(0, |c| c.1);
        if count >= cap {
            return Ok(Reserve::Reached { count });
        }
        let next = Counter {
            schema: COUNTER_SCHEMA.into(),
            day: day.format("%Y-%m-%d").to_string(),
            count: count + 1,
            cap,
            updated_at: now,
        };
        let body = Bytes::from(serde_json::to_vec_pretty(&next).unwrap_or_default());
        let condition = match &current {
            Some((etag, _)) => PutCondition::Matches(etag),
            None => PutCondition::Absent,
        };
        match store
            .put_if(bucket, &key, body, "application/json", condition)
            .await
        {
            Ok(_) => return Ok(Reserve::Granted { count: count + 1 }),
            // Another instance counted since the read (or the counter was read between a
            // HEAD and a GET of two different versions): read again.
            Err(StoreError::PreconditionFailed { .. } | StoreError::NotFound { .. }) => {
                tokio::time::sleep(backoff.wait(attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::remote(
        bucket,
        &key,
        "daily cap counter",
        503,
        "CounterContention",
        format!("{COUNTER_ATTEMPTS} conflicting writes in a row; try again later"),
        true,
    ))
}

/// A small object of ours, or `None` when there is none. Larger than [`MAX_RECORD_BYTES`] is
/// not ours: refused rather than read into memory.
async fn read_small(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
) -> Result<Option<Bytes>, StoreError> {
    match store.get_range(bucket, key, 0..MAX_RECORD_BYTES + 1).await {
        Ok(b) if b.len() as u64 > MAX_RECORD_BYTES => Err(StoreError::malformed(
            bucket,
            key,
            "read",
            format!("larger than {MAX_RECORD_BYTES} bytes: not a record of this function"),
        )),
        Ok(b) => Ok(Some(b)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;

/// What the cost guards decided before the analysis.
pub(super) enum Before {
    /// Analyse these bytes (the whole object when dedupe read it, else the header read by
    /// preflight); `sha256` is theirs when dedupe computed it.
    Analyse {
        bytes: Bytes,
        sha256: Option<String>,
    },
    /// Identical bytes were analysed before: write this result instead.
    Reused {
        result: Box<TriageResult>,
        sha256: String,
    },
    /// The daily cap is reached: report this, analyse nothing, write nothing.
    Capped(Box<super::Outcome>),
    /// A human decided about this content (`Pipeline::human_decision`): write this result.
    Kept(Box<TriageResult>),
}

impl super::Pipeline {
    fn dedupe_wanted(&self, size: u64) -> bool {
        self.config.cost.dedupe && !self.config.sinks.is_empty() && size <= DEDUPE_MAX_BYTES
    }

    fn analyses(&self, obj: &ObjectRef) -> bool {
        self.config.labeler_for(obj.provider) != crate::config::LabelerKind::None
            || self.config.moderator_for(obj.provider) != crate::config::ModeratorKind::None
    }

    /// Dedupe first (a reused result costs nothing), then the daily cap.
    pub(super) async fn before_analysis(
        &self,
        store: &dyn ObjectStore,
        obj: &ObjectRef,
        size: u64,
        head: Bytes,
        config_hash: &str,
        notes: &mut Vec<String>,
    ) -> Result<Before, StoreError> {
        if !self.analyses(obj) {
            return Ok(Before::Analyse {
                bytes: head,
                sha256: None,
            });
        }
        let secret = self.config.trust.marker_secret.as_ref();
        let (bytes, sha256) = if self.dedupe_wanted(size) {
            let whole = if head.len() as u64 >= size {
                head
            } else {
                let rest = store
                    .get_range(&obj.bucket, &obj.key, head.len() as u64..size)
                    .await?;
                let mut whole = Vec::with_capacity(size as usize);
                whole.extend_from_slice(&head);
                whole.extend_from_slice(&rest);
                Bytes::from(whole)
            };
            let sha256 = sha256_hex(&whole);
            let prefix = &self.config.results_prefix;
            match lookup(store, &obj.bucket, prefix, &sha256, config_hash, secret).await {
                Ok(Some(Ok((record, key)))) => {
                    tracing::info!(record = %key, from = %record.key, "identical content analysed before: result reused");
                    return Ok(Before::Reused {
                        result: Box::new(record.reuse_for(obj, &key)),
                        sha256,
                    });
                }
                Ok(Some(Err(why))) => {
                    tracing::warn!(%why, "content record not reused");
                    notes.push(format!("content record not reused: {why}"));
                }
                Ok(None) => {}
                // Dedupe only saves money: a record that cannot be read means analysing.
                Err(e) => {
                    tracing::warn!(error = %e, "content record not read");
                    notes.push(format!("content dedupe skipped: {e}"));
                }
            }
            (whole, Some(sha256))
        } else {
            (head, None)
        };
        if let Some(cap) = self.config.cost.daily_cap {
            let prefix = &self.config.results_prefix;
            let now = Utc::now();
            match reserve(store, &obj.bucket, prefix, cap, now).await? {
                Reserve::Granted { count } => {
                    tracing::debug!(count, cap, "daily cap: analysis counted");
                }
                Reserve::Reached { count } => {
                    let day = now.date_naive();
                    return Ok(Before::Capped(Box::new(super::Outcome::skipped(
                        Some(obj),
                        "daily_cap",
                        format!(
                            "TRIAGE_DAILY_CAP={cap} reached for bucket {} on {} UTC ({count} \
                             analysed; counter {}): not analysed; `scan` picks it up later",
                            obj.bucket,
                            day.format("%Y-%m-%d"),
                            counter_key(prefix, day)
                        ),
                    ))));
                }
            }
        }
        Ok(Before::Analyse { bytes, sha256 })
    }

    /// Keep the finished analysis by content, for the next key with the same bytes — only when
    /// the object is still the one whose bytes were hashed. Services that fetch the object
    /// themselves (by URL, or in place) read it after the function did: an upload replacing
    /// it in between would have them judge other bytes than those the record names.
    pub(super) async fn after_analysis(
        &self,
        store: &dyn ObjectStore,
        sha256: &str,
        analysed: &crate::store::ObjectMeta,
        result: &mut TriageResult,
    ) {
        if !self.dedupe_wanted(analysed.size) || !worth_remembering(result) {
            return;
        }
        let (bucket, key) = (result.object.bucket.clone(), result.object.key.clone());
        match store.head(&bucket, &key).await {
            // A re-upload of the same bytes keeps the ETag but not the time.
            Ok(now)
                if now.etag == analysed.etag
                    && now.last_modified == analysed.last_modified
                    && now.version_id == analysed.version_id => {}
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                result.notes.push(
                    "content record not written: the object changed while it was analysed".into(),
                );
                return;
            }
            Err(e) => {
                result
                    .notes
                    .push(format!("content record not written (dedupe): {e}"));
                return;
            }
        }
        let secret = self.config.trust.marker_secret.as_ref();
        if let Err(e) = remember(store, &self.config.results_prefix, result, sha256, secret).await {
            tracing::warn!(error = %e, "content record not written");
            result
                .notes
                .push(format!("content record not written (dedupe): {e}"));
        }
    }
}
