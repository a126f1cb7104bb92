//! One backend under test: its store, built through the public entry point
//! (`store::for_provider` with a `Config` from variables, as the function builds it), plus its
//! counterpart (the directory, moto, or an emulator) to read raw state through.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use image_triage::config::Config;
use image_triage::store::{self, ObjectStore, StoreError};
use image_triage::Provider;

use crate::common::moto::Moto;
use crate::emulator::{cos_host, Emulator};
use crate::huawei;

pub enum Counterpart {
    /// The embedded bucket's root directory.
    Local(tempfile::TempDir),
    S3 {
        /// SigV4 enforced: every check runs here.
        moto: Moto,
        /// No signature checks: serves presigned GETs (see `Moto::start_unenforced`).
        open: Moto,
        open_store: Arc<dyn ObjectStore>,
    },
    Cos(Emulator),
    Obs(huawei::Running),
}

pub struct Harness {
    pub store: Arc<dyn ObjectStore>,
    pub bucket: String,
    pub counterpart: Counterpart,
}

/// See [`Harness::atomic_put_if`].
#[derive(Debug, Clone, Copy)]
pub struct AtomicPutIf {
    pub absent: bool,
    pub matches: bool,
}

fn config(vars: Vec<(String, String)>) -> Config {
    Config::from_vars(vars).expect("valid test config")
}

/// A Python string literal (JSON's is one) for a boto3 script.
fn py_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

impl Harness {
    pub async fn local() -> Arc<Harness> {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(vec![
            ("TRIAGE_STORE".into(), "local".into()),
            ("TRIAGE_LOCAL_ROOT".into(), dir.path().display().to_string()),
        ]);
        Arc::new(Harness {
            store: store::for_provider(&cfg, Provider::Local).unwrap(),
            bucket: "conformance".into(),
            counterpart: Counterpart::Local(dir),
        })
    }

    pub async fn s3() -> Arc<Harness> {
        let bucket = "conformance";
        let (moto, open) = tokio::task::spawn_blocking(|| {
            let (moto, open) = (Moto::start(), Moto::start_unenforced());
            for m in [&moto, &open] {
                m.py(&format!("s3.create_bucket(Bucket={})", py_str(bucket)));
            }
            (moto, open)
        })
        .await
        .unwrap();
        let store = store::for_provider(&config(moto.env()), Provider::S3).unwrap();
        let open_store = store::for_provider(&config(open.env()), Provider::S3).unwrap();
        Arc::new(Harness {
            store,
            bucket: bucket.into(),
            counterpart: Counterpart::S3 {
                moto,
                open,
                open_store,
            },
        })
    }

    pub async fn cos() -> Arc<Harness> {
        let emu = Emulator::start().await;
        let store = store::for_provider(&config(emu.env()), Provider::Cos).unwrap();
        Arc::new(Harness {
            store,
            bucket: "conformance-1250000000".into(),
            counterpart: Counterpart::Cos(emu),
        })
    }

    pub async fn obs() -> Arc<Harness> {
        let emu = huawei::start(Some("conformance-security-token")).await;
        let store = store::for_provider(&config(emu.vars()), Provider::Obs).unwrap();
        Arc::new(Harness {
            store,
            bucket: "conformance".into(),
            counterpart: Counterpart::Obs(emu),
        })
    }

    pub fn is_local(&self) -> bool {
        matches!(self.counterpart, Counterpart::Local(_))
    }

    fn local_attrs_path(&self, key: &str) -> std::path::PathBuf {
        let Counterpart::Local(dir) = &self.counterpart else {
            unreachable!()
        };
        dir.path()
            .join(".attrs")
            .join(&self.bucket)
            .join(format!("{key}.json"))
    }

    /// A boto3 script against `moto` (blocking: a Python process), its trimmed stdout.
    async fn moto_py(moto: &Moto, script: String) -> String {
        tokio::task::block_in_place(|| moto.py(&script).trim().to_string())
    }

