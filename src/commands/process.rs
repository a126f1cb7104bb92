//! `image-triage process EVENT.json`: one platform event, handled exactly as the function would.
//! Batch invocations (S3 Batch Operations, the COS shape) too: one outcome per task, or with
//! `--batch-response` the batch response the function would return.

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
    /// For a batch invocation (S3 Batch Operations, COS): print the batch response JSON
    /// (`invocationId`, `results[]` of `taskId`, `resultCode`, `resultString`) instead of the
    /// outcomes. Any other event is refused (exit 2).
    #[arg(long)]
    batch_response: bool,
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
    let payload: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let batch = match &payload {
        Some(v) => runtime::batch::run(&pipeline, v, args.provider).await,
        None => None,
    };
    let (outcomes, response) = match batch {
        Some(run) => (run.outcomes, Some(run.response)),
        None if args.batch_response => {
            // Checked before anything is processed: nothing ran.
            eprintln!(
                "image-triage: --batch-response: {} is not an answerable batch invocation \
                 (invocationSchemaVersion, invocationId, tasks[]); run without it to see why",
                args.event.display()
            );
            return Err(ExitCode::from(2));
        }
        None => (pipeline.handle_event(&body, args.provider).await, None),
    };
    let mut out = std::io::stdout().lock();
    match response.filter(|_| args.batch_response) {
        Some(response) => {
            let _ = writeln!(out, "{response}");
        }
        None => {
            for o in &outcomes {
                let _ = writeln!(out, "{}", serde_json::to_string(o).unwrap_or_default());
            }
        }
    }
    Ok(if runtime::needs_retry(&outcomes) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
