//! `image-triage lambda`: run as an AWS Lambda function.

use std::process::ExitCode;

use image_triage::runtime;

use super::{fail, start_pipeline, Exit};

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
    let pipeline = start_pipeline("info", true)?;
    runtime::lambda::run(pipeline)
        .await
        .map_err(fail("lambda", 1))?;
    Ok(ExitCode::SUCCESS)
}