    /// The object's ACL as its counterpart stores it: `private`, `public-read`, or `default`
    /// (none set: the bucket's default applies).
    pub async fn acl(&self, key: &str) -> String {
        let b = self.bucket.as_str();
        match &self.counterpart {
            Counterpart::Local(_) => {
                let raw = std::fs::read(self.local_attrs_path(key)).expect("attributes file");
                let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
                v["acl"].as_str().unwrap_or("default").to_string()
            }
            Counterpart::S3 { moto, .. } => {
                Self::moto_py(
                    moto,
                    format!(
                        "g = s3.get_object_acl(Bucket={}, Key={})['Grants']\n\
                         pub = any(x['Grantee'].get('URI', '').endswith('/AllUsers') and x['Permission'] == 'READ' for x in g)\n\
                         print('public-read' if pub else 'private')",
                        py_str(b),
                        py_str(key)
                    ),
                )
                .await
            }
            Counterpart::Cos(emu) => emu
                .object(b, key)
                .expect("object exists")
                .acl
                .unwrap_or_else(|| "default".into()),
            Counterpart::Obs(emu) => {
                let acl = emu.emu.get(b, key).expect("object exists").acl;
                if acl.is_empty() {
                    "default".into()
                } else {
                    acl
                }
            }
        }
    }

    /// Make the object public-read behind the store's back (as a console or SDK would).
    pub async fn make_public(&self, key: &str) {
        let b = self.bucket.as_str();
        match &self.counterpart {
            Counterpart::Local(_) => {
                let path = self.local_attrs_path(key);
                let mut v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                v["acl"] = "public-read".into();
                std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
            }
            Counterpart::S3 { moto, .. } => {
                Self::moto_py(
                    moto,
                    format!(
                        "s3.put_object_acl(Bucket={}, Key={}, ACL='public-read')",
                        py_str(b),
                        py_str(key)
                    ),
                )
                .await;
            }
            Counterpart::Cos(emu) => emu.edit(b, key, |o| o.acl = Some("public-read".into())),
            Counterpart::Obs(emu) => {
                let mut g = emu.emu.0.lock().unwrap();
                g.objects
                    .get_mut(&(b.to_string(), key.to_string()))
                    .expect("object exists")
                    .acl = "public-read".into();
            }
        }
    }

    /// Run `write` (a store call that reads the object, then writes it) while the counterpart
    /// holds the write request back and replaces the object with `body` under it, as an upload
    /// landing between the store's read and its write would: the race a conditional write's
    /// precondition header must close. `None` where that cannot be staged or proves nothing:
    /// the local directory (no request to hold back; its compare and write share one lock),
    /// and moto, whose CopyObject (5.2.5) evaluates `x-amz-copy-source-if-none-match` but
    /// ignores `x-amz-copy-source-if-match`. On OBS the copy fallback runs: SetObjectMetadata
    /// has no precondition header, so its window is documented, not closed.
    pub async fn replace_during_write(
        &self,
        key: &str,
        body: Vec<u8>,
        write: Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>,
    ) -> Option<Result<(), StoreError>> {
        const HOLD: Duration = Duration::from_millis(500);
        let b = self.bucket.as_str();
        match &self.counterpart {
            Counterpart::Local(_) | Counterpart::S3 { .. } => None,
            Counterpart::Cos(emu) => {
                let before = emu.count("cos:copy");
                emu.inject("cos:copy", crate::emulator::Fault::Delay(HOLD), 1);
                let task = tokio::spawn(write);
                wait_until("the metadata copy", || emu.count("cos:copy") > before).await;
                emu.put_object(b, key, body, "image/png");
                Some(task.await.unwrap())
            }
            Counterpart::Obs(emu) => {
                let e = &emu.emu;
                e.0.lock().unwrap().no_set_metadata = true;
                // HEAD, PUT ?metadata (405 now), GET ?acl, then the copy: hold the fourth.
                for d in [Duration::ZERO, Duration::ZERO, Duration::ZERO, HOLD] {
                    e.fault("obs", huawei::Fault::Delay(d));
                }
                let puts = e.calls("obs", "PUT", "");
                let task = tokio::spawn(write);
                wait_until("the metadata copy", || {
                    e.calls("obs", "PUT", "") >= puts + 2
                })
                .await;
                e.put(b, key, body, "image/png");
                let r = task.await.unwrap();
                e.0.lock().unwrap().no_set_metadata = false;
                Some(r)
            }
        }
    }

