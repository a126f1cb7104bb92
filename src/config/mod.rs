//! Configuration from `TRIAGE_*` environment variables. The names are a contract: the README
//! table documents each one, and scripts depend on them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::client::{CredentialSlots, Tuning};
use crate::object::Provider;
use crate::verdict::{Decision, Thresholds};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid configuration: {var}={value:?}: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub value: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(var: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            var: var.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

string_enum! {
    /// Which labeling service to call (`TRIAGE_LABELER`).
    pub enum LabelerKind {
        Local = "local",
        CosCi = "cos-ci",
        Tiia = "tiia",
        TencentLegacy = "tencent-legacy",
        Huawei = "huawei",
        HuaweiMedia = "huawei-media",
        None = "none",
    }
}

string_enum! {
    /// Which moderation service to call (`TRIAGE_MODERATOR`).
    pub enum ModeratorKind {
        Local = "local",
        Ims = "ims",
        CosCi = "cos-ci",
        Huawei = "huawei",
        None = "none",
    }
}

impl LabelerKind {
    /// The labeler of a provider's own cloud; the local models elsewhere.
    pub fn default_for(provider: Provider) -> Self {
        match provider {
            Provider::Cos => LabelerKind::CosCi,
            Provider::Obs => LabelerKind::Huawei,
            _ => LabelerKind::Local,
        }
    }
}

impl ModeratorKind {
    /// The moderator of a provider's own cloud; the local models elsewhere.
    pub fn default_for(provider: Provider) -> Self {
        match provider {
            Provider::Cos => ModeratorKind::Ims,
            Provider::Obs => ModeratorKind::Huawei,
            _ => ModeratorKind::Local,
        }
    }
}

/// The write-back sinks a user can switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    Metadata,
    Tags,
    Sidecar,
    Queue,
}

string_enum! {
    /// What to do with an object whose verdict is `block` (`TRIAGE_BLOCK_ACTION`).
    pub enum BlockAction {
        None = "none",
        Tag = "tag",
        Private = "private",
        Quarantine = "quarantine",
        Delete = "delete",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// Use the store that matches the event's provider.
    Auto,
    /// Resolve every event against the embedded local-directory bucket at this root.
    Local(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `None` = follow the provider default.
    pub labeler: Option<LabelerKind>,
    pub moderator: Option<ModeratorKind>,
    pub sinks: Vec<SinkKind>,
    pub results_prefix: String,
    pub quarantine_prefix: String,
    pub block_action: BlockAction,
    pub queue: Option<QueueUrl>,
    pub store: StoreKind,
    pub on_error: Decision,
    pub thresholds: Thresholds,
    pub max_labels: usize,
    pub min_label_confidence: f32,
    pub model_dir: PathBuf,
    /// `TRIAGE_<SERVICE>_ENDPOINT` overrides, keyed by the lower-case service name.
    pub endpoints: BTreeMap<String, String>,
    /// Every variable the config was built from; vendor builders read their own settings here.
    pub env: Env,
    /// Current credentials per cloud: from the SDK variables; function runtimes replace them per
    /// invocation, and the self-hosted commands' refresher (`runtime::credentials`) keeps them fresh.
    pub credentials: CredentialSlots,
    /// The identity of the local model files, read once (see [`Config::config_hash`]).
    pub local_models: std::sync::OnceLock<String>,
    /// The function's own region, when a platform runtime tells it per invocation (SCF's
    /// `X-Scf-Region`); shared by every clone of this config, read after the event's region and
    /// the region variables.
    pub function_region: FunctionRegion,
    /// The marker secret and the bucket allow-list (see [`trust`]).
    pub trust: trust::Trust,
    /// MiB the local decoders may hold at once, process-wide (see [`memory`]).
    pub decode_budget_mb: u64,
    /// OCR, keyword lists and image sample lists (see [`libraries`]).
    pub libraries: libraries::Libraries,
    /// Content dedupe and the daily cap (see [`cost`]).
    pub cost: cost::CostGuards,
}

/// `TRIAGE_QUEUE` as given. Its Debug form hides the user-info and the query, where a broker
/// password or a token may be.
#[derive(Clone, PartialEq, Eq)]
pub struct QueueUrl(pub String);

impl std::ops::Deref for QueueUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for QueueUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = redact_userinfo(&self.0);
        let shown = match shown.split_once('?') {
            Some((head, _)) => format!("{head}?…"),
            None => shown,
        };
        write!(f, "{shown:?}")
    }
}

