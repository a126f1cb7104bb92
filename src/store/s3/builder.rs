//! S3 store settings from the environment (`TRIAGE_S3_*`, `AWS_REGION`).

use std::time::Duration;

use crate::client::credential::Cloud;
use crate::client::Tuning;
use crate::config::Config;
use crate::config::ConfigError;

/// Defaults for `TRIAGE_S3_QPS` / `_TIMEOUT` / `_MAX_ATTEMPTS`.
pub const DEFAULT_TUNING: Tuning = Tuning::new(None, Duration::from_secs(30), 4);

/// Where and how to address the S3 API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `http` or `https`.
    pub scheme: String,
    /// Endpoint host, with `:port` when not the scheme's default.
    pub host: String,
    pub region: String,
    /// Path-style (`host/bucket/key`) rather than virtual-host (`bucket.host/key`).
    pub path_style: bool,
    /// AWS's own regional endpoint (no `TRIAGE_S3_ENDPOINT`): the host follows the region.
    pub aws_endpoint: bool,
    /// Which credential slot signs: AWS by default; Tencent/Huawei keys for the S3-compatible
    /// endpoints of COS and OBS.
    pub cloud: Cloud,
}

/// The S3 store for this configuration (`TRIAGE_S3_*`, `AWS_REGION`, AWS credentials).
pub fn build(config: &Config) -> Result<super::S3Store, crate::store::StoreError> {
    let settings = Settings::from_config(config)?;
    let service = crate::client::Service::new("s3", config.tuning("s3", DEFAULT_TUNING));
    Ok(super::S3Store::new(
        settings,
        config.credentials.clone(),
        service,
    ))
}

fn bad(var: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::new(var, value, reason)
}

pub const ADDRESSING_VAR: &str = "TRIAGE_S3_ADDRESSING";
pub const CREDENTIALS_VAR: &str = "TRIAGE_S3_CREDENTIALS";
pub const REGION_VAR: &str = "TRIAGE_S3_REGION";
/// Every `TRIAGE_S3_*` setting (besides the endpoint and tuning every service has).
pub const VARS: [&str; 3] = [ADDRESSING_VAR, CREDENTIALS_VAR, REGION_VAR];

