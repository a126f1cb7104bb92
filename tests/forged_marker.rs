//! Issue 11, point 1: whether an object was already triaged is decided from something an
//! uploader cannot produce. A forged marker (the published config hash and the content's MD5)
//! and a forged `triage-verdict` on new content, on moto, the COS emulator and the OBS
//! emulator: the content is analysed and the forged values are replaced. With a marker secret,
//! only a signed marker counts.

mod common;
#[path = "tencent/emulator.rs"]
#[allow(unused_imports)]
mod emulator;
mod huawei;

use std::collections::BTreeMap;

use common::moto::Moto;
use image_triage::config::Config;
use image_triage::pipeline::Pipeline;
use image_triage::Provider;

fn config(mut vars: Vec<(String, String)>, extra: &[(&str, &str)]) -> Config {
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).expect("valid config")
}

/// What an uploader can compute: the MD5 ETag of what they upload, and the config hash any
/// triaged object publishes.
fn forged(etag: &str, config: &Config, provider: Provider) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "triage-marker".to_string(),
            format!(
                "{}:{}",
                etag.trim_matches('"'),
                config.config_hash(provider)
            ),
        ),
        ("triage-verdict".to_string(), "pass".to_string()),
        ("triage-labels".to_string(), "forged".to_string()),
    ])
}

#[tokio::test]
async fn cos_forged_marker_is_not_trusted() {
    let emu = emulator::Emulator::start().await;
    let (bucket, key) = ("photos-1250000000", "uploads/forged.png");
    emu.put_object(bucket, key, common::png_header(800, 600, 5000), "image/png");
    emu.moderate_as(key, "Block", "Porn", 95);
    let cfg = config(emu.env(), &[]);
    let etag = emu.object(bucket, key).unwrap().etag;
    let fake = forged(&etag, &cfg, Provider::Cos);
    emu.edit(bucket, key, |o| o.meta.extend(fake.clone()));
    let pipeline = Pipeline::new(cfg);
    // COS events carry the object's metadata, the forged marker included.
    let event_meta: BTreeMap<String, String> = fake
        .iter()
        .map(|(k, v)| (format!("x-cos-meta-{k}"), v.clone()))
        .collect();
    let ev = emulator::cos_event(bucket, key, "cos:ObjectCreated:Put", &event_meta);
    let o = pipeline
        .handle_event(&serde_json::to_vec(&ev).unwrap(), Some(Provider::Cos))
        .await
        .remove(0);
    assert_eq!(
        (o.status, o.verdict.as_deref()),
        ("done", Some("block")),
        "{o:?}"
    );
    assert_eq!(emu.count("ims"), 1, "analysed");
    let meta = emu.object(bucket, key).unwrap().meta;
    assert_eq!(meta["triage-verdict"], "block");
    assert_ne!(
        meta.get("triage-labels").map(String::as_str),
        Some("forged")
    );
}

