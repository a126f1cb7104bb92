//! `image-triage review` in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, scripts/install-browser.sh), driven over the WebDriver protocol, filters,
//! opens an item, approves one and blocks one (and takes a third decision back) with the
//! keyboard; then the bucket is checked, and the decisions survive a re-delivery of the upload
//! events. `TRIAGE_REVIEW_SCREENSHOT=PATH` keeps the grid's screenshot there (docs/review.png).
#![cfg(feature = "local")] // thumbnails and the demo need the local decoders and models

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

const DEMO: &str = "demo";
/// Photos uploaded again under `uploads/queue/`, triaged with a review threshold of 0: every
/// one of them is `review`.
const QUEUED: [(&str, &str); 4] = [
    ("chelsea.png", "uploads/queue/cat.png"),
    ("coffee.png", "uploads/queue/coffee.png"),
    ("rocket.jpg", "uploads/queue/rocket.jpg"),
    ("motorcycle_left.png", "uploads/queue/motorcycle.png"),
];

fn bin(root: &Path, extra: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", root)
        .env("TRIAGE_MODEL_DIR", model_dir())
        .env("TRIAGE_BLOCK_ACTION", "private")
        .env(
            "TRIAGE_KEYWORDS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/keywords.example.txt"),
        );
    for (k, v) in extra {
        c.env(k, v);
    }
    c
}

/// The settings the queued items were triaged with (and re-delivered under).
const QUEUE_ENV: &[(&str, &str)] = &[("TRIAGE_REVIEW_THRESHOLD", "0")];

/// Kills the child when the test ends, however it ends.
struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(var: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        p.is_file(),
        "{} is missing: run scripts/install-browser.sh (scripts/test.sh does)",
        p.display()
    );
    p
}

/// One HTTP/1.1 exchange with `Connection: close` (chromedriver refuses HTTP/1.0):
/// (status, body).
fn http11(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    // Read the head, then exactly Content-Length bytes: chromedriver may keep the connection.
    let mut raw = vec![];
    let mut buf = [0u8; 65536];
    let split = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "{method} {path}: connection closed before the response head"
        );
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = raw[split + 4..].to_vec();
    while body.len() < length {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = String::from_utf8_lossy(&body);
    (status, body.to_string())
}

/// A WebDriver session on chromedriver; closed (the browser with it) when dropped.
struct Browser {
    port: u16,
    session: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http11(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            b"",
        );
    }
}

