//! The backfill routes that do not triage here: `scan --dry-run` (count and estimate),
//! `scan --enqueue` (one upload event per object, see [`super::enqueue`]) and `scan --manifest`
//! (a batch-job manifest, see [`super::manifest`]).
//!
//! Each lists the bucket like `scan` and asks the guard about every object without triaging it
//! (`Pipeline::current`: one HEAD, plus what the marker check reads), `concurrency` at a time,
//! in listing order. Objects under the results or quarantine prefix, in a bucket
//! `TRIAGE_BUCKETS` leaves out, or gone since listing are left out; those with a current result
//! are skipped; the rest are the plan. The plan is estimated (see [`super::cost`]) and printed
//! *before* anything is sent, then sent, in batches of [`PLAN_BATCH`] objects so that memory
//! stays bounded on any bucket.
//!
//! Resuming works as for `scan` (same `--state` file, same `--start-after`): the resume marker
//! is the greatest key up to which every object was sent, written or found not to need triage.
//! An object whose check failed holds the marker before it for the rest of the run, so a resume
//! checks it again. A send that fails (after the queue's own retries) stops the run.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::cost::{self, Estimate, Service, Tally};
use super::enqueue::{Enqueuer, Needed};
use super::manifest::ManifestWriter;
use super::{ScanError, ScanOptions, ScanState};
use crate::object::ObjectRef;
use crate::pipeline::{guard, Current, Pipeline};
use crate::store::{ObjectStore, StoreError};

/// Objects needing triage held in memory before they are sent (a few hundred bytes each).
pub const PLAN_BATCH: usize = 100_000;

/// What happens to the objects that need triage.
#[derive(Debug)]
pub enum Action {
    DryRun,
    /// Boxed: the queue client is large, and there is one action per run.
    Enqueue(Box<Enqueuer>),
    Manifest(ManifestWriter),
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::DryRun => "dry_run",
            Action::Enqueue(_) => "enqueue",
            Action::Manifest(_) => "manifest",
        }
    }
}

/// Counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanSummary {
    /// `dry_run`, `enqueue` or `manifest`.
    pub action: &'static str,
    pub listed: u64,
    /// Objects without a current result.
    pub needed: u64,
    pub needed_bytes: u64,
    /// Upload events sent, or manifest rows written.
    pub sent: u64,
    /// Events the queue refused as repeats (the file queue).
    pub duplicates: u64,
    pub already_current: u64,
    /// By reason: `own_output`, `bucket_not_allowed`, `object_gone`.
    pub left_out: BTreeMap<String, u64>,
    /// Objects whose check failed (a store error): neither sent nor left behind the marker.
    pub failed: u64,
    pub failed_retryable: u64,
    /// Batches estimated before sending.
    pub batches: u64,
    pub resume_after: Option<String>,
    pub complete: bool,
}

impl PlanSummary {
    pub fn checked(&self) -> u64 {
        self.needed + self.already_current + self.left_out.values().sum::<u64>() + self.failed
    }

    /// One human line: what was found, what was sent, where to resume.
    pub fn render(&self) -> String {
        let left: u64 = self.left_out.values().sum();
        let reasons: Vec<String> = self
            .left_out
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let (flag, done) = match self.action {
            "dry_run" => ("--dry-run", "nothing sent or written".to_string()),
            "manifest" => (
                "--manifest",
                format!("{} written to the manifest", self.sent),
            ),
            _ => ("--enqueue", format!("{} sent", self.sent)),
        };
        let mut s = format!(
            "scan {flag}: {} listed, {} need triage ({}), {done}{}, {} already current, {left} left out{}, {} failed ({} retryable)",
            self.listed,
            self.needed,
            cost::human_bytes(self.needed_bytes),
            if self.duplicates > 0 {
                format!(" ({} refused as repeats)", self.duplicates)
            } else {
                String::new()
            },
            self.already_current,
            if reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", reasons.join(", "))
            },
            self.failed,
            self.failed_retryable,
        );
        match (&self.resume_after, self.complete, self.action) {
            (_, true, _) => s.push_str("; complete"),
            (_, false, "dry_run") => s.push_str("; not complete"),
            (Some(k), false, _) => s.push_str(&format!("; resume with --start-after {k:?}")),
            (None, false, _) => s.push_str("; not complete, nothing finished yet"),
        }
        s
    }
}

/// Hooks for showing progress; called from the run's own task, in order.
pub trait PlanProgress {
    fn listed(&mut self, _n: u64) {}
    fn checked(&mut self, _summary: &PlanSummary) {}
    fn sent(&mut self, _summary: &PlanSummary) {}
    /// A batch is about to be sent or written: what its triage will cost.
    fn before_sending(&mut self, _estimate: &Estimate, _summary: &PlanSummary) {}
}

