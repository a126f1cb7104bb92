//! Credentials for the self-hosted commands (`serve`, `poll-sqs`, `scan`): which clouds a run
//! needs, each cloud's source chain (AWS: the SDKs' chain; Tencent: CVM role; Huawei: ECS
//! agency; each after its SDK's variables), and a refresher per cloud whose credentials expire.
//! The function platforms (Lambda, SCF, FunctionGraph) do not come here: they hand over
//! credentials themselves.

use std::collections::BTreeSet;

use crate::client::credential::Cloud;
use crate::client::refresh::{resolve, spawn_refresher, ChainError};
use crate::config::{Config, LabelerKind, ModeratorKind, StoreKind};
use crate::object::Provider;

/// The clouds whose keys this run signs with: the stores of `providers`, the analyzers those
/// select, `TRIAGE_QUEUE` and the extra queue URLs (`poll-sqs`'s queue, `scan --enqueue`).
pub fn clouds_used(config: &Config, providers: &[Provider], queues: &[&str]) -> BTreeSet<Cloud> {
    let mut used = BTreeSet::new();
    for &p in providers {
        if matches!(config.store, StoreKind::Auto) {
            match p {
                Provider::S3 => used.extend(s3_cloud(config)),
                Provider::Cos => {
                    used.insert(Cloud::Tencent);
                }
                Provider::Obs => {
                    used.insert(Cloud::Huawei);
                }
                _ => {}
            }
        }
        used.extend(labeler_cloud(config.labeler_for(p)));
        used.extend(moderator_cloud(config.moderator_for(p)));
    }
    let queue = config.queue.as_deref();
    for url in queues.iter().copied().chain(queue) {
        used.extend(queue_cloud(url));
    }
    used
}

/// Whose keys sign S3 requests (`TRIAGE_S3_CREDENTIALS`; checked when the config was built).
fn s3_cloud(config: &Config) -> Option<Cloud> {
    match config.env.get(crate::store::s3::builder::CREDENTIALS_VAR) {
        None | Some("aws") => Some(Cloud::Aws),
        Some("tencent") => Some(Cloud::Tencent),
        Some("huawei") => Some(Cloud::Huawei),
        Some(_) => None,
    }
}

fn labeler_cloud(kind: LabelerKind) -> Option<Cloud> {
    match kind {
        LabelerKind::CosCi | LabelerKind::Tiia | LabelerKind::TencentLegacy => Some(Cloud::Tencent),
        LabelerKind::Huawei | LabelerKind::HuaweiMedia => Some(Cloud::Huawei),
        LabelerKind::Local | LabelerKind::None => None,
    }
}

fn moderator_cloud(kind: ModeratorKind) -> Option<Cloud> {
    match kind {
        ModeratorKind::Ims | ModeratorKind::CosCi => Some(Cloud::Tencent),
        ModeratorKind::Huawei => Some(Cloud::Huawei),
        ModeratorKind::Local | ModeratorKind::None => None,
    }
}

/// SQS signs with AWS keys, TDMQ CMQ with Tencent's; the other queues carry their own secrets.
fn queue_cloud(url: &str) -> Option<Cloud> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let host_is_sqs = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.starts_with("sqs.")))
        .unwrap_or(false);
    match scheme.as_deref() {
        Some("sqs") => Some(Cloud::Aws),
        Some("cmq") => Some(Cloud::Tencent),
        Some("http" | "https") if host_is_sqs => Some(Cloud::Aws),
        _ => None,
    }
}

/// Put each needed cloud's credentials into the config's slots and start the refreshers.
/// Missing AWS credentials stop the command (every S3 or SQS request would fail); a cloud the
/// chain cannot serve otherwise is only warned about, as before: its requests fail with the
/// vendor's missing-credentials error.
pub async fn provide(config: &Config, needed: &BTreeSet<Cloud>) -> Result<(), ChainError> {
    for &cloud in needed {
        let (name, sources) = match cloud {
            Cloud::Aws => ("AWS", crate::cloud::aws::credential::chain(&config.env)),
            Cloud::Tencent => (
                "Tencent Cloud",
                crate::cloud::tencent::credential::chain(config),
            ),
            Cloud::Huawei => (
                "Huawei Cloud",
                crate::cloud::huawei::credential::chain(config),
            ),
        };
        match resolve(name, &sources).await {
            Ok((source, found)) => {
                tracing::info!(?cloud, source = source.name(), expires = ?found.expires, "credentials found");
                config.credentials.set(cloud, found.credentials);
                spawn_refresher(config.credentials.clone(), cloud, source, found.expires);
            }
            Err(e) if cloud == Cloud::Aws => return Err(e),
            Err(e) => {
                tracing::warn!(?cloud, error = %e, "no credentials; requests to this cloud will fail")
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::core_from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn which_clouds_a_run_signs_for() {
        let none = config(&[("TRIAGE_LABELER", "none"), ("TRIAGE_MODERATOR", "none")]);
        assert_eq!(
            clouds_used(&none, &[Provider::S3], &[]),
            [Cloud::Aws].into()
        );
        assert_eq!(
            clouds_used(&none, &[Provider::S3], &["cmq://q?region=ap-guangzhou"]),
            [Cloud::Tencent, Cloud::Aws].into()
        );
        let local = config(&[("TRIAGE_STORE", "local"), ("TRIAGE_LOCAL_ROOT", "/tmp")]);
        assert!(clouds_used(&local, &[Provider::S3], &[]).is_empty());
        assert_eq!(
            clouds_used(
                &local,
                &[Provider::S3],
                &["https://sqs.us-east-1.amazonaws.com/1/q"]
            ),
            [Cloud::Aws].into()
        );
        let minio = config(&[
            ("TRIAGE_S3_CREDENTIALS", "huawei"),
            ("TRIAGE_MODERATOR", "none"),
        ]);
        assert_eq!(
            clouds_used(&minio, &[Provider::S3], &[]),
            [Cloud::Huawei].into()
        );
        let cos = config(&[]);
        assert_eq!(
            clouds_used(&cos, &[Provider::Cos], &[]),
            [Cloud::Tencent].into()
        );
        let mixed = config(&[("TRIAGE_QUEUE", "sqs://sqs.us-east-1.amazonaws.com/1/q")]);
        assert_eq!(
            clouds_used(&mixed, &[Provider::Obs], &["amqp://u:p@h/v"]),
            [Cloud::Huawei, Cloud::Aws].into()
        );
    }
}
