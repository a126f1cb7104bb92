//! An ECS's agency: temporary AK/SK and security token from the instance metadata service, for
//! the self-hosted commands on Huawei Cloud when `HUAWEICLOUD_SDK_AK` / `_SK` are not set (ECS
//! user guide, "Obtaining Metadata" — `/openstack/latest/securitykey`, "obtain temporary AKs and
//! SKs"; the BMS guide's metadata table lists the same item and says the server needs an agency):
//!
//! `GET http://169.254.169.254/openstack/latest/securitykey` → `{"credential": {"access",
//! "secret", "securitytoken", "expires_at"}}` (the same shape as IAM's
//! `POST /v3.0/OS-CREDENTIAL/securitytokens` answer; `expires_at` with microseconds,
//! `2020-01-08T02:05:49.612000Z`).
//!
//! UNVERIFIED in the docs the search tool reached, taken from Huawei's own SDK
//! (huaweicloud-sdk-java-v3 `MetadataAccessor`): a metadata session token first, `PUT
//! /meta-data/latest/api/token` with `X-Metadata-Token-Ttl-Seconds`, sent back as
//! `X-Metadata-Token`. So both are accepted: with a token when the service hands one out, without
//! one when the `PUT` answers 404/405 (older services). `TRIAGE_HUAWEI_METADATA_ENDPOINT` moves
//! the service (tests, proxies).

use std::sync::Arc;

use serde::Deserialize;

use crate::client::refresh::{
    metadata_http, parse_expiry, send, transport, CredentialSource, EnvSource, Expiring,
    SourceError,
};
use crate::client::Credentials;
use crate::config::Config;

/// The metadata service's base URL override (test/advanced setting).
pub const METADATA_ENDPOINT_VAR: &str = "TRIAGE_HUAWEI_METADATA_ENDPOINT";
const METADATA_ENDPOINT: &str = "http://169.254.169.254";
pub const SECURITY_KEY_PATH: &str = "/openstack/latest/securitykey";
pub const TOKEN_PATH: &str = "/meta-data/latest/api/token";
pub const TTL_HEADER: &str = "x-metadata-token-ttl-seconds";
pub const TOKEN_HEADER: &str = "x-metadata-token";

/// The environment first (the SDKs' variables), then the ECS agency.
pub fn chain(config: &Config) -> Vec<Arc<dyn CredentialSource>> {
    let endpoint = config
        .endpoint("huawei_metadata")
        .unwrap_or(METADATA_ENDPOINT)
        .to_string();
    vec![
        Arc::new(EnvSource::new(&config.env, super::CREDENTIAL_VARS)),
        Arc::new(EcsAgency { endpoint }),
    ]
}

pub struct EcsAgency {
    endpoint: String,
}

#[derive(Deserialize)]
struct Answer {
    credential: Option<Credential>,
    /// An error answer's description, when the service sends one.
    error_msg: Option<String>,
    error_code: Option<String>,
}

#[derive(Deserialize)]
struct Credential {
    access: Option<String>,
    secret: Option<String>,
    securitytoken: Option<String>,
    expires_at: Option<String>,
}

/// The agency's credentials, or why not (never the body).
pub fn parse(body: &str) -> Result<Expiring, String> {
    let a: Answer = serde_json::from_str(body)
        .map_err(|_| format!("not a securitykey document ({} bytes)", body.len()))?;
    let Some(c) = a.credential else {
        return Err(match (a.error_code, a.error_msg) {
            (None, None) => "the answer has no credential".into(),
            (code, msg) => format!("{}: {}", code.unwrap_or_default(), msg.unwrap_or_default()),
        });
    };
    let (Some(access_key), Some(secret_key)) = (c.access, c.secret) else {
        return Err("the answer has no access / secret".into());
    };
    let expires = c
        .expires_at
        .as_deref()
        .and_then(parse_expiry)
        .ok_or("the answer has no expires_at date-time")?;
    Ok(Expiring {
        credentials: Credentials {
            access_key,
            secret_key,
            token: c.securitytoken.filter(|t| !t.is_empty()),
        },
        expires: Some(expires),
    })
}

#[async_trait::async_trait]
impl CredentialSource for EcsAgency {
    fn name(&self) -> &'static str {
        "ECS agency (metadata)"
    }

    async fn load(&self) -> Result<Expiring, SourceError> {
        let ep = &self.endpoint;
        let http = metadata_http();
        let (status, token) = send(
            http.put(format!("{ep}{TOKEN_PATH}"))
                .header(TTL_HEADER, "21600"),
        )
        .await
        .map_err(|e| SourceError::NotAvailable(format!("{ep}: {}", transport(e))))?;
        let token = match status {
            200 => Some(token.trim().to_string()),
            // A service without the token handshake.
            404 | 405 => None,
            s => {
                return Err(SourceError::Failed(format!(
                    "{ep}: metadata token request answered {s}"
                )))
            }
        };
        let mut req = http.get(format!("{ep}{SECURITY_KEY_PATH}"));
        if let Some(t) = &token {
            req = req.header(TOKEN_HEADER, t);
        }
        let failed = |why: String| SourceError::Failed(format!("{ep}: {why}"));
        let (status, body) = send(req).await.map_err(|e| failed(transport(e)))?;
        match (status, parse(&body)) {
            (200, Ok(found)) => Ok(found),
            // No agency on this server: nothing to use here.
            (404, _) => Err(SourceError::NotAvailable(format!(
                "{ep}: no agency configured for the server"
            ))),
            (s, Err(why)) => Err(failed(format!("HTTP {s}: {why}"))),
            (s, Ok(_)) => Err(failed(format!("HTTP {s}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_shape_and_errors() {
        let body = r#"{"credential":{"access":"LD9RQ9TMPAK","expires_at":"2020-01-08T02:05:49.612000Z",
            "secret":"sk","securitytoken":"gQpjbi1ub3J0aC00jD4Ej"}}"#;
        let got = parse(body).unwrap();
        assert_eq!(got.credentials.access_key, "LD9RQ9TMPAK");
        assert_eq!(
            got.credentials.token.as_deref(),
            Some("gQpjbi1ub3J0aC00jD4Ej")
        );
        assert_eq!(
            got.expires.unwrap().to_rfc3339(),
            "2020-01-08T02:05:49.612+00:00"
        );
        assert!(parse(r#"{"credential":{"access":"a","secret":"b"}}"#).is_err());
        assert_eq!(
            parse(r#"{"error_code":"ECS.0001","error_msg":"Please configure Cloud Service Agency first"}"#)
                .unwrap_err(),
            "ECS.0001: Please configure Cloud Service Agency first"
        );
        assert!(!parse("s3cr3t").unwrap_err().contains("s3cr3t"));
    }
}