/// Where the resume marker stands.
struct Marker {
    key: Option<String>,
    /// A check failed: the marker stays before that object.
    held: bool,
}

impl Marker {
    fn advance(&mut self, key: String) {
        if !self.held {
            self.key = Some(key);
        }
    }
}

/// One checked object, in listing order. Runs of finished objects collapse into their last
/// key: the marker only needs that.
enum Entry {
    Todo(Needed),
    Failed,
    Finished(String),
}

struct Run<'a> {
    opts: &'a ScanOptions,
    services: &'a [Service],
    summary: PlanSummary,
    marker: Marker,
    batch: Vec<Entry>,
    batch_todo: usize,
    batch_tally: Tally,
    total: Tally,
    last_saved: Instant,
}

impl Run<'_> {
    fn push(&mut self, entry: Entry) {
        match entry {
            // Nothing pending before it: the marker passes it now.
            Entry::Finished(key) if self.batch.is_empty() => self.marker.advance(key),
            Entry::Finished(key) => match self.batch.last_mut() {
                Some(Entry::Finished(last)) => *last = key,
                _ => self.batch.push(Entry::Finished(key)),
            },
            Entry::Failed if self.batch.is_empty() => self.marker.held = true,
            other => {
                if matches!(other, Entry::Todo(_)) {
                    self.batch_todo += 1;
                }
                self.batch.push(other);
            }
        }
    }

    fn save_state(&mut self, complete: bool, force: bool) -> Result<(), ScanError> {
        let Some(path) = &self.opts.state else {
            return Ok(());
        };
        if !force && self.last_saved.elapsed() < Duration::from_millis(500) {
            return Ok(());
        }
        self.last_saved = Instant::now();
        ScanState {
            bucket: self.opts.bucket.clone(),
            prefix: self.opts.prefix.clone(),
            start_after: self.marker.key.clone(),
            complete,
            updated_at: chrono::Utc::now(),
        }
        .save(path)
    }

    /// Estimate the batch, then send or write it in order.
    async fn flush(
        &mut self,
        action: &mut Action,
        progress: &mut dyn PlanProgress,
    ) -> Result<(), ScanError> {
        let batch = std::mem::take(&mut self.batch);
        let todo = std::mem::take(&mut self.batch_todo);
        let tally = std::mem::replace(&mut self.batch_tally, Tally::new(self.services));
        self.total.merge(&tally);
        if todo > 0 && !matches!(action, Action::DryRun) {
            self.summary.batches += 1;
            progress.before_sending(&cost::estimate(self.services, &tally), &self.summary);
        }
        let concurrency = self.opts.concurrency.max(1);
        // Sends run `concurrency` at a time; results are taken in listing order, so the marker
        // only ever passes objects that are done.
        let mut pending: VecDeque<(Option<String>, Pending)> = VecDeque::new();
        let mut tasks = 0usize;
        let mut first_error = None;
        for entry in batch {
            let item = match entry {
                Entry::Todo(n) => match action {
                    Action::DryRun => (Some(n.key), Pending::Done),
                    Action::Manifest(w) => {
                        if first_error.is_none() {
                            match w.write(&self.opts.bucket, &n.key, n.version_id.as_deref()) {
                                Ok(()) => self.summary.sent += 1,
                                Err(e) => first_error = Some(e),
                            }
                        }
                        (Some(n.key), Pending::Done)
                    }
                    Action::Enqueue(e) => {
                        let e = Enqueuer::clone(e);
                        let key = n.key.clone();
                        let task = tokio::spawn(async move { e.send(&n).await });
                        (Some(key), Pending::Task(task))
                    }
                },
                Entry::Failed => (None, Pending::Hold),
                Entry::Finished(key) => (Some(key), Pending::Done),
            };
            if matches!(item.1, Pending::Task(_)) {
                tasks += 1;
            }
            pending.push_back(item);
            // Settle what is ready at the front, and wait for the oldest send when
            // `concurrency` are under way.
            while pending
                .front()
                .is_some_and(|p| !matches!(p.1, Pending::Task(_)))
                || tasks >= concurrency
            {
                let next = pending.pop_front();
                if next
                    .as_ref()
                    .is_some_and(|p| matches!(p.1, Pending::Task(_)))
                {
                    tasks -= 1;
                }
                self.settle(next, &mut first_error, action, progress)
                    .await?;
            }
            if first_error.is_some() {
                break;
            }
        }
        while !pending.is_empty() {
            self.settle(pending.pop_front(), &mut first_error, action, progress)
                .await?;
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn settle(
        &mut self,
        next: Option<(Option<String>, Pending)>,
        first_error: &mut Option<ScanError>,
        action: &mut Action,
        progress: &mut dyn PlanProgress,
    ) -> Result<(), ScanError> {
        let Some((key, pending)) = next else {
            return Ok(());
        };
        let ok = match pending {
            Pending::Done => true,
            Pending::Hold => {
                self.marker.held = true;
                false
            }
            Pending::Task(task) => match task.await {
                Ok(Ok(fresh)) => {
                    if fresh {
                        self.summary.sent += 1;
                    } else {
                        self.summary.duplicates += 1;
                    }
                    progress.sent(&self.summary);
                    true
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                    false
                }
                Err(e) => {
                    first_error.get_or_insert(ScanError::Event {
                        key: key.clone().unwrap_or_default(),
                        reason: format!("the send task failed: {e}"),
                    });
                    false
                }
            },
        };
        match key {
            Some(k) if ok && first_error.is_none() => self.marker.advance(k),
            _ => self.marker.held = true,
        }
        if !matches!(action, Action::DryRun) {
            if let Action::Manifest(w) = action {
                // Rows the marker counts must be on disk before the marker is.
                if self.opts.state.is_some()
                    && self.last_saved.elapsed() >= Duration::from_millis(500)
                {
                    w.sync()?;
                }
            }
            self.save_state(false, false)?;
        }
        Ok(())
    }
}

enum Pending {
    Done,
    Hold,
    Task(tokio::task::JoinHandle<Result<bool, ScanError>>),
}

/// Run a route. `pipeline` must read through `store`. The summary and the estimate of all the
/// objects that need triage are there even when the run stopped early.
pub async fn run(
    pipeline: Arc<Pipeline>,
    store: Arc<dyn ObjectStore>,
    opts: &ScanOptions,
    services: &[Service],
    mut action: Action,
    progress: &mut dyn PlanProgress,
) -> (PlanSummary, Estimate, Result<(), ScanError>) {
    let mut run = Run {
        opts,
        services,
        summary: PlanSummary {
            action: action.name(),
            ..PlanSummary::default()
        },
        marker: Marker {
            key: opts.start_after.clone(),
            held: false,
        },
        batch: Vec::new(),
        batch_todo: 0,
        batch_tally: Tally::new(services),
        total: Tally::new(services),
        last_saved: Instant::now(),
    };
    let dry_run = matches!(action, Action::DryRun);
    let mut listing_done = false;
    let result: Result<(), ScanError> = async {
        let mut list_after = opts.start_after.clone();
        loop {
            let page = store
                .list(
                    &opts.bucket,
                    &opts.prefix,
                    list_after.as_deref(),
                    opts.page_size.max(1),
                )
                .await
                .map_err(|e| ScanError::List(Box::new(e)))?;
            run.summary.listed += page.objects.len() as u64;
            progress.listed(page.objects.len() as u64);
            let mut checks: VecDeque<(String, tokio::task::JoinHandle<_>)> = VecDeque::new();
            let mut objects = page.objects.into_iter();
            loop {
                while checks.len() < opts.concurrency.max(1) {
                    let Some(listed) = objects.next() else { break };
                    let obj = ObjectRef::new(opts.provider, &opts.bucket, &listed.key);
                    let p = pipeline.clone();
                    checks.push_back((
                        listed.key,
                        tokio::spawn(async move { p.current(&obj).await }),
                    ));
                }
                let Some((key, check)) = checks.pop_front() else {
                    break;
                };
                let checked = check.await.unwrap_or_else(|e| {
                    Err(StoreError::Io {
                        bucket: opts.bucket.clone(),
                        key: key.clone(),
                        op: "check",
                        source: std::io::Error::other(e.to_string()),
                    })
                });
                run.record(key, checked);
                progress.checked(&run.summary);
                if run.batch_todo >= PLAN_BATCH {
                    run.flush(&mut action, progress).await?;
                }
            }
            match page.next_marker {
                // A store that repeats its marker would loop forever.
                Some(m) if Some(&m) != list_after.as_ref() => list_after = Some(m),
                _ => break,
            }
        }
        listing_done = true;
        run.flush(&mut action, progress).await
    }
    .await;
    // The rows written so far reach the disk whatever stopped the run; when they cannot, the
    // state file keeps the marker of the last rows that did (saved after each sync).
    let (result, synced) = match (&mut action, result) {
        (Action::Manifest(w), r) => {
            let synced = w.sync();
            let ok = synced.is_ok();
            (r.and(synced), ok)
        }
        (_, r) => (r, true),
    };
    run.summary.complete = result.is_ok() && listing_done && !run.marker.held;
    run.summary.resume_after = run.marker.key.clone();
    let saved = match dry_run || !synced {
        // A dry run writes nothing, its state file included.
        true => Ok(()),
        false => run.save_state(run.summary.complete, true),
    };
    let estimate = cost::estimate(services, &run.total);
    (run.summary, estimate, result.and(saved))
}

impl Run<'_> {
    fn record(&mut self, key: String, checked: Result<Current, StoreError>) {
        let mut left_out = |code: &str| *self.summary.left_out.entry(code.into()).or_default() += 1;
        match checked {
            Ok(Current::NotOurs { code }) => left_out(code),
            Ok(Current::Gone) => left_out("object_gone"),
            Ok(Current::Done { .. }) => self.summary.already_current += 1,
            Ok(Current::Needed(meta)) => {
                self.summary.needed += 1;
                self.summary.needed_bytes += meta.size;
                let kind = cost::guess_kind(&key, meta.content_type.as_deref());
                self.batch_tally.add(self.services, kind, meta.size);
                self.push(Entry::Todo(Needed {
                    key,
                    size: meta.size,
                    etag: guard::normalize_etag(&meta.etag),
                    version_id: meta.version_id,
                    content_type: meta.content_type,
                }));
                return;
            }
            Err(e) => {
                self.summary.failed += 1;
                if e.retryable() {
                    self.summary.failed_retryable += 1;
                }
                tracing::warn!(key = %key, error = %e, "checking the object failed; it is left for a resumed run");
                self.push(Entry::Failed);
                return;
            }
        }
        self.push(Entry::Finished(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Provider;
    use crate::store::ObjectMeta;

    fn opts() -> ScanOptions {
        ScanOptions {
            bucket: "b".into(),
            prefix: String::new(),
            provider: Provider::Local,
            concurrency: 2,
            start_after: Some("0".into()),
            state: None,
            page_size: 10,
        }
    }

    fn needed(size: u64) -> Result<Current, StoreError> {
        Ok(Current::Needed(ObjectMeta {
            size,
            etag: "\"e\"".into(),
            ..ObjectMeta::default()
        }))
    }

    #[tokio::test]
    async fn a_failed_check_holds_the_marker_while_later_objects_are_still_handed_on() {
        let opts = opts();
        let services = cost::services(
            crate::config::LabelerKind::Local,
            crate::config::ModeratorKind::None,
            &cost::Settings {
                scenes: vec!["camera".into()],
                gif: Default::default(),
                huawei_tagging_limits: crate::preflight::limits::HUAWEI_TAGGING,
                celebrity: false,
                main_object: false,
            },
        );
        let mut run = Run {
            opts: &opts,
            services: &services,
            summary: PlanSummary::default(),
            marker: Marker {
                key: opts.start_after.clone(),
                held: false,
            },
            batch: Vec::new(),
            batch_todo: 0,
            batch_tally: Tally::new(&services),
            total: Tally::new(&services),
            last_saved: Instant::now(),
        };
        // Nothing pending: a finished object moves the marker at once.
        run.record(
            "1".into(),
            Ok(Current::Done {
                code: "already_processed",
                verdict: None,
            }),
        );
        assert_eq!(run.marker.key.as_deref(), Some("1"));
        run.record("a.png".into(), needed(100));
        run.record("b.png".into(), Ok(Current::Gone));
        run.record("c.png".into(), Ok(Current::NotOurs { code: "own_output" }));
        assert_eq!(
            run.marker.key.as_deref(),
            Some("1"),
            "a.png is not written yet"
        );
        let failure = StoreError::Io {
            bucket: "b".into(),
            key: "d.png".into(),
            op: "head",
            source: std::io::Error::from(std::io::ErrorKind::TimedOut),
        };
        run.record("d.png".into(), Err(failure));
        run.record("e.png".into(), needed(200));
        run.record(
            "f.png".into(),
            Ok(Current::Done {
                code: "already_processed",
                verdict: None,
            }),
        );
        assert_eq!(run.batch.len(), 5, "a, b+c as one entry, d, e, f");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let mut action = Action::Manifest(ManifestWriter::create(&path, false, false).unwrap());
        struct Quiet;
        impl PlanProgress for Quiet {}
        run.flush(&mut action, &mut Quiet).await.unwrap();
        if let Action::Manifest(w) = &mut action {
            w.sync().unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "b,a.png\nb,e.png\n"
        );
        assert_eq!(
            run.marker.key.as_deref(),
            Some("c.png"),
            "held before d.png"
        );
        assert!(run.marker.held);
        let s = &run.summary;
        assert_eq!(
            (s.needed, s.needed_bytes, s.sent, s.already_current),
            (2, 300, 2, 2)
        );
        assert_eq!((s.failed, s.failed_retryable), (1, 1));
        assert_eq!(
            s.left_out,
            BTreeMap::from([("object_gone".into(), 1), ("own_output".into(), 1)])
        );
        assert_eq!(run.total.objects, 2);
        assert!(
            s.render().contains("1 failed (1 retryable)"),
            "{}",
            s.render()
        );
    }
}
