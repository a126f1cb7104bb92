//! The backfill routes that do not triage in the scanning process, run as a user runs them:
//! `scan --enqueue` into SQS on moto (SigV4 enforced) drained by the real `poll-sqs`,
//! `scan --manifest` and `scan --dry-run` on the embedded bucket. No models: the analyzers are
//! `none` unless a test estimates vendor ones, so every image ends `done` with the default verdict.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::moto::{png, Moto};
use common::{png_header, BUCKET};
use serde_json::Value;

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-triage"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `image-triage ARGS` against moto, analyzers off.
fn on_moto(moto: &Moto, args: &[&str]) -> Output {
    let mut cmd = binary();
    cmd.env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .args(args);
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    cmd.output().expect("run image-triage")
}

/// The `--json` report of a routed scan.
fn report(out: &Output) -> Value {
    let (stdout, stderr) = text(out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

/// Messages in the queue, visible or in flight.
fn queue_depth(moto: &Moto, queue_url: &str) -> u64 {
    moto.py(&format!(
        r#"
a = sqs.get_queue_attributes(QueueUrl={queue_url:?}, AttributeNames=["All"])["Attributes"]
print(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]))
"#
    ))
    .trim()
    .parse()
    .unwrap()
}

#[test]
fn scan_enqueue_fans_out_to_sqs_and_poll_sqs_triages_each_object_once() {
    let moto = Moto::start();
    let photo = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(photo.path(), png(120, 90)).unwrap();
    let keys = [
        "archive/p0.png",
        "archive/p1.png",
        "archive/sub dir/p2.png",
        "archive/a+b.png",
        "archive/猫 1.png",
        "archive/p5.png",
    ];
    let queue_url = moto
        .py(&format!(
            r#"
s3.create_bucket(Bucket="old")
body = open({photo:?}, "rb").read()
for k in {keys:?}:
    s3.put_object(Bucket="old", Key=k, Body=body, ContentType="image/png")
s3.put_object(Bucket="old", Key="archive/readme.txt", Body=b"not an image at all", ContentType="text/plain")
s3.put_object(Bucket="old", Key="elsewhere/x.png", Body=body)
print(sqs.create_queue(QueueName="backfill")["QueueUrl"])
"#,
            photo = photo.path().to_str().unwrap(),
        ))
        .trim()
        .to_string();
    // The queue named the sqs:// way, reached through TRIAGE_SQS_ENDPOINT.
    let account_and_name = queue_url.splitn(4, '/').nth(3).unwrap();
    let sqs = format!("sqs://sqs.us-east-1.amazonaws.com/{account_and_name}");

    // One object is triaged already: the fan-out leaves it out.
    let out = on_moto(
        &moto,
        &["scan", "old", "archive/p0.png", "--provider", "s3"],
    );
    assert!(out.status.success(), "{}", text(&out).1);

    // A dry run with the queue named sends nothing.
    let dry = report(&on_moto(
        &moto,
        &[
            "scan",
            "old",
            "archive/",
            "--provider",
            "s3",
            "--enqueue",
            &sqs,
            "--dry-run",
            "--json",
        ],
    ));
    assert_eq!(dry["summary"]["needed"], 6, "{dry}");
    assert_eq!(dry["summary"]["sent"], 0, "{dry}");
    assert_eq!(queue_depth(&moto, &queue_url), 0, "a dry run sends nothing");

    let sent = report(&on_moto(
        &moto,
        &[
            "scan",
            "old",
            "archive/",
            "--provider",
            "s3",
            "--enqueue",
            &sqs,
            "--rate",
            "200",
            "--page-size",
            "3",
            "--json",
        ],
    ));
    let s = &sent["summary"];
    assert_eq!(
        (
            &s["listed"],
            &s["needed"],
            &s["sent"],
            &s["already_current"]
        ),
        (&7.into(), &6.into(), &6.into(), &1.into()),
        "{sent}"
    );
    assert_eq!(s["complete"], true, "{sent}");
    assert_eq!(s["resume_after"], "archive/猫 1.png", "{sent}");
    assert_eq!(queue_depth(&moto, &queue_url), 6);

    // The platform's consumer: the real poll-sqs drains the queue and triages.
    let out = on_moto(
        &moto,
        &["poll-sqs", &queue_url, "--wait", "1", "--exit-when-empty"],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let mut done: BTreeMap<String, u32> = BTreeMap::new();
    let mut skipped: BTreeMap<String, String> = BTreeMap::new();
    for line in stdout.lines() {
        let o: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let key = o["key"].as_str().unwrap_or_default().to_string();
        match o["status"].as_str() {
            Some("done") => *done.entry(key).or_default() += 1,
            Some("skipped") => {
                skipped.insert(key, o["code"].as_str().unwrap_or_default().into());
            }
            _ => panic!("a record failed: {line}\n{stderr}"),
        }
    }
    let expected: BTreeMap<String, u32> = keys[1..].iter().map(|k| (k.to_string(), 1)).collect();
    assert_eq!(done, expected, "every image triaged exactly once\n{stdout}");
    assert_eq!(
        skipped,
        BTreeMap::from([("archive/readme.txt".to_string(), "not_an_image".to_string())]),
        "{stdout}"
    );
    assert_eq!(queue_depth(&moto, &queue_url), 0, "every message deleted");

    // What was written, read back with boto3: one sidecar per image, one marker each.
    let stored: Value = serde_json::from_str(&moto.py(&format!(
        r#"
out = {{}}
for k in {keys:?}:
    h = s3.head_object(Bucket="old", Key=k)
    side = json.loads(s3.get_object(Bucket="old", Key="triage-results/" + k + ".json")["Body"].read())
    out[k] = {{"marker": h["Metadata"].get("triage-marker", ""), "etag": h["ETag"].strip('"'), "key": side["object"]["key"]}}
out["sidecars"] = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="old", Prefix="triage-results/archive/").get("Contents", []))
print(json.dumps(out))
"#
    )))
    .unwrap();
    for k in keys {
        let o = &stored[k];
        assert!(
            o["marker"]
                .as_str()
                .unwrap()
                .starts_with(o["etag"].as_str().unwrap()),
            "{k}: {o}"
        );
        assert_eq!(o["key"], k);
    }
    let sidecars = stored["sidecars"].as_array().unwrap();
    assert_eq!(
        sidecars.len(),
        keys.len() + 1,
        "the text file's too: {sidecars:?}"
    );

    // Everything has a current result now: a second fan-out sends nothing.
    let again = report(&on_moto(
        &moto,
        &[
            "scan",
            "old",
            "archive/",
            "--provider",
            "s3",
            "--enqueue",
            &sqs,
            "--json",
        ],
    ));
    let s = &again["summary"];
    assert_eq!(
        (&s["sent"], &s["needed"]),
        (&0.into(), &0.into()),
        "{again}"
    );
    assert_eq!(s["already_current"], 7, "{again}");
    assert_eq!(queue_depth(&moto, &queue_url), 0, "the queue stays empty");
}

