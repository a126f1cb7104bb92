//! `image-triage functiongraph` / `functiongraph-http`: Huawei FunctionGraph custom runtime and
//! container HTTP function.

use std::process::ExitCode;

use image_triage::runtime;

use super::{fail, start_pipeline, Exit};

#[derive(clap::Args)]
pub struct HttpArgs {
    /// Listen address; FunctionGraph requires port 8000.
    #[arg(long, default_value = "0.0.0.0:8000")]
    listen: std::net::SocketAddr,
}

pub async fn run_custom() -> Exit {
    let addr = std::env::var("RUNTIME_API_ADDR").map_err(|_| {
        fail("functiongraph", 2)("not running under FunctionGraph: RUNTIME_API_ADDR not set")
    })?;
    let pipeline = start_pipeline("info", true)?;
    runtime::functiongraph::run_custom(pipeline, &addr)
        .await
        .map_err(|e| fail("functiongraph", 1)(format!("runtime API at {addr}: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn run_http(args: HttpArgs) -> Exit {
    let pipeline = start_pipeline("info", true)?;
    runtime::functiongraph::run_http(pipeline, args.listen)
        .await
        .map_err(|e| fail("functiongraph-http", 1)(format!("on {}: {e}", args.listen)))?;
    Ok(ExitCode::SUCCESS)
}