#[tokio::test]
async fn obs_forged_marker_is_not_trusted() {
    let emu = huawei::start(Some("forged-marker-token")).await;
    let body = huawei::event_file("obs-native.json");
    let (bucket, key) = huawei::target(&body);
    let mut png = common::png_header(800, 600, 4096);
    png[1000..1007].copy_from_slice(b"BLOCKME");
    emu.emu.put(&bucket, &key, png, "image/png");
    let cfg = config(emu.vars(), &[]);
    let etag = emu.emu.get(&bucket, &key).unwrap().etag;
    let fake = forged(&etag, &cfg, Provider::Obs);
    {
        let mut g = emu.emu.0.lock().unwrap();
        let o = g.objects.get_mut(&(bucket.clone(), key.clone())).unwrap();
        o.meta.extend(fake);
    }
    let pipeline = Pipeline::new(cfg);
    let o = pipeline
        .handle_event(&body, Some(Provider::Obs))
        .await
        .remove(0);
    assert_eq!(
        (o.status, o.verdict.as_deref()),
        ("done", Some("block")),
        "{o:?}"
    );
    assert_eq!(emu.emu.calls("moderation", "POST", ""), 1, "analysed");
    let meta = emu.emu.get(&bucket, &key).unwrap().meta;
    assert_eq!(meta["triage-verdict"], "block");
    assert_ne!(
        meta.get("triage-labels").map(String::as_str),
        Some("forged")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_forged_marker_is_not_trusted_and_the_functions_own_is() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cfg = config(
        moto.env(),
        &[("TRIAGE_LABELER", "none"), ("TRIAGE_MODERATOR", "none")],
    );
    let hash = cfg.config_hash(Provider::S3);
    let pipeline = Pipeline::new(cfg);
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("a.png");
    std::fs::write(&png, common::png_header(64, 64, 1024)).unwrap();
    // A presigned-POST-style upload that sets its own triage-* metadata.
    let etag = moto
        .py(&format!(
            "r = s3.create_bucket(Bucket='uploads-forged')\n\
             import hashlib\nbody = open({:?}, 'rb').read()\n\
             etag = hashlib.md5(body).hexdigest()\n\
             s3.put_object(Bucket='uploads-forged', Key='in/a.png', Body=body, Metadata={{\
             'triage-marker': etag + ':' + {hash:?}, 'triage-verdict': 'pass', 'triage-labels': 'forged'}})\n\
             print(etag)",
            png.display().to_string()
        ))
        .trim()
        .to_string();
    let ev = common::event_for("uploads-forged", "in/a.png", "ObjectCreated:Put");
    let o = pipeline.handle_event(&ev, None).await.remove(0);
    assert_eq!(o.status, "done", "analysed, not skipped: {o:?}");
    let meta = moto.py(
        "print(json.dumps(s3.head_object(Bucket='uploads-forged', Key='in/a.png')['Metadata']))",
    );
    let meta: serde_json::Value = serde_json::from_str(meta.trim()).unwrap();
    assert!(
        meta.get("triage-labels").is_none(),
        "forged labels kept: {meta}"
    );
    assert_eq!(meta["triage-marker"], format!("{etag}:{hash}"), "{meta}");
    // The function's own marker, confirmed by its sidecar: a re-delivery is finished work.
    let again = pipeline.handle_event(&ev, None).await.remove(0);
    assert_eq!(
        again.code.as_deref(),
        Some("already_processed"),
        "{again:?}"
    );
}

#[tokio::test]
async fn with_a_secret_only_the_functions_signed_marker_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::store(dir.path());
    let secret = ("TRIAGE_MARKER_SECRET", "a-long-enough-marker-secret");
    let cfg = common::config(
        dir.path(),
        &[
            secret,
            ("TRIAGE_SINKS", "metadata"),
            ("TRIAGE_LABELER", "none"),
            ("TRIAGE_MODERATOR", "none"),
        ],
    );
    let hash = cfg.config_hash(Provider::S3);
    let pipeline = Pipeline::new(cfg);
    let key = "in/s.png";
    let body = common::png_header(64, 64, 2048);
    use image_triage::store::ObjectStore;
    store
        .put(common::BUCKET, key, body.clone().into(), "image/png")
        .await
        .unwrap();
    let ev = common::event_for(common::BUCKET, key, "ObjectCreated:Put");
    assert_eq!(pipeline.handle_event(&ev, None).await[0].status, "done");
    let ours = store.head(common::BUCKET, key).await.unwrap().metadata["triage-marker"].clone();
    assert_eq!(ours.split(':').count(), 3, "signed: {ours}");
    let again = pipeline.handle_event(&ev, None).await.remove(0);
    assert_eq!(
        again.code.as_deref(),
        Some("already_processed"),
        "{again:?}"
    );
    // The signed marker replayed onto another key, and an unsigned one: neither counts.
    let etag = store.head(common::BUCKET, key).await.unwrap().etag;
    for (other, marker) in [
        ("in/replayed.png", ours.clone()),
        ("in/unsigned.png", format!("{etag}:{hash}")),
    ] {
        store
            .put(common::BUCKET, other, body.clone().into(), "image/png")
            .await
            .unwrap();
        let m = BTreeMap::from([("triage-marker".to_string(), marker)]);
        store
            .update_metadata(common::BUCKET, other, &m)
            .await
            .unwrap();
        let ev = common::event_for(common::BUCKET, other, "ObjectCreated:Put");
        let o = pipeline.handle_event(&ev, None).await.remove(0);
        assert_eq!(o.status, "done", "{other}: {o:?}");
    }
}

/// The guard holds whatever sinks are on: without metadata, the sidecar is the record.
#[tokio::test]
async fn without_metadata_a_replay_is_not_triaged_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::store(dir.path());
    let cfg = common::config(
        dir.path(),
        &[
            ("TRIAGE_SINKS", "tags,sidecar"),
            ("TRIAGE_LABELER", "none"),
            ("TRIAGE_MODERATOR", "none"),
        ],
    );
    let pipeline = Pipeline::new(cfg);
    use image_triage::store::ObjectStore;
    store
        .put(
            common::BUCKET,
            "in/t.png",
            common::png_header(64, 64, 2048).into(),
            "image/png",
        )
        .await
        .unwrap();
    let ev = common::event_for(common::BUCKET, "in/t.png", "ObjectCreated:Put");
    assert_eq!(pipeline.handle_event(&ev, None).await[0].status, "done");
    let again = pipeline.handle_event(&ev, None).await.remove(0);
    assert_eq!(
        again.code.as_deref(),
        Some("already_processed"),
        "{again:?}"
    );
    // New content under the key: triaged again.
    store
        .put(
            common::BUCKET,
            "in/t.png",
            common::png_header(80, 64, 2048).into(),
            "image/png",
        )
        .await
        .unwrap();
    assert_eq!(pipeline.handle_event(&ev, None).await[0].status, "done");
}

