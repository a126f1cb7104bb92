//! `image-triage scan BUCKET [PREFIX]`: backfill the objects already in a bucket, here or by
//! handing them on (`--enqueue`, `--manifest`), or count what that would cost (`--dry-run`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use image_triage::pipeline::Pipeline;
use image_triage::scan::cost::Estimate;
use image_triage::scan::plan::{self, PlanProgress, PlanSummary};
use image_triage::scan::{self, enqueue, manifest};
use image_triage::sinks::queue::Queue;
use image_triage::{store, Provider};

use super::{config_or_exit, init_logs, provider_arg, Exit};

/// Upload events per second by default: the strictest default vendor quota among the
/// analyzers a consumer may call (Huawei Content Moderation, 10 QPS), so a fan-out does not turn
/// into `RequestLimitExceeded` downstream.
pub const DEFAULT_RATE: f64 = 10.0;

#[derive(clap::Args)]
#[command(
    after_help = "Routes: without --enqueue, --manifest or --dry-run the objects are \
triaged here (one JSON outcome per object on stdout, a summary on stderr). With --enqueue or \
--manifest they are handed on, after the estimate of their billable calls is printed; with \
--dry-run only counted and estimated. Those print the estimate and, last, one summary line \
(counts: listed, need triage, sent or written, already current, left out, failed; the resume \
marker) on stdout, or JSON with --json. Exit 0, or 1 when a retryable failure remains; 2 when \
the command cannot run."
)]
#[command(group(clap::ArgGroup::new("route").multiple(true).args(["dry_run", "enqueue", "manifest"])))]
pub struct Args {
    bucket: String,
    /// Only keys starting with this.
    #[arg(default_value = "")]
    prefix: String,
    /// Which store holds the bucket (default: `local` with TRIAGE_STORE=local, else `s3`).
    #[arg(long, value_parser = provider_arg())]
    provider: Option<Provider>,
    /// Objects triaged (with --enqueue/--manifest/--dry-run: checked and sent) at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Start after this key (the resume marker an interrupted scan printed).
    #[arg(long)]
    start_after: Option<String>,
    /// Keep the resume marker in this JSON file while scanning, and resume from it.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Objects per listing request (1-1000).
    #[arg(long, default_value_t = scan::PAGE_SIZE, value_parser = clap::value_parser!(u16).range(1..=1000))]
    page_size: u16,
    /// Fan out instead of triaging here: send one upload event (the shape the bucket sends) per
    /// object without a current result to this queue, for the platform's consumers (Lambda SQS
    /// trigger, poll-sqs, a queue-triggered function) to triage in parallel. The schemes of
    /// TRIAGE_QUEUE: sqs://HOST/ACCOUNT/NAME, cmq://NAME?region=R, amqp[s]://…, file:PATH.
    /// Prints the cost estimate before sending.
    #[arg(long, value_name = "QUEUE_URL", conflicts_with = "manifest")]
    enqueue: Option<String>,
    /// Write the objects without a current result to FILE as an S3 Batch Operations CSV manifest
    /// (bucket,key; keys URL-encoded), for a batch job, instead of triaging them. Appended to
    /// when the scan resumes (--state or --start-after), else created anew.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// With --manifest: a third column with each object's version id (`null` for an object
    /// without one), on every row as the format requires.
    #[arg(long, requires = "manifest")]
    manifest_version_ids: bool,
    /// Count the objects that need triage (with their bytes) and estimate the billable calls of
    /// the configured analyzers; triage, send and write nothing (not even --state).
    #[arg(long)]
    dry_run: bool,
    /// With --enqueue: upload events sent per second at most.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RATE, value_parser = rate_arg)]
    rate: f64,
    /// With --enqueue/--manifest/--dry-run: the report (counts and estimate) as one JSON
    /// document on stdout; the human summary goes to stderr.
    #[arg(long, requires = "route")]
    json: bool,
}

fn rate_arg(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && (0.01..=10_000.0).contains(r))
        .ok_or_else(|| "expected messages per second, 0.01 to 10000".to_string())
}

