//! Tencent analyzer settings (`TRIAGE_LABEL_*` / `TRIAGE_MODERATION_*`, so they enter the config
//! hash). Checked when the configuration is built ([`check_labeler`], [`check_moderator`]) by the
//! same parsers the analyzers use.

use crate::config::{Config, ConfigError};

pub const SCENES_VAR: &str = "TRIAGE_LABEL_SCENES";
pub const BIZ_TYPE_VAR: &str = "TRIAGE_MODERATION_BIZ_TYPE";
pub use crate::analyzers::sampling::{GIF_INTERVAL_VAR, GIF_MAX_FRAMES_VAR};

/// Every variable of this module, for the check of unknown vendor settings.
pub const VARS: [&str; 4] = [
    SCENES_VAR,
    BIZ_TYPE_VAR,
    GIF_INTERVAL_VAR,
    GIF_MAX_FRAMES_VAR,
];

pub const SCENES: [&str; 4] = ["web", "camera", "album", "news"];

fn bad(service: &str, var: &str, value: &str, why: &str) -> ConfigError {
    // TRIAGE_LABEL_* / TRIAGE_MODERATION_* are shared by the clouds: say whose rule this is, and
    // how to stop it applying when that service is not the one in use.
    ConfigError::new(
        var,
        value,
        format!(
            "{why} (the rule of {service}, which this configuration can select; name the service \
             you use with TRIAGE_LABELER / TRIAGE_MODERATOR if it is another)"
        ),
    )
}

/// The settings of the Tencent labelers (CI detect-label, TIIA).
pub fn check_labeler(config: &Config) -> Result<(), ConfigError> {
    scenes(config, "tencent image tagging").map(drop)
}

/// The settings of the Tencent moderators (IMS, CI).
pub fn check_moderator(config: &Config) -> Result<(), ConfigError> {
    biz_type(config, "tencent moderation")?;
    gif_frames(config, "tencent moderation").map(drop)
}

/// Detect-label scenes, lower-case, in the given order; default `camera` (CI's own default).
pub fn scenes(config: &Config, service: &str) -> Result<Vec<String>, ConfigError> {
    let Some(v) = config.env.get(SCENES_VAR) else {
        return Ok(vec!["camera".into()]);
    };
    let mut out: Vec<String> = Vec::new();
    for s in v.split(',').map(|s| s.trim().to_ascii_lowercase()) {
        if s.is_empty() || out.contains(&s) {
            continue;
        }
        if !SCENES.contains(&s.as_str()) {
            return Err(bad(
                service,
                SCENES_VAR,
                v,
                "expected a comma list of web, camera, album, news",
            ));
        }
        out.push(s);
    }
    if out.is_empty() {
        return Err(bad(service, SCENES_VAR, v, "no scene given"));
    }
    Ok(out)
}

/// The moderation policy: letters, digits and `_`, 3–32 characters (seed 001); unset = the
/// account's default policy.
pub fn biz_type(config: &Config, service: &str) -> Result<Option<String>, ConfigError> {
    let Some(v) = config.env.get(BIZ_TYPE_VAR) else {
        return Ok(None);
    };
    let ok =
        (3..=32).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(bad(
            service,
            BIZ_TYPE_VAR,
            v,
            "expected 3-32 letters, digits or _",
        ));
    }
    Ok(Some(v.to_string()))
}

/// GIF sampling `(interval, max frames)`: every 5th frame, at most 5 frames by default (the IMS
/// FAQ's default for animated images); the API's own default would look at the first frame only.
pub fn gif_frames(config: &Config, service: &str) -> Result<(u32, u32), ConfigError> {
    let s = crate::analyzers::sampling::FrameSampling::from_config(config, service)?;
    Ok((s.interval, s.max_frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config::core_from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn defaults_and_validation() {
        assert_eq!(scenes(&cfg(&[]), "ci").unwrap(), vec!["camera"]);
        assert_eq!(
            scenes(&cfg(&[(SCENES_VAR, "Web, camera,web")]), "ci").unwrap(),
            vec!["web", "camera"]
        );
        let e = scenes(&cfg(&[(SCENES_VAR, "web,street")]), "ci").unwrap_err();
        assert_eq!(e.var, SCENES_VAR, "{e}");
        assert_eq!(biz_type(&cfg(&[]), "ims").unwrap(), None);
        assert_eq!(
            biz_type(&cfg(&[(BIZ_TYPE_VAR, "test_1001")]), "ims")
                .unwrap()
                .as_deref(),
            Some("test_1001")
        );
        assert!(biz_type(&cfg(&[(BIZ_TYPE_VAR, "a-b")]), "ims").is_err());
        assert_eq!(gif_frames(&cfg(&[]), "ims").unwrap(), (5, 5));
        assert_eq!(
            gif_frames(
                &cfg(&[(GIF_INTERVAL_VAR, "0"), (GIF_MAX_FRAMES_VAR, "1")]),
                "ims"
            )
            .unwrap(),
            (0, 1)
        );
        assert!(gif_frames(&cfg(&[(GIF_MAX_FRAMES_VAR, "lots")]), "ims").is_err());
    }
}
