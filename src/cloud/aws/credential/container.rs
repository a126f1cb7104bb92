//! The container credential provider: ECS task roles and EKS Pod Identity (AWS SDKs and Tools
//! Reference Guide, "Container credential provider",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html>; Amazon
//! ECS Developer Guide, "Task IAM role"; Amazon EKS User Guide, "EKS Pod Identities").
//!
//! A `GET` of `http://169.254.170.2` + `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, else of
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI`, which must be `https`, or `http` to a loopback address,
//! the ECS agent (`169.254.170.2`) or the EKS Pod Identity agent (`169.254.170.23`,
//! `fd00:ec2::23`) — a host name counts only when every address it resolves to is one of those.
//! `Authorization` carries the contents of `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (re-read
//! for every fetch: EKS rotates it), else `AWS_CONTAINER_AUTHORIZATION_TOKEN`. The answer is the
//! same JSON as IMDS's, or `{"code", "message"}` on error.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::client::refresh::{
    metadata_http, send, transport, CredentialSource, Expiring, SourceError,
};
use crate::config::Env;

pub const RELATIVE_URI_VAR: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
pub const FULL_URI_VAR: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
pub const TOKEN_VAR: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
pub const TOKEN_FILE_VAR: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";

/// The ECS agent's address, the root of a relative URI.
const ECS_HOST: &str = "http://169.254.170.2";

enum Target {
    Unset,
    /// Refused before any connection: the message says why.
    Invalid(String),
    Url(String),
}

enum Auth {
    None,
    Token(String),
    File(PathBuf),
}

pub struct Container {
    target: Target,
    auth: Auth,
}

impl Container {
    pub fn from_env(env: &Env) -> Self {
        let target = match (env.get(RELATIVE_URI_VAR), env.get(FULL_URI_VAR)) {
            (Some(rel), _) if rel.starts_with('/') => Target::Url(format!("{ECS_HOST}{rel}")),
            (Some(_), _) => Target::Invalid(format!("{RELATIVE_URI_VAR} must start with /")),
            (None, Some(full)) => match check_full_uri(full) {
                Ok(()) => Target::Url(full.to_string()),
                Err(why) => Target::Invalid(format!("{FULL_URI_VAR}: {why}")),
            },
            (None, None) => Target::Unset,
        };
        let auth = match (env.get(TOKEN_FILE_VAR), env.get(TOKEN_VAR)) {
            (Some(file), _) => Auth::File(PathBuf::from(file)),
            (None, Some(token)) => Auth::Token(token.to_string()),
            (None, None) => Auth::None,
        };
        Container { target, auth }
    }
}

/// The addresses a full URI may reach over plain `http`.
pub fn allowed_ip(ip: IpAddr) -> bool {
    const ECS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 170, 2));
    const EKS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 170, 23));
    const EKS6: IpAddr = IpAddr::V6(std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23));
    ip.is_loopback() || ip == ECS || ip == EKS || ip == EKS6
}

/// The rule for `AWS_CONTAINER_CREDENTIALS_FULL_URI` that needs no lookup: `https` anywhere;
/// `http` to an allowed address, or to a host name (checked by [`check_resolved`] when used).
pub fn check_full_uri(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("not a URL ({e})"))?;
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(url::Host::Ipv4(ip))) if allowed_ip(ip.into()) => Ok(()),
        ("http", Some(url::Host::Ipv6(ip))) if allowed_ip(ip.into()) => Ok(()),
        ("http", Some(url::Host::Domain(_))) => Ok(()),
        ("http", Some(_)) => Err(
            "plain http only to a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23"
                .into(),
        ),
        _ => Err("expected an http:// or https:// URL".into()),
    }
}

