//! `image-triage serve`: the self-hosted endpoint for S3-style bucket notifications.

use std::process::ExitCode;

use image_triage::runtime;

use super::{fail, start_pipeline, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (default TRIAGE_SERVE_BIND, else 127.0.0.1:8080).
    #[arg(long)]
    bind: Option<std::net::SocketAddr>,
}

pub async fn run(args: Args) -> Exit {
    let pipeline = start_pipeline("info", false)?;
    let opts = runtime::serve::Options::from_config(pipeline.config(), args.bind)
        .map_err(fail("serve", 2))?;
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .map_err(|e| fail("serve", 2)(format!("cannot listen on {}: {e}", opts.bind)))?;
    runtime::serve::serve(listener, pipeline, &opts, runtime::serve::shutdown_signal())
        .await
        .map_err(fail("serve", 1))?;
    Ok(ExitCode::SUCCESS)
}
