//! Requests whose path goes out byte for byte as given, for the object stores.
//!
//! Object keys may hold `.` and `..` segments (`uploads/./x.jpg`), `//` or a trailing `/.`; S3,
//! COS and OBS keep them as part of the key. A URL parser that follows the WHATWG rules (the
//! `url` crate, and so reqwest) removes such segments, even percent-encoded, so the request
//! would name another object than the one its signature covers. Here the request target is an
//! `http::Uri`, which keeps the path exactly, and hyper sends it as is. Redirects are never
//! followed: a signed request goes to the host it was signed for, or nowhere.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::Method;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// An answer: status, headers and the whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// No answer arrived: the request could not be built, sent, or its reply read. The message
/// names no URL (URLs here may carry signatures).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

type Https = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

fn client() -> &'static Https {
    static CLIENT: OnceLock<Https> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        // The ring provider supports the default versions; failing here is a broken build.
        .expect("rustls (ring) supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(50))
            .build(https)
    })
}

/// Send `method` to `base` (scheme, authority and an optional path prefix; see
/// [`super::origin`]) + `path_and_query` (already percent-encoded, sent unchanged) with these
/// headers and body. Timeouts are the caller's (`Service::call` bounds every attempt).
pub async fn send(
    method: &Method,
    base: &url::Url,
    path_and_query: &str,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<Reply, TransportError> {
    let uri = super::origin::request_uri(base, path_and_query).map_err(TransportError)?;
    let mut req = hyper::Request::builder().method(method.clone()).uri(uri);
    let mut has_agent = false;
    // hyper sends no Content-Length for an empty body, and S3 and COS refuse a PUT without one
    // (411 MissingContentLength): every request that may carry a body states its length.
    if !matches!(*method, Method::GET | Method::HEAD | Method::DELETE)
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        req = req.header(hyper::header::CONTENT_LENGTH, body.len());
    }
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| TransportError(format!("invalid header name {k:?}")))?;
        let value = HeaderValue::from_bytes(v.as_bytes())
            .map_err(|_| TransportError(format!("header {k} has a value HTTP cannot carry")))?;
        has_agent |= name == hyper::header::USER_AGENT;
        req = req.header(name, value);
    }
    if !has_agent {
        req = req.header(hyper::header::USER_AGENT, USER_AGENT);
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| TransportError(format!("invalid request: {e}")))?;
    let resp = client()
        .request(req)
        .await
        .map_err(|e| TransportError(describe(&e)))?;
    let status = resp.status().as_u16();
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| TransportError(format!("reading the reply failed: {e}")))?
        .to_bytes();
    Ok(Reply {
        status,
        headers: parts.headers,
        body,
    })
}

const USER_AGENT: &str = concat!("image-triage/", env!("CARGO_PKG_VERSION"));

/// The error and its causes (hyper-util's own message is only "client error (Connect)").
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dot_segments_reach_the_server_unchanged() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            s.write_all(
                b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:9/\r\ncontent-length: 0\r\n\r\n",
            )
            .await
            .unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        let r = send(
            &Method::GET,
            &crate::client::origin::with_scheme("http", &addr.to_string()).unwrap(),
            "/b/uploads/./x/../y//z/.?acl",
            &[("host".into(), "b.example.com".into())],
            Bytes::new(),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 302, "redirects are answers, not followed");
        let head = server.await.unwrap();
        assert!(
            head.starts_with("GET /b/uploads/./x/../y//z/.?acl HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("host: b.example.com\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn an_empty_put_states_its_length() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase()
        });
        send(
            &Method::PUT,
            &crate::client::origin::with_scheme("http", &addr.to_string()).unwrap(),
            "/b/k",
            &[],
            Bytes::new(),
        )
        .await
        .unwrap();
        let head = server.await.unwrap();
        assert!(head.contains("content-length: 0\r\n"), "{head}");
    }
}