/// See [`Config::function_region`].
#[derive(Debug, Clone, Default)]
pub struct FunctionRegion(std::sync::Arc<std::sync::RwLock<Option<String>>>);

impl FunctionRegion {
    pub fn set(&self, region: &str) {
        if let Ok(mut r) = self.0.write() {
            *r = Some(region.to_string());
        }
    }
    pub fn get(&self) -> Option<String> {
        self.0.read().ok().and_then(|r| r.clone())
    }
}

/// The variables a config was built from. Debug lists names only: values may be secrets.
#[derive(Clone, Default)]
pub struct Env(pub BTreeMap<String, String>);

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Env {
    /// A set, non-blank variable, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            labeler: None,
            moderator: None,
            sinks: vec![SinkKind::Metadata, SinkKind::Tags, SinkKind::Sidecar],
            results_prefix: "triage-results/".into(),
            quarantine_prefix: "triage-quarantine/".into(),
            block_action: BlockAction::None,
            queue: None,
            store: StoreKind::Auto,
            on_error: Decision::Review,
            thresholds: Thresholds::default(),
            max_labels: 5,
            min_label_confidence: 10.0,
            model_dir: default_cache_dir().join("models"),
            endpoints: BTreeMap::new(),
            env: Env::default(),
            credentials: CredentialSlots::default(),
            local_models: Default::default(),
            function_region: Default::default(),
            trust: Default::default(),
            decode_budget_mb: memory::DEFAULT_BUDGET_MB,
            libraries: Default::default(),
            cost: Default::default(),
        }
    }
}

/// `$TRIAGE_CACHE`, else `$XDG_CACHE_HOME/image-triage`, else `$HOME/.cache/image-triage`.
/// scripts/fetch-models.sh uses the same rule.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRIAGE_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("image-triage");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".cache").join("image-triage")
}

