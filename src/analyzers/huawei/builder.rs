//! Huawei analyzer settings from the environment, typed and checked when the configuration is
//! built ([`TaggingSettings`], [`ModerationSettings`]); the clients of the two services.

use std::time::Duration;

use crate::analyzers::AnalyzerError;
use crate::client::{Service, Tuning};
use crate::cloud::huawei::{self, api::Api};
use crate::config::{Config, ConfigError, StoreKind};
use crate::preflight::limits::{Limits, HUAWEI_MEDIA, HUAWEI_TAGGING, HUAWEI_TAGGING_CURRENT};

/// How the image reaches the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A short-lived OBS signed URL; the service downloads the object (nothing read here).
    Url,
    /// The bytes, base64 in the body (objects not on OBS, or `TRIAGE_HUAWEI_INPUT=base64`).
    Base64,
}

pub const INPUT_VAR: &str = "TRIAGE_HUAWEI_INPUT";
pub const TAGGING_LIMITS_VAR: &str = "TRIAGE_HUAWEI_TAGGING_LIMITS";
pub const LANGUAGE_VAR: &str = "TRIAGE_LABEL_LANGUAGE";
pub const THRESHOLD_VAR: &str = "TRIAGE_LABEL_THRESHOLD";
pub const LIMIT_VAR: &str = "TRIAGE_LABEL_LIMIT";
pub const CATEGORIES_VAR: &str = "TRIAGE_MODERATION_CATEGORIES";
pub const EVENT_TYPE_VAR: &str = "TRIAGE_MODERATION_EVENT_TYPE";
pub const BIZ_TYPE_VAR: &str = "TRIAGE_MODERATION_BIZ_TYPE";

pub const CELEBRITY_VAR: &str = "TRIAGE_HUAWEI_CELEBRITY";
pub const CELEBRITY_THRESHOLD_VAR: &str = "TRIAGE_HUAWEI_CELEBRITY_THRESHOLD";
pub const CELEBRITY_CATEGORY_VAR: &str = "TRIAGE_HUAWEI_CELEBRITY_CATEGORY";
pub const MAIN_OBJECT_VAR: &str = "TRIAGE_HUAWEI_MAIN_OBJECT";
/// The settings of the optional analyses: they change what a result says, so they enter the
/// config hash like `TRIAGE_LABEL_*`.
pub const HASHED_VARS: [&str; 4] = [
    CELEBRITY_VAR,
    CELEBRITY_THRESHOLD_VAR,
    CELEBRITY_CATEGORY_VAR,
    MAIN_OBJECT_VAR,
];

/// Every variable of the Huawei analyzers (the region variables are [`huawei::REGION_VARS`]).
pub const VARS: [&str; 14] = [
    CELEBRITY_VAR,
    CELEBRITY_THRESHOLD_VAR,
    CELEBRITY_CATEGORY_VAR,
    MAIN_OBJECT_VAR,
    INPUT_VAR,
    TAGGING_LIMITS_VAR,
    LANGUAGE_VAR,
    THRESHOLD_VAR,
    LIMIT_VAR,
    CATEGORIES_VAR,
    EVENT_TYPE_VAR,
    BIZ_TYPE_VAR,
    huawei::REGION_VARS[0],
    huawei::REGION_VARS[1],
];

/// Moderation v3 categories.
pub const CATEGORIES: &[&str] = &["terrorism", "porn", "politics", "image_text"];

/// Which tagging API: image tagging (`TRIAGE_LABELER=huawei`) or media tagging
/// (`huawei-media`), which share request and answer shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    pub name: &'static str,
    /// The path after `/v2/{project_id}/`.
    pub interface: &'static str,
    /// Where Huawei offers it ([`huawei::check_offered`]).
    pub regions: &'static [&'static str],
}

pub const IMAGE_TAGGING: Variant = Variant {
    name: "huawei image tagging",
    interface: "image/tagging",
    regions: huawei::IMAGE_TAGGING_REGIONS,
};