    /// Which `put_if` conditions the backend decides in one step with the write, so that of
    /// writers racing on one key only one can succeed: the local store (one lock around the
    /// check and the write, across processes too) and S3 (`If-None-Match`/`If-Match`) both;
    /// COS only `Absent` (`x-cos-forbid-overwrite`; `Matches` is a HEAD, then a PUT); OBS
    /// neither (its PutObject documents no precondition: HEAD, then PUT).
    pub fn atomic_put_if(&self) -> AtomicPutIf {
        let (absent, matches) = match self.counterpart {
            Counterpart::Local(_) | Counterpart::S3 { .. } => (true, true),
            Counterpart::Cos(_) => (true, false),
            Counterpart::Obs(_) => (false, false),
        };
        AtomicPutIf { absent, matches }
    }

    /// Run `write` (a `put_if` with [`PutCondition::Absent`](image_triage::store::PutCondition)
    /// on a key that has no object) while the counterpart holds its PUT back and creates the
    /// key with `body` under it, as an upload landing between the store's HEAD and its PUT
    /// would. `None` where there is no such window to stage: the local store (one lock), S3
    /// (the condition travels in the PUT itself; moto cannot hold a request back), and OBS,
    /// whose documented API has no way to close it (see `ObsStore::put_if`).
    pub async fn create_during_put_if(
        &self,
        key: &str,
        body: Vec<u8>,
        write: Pin<Box<dyn Future<Output = Result<String, StoreError>> + Send>>,
    ) -> Option<Result<String, StoreError>> {
        let Counterpart::Cos(emu) = &self.counterpart else {
            return None;
        };
        let before = emu.count("cos:PUT");
        emu.inject(
            "cos:PUT",
            crate::emulator::Fault::Delay(Duration::from_millis(500)),
            1,
        );
        let task = tokio::spawn(write);
        wait_until("the conditional PUT", || emu.count("cos:PUT") > before).await;
        emu.put_object(&self.bucket, key, body, "text/plain");
        Some(task.await.unwrap())
    }

