//! One signed JSON call to a Huawei API Gateway service, with the shared retry loop, vendor
//! error mapping and a Cloud-Eye-style metric line per call.

use std::time::Duration;

use serde_json::Value;

use super::apig;
use crate::client::credential::Cloud;
use crate::client::{CredentialSlots, Retryable, Service, TimedOut};

/// A Huawei AI service endpoint: production host plus an optional override of where requests go.
#[derive(Debug, Clone)]
pub struct Api {
    /// `image`, `moderation`: the service name in errors and metric lines.
    pub name: &'static str,
    /// Production host, e.g. `image.cn-north-4.myhuaweicloud.com`; always the signed `Host`.
    pub host: String,
    /// `TRIAGE_HUAWEI_<SERVICE>_ENDPOINT`, else `https://<host>`.
    pub base: String,
    pub project_id: Option<String>,
    pub service: Service,
    pub credentials: CredentialSlots,
}

/// A failed call: the vendor's code kept verbatim, and whether a retry can help.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{service}: {message}{}", code.as_deref().map(|c| format!(" (code {c})")).unwrap_or_default())]
pub struct ApiError {
    pub service: String,
    pub code: Option<String>,
    pub message: String,
    pub retryable: bool,
}

struct Attempt(ApiError, Option<Duration>);

impl Retryable for Attempt {
    fn retryable(&self) -> bool {
        self.0.retryable
    }
    fn retry_after(&self) -> Option<Duration> {
        self.1
    }
}

impl From<TimedOut> for Attempt {
    fn from(t: TimedOut) -> Self {
        Attempt(
            ApiError {
                service: t.service.clone(),
                code: Some("Timeout".into()),
                message: t.to_string(),
                retryable: true,
            },
            None,
        )
    }
}

/// Vendor codes that mean "try again later" whatever the status: APIG throttling (0308) and
/// back-end unavailable/timeouts (0201–0203); AIS "internal service error" (0003, 0506 — both
/// documented as HTTP 400 in the Image/Moderation error tables).
const RETRYABLE_CODES: &[&str] = &[
    "APIG.0308",
    "APIG.0201",
    "APIG.0202",
    "APIG.0203",
    "AIS.0003",
    "AIS.0506",
];

/// Codes that say the service could not fetch the `url` (platform codes shared by the AI
/// services: 4601 invalid URL, 4603 download failed, 4702–4705 OBS agency / address / object):
/// the request is worth repeating with the image inline.
pub const DOWNLOAD_FAILED_CODES: &[&str] = &[
    "ModelArts.4601",
    "ModelArts.4603",
    "ModelArts.4702",
    "ModelArts.4703",
    "ModelArts.4704",
    "ModelArts.4705",
];

pub fn retryable(status: u16, code: &str) -> bool {
    status == 429 || status >= 500 || RETRYABLE_CODES.contains(&code)
}

/// `error_code`/`error_msg`, else `errorCode`/`errorMsg`, else `code`/`message`, searched in
/// nested objects too (the SDK's exception handler).
pub fn vendor_error(body: &Value) -> Option<(String, String)> {
    let pairs = [
        ("error_code", "error_msg"),
        ("errorCode", "errorMsg"),
        ("code", "message"),
    ];
    if let Value::Object(map) = body {
        for (c, m) in pairs {
            if let Some(code) = map.get(c).and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }) {
                let msg = map.get(m).and_then(Value::as_str).unwrap_or("").to_string();
                return Some((code, msg));
            }
        }
        return map.values().find_map(vendor_error);
    }
    None
}

impl Api {
    fn err(&self, code: Option<&str>, message: impl Into<String>, retryable: bool) -> ApiError {
        ApiError {
            service: format!("huawei {}", self.name),
            code: code.map(str::to_string),
            message: message.into(),
            retryable,
        }
    }

