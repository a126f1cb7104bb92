//! Web identity: a JWT in `AWS_WEB_IDENTITY_TOKEN_FILE` exchanged for the role `AWS_ROLE_ARN`
//! with STS `AssumeRoleWithWebIdentity` — what EKS IAM roles for service accounts set up (AWS
//! SDKs and Tools Reference Guide, "Assume role credential provider",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html>; AWS STS
//! API Reference, "AssumeRoleWithWebIdentity",
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html>).
//!
//! The call is not signed (the token is the proof): a form `POST` of `Action`, `Version`
//! (`2011-06-15`), `RoleArn`, `RoleSessionName` (`AWS_ROLE_SESSION_NAME`, else one made up) and
//! `WebIdentityToken` to the regional endpoint `https://sts.<region>.amazonaws.com` (`.com.cn` in
//! China; the global `sts.amazonaws.com` without a region), or `AWS_ENDPOINT_URL_STS`, else
//! `AWS_ENDPOINT_URL` ("Service-specific endpoints"). The answer is XML,
//! `AssumeRoleWithWebIdentityResult/Credentials/{AccessKeyId, SecretAccessKey, SessionToken,
//! Expiration}`, or an `ErrorResponse` with `Error/{Code, Message}`. The token file is read again
//! for every refresh: the kubelet rotates it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::client::refresh::{send, transport, CredentialSource, Expiring, SourceError};
use crate::client::Credentials;
use crate::config::Env;

pub const TOKEN_FILE_VAR: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
pub const ROLE_ARN_VAR: &str = "AWS_ROLE_ARN";
pub const SESSION_NAME_VAR: &str = "AWS_ROLE_SESSION_NAME";
pub const STS_ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_STS";
pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL";

/// STS answers in well under this; a stuck connection must not hold up start-up for long.
const STS_TIMEOUT: Duration = Duration::from_secs(10);

enum Setup {
    Unset(String),
    Ready {
        token_file: PathBuf,
        role_arn: String,
        session_name: String,
        endpoint: String,
    },
}

pub struct WebIdentity(Setup);

impl WebIdentity {
    pub fn from_env(env: &Env) -> Self {
        let (Some(file), Some(role)) = (env.get(TOKEN_FILE_VAR), env.get(ROLE_ARN_VAR)) else {
            return WebIdentity(Setup::Unset(format!(
                "{TOKEN_FILE_VAR} / {ROLE_ARN_VAR} not set"
            )));
        };
        let region = crate::cloud::aws::REGION_VARS
            .iter()
            .find_map(|v| env.get(v));
        let endpoint = env
            .get(STS_ENDPOINT_VAR)
            .or(env.get(ENDPOINT_VAR))
            .map(|e| e.trim_end_matches('/').to_string())
            .unwrap_or_else(|| sts_endpoint(region));
        let session_name = env
            .get(SESSION_NAME_VAR)
            .map(str::to_string)
            .unwrap_or_else(|| format!("image-triage-{}", chrono::Utc::now().timestamp_millis()));
        WebIdentity(Setup::Ready {
            token_file: PathBuf::from(file),
            role_arn: role.to_string(),
            session_name,
            endpoint,
        })
    }
}

