//! A raw HTTP/1.1 caller for the emulated AI services, for the emulator's own checks: requests
//! signed `SDK-HMAC-SHA256` with `tests/vendor_sign/apig.rs` (never the crate's signer), the
//! `Host` header exactly as given, and OBS signed URLs made by `tests/vendor_sign/obs.rs`.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// The production host of Image Recognition in `region`.
pub fn image_host(region: &str) -> String {
    format!("image.{region}.myhuaweicloud.com")
}

/// A GET URL for `bucket`/`key` signed with the emulator's credentials (and its security token,
/// if it has one), valid for five minutes: what a caller hands the AI services as `url`.
pub fn signed_obs_url(emu: &Emu, bucket: &str, key: &str) -> String {
    let path = format!("/{}", vendor_sign::pct_encode(key, b"-_.~/"));
    let expires = chrono::Utc::now().timestamp() + 300;
    let token = emu.0.lock().unwrap().token.clone();
    let mut query: Vec<(String, Option<String>)> = vec![];
    if let Some(t) = &token {
        query.push(("x-obs-security-token".into(), Some(t.clone())));
    }
    let resource = vendor_sign::obs::canonical_resource(bucket, &path, &query);
    let sts = vendor_sign::obs::string_to_sign("GET", "", "", &expires.to_string(), &[], &resource);
    let sig = vendor_sign::pct_encode(&vendor_sign::obs::signature(SK, &sts), b"");
    let mut url = format!("https://{bucket}.obs.{REGION}.myhuaweicloud.com{path}?");
    if let Some(t) = token {
        url.push_str(&format!(
            "x-obs-security-token={}&",
            vendor_sign::pct_encode(&t, vendor_sign::UNRESERVED)
        ));
    }
    url.push_str(&format!(
        "Expires={expires}&AccessKeyId={AK}&Signature={sig}"
    ));
    url
}

/// `POST path` with a JSON `body` to the emulator's image port as `host`, signed with secret key
/// `sk` (use [`SK`]; anything else is a bad signature). Status and body (JSON, or the raw text
/// as a JSON string when it is not JSON).
pub async fn apig_post(
    run: &Running,
    host: &str,
    path: &str,
    body: &Value,
    sk: &str,
) -> (u16, Value) {
    let body = serde_json::to_vec(body).unwrap();
    let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut signed: Vec<(String, String)> = vec![
        (
            "content-type".into(),
            "application/json;charset=UTF-8".into(),
        ),
        ("host".into(), host.into()),
        ("x-project-id".into(), PROJECT.into()),
        ("x-sdk-date".into(), date.clone()),
    ];
    if let Some(t) = run.emu.0.lock().unwrap().token.clone() {
        signed.push(("x-security-token".into(), t));
    }
    let (raw_path, raw_query) = path.split_once('?').unwrap_or((path, ""));
    let cr = vendor_sign::apig::canonical_request("POST", raw_path, raw_query, &signed, &body);
    let sig = vendor_sign::apig::signature(sk, &vendor_sign::apig::string_to_sign(&date, &cr));
    let names: Vec<&str> = signed.iter().map(|(n, _)| n.as_str()).collect();
    let mut req = format!("POST {path} HTTP/1.1\r\n");
    for (n, v) in &signed {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!(
        "authorization: {} Access={AK}, SignedHeaders={}, Signature={sig}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        vendor_sign::apig::ALGORITHM,
        names.join(";"),
        body.len()
    ));
    let mut req = req.into_bytes();
    req.extend_from_slice(&body);
    let addr = run.image.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&req).await.unwrap();
    let mut raw = vec![];
    s.read_to_end(&mut raw).await.unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut payload = raw[end + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        payload = dechunk(&payload);
    }
    let v = serde_json::from_slice(&payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&payload).into_owned()));
    (status, v)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&b[..i]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[i + 4 + size..];
    }
    out
}
