//! A Tencent Cloud emulator for the tests: COS (objects, metadata, tags, ACL), CI (detect-label,
//! sensitive-content-recognition), IMS, TIIA, TDMQ and the legacy image service's imagetag
//! (`emu_legacy.rs`) on one 127.0.0.1 port. It routes by the `Host` header, exactly as production
//! hosts differ, and verifies every request's signature and temporary-credential token with
//! `tests/vendor_sign` (written from Tencent's documentation and pinned to its published and
//! SDK-generated vectors, independent of the crate's signers), so a request that Tencent would
//! refuse is refused here. Faults (HTTP statuses, vendor error bodies, delays) can be queued per
//! operation.
#![allow(dead_code)]

#[path = "emu_api.rs"]
mod api;
#[path = "emu_attrs.rs"]
mod attrs;
#[path = "emu_cos.rs"]
mod cos;
#[path = "emu_legacy.rs"]
mod legacy;
#[cfg(test)]
#[path = "emu_selftest.rs"]
mod selftest;
#[path = "emu_text.rs"]
pub mod text;
#[path = "../vendor_sign/mod.rs"]
// Also loaded by the other emulator when a test binary uses both.
#[allow(clippy::duplicate_mod)]
mod vendor_sign;

pub use api::cos_event;
use api::serve_api;
#[allow(unused_imports)] // for the tests that use the emulator
pub use attrs::{ALL_USERS, OWNER};
use cos::serve_cos;
use legacy::serve_legacy;
#[allow(unused_imports)] // for the tests that use the emulator
pub use legacy::{legacy_error, DEFAULT_TAGS, IMAGETAG_PATH, LEGACY_HOST, MAX_BASE64};

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

pub const SECRET_ID: &str = "AKIDemulatorEXAMPLE";
pub const SECRET_KEY: &str = "emulator-secret-key-EXAMPLE";
pub const TOKEN: &str = "emulator-session-token";
pub const REGION: &str = "ap-guangzhou";

#[derive(Debug, Clone, Default)]
pub struct Object {
    pub body: Vec<u8>,
    pub content_type: String,
    /// `x-cos-meta-*` without the prefix; values byte for byte as sent (raw UTF-8 included).
    pub meta: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    /// The canned ACL (`private`, `public-read`); `None` is COS's `default`: the bucket's ACL
    /// applies (see [`Emulator::effective_acl`]).
    pub acl: Option<String>,
    /// Grants besides the canned ACL, `(permission, grantee)`: `READ`, `READ_ACP`,
    /// `WRITE_ACP` or `FULL_CONTROL`; the grantee a CAM ID `qcs::cam::uin/<uin>:uin/<uin>` or a
    /// group URI such as [`ALL_USERS`].
    pub grants: Vec<(String, String)>,
    pub etag: String,
    /// Cache-Control, Content-Disposition, Content-Encoding, Expires, and x-cos-storage-class
    /// when it is not STANDARD (absent = STANDARD; see [`Object::storage_class`]).
    pub headers: BTreeMap<String, String>,
    /// `x-cos-server-side-encryption`: `AES256` (SSE-COS) or `cos/kms` (SSE-KMS); `None`: not
    /// encrypted.
    pub sse: Option<String>,
    /// `x-cos-server-side-encryption-cos-kms-key-id` of an SSE-KMS object, when one was named.
    pub sse_kms_key_id: Option<String>,
}

impl Object {
    /// The object's storage class (`STANDARD` unless another was set).
    pub fn storage_class(&self) -> &str {
        self.headers
            .get(STORAGE_CLASS)
            .map_or("STANDARD", String::as_str)
    }
}

/// Standard headers COS keeps with an object besides Content-Type (PUT Object; PUT Object -
/// Copy "目标对象元数据相关头部"); a Replaced copy takes them from the request.
const STORED_HEADERS: [&str; 4] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "expires",
];

/// Kept in [`Object::headers`]; not metadata: a copy takes it from the request, whatever the
/// directive.
const STORAGE_CLASS: &str = "x-cos-storage-class";