    /// Every key under `prefix` as the counterpart itself holds it (not through the store).
    pub async fn stored_keys(&self, prefix: &str) -> Vec<String> {
        let b = self.bucket.as_str();
        match &self.counterpart {
            Counterpart::Local(dir) => {
                let root = dir.path().join(b);
                let mut out = vec![];
                let mut stack = vec![root.clone()];
                while let Some(d) = stack.pop() {
                    for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                        let p = e.path();
                        if p.is_dir() {
                            stack.push(p);
                        } else if let Ok(rel) = p.strip_prefix(&root) {
                            out.push(rel.to_string_lossy().replace('\\', "/"));
                        }
                    }
                }
                out.retain(|k| k.starts_with(prefix));
                out
            }
            Counterpart::S3 { moto, .. } => {
                let listed = Self::moto_py(
                    moto,
                    format!(
                        "import json\n\
                         r = s3.list_objects_v2(Bucket={}, Prefix={})\n\
                         print(json.dumps([o['Key'] for o in r.get('Contents', [])]))",
                        py_str(b),
                        py_str(prefix)
                    ),
                )
                .await;
                serde_json::from_str(&listed).expect("moto key list")
            }
            Counterpart::Cos(emu) => emu
                .inner
                .lock()
                .unwrap()
                .objects
                .keys()
                .filter(|(bk, k)| bk == b && k.starts_with(prefix))
                .map(|(_, k)| k.clone())
                .collect(),
            Counterpart::Obs(emu) => emu
                .emu
                .0
                .lock()
                .unwrap()
                .objects
                .keys()
                .filter(|(bk, k)| bk == b && k.starts_with(prefix))
                .map(|(_, k)| k.clone())
                .collect(),
        }
    }

    /// The status of an unauthenticated GET of the object, where the counterpart decides it by
    /// the ACL (moto). The emulators refuse every unsigned request, so there it tells nothing.
    pub async fn anonymous_get_status(&self, key: &str) -> Option<u16> {
        let Counterpart::S3 { moto, .. } = &self.counterpart else {
            return None;
        };
        let url = format!("{}/{}/{key}", moto.endpoint, self.bucket);
        Some(reqwest::get(&url).await.unwrap().status().as_u16())
    }

    /// The store whose presigned URLs the counterpart can serve (moto's SigV4 mode cannot).
    pub fn presign_store(&self) -> Arc<dyn ObjectStore> {
        match &self.counterpart {
            Counterpart::S3 { open_store, .. } => open_store.clone(),
            _ => self.store.clone(),
        }
    }

    /// Whether the counterpart refuses a presigned URL past its expiry (moto checks neither
    /// expiry nor signature of presigned URLs).
    pub fn checks_presigned_expiry(&self) -> bool {
        matches!(self.counterpart, Counterpart::Cos(_) | Counterpart::Obs(_))
    }

    /// Fetch a presigned URL with no credentials: the bytes, or why the counterpart refused.
    pub async fn fetch_presigned(&self, url: &str) -> Result<Vec<u8>, String> {
        match &self.counterpart {
            Counterpart::Local(_) => unreachable!("the local store presigns nothing"),
            Counterpart::S3 { open, .. } => {
                // moto serves presigned URLs without checking them: botocore's own SigV4 query
                // signer (an independent implementation) checks the signature instead.
                if url.contains("X-Amz-Signature=") {
                    let verdict = Self::moto_py(
                        open,
                        format!("{VERIFY_SIGV4_QUERY}\nprint(verify({}))", py_str(url)),
                    )
                    .await;
                    if verdict != "ok" {
                        return Err(format!("botocore: {verdict}"));
                    }
                }
                plain_get(url, None).await
            }
            // The URL names the production host; the emulator stands in for it.
            Counterpart::Cos(emu) => {
                let prod = format!("https://{}", cos_host(&self.bucket));
                let local = url
                    .strip_prefix(&prod)
                    .map(|rest| format!("{}{rest}", emu.url()))
                    .ok_or_else(|| format!("not on the bucket's production host: {url}"))?;
                plain_get(&local, Some(cos_host(&self.bucket))).await
            }
            Counterpart::Obs(emu) => huawei::fetch_signed_url(&emu.emu, url),
        }
    }
}

/// Poll until `done` (a request reached the counterpart), for at most ten seconds.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} never reached the counterpart"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An unauthenticated GET; `host` stands in for the DNS name the URL would have in production.
/// Sent with its path exactly as in the URL (reqwest would drop `.`/`..` segments of the key).
async fn plain_get(url: &str, host: Option<String>) -> Result<Vec<u8>, String> {
    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let (authority, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let headers: Vec<(String, String)> = host.map(|h| ("host".into(), h)).into_iter().collect();
    let r = image_triage::client::exact::send(
        &reqwest::Method::GET,
        &image_triage::client::origin::with_scheme(scheme, authority).map_err(|e| e.to_string())?,
        target,
        &headers,
        bytes::Bytes::new(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let (status, body) = (r.status, r.body);
    if status == 200 {
        Ok(body.to_vec())
    } else {
        Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
    }
}

/// Recompute a presigned URL's signature with botocore (S3 query auth, UNSIGNED-PAYLOAD) for
/// the moto user's key; `ok` when it matches.
const VERIFY_SIGV4_QUERY: &str = r#"
from urllib.parse import urlsplit, parse_qsl
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
def verify(url):
    u = urlsplit(url)
    q = dict(parse_qsl(u.query, keep_blank_values=True))
    rest = "&".join(p for p in u.query.split("&") if not p.startswith("X-Amz-Signature="))
    req = AWSRequest(method="GET", url=f"{u.scheme}://{u.netloc}{u.path}?{rest}")
    req.context["timestamp"] = q["X-Amz-Date"]
    auth = S3SigV4QueryAuth(Credentials(os.environ["AK"], os.environ["SK"]), "s3", "us-east-1", expires=int(q["X-Amz-Expires"]))
    sig = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
    return "ok" if sig == q["X-Amz-Signature"] else "signature mismatch"
"#;
