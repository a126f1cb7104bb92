//! A loopback Huawei Cloud for tests: OBS, Image Tagging and Content Moderation on their own
//! 127.0.0.1 ports. Every request's signature and security token is verified with
//! `tests/vendor_sign` (written from Huawei's documentation and pinned to its SDK-generated
//! vectors, independent of the crate's signers); objects, metadata, tags and ACLs live in
//! memory; faults (429/5xx bodies, slow answers) can be queued per service. Each call is logged
//! the moment it arrives, before any fault or delay, so retry and timeout tests can count
//! exactly (a client that gave up still left its entry, with status 0).
//!
//! The image port also answers Image Recognition's media tagging, celebrity recognition and
//! main-object detection (`ai_media.rs`, logged, faulted and counted as `media-tagging`,
//! `celebrity`, `main-object`); `apig_client.rs` calls them raw for the emulator's own checks.
#![allow(dead_code)]

mod ai;
pub mod ai_media;
#[cfg(test)]
mod ai_selftest;
pub mod ai_text;
pub mod apig_client;
mod obs;
mod obs_attrs;
#[cfg(test)]
mod obs_selftest;
#[path = "../vendor_sign/mod.rs"]
// Also loaded by the other emulator when a test binary uses both.
#[allow(clippy::duplicate_mod)]
mod vendor_sign;

use ai::{image, moderation};
#[allow(unused_imports)] // for the tests that use the emulator
pub use ai_media::{MainObject, MediaTag};
pub use obs::fetch_signed_url;
#[allow(unused_imports)] // for the tests that use the emulator
pub use obs::key_of;
use obs::obs;
#[allow(unused_imports)]
pub use obs_attrs::{EVERYONE, OWNER_ID};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, Uri};
use axum::Router;
use base64::Engine;
use percent_encoding::percent_decode_str;

/// A shipped event fixture (`events/<name>`).
pub fn event_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Bucket and key an OBS event names, through the crate's own event parser.
pub fn target(body: &[u8]) -> (String, String) {
    use image_triage::events::{parse_event, EventRecord};
    let recs = parse_event(body, Some(image_triage::object::Provider::Obs)).unwrap();
    match &recs[0] {
        EventRecord::Process(o) => {
            assert_eq!(o.provider, image_triage::object::Provider::Obs);
            (o.bucket.clone(), o.key.clone())
        }
        other => panic!("not a processable record: {other:?}"),
    }
}

pub const AK: &str = "EMUAK000000000000000";
pub const SK: &str = "emuSecretKey000000000000000000000000000";
pub const PROJECT: &str = "0123456789abcdef0123456789abcdef";
pub const REGION: &str = "cn-north-4";

#[derive(Debug, Clone, Default)]
pub struct Obj {
    pub body: Vec<u8>,
    pub content_type: String,
    /// `x-obs-meta-*` without the prefix; values byte for byte as sent.
    pub meta: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    /// The canned ACL: `private`, `public-read` or `public-read-write`.
    pub acl: String,
    /// Grants besides the canned ACL, `(permission, grantee)`: `READ`, `READ_ACP`, `WRITE_ACP`
    /// or `FULL_CONTROL` to a domain ID or [`EVERYONE`].
    pub grants: Vec<(String, String)>,
    pub etag: String,
    /// Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires,
    /// x-obs-website-redirect-location, and x-obs-storage-class when it is not STANDARD (see
    /// [`Obj::storage_class`]).
    pub headers: BTreeMap<String, String>,
    /// `x-obs-server-side-encryption`: `kms` or `AES256`; `None`: not encrypted.
    pub sse: Option<String>,
    /// `x-obs-server-side-encryption-kms-key-id` of an SSE-KMS object, when one was named.
    pub sse_kms_key_id: Option<String>,
}

impl Obj {
    /// The object's storage class (`STANDARD` unless another was set).
    pub fn storage_class(&self) -> &str {
        self.headers
            .get(obs_attrs::STORAGE_CLASS)
            .map_or("STANDARD", String::as_str)
    }
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and JSON/XML body instead of doing the work.
    Status(u16, String),
    /// Wait this long before answering normally (client timeouts).
    Delay(Duration),
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub service: &'static str,
    pub method: String,
    pub path: String,
    pub query: String,
    /// 0 until the emulator answered (it stays 0 when the client hung up first).
    pub status: u16,
}

#[derive(Default)]
pub struct Inner {
    pub token: Option<String>,
    pub objects: HashMap<(String, String), Obj>,
    pub faults: HashMap<&'static str, VecDeque<Fault>>,
    pub log: Vec<Logged>,
    /// Bytes of object content sent by OBS GETs.
    pub bytes_served: u64,
    /// Object bytes each AI service (`image`, `moderation`, `media-tagging`, `celebrity`,
    /// `main-object`) downloaded through a signed OBS URL.
    pub url_served: HashMap<&'static str, u64>,
    /// Media tags, celebrities and main objects set per object key (`ai_media.rs`).
    pub image_answers: ai_media::Configured,
    /// `ObjectCreated:Copy` events a real OBS would have fired.
    pub copy_events: u32,
    /// Answer `PUT ?metadata` with 405 (servers without SetObjectMetadata).
    pub no_set_metadata: bool,
    /// `PUT ?metadata` with REPLACE_NEW merges `x-obs-meta-*` into the object's instead of
    /// replacing the set (the API reference says "Custom metadata is replaced"; see
    /// `obs_attrs::set_metadata`).
    pub replace_new_merges_meta: bool,
    /// `(event name, bucket, key)` OBS would notify: `ObjectCreated:Put` and
    /// `ObjectCreated:Copy` for requests (objects seeded with [`Emu::put`] fire none).
    pub events: Vec<(String, String, String)>,
}