/// The regional STS endpoint for `region` (a region id goes into the host name only when it is
/// one); the global endpoint without a usable region.
pub fn sts_endpoint(region: Option<&str>) -> String {
    match region.filter(|r| crate::cloud::aws::valid_region(r)) {
        Some(r) if r.starts_with("cn-") => format!("https://sts.{r}.amazonaws.com.cn"),
        Some(r) => format!("https://sts.{r}.amazonaws.com"),
        None => "https://sts.amazonaws.com".into(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    assume_role_with_web_identity_result: Option<ResultElement>,
    error: Option<ErrorElement>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultElement {
    credentials: XmlCredentials,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorElement {
    code: Option<String>,
    message: Option<String>,
}

/// The credentials of an `AssumeRoleWithWebIdentityResponse`, or the `ErrorResponse`'s code and
/// message (never the body).
pub fn parse_response(status: u16, body: &str) -> Result<Expiring, String> {
    let parsed: Result<Response, _> = quick_xml::de::from_str(body);
    let response = parsed.map_err(|_| format!("HTTP {status}: not an STS answer"))?;
    if let Some(e) = response.error {
        return Err(format!(
            "HTTP {status} {}: {}",
            e.code.unwrap_or_default(),
            e.message.unwrap_or_default()
        ));
    }
    let Some(result) = response.assume_role_with_web_identity_result else {
        return Err(format!("HTTP {status}: no credentials in the answer"));
    };
    let c = result.credentials;
    let expires = crate::client::refresh::parse_expiry(&c.expiration)
        .ok_or("the answer's Expiration is not a date-time")?;
    Ok(Expiring {
        credentials: Credentials {
            access_key: c.access_key_id,
            secret_key: c.secret_access_key,
            token: c.session_token.filter(|t| !t.is_empty()),
        },
        expires: Some(expires),
    })
}

#[async_trait::async_trait]
impl CredentialSource for WebIdentity {
    fn name(&self) -> &'static str {
        "web identity (STS AssumeRoleWithWebIdentity)"
    }

    async fn load(&self) -> Result<Expiring, SourceError> {
        let (token_file, role_arn, session_name, endpoint) = match &self.0 {
            Setup::Unset(why) => return Err(SourceError::NotAvailable(why.clone())),
            Setup::Ready {
                token_file,
                role_arn,
                session_name,
                endpoint,
            } => (token_file, role_arn, session_name, endpoint),
        };
        let failed = SourceError::Failed;
        let token = tokio::fs::read_to_string(token_file)
            .await
            .map_err(|e| failed(format!("{TOKEN_FILE_VAR} {}: {e}", token_file.display())))?;
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", role_arn.as_str()),
            ("RoleSessionName", session_name.as_str()),
            ("WebIdentityToken", token.trim()),
        ];
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = crate::client::http()
            .post(format!("{endpoint}/"))
            .timeout(STS_TIMEOUT)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(body);
        let (status, body) = send(req)
            .await
            .map_err(|e| failed(format!("{endpoint}: {}", transport(e))))?;
        parse_response(status, &body).map_err(|why| failed(format!("{endpoint}: {why}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_endpoints() {
        assert_eq!(
            sts_endpoint(Some("eu-west-1")),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            sts_endpoint(Some("cn-north-1")),
            "https://sts.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(sts_endpoint(None), "https://sts.amazonaws.com");
        assert_eq!(
            sts_endpoint(Some("x.evil.com/")),
            "https://sts.amazonaws.com"
        );
    }

    #[test]
    fn the_documented_answer_and_error() {
        // Shaped as the STS API Reference's AssumeRoleWithWebIdentity example response.
        let ok = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>SourceIdentityValue</SourceIdentity>
    <Provider>www.amazon.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#;
        let got = parse_response(200, ok).unwrap();
        assert_eq!(got.credentials.access_key, "ASgeIAIOSFODNN7EXAMPLE");
        assert!(got.credentials.token.unwrap().starts_with("AQoDYXdzEE0a8"));
        assert_eq!(
            got.expires.unwrap().to_rfc3339(),
            "2014-10-24T23:00:23+00:00"
        );

        let err = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>No OpenIDConnect provider found</Message></Error>
  <RequestId>1</RequestId></ErrorResponse>"#;
        assert_eq!(
            parse_response(400, err).unwrap_err(),
            "HTTP 400 InvalidIdentityToken: No OpenIDConnect provider found"
        );
        assert!(parse_response(502, "<html>gateway</html>").is_err());
        assert!(parse_response(502, "not xml at all <").is_err());
    }
}
