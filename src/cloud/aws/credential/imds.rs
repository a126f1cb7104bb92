//! EC2 instance-profile credentials over IMDSv2 (Amazon EC2 User Guide, "Use the Instance
//! Metadata Service to access instance metadata" and "Retrieve security credentials from instance
//! metadata", <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html>;
//! AWS SDKs and Tools Reference Guide, "IMDS credential provider",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-imds-credentials.html>):
//!
//! 1. `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` → a session token;
//! 2. `GET /latest/meta-data/iam/security-credentials/` with `X-aws-ec2-metadata-token` → the
//!    role name;
//! 3. `GET /latest/meta-data/iam/security-credentials/<role>` → the credentials JSON.
//!
//! `AWS_EC2_METADATA_DISABLED=true` turns the source off, `AWS_EC2_METADATA_SERVICE_ENDPOINT`
//! (or `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`) moves it. IMDSv1 (no token) is not used:
//! the token handshake is what keeps a server-side request forgery from reading the role's keys,
//! and instances that still allow v1 also answer v2.

use crate::client::refresh::{
    metadata_http, send, transport, CredentialSource, Expiring, SourceError,
};
use crate::config::Env;

pub const DISABLED_VAR: &str = "AWS_EC2_METADATA_DISABLED";
pub const ENDPOINT_VAR: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
pub const ENDPOINT_MODE_VAR: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE";

const IPV4_ENDPOINT: &str = "http://169.254.169.254";
const IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";
pub const TOKEN_PATH: &str = "/latest/api/token";
pub const CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials/";
pub const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// Six hours, the longest the service grants; a token serves one fetch here anyway.
const TOKEN_TTL_SECONDS: &str = "21600";

pub struct Imds {
    /// `None` when disabled.
    endpoint: Option<String>,
}

impl Imds {
    pub fn from_env(env: &Env) -> Self {
        if env
            .get(DISABLED_VAR)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Imds { endpoint: None };
        }
        let endpoint = match (env.get(ENDPOINT_VAR), env.get(ENDPOINT_MODE_VAR)) {
            (Some(e), _) => e.trim_end_matches('/').to_string(),
            (None, Some(m)) if m.eq_ignore_ascii_case("ipv6") => IPV6_ENDPOINT.into(),
            _ => IPV4_ENDPOINT.into(),
        };
        Imds {
            endpoint: Some(endpoint),
        }
    }
}

#[async_trait::async_trait]
impl CredentialSource for Imds {
    fn name(&self) -> &'static str {
        "EC2 instance metadata"
    }

    async fn load(&self) -> Result<Expiring, SourceError> {
        let Some(ep) = &self.endpoint else {
            return Err(SourceError::NotAvailable(format!("{DISABLED_VAR}=true")));
        };
        let http = metadata_http();
        let not_here = |why: String| SourceError::NotAvailable(format!("{ep}: {why}"));
        let (status, token) = send(
            http.put(format!("{ep}{TOKEN_PATH}"))
                .header(TTL_HEADER, TOKEN_TTL_SECONDS),
        )
        .await
        .map_err(|e| not_here(transport(e)))?;
        match status {
            200 => {}
            // 403: IMDS is turned off for this instance; 404/405: something that is not IMDSv2.
            403..=405 => return Err(not_here(format!("token request answered {status}"))),
            s => {
                return Err(SourceError::Failed(format!(
                    "{ep}: token request answered {s}"
                )))
            }
        }
        let token = token.trim();
        let get = |path: String| {
            send(
                http.get(format!("{ep}{CREDENTIALS_PATH}{path}"))
                    .header(TOKEN_HEADER, token),
            )
        };
        let failed = |why: String| SourceError::Failed(format!("{ep}: {why}"));
        let (status, roles) = get(String::new()).await.map_err(|e| failed(transport(e)))?;
        let role = roles.lines().map(str::trim).find(|l| !l.is_empty());
        let role = match (status, role) {
            (200, Some(r)) => r.to_string(),
            // The instance has no instance profile: nothing to use here.
            (200 | 404, _) => return Err(not_here("no IAM role attached to the instance".into())),
            (s, _) => return Err(failed(format!("role list answered {s}"))),
        };
        if role.contains(['/', '?', '#']) || role == ".." {
            return Err(failed("the role name is not a path segment".into()));
        }
        let (status, body) = get(role).await.map_err(|e| failed(transport(e)))?;
        if status != 200 {
            return Err(failed(format!("credentials answered {status}")));
        }
        super::parse_json(&body).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    #[test]
    fn endpoint_override_mode_and_switch() {
        assert_eq!(
            Imds::from_env(&env(&[])).endpoint.as_deref(),
            Some(IPV4_ENDPOINT)
        );
        assert_eq!(
            Imds::from_env(&env(&[(ENDPOINT_MODE_VAR, "IPv6")]))
                .endpoint
                .as_deref(),
            Some(IPV6_ENDPOINT)
        );
        assert_eq!(
            Imds::from_env(&env(&[(ENDPOINT_VAR, "http://127.0.0.1:9/")]))
                .endpoint
                .as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert!(Imds::from_env(&env(&[(DISABLED_VAR, "TRUE")]))
            .endpoint
            .is_none());
        assert!(Imds::from_env(&env(&[(DISABLED_VAR, "false")]))
            .endpoint
            .is_some());
    }
}
