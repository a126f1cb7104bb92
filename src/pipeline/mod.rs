//! The pipeline: one object from event to written results. It names no vendor: stores and
//! analyzers come from their registries, by the object's provider and the configuration.

pub mod cost;
pub mod current;
pub use current::Current;
mod decide;
pub use decide::{DecideError, Decided};
mod failure;
pub mod guard;
pub mod libraries;
mod prior;
mod writeback;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use serde::Serialize;
use tracing::{info, warn, Instrument};

use crate::analyzers::{
    self, AnalyzerError, AnalyzerInput, LabelOutput, Labeler, ModerationOutput, Moderator,
};
use crate::config::{Config, LabelerKind, ModeratorKind};
use crate::events::{self, EventRecord};
use crate::object::{ObjectRef, Provider};
use crate::preflight::{self, ImageFacts, Limits, HEADER_BYTES};
use crate::result::{Stage, StageStatus, TriageResult, SCHEMA_ID};
use crate::sinks::queue::{Queue, QueueError};
use crate::store::{self, ObjectStore, StoreError};
use crate::verdict::{self, ModerationState};

/// How one event record ended. Printed one per line by `process`, returned by the runtimes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `done`, `skipped` or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Stable reason code (`already_processed`, `not_an_image`, `invalid_event`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_key: Option<String>,
}

impl Outcome {
    fn new(status: &'static str, obj: Option<&ObjectRef>) -> Self {
        Outcome {
            status,
            bucket: obj.map(|o| o.bucket.clone()),
            key: obj.map(|o| o.key.clone()),
            code: None,
            reason: None,
            retryable: false,
            verdict: None,
            labels: vec![],
            result_key: None,
        }
    }
    pub fn skipped(obj: Option<&ObjectRef>, code: &str, reason: impl Into<String>) -> Self {
        Outcome {
            code: Some(code.into()),
            reason: Some(reason.into()),
            ..Outcome::new("skipped", obj)
        }
    }
    pub fn failed(
        obj: Option<&ObjectRef>,
        code: &str,
        reason: impl Into<String>,
        retryable: bool,
    ) -> Self {
        Outcome {
            code: Some(code.into()),
            // Reasons quote store and vendor errors, which may quote a presigned URL.
            reason: Some(crate::logging::redact_url_queries(&reason.into())),
            retryable,
            ..Outcome::new("failed", obj)
        }
    }
    fn store_failed(obj: &ObjectRef, e: &StoreError) -> Self {
        let code = match e {
            StoreError::InvalidBucket { .. } => "invalid_bucket",
            _ => "store_error",
        };
        Outcome::failed(Some(obj), code, e.to_string(), e.retryable())
    }
}

type Built<T> = Result<Option<Arc<T>>, AnalyzerError>;
/// Analyzers given by the caller instead of the configured ones.
type FixedAnalyzers = (Option<Arc<dyn Labeler>>, Option<Arc<dyn Moderator>>);

/// Holds the configuration and everything worth keeping between invocations (loaded models,
/// store clients), so a warm function does not rebuild them per event.
pub struct Pipeline {
    config: Config,
    fixed_store: Option<Arc<dyn ObjectStore>>,
    stores: Mutex<HashMap<Provider, Arc<dyn ObjectStore>>>,
    queue: OnceLock<Result<Queue, QueueError>>,
    labelers: Mutex<HashMap<LabelerKind, Built<dyn Labeler>>>,
    moderators: Mutex<HashMap<ModeratorKind, Built<dyn Moderator>>>,
    fixed_analyzers: Option<FixedAnalyzers>,
    image_lists: libraries::ImageListCheck,
}

impl Pipeline {
    pub fn new(config: Config) -> Self {
        Pipeline {
            config,
            fixed_store: None,
            stores: Mutex::default(),
            queue: OnceLock::new(),
            labelers: Mutex::default(),
            moderators: Mutex::default(),
            fixed_analyzers: None,
            image_lists: Default::default(),
        }
    }

