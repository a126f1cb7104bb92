//! A CVM instance's CAM role: temporary keys from the instance metadata service, for the
//! self-hosted commands on Tencent Cloud when `TENCENTCLOUD_SECRETID` / `_SECRETKEY` are not set
//! (CVM docs, "Managing Instance Roles" <https://cloud.tencent.com/document/product/213/47668>
//! and "Viewing Instance Metadata" <https://cloud.tencent.com/document/product/213/4934>):
//!
//! 1. `GET http://metadata.tencentyun.com/latest/meta-data/cam/security-credentials/` → the
//!    role's name;
//! 2. `GET …/cam/security-credentials/<role>` → JSON `TmpSecretId`, `TmpSecretKey`, `Token`,
//!    `ExpiredTime` (Unix seconds), `Expiration` (RFC 3339), `Code` (`Success`).
//!
//! UNVERIFIED against a CVM: the field names and the two steps match Tencent's own SDKs
//! (tencentcloud-sdk-go `CvmRoleProvider`, tencentcloud-sdk-nodejs `CvmRoleCredential`); the doc
//! pages the search tool could reach list the path but not a sample body. So the expiry is taken
//! from `ExpiredTime` or `Expiration`, in either form, and a `Code` other than `Success` is an
//! error. No token handshake is documented for Tencent's metadata service.
//! `TRIAGE_TENCENT_METADATA_ENDPOINT` moves the service (tests, proxies).

use std::sync::Arc;

use serde::Deserialize;

use crate::client::refresh::{
    json_expiry, metadata_http, send, transport, CredentialSource, EnvSource, Expiring, SourceError,
};
use crate::client::Credentials;
use crate::config::Config;

/// The metadata service's base URL override (test/advanced setting).
pub const METADATA_ENDPOINT_VAR: &str = "TRIAGE_TENCENT_METADATA_ENDPOINT";
const METADATA_ENDPOINT: &str = "http://metadata.tencentyun.com";
pub const ROLE_PATH: &str = "/latest/meta-data/cam/security-credentials/";

/// The environment first (the SDKs' variables), then the CVM role.
pub fn chain(config: &Config) -> Vec<Arc<dyn CredentialSource>> {
    let endpoint = config
        .endpoint("tencent_metadata")
        .unwrap_or(METADATA_ENDPOINT)
        .to_string();
    vec![
        Arc::new(EnvSource::new(&config.env, super::CREDENTIAL_VARS)),
        Arc::new(CvmRole { endpoint }),
    ]
}

pub struct CvmRole {
    endpoint: String,
}

#[derive(Deserialize)]
struct RoleCredentials {
    #[serde(rename = "TmpSecretId")]
    id: Option<String>,
    #[serde(rename = "TmpSecretKey")]
    key: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
    #[serde(rename = "ExpiredTime")]
    expired_time: Option<serde_json::Value>,
    #[serde(rename = "Expiration")]
    expiration: Option<serde_json::Value>,
    #[serde(rename = "Code")]
    code: Option<String>,
}

/// The role's credentials, or why not (never the body).
pub fn parse(body: &str) -> Result<Expiring, String> {
    let c: RoleCredentials = serde_json::from_str(body)
        .map_err(|_| format!("not a credentials document ({} bytes)", body.len()))?;
    if let Some(code) = c.code.filter(|c| c != "Success") {
        return Err(format!("Code {code}"));
    }
    let (Some(access_key), Some(secret_key)) = (c.id, c.key) else {
        return Err("the answer has no TmpSecretId / TmpSecretKey".into());
    };
    let expires = [c.expired_time, c.expiration]
        .iter()
        .flatten()
        .find_map(json_expiry)
        .ok_or("the answer has no ExpiredTime / Expiration")?;
    Ok(Expiring {
        credentials: Credentials {
            access_key,
            secret_key,
            token: c.token.filter(|t| !t.is_empty()),
        },
        expires: Some(expires),
    })
}

#[async_trait::async_trait]
impl CredentialSource for CvmRole {
    fn name(&self) -> &'static str {
        "CVM instance role (metadata)"
    }

    async fn load(&self) -> Result<Expiring, SourceError> {
        let ep = &self.endpoint;
        let http = metadata_http();
        let (status, roles) = send(http.get(format!("{ep}{ROLE_PATH}")))
            .await
            .map_err(|e| SourceError::NotAvailable(format!("{ep}: {}", transport(e))))?;
        let role = roles.lines().map(str::trim).find(|l| !l.is_empty());
        let role = match (status, role) {
            (200, Some(r)) if !r.contains(['/', '?', '#', '<']) => r.to_string(),
            (200 | 404, _) => {
                return Err(SourceError::NotAvailable(format!(
                    "{ep}: no CAM role bound to the instance"
                )))
            }
            (s, _) => {
                return Err(SourceError::Failed(format!("{ep}: role list answered {s}")));
            }
        };
        let failed = |why: String| SourceError::Failed(format!("{ep}: {why}"));
        let (status, body) = send(http.get(format!("{ep}{ROLE_PATH}{role}")))
            .await
            .map_err(|e| failed(transport(e)))?;
        if status != 200 {
            return Err(failed(format!("credentials answered {status}")));
        }
        parse(&body).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_expiry_forms_and_the_error_code() {
        let body = r#"{"TmpSecretId":"AKIDtmp","TmpSecretKey":"sk","ExpiredTime":1796223600,
            "Expiration":"2026-12-02T15:00:00Z","Token":"tok","Code":"Success"}"#;
        let got = parse(body).unwrap();
        assert_eq!(got.credentials.access_key, "AKIDtmp");
        assert_eq!(got.credentials.token.as_deref(), Some("tok"));
        assert_eq!(got.expires.unwrap().timestamp(), 1796223600);
        let only_iso = r#"{"TmpSecretId":"a","TmpSecretKey":"b","Token":"t","Expiration":"2026-12-02T15:00:00Z"}"#;
        assert_eq!(
            parse(only_iso).unwrap().expires.unwrap().timestamp(),
            1796223600
        );
        let string_secs = r#"{"TmpSecretId":"a","TmpSecretKey":"b","ExpiredTime":"1796223600"}"#;
        assert!(parse(string_secs).is_ok());
        assert_eq!(
            parse(r#"{"Code":"NoRole","TmpSecretKey":"s3cr3t"}"#).unwrap_err(),
            "Code NoRole"
        );
        assert!(parse(r#"{"TmpSecretId":"a","TmpSecretKey":"b"}"#).is_err());
        assert!(!parse("s3cr3t").unwrap_err().contains("s3cr3t"));
    }
}