impl Settings {
    /// `TRIAGE_S3_ENDPOINT` (then path-style, for moto/MinIO), else AWS's regional endpoint with
    /// virtual-host addressing; `TRIAGE_S3_ADDRESSING=path|virtual` overrides either.
    pub fn from_config(config: &Config) -> Result<Settings, ConfigError> {
        let env = &config.env;
        let region = env
            .get(REGION_VAR)
            .or_else(|| env.get("AWS_REGION"))
            .or_else(|| env.get("AWS_DEFAULT_REGION"))
            .unwrap_or("us-east-1")
            .to_string();
        // On AWS's own endpoint the region becomes part of the host name: nothing but a region id
        // may go there. Behind an endpoint override it is only signed (MinIO allows `Home_1`).
        if config.endpoint("s3").is_none() && !crate::cloud::aws::valid_region(&region) {
            let var = [REGION_VAR, "AWS_REGION", "AWS_DEFAULT_REGION"]
                .into_iter()
                .find(|v| env.get(v).is_some())
                .unwrap_or(REGION_VAR);
            return Err(bad(var, &region, "expected a region id such as us-east-1"));
        }
        let aws_endpoint = config.endpoint("s3").is_none();
        let (endpoint, mut path_style) = match config.endpoint("s3") {
            Some(e) => (e.to_string(), true),
            None => (format!("https://s3.{region}.amazonaws.com"), false),
        };
        let url = url::Url::parse(&endpoint)
            .map_err(|e| bad("TRIAGE_S3_ENDPOINT", &endpoint, &e.to_string()))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err(bad("TRIAGE_S3_ENDPOINT", &endpoint, "no host")),
        };
        match env.get(ADDRESSING_VAR) {
            None => {}
            Some("path") => path_style = true,
            Some("virtual") => path_style = false,
            Some(v) => return Err(bad("TRIAGE_S3_ADDRESSING", v, "expected path or virtual")),
        }
        let cloud = match env.get(CREDENTIALS_VAR) {
            None | Some("aws") => Cloud::Aws,
            Some("tencent") => Cloud::Tencent,
            Some("huawei") => Cloud::Huawei,
            Some(v) => {
                return Err(bad(
                    "TRIAGE_S3_CREDENTIALS",
                    v,
                    "expected aws, tencent or huawei",
                ))
            }
        };
        Ok(Settings {
            scheme: url.scheme().to_string(),
            host,
            region,
            path_style,
            aws_endpoint,
            cloud,
        })
    }

    /// The same settings for a bucket that lives in `region` (learned from S3's
    /// `x-amz-bucket-region` answer).
    pub fn in_region(&self, region: &str) -> Settings {
        let mut s = self.clone();
        if self.aws_endpoint {
            s.host = format!("s3.{region}.amazonaws.com");
        }
        s.region = region.to_string();
        s
    }

    /// Host, and the decoded path to sign, for `key` in `bucket` (`key` may be empty).
    /// Bucket names with dots cannot be virtual hosts under TLS, so they fall back to path-style.
    pub fn locate(&self, bucket: &str, key: &str) -> (String, String) {
        if self.path_style || !crate::cloud::aws::dns_compatible_bucket(bucket) {
            let path = if key.is_empty() {
                format!("/{bucket}")
            } else {
                format!("/{bucket}/{key}")
            };
            (self.host.clone(), path)
        } else {
            (format!("{bucket}.{}", self.host), format!("/{key}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(vars: &[(&str, &str)]) -> Config {
        Config::core_from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn aws_default_is_virtual_host_in_the_region() {
        let s = Settings::from_config(&cfg(&[("AWS_REGION", "eu-west-1")])).unwrap();
        assert_eq!(s.host, "s3.eu-west-1.amazonaws.com");
        assert!(!s.path_style);
        assert_eq!(
            s.locate("photos", "a/b c.jpg"),
            (
                "photos.s3.eu-west-1.amazonaws.com".into(),
                "/a/b c.jpg".into()
            )
        );
        // Dotted bucket names do not fit a TLS wildcard certificate.
        assert_eq!(s.locate("my.photos", "k").1, "/my.photos/k");
        let moved = s.in_region("ap-south-1");
        assert_eq!(
            moved.locate("photos", "k").0,
            "photos.s3.ap-south-1.amazonaws.com"
        );
        assert_eq!(moved.region, "ap-south-1");
    }

    #[test]
    fn endpoint_override_is_path_style_unless_told() {
        let s = Settings::from_config(&cfg(&[("TRIAGE_S3_ENDPOINT", "http://127.0.0.1:5000/")]))
            .unwrap();
        assert_eq!(
            (s.scheme.as_str(), s.host.as_str()),
            ("http", "127.0.0.1:5000")
        );
        assert_eq!(s.region, "us-east-1");
        assert_eq!(s.locate("b", "k"), ("127.0.0.1:5000".into(), "/b/k".into()));
        let s = Settings::from_config(&cfg(&[
            (
                "TRIAGE_S3_ENDPOINT",
                "https://cos.ap-guangzhou.myqcloud.com",
            ),
            ("TRIAGE_S3_ADDRESSING", "virtual"),
            ("TRIAGE_S3_REGION", "ap-guangzhou"),
            ("TRIAGE_S3_CREDENTIALS", "tencent"),
        ]))
        .unwrap();
        assert_eq!(
            s.locate("b-1250000000", "k").0,
            "b-1250000000.cos.ap-guangzhou.myqcloud.com"
        );
        assert_eq!(s.cloud, Cloud::Tencent);
        assert!(Settings::from_config(&cfg(&[("TRIAGE_S3_ADDRESSING", "dns")])).is_err());
    }
}