    /// Use these analyzers for every object instead of the configured ones (tests, benchmarks
    /// of the vendor path, embedding in another program).
    pub fn with_analyzers(
        mut self,
        labeler: Option<Arc<dyn Labeler>>,
        moderator: Option<Arc<dyn Moderator>>,
    ) -> Self {
        self.fixed_analyzers = Some((labeler, moderator));
        self
    }

    /// Every object is read from and written to `store` (tests, benchmarks, backfill).
    pub fn with_store(config: Config, store: Arc<dyn ObjectStore>) -> Self {
        Pipeline {
            fixed_store: Some(store),
            ..Pipeline::new(config)
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handle one platform event (any shape): one outcome per record, never a panic.
    pub async fn handle_event(&self, body: &[u8], hint: Option<Provider>) -> Vec<Outcome> {
        let records = match events::parse_event(body, hint) {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "event rejected");
                return vec![Outcome::failed(None, "invalid_event", e.to_string(), false)];
            }
        };
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            out.push(self.handle_record(record).await);
        }
        out
    }

    pub async fn handle_record(&self, record: EventRecord) -> Outcome {
        let outcome = match record {
            EventRecord::Process(obj) => self.process(obj).await,
            EventRecord::Skip { object, reason } => {
                Outcome::skipped(object.as_ref(), reason.code(), reason.to_string())
            }
            EventRecord::Invalid { index, reason } => Outcome::failed(
                None,
                "invalid_record",
                format!("record {index}: {reason}"),
                false,
            ),
        };
        info!(
            status = outcome.status,
            bucket = outcome.bucket.as_deref(),
            key = outcome.key.as_deref(),
            code = outcome.code.as_deref(),
            verdict = outcome.verdict.as_deref(),
            "outcome"
        );
        outcome
    }

    /// Triage one object, with a span that names it. A failure no retry will fix is recorded
    /// in the object's sidecar.
    pub async fn process(&self, obj: ObjectRef) -> Outcome {
        let span = tracing::info_span!("object", provider = %obj.provider, bucket = %obj.bucket, key = %obj.key);
        async {
            let outcome = self.process_inner(obj.clone()).await;
            // Stopped before the write-back: no `triage-*` value an uploader set may stand.
            // (Not at the daily cap: the function's own earlier values, a block tag among them,
            // stay until the object is triaged.)
            let before_write_back = matches!(
                (outcome.status, outcome.code.as_deref()),
                ("failed", Some("store_error" | "analyzer_unavailable"))
            );
            if before_write_back {
                self.clear_foreign_results(&obj).await;
            }
            if outcome.status == "failed" && !outcome.retryable {
                self.record_failure(&obj, &outcome).await;
            }
            outcome
        }
        .instrument(span)
        .await
    }

    /// Record retryable failures in the sidecar too, for runtimes that answered before the
    /// work ended (no retry will come). Outcomes without an object are left out.
    pub async fn record_unretried(&self, outcomes: &[Outcome], provider: Provider) {
        for o in outcomes
            .iter()
            .filter(|o| o.status == "failed" && o.retryable)
        {
            if let (Some(b), Some(k)) = (&o.bucket, &o.key) {
                self.record_failure(&ObjectRef::new(provider, b, k), o)
                    .await;
            }
        }
    }

    /// The results queue when the queue sink is on; built on first use and kept.
    fn queue(&self) -> Option<&Result<Queue, QueueError>> {
        self.config
            .sink_enabled(crate::config::SinkKind::Queue)
            .then(|| self.queue.get_or_init(|| Queue::for_config(&self.config)))
    }

    fn store_for(&self, provider: Provider) -> Result<Arc<dyn ObjectStore>, StoreError> {
        if let Some(s) = &self.fixed_store {
            return Ok(s.clone());
        }
        // One client per provider for the life of a warm function (connection reuse).
        let mut stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = stores.get(&provider) {
            return Ok(s.clone());
        }
        let s = store::for_provider(&self.config, provider)?;
        stores.insert(provider, s.clone());
        Ok(s)
    }

    fn labeler(&self, kind: LabelerKind) -> Built<dyn Labeler> {
        if let Some((l, _)) = &self.fixed_analyzers {
            return Ok(l.clone());
        }
        let mut cache = self.labelers.lock().unwrap_or_else(|p| p.into_inner());
        cached_or_built(&mut cache, kind, || {
            analyzers::build_labeler(kind, &self.config)
        })
    }

    fn moderator(&self, kind: ModeratorKind) -> Built<dyn Moderator> {
        if let Some((_, m)) = &self.fixed_analyzers {
            return Ok(m.clone());
        }
        let mut cache = self.moderators.lock().unwrap_or_else(|p| p.into_inner());
        cached_or_built(&mut cache, kind, || {
            analyzers::build_moderator(kind, &self.config)
        })
    }

    async fn process_inner(&self, mut obj: ObjectRef) -> Outcome {
        let started = Instant::now();
        if let Some(skip) = guard::own_output(&obj, &self.config) {
            return Outcome::skipped(Some(&obj), skip.code, skip.reason);
        }
        if !self.config.trust.bucket_allowed(&obj.bucket) {
            return Outcome::failed(
                Some(&obj),
                "bucket_not_allowed",
                format!(
                    "bucket {:?} is not in TRIAGE_BUCKETS; the event was not acted on",
                    obj.bucket
                ),
                false,
            );
        }
        let store = match self.store_for(obj.provider) {
            Ok(s) => s,
            Err(e) => return Outcome::store_failed(&obj, &e),
        };
        if let Some(region) = obj.region.as_deref() {
            store.note_region(&obj.bucket, region);
        }
        let meta = match store.head(&obj.bucket, &obj.key).await {
            Ok(m) => m,
            Err(StoreError::NotFound { .. }) => {
                // Deleted or moved since the upload: nothing left to triage.
                return Outcome::skipped(Some(&obj), "object_gone", "the object no longer exists");
            }
            Err(e) => return Outcome::store_failed(&obj, &e),
        };
        let etag = guard::normalize_etag(&meta.etag);
        let config_hash = self.config.config_hash(obj.provider);
        let prior = match self
            .prior_work(&*store, &obj, &meta, &etag, &config_hash)
            .await
        {
            Ok(p) => p,
            Err(e) => return Outcome::store_failed(&obj, &e),
        };
        if let Some(skip) = prior {
            let reason = match self.block_again(&*store, &obj, &etag, &skip).await {
                Ok(reason) => reason,
                Err(e) => return Outcome::store_failed(&obj, &e),
            };
            let mut o = Outcome::skipped(Some(&obj), skip.code, reason);
            o.verdict = skip.existing_verdict;
            o.result_key = self
                .config
                .sink_enabled(crate::config::SinkKind::Sidecar)
                .then(|| crate::result::sidecar_key(&self.config.results_prefix, &obj.key));
            return o;
        }
        obj.size = Some(meta.size);
        obj.etag = Some(etag.clone());

        let mut timings = BTreeMap::new();
        let t = Instant::now();
        let head = match store
            .get_range(&obj.bucket, &obj.key, 0..HEADER_BYTES)
            .await
        {
            Ok(b) => b,
            Err(e) => return Outcome::store_failed(&obj, &e),
        };
        let facts = preflight::inspect_header(&head, meta.size);
        timings.insert("preflight".to_string(), ms(t));

        let mut result = TriageResult {
            schema: SCHEMA_ID.into(),
            object: obj.clone(),
            image: None,
            labels: Stage::disabled(),
            moderation: Stage::disabled(),
            text: None,
            image_list: None,
            verdict: None,
            skip_reason: None,
            actions: vec![],
            timings_ms: BTreeMap::new(),
            notes: vec![],
            config_hash: config_hash.clone(),
            processed_at: chrono::Utc::now(),
            tool: TriageResult::tool(),
            reused: None,
            review: None,
            failure: None,
        };
        // SHA-256 of the bytes, when the analyzers read them.
        let mut content_hash = None;
        let skip_code = match facts {
            Err(not_image) => {
                result.skip_reason = Some(not_image.to_string());
                Some(not_image.code())
            }
            Ok(facts) => {
                result.image = Some(facts.clone());
                let t = Instant::now();
                let kept = self
                    .human_decision(&*store, &obj, &meta, &etag, &config_hash)
                    .await;
                let before = match kept {
                    Some(kept) => Ok(cost::Before::Kept(kept)),
                    None => {
                        let notes = &mut result.notes;
                        let size = facts.bytes;
                        self.before_analysis(&*store, &obj, size, head, &config_hash, notes)
                            .await
                    }
                };
                match before {
                    Err(e) => return Outcome::store_failed(&obj, &e),
                    Ok(cost::Before::Capped(o)) => return *o,
                    Ok(cost::Before::Kept(r)) => result = *r,
                    Ok(cost::Before::Reused { result: r, sha256 }) => {
                        result = *r;
                        content_hash = Some(sha256);
                    }
                    Ok(cost::Before::Analyse { bytes, sha256 }) => {
                        let analyzed = self
                            .analyze(&obj, &store, facts, bytes, &mut result, &mut timings)
                            .await;
                        match analyzed {
                            Ok(hash) => content_hash = hash.or(sha256),
                            Err(e) => return Outcome::store_failed(&obj, &e),
                        }
                        timings.insert("analyze".to_string(), ms(t));
                        if let Some(sha256) = &content_hash {
                            self.after_analysis(&*store, sha256, &meta, &mut result)
                                .await;
                        }
                    }
                }
                None
            }
        };

        // A retryable analyzer failure means the platform should try the whole event again;
        // writing results now would make that retry look like finished work.
        let retry: Vec<String> = [
            result.labels.retry_reason(),
            result.moderation.retry_reason(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !retry.is_empty() {
            return Outcome::failed(Some(&obj), "analyzer_unavailable", retry.join("; "), true);
        }

        result.timings_ms = timings;
        // Where our metadata copy will give the object a new ETag, the marker also records the
        // content's hash, so the copy's own event is still recognised (guard::Prior).
        let identity = if self.config.sink_enabled(crate::config::SinkKind::Metadata)
            && !meta.copy_keeps_etag()
        {
            match content_hash {
                Some(h) => Some(h),
                None => match prior::content_sha256(&*store, &obj, meta.size).await {
                    Ok(h) => h,
                    Err(e) => return Outcome::store_failed(&obj, &e),
                },
            }
        } else {
            None
        };
        let written = writeback::write(
            &self.config,
            &*store,
            &mut result,
            writeback::Analysed {
                etag: &etag,
                metadata: &meta.metadata,
                content_sha256: identity.as_deref(),
            },
            self.queue(),
            started,
        )
        .await;
        let mut outcome = match (skip_code, written) {
            (_, Err(o)) => return *o,
            (Some(code), Ok(key)) => {
                let mut o = Outcome::skipped(
                    Some(&obj),
                    code,
                    result.skip_reason.clone().unwrap_or_default(),
                );
                o.result_key = key;
                o
            }
            (None, Ok(key)) => Outcome {
                result_key: key,
                ..Outcome::new("done", Some(&obj))
            },
        };
        outcome.verdict = result
            .verdict
            .as_ref()
            .map(|v| v.decision.as_str().to_string());
        outcome.labels = result.labels().iter().map(|l| l.name.clone()).collect();
        outcome
    }

    /// Preflight limits, then labels and moderation side by side, then the verdict.
    async fn analyze(
        &self,
        obj: &ObjectRef,
        store: &Arc<dyn ObjectStore>,
        facts: ImageFacts,
        head: Bytes,
        result: &mut TriageResult,
        timings: &mut BTreeMap<String, u64>,
    ) -> Result<Option<String>, StoreError> {
        let labeler_kind = self.config.labeler_for(obj.provider);
        let moderator_kind = self.config.moderator_for(obj.provider);
        let labeler = admit(
            labeler_kind.as_str(),
            self.labeler(labeler_kind),
            &facts,
            |l| l.limits(),
            |l| l.name(),
        );
        let moderator = admit(
            moderator_kind.as_str(),
            self.moderator(moderator_kind),
            &facts,
            |m| m.limits(),
            |m| m.name(),
        );
        let needs_bytes = matches!(&labeler, Ok(l) if l.needs_bytes())
            || matches!(&moderator, Ok(m) if m.needs_bytes())
            || libraries::ImageListCheck::wanted(&self.config);
        let needs_url = matches!(&labeler, Ok(l) if l.needs_url())
            || matches!(&moderator, Ok(m) if m.needs_url());
        let url = if needs_url && !store.capabilities().presign {
            // The analyzer that wanted one reports the missing URL as its own failure (or
            // falls back to the bytes).
            None
        } else if needs_url {
            match store.presign(&obj.bucket, &obj.key, PRESIGN_TTL).await {
                Ok(u) => Some(u),
                // The analyzer that wanted it reports the missing URL as its own failure.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot presign a URL for the analyzers");
                    None
                }
            }
        } else {
            None
        };
        // Only where asked: an analyzer given bytes may send them inline, and the inline
        // limits are checked where the fallback reads them (`inline::with_bytes`).
        let bytes = if !needs_bytes {
            None
        } else if head.len() as u64 >= facts.bytes {
            Some(head)
        } else {
            // Only the rest: preflight already holds the first bytes.
            let rest = store
                .get_range(&obj.bucket, &obj.key, head.len() as u64..facts.bytes)
                .await?;
            let mut whole = Vec::with_capacity(facts.bytes as usize);
            whole.extend_from_slice(&head);
            whole.extend_from_slice(&rest);
            Some(Bytes::from(whole))
        };
        let hash = bytes.as_deref().map(crate::client::sign::sha256_hex);
        let input = AnalyzerInput {
            object: obj.clone(),
            facts,
            bytes,
            url,
            store: Some(store.clone()),
            shared: Default::default(),
        };
        let labels_fut = async {
            let t = Instant::now();
            let stage: Stage<LabelOutput> = match &labeler {
                Err(stage) => stage.clone(),
                Ok(l) => match l.label(&input).await {
                    Ok(mut out) => {
                        out.labels
                            .retain(|x| x.confidence >= self.config.min_label_confidence);
                        out.labels.truncate(self.config.max_labels);
                        Stage::done(l.name(), out)
                    }
                    Err(e) => Stage::from_error(l.name(), &e),
                },
            };
            (stage, ms(t))
        };
        let moderation_fut = async {
            let t = Instant::now();
            let stage: Stage<ModerationOutput> = match &moderator {
                Err(stage) => stage.clone(),
                Ok(m) => match m.moderate(&input).await {
                    Ok(out) => Stage::done(m.name(), out),
                    Err(e) => Stage::from_error(m.name(), &e),
                },
            };
            (stage, ms(t))
        };
        let lists_fut = async {
            let t = Instant::now();
            (self.image_lists.check(&self.config, &input).await, ms(t))
        };
        let ((labels, t_labels), (mut moderation, t_moderation), (listed, t_lists)) =
            tokio::join!(labels_fut, moderation_fut, lists_fut);
        timings.insert("labels".into(), t_labels);
        timings.insert("moderation".into(), t_moderation);
        if libraries::ImageListCheck::wanted(&self.config) {
            timings.insert("image_lists".into(), t_lists);
        }
        // The text the moderation read goes to its own section, matched against the keywords.
        let mut text = moderation.output.as_mut().and_then(|o| o.text.take());
        if !self.config.libraries.ocr {
            text = None;
        }
        if let Some(t) = &mut text {
            libraries::finish_text(&self.config, t);
        }
        let listed = listed.unwrap_or_else(|why| {
            warn!(error = %why, "image lists not checked");
            result.notes.push(format!("{LISTS_NOT_CHECKED}: {why}"));
            None
        });
        let state = match (&moderation.status, &moderation.output) {
            (StageStatus::Done, Some(out)) => ModerationState::Done(out),
            (StageStatus::Disabled, _) => ModerationState::Disabled,
            _ => ModerationState::Unavailable(moderation.reason.as_deref().unwrap_or("no output")),
        };
        let decided = verdict::decide(state, &self.config.thresholds, self.config.on_error);
        let decided = match &labels.output {
            Some(o) => verdict::with_label_findings(
                decided,
                o.flagged.as_deref(),
                &o.signals,
                &self.config.thresholds,
            ),
            None => decided,
        };
        let findings = libraries::findings(text.as_ref(), listed.as_ref());
        let decided = verdict::with_findings(decided, &findings, &self.config.thresholds);
        result.verdict = Some(match &listed {
            Some(m) if m.list == crate::result::ListKind::Allow => {
                verdict::allow_listed(&decided, &m.sample)
            }
            _ => decided,
        });
        result.text = text;
        result.image_list = listed;
        result.labels = labels;
        result.moderation = moderation;
        Ok(hash)
    }
}