fn put(root: &Path, key: &str, bytes: &[u8]) {
    let path = root.join(BUCKET).join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `image-triage` on the embedded bucket under `root`, analyzers off, with `env` on top.
fn local(root: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = binary();
    cmd.env("HOME", root)
        .env("TRIAGE_STORE", "local")
        .env("TRIAGE_LOCAL_ROOT", root)
        .env("TRIAGE_LABELER", "none")
        .env("TRIAGE_MODERATOR", "none")
        .envs(env.iter().copied());
    cmd
}

fn local_scan(root: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let out = local(root, env).arg("scan").args(args).output();
    out.expect("run image-triage scan")
}

#[test]
fn scan_manifest_lists_exactly_the_objects_that_need_triage() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let img = png_header(320, 240, 1200);
    for k in [
        "photos/plain.png",
        "photos/with space.png",
        "photos/a+b.png",
        "photos/ünï/猫.png",
        "photos/done.png",
        "triage-quarantine/photos/bad.png",
    ] {
        put(root, k, &img);
    }
    let out = local_scan(root, &[], &[BUCKET, "photos/done.png"]);
    assert!(out.status.success(), "{}", text(&out).1);

    let manifest = root.join("manifest.csv");
    let m = manifest.to_str().unwrap();
    let out = local_scan(root, &[], &[BUCKET, "--manifest", m]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    // Listing order; keys URL-encoded (space %20, + %2B, UTF-8 bytes), `/` kept; no header.
    let expected = format!(
        "{b},photos/a%2Bb.png\n{b},photos/plain.png\n{b},photos/with%20space.png\n{b},photos/%C3%BCn%C3%AF/%E7%8C%AB.png\n",
        b = BUCKET
    );
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), expected);
    let own = own_outputs(root);
    let last = stdout.lines().last().unwrap();
    assert_eq!(
        last,
        format!(
            "scan --manifest: {} listed, 4 need triage (4.7 KiB), 4 written to the manifest, 1 already current, {own} left out (own_output {own}), 0 failed (0 retryable); complete",
            5 + own
        ),
        "{stdout}"
    );
    // Nothing was triaged: the only sidecar is done.png's.
    assert!(!root
        .join(BUCKET)
        .join("triage-results/photos/plain.png.json")
        .exists());

    // With the version column (the embedded bucket has no versions: S3's `null`), and a resume
    // after a marker appends to the file.
    let out = local_scan(
        root,
        &[],
        &[BUCKET, "photos/", "--manifest", m, "--manifest-version-ids"],
    );
    assert!(out.status.success(), "{}", text(&out).1);
    let versioned = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(versioned.lines().count(), 4);
    assert!(
        versioned.lines().all(|l| l.ends_with(",null")),
        "{versioned}"
    );
    let out = local_scan(
        root,
        &[],
        &[
            BUCKET,
            "photos/",
            "--manifest",
            m,
            "--start-after",
            "photos/plain.png",
        ],
    );
    assert!(out.status.success(), "{}", text(&out).1);
    let appended = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(
        appended,
        format!(
            "{versioned}{b},photos/with%20space.png\n{b},photos/%C3%BCn%C3%AF/%E7%8C%AB.png\n",
            b = BUCKET
        )
    );
}

