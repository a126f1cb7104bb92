//! OBS settings from the environment.

use crate::client::{Service, Tuning};
use crate::cloud::huawei;
use crate::config::{Config, ConfigError};

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
            region: huawei::region(&config.env),
            endpoint: config.endpoint("obs").map(str::to_string),
            service: Service::new("obs", config.tuning("obs", OBS_DEFAULTS)),
        }
    }

    /// The region must be a region id: it becomes part of every OBS host.
    pub fn check(config: &Config) -> Result<(), ConfigError> {
        let region = huawei::region(&config.env);
        if huawei::valid_region(&region) {
            return Ok(());
        }
        let var = huawei::REGION_VARS
            .into_iter()
            .find(|v| config.env.get(v).is_some())
            .unwrap_or(huawei::REGION_VARS[0]);
        Err(ConfigError::new(
            var,
            &region,
            "expected a region id such as cn-north-4",
        ))
    }

    /// `<bucket>.obs.<region>.myhuaweicloud.com`.
    pub fn host(&self, bucket: &str) -> String {
        format!("{bucket}.obs.{}.myhuaweicloud.com", self.region)
    }
}

/// The OBS store for this configuration (`TRIAGE_OBS_*`, the Huawei region, credentials).
pub fn build(config: &Config) -> Result<super::ObsStore, crate::store::StoreError> {
    ObsSettings::check(config)?;
    Ok(super::ObsStore::new(
        ObsSettings::from_config(config),
        config.credentials.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::huawei::DEFAULT_REGION;

    #[test]
    fn region_follows_the_documented_order() {
        let cfg = |pairs: &[(&str, &str)]| {
            Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
        };
        assert_eq!(huawei::region(&cfg(&[]).env), DEFAULT_REGION);
        assert_eq!(
            huawei::region(&cfg(&[("RUNTIME_REGION", "ap-southeast-1")]).env),
            "ap-southeast-1"
        );
        assert_eq!(
            huawei::region(
                &cfg(&[
                    ("HUAWEICLOUD_SDK_REGION", "cn-east-3"),
                    ("RUNTIME_REGION", "x")
                ])
                .env
            ),
            "cn-east-3"
        );
        assert_eq!(
            huawei::region(
                &cfg(&[
                    ("TRIAGE_HUAWEI_REGION", "cn-south-1"),
                    ("TRIAGE_OBS_REGION", "y")
                ])
                .env
            ),
            "cn-south-1"
        );
    }
}