/// Without metadata and sidecar (tags and/or queue only) the record is a signed marker tag:
/// a replay is not triaged twice, and a marker tag an uploader set does not count.
#[tokio::test]
async fn with_tags_or_queue_only_the_record_is_a_signed_tag() {
    use image_triage::store::ObjectStore;
    let dir = tempfile::tempdir().unwrap();
    let store = common::store(dir.path());
    let queue = format!("file:{}", dir.path().join("queue.jsonl").display());
    for sinks in ["tags", "queue"] {
        let cfg = common::config(
            dir.path(),
            &[
                ("TRIAGE_MARKER_SECRET", "a-long-enough-marker-secret"),
                ("TRIAGE_SINKS", sinks),
                ("TRIAGE_QUEUE", &queue),
                ("TRIAGE_LABELER", "none"),
                ("TRIAGE_MODERATOR", "none"),
            ],
        );
        let hash = cfg.config_hash(Provider::S3);
        let pipeline = Pipeline::new(cfg);
        let key = format!("in/{sinks}.png");
        let body = common::png_header(64, 64, 2048);
        store
            .put(common::BUCKET, &key, body.clone().into(), "image/png")
            .await
            .unwrap();
        let user_tag = ("team".to_string(), "web".to_string());
        store
            .put_tags(common::BUCKET, &key, std::slice::from_ref(&user_tag))
            .await
            .unwrap();
        let ev = common::event_for(common::BUCKET, &key, "ObjectCreated:Put");
        assert_eq!(pipeline.handle_event(&ev, None).await[0].status, "done");
        let tags = store.get_tags(common::BUCKET, &key).await.unwrap();
        assert_eq!(tags[0], user_tag, "{sinks}: {tags:?}");
        let marker = tags
            .iter()
            .find(|(k, _)| k == "triage-marker")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{sinks}: no marker tag in {tags:?}"));
        assert_eq!(marker.split(':').count(), 3, "signed: {marker}");
        // The signed verdict beside the marker, with or without the tags sink.
        assert!(
            tags.iter()
                .any(|(k, v)| k == "triage-verdict" && v == "pass"),
            "{sinks}: {tags:?}"
        );
        let again = pipeline.handle_event(&ev, None).await.remove(0);
        assert_eq!(
            again.code.as_deref(),
            Some("already_processed"),
            "{again:?}"
        );

        // An uploader's marker tags on new content: the signed one replayed from another key
        // and an unsigned one. Both are analysed, and the forged tags replaced.
        let etag = store.head(common::BUCKET, &key).await.unwrap().etag;
        for (other, forged) in [
            (format!("in/{sinks}-replayed.png"), marker.clone()),
            (format!("in/{sinks}-unsigned.png"), format!("{etag}:{hash}")),
        ] {
            store
                .put(common::BUCKET, &other, body.clone().into(), "image/png")
                .await
                .unwrap();
            let set = [
                ("triage-marker".to_string(), forged.clone()),
                ("triage-verdict".to_string(), "pass".to_string()),
            ];
            store.put_tags(common::BUCKET, &other, &set).await.unwrap();
            let ev = common::event_for(common::BUCKET, &other, "ObjectCreated:Put");
            let o = pipeline.handle_event(&ev, None).await.remove(0);
            assert_eq!(o.status, "done", "{other}: {o:?}");
            let tags = store.get_tags(common::BUCKET, &other).await.unwrap();
            assert!(!tags.iter().any(|(_, v)| *v == forged), "{other}: {tags:?}");
        }
    }
}

