//! `image-triage poll-sqs QUEUE`: consume S3 notifications from an SQS queue.

use std::process::ExitCode;
use std::sync::Arc;

use image_triage::pipeline::Pipeline;
use image_triage::runtime;
use image_triage::Provider;

use super::{config_or_exit, fail, init_logs, self_hosted_credentials, Exit};

#[derive(clap::Args)]
pub struct Args {
    queue: String,
    /// Long-poll wait per receive, seconds (at most 20).
    #[arg(long, default_value_t = 20)]
    wait: u32,
    /// Exit once a receive returns no message (drain the queue, then stop).
    #[arg(long)]
    exit_when_empty: bool,
    /// Messages handled at once (1-10).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10))]
    concurrency: u32,
    /// Seconds allowed per message, retries included; keep it below the queue's visibility
    /// timeout (SQS's default is 30).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=43200))]
    timeout: u64,
}

pub async fn run(args: Args) -> Exit {
    init_logs("info", false);
    let config = config_or_exit()?;
    let client = image_triage::sinks::sqs::SqsClient::new(&args.queue, &config)
        .map_err(fail("poll-sqs", 2))?;
    self_hosted_credentials(&config, &[Provider::S3], &[args.queue.as_str()]).await?;
    let pipeline = Arc::new(Pipeline::new(config));
    let opts = runtime::sqs_poll::PollOptions {
        wait_secs: args.wait.min(20),
        exit_when_empty: args.exit_when_empty,
        concurrency: args.concurrency,
        timeout: std::time::Duration::from_secs(args.timeout),
    };
    runtime::sqs_poll::run(
        pipeline,
        client,
        opts,
        runtime::serve::shutdown_signal(),
        |o| println!("{}", serde_json::to_string(o).unwrap_or_default()),
    )
    .await
    .map_err(fail("poll-sqs", 1))?;
    Ok(ExitCode::SUCCESS)
}