    async fn attempt(&self, path: &str, body: &[u8]) -> Result<Value, Attempt> {
        let creds = self.credentials.get(Cloud::Huawei).ok_or_else(|| {
            Attempt(
                self.err(
                    Some("MissingCredentials"),
                    "no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (or run under FunctionGraph with an agency)",
                    false,
                ),
                None,
            )
        })?;
        let project_id = self.project_id.as_deref().unwrap_or_default();
        let date = apig::sdk_date(chrono::Utc::now());
        let mut headers: Vec<(&str, &str)> = vec![
            ("Content-Type", "application/json"),
            ("Host", &self.host),
            ("X-Project-Id", project_id),
            ("X-Sdk-Date", &date),
        ];
        if let Some(t) = creds.token.as_deref() {
            headers.push(("X-Security-Token", t));
        }
        let auth = apig::sign(
            &creds.access_key,
            &creds.secret_key,
            "POST",
            path,
            &[],
            &headers,
            body,
        );
        let mut rb = crate::client::http()
            .post(format!("{}{path}", self.base))
            .header("Authorization", auth)
            .body(body.to_vec());
        for (n, v) in &headers {
            rb = rb.header(*n, *v);
        }
        let resp = rb.send().await.map_err(|e| {
            Attempt(
                self.err(
                    Some("RequestError"),
                    format!("{path}: {}", crate::client::describe(e)),
                    true,
                ),
                None,
            )
        })?;
        let status = resp.status().as_u16();
        let retry_after = crate::client::retry::retry_after_header(resp.headers());
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let raw = resp
            .bytes()
            .await
            .map_err(|e| Attempt(self.err(Some("ReadError"), e.to_string(), true), None))?;
        let parsed: Option<Value> = serde_json::from_slice(&raw).ok();
        if status < 300 {
            return parsed.ok_or_else(|| {
                Attempt(
                    self.err(Some("MalformedResponse"), "the answer is not JSON", false),
                    None,
                )
            });
        }
        let (code, msg) = parsed.as_ref().and_then(vendor_error).unwrap_or_else(|| {
            (
                format!("HTTP{status}"),
                String::from_utf8_lossy(&raw).chars().take(200).collect(),
            )
        });
        let msg = match request_id {
            Some(id) => format!("HTTP {status}: {msg} (request id {id})"),
            None => format!("HTTP {status}: {msg}"),
        };
        Err(Attempt(
            self.err(Some(&code), msg, retryable(status, &code)),
            retry_after,
        ))
    }

    /// POST `body` as JSON to `/<version>/{project_id}/<interface>`; `interface` names the
    /// metric dimension (`image/tagging`, `moderation/image`).
    pub async fn post(
        &self,
        version: &str,
        interface: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let Some(project_id) = self.project_id.as_deref() else {
            return Err(self.err(
                Some("MissingProjectId"),
                "no project id: set HUAWEICLOUD_SDK_PROJECT_ID (FunctionGraph sets RUNTIME_PROJECT_ID)",
                false,
            ));
        };
        let path = format!("/{version}/{project_id}/{interface}");
        let bytes = serde_json::to_vec(body)
            .map_err(|e| self.err(Some("EncodeError"), e.to_string(), false))?;
        self.service
            .call(|| async {
                let r = self.attempt(&path, &bytes).await;
                self.metric(interface, r.as_ref().err().map(|Attempt(e, _)| e));
                r
            })
            .await
            .map_err(|Attempt(e, _)| e)
    }

    /// One line per HTTP call (retried attempts count, as on the service side), named like
    /// Cloud Eye's SYS.IRS / SYS.MODERATION metrics with their dimension `call_of_interface`.
    /// A per-attempt timeout never reaches here; the retry loop logs it.
    fn metric(&self, interface: &str, failure: Option<&ApiError>) {
        match failure {
            None => tracing::info!(
                metric = "successful_call_times_of_service",
                value = 1u32,
                service = self.name,
                call_of_interface = interface,
                "huawei call metric"
            ),
            Some(e) => tracing::warn!(
                metric = "failed_call_times_of_service",
                value = 1u32,
                service = self.name,
                call_of_interface = interface,
                code = e.code.as_deref().unwrap_or(""),
                retryable = e.retryable,
                "huawei call metric"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_bodies_in_every_documented_shape() {
        assert_eq!(
            vendor_error(&json!({"error_code":"AIS.0005","error_msg":"bad"})),
            Some(("AIS.0005".into(), "bad".into()))
        );
        assert_eq!(
            vendor_error(&json!({"errorCode":"X","errorMsg":"y"}))
                .unwrap()
                .0,
            "X"
        );
        assert_eq!(
            vendor_error(&json!({"error":{"code":"APIG.0308","message":"slow down"}})),
            Some(("APIG.0308".into(), "slow down".into()))
        );
        assert!(vendor_error(&json!({"result":{}})).is_none());
    }

    #[test]
    fn retry_classification() {
        assert!(retryable(429, "APIG.0308"));
        assert!(retryable(500, "AIS.0500"));
        assert!(retryable(400, "APIG.0308"));
        assert!(!retryable(400, "AIS.0005"));
        assert!(!retryable(401, "APIG.0301"));
        assert!(retryable(400, "AIS.0003"), "internal error");
        assert!(
            !retryable(400, "AIS.0004"),
            "service not enabled is permanent"
        );
    }
}
