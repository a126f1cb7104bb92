//! `image-triage scf` / `scf-http`: Tencent SCF custom runtime and image function.

use std::process::ExitCode;

use image_triage::runtime;

use super::{fail, start_pipeline, Exit};

#[derive(clap::Args)]
pub struct HttpArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:9000")]
    listen: String,
}

pub async fn run_custom() -> Exit {
    let api = runtime::scf::runtime_api_from_env().ok_or_else(|| {
        fail("scf", 2)("not running under the SCF custom runtime: SCF_RUNTIME_API not set")
    })?;
    let pipeline = start_pipeline("info", true)?;
    runtime::scf::run_custom(pipeline, &api)
        .await
        .map_err(fail("scf", 1))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn run_http(args: HttpArgs) -> Exit {
    let pipeline = start_pipeline("info", true)?;
    runtime::scf::serve_http(pipeline, &args.listen)
        .await
        .map_err(fail("scf-http", 1))?;
    Ok(ExitCode::SUCCESS)
}
