//! The AMQP sink against a real RabbitMQ (Debian's rabbitmq-server, installed if missing and
//! started privately by scripts/start-rabbitmq.sh on a free 127.0.0.1 port). No models: the
//! analyzers are `none`. A machine where the broker cannot be installed or started fails here,
//! with the script's reason, rather than skipping.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use amqprs::channel::{BasicGetArguments, Channel};
use amqprs::connection::{Connection, OpenConnectionArguments};
use common::{event_for, png_header, BUCKET};
use image_triage::client::Retryable;
use image_triage::config::Config;
use image_triage::sinks::amqp::{AmqpError, AmqpQueue};
use image_triage::sinks::queue::{dedupe_key, QueueMessage};
use image_triage::store::local::LocalStore;
use image_triage::store::ObjectStore;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/start-rabbitmq.sh")
}

/// A broker for this test binary; stopped (process group killed) on drop.
struct Broker {
    dir: tempfile::TempDir,
    port: u16,
}

impl Broker {
    fn start() -> Broker {
        let dir = tempfile::Builder::new().prefix("rmq").tempdir().unwrap();
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("bash runs scripts/start-rabbitmq.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let port = stdout
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok());
        match (out.status.success(), port) {
            (true, Some(port)) => Broker { dir, port },
            _ => panic!(
                "RabbitMQ is needed for this test and could not be started (is Debian's rabbitmq-server installable here?): {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    fn url(&self, query: &str) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/?{query}", self.port)
    }

    fn ctl(&self, args: &[&str]) -> std::process::Output {
        // Same environment the script gave the node, so the CLI finds it (cookie in HOME).
        let d = self.dir.path();
        let read = |f: &str| {
            std::fs::read_to_string(d.join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        let name: String = d
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        Command::new("/usr/lib/rabbitmq/bin/rabbitmqctl")
            .args(args)
            .env("HOME", d)
            .env("RABBITMQ_NODENAME", format!("triage{name}@localhost"))
            .env("ERL_EPMD_PORT", read("epmd_port"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .output()
            .unwrap()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

async fn consumer(port: u16) -> (Connection, Channel) {
    let args = OpenConnectionArguments::new("127.0.0.1", port, "guest", "guest");
    let conn = Connection::open(&args).await.expect("consumer connects");
    let ch = conn.open_channel(None).await.unwrap();
    (conn, ch)
}

/// Every message waiting in `queue`: (message_id, body).
async fn drain(ch: &Channel, queue: &str) -> Vec<(Option<String>, Option<u8>, serde_json::Value)> {
    let mut out = vec![];
    while let Some((_, props, body)) = ch
        .basic_get(BasicGetArguments::new(queue).no_ack(true).finish())
        .await
        .unwrap()
    {
        out.push((
            props.message_id().cloned(),
            props.delivery_mode(),
            serde_json::from_slice(&body).expect("message body is JSON"),
        ));
    }
    out
}

fn bin(root: &Path, queue_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", root)
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .env("TRIAGE_QUEUE", queue_url);
    c
}

fn run_process(root: &Path, queue_url: &str, event: &Path) -> serde_json::Value {
    let out = bin(root, queue_url)
        .arg("process")
        .arg(event)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "process failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(line.trim()).unwrap()
}

fn message(key: &str) -> QueueMessage<'_> {
    QueueMessage {
        schema: "image-triage/v1",
        dedupe_key: dedupe_key(BUCKET, key, "etag", "hash"),
        bucket: BUCKET,
        key,
        etag: "etag",
        verdict: Some("pass"),
        labels: vec![],
        result_key: None,
        processed_at: chrono::Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_one_message_per_object_no_duplicates_reconnects() {
    let broker = Broker::start();
    let root = tempfile::tempdir().unwrap();
    let store = LocalStore::new(root.path());
    for key in ["in/a.png", "in/b.png"] {
        store
            .put(BUCKET, key, png_header(640, 480, 2000).into(), "image/png")
            .await
            .unwrap();
    }
    let url = broker.url("queue=triage-results");

    // 1. The command as deployed: one message per object, re-delivery publishes nothing.
    let ev = |key: &str| {
        let p = root.path().join(format!("{}.json", key.replace('/', "_")));
        std::fs::write(&p, event_for(BUCKET, key, "ObjectCreated:Put")).unwrap();
        p
    };
    let (ev_a, ev_b) = (ev("in/a.png"), ev("in/b.png"));
    assert_eq!(run_process(root.path(), &url, &ev_a)["status"], "done");
    assert_eq!(run_process(root.path(), &url, &ev_b)["status"], "done");
    let again = run_process(root.path(), &url, &ev_a);
    assert_eq!(
        (&again["status"], &again["code"]),
        (&"skipped".into(), &"already_processed".into())
    );

    let (conn, ch) = consumer(broker.port).await;
    let got = drain(&ch, "triage-results").await;
    assert_eq!(got.len(), 2, "one message per object: {got:?}");
    let cfg = Config::from_vars(
        [
            ("TRIAGE_STORE", "local"),
            ("TRIAGE_LOCAL_ROOT", &root.path().display().to_string()),
            ("TRIAGE_LABELER", "none"),
            ("TRIAGE_MODERATOR", "none"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap();
    let hash = cfg.config_hash(image_triage::Provider::S3);
    for (key, (id, mode, body)) in ["in/a.png", "in/b.png"].iter().zip(&got) {
        let etag = store.head(BUCKET, key).await.unwrap().etag;
        let want = dedupe_key(BUCKET, key, &etag, &hash);
        assert_eq!(
            id.as_deref(),
            Some(want.as_str()),
            "message_id = dedupe key"
        );
        assert_eq!(*mode, Some(2), "persistent");
        // The same JSON the file queue writes: the QueueMessage fields, nothing else.
        let fields: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expect = vec![
            "bucket",
            "dedupe_key",
            "etag",
            "key",
            "labels",
            "processed_at",
            "result_key",
            "schema",
            "verdict",
        ];
        expect.sort();
        assert_eq!(fields, expect);
        assert_eq!(body["key"], *key);
        assert_eq!(body["dedupe_key"], want);
        assert_eq!(body["etag"], etag);
        assert_eq!(body["schema"], "image-triage/v1");
    }

    // 2. One process, many publishes on one kept connection; after the broker drops every
    //    connection the next publish reconnects and still lands exactly once.
    let q = AmqpQueue::new(&url, &Config::default()).unwrap();
    assert!(q.publish(&message("direct/1.png")).await.unwrap());
    let closed = broker.ctl(&["close_all_connections", "test: force a reconnect"]);
    assert!(
        closed.status.success(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(q.publish(&message("direct/2.png")).await.unwrap());
    let (conn, ch) = if conn.is_open() {
        (conn, ch)
    } else {
        consumer(broker.port).await
    };
    let got = drain(&ch, "triage-results").await;
    let keys: Vec<&str> = got
        .iter()
        .map(|(_, _, b)| b["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["direct/1.png", "direct/2.png"]);

    // 3. An exchange route that reaches no queue is an error, not a silent loss.
    let lost = AmqpQueue::new(
        &broker.url("exchange=amq.direct&routing_key=nobody-listens"),
        &Config::default(),
    )
    .unwrap();
    let e = lost.publish(&message("x.png")).await.unwrap_err();
    assert!(matches!(e, AmqpError::Unroutable { .. }), "{e}");
    assert!(e.to_string().contains("nobody-listens"), "{e}");
    assert!(e.retryable());

    // 4. A declared topic exchange with a bound queue delivers by routing key.
    let routed = AmqpQueue::new(
        &broker.url("exchange=triage&exchange_type=topic&routing_key=image.done&queue=by-topic"),
        &Config::default(),
    )
    .unwrap();
    routed.publish(&message("t.png")).await.unwrap();
    let got = drain(&ch, "by-topic").await;
    assert_eq!(got.len(), 1);

    // 5. Backfill with concurrent publishes on the one kept connection: one message per object,
    //    and a re-scan publishes nothing.
    for i in 0..10 {
        store
            .put(
                BUCKET,
                &format!("scan/{i}.png"),
                png_header(100, 100, 900).into(),
                "image/png",
            )
            .await
            .unwrap();
    }
    let scan_url = broker.url("queue=scanned");
    for round in 0..2 {
        let out = bin(root.path(), &scan_url)
            .args(["scan", BUCKET, "scan/", "--concurrency", "4"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scan round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let got = drain(&ch, "scanned").await;
    let mut ids: Vec<&str> = got
        .iter()
        .map(|(id, _, _)| id.as_deref().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (10, 10), "{got:?}");
    let _ = conn.close().await;
}

/// No broker: the object fails retryably and gets no marker, so the platform's retry (or the
/// next scan) publishes it later; the error names the broker, not its password.
#[test]
fn unreachable_broker_fails_the_object_and_leaves_it_unmarked() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join(BUCKET).join("in/e.png");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, png_header(200, 200, 800)).unwrap();
    let event = root.path().join("ev.json");
    std::fs::write(&event, event_for(BUCKET, "in/e.png", "ObjectCreated:Put")).unwrap();
    let port = common::free_port();
    let out = bin(
        root.path(),
        &format!("amqp://triage:hunter2@127.0.0.1:{port}/?queue=q"),
    )
    .env("TRIAGE_AMQP_MAX_ATTEMPTS", "2")
    .arg("process")
    .arg(&event)
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "a retryable failure remains");
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&line["status"], &line["retryable"]),
        (&"failed".into(), &true.into())
    );
    let reason = line["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("127.0.0.1:{port}")), "{reason}");
    assert!(!reason.contains("hunter2"), "{reason}");
    let meta = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(LocalStore::new(root.path()).head(BUCKET, "in/e.png"))
        .unwrap()
        .metadata;
    assert!(!meta.contains_key("triage-marker"), "{meta:?}");
}
