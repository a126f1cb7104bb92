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
pub fn client(config: &Config, endpoint_service: &str) -> CosClient {
    CosClient {
        endpoint: config.endpoint(endpoint_service).map(str::to_string),
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
