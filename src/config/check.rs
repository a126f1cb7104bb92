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

/// The variables the core and the commands read (vendor settings are listed by the vendors).
const CORE_VARS: &[&str] = &[
    "TRIAGE_LABELER",
    "TRIAGE_MODERATOR",
    "TRIAGE_SINKS",
    "TRIAGE_RESULTS_PREFIX",
    "TRIAGE_BLOCK_ACTION",
    "TRIAGE_QUARANTINE_PREFIX",
    "TRIAGE_QUEUE",
    "TRIAGE_STORE",
    "TRIAGE_LOCAL_ROOT",
    "TRIAGE_ON_ERROR",
    "TRIAGE_REVIEW_THRESHOLD",
    "TRIAGE_BLOCK_THRESHOLD",
    "TRIAGE_THRESHOLDS",
    "TRIAGE_MAX_LABELS",
    "TRIAGE_MIN_LABEL_CONFIDENCE",
    "TRIAGE_MODEL_DIR",
    "TRIAGE_CACHE",
    "TRIAGE_LOG",
    "TRIAGE_LOG_FORMAT",
    "TRIAGE_CALLBACK_SECRET",
    "TRIAGE_SERVE_BIND",
    "TRIAGE_SERVE_TOKEN",
    "TRIAGE_SERVE_CONCURRENCY",
    "TRIAGE_SERVE_TIMEOUT",
    "TRIAGE_SERVE_REPLY",
    "TRIAGE_SERVE_INSECURE",
    "TRIAGE_MARKER_SECRET",
    "TRIAGE_BUCKETS",
    "TRIAGE_CONFIRM_DELETE_ON_ERROR",
    "TRIAGE_OCR",
    "TRIAGE_KEYWORDS",
    "TRIAGE_IMAGE_LISTS",
    "TRIAGE_DEDUPE",
    "TRIAGE_DAILY_CAP",
];

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A `TRIAGE_*` name that is not known but one or two letters from a known one is a typo: the
/// setting the user meant would silently keep its default.
fn near_miss(name: &str) -> Option<&'static str> {
    if CORE_VARS.contains(&name) {
        return None;
    }
    CORE_VARS
        .iter()
        .copied()
        .find(|known| distance(name, known) <= 2)
}

/// `TRIAGE_LOG` (a tracing filter) and `TRIAGE_LOG_FORMAT` (`text` or `json`).
fn logging(cfg: &Config) -> Result<(), ConfigError> {
    if let Some(v) = cfg.env.get("TRIAGE_LOG") {
        tracing_subscriber::EnvFilter::try_new(v).map_err(|e| {
            ConfigError::new(
                "TRIAGE_LOG",
                v,
                format!("{e}; expected a filter such as info or image_triage=debug"),
            )
        })?;
    }
    match cfg.env.get("TRIAGE_LOG_FORMAT") {
        None | Some("text" | "json") => Ok(()),
        Some(v) => Err(ConfigError::new(
            "TRIAGE_LOG_FORMAT",
            v,
            "expected text or json",
        )),
    }
}

pub(super) fn selectable(cfg: &Config) -> Result<(), ConfigError> {
    for (name, value) in &cfg.env.0 {
        if let Some(known) = near_miss(name) {
            // The value is not shown: a misspelt secret is still a secret.
            let _ = value;
            return Err(ConfigError::new(
                name,
                "…",
                format!("unknown variable; did you mean {known}?"),
            ));
        }
    }
    logging(cfg)?;
    let known = || {
        crate::analyzers::SETTINGS_VARS
            .iter()
            .chain(crate::store::SETTINGS_VARS)
            .flat_map(|vars| vars.iter())
    };
    for name in cfg.env.0.keys() {
        if is_vendor_setting(name) && !known().any(|k| k == name) {
            let mut names: Vec<&str> = known().copied().collect();
            names.sort_unstable();
            return Err(ConfigError::new(
                name,
                "…",
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
    // Every service that can be selected, by the rules of each: a variable two clouds share
    // (`TRIAGE_MODERATION_BIZ_TYPE`) must suit all of them, or the user names the one in use
    // with TRIAGE_LABELER / TRIAGE_MODERATOR (the message says so).
    for kind in labelers {
        crate::analyzers::check_labeler(kind, cfg)?;
    }
    for kind in moderators {
        crate::analyzers::check_moderator(kind, cfg)?;
    }
    if matches!(cfg.store, StoreKind::Auto) {
        crate::store::check(cfg)?;
    }
    // `TRIAGE_SERVE_BIND` is `serve`'s alone and `--bind` overrides it: `serve` checks it.
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    crate::runtime::serve::Options::from_config(cfg, Some(any))?;
    crate::sinks::queue::check(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CORE_VARS must list every core name the code reads, or a new variable would be refused
    /// as a near miss of an old one.
    #[test]
    fn core_vars_lists_every_core_name_read() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("../runtime/serve.rs"),
            include_str!("../commands/mod.rs"),
            include_str!("../sinks/callback.rs"),
        ];
        let mut read = 0;
        for src in sources {
            for chunk in src.split('"').skip(1).step_by(2) {
                let is_name = chunk.starts_with("TRIAGE_")
                    && !chunk.ends_with('_')
                    && chunk.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
                if is_name && !is_vendor_setting(chunk) && !chunk.starts_with("TRIAGE_*") {
                    read += 1;
                    assert!(CORE_VARS.contains(&chunk), "{chunk} is not in CORE_VARS");
                }
            }
        }
        assert!(read >= 20, "found only {read} names");
    }

    #[test]
    fn near_misses_are_typos_and_other_names_pass() {
        assert_eq!(near_miss("TRIAGE_LABLER"), Some("TRIAGE_LABELER"));
        assert_eq!(near_miss("TRIAGE_MODERATORS"), Some("TRIAGE_MODERATOR"));
        assert_eq!(near_miss("TRIAGE_LABELER"), None);
        assert_eq!(near_miss("TRIAGE_PHOTOS_DIR"), None);
        assert_eq!(near_miss("TRIAGE_MOTO_SERVER"), None);
        assert_eq!(near_miss("TRIAGE_IMS_QPS"), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
