//! Huawei analyzer settings from the environment.

use std::time::Duration;

use super::client::Api;
use crate::analyzers::AnalyzerError;
use crate::client::{Service, Tuning};
use crate::config::{Config, StoreKind};

/// How the image reaches the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A short-lived OBS signed URL; the service downloads the object (nothing read here).
    Url,
    /// The bytes, base64 in the body (objects not on OBS, or `TRIAGE_HUAWEI_INPUT=base64`).
    Base64,
}

/// `TRIAGE_HUAWEI_INPUT=url|base64`; objects in the embedded bucket cannot be fetched by URL.
pub fn input(config: &Config) -> Result<Input, AnalyzerError> {
    match config.env.get("TRIAGE_HUAWEI_INPUT") {
        Some("url") => Ok(Input::Url),
        Some("base64") => Ok(Input::Base64),
        Some(other) => Err(AnalyzerError::permanent(
            "huawei",
            format!("TRIAGE_HUAWEI_INPUT={other:?}: expected url or base64"),
        )),
        None if matches!(config.store, StoreKind::Local(_)) => Ok(Input::Base64),
        None => Ok(Input::Url),
    }
}

/// `HUAWEICLOUD_SDK_PROJECT_ID`, else FunctionGraph's `RUNTIME_PROJECT_ID`.
pub fn project_id(config: &Config) -> Option<String> {
    ["HUAWEICLOUD_SDK_PROJECT_ID", "RUNTIME_PROJECT_ID"]
        .iter()
        .find_map(|v| config.env.get(v))
        .map(str::to_string)
}

/// `name` is `image` or `moderation`: host `<name>.<region>.myhuaweicloud.com`, override
/// `TRIAGE_HUAWEI_<NAME>_ENDPOINT`, tuning `TRIAGE_HUAWEI_<NAME>_QPS|_TIMEOUT|_MAX_ATTEMPTS`.
pub fn api(config: &Config, name: &'static str, defaults: Tuning) -> Api {
    let region = crate::store::obs::builder::region(config);
    let host = format!("{name}.{region}.myhuaweicloud.com");
    let service_key = format!("huawei_{name}");
    Api {
        name,
        base: config
            .endpoint(&service_key)
            .map(str::to_string)
            .unwrap_or_else(|| format!("https://{host}")),
        host,
        project_id: project_id(config),
        service: Service::new(
            format!("huawei {name}"),
            config.tuning(&service_key, defaults),
        ),
        credentials: config.credentials.clone(),
    }
}

/// Image Tagging: no documented QPS; the timeout covers the service's own download.
pub const IMAGE_DEFAULTS: Tuning = Tuning::new(None, Duration::from_secs(15), 4);
/// Content Moderation: 10 QPS by default (anchors.md §limits).
pub const MODERATION_DEFAULTS: Tuning = Tuning::new(Some(10.0), Duration::from_secs(15), 4);

/// A number setting within `range`, else `default`; a bad value is a clear permanent error.
pub fn number(
    config: &Config,
    var: &str,
    default: f64,
    range: std::ops::RangeInclusive<f64>,
) -> Result<f64, AnalyzerError> {
    match config.env.get(var) {
        None => Ok(default),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                AnalyzerError::permanent(
                    "huawei",
                    format!(
                        "{var}={v:?}: expected a number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

/// Fail at build time when nothing could sign a request or name the project, naming the
/// variables to set.
pub fn require_credentials(config: &Config, service: &str) -> Result<(), AnalyzerError> {
    if config
        .credentials
        .get(crate::client::credential::Cloud::Huawei)
        .is_none()
    {
        return Err(AnalyzerError {
            service: service.into(),
            code: Some("MissingCredentials".into()),
            message: "no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK \
                      (FunctionGraph passes them per invocation when the function has an agency)"
                .into(),
            retryable: false,
        });
    }
    if project_id(config).is_none() {
        return Err(AnalyzerError {
            service: service.into(),
            code: Some("MissingProjectId".into()),
            message: "no Huawei Cloud project id: set HUAWEICLOUD_SDK_PROJECT_ID \
                      (FunctionGraph sets RUNTIME_PROJECT_ID)"
                .into(),
            retryable: false,
        });
    }
    Ok(())
}