/// A queued misbehaviour for the next matching request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, content type and body.
    Reply(u16, &'static str, String),
    /// A Tencent API 3.0 error envelope (HTTP 200) with this code.
    ApiError(&'static str),
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// A legacy image-service error (imagetag): HTTP 200 `{"code": N, "message": …}`.
    LegacyError(i64),
}

/// One request as received, for assertions.
#[derive(Debug, Clone)]
pub struct Logged {
    pub op: String,
    /// `GET`, `PUT`, …: `cos:acl` and `cos:tagging` name both the read and the write.
    pub method: String,
    pub host: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

#[derive(Default)]
pub struct Inner {
    pub objects: BTreeMap<(String, String), Object>,
    pub faults: HashMap<String, VecDeque<Fault>>,
    pub log: Vec<Logged>,
    /// `(event name, bucket, key)` for every object written: what COS would notify.
    pub events: Vec<(String, String, String)>,
    /// `(queue name, message)` received by SendCmqMsg.
    pub messages: Vec<(String, String)>,
    /// IMS answer per object key: (Suggestion, Label, Score).
    pub moderation: HashMap<String, (&'static str, &'static str, u32)>,
    /// Bodies of API calls, per action.
    pub api_bodies: Vec<(String, Value)>,
    pub require_token: bool,
    /// Object bytes each API service (`ims`, `tiia`) fetched through a presigned COS URL.
    pub url_served: HashMap<String, u64>,
    /// Bucket ACLs set by [`Emulator::set_bucket_acl`]; a bucket not named here is `private`.
    pub bucket_acls: HashMap<String, String>,
    /// imagetag answers for URL requests, per object key ([`Emulator::tag_as`]).
    pub imagetag_tags: HashMap<String, Vec<(String, i64)>>,
    /// imagetag answer for inline images ([`Emulator::tag_inline_as`]).
    pub imagetag_inline: Option<Vec<(String, i64)>>,
    /// Object keys imagetag refuses with -5062 ([`Emulator::mark_bad`]).
    pub imagetag_bad: HashSet<String>,
}

#[derive(Clone)]
pub struct Emulator {
    pub addr: SocketAddr,
    pub inner: Arc<Mutex<Inner>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

pub fn cos_host(bucket: &str) -> String {
    format!("{bucket}.cos.{REGION}.myqcloud.com")
}

impl Emulator {
    pub async fn start() -> Emulator {
        let inner = Arc::new(Mutex::new(Inner {
            require_token: true,
            ..Inner::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Emulator {
            addr,
            inner,
            task: Arc::new(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Variables that point every Tencent service at the emulator, with temporary credentials.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = ["COS", "CI", "IMS", "TIIA", "TDMQ", "IMAGETAG"]
            .iter()
            .map(|s| (format!("TRIAGE_{s}_ENDPOINT"), self.url()))
            .collect();
        for (k, val) in [
            ("TENCENTCLOUD_SECRETID", SECRET_ID),
            ("TENCENTCLOUD_SECRETKEY", SECRET_KEY),
            ("TENCENTCLOUD_SESSIONTOKEN", TOKEN),
            ("TENCENTCLOUD_REGION", REGION),
        ] {
            v.push((k.into(), val.into()));
        }
        v
    }

    pub fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) {
        let mut i = self.inner.lock().unwrap();
        let etag = format!("{:x}", md5_like(&body));
        i.objects.insert(
            (bucket.into(), key.into()),
            Object {
                body,
                content_type: content_type.into(),
                etag,
                ..Object::default()
            },
        );
    }

    /// Change a stored object in place (its user metadata, headers, tags).
    pub fn edit(&self, bucket: &str, key: &str, f: impl FnOnce(&mut Object)) {
        let mut i = self.inner.lock().unwrap();
        f(i.objects
            .get_mut(&(bucket.to_string(), key.to_string()))
            .expect("object exists"));
    }

    pub fn object(&self, bucket: &str, key: &str) -> Option<Object> {
        self.inner
            .lock()
            .unwrap()
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .cloned()
    }

    /// The object a presigned COS URL (`http(s)://<bucket>.cos.<region>.myqcloud.com/<key>?…`,
    /// the production host) names, after checking its signature as a GET on that host. The URL
    /// is split by hand: an HTTP client or `url::Url` would fold `.`/`..` segments first.
    pub fn fetch_presigned(&self, url: &str) -> Result<Vec<u8>, String> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or("not an http(s) URL")?;
        let (authority, path_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let host = authority.split(':').next().unwrap_or_default();
        let bucket = host
            .strip_suffix(&format!(".cos.{REGION}.myqcloud.com"))
            .ok_or_else(|| format!("{host} is not a COS host of {REGION}"))?;
        let require_token = self.inner.lock().unwrap().require_token;
        verify_cos("GET", host, path, query, &HeaderMap::new(), require_token)?;
        self.object(bucket, &key_of(path))
            .map(|o| o.body)
            .ok_or_else(|| "NoSuchKey".into())
    }

    pub fn inject(&self, op: &str, fault: Fault, times: usize) {
        let mut i = self.inner.lock().unwrap();
        let q = i.faults.entry(op.to_string()).or_default();
        for _ in 0..times {
            q.push_back(fault.clone());
        }
    }

    pub fn moderate_as(
        &self,
        key: &str,
        suggestion: &'static str,
        label: &'static str,
        score: u32,
    ) {
        self.inner
            .lock()
            .unwrap()
            .moderation
            .insert(key.into(), (suggestion, label, score));
    }

    pub fn count(&self, op: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|l| l.op == op)
            .count()
    }

    /// Requests of `op` with this HTTP method (`count_method("cos:acl", "PUT")`: PUT Object acl).
    pub fn count_method(&self, op: &str, method: &str) -> usize {
        let i = self.inner.lock().unwrap();
        i.log
            .iter()
            .filter(|l| l.op == op && l.method == method)
            .count()
    }

    pub fn log(&self) -> Vec<Logged> {
        self.inner.lock().unwrap().log.clone()
    }

    pub fn events(&self) -> Vec<(String, String, String)> {
        self.inner.lock().unwrap().events.clone()
    }

    pub fn messages(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().messages.clone()
    }

    /// Object bytes `service` (`ims`, `tiia`, `imagetag`) downloaded through a presigned URL so
    /// far.
    pub fn url_bytes_served(&self, service: &str) -> u64 {
        let i = self.inner.lock().unwrap();
        i.url_served.get(service).copied().unwrap_or(0)
    }
}

/// A stable content hash standing in for COS's MD5 ETag (no md5 crate in the tree).
fn md5_like(b: &[u8]) -> u128 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(b);
    u128::from_be_bytes(d[..16].try_into().unwrap())
}

fn reply(status: u16, content_type: &str, body: impl Into<Body>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}

fn cos_error(status: u16, code: &str, message: &str) -> Response {
    reply(
        status,
        "application/xml",
        format!("<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>{code}</Code><Message>{message}</Message><Resource>r</Resource><RequestId>emu-req</RequestId><TraceId>emu-trace</TraceId></Error>"),
    )
}

fn api_reply(response: Value) -> Response {
    reply(
        200,
        "application/json",
        json!({ "Response": response }).to_string(),
    )
}

fn api_error(code: &str, message: &str) -> Response {
    api_reply(json!({"Error": {"Code": code, "Message": message}, "RequestId": "emu-req"}))
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The object key a request path names: the path as sent, without its one leading `/`,
/// percent-decoded once and nothing else (no dot-segment or slash folding), so `/a/./b`,
/// `/a/../b`, `/a//b` and `/a/.` are four keys, none of them `a/b`.
pub fn key_of(raw_path: &str) -> String {
    decode(raw_path.strip_prefix('/').unwrap_or(raw_path))
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn header_utf8(h: &HeaderMap, name: &str) -> Option<String> {
    String::from_utf8(h.get(name)?.as_bytes().to_vec()).ok()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `(lower-case name, value)` pairs of a request's headers, for the verifiers.
fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Verify a COS signature from the `Authorization` header or, for presigned URLs, the query,
/// and the emulator's stricter rules on top of COS's: `host` is signed, every query parameter
/// is signed (COS would accept a subset; an unsigned parameter here means a client bug), and
/// with temporary credentials a header-signed request signs its token. Returns the params that
/// are not signature fields.
pub fn verify_cos(
    method: &str,
    host: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    require_token: bool,
) -> Result<Vec<(String, String)>, String> {
    let pairs = header_pairs(headers);
    let v = vendor_sign::cos::verify(
        &vendor_sign::cos::Request {
            method,
            host,
            raw_path,
            raw_query,
            headers: &pairs,
        },
        &vendor_sign::cos::Creds {
            secret_id: SECRET_ID,
            secret_key: SECRET_KEY,
            token: require_token.then_some(TOKEN),
        },
        chrono::Utc::now().timestamp(),
    )?;
    if !v.header_list.iter().any(|h| h == "host") {
        return Err("host is not signed".into());
    }
    if require_token && !v.presigned && !v.header_list.iter().any(|h| h == "x-cos-security-token") {
        return Err("x-cos-security-token is not signed".into());
    }
    if !v.unsigned_params.is_empty() {
        return Err(format!(
            "unsigned query parameters: {:?} (signed {:?})",
            v.unsigned_params, v.param_list
        ));
    }
    Ok(v.params
        .into_iter()
        .filter(|(k, _)| !(v.presigned && k == "x-cos-security-token"))
        .collect())
}

/// Verify a TC3 request and the headers API 3.0 requires; returns the service name.
fn verify_tc3(
    method: &str,
    host: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    require_token: bool,
) -> Result<String, String> {
    let pairs = header_pairs(headers);
    let service = vendor_sign::tc3::verify(
        &vendor_sign::tc3::Request {
            method,
            host,
            raw_query,
            headers: &pairs,
            body,
        },
        SECRET_ID,
        SECRET_KEY,
        chrono::Utc::now().timestamp(),
    )?;
    if require_token && header(headers, "x-tc-token") != Some(TOKEN) {
        return Err("AuthFailure.TokenFailure: missing or wrong X-TC-Token".into());
    }
    for h in ["x-tc-version", "x-tc-action", "x-tc-region"] {
        if header(headers, h).is_none() {
            return Err(format!("MissingParameter: {h}"));
        }
    }
    Ok(service)
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let method = req.method().clone();
    let headers = req.headers().clone();
    let host = header(&headers, "host").unwrap_or_default().to_string();
    let raw_path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or_default().to_string();
    let body = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .unwrap_or_default();
    let query = parse_query(&raw_query);
    let op = op_name(&method, &host, &raw_path, &query, &headers);
    // Logged on arrival: a client that times out drops the connection and this handler with it.
    let (fault, index) = {
        let mut st = inner.lock().unwrap();
        st.log.push(Logged {
            op: op.clone(),
            method: method.to_string(),
            host: host.clone(),
            path: raw_path.clone(),
            query: raw_query.clone(),
            status: 0,
        });
        let index = st.log.len() - 1;
        (st.faults.get_mut(&op).and_then(|q| q.pop_front()), index)
    };
    let resp = match fault {
        Some(Fault::Reply(status, ct, body)) => reply(status, ct, body),
        Some(Fault::ApiError(code)) => api_error(code, "injected by the emulator"),
        Some(Fault::LegacyError(code)) => legacy_error(code, "injected by the emulator"),
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            serve(
                &inner, &method, &host, &raw_path, &raw_query, &headers, &body,
            )
        }
        None => serve(
            &inner, &method, &host, &raw_path, &raw_query, &headers, &body,
        ),
    };
    inner.lock().unwrap().log[index].status = resp.status().as_u16();
    resp
}

/// `cos:HEAD`, `cos:GET`, `cos:PUT`, `cos:copy`, `cos:tagging`, `cos:acl`, `cos:DELETE`,
/// `ci:detect-label`, `ci:sensitive-content-recognition`, `ims`, `tiia`, `tdmq`, `imagetag`
/// (another path on the legacy host: `image:<path>`).
fn op_name(
    method: &Method,
    host: &str,
    raw_path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> String {
    if host == LEGACY_HOST {
        return match raw_path {
            IMAGETAG_PATH => "imagetag".into(),
            _ => format!("image:{raw_path}"),
        };
    }
    if host.ends_with(".tencentcloudapi.com") {
        return host.split('.').next().unwrap_or_default().to_string();
    }
    if let Some((_, p)) = query.iter().find(|(k, _)| k == "ci-process") {
        return format!("ci:{p}");
    }
    for sub in ["tagging", "acl"] {
        if query.iter().any(|(k, _)| k == sub) {
            return format!("cos:{sub}");
        }
    }
    if method == Method::PUT && headers.contains_key("x-cos-copy-source") {
        return "cos:copy".into();
    }
    format!("cos:{method}")
}

fn serve(
    inner: &Mutex<Inner>,
    method: &Method,
    host: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if host == LEGACY_HOST {
        return serve_legacy(inner, method, raw_path, headers, body);
    }
    let require_token = inner.lock().unwrap().require_token;
    if host.ends_with(".tencentcloudapi.com") {
        return match verify_tc3(
            method.as_str(),
            host,
            raw_query,
            headers,
            body,
            require_token,
        ) {
            Err(e) => {
                let (code, msg) = e.split_once(": ").unwrap_or((e.as_str(), ""));
                api_error(code, msg)
            }
            Ok(service) => serve_api(inner, &service, headers, body),
        };
    }
    let Some(bucket) = host
        .strip_suffix(&format!(".cos.{REGION}.myqcloud.com"))
        .map(str::to_string)
    else {
        return cos_error(400, "InvalidURI", &format!("unknown host {host}"));
    };
    let params = match verify_cos(
        method.as_str(),
        host,
        raw_path,
        raw_query,
        headers,
        require_token,
    ) {
        Ok(p) => p,
        Err(e) => return cos_error(403, "SignatureDoesNotMatch", &e),
    };
    let key = key_of(raw_path);
    serve_cos(inner, method, &bucket, &key, &params, headers, body)
}