pub async fn run(args: Args) -> Exit {
    init_logs("warn", false);
    let config = config_or_exit()?;
    let provider = super::bucket_provider(args.provider, &config);
    let fail = |msg: String| {
        eprintln!("image-triage scan: {msg}");
        ExitCode::from(2)
    };
    let enqueue: Vec<&str> = args.enqueue.as_deref().into_iter().collect();
    super::self_hosted_credentials(&config, &[provider], &enqueue).await?;
    let store = store::for_provider(&config, provider).map_err(|e| fail(e.to_string()))?;
    let mut start_after = args.start_after.clone();
    let mut resuming = start_after.is_some();
    if let Some(path) = &args.state {
        match scan::ScanState::load(path).map_err(|e| fail(e.to_string()))? {
            Some(s) if s.bucket != args.bucket || s.prefix != args.prefix => {
                return Err(fail(format!(
                    "{} belongs to a scan of {}/{}, not {}/{}",
                    path.display(),
                    s.bucket,
                    s.prefix,
                    args.bucket,
                    args.prefix
                )));
            }
            // A finished scan has nothing to resume: this run checks everything again (cheap).
            Some(s) if start_after.is_none() && !s.complete => {
                eprintln!(
                    "image-triage scan: resuming after {:?} from {}",
                    s.start_after.as_deref().unwrap_or(""),
                    path.display()
                );
                resuming = true;
                start_after = s.start_after;
            }
            _ => {}
        }
    }
    let opts = scan::ScanOptions {
        bucket: args.bucket.clone(),
        prefix: args.prefix.clone(),
        provider,
        concurrency: args.concurrency.into(),
        start_after,
        state: args.state.clone(),
        page_size: args.page_size.into(),
    };
    let routed = args.dry_run || args.enqueue.is_some() || args.manifest.is_some();
    if !routed {
        let pipeline = Arc::new(Pipeline::with_store(config, store.clone()));
        let mut progress = scan::ConsoleProgress::new();
        let (summary, result) = scan::scan(pipeline, store, &opts, &mut progress).await;
        progress.finish();
        eprintln!("{}", summary.render());
        if let Err(e) = result {
            eprintln!("image-triage scan: {e}");
            return Err(ExitCode::from(if e.retryable() { 1 } else { 2 }));
        }
        return Ok(if summary.failed_retryable > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }

    let services = scan::cost::services_for(&config, provider).map_err(|e| fail(e.to_string()))?;
    // The queue URL is checked even in a dry run (nothing connects until the first send).
    let queue = match &args.enqueue {
        Some(url) => Some(Queue::for_url(url, &config).map_err(|e| {
            fail(
                e.to_string()
                    .replace(url.as_str(), &image_triage::config::redact_userinfo(url)),
            )
        })?),
        None => None,
    };
    let action = match (args.dry_run, queue, &args.manifest) {
        // (false, None, None) is not `routed`, which returned above.
        (true, _, _) | (false, None, None) => plan::Action::DryRun,
        (false, Some(q), _) => plan::Action::Enqueue(Box::new(enqueue::Enqueuer::new(
            q,
            args.rate,
            &config,
            provider,
            &args.bucket,
        ))),
        (false, None, Some(path)) => plan::Action::Manifest(
            manifest::ManifestWriter::create(path, resuming, args.manifest_version_ids)
                .map_err(|e| fail(e.to_string()))?,
        ),
    };
    let pipeline = Arc::new(Pipeline::with_store(config, store.clone()));
    let mut progress = RouteProgress::new(!args.json);
    let (summary, estimate, result) =
        plan::run(pipeline, store, &opts, &services, action, &mut progress).await;
    progress.finish();
    report(&summary, &estimate, args.json);
    if let Err(e) = result {
        eprintln!("image-triage scan: {e}");
        return Err(ExitCode::from(if e.retryable() { 1 } else { 2 }));
    }
    Ok(if summary.failed_retryable > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The estimate (unless one was printed before the only batch was sent) and the summary line,
/// last: on stdout, or as JSON on stdout with the line on stderr.
fn report(summary: &PlanSummary, estimate: &Estimate, json: bool) {
    if json {
        let doc = serde_json::json!({"summary": summary, "estimate": estimate});
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        eprintln!("{}", summary.render());
        return;
    }
    if summary.batches != 1 {
        let what = match summary.action {
            "dry_run" => "would cost",
            _ => "cost in all",
        };
        println!("scan: what the triage of these objects {what}:");
        for line in estimate.render() {
            println!("{line}");
        }
    }
    println!("{}", summary.render());
}

/// Progress for the routes: a bar on a terminal, else a status line on stderr every few
/// seconds; the estimate before each batch is sent, on stdout (stderr with --json).
struct RouteProgress {
    bar: Option<indicatif::ProgressBar>,
    last_line: Instant,
    listed: u64,
    estimate_to_stdout: bool,
}

impl RouteProgress {
    fn new(estimate_to_stdout: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} checked [{elapsed_precise}] {wide_msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        RouteProgress {
            bar,
            last_line: Instant::now(),
            listed: 0,
            estimate_to_stdout,
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn status(&mut self, s: &PlanSummary) {
        let msg = format!(
            "need triage {} · current {} · sent {} · failed {}",
            s.needed, s.already_current, s.sent, s.failed
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(s.checked());
                bar.set_message(msg);
            }
            None if self.last_line.elapsed() >= Duration::from_secs(5) => {
                self.last_line = Instant::now();
                eprintln!(
                    "scan: {} listed, {} checked: {msg}",
                    self.listed,
                    s.checked()
                );
            }
            None => {}
        }
    }
}

impl PlanProgress for RouteProgress {
    fn listed(&mut self, n: u64) {
        self.listed += n;
        if let Some(bar) = &self.bar {
            bar.inc_length(n);
        }
    }

    fn checked(&mut self, s: &PlanSummary) {
        self.status(s);
    }

    fn sent(&mut self, s: &PlanSummary) {
        self.status(s);
    }

    fn before_sending(&mut self, estimate: &Estimate, s: &PlanSummary) {
        let verb = match s.action {
            "manifest" => "writing to the manifest",
            _ => "sending upload events for",
        };
        let mut lines = vec![format!(
            "scan: {verb} {} object(s); what their triage will cost:",
            estimate.objects
        )];
        lines.extend(estimate.render());
        let print = || {
            for line in &lines {
                if self.estimate_to_stdout {
                    println!("{line}");
                } else {
                    eprintln!("{line}");
                }
            }
        };
        match &self.bar {
            // Through the bar, so the lines do not tear it.
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }
}