pub const MEDIA_TAGGING: Variant = Variant {
    name: "huawei media tagging",
    interface: "image/media-tagging",
    regions: huawei::BEIJING4_ONLY,
};

/// The configured region offers `service` (seed 004), else an error naming the region variable.
pub fn check_region(config: &Config, service: &str, offered: &[&str]) -> Result<(), ConfigError> {
    let region = huawei::region(&config.env);
    huawei::check_offered(service, offered, &region).map_err(|why| {
        let var = huawei::REGION_VARS
            .iter()
            .find(|v| config.env.get(v).is_some())
            .unwrap_or(&huawei::REGION_VARS[0]);
        ConfigError::new(var, &region, why)
    })
}

/// Image Tagging's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TaggingSettings {
    pub variant: Variant,
    pub input: Input,
    pub limits: Limits,
    /// `TRIAGE_LABEL_LANGUAGE`: `en` (default here, ASCII-friendly for metadata) or `zh`.
    pub language: String,
    /// `TRIAGE_LABEL_THRESHOLD`, 0–100, the service's default 60.
    pub threshold: f64,
    /// `TRIAGE_LABEL_LIMIT`, 1–150, default 50.
    pub limit: u32,
}

impl TaggingSettings {
    /// Image tagging's settings.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Self::for_variant(config, IMAGE_TAGGING)
    }

    /// The settings of `variant`; `TRIAGE_HUAWEI_TAGGING_LIMITS` applies to image tagging only.
    pub fn for_variant(config: &Config, variant: Variant) -> Result<Self, ConfigError> {
        let language = match config.env.get(LANGUAGE_VAR).unwrap_or("en") {
            l @ ("en" | "zh") => l.to_string(),
            other => return Err(ConfigError::new(LANGUAGE_VAR, other, "expected en or zh")),
        };
        let limits = match config.env.get(TAGGING_LIMITS_VAR) {
            None | Some("strict") => HUAWEI_TAGGING,
            Some("current") => HUAWEI_TAGGING_CURRENT,
            Some(other) => {
                return Err(ConfigError::new(
                    TAGGING_LIMITS_VAR,
                    other,
                    "expected strict or current",
                ))
            }
        };
        Ok(TaggingSettings {
            variant,
            input: input(config)?,
            limits: if variant == MEDIA_TAGGING {
                HUAWEI_MEDIA
            } else {
                limits
            },
            language,
            threshold: number(config, THRESHOLD_VAR, 60.0, 0.0..=100.0)?,
            limit: number(config, LIMIT_VAR, 50.0, 1.0..=150.0)? as u32,
        })
    }
}

/// Content Moderation's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ModerationSettings {
    pub input: Input,
    /// `TRIAGE_MODERATION_BIZ_TYPE`: a console policy; takes priority over the two below.
    pub biz_type: Option<String>,
    /// `TRIAGE_MODERATION_EVENT_TYPE`, default `album`.
    pub event_type: String,
    /// `TRIAGE_MODERATION_CATEGORIES`, comma list, default all four v3 categories.
    pub categories: Vec<String>,
}

impl ModerationSettings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let categories: Vec<String> = match config.env.get(CATEGORIES_VAR) {
            None => CATEGORIES.iter().map(|c| c.to_string()).collect(),
            Some(list) => {
                let cs: Vec<String> = list
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .filter(|c| !c.is_empty())
                    .collect();
                if cs.is_empty() || cs.iter().any(|c| !CATEGORIES.contains(&c.as_str())) {
                    return Err(ConfigError::new(
                        CATEGORIES_VAR,
                        list,
                        "expected a comma list of terrorism, porn, politics, image_text",
                    ));
                }
                cs
            }
        };
        // Console names: letters, digits, `_` and `-` (the request carries them verbatim).
        let name = |var: &str| -> Result<Option<String>, ConfigError> {
            match config.env.get(var) {
                None => Ok(None),
                Some(v)
                    if (1..=64).contains(&v.len())
                        && v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)) =>
                {
                    Ok(Some(v.to_string()))
                }
                Some(v) => Err(ConfigError::new(
                    var,
                    v,
                    "expected 1-64 letters, digits, _ or -",
                )),
            }
        };
        Ok(ModerationSettings {
            input: input(config)?,
            biz_type: name(BIZ_TYPE_VAR)?,
            event_type: name(EVENT_TYPE_VAR)?.unwrap_or_else(|| "album".into()),
            categories,
        })
    }

    /// Whether the request asks for `image_text`, the only v3 category under which the service
    /// reads text (`ocr_text` is sent "只有在category参数配置image_text且检测出文本时"). With
    /// `biz_type` the console policy decides, which the function cannot see: not known.
    pub fn requests_ocr(&self) -> bool {
        self.biz_type.is_none() && self.categories.iter().any(|c| c == IMAGE_TEXT)
    }
}

