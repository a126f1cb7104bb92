//! Optional Image Recognition analyses run beside the labeler (seed 004):
//! celebrity recognition (`TRIAGE_HUAWEI_CELEBRITY=on`, `POST /v2/{project_id}/image/
//! celebrity-recognition`) and main-object detection (`TRIAGE_HUAWEI_MAIN_OBJECT=on`,
//! `POST /v3/{project_id}/image/main-object-detection`). Both pull the object by the same signed
//! URL, with the same inline fallback, and run concurrently with the labeler they wrap.
//!
//! Celebrity names become labels in the category `celebrity`, their face boxes stay in the
//! sidecar; with `TRIAGE_HUAWEI_CELEBRITY_CATEGORY` set, each recognised person is also a score
//! in that moderation category, judged by the usual thresholds. The main object's box is only
//! recorded (for thumbnails and crops); it never changes a verdict.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::builder::{self, Input};
use super::tagging::{image_source, num};
use crate::analyzers::{AnalyzerError, AnalyzerInput, CategoryScore, Label, LabelOutput, Labeler};
use crate::cloud::huawei::{self, api::Api};
use crate::config::{Config, ConfigError};
use crate::logging::redact_url_queries;
use crate::preflight::limits::{self, Limits, ANY_IMAGE, HUAWEI_CELEBRITY, HUAWEI_MAIN_OBJECT};

const CELEBRITY: &str = "huawei celebrity recognition";
const MAIN_OBJECT: &str = "huawei main-object detection";

/// The settings of the optional analyses, checked at start.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub celebrity: bool,
    /// `TRIAGE_HUAWEI_CELEBRITY_THRESHOLD`, 0–1, the service's default 0.9.
    pub celebrity_threshold: f64,
    /// `TRIAGE_HUAWEI_CELEBRITY_CATEGORY`: the moderation category a recognised person scores
    /// in (e.g. `public_figure`); unset, recognition never changes a verdict.
    pub celebrity_category: Option<String>,
    pub main_object: bool,
    pub input: Input,
}

fn switch(config: &Config, var: &str) -> Result<bool, ConfigError> {
    match config.env.get(var) {
        None | Some("off") => Ok(false),
        Some("on") => Ok(true),
        Some(v) => Err(ConfigError::new(var, v, "expected on or off")),
    }
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let celebrity = switch(config, builder::CELEBRITY_VAR)?;
        let main_object = switch(config, builder::MAIN_OBJECT_VAR)?;
        let category = match config.env.get(builder::CELEBRITY_CATEGORY_VAR) {
            None => None,
            Some(c)
                if (1..=32).contains(&c.len())
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
            {
                Some(c.to_string())
            }
            Some(c) => {
                return Err(ConfigError::new(
                    builder::CELEBRITY_CATEGORY_VAR,
                    c,
                    "expected a category name: 1-32 lower-case letters, digits or _ (e.g. public_figure)",
                ))
            }
        };
        if let Some(c) = &category {
            if !celebrity {
                return Err(ConfigError::new(
                    builder::CELEBRITY_CATEGORY_VAR,
                    c,
                    format!("needs {}=on", builder::CELEBRITY_VAR),
                ));
            }
            // Recognised people score 90 and more under the service's default threshold: the
            // default thresholds would block every one of them. The policy must be explicit.
            if !config.thresholds.per_category.contains_key(c) {
                return Err(ConfigError::new(
                    builder::CELEBRITY_CATEGORY_VAR,
                    c,
                    format!(
                        "set the category's thresholds in TRIAGE_THRESHOLDS, e.g. {c}:60/100 \
                         (review, never block); the defaults would block every recognised person"
                    ),
                ));
            }
        }
        if celebrity {
            builder::check_region(config, CELEBRITY, huawei::BEIJING4_ONLY)?;
        }
        if main_object {
            builder::check_region(config, MAIN_OBJECT, huawei::BEIJING4_ONLY)?;
        }
        Ok(Settings {
            celebrity,
            celebrity_threshold: builder::number(
                config,
                builder::CELEBRITY_THRESHOLD_VAR,
                0.9,
                0.0..=1.0,
            )?,
            celebrity_category: category,
            main_object,
            input: builder::input(config)?,
        })
    }

    pub fn any(&self) -> bool {
        self.celebrity || self.main_object
    }
}

