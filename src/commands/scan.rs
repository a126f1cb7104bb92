//! `image-triage scan BUCKET [PREFIX]`: backfill the objects already in a bucket.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use image_triage::config::StoreKind;
use image_triage::pipeline::Pipeline;
use image_triage::{scan, store, Provider};

use super::{config_or_exit, init_logs, provider_arg, Exit};

#[derive(clap::Args)]
pub struct Args {
    bucket: String,
    /// Only keys starting with this.
    #[arg(default_value = "")]
    prefix: String,
    /// Which store holds the bucket (default: `local` with TRIAGE_STORE=local, else `s3`).
    #[arg(long, value_parser = provider_arg())]
    provider: Option<Provider>,
    /// Objects triaged at the same time.
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
}

pub async fn run(args: Args) -> Exit {
    init_logs("warn", false);
    let config = config_or_exit()?;
    let provider = match (args.provider, &config.store) {
        (Some(p), _) => p,
        (None, StoreKind::Local(_)) => Provider::Local,
        (None, StoreKind::Auto) => Provider::S3,
    };
    let fail = |msg: String| {
        eprintln!("image-triage scan: {msg}");
        ExitCode::from(2)
    };
    let store = store::for_provider(&config, provider).map_err(|e| fail(e.to_string()))?;
    let mut start_after = args.start_after.clone();
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
                start_after = s.start_after;
            }
            _ => {}
        }
    }
    let opts = scan::ScanOptions {
        bucket: args.bucket,
        prefix: args.prefix,
        provider,
        concurrency: args.concurrency.into(),
        start_after,
        state: args.state,
        page_size: args.page_size.into(),
    };
    let pipeline = Arc::new(Pipeline::with_store(config, store.clone()));
    let mut progress = scan::ConsoleProgress::new();
    let (summary, result) = scan::scan(pipeline, store, &opts, &mut progress).await;
    progress.finish();
    eprintln!("{}", summary.render());
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
