//! `image-triage process EVENT.json`: one platform event, handled exactly as the function would.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use image_triage::pipeline::Pipeline;
use image_triage::{runtime, Provider};

use super::{config_or_exit, init_logs, provider_arg, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// The event JSON file (`-` for stdin).
    event: PathBuf,
    /// The platform the event came from, for S3-shaped events that could be OBS or S3.
    #[arg(long, value_parser = provider_arg())]
    provider: Option<Provider>,
}

pub async fn run(args: Args) -> Exit {
    init_logs("warn", false);
    let config = config_or_exit()?;
    let body = if args.event.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
    } else {
        std::fs::read(&args.event)
    }
    .map_err(|e| {
        eprintln!("image-triage: cannot read {}: {e}", args.event.display());
        ExitCode::from(2)
    })?;
    let pipeline = Pipeline::new(config);
    let outcomes = pipeline.handle_event(&body, args.provider).await;
    let mut out = std::io::stdout().lock();
    for o in &outcomes {
        let _ = writeln!(out, "{}", serde_json::to_string(o).unwrap_or_default());
    }
    Ok(if runtime::needs_retry(&outcomes) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
