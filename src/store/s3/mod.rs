//! AWS S3 and S3-compatible stores (MinIO, moto, and the S3 APIs of Tencent COS and Huawei OBS),
//! signed with SigV4. `builder` reads the settings, `credential` signs, `client` calls.

pub mod builder;
pub mod client;
pub mod credential;
mod wire;

use std::sync::Arc;

pub use client::S3Store;

use crate::client::Service;
use crate::config::Config;
use crate::store::{ObjectStore, StoreError};

/// The S3 store for this configuration (`TRIAGE_S3_*`, `AWS_REGION`, AWS credentials).
pub fn build(config: &Config) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let settings = builder::Settings::from_config(config)?;
    let service = Service::new("s3", config.tuning("s3", builder::DEFAULT_TUNING));
    Ok(Arc::new(S3Store::new(
        settings,
        config.credentials.clone(),
        service,
    )))
}