/// `inner` (the configured labeler, if any) with the enabled analyses beside it; `inner`
/// unchanged when none is enabled.
pub fn wrap(
    config: &Config,
    inner: Option<Arc<dyn Labeler>>,
) -> Result<Option<Arc<dyn Labeler>>, AnalyzerError> {
    let settings = Settings::from_config(config)?;
    if !settings.any() {
        return Ok(inner);
    }
    builder::require_credentials(config, CELEBRITY)?;
    Ok(Some(Arc::new(WithExtras {
        api: builder::api(config, "image", builder::IMAGE_DEFAULTS),
        fallback: super::fallback::Fallback,
        inner,
        settings,
    })))
}

pub struct WithExtras {
    api: Api,
    fallback: super::fallback::Fallback,
    inner: Option<Arc<dyn Labeler>>,
    settings: Settings,
}

/// `result[]` of celebrity recognition: `label`, `confidence` (0–1), `face_detail`.
pub fn parse_celebrities(raw: &Value) -> Vec<(String, f32)> {
    let mut found: Vec<(String, f32)> = raw["result"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            let name = c["label"].as_str()?.trim();
            let confidence = num(&c["confidence"])?.clamp(0.0, 1.0) * 100.0;
            (!name.is_empty()).then(|| (name.to_string(), confidence))
        })
        .collect();
    found.sort_by(|a, b| b.1.total_cmp(&a.1));
    found
}

impl WithExtras {
    /// Run `part` when enabled and the image is within its own limits (else a recorded skip).
    async fn run(
        &self,
        part: Option<Part>,
        input: &AnalyzerInput,
    ) -> Option<Result<Value, AnalyzerError>> {
        let part = part?;
        if let Err(v) = limits::check(part.limits, &input.facts) {
            return Some(Ok(skipped(&v)));
        }
        let mode = self.settings.input;
        let answer =
            self.fallback
                .post(&self.api, mode, part.version, part.interface, input, |i| {
                    let mut body = part.fields.clone();
                    image_source(&mut body, mode, i, part.limits.service)?;
                    Ok(body)
                });
        Some(answer.await)
    }

    fn celebrities(&self) -> Option<Part> {
        self.settings.celebrity.then(|| Part {
            limits: &HUAWEI_CELEBRITY,
            version: "v2",
            interface: "image/celebrity-recognition",
            fields: json!({ "threshold": self.settings.celebrity_threshold }),
        })
    }

    fn main_object(&self) -> Option<Part> {
        self.settings.main_object.then(|| Part {
            limits: &HUAWEI_MAIN_OBJECT,
            version: "v3",
            interface: "image/main-object-detection",
            fields: json!({ "threshold": 30 }),
        })
    }
}

/// One optional analysis: its limits (whose `service` names it), its API and the request
/// fields besides the image.
struct Part {
    limits: &'static Limits,
    version: &'static str,
    interface: &'static str,
    fields: Value,
}

/// What is recorded for a part whose own limits the image is outside.
fn skipped(v: &limits::LimitViolation) -> Value {
    json!({ "skipped": { "code": v.code(), "reason": v.to_string() } })
}

/// An analysis that failed for good is recorded beside the labels rather than losing them; one
/// that a retry can fix fails the stage, so the platform's retry runs it again.
fn kept(
    out: Option<Result<Value, AnalyzerError>>,
    raw: &mut Value,
    key: &str,
) -> Result<Option<Value>, AnalyzerError> {
    match out {
        None => Ok(None),
        Some(Ok(v)) => {
            raw[key] = v.clone();
            Ok(Some(v))
        }
        Some(Err(e)) if e.retryable => Err(e),
        Some(Err(e)) => {
            // Vendor text may quote the signed URL it was given.
            let message = redact_url_queries(&e.message);
            raw[key] = json!({ "error": { "code": e.code, "message": message } });
            Ok(None)
        }
    }
}

