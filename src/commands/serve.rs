//! `image-triage serve`: the self-hosted endpoint for S3-style bucket notifications.

use std::process::ExitCode;
use std::sync::Arc;

use image_triage::pipeline::Pipeline;
use image_triage::runtime;
use image_triage::Provider;

use super::{config_or_exit, fail, init_logs, self_hosted_credentials, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (default TRIAGE_SERVE_BIND, else 127.0.0.1:8080).
    #[arg(long)]
    bind: Option<std::net::SocketAddr>,
}

pub async fn run(args: Args) -> Exit {
    init_logs("info", false);
    let config = config_or_exit()?;
    let opts =
        runtime::serve::Options::from_config(&config, args.bind).map_err(fail("serve", 2))?;
    self_hosted_credentials(&config, &[Provider::S3], &[]).await?;
    let pipeline = Arc::new(Pipeline::new(config));
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .map_err(|e| fail("serve", 2)(format!("cannot listen on {}: {e}", opts.bind)))?;
    runtime::serve::serve(listener, pipeline, &opts, runtime::serve::shutdown_signal())
        .await
        .map_err(fail("serve", 1))?;
    Ok(ExitCode::SUCCESS)
}