/// For an `http` URL with a host name: every address it resolves to must be allowed.
async fn check_resolved(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| e.to_string())?;
    let (true, Some(url::Host::Domain(host))) = (url.scheme() == "http", url.host()) else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(80);
    // Bounded like every other metadata call: a slow resolver must not stall start-up.
    let addrs: Vec<_> = tokio::time::timeout(
        crate::client::refresh::METADATA_TIMEOUT,
        tokio::net::lookup_host((host, port)),
    )
    .await
    .map_err(|_| format!("resolving {host} timed out"))?
    .map_err(|e| format!("cannot resolve {host}: {e}"))?
    .collect();
    if addrs.is_empty() || !addrs.iter().all(|a| allowed_ip(a.ip())) {
        return Err(format!(
            "{host} resolves to an address plain http may not reach (loopback, 169.254.170.2, \
             169.254.170.23, fd00:ec2::23)"
        ));
    }
    Ok(())
}

#[async_trait::async_trait]
impl CredentialSource for Container {
    fn name(&self) -> &'static str {
        "container credentials endpoint"
    }

    async fn load(&self) -> Result<Expiring, SourceError> {
        let url = match &self.target {
            Target::Unset => {
                return Err(SourceError::NotAvailable(format!(
                    "{RELATIVE_URI_VAR} / {FULL_URI_VAR} not set"
                )))
            }
            Target::Invalid(why) => return Err(SourceError::Failed(why.clone())),
            Target::Url(u) => u,
        };
        let failed = SourceError::Failed;
        check_resolved(url).await.map_err(failed)?;
        let mut req = metadata_http().get(url);
        match &self.auth {
            Auth::None => {}
            Auth::Token(t) => req = req.header(reqwest::header::AUTHORIZATION, t),
            Auth::File(path) => {
                let t = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| failed(format!("{TOKEN_FILE_VAR} {}: {e}", path.display())))?;
                req = req.header(reqwest::header::AUTHORIZATION, t.trim());
            }
        }
        let (status, body) = send(req).await.map_err(|e| failed(transport(e)))?;
        match super::parse_json(&body) {
            Ok(found) if status == 200 => Ok(found),
            Err(why) => Err(failed(format!("HTTP {status}: {why}"))),
            Ok(_) => Err(failed(format!("HTTP {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_uri_host_rule() {
        for ok in [
            "http://127.0.0.1:8080/creds",
            "http://127.1.2.3/creds",
            "http://[::1]/creds",
            "http://169.254.170.2/v2/credentials/x",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "https://creds.example.com/x",
            "http://localhost/creds",
        ] {
            assert_eq!(check_full_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://169.254.169.254/latest",
            "http://10.0.0.1/creds",
            "http://[fd00:ec2::254]/x",
            "ftp://127.0.0.1/x",
            "/relative",
        ] {
            assert!(check_full_uri(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn host_names_must_resolve_to_allowed_addresses() {
        assert_eq!(check_resolved("http://localhost:9/x").await, Ok(()));
        assert_eq!(check_resolved("http://127.0.0.1:9/x").await, Ok(()));
        assert_eq!(check_resolved("https://example.invalid/x").await, Ok(()));
        assert!(check_resolved("http://example.invalid/x").await.is_err());
    }

    #[tokio::test]
    async fn a_relative_uri_wins_and_a_bad_full_uri_is_refused_without_a_connection() {
        let env = |pairs: &[(&str, &str)]| {
            Env(pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect())
        };
        let c = Container::from_env(&env(&[
            (RELATIVE_URI_VAR, "/v2/credentials/abc"),
            (FULL_URI_VAR, "http://127.0.0.1:1/x"),
        ]));
        assert!(
            matches!(&c.target, Target::Url(u) if u == "http://169.254.170.2/v2/credentials/abc")
        );
        let c = Container::from_env(&env(&[(FULL_URI_VAR, "http://10.1.1.1/x")]));
        assert!(matches!(c.load().await, Err(SourceError::Failed(m)) if m.contains(FULL_URI_VAR)));
        let c = Container::from_env(&env(&[]));
        assert!(matches!(c.load().await, Err(SourceError::NotAvailable(_))));
    }
}
