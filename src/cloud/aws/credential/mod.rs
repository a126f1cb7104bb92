//! The AWS SDKs' default credential provider chain, for the self-hosted commands (`serve`,
//! `poll-sqs`, `scan`) on EC2, ECS and EKS: the first source that yields wins, in the SDKs'
//! order (AWS SDKs and Tools Reference Guide, "Understand the credential provider chain",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html>):
//!
//! 1. [`env`]: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`;
//! 2. [`web_identity`]: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` → STS
//!    `AssumeRoleWithWebIdentity` (EKS IAM roles for service accounts);
//! 3. [`container`]: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI` (ECS task roles, EKS
//!    Pod Identity);
//! 4. [`imds`]: EC2 instance metadata, IMDSv2.
//!
//! Shared config/credentials files, SSO and `credential_process` are not read: a server on AWS
//! compute gets its role from one of the four above. Temporary credentials are refreshed before
//! they expire by [`crate::client::refresh::spawn_refresher`].

pub mod container;
pub mod env;
pub mod imds;
pub mod web_identity;

use std::sync::Arc;

use serde::Deserialize;

use crate::client::refresh::{CredentialSource, Expiring};
use crate::client::Credentials;
use crate::config::Env;

/// The sources in the SDKs' order, configured from `env`.
pub fn chain(env: &Env) -> Vec<Arc<dyn CredentialSource>> {
    vec![
        Arc::new(env::source(env)),
        Arc::new(web_identity::WebIdentity::from_env(env)),
        Arc::new(container::Container::from_env(env)),
        Arc::new(imds::Imds::from_env(env)),
    ]
}

/// The JSON both the container endpoint and IMDS answer with (ECS "Task IAM role", EC2 "Retrieve
/// security credentials from instance metadata"): `AccessKeyId`, `SecretAccessKey`, `Token`,
/// `Expiration`; IMDS adds `Code` (`Success`), the container endpoint may answer an error as
/// `{"code": ..., "message": ...}`.
#[derive(Deserialize)]
struct JsonCredentials {
    #[serde(rename = "AccessKeyId")]
    access_key_id: Option<String>,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
    #[serde(rename = "Expiration")]
    expiration: Option<serde_json::Value>,
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    /// The container endpoint's error form.
    #[serde(rename = "code")]
    error_code: Option<String>,
    #[serde(rename = "message")]
    error_message: Option<String>,
}

/// Credentials from that JSON, or why not (an error code and message the endpoint sent; never the
/// body, which may hold a secret).
pub fn parse_json(body: &str) -> Result<Expiring, String> {
    let j: JsonCredentials = serde_json::from_str(body)
        .map_err(|_| format!("not a credentials document ({} bytes)", body.len()))?;
    if let Some(code) = j.error_code.or(j.code.clone().filter(|c| c != "Success")) {
        let message = j.error_message.or(j.message).unwrap_or_default();
        return Err(format!("{code}: {message}").trim_end_matches(": ").into());
    }
    let (Some(access_key), Some(secret_key)) = (j.access_key_id, j.secret_access_key) else {
        return Err("the answer has no AccessKeyId / SecretAccessKey".into());
    };
    let expires = match &j.expiration {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            crate::client::refresh::json_expiry(v)
                .ok_or("the answer's Expiration is not a date-time")?,
        ),
    };
    Ok(Expiring {
        credentials: Credentials {
            access_key,
            secret_key,
            token: j.token.filter(|t| !t.is_empty()),
        },
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_credentials_and_error_forms() {
        // The EC2 user guide's example answer.
        let ok = parse_json(
            r#"{"Code":"Success","LastUpdated":"2012-04-26T16:39:16Z","Type":"AWS-HMAC",
            "AccessKeyId":"ASIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "Token":"token","Expiration":"2017-05-17T15:09:54Z"}"#,
        )
        .unwrap();
        assert_eq!(ok.credentials.access_key, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(ok.credentials.token.as_deref(), Some("token"));
        assert_eq!(
            ok.expires.unwrap().to_rfc3339(),
            "2017-05-17T15:09:54+00:00"
        );

        let err = parse_json(r#"{"code":"AccessDenied","message":"not your task"}"#).unwrap_err();
        assert_eq!(err, "AccessDenied: not your task");
        let err = parse_json(r#"{"Code":"Failure","Message":"no role"}"#).unwrap_err();
        assert_eq!(err, "Failure: no role");
        let err = parse_json(r#"{"SecretAccessKey":"s3cr3t"}"#).unwrap_err();
        assert!(!err.contains("s3cr3t"));
        let err = parse_json("<html>s3cr3t</html>").unwrap_err();
        assert!(!err.contains("s3cr3t") && err.contains("bytes"), "{err}");
        assert!(
            parse_json(r#"{"AccessKeyId":"a","SecretAccessKey":"b","Expiration":"soon"}"#).is_err()
        );
        let long_term = parse_json(r#"{"AccessKeyId":"a","SecretAccessKey":"b"}"#).unwrap();
        assert_eq!(long_term.expires, None);
    }
}