impl Browser {
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if method == "GET" {
            vec![]
        } else {
            body.to_string().into_bytes()
        };
        let (status, text) = http11(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            &body,
        );
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(status, 200, "{method} {path}: {text}");
        v["value"].clone()
    }
    fn script(&self, js: &str) -> Value {
        self.call("POST", "/execute/sync", json!({"script": js, "args": []}))
    }
    fn element(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap()
            .to_string()
    }
    fn click(&self, css: &str) {
        let e = self.element(css);
        self.call("POST", &format!("/element/{e}/click"), json!({}));
    }
    fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.call("POST", &format!("/element/{e}/clear"), json!({}));
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            json!({"text": text}),
        );
    }
    /// One key press on the page (WebDriver key codes for the special keys).
    fn press(&self, key: &str) {
        self.call(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]}),
        );
    }
    /// Wait until `js` (an expression) is true.
    fn wait(&self, js: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.script(&format!("return !!({js});")) == json!(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    fn tiles(&self) -> Vec<String> {
        let v = self.script(
            "return [...document.querySelectorAll('#grid .tile')].map(t => t.dataset.key);",
        );
        serde_json::from_value(v).unwrap()
    }
    fn selected(&self) -> String {
        self.script("return document.querySelector('.tile.sel').dataset.key;")
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn attrs(root: &Path, key: &str) -> Value {
    let p = root.join(".attrs").join(DEMO).join(format!("{key}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

fn sidecar_of(root: &Path, key: &str) -> Value {
    let p = root
        .join(DEMO)
        .join("triage-results")
        .join(format!("{key}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

fn process(root: &Path, key: &str, env: &[(&str, &str)]) -> Value {
    let event = root.join("event.json");
    std::fs::write(&event, event_for(DEMO, key, "ObjectCreated:Put")).unwrap();
    let out = bin(root, env).arg("process").arg(&event).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_reviewer_decides_in_the_browser_and_the_bucket_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bucket-root");
    let out = bin(dir.path(), &[])
        .args(["demo", "--root"])
        .arg(&root)
        .arg("--photos")
        .arg(photos_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (photo_name, key) in QUEUED {
        let path = root.join(DEMO).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, photo(photo_name)).unwrap();
        let o = process(&root, key, QUEUE_ENV);
        assert_eq!(
            (o["status"].as_str(), o["verdict"].as_str()),
            (Some("done"), Some("review")),
            "{o}"
        );
    }
    let before: Vec<(Vec<u8>, Value)> = QUEUED
        .iter()
        .map(|(_, k)| {
            (
                std::fs::read(root.join(DEMO).join(k)).unwrap(),
                attrs(&root, k),
            )
        })
        .collect();

    let port = free_port();
    let review = Kill(
        bin(&root, QUEUE_ENV)
            .args(["review", DEMO, "uploads/", "--reviewer", "tester", "--bind"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, "review");
    let driver_port = free_port();
    let driver = Kill(
        Command::new(tool("TRIAGE_CHROMEDRIVER", "/usr/bin/chromedriver"))
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(driver_port, "chromedriver");
    let profile = dir.path().join("chromium-profile");
    let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
        "binary": tool("TRIAGE_CHROMIUM", "/usr/bin/chromium"),
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900", format!("--user-data-dir={}", profile.display())]}}}});
    let (status, text) = http11(driver_port, "POST", "/session", caps.to_string().as_bytes());
    assert_eq!(status, 200, "{text}");
    let session: Value = serde_json::from_str(&text).unwrap();
    let b = Browser {
        port: driver_port,
        session: session["value"]["sessionId"].as_str().unwrap().to_string(),
    };
    b.call(
        "POST",
        "/url",
        json!({"url": format!("http://127.0.0.1:{port}/")}),
    );

    // The default filter: `review` only, newest first — the four queued items, none of the demo's.
    b.wait(
        "document.querySelectorAll('#grid .tile').length === 4",
        "the review items",
    );
    let mut shown = b.tiles();
    shown.sort();
    let mut queued: Vec<&str> = QUEUED.iter().map(|(_, k)| *k).collect();
    queued.sort();
    assert_eq!(shown, queued);
    // Filter by label, then by verdict and text hit.
    b.type_into("#f-label", "cat");
    b.click("#f-apply");
    b.wait(
        "document.querySelectorAll('#grid .tile').length === 1",
        "the label filter",
    );
    assert_eq!(b.tiles(), ["uploads/queue/cat.png"]);
    b.type_into("#f-label", "");
    b.script("document.getElementById('f-verdict').value = 'any';");
    b.click("#f-apply");
    b.wait(
        "document.querySelectorAll('#grid .tile').length > 4",
        "every verdict",
    );
    b.wait(
        "[...document.images].every(i => i.complete && i.naturalWidth > 0)",
        "the thumbnails",
    );
    let thumb_width =
        b.script("return Math.max(...[...document.images].map(i => i.naturalWidth));");
    assert!(
        thumb_width.as_u64().unwrap() <= 320,
        "thumbnails are bounded: {thumb_width}"
    );
    let png = b.call("GET", "/screenshot", json!({}));
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap())
        .unwrap();
    std::fs::write(dir.path().join("review.png"), &png).unwrap();
    if let Some(keep) = std::env::var_os("TRIAGE_REVIEW_SCREENSHOT") {
        std::fs::write(keep, &png).unwrap();
    }
    b.type_into("#f-text", "any");
    b.click("#f-apply");
    b.wait("document.querySelectorAll('#grid .tile').length >= 1 && [...document.querySelectorAll('#grid .tile')].every(t => t.querySelector('.hits'))", "the text-hit filter");
    b.type_into("#f-text", "");
    b.script("document.getElementById('f-verdict').value = 'review';");
    b.click("#f-apply");
    b.wait(
        "document.querySelectorAll('#grid .tile').length === 4",
        "the review items again",
    );

    // Open the first item, look at its whole result, close it.
    b.press("\u{E007}"); // Enter
    b.wait("!document.getElementById('detail').hidden && document.querySelector('#detail pre') && document.querySelector('#detail pre').textContent.includes('image-triage/v1')", "the detail view");
    b.press("\u{E00C}"); // Escape
    b.wait(
        "document.getElementById('detail').hidden",
        "the detail view to close",
    );

    // Approve the second, block the third (the page moves on after each), approve and undo the fourth.
    b.press("\u{E014}"); // ArrowRight
    let approved = b.selected();
    b.press("a");
    b.wait(
        "document.querySelectorAll('.badge.human').length === 1",
        "the approval",
    );
    let blocked = b.selected();
    assert_ne!(approved, blocked);
    b.press("b");
    b.wait(
        "document.querySelectorAll('.badge.human').length === 2",
        "the block",
    );
    let undone = b.selected();
    b.press("a");
    b.wait(
        "document.querySelectorAll('.badge.human').length === 3",
        "the third decision",
    );
    b.press("u");
    b.wait(
        "document.querySelectorAll('.badge.human').length === 2",
        "the undo",
    );
    drop(b);
    drop(driver);
    drop(review);

    // The bucket: a `review` section, the final verdict in metadata and tags, the block action.
    let s = sidecar_of(&root, &approved);
    assert_eq!(s["schema"], "image-triage/v1");
    assert_eq!(s["verdict"]["decision"], "pass");
    assert_eq!(s["review"]["decision"], "approve");
    assert_eq!(s["review"]["reviewer"], "tester");
    assert_eq!(s["review"]["machine_verdict"]["decision"], "review");
    let a = attrs(&root, &approved);
    assert_eq!(a["metadata"]["triage-verdict"], "pass");
    assert_eq!(a["metadata"]["triage-reviewed"], "approve");
    let tags: Vec<(String, String)> = serde_json::from_value(a["tags"].clone()).unwrap();
    assert!(
        tags.contains(&("triage-verdict".into(), "pass".into())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("triage-reviewed".into(), "approve".into())),
        "{tags:?}"
    );
    assert!(a.get("acl").is_none_or(|acl| acl != "private"), "{a}");

    let s = sidecar_of(&root, &blocked);
    assert_eq!(
        (
            s["verdict"]["decision"].as_str(),
            s["review"]["decision"].as_str()
        ),
        (Some("block"), Some("block"))
    );
    assert!(
        s["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["action"] == "block:private" && x["status"] == "done"),
        "{s}"
    );
    let a = attrs(&root, &blocked);
    assert_eq!(a["acl"], "private", "TRIAGE_BLOCK_ACTION=private applied");
    assert_eq!(a["metadata"]["triage-verdict"], "block");
    let tags: Vec<(String, String)> = serde_json::from_value(a["tags"].clone()).unwrap();
    assert!(
        tags.contains(&("triage-blocked".into(), "true".into())),
        "{tags:?}"
    );

    let s = sidecar_of(&root, &undone);
    assert_eq!(s["verdict"]["decision"], "review");
    assert!(s.get("review").is_none(), "{s}");
    assert!(attrs(&root, &undone)["metadata"]
        .get("triage-reviewed")
        .is_none());

    // Nothing else of the objects changed: bytes, ETag, content type.
    for ((bytes, was), (_, key)) in before.iter().zip(QUEUED) {
        assert_eq!(
            &std::fs::read(root.join(DEMO).join(key)).unwrap(),
            bytes,
            "{key}"
        );
        let now = attrs(&root, key);
        for field in ["etag", "size", "content_type"] {
            assert_eq!(now[field], was[field], "{key}: {field}");
        }
    }

    // A re-delivery of the same upload events: finished work, with the human's verdicts.
    let o = process(&root, &approved, QUEUE_ENV);
    assert_eq!(
        (o["code"].as_str(), o["verdict"].as_str()),
        (Some("already_processed"), Some("pass")),
        "{o}"
    );
    let o = process(&root, &blocked, QUEUE_ENV);
    assert_eq!(
        (o["code"].as_str(), o["verdict"].as_str()),
        (Some("already_processed"), Some("block")),
        "{o}"
    );
    // Triaged again under another configuration, the same content keeps the human decision.
    let o = process(
        &root,
        &blocked,
        &[("TRIAGE_REVIEW_THRESHOLD", "0"), ("TRIAGE_MAX_LABELS", "3")],
    );
    assert_eq!(
        (o["status"].as_str(), o["verdict"].as_str()),
        (Some("done"), Some("block")),
        "{o}"
    );
    assert_eq!(sidecar_of(&root, &blocked)["review"]["reviewer"], "tester");
    // New content under the key is triaged again as usual.
    std::fs::write(root.join(DEMO).join(&approved), photo("astronaut.png")).unwrap();
    let o = process(&root, &approved, QUEUE_ENV);
    assert_eq!(
        (o["status"].as_str(), o["verdict"].as_str()),
        (Some("done"), Some("review")),
        "{o}"
    );
    assert!(sidecar_of(&root, &approved).get("review").is_none());
}
