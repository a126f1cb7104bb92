//! One Tencent Cloud API 3.0 call: JSON body, TC3 signature over the production host, the
//! `{"Response": {...}}` envelope and its `Error` object (sent with HTTP 200).

use std::time::Duration;

use serde_json::Value;

use super::{errors, tc3};
use crate::client::credential::Cloud;
use crate::client::{CredentialSlots, Retryable, Service, TimedOut};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

impl Retryable for ApiError {
    fn retryable(&self) -> bool {
        self.retryable
    }
}

impl From<TimedOut> for ApiError {
    fn from(t: TimedOut) -> Self {
        ApiError {
            code: "Timeout".into(),
            message: t.to_string(),
            retryable: true,
        }
    }
}

/// One API 3.0 product (`ims`, `tiia`, `tdmq`).
#[derive(Debug, Clone)]
pub struct Api {
    /// TC3 service name and host prefix.
    pub service: &'static str,
    pub version: &'static str,
    /// `TRIAGE_<SERVICE>_ENDPOINT`, no trailing `/`.
    pub endpoint: Option<String>,
    pub default_region: Option<String>,
    /// The function's region (SCF's `X-Scf-Region`), after `default_region`.
    pub function_region: crate::config::FunctionRegion,
    pub credentials: CredentialSlots,
    pub calls: Service,
}

impl Api {
    pub fn new(
        config: &crate::config::Config,
        service: &'static str,
        version: &'static str,
        defaults: crate::client::Tuning,
    ) -> Self {
        Api {
            service,
            version,
            endpoint: config.endpoint(service).map(str::to_string),
            default_region: config.env.get(super::REGION_VAR).map(str::to_string),
            function_region: config.function_region.clone(),
            credentials: config.credentials.clone(),
            calls: Service::new(service, config.tuning(service, defaults)),
        }
    }

    pub fn host(&self) -> String {
        format!("{}.tencentcloudapi.com", self.service)
    }

    /// Call `action` with `body`, retrying under the service's policy; returns `Response`.
    pub async fn call(
        &self,
        action: &str,
        region: Option<&str>,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let payload = serde_json::to_vec(body).map_err(|e| ApiError {
            code: "ClientError".into(),
            message: e.to_string(),
            retryable: false,
        })?;
        let region = region
            .map(str::to_string)
            .or_else(|| self.default_region.clone())
            .or_else(|| self.function_region.get());
        self.calls
            .call(|| self.once(action, region.as_deref(), &payload))
            .await
    }

    async fn once(
        &self,
        action: &str,
        region: Option<&str>,
        payload: &[u8],
    ) -> Result<Value, ApiError> {
        let creds = self
            .credentials
            .get(Cloud::Tencent)
            .ok_or_else(|| ApiError {
                code: "NoCredentials".into(),
                message: "no Tencent Cloud credentials: set TENCENTCLOUD_SECRETID/SECRETKEY".into(),
                retryable: false,
            })?;
        let host = self.host();
        let content_type = "application/json";
        let timestamp = chrono::Utc::now().timestamp();
        let auth = tc3::authorization(
            &creds.access_key,
            &creds.secret_key,
            &tc3::Call {
                service: self.service,
                host: &host,
                content_type,
                timestamp,
                payload,
            },
        );
        let url = match &self.endpoint {
            Some(e) => format!("{e}/"),
            None => crate::client::origin::https(&host)
                .map_err(|e| ApiError {
                    code: "InvalidHost".into(),
                    message: e.to_string(),
                    retryable: false,
                })?
                .to_string(),
        };
        let mut rb = crate::client::http()
            .post(url)
            .header("host", &host)
            .header("content-type", content_type)
            .header("authorization", auth)
            .header("x-tc-action", action)
            .header("x-tc-timestamp", timestamp.to_string())
            .header("x-tc-version", self.version)
            .body(payload.to_vec());
        if let Some(r) = region {
            rb = rb.header("x-tc-region", r);
        }
        if let Some(t) = &creds.token {
            rb = rb.header("x-tc-token", t);
        }
        let resp = rb.send().await.map_err(|e| ApiError {
            code: if e.is_timeout() { "Timeout" } else { "Network" }.into(),
            message: format!("{} request failed: {}", self.service, e.without_url()),
            retryable: true,
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| ApiError {
            code: "Network".into(),
            message: e.without_url().to_string(),
            retryable: true,
        })?;
        parse_response(status, &text)
    }
}

/// The `Response` object of an API 3.0 reply, or its error.
pub fn parse_response(status: u16, text: &str) -> Result<Value, ApiError> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            return Err(ApiError {
                code: format!("HTTP{status}"),
                message: text.chars().take(300).collect(),
                retryable: status == 429 || status >= 500,
            })
        }
    };
    let response = v.get("Response").cloned().unwrap_or(Value::Null);
    if let Some(err) = response.get("Error") {
        let code = err["Code"].as_str().unwrap_or("Unknown").to_string();
        let request_id = response["RequestId"].as_str().unwrap_or_default();
        return Err(ApiError {
            retryable: errors::retryable(&code),
            message: format!(
                "{} (request id {request_id})",
                err["Message"].as_str().unwrap_or_default()
            ),
            code,
        });
    }
    if status >= 300 || response.is_null() {
        return Err(ApiError {
            code: format!("HTTP{status}"),
            message: text.chars().take(300).collect(),
            retryable: status == 429 || status >= 500,
        });
    }
    Ok(response)
}

/// Kept for the config docs: the default per-attempt timeouts of the two analyzers.
pub const MODERATION_TIMEOUT: Duration = Duration::from_secs(15);
pub const TAGGING_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_errors_keep_the_vendor_code() {
        let e = parse_response(200, r#"{"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}, "RequestId": "ed93"}}"#).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.retryable),
            ("AuthFailure.SignatureFailure", false)
        );
        assert!(e.message.contains("ed93"));
        let e = parse_response(200, r#"{"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}, "RequestId": "x"}}"#).unwrap_err();
        assert!(e.retryable);
        assert!(
            parse_response(502, "<html>bad gateway</html>")
                .unwrap_err()
                .retryable
        );
        let ok = parse_response(
            200,
            r#"{"Response": {"Suggestion": "Pass", "RequestId": "r"}}"#,
        )
        .unwrap();
        assert_eq!(ok["Suggestion"], "Pass");
    }
}