#[async_trait]
impl Labeler for WithExtras {
    fn name(&self) -> &'static str {
        self.inner
            .as_ref()
            .map_or("huawei image recognition", |i| i.name())
    }
    fn limits(&self) -> &Limits {
        // Each part checks its own in `label`: one part's rule must not skip the others.
        &ANY_IMAGE
    }
    fn needs_bytes(&self) -> bool {
        self.settings.input == Input::Base64 || self.inner.as_ref().is_some_and(|i| i.needs_bytes())
    }
    fn needs_url(&self) -> bool {
        self.settings.input == Input::Url || self.inner.as_ref().is_some_and(|i| i.needs_url())
    }
    async fn label(&self, input: &AnalyzerInput) -> Result<LabelOutput, AnalyzerError> {
        let labels = async {
            match &self.inner {
                Some(i) => match limits::check(i.limits(), &input.facts) {
                    Ok(()) => i.label(input).await.map(Some),
                    Err(v) => Ok(Some(LabelOutput {
                        labels: vec![],
                        raw: skipped(&v),
                        flagged: None,
                        signals: vec![],
                    })),
                },
                None => Ok(None),
            }
        };
        let (labels, celebrities, main_object) = tokio::join!(
            labels,
            self.run(self.celebrities(), input),
            self.run(self.main_object(), input)
        );
        let mut out = labels?.unwrap_or_else(|| LabelOutput {
            labels: vec![],
            raw: Value::Null,
            flagged: None,
            signals: vec![],
        });
        let mut raw = json!({ "labels": out.raw });
        if let Some(v) = kept(celebrities, &mut raw, "celebrity")? {
            let people = parse_celebrities(&v);
            if let Some(category) = &self.settings.celebrity_category {
                out.signals
                    .extend(people.iter().map(|(name, score)| CategoryScore {
                        category: category.clone(),
                        score: *score,
                        label: Some(name.clone()),
                    }));
            }
            let mut labels: Vec<Label> = people
                .into_iter()
                .map(|(name, confidence)| Label {
                    name,
                    confidence,
                    first_category: Some("celebrity".into()),
                    second_category: None,
                })
                .collect();
            labels.append(&mut out.labels);
            out.labels = labels;
        }
        kept(main_object, &mut raw, "main_object")?;
        out.raw = raw;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config::core_from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn settings_and_regions() {
        let s = Settings::from_config(&cfg(&[])).unwrap();
        assert!(!s.any());
        let on = [
            (builder::CELEBRITY_VAR, "on"),
            (builder::CELEBRITY_CATEGORY_VAR, "public_figure"),
            (builder::MAIN_OBJECT_VAR, "on"),
            ("TRIAGE_THRESHOLDS", "public_figure:60/100"),
        ];
        // A category without thresholds of its own would block every recognised person.
        let e = Settings::from_config(&cfg(&on[..3])).unwrap_err();
        assert!(e.to_string().contains("TRIAGE_THRESHOLDS"), "{e}");
        let s = Settings::from_config(&cfg(&on)).unwrap();
        assert!(s.celebrity && s.main_object);
        assert_eq!(s.celebrity_category.as_deref(), Some("public_figure"));
        assert_eq!(s.celebrity_threshold, 0.9);
        let east = [&on[..], &[("TRIAGE_HUAWEI_REGION", "cn-east-3")]].concat();
        let e = Settings::from_config(&cfg(&east)).unwrap_err();
        assert_eq!(e.var, "TRIAGE_HUAWEI_REGION");
        assert!(e.to_string().contains("cn-north-4"), "{e}");
        for bad in [
            [(builder::CELEBRITY_VAR, "yes"), ("", "")],
            [(builder::CELEBRITY_CATEGORY_VAR, "public_figure"), ("", "")],
            [
                (builder::CELEBRITY_VAR, "on"),
                (builder::CELEBRITY_THRESHOLD_VAR, "1.5"),
            ],
            [
                (builder::CELEBRITY_VAR, "on"),
                (builder::CELEBRITY_CATEGORY_VAR, "Public Figure"),
            ],
        ] {
            let vars: Vec<(&str, &str)> = bad.into_iter().filter(|(k, _)| !k.is_empty()).collect();
            assert!(Settings::from_config(&cfg(&vars)).is_err(), "{vars:?}");
        }
    }

    #[test]
    fn celebrities_from_the_sdk_shape() {
        let raw = json!({"result": [
            {"label": "Someone", "confidence": 0.97, "face_detail": {"w": 10, "h": 12, "x": 3, "y": 4}},
            {"label": "Other", "confidence": "0.91"},
            {"label": "", "confidence": 0.99},
            {"confidence": 0.99}
        ]});
        let found = parse_celebrities(&raw);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, "Someone");
        assert!((found[0].1 - 97.0).abs() < 0.01);
        assert!(parse_celebrities(&json!({"result": null})).is_empty());
    }
}