/// Objects under the results and quarantine prefixes (sidecars, and whatever else the function
/// keeps there): what a whole-bucket scan lists and leaves out.
fn own_outputs(root: &Path) -> usize {
    ["triage-results", "triage-quarantine"]
        .iter()
        .map(|p| root.join(BUCKET).join(p))
        .filter(|d| d.is_dir())
        .map(|d| tree(&d).len())
        .sum()
}

/// Every file under `dir`: relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn scan_dry_run_prints_the_estimate_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let img = png_header(640, 480, 2048);
    // A demo-like bucket: photos, an animated-capable GIF, a text file, one processed object.
    for k in [
        "uploads/chelsea.png",
        "uploads/coffee.jpg",
        "uploads/rocket.png",
        "uploads/anim.gif",
    ] {
        put(root, k, &img);
    }
    put(root, "uploads/notes.txt", b"not an image");
    put(root, "uploads/done.png", &img);
    let out = local_scan(root, &[], &[BUCKET, "uploads/done.png"]);
    assert!(out.status.success(), "{}", text(&out).1);
    let before = tree(&root.join(BUCKET));

    // Vendor analyzers, to see the arithmetic: detect-label per scene, IMS per (sampled) frame.
    // Another configuration, so done.png's result is not current under it.
    let vendor = [
        ("TRIAGE_LABELER", "cos-ci"),
        ("TRIAGE_MODERATOR", "ims"),
        ("TRIAGE_LABEL_SCENES", "camera,web"),
        ("TRIAGE_MODERATION_GIF_MAX_FRAMES", "3"),
    ];
    let queue = root.join("q.jsonl");
    let manifest = root.join("m.csv");
    let state = root.join("state.json");
    let q = format!("file:{}", queue.display());
    let out = local_scan(
        root,
        &vendor,
        &[
            BUCKET,
            "--dry-run",
            "--enqueue",
            &q,
            "--state",
            state.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("6 object(s) need triage"), "{stdout}");
    assert!(stdout.contains("1 named or typed as no image"), "{stdout}");
    // coffee.jpg is JPEG by name: CI detect-label reads it; the GIF it does not.
    assert!(
        stdout.contains("cos ci detect-label (labels): 8 billable calls for 4 object(s)"),
        "{stdout}"
    );
    // One call per image, the GIF up to 3 sampled frames.
    assert!(
        stdout.contains(
            "tencent ims ImageModeration (moderation): 5–7 billable calls for 5 object(s)"
        ),
        "{stdout}"
    );
    let own = own_outputs(root);
    let last = stdout.lines().last().unwrap();
    assert_eq!(
        last,
        format!(
            "scan --dry-run: {} listed, 6 need triage (10.0 KiB), nothing sent or written, 0 already current, {own} left out (own_output {own}), 0 failed (0 retryable); complete",
            6 + own
        ),
        "{stdout}"
    );

    // --json, and --manifest: the same counts, still nothing written.
    let out = local_scan(
        root,
        &[],
        &[
            BUCKET,
            "--dry-run",
            "--manifest",
            manifest.to_str().unwrap(),
            "--json",
        ],
    );
    let doc = report(&out);
    assert_eq!(doc["summary"]["action"], "dry_run");
    assert_eq!(doc["summary"]["needed"], 5);
    assert_eq!(
        doc["summary"]["already_current"], 1,
        "done.png, under its own configuration"
    );
    assert_eq!(doc["estimate"]["objects"], 5);
    assert_eq!(
        doc["estimate"]["services"].as_array().unwrap().len(),
        0,
        "analyzers off"
    );
    assert_eq!(
        text(&out).1.trim_end(),
        format!(
            "scan --dry-run: {} listed, 5 need triage (8.0 KiB), nothing sent or written, 1 already current, {own} left out (own_output {own}), 0 failed (0 retryable); complete",
            6 + own
        )
    );

    for (what, path) in [
        ("queue", &queue),
        ("manifest", &manifest),
        ("state", &state),
    ] {
        assert!(!path.exists(), "a dry run wrote the {what} file");
    }
    assert_eq!(
        tree(&root.join(BUCKET)),
        before,
        "a dry run changes nothing in the bucket"
    );
}

