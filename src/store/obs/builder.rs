//! OBS settings from the environment.

use crate::client::{Service, Tuning};
use crate::config::Config;

/// Default OBS region when neither the configuration nor the SDK variables name one.
pub const DEFAULT_REGION: &str = "cn-north-4";

const OBS_DEFAULTS: Tuning = Tuning::new(None, std::time::Duration::from_secs(10), 4);

#[derive(Debug, Clone)]
pub struct ObsSettings {
    /// Region of the buckets: `TRIAGE_HUAWEI_REGION`, `TRIAGE_OBS_REGION`, else `HUAWEICLOUD_SDK_REGION`, else
    /// `RUNTIME_REGION`, else cn-north-4. Not taken from events: OBS's documented S3-shaped samples
    /// carry the placeholder `"awsRegion": "region"`.
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
        "TRIAGE_HUAWEI_REGION",
        "TRIAGE_OBS_REGION",
        "HUAWEICLOUD_SDK_REGION",
        "RUNTIME_REGION",
    ]
    .iter()
    .find_map(|v| config.env.get(v))
    .unwrap_or(DEFAULT_REGION)
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_follows_the_documented_order() {
        let cfg = |pairs: &[(&str, &str)]| {
            Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
        };
        assert_eq!(region(&cfg(&[])), DEFAULT_REGION);
        assert_eq!(
            region(&cfg(&[("RUNTIME_REGION", "ap-southeast-1")])),
            "ap-southeast-1"
        );
        assert_eq!(
            region(&cfg(&[
                ("HUAWEICLOUD_SDK_REGION", "cn-east-3"),
                ("RUNTIME_REGION", "x")
            ])),
            "cn-east-3"
        );
        assert_eq!(
            region(&cfg(&[
                ("TRIAGE_HUAWEI_REGION", "cn-south-1"),
                ("TRIAGE_OBS_REGION", "y")
            ])),
            "cn-south-1"
        );
    }
}
