//! Who may use the review page. Bound beyond loopback, every request needs the access token
//! (`X-Review-Token` header or `token` query parameter). On loopback no token is needed, but
//! the `Host` header must name the loopback address (a DNS-rebinding page cannot pose as it).
//! Either way a POST must carry the per-process token embedded in the page (`X-Review-Csrf`)
//! and, when the browser sends an `Origin`, come from the page's own origin: another site's
//! form or script cannot decide anything.

use axum::http::{HeaderMap, Method};

#[derive(Debug, Clone)]
pub struct Access {
    /// Required on every request when set.
    pub token: Option<String>,
    /// The per-process token the page sends with each POST.
    pub csrf: String,
    /// `Host` values accepted (empty: any, when a token is required).
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// 401: no or a wrong access token.
    Token,
    /// 403: a `Host` this server does not answer for.
    Host,
    /// 403: a POST without the page's token, or from another origin.
    CrossSite,
}

/// Equal in constant time (tokens).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Access {
    /// The hosts a loopback bind on `port` answers for.
    pub fn loopback_hosts(port: u16) -> Vec<String> {
        ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| format!("{h}:{port}"))
            .collect()
    }

    /// Whether a request may go on; `query_token` is the `token` query parameter.
    pub fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
        query_token: Option<&str>,
    ) -> Result<(), Denied> {
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        let host = header("host").unwrap_or_default();
        if !self.hosts.is_empty() && !self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Err(Denied::Host);
        }
        if let Some(token) = &self.token {
            let given = header("x-review-token").or(query_token).unwrap_or_default();
            if !same(given, token) {
                return Err(Denied::Token);
            }
        }
        if method == Method::POST {
            if !same(header("x-review-csrf").unwrap_or_default(), &self.csrf) {
                return Err(Denied::CrossSite);
            }
            if let Some(origin) = header("origin") {
                let own = ["http://", "https://"]
                    .iter()
                    .any(|s| origin.eq_ignore_ascii_case(&format!("{s}{host}")));
                if !own {
                    return Err(Denied::CrossSite);
                }
            }
        }
        Ok(())
    }
}

/// 32 random bytes as hex, from the OS (a token nobody can guess).
pub fn random_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(hex::encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn loopback_checks_host_and_posts_need_the_page_token() {
        let a = Access {
            token: None,
            csrf: "c".repeat(64),
            hosts: Access::loopback_hosts(8088),
        };
        let ok = headers(&[("host", "127.0.0.1:8088")]);
        assert_eq!(a.check(&Method::GET, &ok, None), Ok(()));
        let rebound = headers(&[("host", "evil.example:8088")]);
        assert_eq!(a.check(&Method::GET, &rebound, None), Err(Denied::Host));
        assert_eq!(a.check(&Method::POST, &ok, None), Err(Denied::CrossSite));
        let csrf = "c".repeat(64);
        let page = headers(&[
            ("host", "localhost:8088"),
            ("x-review-csrf", &csrf),
            ("origin", "http://localhost:8088"),
        ]);
        assert_eq!(a.check(&Method::POST, &page, None), Ok(()));
        let other = headers(&[
            ("host", "localhost:8088"),
            ("x-review-csrf", &csrf),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(a.check(&Method::POST, &other, None), Err(Denied::CrossSite));
    }

    #[test]
    fn beyond_loopback_every_request_needs_the_token() {
        let a = Access {
            token: Some("t".repeat(32)),
            csrf: "c".into(),
            hosts: vec![],
        };
        let h = headers(&[("host", "10.0.0.5:8088")]);
        assert_eq!(a.check(&Method::GET, &h, None), Err(Denied::Token));
        assert_eq!(a.check(&Method::GET, &h, Some("wrong")), Err(Denied::Token));
        assert_eq!(a.check(&Method::GET, &h, Some(&"t".repeat(32))), Ok(()));
        let t = "t".repeat(32);
        let h = headers(&[("host", "10.0.0.5:8088"), ("x-review-token", &t)]);
        assert_eq!(a.check(&Method::GET, &h, None), Ok(()));
        assert_eq!(random_token().unwrap().len(), 64);
    }
}
