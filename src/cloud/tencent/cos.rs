//! One signed COS request and its response. The request goes to the production virtual host
//! `<bucket>.cos.<region>.myqcloud.com`, or to an endpoint override (emulator, private link)
//! with exactly production's `Host` header, path, query and signature inputs.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;

use super::cos_sign as credential;
use crate::client::credential::Cloud;
use crate::client::retry::retry_after_header;
use crate::client::{CredentialSlots, Retryable, TimedOut};

/// A COS (or CI-on-COS) error: the vendor's code kept verbatim.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("HTTP {status} {code}: {message}")]
pub struct CosError {
    /// 0 when no response arrived.
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
}

impl Retryable for CosError {
    fn retryable(&self) -> bool {
        self.retryable
    }
    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl From<TimedOut> for CosError {
    fn from(t: TimedOut) -> Self {
        CosError {
            status: 0,
            code: "Timeout".into(),
            message: t.to_string(),
            retryable: true,
            retry_after: None,
        }
    }
}

impl CosError {
    pub fn local(code: &str, message: impl Into<String>) -> Self {
        CosError {
            status: 0,
            code: code.into(),
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }
}

/// Whether a COS error code (or HTTP status) is worth retrying: throttling, server trouble and
/// timeouts are; everything else (signature, permission, missing object, bad input) is not.
pub fn retryable_code(status: u16, code: &str) -> bool {
    matches!(
        code,
        "SlowDown"
            | "ServiceUnavailable"
            | "InternalError"
            | "RequestTimeout"
            | "UserNetworkTooSlow"
            | "Timeout"
            | "TooManyRequests"
    ) || status == 429
        || status >= 500
        || code
            .parse::<i64>()
            .is_ok_and(super::errors::retryable_number)
}

#[derive(Debug, serde::Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ErrorBody {
    code: String,
    message: String,
    request_id: String,
}

/// Parse a COS `<Error>` body (also found in 200 responses of PUT Object - Copy). `None` when
/// the body is not an error document.
pub fn parse_error(status: u16, body: &[u8]) -> Option<CosError> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains("<Error>") {
        return None;
    }
    let e: ErrorBody = quick_xml::de::from_str(text).ok()?;
    let message = if e.request_id.is_empty() {
        e.message
    } else {
        format!("{} (request id {})", e.message, e.request_id)
    };
    Some(CosError {
        retryable: retryable_code(status, &e.code),
        status,
        code: e.code,
        message,
        retry_after: None,
    })
}

/// One request. `key` is the decoded object key ("" for the bucket itself).
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub bucket: String,
    pub key: String,
    pub params: Vec<(String, String)>,
    /// Extra headers (lower-case names); every one is signed.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Region from the event, when known.
    pub region: Option<String>,
}

impl Req {
    pub fn new(method: Method, bucket: &str, key: &str) -> Self {
        Req {
            method,
            bucket: bucket.into(),
            key: key.into(),
            params: vec![],
            headers: vec![],
            body: Bytes::new(),
            region: None,
        }
    }
    pub fn param(mut self, k: &str, v: &str) -> Self {
        self.params.push((k.into(), v.into()));
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_ascii_lowercase(), v.into()));
        self
    }
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Signs and sends COS requests; holds no secret (credentials are read per request).
#[derive(Debug, Clone)]
pub struct CosClient {
    /// `TRIAGE_COS_ENDPOINT` / `TRIAGE_CI_ENDPOINT` (no trailing `/`).
    pub endpoint: Option<String>,
    /// `TENCENTCLOUD_REGION`: the region of buckets no event has named yet.
    pub default_region: Option<String>,
    /// The function's region (SCF's `X-Scf-Region`), after `default_region`.
    pub function_region: crate::config::FunctionRegion,
    pub credentials: CredentialSlots,
    /// Regions seen in events, per bucket (this client's own memory, shared by its clones): the
    /// store is handed only bucket names, and each event names its bucket's region.
    pub regions: Arc<RwLock<HashMap<String, String>>>,
}