#[test]
fn scan_enqueue_resumes_from_its_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let img = png_header(320, 240, 1200);
    for i in 0..6 {
        put(root, &format!("img/{i:02}.png"), &img);
    }
    let queue = root.join("q.jsonl");
    let q = format!("file:{}", queue.display());
    let state = root.join("state.json");
    let st = state.to_str().unwrap();
    let out = local_scan(root, &[], &[BUCKET, "img/", "--enqueue", &q, "--state", st]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(std::fs::read_to_string(&queue).unwrap().lines().count(), 6);
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(
        (&saved["start_after"], &saved["complete"]),
        (&"img/05.png".into(), &true.into())
    );

    // An interrupted fan-out's state: the next run sends only what comes after its marker.
    let mut partial = saved.clone();
    partial["start_after"] = "img/02.png".into();
    partial["complete"] = false.into();
    std::fs::write(&state, serde_json::to_vec(&partial).unwrap()).unwrap();
    std::fs::remove_file(&queue).unwrap();
    let out = local_scan(root, &[], &[BUCKET, "img/", "--enqueue", &q, "--state", st]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resuming after \"img/02.png\""), "{stderr}");
    // Sends run concurrently: the order in the file is theirs; the marker alone is ordered.
    let mut keys: Vec<String> = std::fs::read_to_string(&queue)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["Records"][0]["s3"]["object"]["key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    keys.sort();
    assert_eq!(keys, ["img/03.png", "img/04.png", "img/05.png"]);
    assert!(
        stdout
            .trim_end()
            .ends_with("3 sent, 0 already current, 0 left out, 0 failed (0 retryable); complete"),
        "{stdout}"
    );
}

