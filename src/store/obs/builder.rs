//! OBS settings from the environment.

use crate::client::{Service, Tuning};
use crate::config::Config;

/// Default OBS region when neither the configuration nor the SDK variables name one.
pub const DEFAULT_REGION: &str = "cn-north-4";

const OBS_DEFAULTS: Tuning = Tuning::new(None, std::time::Duration::from_secs(10), 4);

#[derive(Debug, Clone)]
pub struct ObsSettings {
    /// Region of the buckets: `TRIAGE_HUAWEI_REGION`, `TRIAGE_OBS_REGION`, else `HUAWEICLOUD_SDK_REGION`, else
    /// `RUNTIME_REGION`, else cn-north-4.
    pub region: String,
    /// `TRIAGE_OBS_ENDPOINT`: where requests go instead of the bucket's host. Host header, path,
    /// query and signature stay exactly production's.
    pub endpoint: Option<String>,
    pub service: Service,
}

impl ObsSettings {
    pub fn from_config(config: &Config) -> Self {
        ObsSettings {
            region: region(config),
            endpoint: config.endpoint("obs").map(str::to_string),
            service: Service::new("obs", config.tuning("obs", OBS_DEFAULTS)),
        }
    }

    /// `<bucket>.obs.<region>.myhuaweicloud.com`.
    pub fn host(&self, bucket: &str) -> String {
        format!("{bucket}.obs.{}.myhuaweicloud.com", self.region)
    }
}

/// The Huawei region this function works in (also used by the analyzers).
pub fn region(config: &Config) -> String {
    [
        "TRIAGE_OBS_REGION",
        "HUAWEICLOUD_SDK_REGION",
        "RUNTIME_REGION",
    ]
    .iter()
    .find_map(|v| config.env.get(v))
    .unwrap_or(DEFAULT_REGION)
    .to_string()
}
