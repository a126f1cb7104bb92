//! `image-triage lambda`: run as an AWS Lambda function.

use std::process::ExitCode;
use std::sync::Arc;

use image_triage::config::Config;
use image_triage::pipeline::Pipeline;
use image_triage::runtime;
use image_triage::Provider;

use super::{fail, init_logs, Exit};

pub async fn run() -> Exit {
    // lambda_runtime panics on a missing variable; say which one instead.
    let missing: Vec<&str> = [
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    ]
    .into_iter()
    .filter(|v| std::env::var_os(v).is_none())
    .collect();
    if !missing.is_empty() {
        return Err(fail("lambda", 2)(format!(
            "not running under a Lambda Runtime API: {} not set",
            missing.join(", ")
        )));
    }
    init_logs("info", true);
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            runtime::lambda::report_init_error(&api, &e.to_string()).await;
            return Err(fail("lambda", 2)(e));
        }
    };
    // A deploy without its models layer fails here, at init, where Lambda reports it and the
    // event goes to the failure destination, instead of marking every upload `model_missing`.
    if let Err(e) = super::require_models(&config, Provider::S3) {
        runtime::lambda::report_init_error(&api, &e).await;
        return Err(fail("lambda", 2)(e));
    }
    runtime::lambda::run(Arc::new(Pipeline::new(config)))
        .await
        .map_err(fail("lambda", 1))?;
    Ok(ExitCode::SUCCESS)
}