/// A RabbitMQ node of this test's own (scripts/start-rabbitmq.sh, as tests/amqp_sink.rs).
struct Broker {
    dir: tempfile::TempDir,
    port: u16,
}

fn rabbitmq(verb: &str, dir: &Path) -> std::io::Result<Output> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/start-rabbitmq.sh");
    Command::new("bash").arg(script).arg(verb).arg(dir).output()
}

impl Broker {
    fn start() -> Broker {
        let dir = tempfile::Builder::new().prefix("rmq").tempdir().unwrap();
        let out = rabbitmq("start", dir.path()).expect("bash runs scripts/start-rabbitmq.sh");
        let port = text(&out)
            .0
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok());
        match (out.status.success(), port) {
            (true, Some(port)) => Broker { dir, port },
            _ => panic!("RabbitMQ could not be started: {}", text(&out).1),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = rabbitmq("stop", self.dir.path());
    }
}

/// Every message waiting in `queue`: (message_id, body).
fn drain(port: u16, queue: &str) -> Vec<(Option<String>, String)> {
    use amqprs::channel::BasicGetArguments;
    use amqprs::connection::{Connection, OpenConnectionArguments};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let args = OpenConnectionArguments::new("127.0.0.1", port, "guest", "guest");
        let conn = Connection::open(&args).await.expect("consumer connects");
        let ch = conn.open_channel(None).await.unwrap();
        let mut out = vec![];
        while let Some((_, props, body)) = ch
            .basic_get(BasicGetArguments::new(queue).no_ack(true).finish())
            .await
            .unwrap()
        {
            out.push((
                props.message_id().cloned(),
                String::from_utf8(body).unwrap(),
            ));
        }
        let _ = conn.close().await;
        out
    })
}

/// The Huawei route: OBS-shaped upload events into RabbitMQ (DMS speaks the same protocol),
/// each consumed by `image-triage process`, as a queue-triggered function would.
#[test]
fn scan_enqueue_sends_obs_events_to_amqp_and_each_is_triaged_once() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let keys = ["photos/a b.png", "photos/c+d.png", "photos/猫.png"];
    for k in keys {
        put(root, k, &png_header(320, 240, 1200));
    }
    let url = format!(
        "amqp://guest:guest@127.0.0.1:{}/?queue=backfill",
        broker.port
    );
    let args = [
        BUCKET,
        "photos/",
        "--provider",
        "obs",
        "--enqueue",
        &url,
        "--json",
    ];
    let doc = report(&local_scan(root, &[], &args));
    assert_eq!(doc["summary"]["sent"], 3, "{doc}");

    let messages = drain(broker.port, "backfill");
    assert_eq!(messages.len(), 3);
    let mut triaged = vec![];
    for (i, (message_id, body)) in messages.iter().enumerate() {
        let event: Value = serde_json::from_str(body).unwrap();
        let record = &event["Records"][0];
        assert_eq!(record["eventSource"], "OBS", "{body}");
        // The dedupe key rides as the AMQP message_id and in the event itself.
        assert_eq!(
            message_id.as_deref(),
            record["responseElements"]["x-obs-request-id"].as_str()
        );
        let file = root.join(format!("event-{i}.json"));
        std::fs::write(&file, body).unwrap();
        let out = local(root, &[]).arg("process").arg(&file).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        let o: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(o["status"], "done", "{stdout}");
        triaged.push(o["key"].as_str().unwrap().to_string());
    }
    triaged.sort();
    assert_eq!(triaged, keys);

    // All current now: nothing more is sent.
    let doc = report(&local_scan(root, &[], &args));
    assert_eq!(
        (&doc["summary"]["sent"], &doc["summary"]["already_current"]),
        (&0.into(), &3.into()),
        "{doc}"
    );
    assert!(drain(broker.port, "backfill").is_empty());
}
