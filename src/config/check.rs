//! Every vendor setting checked when the configuration is built, for every analyzer, store and
//! queue the configuration can select, by the same parsers those use. A typo stops the process
//! before the first event and before any connection, naming the variable — instead of marking
//! objects `done` with the on-error verdict under a marker that fixing the typo never revisits.

use super::{Config, ConfigError, StoreKind};
use crate::object::Provider;

/// Variable families that hold vendor settings: a name of one of these forms that no vendor reads
/// is a typo (and would still enter the config hash).
fn is_vendor_setting(name: &str) -> bool {
    let service_wide = ["_ENDPOINT", "_QPS", "_TIMEOUT", "_MAX_ATTEMPTS"]
        .iter()
        .any(|s| name.ends_with(s));
    !service_wide
        && (name.starts_with("TRIAGE_LABEL_")
            || name.starts_with("TRIAGE_MODERATION_")
            || name.starts_with("TRIAGE_HUAWEI_")
            || name.starts_with("TRIAGE_S3_")
            || (name.starts_with("TRIAGE_") && name.ends_with("_LIMITS")))
}

pub(super) fn selectable(cfg: &Config) -> Result<(), ConfigError> {
    let known = || {
        crate::analyzers::SETTINGS_VARS
            .iter()
            .chain(crate::store::SETTINGS_VARS)
            .flat_map(|vars| vars.iter())
    };
    for (name, value) in &cfg.env.0 {
        if is_vendor_setting(name) && !known().any(|k| k == name) {
            let mut names: Vec<&str> = known().copied().collect();
            names.sort_unstable();
            return Err(ConfigError::new(
                name,
                value,
                format!(
                    "no analyzer or store reads this variable; known: {}",
                    names.join(", ")
                ),
            ));
        }
    }
    let mut labelers = Vec::new();
    let mut moderators = Vec::new();
    for &p in Provider::ALL {
        if !labelers.contains(&cfg.labeler_for(p)) {
            labelers.push(cfg.labeler_for(p));
        }
        if !moderators.contains(&cfg.moderator_for(p)) {
            moderators.push(cfg.moderator_for(p));
        }
    }
    for kind in labelers {
        crate::analyzers::check_labeler(kind, cfg)?;
    }
    for kind in moderators {
        crate::analyzers::check_moderator(kind, cfg)?;
    }
    if matches!(cfg.store, StoreKind::Auto) {
        crate::store::check(cfg)?;
    }
    crate::runtime::serve::Options::from_config(cfg, None)?;
    crate::sinks::queue::check(cfg)
}