/// The marker tag goes on last: a retryable failure before it (here the queue) leaves no
/// marker, so the platform's retry does the whole job instead of stopping as already done.
#[tokio::test]
async fn a_failure_before_the_marker_tag_leaves_no_marker() {
    use image_triage::store::ObjectStore;
    let dir = tempfile::tempdir().unwrap();
    let store = common::store(dir.path());
    // A file where the queue's directory should be: every publish fails (retryably).
    let queue_dir = dir.path().join("not-yet");
    std::fs::write(&queue_dir, b"in the way").unwrap();
    let queue = format!("file:{}", queue_dir.join("q.jsonl").display());
    let cfg = common::config(
        dir.path(),
        &[
            ("TRIAGE_MARKER_SECRET", "a-long-enough-marker-secret"),
            ("TRIAGE_SINKS", "tags,queue"),
            ("TRIAGE_QUEUE", &queue),
            ("TRIAGE_LABELER", "none"),
            ("TRIAGE_MODERATOR", "none"),
        ],
    );
    let pipeline = Pipeline::new(cfg);
    store
        .put(
            common::BUCKET,
            "in/q.png",
            common::png_header(64, 64, 2048).into(),
            "image/png",
        )
        .await
        .unwrap();
    let ev = common::event_for(common::BUCKET, "in/q.png", "ObjectCreated:Put");
    let failed = pipeline.handle_event(&ev, None).await.remove(0);
    assert_eq!(
        (failed.status, failed.retryable),
        ("failed", true),
        "{failed:?}"
    );
    let tags = store.get_tags(common::BUCKET, "in/q.png").await.unwrap();
    assert!(!tags.iter().any(|(k, _)| k == "triage-marker"), "{tags:?}");
    // The queue comes back; the retry publishes and marks.
    std::fs::remove_file(&queue_dir).unwrap();
    std::fs::create_dir_all(&queue_dir).unwrap();
    let retried = pipeline.handle_event(&ev, None).await.remove(0);
    assert_eq!(retried.status, "done", "{retried:?}");
    let lines = std::fs::read_to_string(queue_dir.join("q.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 1);
    let tags = store.get_tags(common::BUCKET, "in/q.png").await.unwrap();
    assert!(tags.iter().any(|(k, _)| k == "triage-marker"), "{tags:?}");
    assert_eq!(
        pipeline.handle_event(&ev, None).await[0].code.as_deref(),
        Some("already_processed")
    );
}

/// Content judged `block` that comes back to its key — the same bytes uploaded again public,
/// with the marker and a `triage-verdict: pass` copied from a HEAD — is not analysed again, but
/// the verdict reported is the function's own and the block action is applied again.
#[tokio::test]
async fn a_blocked_upload_coming_back_public_is_blocked_again() {
    let emu = emulator::Emulator::start().await;
    let (bucket, key) = ("photos-1250000000", "uploads/again.png");
    emu.put_object(bucket, key, common::png_header(800, 600, 5000), "image/png");
    emu.moderate_as(key, "Block", "Porn", 95);
    let pipeline = Pipeline::new(config(emu.env(), &[("TRIAGE_BLOCK_ACTION", "private")]));
    let ev = emulator::cos_event(bucket, key, "cos:ObjectCreated:Put", &BTreeMap::new());
    let ev = serde_json::to_vec(&ev).unwrap();
    let first = pipeline
        .handle_event(&ev, Some(Provider::Cos))
        .await
        .remove(0);
    assert_eq!(first.verdict.as_deref(), Some("block"), "{first:?}");
    assert_eq!(
        emu.object(bucket, key).unwrap().acl.as_deref(),
        Some("private")
    );
    emu.edit(bucket, key, |o| {
        o.acl = Some("public-read".into());
        o.meta.insert("triage-verdict".into(), "pass".into());
    });
    let again = pipeline
        .handle_event(&ev, Some(Provider::Cos))
        .await
        .remove(0);
    assert_eq!(
        again.code.as_deref(),
        Some("already_processed"),
        "{again:?}"
    );
    assert_eq!(
        again.verdict.as_deref(),
        Some("block"),
        "the sidecar's, not the metadata's"
    );
    assert_eq!(
        emu.object(bucket, key).unwrap().acl.as_deref(),
        Some("private")
    );
    assert_eq!(emu.count("ims"), 1);

    // With a marker secret the verdict is signed: a `pass` written over it voids the marker,
    // so the content is triaged again (and blocked again) — from its signed content record,
    // without a second moderation call (content dedupe).
    let emu = emulator::Emulator::start().await;
    emu.put_object(bucket, key, common::png_header(800, 600, 5000), "image/png");
    emu.moderate_as(key, "Block", "Porn", 95);
    let signed = [
        ("TRIAGE_BLOCK_ACTION", "private"),
        ("TRIAGE_MARKER_SECRET", "a-long-enough-marker-secret"),
    ];
    let pipeline = Pipeline::new(config(emu.env(), &signed));
    let first = pipeline
        .handle_event(&ev, Some(Provider::Cos))
        .await
        .remove(0);
    assert_eq!(first.verdict.as_deref(), Some("block"), "{first:?}");
    emu.edit(bucket, key, |o| {
        o.acl = Some("public-read".into());
        o.meta.insert("triage-verdict".into(), "pass".into());
    });
    let again = pipeline
        .handle_event(&ev, Some(Provider::Cos))
        .await
        .remove(0);
    assert_eq!(
        (again.status, again.verdict.as_deref()),
        ("done", Some("block")),
        "{again:?}"
    );
    assert_eq!(emu.count("ims"), 1, "the signed content record was reused");
    assert_eq!(
        emu.object(bucket, key).unwrap().acl.as_deref(),
        Some("private")
    );
}