impl CosClient {
    /// A client for `service` (`cos`, or `ci` for Cloud Infinite calls on the bucket host).
    /// CI lives on the bucket host, so without its own override it follows `TRIAGE_COS_ENDPOINT`.
    pub fn from_config(config: &crate::config::Config, endpoint_service: &str) -> Self {
        CosClient {
            endpoint: config
                .endpoint(endpoint_service)
                .or_else(|| config.endpoint("cos"))
                .map(str::to_string),
            default_region: config.env.get(super::REGION_VAR).map(str::to_string),
            function_region: config.function_region.clone(),
            credentials: config.credentials.clone(),
            regions: Default::default(),
        }
    }

    /// Remember `bucket`'s region (from an upload event).
    pub fn remember_region(&self, bucket: &str, region: &str) {
        if let Ok(mut m) = self.regions.write() {
            m.insert(bucket.to_string(), region.to_string());
        }
    }

    pub fn region_for(&self, bucket: &str, hint: Option<&str>) -> Result<String, CosError> {
        if let Some(r) = hint.filter(|r| !r.is_empty()) {
            return Ok(r.to_string());
        }
        if let Some(r) = self
            .regions
            .read()
            .ok()
            .and_then(|m| m.get(bucket).cloned())
        {
            return Ok(r);
        }
        let fallback = self.default_region.clone();
        fallback
            .or_else(|| self.function_region.get())
            .ok_or_else(|| {
                CosError::local(
                    "NoRegion",
                    format!("the region of bucket {bucket} is unknown: set TENCENTCLOUD_REGION"),
                )
            })
    }

    /// The production host of `bucket`, once its name passed the naming rules.
    pub fn host(&self, bucket: &str, region: Option<&str>) -> Result<String, CosError> {
        super::check_bucket(bucket)
            .map_err(|reason| CosError::local("InvalidBucketName", reason))?;
        let region = self.region_for(bucket, region)?;
        // Regions come from events too; they become part of the host name.
        if !super::valid_region(&region) {
            return Err(CosError::local(
                "InvalidRegion",
                format!("{region:?} is not a COS region id"),
            ));
        }
        Ok(format!("{bucket}.cos.{region}.myqcloud.com"))
    }

    /// Where requests go: the endpoint override, else `https://<host>` (see client::origin).
    pub fn base(&self, host: &str) -> Result<url::Url, CosError> {
        let url = match &self.endpoint {
            Some(e) => url::Url::parse(e).map_err(|e| e.to_string()),
            None => crate::client::origin::https(host).map_err(|e| e.to_string()),
        };
        url.map_err(|reason| CosError::local("InvalidBucketName", reason))
    }