#[derive(Clone, Default)]
pub struct Emu(pub Arc<Mutex<Inner>>);

pub struct Running {
    pub emu: Emu,
    pub obs: String,
    pub image: String,
    pub moderation: String,
}

impl Running {
    /// Variables that point the function at the emulator (plus credentials).
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("TRIAGE_OBS_ENDPOINT", self.obs.clone()),
            ("TRIAGE_HUAWEI_IMAGE_ENDPOINT", self.image.clone()),
            ("TRIAGE_HUAWEI_MODERATION_ENDPOINT", self.moderation.clone()),
            ("TRIAGE_HUAWEI_REGION", REGION.into()),
            ("HUAWEICLOUD_SDK_AK", AK.into()),
            ("HUAWEICLOUD_SDK_SK", SK.into()),
            ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT.into()),
            ("TRIAGE_LABELER", "huawei".into()),
            ("TRIAGE_MODERATOR", "huawei".into()),
        ];
        if let Some(t) = self.emu.0.lock().unwrap().token.clone() {
            v.push(("HUAWEICLOUD_SDK_SECURITY_TOKEN", t));
        }
        v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

async fn serve(emu: Emu, router: Router<Emu>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router.with_state(emu);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Start the three services. `token`: the security token every request must carry.
pub async fn start(token: Option<&str>) -> Running {
    let emu = Emu::default();
    emu.0.lock().unwrap().token = token.map(str::to_string);
    Running {
        obs: serve(emu.clone(), Router::new().fallback(obs)).await,
        image: serve(emu.clone(), Router::new().fallback(image)).await,
        moderation: serve(emu.clone(), Router::new().fallback(moderation)).await,
        emu,
    }
}

impl Emu {
    pub fn put(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) {
        let etag = hex::encode(md5_of(&body));
        self.0.lock().unwrap().objects.insert(
            (bucket.into(), key.into()),
            Obj {
                body,
                content_type: content_type.into(),
                etag,
                acl: "public-read".into(),
                ..Obj::default()
            },
        );
    }
    pub fn get(&self, bucket: &str, key: &str) -> Option<Obj> {
        self.0
            .lock()
            .unwrap()
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .cloned()
    }
    pub fn fault(&self, service: &'static str, f: Fault) {
        self.0
            .lock()
            .unwrap()
            .faults
            .entry(service)
            .or_default()
            .push_back(f);
    }
    pub fn calls(&self, service: &str, method: &str, query_has: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|l| l.service == service && l.method == method && l.query.contains(query_has))
            .count()
    }
    /// Object bytes `service` (`image`, `moderation`, `media-tagging`, `celebrity`,
    /// `main-object`) downloaded through a signed URL so far.
    pub fn url_bytes_served(&self, service: &str) -> u64 {
        let g = self.0.lock().unwrap();
        g.url_served.get(service).copied().unwrap_or(0)
    }
    fn take_fault(&self, service: &'static str) -> Option<Fault> {
        self.0
            .lock()
            .unwrap()
            .faults
            .get_mut(service)
            .and_then(VecDeque::pop_front)
    }
    /// Log a call as it arrives (status 0); returns its index for [`Emu::answered`].
    fn arrived(&self, service: &'static str, method: &Method, uri: &Uri) -> usize {
        let mut g = self.0.lock().unwrap();
        g.log.push(Logged {
            service,
            method: method.to_string(),
            path: uri.path().into(),
            query: uri.query().unwrap_or("").into(),
            status: 0,
        });
        g.log.len() - 1
    }
    fn answered(&self, index: usize, status: u16) {
        self.0.lock().unwrap().log[index].status = status;
    }
}

pub(crate) fn md5_of(b: &[u8]) -> Vec<u8> {
    use md5::Digest;
    md5::Md5::digest(b).to_vec()
}

/// `Content-MD5` of a body: Base64 of its MD5 (RFC 1864).
pub(crate) fn content_md5(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5_of(b))
}

/// `(lower-case name, value)` pairs of a request's headers, for the verifiers.
pub(crate) fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

pub(crate) fn header<'a>(h: &'a HeaderMap, n: &str) -> &'a str {
    h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("")
}

pub(crate) fn query_pairs(q: &str) -> Vec<(String, Option<String>)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            match p.split_once('=') {
                Some((k, v)) => (dec(k), Some(dec(v))),
                None => (dec(p), None),
            }
        })
        .collect()
}
