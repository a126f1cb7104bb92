//! `image-triage inspect BUCKET KEY`: the stored result of one object.

use std::process::ExitCode;

use image_triage::config::StoreKind;
use image_triage::{inspect, store, Provider};

use super::{config_or_exit, init_logs, provider_arg, Exit};

#[derive(clap::Args)]
pub struct Args {
    bucket: String,
    key: String,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Which store to read when TRIAGE_STORE is not `local`.
    #[arg(long, value_parser = provider_arg(), default_value = "local")]
    provider: Provider,
}

pub async fn run(args: Args) -> Exit {
    init_logs("warn", false);
    let config = config_or_exit()?;
    let store = match (&config.store, args.provider) {
        (StoreKind::Auto, Provider::Local) => {
            eprintln!("image-triage: set TRIAGE_LOCAL_ROOT (and TRIAGE_STORE=local) to inspect the embedded bucket");
            return Err(ExitCode::from(2));
        }
        (_, p) => store::for_provider(&config, p),
    }
    .map_err(|e| {
        eprintln!("image-triage: {e}");
        ExitCode::from(2)
    })?;
    let report = inspect::inspect(&*store, &args.bucket, &args.key, &config.results_prefix)
        .await
        .map_err(|e| {
            eprintln!("image-triage: {e}");
            ExitCode::from(if e.retryable() { 1 } else { 2 })
        })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", inspect::render(&report));
    }
    Ok(if report.found_anything() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