/// The v3 category under which the service reads the text in the image.
pub const IMAGE_TEXT: &str = "image_text";

/// `TRIAGE_HUAWEI_INPUT=url|base64`; objects in the embedded bucket cannot be fetched by URL.
pub fn input(config: &Config) -> Result<Input, ConfigError> {
    match config.env.get(INPUT_VAR) {
        Some("url") => Ok(Input::Url),
        Some("base64") => Ok(Input::Base64),
        Some(other) => Err(ConfigError::new(INPUT_VAR, other, "expected url or base64")),
        None if matches!(config.store, StoreKind::Local(_)) => Ok(Input::Base64),
        None => Ok(Input::Url),
    }
}

/// `name` is `image` or `moderation`: host `<name>.<region>.myhuaweicloud.com`, override
/// `TRIAGE_HUAWEI_<NAME>_ENDPOINT`, tuning `TRIAGE_HUAWEI_<NAME>_QPS|_TIMEOUT|_MAX_ATTEMPTS`.
pub fn api(config: &Config, name: &'static str, defaults: Tuning) -> Api {
    let region = huawei::region(&config.env);
    let host = format!("{name}.{region}.myhuaweicloud.com");
    let service_key = format!("huawei_{name}");
    Api {
        name,
        base: config
            .endpoint(&service_key)
            .map(str::to_string)
            .unwrap_or_else(|| format!("https://{host}")),
        host,
        project_id: huawei::project_id(&config.env),
        service: Service::new(
            format!("huawei {name}"),
            config.tuning(&service_key, defaults),
        ),
        credentials: config.credentials.clone(),
    }
}

/// Image Tagging: no documented QPS; the timeout covers the service's own download.
pub const IMAGE_DEFAULTS: Tuning = Tuning::new(None, Duration::from_secs(15), 4);
/// Content Moderation: 10 QPS by default (anchors.md §limits).
pub const MODERATION_DEFAULTS: Tuning = Tuning::new(Some(10.0), Duration::from_secs(15), 4);

/// A number setting within `range`, else `default`.
pub fn number(
    config: &Config,
    var: &str,
    default: f64,
    range: std::ops::RangeInclusive<f64>,
) -> Result<f64, ConfigError> {
    match config.env.get(var) {
        None => Ok(default),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    var,
                    v,
                    format!(
                        "expected a number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

/// Fail at build time when nothing could sign a request or name the project, naming the
/// variables to set.
pub fn require_credentials(config: &Config, service: &str) -> Result<(), AnalyzerError> {
    if config
        .credentials
        .get(crate::client::credential::Cloud::Huawei)
        .is_none()
    {
        return Err(AnalyzerError {
            service: service.into(),
            code: Some("MissingCredentials".into()),
            message: "no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK \
                      (FunctionGraph passes them per invocation when the function has an agency)"
                .into(),
            retryable: false,
        });
    }
    if huawei::project_id(&config.env).is_none() {
        return Err(AnalyzerError {
            service: service.into(),
            code: Some("MissingProjectId".into()),
            message: "no Huawei Cloud project id: set HUAWEICLOUD_SDK_PROJECT_ID \
                      (FunctionGraph sets RUNTIME_PROJECT_ID)"
                .into(),
            retryable: false,
        });
    }
    Ok(())
}