    fn query(params: &[(String, String)]) -> String {
        params
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    credential::encode(k)
                } else {
                    format!("{}={}", credential::encode(k), credential::encode(v))
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The current Tencent credentials, or the error that says how to provide them.
    pub fn creds(&self) -> Result<crate::client::Credentials, CosError> {
        self.credentials.get(Cloud::Tencent).ok_or_else(|| {
            CosError::local(
                "NoCredentials",
                "no Tencent Cloud credentials: set TENCENTCLOUD_SECRETID/SECRETKEY (SCF provides them to the function's role)",
            )
        })
    }

    /// Send one request; any status of 300 or more, or an `<Error>` body, is an error.
    pub async fn send(&self, req: &Req) -> Result<Resp, CosError> {
        let host = self.host(&req.bucket, req.region.as_deref())?;
        let creds = self.creds()?;
        let mut signed: Vec<(String, String)> = vec![("host".into(), host.clone())];
        signed.extend(req.headers.iter().cloned());
        if let Some(t) = &creds.token {
            signed.push(("x-cos-security-token".into(), t.clone()));
        }
        let path = format!("/{}", req.key);
        let now = chrono::Utc::now().timestamp();
        let key_time = credential::key_time(now - 60, now + 900);
        let auth = credential::authorization(
            &creds.access_key,
            &creds.secret_key,
            &key_time,
            &credential::Request {
                method: req.method.as_str(),
                path: &path,
                params: &req.params,
                headers: &signed,
            },
        );
        // The key exactly as signed: it may hold `.`/`..` segments (see client::exact).
        let mut target = credential::wire_path(&req.key);
        if !req.params.is_empty() {
            target.push('?');
            target.push_str(&Self::query(&req.params));
        }
        let mut headers = signed;
        headers.push(("authorization".into(), auth));
        // COS wants a length on every PUT/POST, an empty body included.
        let body =
            if !req.body.is_empty() || req.method == Method::PUT || req.method == Method::POST {
                req.body.clone()
            } else {
                Bytes::new()
            };
        let crate::client::exact::Reply {
            status,
            headers,
            body,
        } = crate::client::exact::send(&req.method, &self.base(&host)?, &target, &headers, body)
            .await
            .map_err(|e| CosError {
                status: 0,
                code: "Network".into(),
                message: format!("request failed: {e}"),
                retryable: true,
                retry_after: None,
            })?;
        // A 2xx body is an error document only for a copy (it can fail after its 200 went out)
        // or a CI process; otherwise it is the object's own bytes, which an uploader chose.
        let vendor_body = status >= 300
            || req
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("x-cos-copy-source"))
            || req.params.iter().any(|(k, _)| k == "ci-process");
        if let Some(mut e) = vendor_body.then(|| parse_error(status, &body)).flatten() {
            e.retry_after = retry_after_header(&headers);
            return Err(e);
        }
        if status >= 300 {
            // HEAD and some CI errors carry no XML body.
            let code = error_code_without_xml(status, &headers, &body);
            return Err(CosError {
                retryable: retryable_code(status, &code),
                status,
                message: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
                code,
                retry_after: retry_after_header(&headers),
            });
        }
        Ok(Resp {
            status,
            headers,
            body,
        })
    }
}

/// HEAD errors carry no body; CI endpoints may answer JSON `{"code": n, "message": ...}` or put a
/// (negative) error number in `X-ErrNo` (tencent.md §6.3).
fn error_code_without_xml(status: u16, headers: &HeaderMap, body: &[u8]) -> String {
    if let Some(n) = headers.get("x-errno").and_then(|v| v.to_str().ok()) {
        return n.trim().to_string();
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        match &v["code"] {
            serde_json::Value::Number(n) => return n.to_string(),
            serde_json::Value::String(c) if !c.is_empty() => return c.clone(),
            _ => {}
        }
    }
    match status {
        404 => "NoSuchKey".to_string(),
        _ => format!("HTTP{status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_and_retryability() {
        let body = br#"<?xml version='1.0' encoding='utf-8' ?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><Resource>x</Resource><RequestId>NjA=</RequestId><TraceId>t</TraceId></Error>"#;
        let e = parse_error(503, body).unwrap();
        assert_eq!((e.code.as_str(), e.retryable), ("SlowDown", true));
        assert!(e.message.contains("NjA="));
        let e = parse_error(
            200,
            b"<Error><Code>InternalError</Code><Message>m</Message></Error>",
        )
        .unwrap();
        assert!(e.retryable, "copy can fail inside a 200");
        let e = parse_error(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>").unwrap();
        assert!(!e.retryable);
        assert!(parse_error(
            200,
            b"<CopyObjectResult><ETag>\"x\"</ETag></CopyObjectResult>"
        )
        .is_none());
        for (s, c, r) in [
            (404, "NoSuchKey", false),
            (403, "AccessDenied", false),
            (400, "ExpiredToken", false),
            (400, "RequestTimeout", true),
            (429, "HTTP429", true),
            (502, "HTTP502", true),
            (503, "ServiceUnavailable", true),
        ] {
            assert_eq!(retryable_code(s, c), r, "{s} {c}");
        }
    }
}
