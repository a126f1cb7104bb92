//! Backfill: `image-triage scan BUCKET [PREFIX]` lists the objects already in a bucket and
//! triages the ones without a current result.
//!
//! Each listed object goes through the same pipeline as an upload event, so the pipeline's guard
//! makes finished objects cheap (one HEAD: the marker matches this ETag and configuration) and
//! objects under the results or quarantine prefix are left out before any request. Objects run
//! `concurrency` at a time. Resuming works by key: the listing is in key order, and the *resume
//! marker* is the greatest key up to which every object has finished (objects finish out of
//! order), so `--start-after MARKER` never skips unfinished work. `--state FILE` keeps that
//! marker on disk as the scan goes.
//!
//! Three routes do not triage here ([`plan`]): `--dry-run` counts what needs triage and
//! estimates its billable calls ([`cost`]), `--enqueue` sends one upload event per object to a
//! queue the platform's consumers drain ([`enqueue`]), `--manifest` writes an S3 Batch
//! Operations manifest of those objects ([`manifest`]).

pub mod cost;
pub mod enqueue;
pub mod manifest;
pub mod plan;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::object::{ObjectRef, Provider};
use crate::pipeline::{guard, Outcome, Pipeline};
use crate::store::{ObjectStore, StoreError};

pub const PAGE_SIZE: u16 = 1000;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub bucket: String,
    pub prefix: String,
    pub provider: Provider,
    pub concurrency: usize,
    pub start_after: Option<String>,
    pub state: Option<PathBuf>,
    pub page_size: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("listing the bucket: {0}")]
    List(#[source] Box<StoreError>),
    #[error("scan state {path}: {reason}")]
    State { path: String, reason: String },
    #[error("sending to the queue: {0}")]
    Send(#[source] Box<crate::sinks::queue::QueueError>),
    #[error("manifest {path}: {reason}")]
    Manifest { path: String, reason: String },
    #[error("upload event for {key:?}: {reason}")]
    Event { key: String, reason: String },
}

impl ScanError {
    pub fn retryable(&self) -> bool {
        match self {
            ScanError::List(source) => source.retryable(),
            ScanError::Send(source) => source.retryable(),
            ScanError::State { .. } | ScanError::Manifest { .. } | ScanError::Event { .. } => false,
        }
    }
}

/// What `--state FILE` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanState {
    pub bucket: String,
    pub prefix: String,
    /// Every object with a key up to and including this one has finished.
    pub start_after: Option<String>,
    /// The listing reached its end and every object finished.
    pub complete: bool,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl ScanState {
    pub fn load(path: &Path) -> Result<Option<ScanState>, ScanError> {
        let bad = |reason: String| ScanError::State {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read(path) {
            Ok(raw) => serde_json::from_slice(&raw)
                .map(Some)
                .map_err(|e| bad(format!("not a scan state file: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(bad(e.to_string())),
        }
    }

    pub(crate) fn save(&self, path: &Path) -> Result<(), ScanError> {
        let bad = |e: std::io::Error| ScanError::State {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let raw = serde_json::to_vec_pretty(self).map_err(|e| bad(std::io::Error::other(e)))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, raw).map_err(bad)?;
        std::fs::rename(&tmp, path).map_err(bad)
    }
}

/// Counts of how the scan's objects ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub listed: u64,
    /// Under the results or quarantine prefix: not triaged, not counted below.
    pub own_output: u64,
    pub done: u64,
    /// By reason code (`already_processed`, `not_an_image`, ...).
    pub skipped: BTreeMap<String, u64>,
    pub failed: u64,
    pub failed_retryable: u64,
    /// The resume marker: pass as `--start-after` to continue an interrupted scan.
    pub resume_after: Option<String>,
    pub complete: bool,
}

impl Summary {
    pub fn finished(&self) -> u64 {
        self.done + self.skipped.values().sum::<u64>() + self.failed
    }

    fn count(&mut self, o: &Outcome) {
        match o.status {
            "done" => self.done += 1,
            "skipped" => {
                *self
                    .skipped
                    .entry(o.code.clone().unwrap_or_default())
                    .or_default() += 1
            }
            _ => {
                self.failed += 1;
                if o.retryable {
                    self.failed_retryable += 1;
                }
            }
        }
    }

    /// One human line for stderr.
    pub fn render(&self) -> String {
        let skipped: Vec<String> = self
            .skipped
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let mut s = format!(
            "scan: {} listed, {} done, {} skipped{}, {} failed ({} retryable), {} own output left out",
            self.listed,
            self.done,
            self.skipped.values().sum::<u64>(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" ({})", skipped.join(", "))
            },
            self.failed,
            self.failed_retryable,
            self.own_output,
        );
        match (&self.resume_after, self.complete) {
            (_, true) => s.push_str("; complete"),
            (Some(k), false) => s.push_str(&format!("; resume with --start-after {k:?}")),
            (None, false) => s.push_str("; not complete, nothing finished yet"),
        }
        s
    }
}

/// Hooks for showing progress; called from the scan's own task, in order.
pub trait Progress {
    fn listed(&mut self, _n: u64) {}
    fn finished(&mut self, _outcome: &Outcome, _summary: &Summary) {}
}

/// What the command shows: each outcome as one JSON line on stdout (like `process`), and on
/// stderr a progress bar when it is a terminal, else a status line every few seconds.
pub struct ConsoleProgress {
    bar: Option<indicatif::ProgressBar>,
    last_line: Instant,
    listed: u64,
}

impl ConsoleProgress {
    pub fn new() -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} objects [{elapsed_precise}] {wide_msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        ConsoleProgress {
            bar,
            last_line: Instant::now(),
            listed: 0,
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Default for ConsoleProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for ConsoleProgress {
    fn listed(&mut self, n: u64) {
        self.listed += n;
        if let Some(bar) = &self.bar {
            bar.inc_length(n);
        }
    }

    fn finished(&mut self, outcome: &Outcome, summary: &Summary) {
        let line = serde_json::to_string(outcome).unwrap_or_default();
        match &self.bar {
            // Through the bar, so the line does not tear it.
            Some(bar) => {
                bar.suspend(|| println!("{line}"));
                bar.inc(1);
                bar.set_message(format!(
                    "done {} · skipped {} · failed {}",
                    summary.done,
                    summary.skipped.values().sum::<u64>(),
                    summary.failed
                ));
            }
            None => {
                println!("{line}");
                if self.last_line.elapsed() >= Duration::from_secs(5) {
                    self.last_line = Instant::now();
                    eprintln!(
                        "scan: {} listed, {} finished (done {}, failed {})",
                        self.listed,
                        summary.finished(),
                        summary.done,
                        summary.failed
                    );
                }
            }
        }
    }
}

/// The keys in listing order, and which have finished: the resume marker is the last key of the
/// finished run at the front.
#[derive(Default)]
struct Watermark {
    queue: VecDeque<(u64, String, bool)>,
    marker: Option<String>,
}

impl Watermark {
    fn push(&mut self, seq: u64, key: String, finished: bool) {
        self.queue.push_back((seq, key, finished));
        self.advance();
    }
    fn finish(&mut self, seq: u64) {
        // Sequence numbers are consecutive from the front's.
        if let Some(front) = self.queue.front().map(|f| f.0) {
            if let Some(slot) = self.queue.get_mut((seq - front) as usize) {
                slot.2 = true;
            }
        }
        self.advance();
    }
    fn advance(&mut self) {
        while self.queue.front().is_some_and(|f| f.2) {
            if let Some((_, key, _)) = self.queue.pop_front() {
                self.marker = Some(key);
            }
        }
    }
}

/// Run the scan. `pipeline` must read and write through `store`. The summary is there even
/// when the scan stopped early (listing failed): its `resume_after` says where to go on.
pub async fn scan(
    pipeline: Arc<Pipeline>,
    store: Arc<dyn ObjectStore>,
    opts: &ScanOptions,
    progress: &mut dyn Progress,
) -> (Summary, Result<(), ScanError>) {
    let concurrency = opts.concurrency.max(1);
    let mut summary = Summary::default();
    let mut marks = Watermark {
        marker: opts.start_after.clone(),
        ..Watermark::default()
    };
    let mut tasks: JoinSet<(u64, Outcome)> = JoinSet::new();
    let mut keys: HashMap<tokio::task::Id, (u64, String)> = HashMap::new();
    let mut seq = 0u64;
    let mut last_saved = Instant::now();
    let mut list_after = opts.start_after.clone();
    let config = pipeline.config().clone();

    let state_now = |marks: &Watermark, complete: bool| ScanState {
        bucket: opts.bucket.clone(),
        prefix: opts.prefix.clone(),
        start_after: marks.marker.clone(),
        complete,
        updated_at: chrono::Utc::now(),
    };

    let result: Result<(), ScanError> = async {
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
            summary.listed += page.objects.len() as u64;
            progress.listed(page.objects.len() as u64);
            for listed in page.objects {
                seq += 1;
                let obj = ObjectRef::new(opts.provider, &opts.bucket, &listed.key);
                if guard::own_output(&obj, &config).is_some() {
                    summary.own_output += 1;
                    marks.push(seq, listed.key, true);
                    continue;
                }
                while tasks.len() >= concurrency {
                    collect(
                        &mut tasks,
                        &mut keys,
                        &mut marks,
                        &mut summary,
                        progress,
                        opts,
                    )
                    .await;
                }
                marks.push(seq, listed.key.clone(), false);
                let p = pipeline.clone();
                let n = seq;
                let handle = tasks.spawn(async move { (n, p.process(obj).await) });
                keys.insert(handle.id(), (seq, listed.key));
                if let Some(path) = &opts.state {
                    if last_saved.elapsed() >= Duration::from_millis(500) {
                        state_now(&marks, false).save(path)?;
                        last_saved = Instant::now();
                    }
                }
            }
            match page.next_marker {
                // A store that repeats its marker would loop forever.
                Some(m) if Some(&m) != list_after.as_ref() => list_after = Some(m),
                _ => break,
            }
        }
        Ok(())
    }
    .await;
    while !tasks.is_empty() {
        collect(
            &mut tasks,
            &mut keys,
            &mut marks,
            &mut summary,
            progress,
            opts,
        )
        .await;
    }
    summary.complete = result.is_ok() && marks.queue.is_empty();
    summary.resume_after = marks.marker.clone();
    let saved = match &opts.state {
        Some(path) => state_now(&marks, summary.complete).save(path),
        None => Ok(()),
    };
    (summary, result.and(saved))
}

async fn collect(
    tasks: &mut JoinSet<(u64, Outcome)>,
    keys: &mut HashMap<tokio::task::Id, (u64, String)>,
    marks: &mut Watermark,
    summary: &mut Summary,
    progress: &mut dyn Progress,
    opts: &ScanOptions,
) {
    let Some(joined) = tasks.join_next_with_id().await else {
        return;
    };
    let (n, outcome) = match joined {
        Ok((id, done)) => {
            keys.remove(&id);
            done
        }
        Err(e) => {
            // A panic inside the pipeline: a failure of that object; the scan goes on.
            let Some((n, key)) = keys.remove(&e.id()) else {
                return;
            };
            let obj = ObjectRef::new(opts.provider, &opts.bucket, key);
            let o = Outcome::failed(Some(&obj), "internal_error", e.to_string(), false);
            (n, o)
        }
    };
    marks.finish(n);
    summary.count(&outcome);
    progress.finished(&outcome, summary);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_marker_waits_for_every_earlier_key() {
        let mut w = Watermark {
            marker: Some("start".into()),
            ..Watermark::default()
        };
        w.push(1, "a".into(), false);
        w.push(2, "b".into(), true); // own output: finished at once
        w.push(3, "c".into(), false);
        w.finish(3);
        assert_eq!(w.marker.as_deref(), Some("start"), "a is still running");
        w.finish(1);
        assert_eq!(w.marker.as_deref(), Some("c"));
        assert!(w.queue.is_empty());
        w.push(4, "d".into(), false);
        w.push(5, "e".into(), false);
        w.finish(5);
        assert_eq!(w.marker.as_deref(), Some("c"));
    }
}
