//! Loopback endpoints for tests/credential_sources.rs, each written from a vendor's documented
//! protocol: a tiny HTTP/1.1 server that records what it saw, and the EC2 IMDSv2 fake.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use image_triage::config::Env;

/// One request as the endpoint saw it: method, path (with query), lower-cased headers, body.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

type Handler = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

/// A loopback HTTP/1.1 endpoint answering each request with `handler` (one request per
/// connection, `Connection: close`) and recording what it saw.
pub struct Endpoint {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Endpoint {
    pub fn start(handler: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, handler): (_, Arc<Handler>) = (seen.clone(), Arc::new(handler));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, handler) = (log.clone(), handler.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or_default().to_string();
                    let path = parts.next().unwrap_or_default().to_string();
                    let mut headers = BTreeMap::new();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                        }
                    }
                    let len = headers
                        .get("content-length")
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0usize);
                    let mut body = vec![0; len];
                    let _ = reader.read_exact(&mut body);
                    let req = Seen {
                        method,
                        path,
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    let (status, reply) = handler(&req);
                    log.lock().unwrap().push(req);
                    let mut out = stream;
                    let _ = write!(
                        out,
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                });
            }
        });
        Endpoint { port, seen }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

pub fn env(pairs: &[(&str, &str)]) -> Env {
    Env(pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

pub fn in_an_hour() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub fn aws_json(key: &str, expiration: &str) -> String {
    serde_json::json!({
        "Code": "Success", "LastUpdated": "2026-12-02T12:00:00Z", "Type": "AWS-HMAC",
        "AccessKeyId": key, "SecretAccessKey": format!("secret-of-{key}"),
        "Token": format!("token-of-{key}"), "Expiration": expiration,
    })
    .to_string()
}

/// IMDSv2 as the EC2 user guide describes it: `PUT /latest/api/token` with a TTL of 1-21600
/// seconds gives a token; every GET must carry it in `X-aws-ec2-metadata-token` (401 otherwise).
pub fn fake_imds(role: &'static str, key: &'static str) -> Endpoint {
    const TOKEN: &str = "AQAEAimdsv2-session-token==";
    Endpoint::start(move |r| {
        if r.method == "PUT" && r.path == "/latest/api/token" {
            let ttl = r.headers.get("x-aws-ec2-metadata-token-ttl-seconds");
            return match ttl.and_then(|t| t.parse::<u32>().ok()) {
                Some(1..=21600) => (200, TOKEN.into()),
                _ => (400, String::new()),
            };
        }
        if r.headers
            .get("x-aws-ec2-metadata-token")
            .map(String::as_str)
            != Some(TOKEN)
        {
            return (401, String::new());
        }
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/latest/meta-data/iam/security-credentials/") => (200, role.into()),
            ("GET", p) if p == format!("/latest/meta-data/iam/security-credentials/{role}") => {
                (200, aws_json(key, &in_an_hour()))
            }
            _ => (404, String::new()),
        }
    })
}
