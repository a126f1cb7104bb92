//! The COS store's settings from the configuration: endpoint override (`TRIAGE_COS_ENDPOINT`),
//! default region (`TENCENTCLOUD_REGION`, which SCF sets), tuning (`TRIAGE_COS_*`).

use std::time::Duration;

use super::CosStore;
use crate::client::{Service, Tuning};
use crate::cloud::tencent;
use crate::cloud::tencent::cos::CosClient;
use crate::config::{Config, ConfigError};

/// 5 s per attempt and 3 attempts; COS has no documented per-account QPS limit worth mirroring.
pub const COS_TUNING: Tuning = Tuning::new(None, Duration::from_secs(5), 3);

/// `TENCENTCLOUD_REGION`, when set, must be a region id: it becomes part of every COS host.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    match config.env.get(tencent::REGION_VAR) {
        Some(r) if !tencent::valid_region(r) => Err(ConfigError::new(
            tencent::REGION_VAR,
            r,
            "expected a region id such as ap-guangzhou",
        )),
        _ => Ok(()),
    }
}

/// The COS store for this configuration (`TRIAGE_COS_*`, `TENCENTCLOUD_REGION`, credentials).
pub fn build(config: &Config) -> Result<CosStore, crate::store::StoreError> {
    check(config)?;
    Ok(CosStore {
        client: CosClient::from_config(config, "cos"),
        service: Service::new("cos", config.tuning("cos", COS_TUNING)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_follows_the_cos_endpoint_unless_overridden() {
        let cfg = |pairs: &[(&str, &str)]| {
            Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
        };
        let c = cfg(&[("TRIAGE_COS_ENDPOINT", "http://127.0.0.1:1")]);
        assert_eq!(
            CosClient::from_config(&c, "ci").endpoint.as_deref(),
            Some("http://127.0.0.1:1")
        );
        let c = cfg(&[
            ("TRIAGE_COS_ENDPOINT", "http://127.0.0.1:1"),
            ("TRIAGE_CI_ENDPOINT", "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            CosClient::from_config(&c, "ci").endpoint.as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(CosClient::from_config(&cfg(&[]), "ci").endpoint, None);
    }
}