/// The analyzer built before, or a new one. Only a success is kept: one that failed to build
/// (models not mounted yet, credentials not delivered yet) is tried again on the next event
/// instead of failing every event of a warm instance.
fn cached_or_built<K: std::hash::Hash + Eq + Copy, T: ?Sized>(
    cache: &mut HashMap<K, Built<T>>,
    kind: K,
    build: impl FnOnce() -> Built<T>,
) -> Built<T> {
    if let Some(Ok(built)) = cache.get(&kind) {
        return Ok(built.clone());
    }
    let built = build();
    if built.is_ok() {
        cache.insert(kind, built.clone());
    }
    built
}

/// An analyzer that exists and whose limits the image meets; otherwise the stage to record.
fn admit<T: ?Sized, O>(
    configured: &str,
    built: Built<T>,
    facts: &ImageFacts,
    limits: impl Fn(&T) -> &Limits,
    name: impl Fn(&T) -> &'static str,
) -> Result<Arc<T>, Stage<O>> {
    match built {
        Ok(None) => Err(Stage::disabled()),
        Err(e) => Err(Stage::failed(configured, &e)),
        Ok(Some(a)) => match preflight::check(limits(&a), facts) {
            Ok(()) => Ok(a),
            Err(v) => Err(Stage::skipped(name(&a), v.code(), v.to_string())),
        },
    }
}

/// The start of the note a result gets when the image lists could not be checked.
const LISTS_NOT_CHECKED: &str = "image lists (TRIAGE_IMAGE_LISTS) not checked";

/// Lifetime of the presigned GET URL handed to services that fetch the object themselves: long
/// enough for their download and retries, short enough to be useless once leaked.
pub const PRESIGN_TTL: std::time::Duration = std::time::Duration::from_secs(300);

fn ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_analyzers_that_built_are_kept() {
        let mut cache: HashMap<u8, Built<str>> = HashMap::new();
        let fail = || Err(AnalyzerError::permanent("huawei", "no credentials yet"));
        let ok = || Ok(Some(Arc::<str>::from("built")));
        assert!(cached_or_built(&mut cache, 1, fail).is_err());
        // Credentials arrived: the next event builds it.
        let built = cached_or_built(&mut cache, 1, ok).unwrap();
        assert_eq!(built.as_deref(), Some("built"));
        // From then on, the built one is kept.
        assert!(cached_or_built(&mut cache, 1, fail).unwrap().is_some());
    }
}