impl Config {
    /// Read the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Build from any list of variables (tests pass their own instead of mutating the process env),
    /// then check every vendor setting that an analyzer, store or queue this configuration can
    /// select would read: a bad value stops here, before the first event and any connection.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let cfg = Self::core_from_vars(vars)?;
        check::selectable(&cfg)?;
        Ok(cfg)
    }

    /// The core settings only, without [`check::selectable`] (unit tests of one vendor's
    /// setting parser use it to reach that parser with a bad value).
    pub fn core_from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let all: BTreeMap<String, String> = vars.into_iter().collect();
        let vars: BTreeMap<String, String> = all
            .iter()
            .filter(|(k, _)| k.starts_with("TRIAGE_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut cfg = Config {
            credentials: CredentialSlots::from_vars(&all),
            env: Env(all),
            ..Config::default()
        };
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let bad = |var: &str, value: &str, reason: &str| ConfigError {
            var: var.into(),
            value: value.into(),
            reason: reason.into(),
        };

        if let Some(v) = get("TRIAGE_LABELER") {
            cfg.labeler = Some(LabelerKind::parse(v).ok_or_else(|| {
                bad(
                    "TRIAGE_LABELER",
                    v,
                    &format!("expected one of {}", LabelerKind::choices()),
                )
            })?);
        }
        if let Some(v) = get("TRIAGE_MODERATOR") {
            cfg.moderator = Some(ModeratorKind::parse(v).ok_or_else(|| {
                bad(
                    "TRIAGE_MODERATOR",
                    v,
                    &format!("expected one of {}", ModeratorKind::choices()),
                )
            })?);
        }
        if let Some(v) = get("TRIAGE_QUEUE") {
            cfg.queue = Some(QueueUrl(v.to_string()));
        }
        match get("TRIAGE_SINKS") {
            Some(v) => {
                cfg.sinks = parse_sinks(v).map_err(|r| bad("TRIAGE_SINKS", v, &r))?;
            }
            // Naming a queue is a clear enough request to publish to it.
            None if cfg.queue.is_some() => cfg.sinks.push(SinkKind::Queue),
            None => {}
        }
        if cfg.sinks.contains(&SinkKind::Queue) && cfg.queue.is_none() {
            return Err(bad(
                "TRIAGE_SINKS",
                get("TRIAGE_SINKS").unwrap_or_default(),
                "the queue sink needs TRIAGE_QUEUE (e.g. file:/var/tmp/triage-queue.jsonl)",
            ));
        }
        if let Some(v) = get("TRIAGE_RESULTS_PREFIX") {
            cfg.results_prefix = normalize_prefix(v);
        }
        if let Some(v) = get("TRIAGE_QUARANTINE_PREFIX") {
            cfg.quarantine_prefix = normalize_prefix(v);
        }
        if let Some(v) = get("TRIAGE_BLOCK_ACTION") {
            cfg.block_action = BlockAction::parse(v).ok_or_else(|| {
                bad(
                    "TRIAGE_BLOCK_ACTION",
                    v,
                    &format!("expected one of {}", BlockAction::choices()),
                )
            })?;
        }
        match (get("TRIAGE_STORE"), get("TRIAGE_LOCAL_ROOT")) {
            (None, _) | (Some("auto"), _) => {}
            (Some("local"), Some(root)) => cfg.store = StoreKind::Local(PathBuf::from(root)),
            (Some("local"), None) => {
                return Err(bad(
                    "TRIAGE_STORE",
                    "local",
                    "TRIAGE_LOCAL_ROOT must name the directory that holds the buckets",
                ))
            }
            (Some(v), _) => return Err(bad("TRIAGE_STORE", v, "expected local or auto")),
        }
        if let Some(v) = get("TRIAGE_ON_ERROR") {
            cfg.on_error = match v {
                "allow" | "pass" => Decision::Pass,
                "review" => Decision::Review,
                "block" => Decision::Block,
                _ => {
                    return Err(bad(
                        "TRIAGE_ON_ERROR",
                        v,
                        "expected one of allow, review, block",
                    ))
                }
            };
        }
        if let Some(v) = get("TRIAGE_REVIEW_THRESHOLD") {
            cfg.thresholds.default.review =
                parse_score(v).map_err(|r| bad("TRIAGE_REVIEW_THRESHOLD", v, &r))?;
        }
        if let Some(v) = get("TRIAGE_BLOCK_THRESHOLD") {
            cfg.thresholds.default.block =
                parse_score(v).map_err(|r| bad("TRIAGE_BLOCK_THRESHOLD", v, &r))?;
        }
        if let Some(v) = get("TRIAGE_THRESHOLDS") {
            cfg.thresholds
                .parse_overrides(v)
                .map_err(|r| bad("TRIAGE_THRESHOLDS", v, &r))?;
        }
        cfg.thresholds
            .validate()
            .map_err(|r| bad("TRIAGE_*_THRESHOLD", "", &r))?;
        if let Some(v) = get("TRIAGE_MAX_LABELS") {
            cfg.max_labels = v
                .parse()
                .ok()
                .filter(|n| (1..=50).contains(n))
                .ok_or_else(|| bad("TRIAGE_MAX_LABELS", v, "expected a whole number 1-50"))?;
        }
        if let Some(v) = get("TRIAGE_MIN_LABEL_CONFIDENCE") {
            cfg.min_label_confidence =
                parse_score(v).map_err(|r| bad("TRIAGE_MIN_LABEL_CONFIDENCE", v, &r))?;
        }
        // The platform's memory variables are not TRIAGE_ ones: read from every variable.
        let env = cfg.env.clone();
        cfg.decode_budget_mb = memory::decode_budget_mb(|k| env.get(k))?;
        if let Some(v) = get("TRIAGE_MODEL_DIR") {
            cfg.model_dir = PathBuf::from(v);
        } else if let Some(v) = get("TRIAGE_CACHE") {
            cfg.model_dir = PathBuf::from(v).join("models");
        }
        for (name, value) in &vars {
            if let Some(service) = name
                .strip_prefix("TRIAGE_")
                .and_then(|s| s.strip_suffix("_ENDPOINT"))
            {
                check_endpoint(value).map_err(|r| bad(name, &redact_userinfo(value), &r))?;
                cfg.endpoints.insert(
                    service.to_ascii_lowercase(),
                    value.trim_end_matches('/').into(),
                );
            }
            // `serve` is not a remote service: its TRIAGE_SERVE_TIMEOUT (1-3600 s) is its own.
            let tuning = TUNING_SUFFIXES
                .iter()
                .find(|(s, _)| name.ends_with(s) && !name.starts_with("TRIAGE_SERVE_"));
            if let Some((_, suffix)) = tuning {
                parse_tuning_value(suffix, value.trim()).map_err(|r| bad(name, value, &r))?;
            }
        }
        let owned = |n: &str| get(n).map(str::to_string);
        cfg.trust = trust::Trust::from_get(owned)?;
        cfg.libraries = libraries::Libraries::from_get(owned)?;
        cfg.cost = cost::CostGuards::from_get(owned)?;
        trust::check_combinations(
            owned,
            cfg.on_error,
            cfg.block_action,
            &cfg.sinks,
            &cfg.trust,
        )?;
        Ok(cfg)
    }

    pub fn labeler_for(&self, provider: Provider) -> LabelerKind {
        self.labeler
            .unwrap_or_else(|| LabelerKind::default_for(self.effective_provider(provider)))
    }

    pub fn moderator_for(&self, provider: Provider) -> ModeratorKind {
        self.moderator
            .unwrap_or_else(|| ModeratorKind::default_for(self.effective_provider(provider)))
    }

    /// With `TRIAGE_STORE=local` the object lives in the embedded bucket whatever the event says,
    /// and a vendor service could not pull it from there.
    fn effective_provider(&self, provider: Provider) -> Provider {
        match self.store {
            StoreKind::Local(_) => Provider::Local,
            StoreKind::Auto => provider,
        }
    }

    pub fn sink_enabled(&self, sink: SinkKind) -> bool {
        self.sinks.contains(&sink)
    }

    /// Where neither metadata nor a sidecar is written, the no-double-work guard keeps its
    /// record in a signed `triage-marker` object tag (the marker secret is required then).
    /// `TRIAGE_SINKS=none` writes nothing, that record included.
    pub fn guard_in_tags(&self) -> bool {
        !self.sinks.is_empty()
            && !self.sink_enabled(SinkKind::Metadata)
            && !self.sink_enabled(SinkKind::Sidecar)
    }

    /// A short hash of everything that changes what a result says. A stored marker with another
    /// hash means "processed under a different configuration": process again.
    pub fn config_hash(&self, provider: Provider) -> String {
        let mut basis = serde_json::json!({
            "labeler": self.labeler_for(provider),
            "moderator": self.moderator_for(provider),
            "thresholds": self.thresholds,
            "on_error": self.on_error,
            "max_labels": self.max_labels,
            "min_label_confidence": self.min_label_confidence,
            "schema": crate::result::SCHEMA_ID,
        });
        let settings = self.analyzer_settings();
        // Only when set, so hashes (and stored markers) from before vendor settings stay valid.
        if !settings.is_empty() {
            basis["analyzer_settings"] = serde_json::json!(settings);
        }
        // What the local models judged depends on which files they were: attaching the models
        // after objects were marked without them (`model_missing`) re-triages those objects.
        if self.labeler_for(provider) == LabelerKind::Local
            || self.moderator_for(provider) == ModeratorKind::Local
        {
            basis["local_models"] = serde_json::json!(self
                .local_models
                .get_or_init(|| models::model_identity(&self.model_dir, self.libraries.ocr)));
        }
        if let Some(libraries) = self.libraries.identity() {
            basis["libraries"] = libraries;
        }
        let digest = Sha256::digest(basis.to_string().as_bytes());
        hex::encode(&digest[..6])
    }
}

