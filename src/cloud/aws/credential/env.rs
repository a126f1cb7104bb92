//! The first source of the chain: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and the optional
//! `AWS_SESSION_TOKEN` (AWS SDKs and Tools Reference Guide, "AWS access keys",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-static-credentials.html>). Read once
//! at start: a process's environment does not change, so these never refresh.

use crate::client::refresh::EnvSource;
use crate::config::Env;

pub fn source(env: &Env) -> EnvSource {
    EnvSource::new(env, crate::cloud::aws::CREDENTIAL_VARS)
}
