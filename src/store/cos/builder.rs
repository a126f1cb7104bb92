//! The COS store's settings from the configuration: endpoint override (`TRIAGE_COS_ENDPOINT`),
//! default region (`TENCENTCLOUD_REGION`, which SCF sets), tuning (`TRIAGE_COS_*`).

use std::time::Duration;

use super::client::CosClient;
use super::CosStore;
use crate::client::{Service, Tuning};
use crate::config::Config;

/// 5 s per attempt and 3 attempts; COS has no documented per-account QPS limit worth mirroring.
pub const COS_TUNING: Tuning = Tuning::new(None, Duration::from_secs(5), 3);

/// A COS client for `service` (`cos`, or `ci` for Cloud Infinite calls on the bucket host).
/// CI lives on the bucket host, so without its own override it follows `TRIAGE_COS_ENDPOINT`.
pub fn client(config: &Config, endpoint_service: &str) -> CosClient {
    CosClient {
        endpoint: config
            .endpoint(endpoint_service)
            .or_else(|| config.endpoint("cos"))
            .map(str::to_string),
        default_region: config.env.get("TENCENTCLOUD_REGION").map(str::to_string),
        credentials: config.credentials.clone(),
    }
}

pub fn build(config: &Config) -> CosStore {
    CosStore {
        client: client(config, "cos"),
        service: Service::new("cos", config.tuning("cos", COS_TUNING)),
        made_private: Default::default(),
    }
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
            client(&c, "ci").endpoint.as_deref(),
            Some("http://127.0.0.1:1")
        );
        let c = cfg(&[
            ("TRIAGE_COS_ENDPOINT", "http://127.0.0.1:1"),
            ("TRIAGE_CI_ENDPOINT", "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            client(&c, "ci").endpoint.as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(client(&cfg(&[]), "ci").endpoint, None);
    }
}
