//! The legacy image tagging API (seed 002, `POST /v1/detection/imagetag_detect` on
//! `service.image.myqcloud.com`): `TRIAGE_LABELER=tencent-legacy`, for accounts still on the
//! AppID-based image services. The service pulls a COS object by its presigned URL; objects
//! elsewhere, and URLs it reports it could not download, go inline as base64 (once).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::analyzers::{AnalyzerError, AnalyzerInput, Label, LabelOutput, Labeler};
use crate::client::Tuning;
use crate::cloud::tencent::legacy::{self, LegacyApi};
use crate::config::Config;
use crate::object::Provider;
use crate::preflight::limits::{Limits, TENCENT_TAGGING};

/// `TRIAGE_IMAGETAG_ENDPOINT`, `TRIAGE_IMAGETAG_QPS|_TIMEOUT|_MAX_ATTEMPTS`.
pub const SERVICE: &str = "imagetag";
const PATH: &str = "/v1/detection/imagetag_detect";
/// The tagging FAQ's limits apply (seed 000); the legacy service has no documented QPS.
pub const TUNING: Tuning = Tuning::new(None, crate::cloud::tencent::api::TAGGING_TIMEOUT, 3);
/// ≤ 4 MB after base64 (seed 000): 3 MB of bytes.
const MAX_INLINE_BYTES: u64 = 3 * 1024 * 1024;

pub struct LegacyTagging {
    api: LegacyApi,
    /// `TENCENTCLOUD_APPID`, for objects whose bucket names no AppID.
    appid: Option<String>,
}

pub fn labeler(config: &Config) -> Result<Arc<dyn Labeler>, AnalyzerError> {
    Ok(Arc::new(LegacyTagging {
        api: LegacyApi::new(config, SERVICE, TUNING),
        appid: config.env.get(legacy::APPID_VAR).map(str::to_string),
    }))
}

/// `TENCENTCLOUD_APPID`, when set, is the numeric AppID.
pub fn check(config: &Config) -> Result<(), crate::config::ConfigError> {
    match config.env.get(legacy::APPID_VAR) {
        Some(v) if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) => Err(
            crate::config::ConfigError::new(legacy::APPID_VAR, v, "expected the numeric AppID"),
        ),
        _ => Ok(()),
    }
}

/// Labels from `tags[]` (`tag_name`, `tag_confidence` 0–100), most confident first.
pub fn parse(response: Value) -> LabelOutput {
    let mut labels: Vec<Label> = response["tags"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|t| {
            let name = t["tag_name"].as_str()?.trim();
            let confidence = t["tag_confidence"]
                .as_f64()
                .unwrap_or(0.0)
                .clamp(0.0, 100.0);
            (!name.is_empty()).then(|| Label {
                name: name.to_string(),
                confidence: confidence as f32,
                first_category: None,
                second_category: None,
            })
        })
        .collect();
    labels.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    LabelOutput {
        labels,
        raw: response,
        flagged: None,
        signals: vec![],
    }
}

impl LegacyTagging {
    /// The AppID and legacy bucket name to sign for, and whether the service can pull the object
    /// by URL (only COS objects: it fetches Tencent's own hosts).
    fn account(&self, input: &AnalyzerInput) -> Result<(String, String, bool), AnalyzerError> {
        let cos = (input.object.provider == Provider::Cos)
            .then(|| legacy::split_bucket(&input.object.bucket))
            .flatten();
        match (cos, &self.appid) {
            (Some((name, appid)), _) => Ok((appid.to_string(), name.to_string(), true)),
            (None, Some(appid)) => Ok((appid.clone(), String::new(), false)),
            (None, None) => Err(AnalyzerError::permanent(
                "tencent-legacy",
                format!(
                    "no AppID: the object is not in a COS bucket `<name>-<appid>`; set {}",
                    legacy::APPID_VAR
                ),
            )),
        }
    }

    async fn send(
        &self,
        appid: &str,
        bucket: &str,
        input: &AnalyzerInput,
    ) -> Result<Value, AnalyzerError> {
        let mut body = json!({ "appid": appid });
        if !bucket.is_empty() {
            body["bucket"] = json!(bucket);
        }
        if !crate::analyzers::inline::url_or_image(&mut body, input, true) {
            return Err(AnalyzerError::permanent(
                "tencent-legacy",
                "neither a URL nor the bytes of the object",
            ));
        }
        self.api
            .post(PATH, appid, bucket, &body)
            .await
            .map_err(|e| super::api_error("tencent-legacy", e))
    }
}

#[async_trait]
impl Labeler for LegacyTagging {
    fn name(&self) -> &'static str {
        "tencent-legacy"
    }
    fn limits(&self) -> &Limits {
        &TENCENT_TAGGING
    }
    fn needs_bytes(&self) -> bool {
        false
    }
    fn needs_url(&self) -> bool {
        true
    }
    async fn label(&self, input: &AnalyzerInput) -> Result<LabelOutput, AnalyzerError> {
        let (appid, bucket, pullable) = self.account(input)?;
        let by_url = pullable && input.url.is_some();
        let first = if by_url {
            self.send(&appid, &bucket, input).await
        } else {
            Err(AnalyzerError::permanent(
                "tencent-legacy",
                "no URL the service can fetch",
            ))
        };
        let code = |e: &AnalyzerError| e.code.as_deref().and_then(|c| c.parse::<i64>().ok());
        let response = match first {
            Ok(r) => r,
            Err(e) if code(&e) == Some(legacy::MARKED_BAD) => return Ok(marked_bad(&e)),
            // One inline attempt: there was no URL to give, or the service could not download it.
            Err(e) if !by_url || code(&e).is_some_and(|c| legacy::DOWNLOAD_FAILED.contains(&c)) => {
                if by_url {
                    tracing::warn!(
                        code = e.code.as_deref().unwrap_or(""),
                        "legacy tagging could not download the URL; sending the image inline"
                    );
                }
                let inline =
                    crate::analyzers::inline::with_bytes(input, MAX_INLINE_BYTES, &e).await?;
                self.send(&appid, &bucket, &inline).await?
            }
            Err(e) => return Err(e),
        };
        Ok(parse(response))
    }
}

/// `-5062` is not a failure of the stage but what the service knows about the image.
fn marked_bad(e: &AnalyzerError) -> LabelOutput {
    LabelOutput {
        labels: vec![],
        raw: json!({
            "code": legacy::MARKED_BAD,
            "message": crate::logging::redact_url_queries(&e.message),
        }),
        flagged: Some(format!(
            "tencent-legacy: {}",
            legacy::explain(legacy::MARKED_BAD)
        )),
        signals: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_example() {
        let v: Value = serde_json::from_str(
            r#"{"code": 0, "message": "success", "tags": [{"tag_name": "天空", "tag_confidence": 27}, {"tag_name": "女孩", "tag_confidence": 47}]}"#,
        )
        .unwrap();
        let out = parse(v.clone());
        let got: Vec<(&str, f32)> = out
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.confidence))
            .collect();
        assert_eq!(got, vec![("女孩", 47.0), ("天空", 27.0)]);
        assert_eq!(out.raw, v);
        // Missing or odd fields are skipped, not fatal.
        let odd = parse(
            json!({"code": 0, "tags": [{"tag_name": ""}, {"tag_confidence": 5}, {"tag_name": "x", "tag_confidence": 500}]}),
        );
        assert_eq!(odd.labels.len(), 1);
        assert_eq!(odd.labels[0].confidence, 100.0);
        assert!(parse(json!({"code": 0, "tags": null})).labels.is_empty());
    }
}