/// `TRIAGE_<SERVICE>_<SUFFIX>` tuning variables and what each holds.
const TUNING_SUFFIXES: [(&str, TuningField); 3] = [
    ("_QPS", TuningField::Qps),
    ("_TIMEOUT", TuningField::Timeout),
    ("_MAX_ATTEMPTS", TuningField::MaxAttempts),
];

#[derive(Debug, Clone, Copy)]
enum TuningField {
    Qps,
    Timeout,
    MaxAttempts,
}

fn parse_tuning_value(field: &TuningField, v: &str) -> Result<f64, String> {
    let n: f64 = v.parse().map_err(|_| "expected a number".to_string())?;
    match field {
        TuningField::Qps if n > 0.0 && n.is_finite() => Ok(n),
        TuningField::Qps => Err("expected a positive number of calls per second".into()),
        TuningField::Timeout if n > 0.0 && n <= 900.0 => Ok(n),
        TuningField::Timeout => Err("expected seconds, more than 0 and at most 900".into()),
        TuningField::MaxAttempts if (1.0..=20.0).contains(&n) && n.fract() == 0.0 => Ok(n),
        TuningField::MaxAttempts => Err("expected a whole number 1-20".into()),
    }
}

impl Config {
    /// The endpoint override for `service` (`TRIAGE_<SERVICE>_ENDPOINT`), without a trailing `/`.
    pub fn endpoint(&self, service: &str) -> Option<&str> {
        self.endpoints
            .get(&service.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// `defaults` for `service`, overridden by `TRIAGE_<SERVICE>_QPS`, `_TIMEOUT` (seconds) and
    /// `_MAX_ATTEMPTS` (values were validated when the config was built).
    pub fn tuning(&self, service: &str, defaults: Tuning) -> Tuning {
        let mut t = defaults;
        let prefix = format!("TRIAGE_{}", service.to_ascii_uppercase().replace('-', "_"));
        for (suffix, field) in &TUNING_SUFFIXES {
            let Some(v) = self.env.get(&format!("{prefix}{suffix}")) else {
                continue;
            };
            let Ok(n) = parse_tuning_value(field, v) else {
                continue;
            };
            match field {
                TuningField::Qps => t.qps = Some(n),
                TuningField::Timeout => t.timeout = std::time::Duration::from_secs_f64(n),
                TuningField::MaxAttempts => t.max_attempts = n as u32,
            }
        }
        t
    }

    /// Settings that change what an analyzer says or which images it accepts: every
    /// `TRIAGE_LABEL_*`, `TRIAGE_MODERATION_*` and `TRIAGE_*_LIMITS` variable (scenes, language,
    /// biz type, a vendor's size-limit rule, ...). Part of the config hash.
    pub fn analyzer_settings(&self) -> BTreeMap<&str, &str> {
        self.env
            .0
            .iter()
            .filter(|(k, _)| {
                k.starts_with("TRIAGE_LABEL_")
                    || k.starts_with("TRIAGE_MODERATION_")
                    || crate::analyzers::huawei::builder::HASHED_VARS.contains(&k.as_str())
                    || (k.starts_with("TRIAGE_") && k.ends_with("_LIMITS"))
            })
            .map(|(k, v)| (k.as_str(), v.trim()))
            .collect()
    }
}

/// An endpoint override: an `http(s)://host[:port][/path]` URL. No user-info (a password there
/// would end up in logs and errors), no query or fragment (the signed path is production's).
fn check_endpoint(value: &str) -> Result<(), String> {
    let expected = "expected an http:// or https:// URL (scheme, host, optional port and path)";
    let url = url::Url::parse(value.trim()).map_err(|e| format!("{e}; {expected}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(expected.into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials do not belong in an endpoint URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("no query or fragment; {expected}"));
    }
    Ok(())
}

/// `[scheme://]user:password@host…` → `[scheme://]***@host…`, for messages. Everything up to
/// the last `@` goes, wherever it stands: a password may hold `/`, `?` or `#` unescaped, and
/// hiding a little too much (an `@` in a path) is the safe side.
pub fn redact_userinfo(value: &str) -> String {
    let (scheme, rest) = match value.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), value),
    };
    match rest.rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => value.to_string(),
    }
}

fn normalize_prefix(v: &str) -> String {
    let v = v.trim_start_matches('/');
    if v.ends_with('/') {
        v.to_string()
    } else {
        format!("{v}/")
    }
}

fn parse_score(v: &str) -> Result<f32, String> {
    v.parse::<f32>()
        .ok()
        .filter(|s| (0.0..=100.0).contains(s))
        .ok_or_else(|| "expected a number from 0 to 100".to_string())
}

fn parse_sinks(v: &str) -> Result<Vec<SinkKind>, String> {
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let sink = match part {
            "metadata" => SinkKind::Metadata,
            "tags" => SinkKind::Tags,
            "sidecar" => SinkKind::Sidecar,
            "queue" => SinkKind::Queue,
            "none" => continue,
            other => {
                return Err(format!(
                    "unknown sink {other:?}; expected a comma list of metadata, tags, sidecar, queue (or none)"
                ))
            }
        };
        if !out.contains(&sink) {
            out.push(sink);
        }
    }
    out.sort();
    Ok(out)
}

mod check;
pub mod cost;
pub mod libraries;
pub mod memory;
mod models;
#[cfg(test)]
mod tests;
pub mod trust;
