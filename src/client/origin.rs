//! Where a request goes, built with the `url` crate rather than by pasting strings: a host name
//! that came from an event (a bucket, a COS appid) or a vendor answer (a bucket's region) can
//! only ever fill the host part. Anything that would change the authority — `user@`, `:port`,
//! `/path`, `#`, `?`, a space — is refused here, on top of each cloud's naming rules, so no
//! event can point a signed request at another host.

use url::Url;

/// A host that does not fit a URL's host part unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host:?} is not a host name a request can be sent to")]
pub struct InvalidHost {
    pub host: String,
}

/// `https://<host>/`.
pub fn https(host: &str) -> Result<Url, InvalidHost> {
    with_scheme("https", host)
}

/// `<scheme>://<authority>/` for `http` or `https`; `authority` is a host with an optional
/// `:port` (as an endpoint override gives it).
pub fn with_scheme(scheme: &str, authority: &str) -> Result<Url, InvalidHost> {
    let bad = || InvalidHost {
        host: authority.to_string(),
    };
    let mut url = match scheme {
        "http" => Url::parse("http://host.invalid/"),
        "https" => Url::parse("https://host.invalid/"),
        _ => return Err(bad()),
    }
    .map_err(|_| bad())?;
    let (host, port) = split_port(authority).ok_or_else(bad)?;
    url.set_host(Some(host)).map_err(|_| bad())?;
    url.set_port(port).map_err(|_| bad())?;
    // The parser normalises (case, IDNA, IPv4 forms): a host it had to change is not the
    // one that was checked, so it is not used.
    let same_port = port.is_none() || url.port_or_known_default() == port;
    if url.host_str() != Some(host) || !same_port {
        return Err(bad());
    }
    Ok(url)
}

/// `endpoint` (a configured override, checked at start) with its host replaced by `host`, for
/// virtual-host addressing behind an override.
pub fn with_host(endpoint: &Url, host: &str) -> Result<Url, InvalidHost> {
    let bad = || InvalidHost {
        host: host.to_string(),
    };
    let mut url = endpoint.clone();
    url.set_host(Some(host)).map_err(|_| bad())?;
    if url.host_str() != Some(host) {
        return Err(bad());
    }
    Ok(url)
}

/// `host[:port]` → host and port; `None` when the part after `:` is not a port number.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    // An IPv6 literal holds colons of its own: `[::1]:9000`.
    let after_bracket = authority.rfind(']').map_or(0, |i| i + 1);
    match authority[after_bracket..].rfind(':') {
        Some(i) => {
            let at = after_bracket + i;
            let port = authority[at + 1..].parse().ok()?;
            Some((&authority[..at], Some(port)))
        }
        None => Some((authority, None)),
    }
}

/// The request target for hyper: `base`'s scheme and authority, its path (an endpoint may
/// carry a prefix) and `path_and_query`, which is already percent-encoded and goes out byte
/// for byte — `url` would resolve `.`/`..` segments in object keys (see client::exact).
pub fn request_uri(base: &Url, path_and_query: &str) -> Result<hyper::Uri, String> {
    let prefix = base.path().trim_end_matches('/');
    hyper::Uri::builder()
        .scheme(base.scheme())
        .authority(base.authority())
        .path_and_query(format!("{prefix}{path_and_query}"))
        .build()
        .map_err(|e| format!("invalid request target: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_fill_only_the_host_part() {
        let u = https("photos-1250000000.cos.ap-guangzhou.myqcloud.com").unwrap();
        assert_eq!(
            u.as_str(),
            "https://photos-1250000000.cos.ap-guangzhou.myqcloud.com/"
        );
        for smuggled in [
            "1@127.0.0.1:9000/",
            "x@127.0.0.1",
            "b.cos.r.myqcloud.com#",
            "b.cos.r.myqcloud.com/evil",
            "b.cos.r.myqcloud.com?x",
            "a b",
            "",
            "B.example.com",
            "b.example.com:99999",
            "b.example.com:x",
        ] {
            assert!(https(smuggled).is_err(), "{smuggled}");
        }
    }

    #[test]
    fn endpoints_keep_scheme_port_and_prefix() {
        let u = with_scheme("http", "127.0.0.1:9000").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:9000/");
        assert_eq!(
            with_scheme("http", "[::1]:9000").unwrap().as_str(),
            "http://[::1]:9000/"
        );
        assert!(with_scheme("ftp", "h").is_err());
        let endpoint = Url::parse("http://127.0.0.1:9000/prefix/").unwrap();
        let v = with_host(&endpoint, "bucket.localhost").unwrap();
        assert_eq!(v.as_str(), "http://bucket.localhost:9000/prefix/");
        assert!(with_host(&endpoint, "b@evil").is_err());
        let uri = request_uri(&endpoint, "/k/./../x?acl").unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:9000/prefix/k/./../x?acl");
        let uri = request_uri(&https("h.example.com").unwrap(), "/a%20b").unwrap();
        assert_eq!(uri.to_string(), "https://h.example.com/a%20b");
    }
}
