//! Issue 10 on moto (SigV4 enforced): the write-back keeps everything that is not ours. Objects
//! with a public-read ACL, another account's grant, SSE-KMS with a bucket key, RFC 2047
//! metadata, object-lock retention and legal hold, a checksum, a website redirect, another
//! storage class, and a multipart upload are triaged, then compared with boto3 before and after,
//! attribute by attribute. The Copy events our metadata writes fire are fed back: no second
//! triage, multipart and KMS objects (whose copy gets a new ETag) included.

mod common;

use std::sync::Arc;

use common::moto::Moto;
use image_triage::config::Config;
use image_triage::pipeline::Pipeline;
use image_triage::review::plan::Action;
use image_triage::store::{self, ObjectStore};
use image_triage::Provider;
use serde_json::Value;

const BUCKET: &str = "attrs";
const OTHER_ACCOUNT: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";

/// Objects, each with the attributes it carries. The bodies are PNG headers padded to size.
const SETUP: &str = r#"
import datetime
s3.create_bucket(Bucket="attrs", ObjectLockEnabledForBucket=True)
kms = boto3.client("kms", **kw)
key_id = kms.create_key()["KeyMetadata"]["KeyId"]
png = open(os.environ["PNG"], "rb").read()
big = open(os.environ["BIG"], "rb").read()
until = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)).replace(microsecond=0)
common = dict(Bucket="attrs", ContentType="image/png", Tagging="team=a")
# S3 returns non-ASCII metadata RFC 2047-encoded; raw UTF-8 values (moto cannot verify SigV4
# over them) are checked on the COS and OBS emulators.
s3.put_object(Key="in/public.png", Body=png, ACL="public-read", CacheControl="max-age=60",
    ContentDisposition='inline; filename="p.png"', ContentLanguage="de", Expires=until,
    WebsiteRedirectLocation="/elsewhere.html", StorageClass="STANDARD_IA",
    Metadata={"owner": "alice", "city": "=?UTF-8?B?WsO8cmljaA==?="},
    ChecksumAlgorithm="CRC32", **common)
s3.put_object(Key="in/grant.png", Body=png, GrantRead="id=" + os.environ["OTHER"],
    GrantFullControl="id=" + os.environ["OWNER"], **common)
s3.put_object(Key="in/kms.png", Body=png, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id,
    BucketKeyEnabled=True, **common)
s3.put_object(Key="in/locked.png", Body=png, ObjectLockMode="GOVERNANCE",
    ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON", **common)
up = s3.create_multipart_upload(Key="in/multi.png", **common)
parts = []
for n, chunk in enumerate([big[:5 * 1024 * 1024], big[5 * 1024 * 1024:]], start=1):
    r = s3.upload_part(Bucket="attrs", Key="in/multi.png", UploadId=up["UploadId"], PartNumber=n, Body=chunk)
    parts.append({"ETag": r["ETag"], "PartNumber": n})
s3.complete_multipart_upload(Bucket="attrs", Key="in/multi.png", UploadId=up["UploadId"],
    MultipartUpload={"Parts": parts})
# moto (5.x) gives a completed multipart upload no ACL at all (GetObjectAcl answers 500);
# S3 gives it the owner's. Set that one explicitly.
s3.put_object_acl(Bucket="attrs", Key="in/multi.png", ACL="private")
print(json.dumps({"kms_key": key_id}))
"#;

/// Everything S3 says about each object, as boto3 reads it (not our client).
const SNAPSHOT: &str = r#"
import hashlib
out = {}
for key in json.loads(os.environ["KEYS"]):
    h = s3.head_object(Bucket="attrs", Key=key, ChecksumMode="ENABLED")
    for k in ("ResponseMetadata", "LastModified", "VersionId", "AcceptRanges"):
        h.pop(k, None)
    if "Expires" in h:
        h["Expires"] = str(h["Expires"])
    if "ObjectLockRetainUntilDate" in h:
        h["ObjectLockRetainUntilDate"] = str(h["ObjectLockRetainUntilDate"])
    acl = s3.get_object_acl(Bucket="attrs", Key=key)
    body = s3.get_object(Bucket="attrs", Key=key)["Body"].read()
    tags = s3.get_object_tagging(Bucket="attrs", Key=key)["TagSet"]
    out[key] = {"head": h, "grants": sorted(json.dumps(g, sort_keys=True) for g in acl["Grants"]),
                "owner": acl["Owner"]["ID"], "sha256": hashlib.sha256(body).hexdigest(),
                "tags": sorted((t["Key"], t["Value"]) for t in tags)}
print(json.dumps(out, default=str))
"#;

const KEYS: [&str; 5] = [
    "in/public.png",
    "in/grant.png",
    "in/kms.png",
    "in/locked.png",
    "in/multi.png",
];

fn snapshot(moto: &Moto) -> Value {
    let keys = serde_json::to_string(&KEYS).unwrap();
    let out = std::process::Command::new(
        std::env::var_os("TRIAGE_TOOLS_PYTHON")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| common::cache_dir().join("tools/bin/python")),
    )
    .arg("-c")
    .arg(format!("{}\n{SNAPSHOT}", common::moto::PRELUDE))
    .env("EP", &moto.endpoint)
    .env("AK", &moto.access_key)
    .env("SK", &moto.secret_key)
    .env("KEYS", keys)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The part of a snapshot that is not ours: `triage-*` metadata and tags dropped, and the ETag
/// where a copy legitimately changes it (multipart, KMS).
fn not_ours(v: &Value, key: &str) -> Value {
    let mut v = v[key].clone();
    if let Some(m) = v["head"]["Metadata"].as_object_mut() {
        m.retain(|k, _| !k.starts_with("triage-"));
    }
    if let Some(t) = v["tags"].as_array_mut() {
        t.retain(|p| !p[0].as_str().unwrap_or("").starts_with("triage-"));
    }
    let head = v["head"].as_object_mut().unwrap();
    // Our tags count too; the tags themselves are compared above.
    head.remove("TagCount");
    if key.contains("multi") || key.contains("kms") {
        head.remove("ETag");
    }
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn write_back_keeps_every_attribute_that_is_not_ours() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let owner = moto
        .py("print(s3.list_buckets()['Owner']['ID'])")
        .trim()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let (png, big) = (dir.path().join("a.png"), dir.path().join("big.png"));
    std::fs::write(&png, common::png_header(320, 240, 2048)).unwrap();
    std::fs::write(&big, common::png_header(640, 480, 6 * 1024 * 1024)).unwrap();
    let script = format!(
        "os.environ.update(PNG={:?}, BIG={:?}, OTHER={OTHER_ACCOUNT:?}, OWNER={owner:?})\n{SETUP}",
        png.display().to_string(),
        big.display().to_string()
    );
    let setup: Value = serde_json::from_str(moto.py(&script).trim()).unwrap();
    assert!(setup["kms_key"].is_string());
    let before = snapshot(&moto);
    assert_eq!(
        before["in/public.png"]["head"]["Metadata"]["owner"],
        "alice"
    );
    assert!(
        before["in/multi.png"]["head"]["ETag"]
            .as_str()
            .unwrap()
            .contains('-'),
        "a multipart ETag: {before}"
    );

    let mut vars = moto.env();
    vars.extend(
        [
            ("TRIAGE_LABELER", "none"),
            ("TRIAGE_MODERATOR", "none"),
            ("TRIAGE_SINKS", "metadata,tags,sidecar"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let config = Config::from_vars(vars).unwrap();
    let s3: Arc<dyn ObjectStore> = store::for_provider(&config, Provider::S3).unwrap();
    let pipeline = Pipeline::with_store(config, s3.clone());
    for key in KEYS {
        let name = if key.contains("multi") {
            "ObjectCreated:CompleteMultipartUpload"
        } else {
            "ObjectCreated:Put"
        };
        let o = pipeline
            .handle_event(&common::event_for(BUCKET, key, name), None)
            .await
            .remove(0);
        assert_eq!(o.status, "done", "{key}: {o:?}");
    }

    let after = snapshot(&moto);
    for key in KEYS {
        let meta = &after[key]["head"]["Metadata"];
        assert!(meta["triage-marker"].is_string(), "{key}: {after}");
        assert_eq!(
            not_ours(&before, key),
            not_ours(&after, key),
            "{key}: something that is not ours changed"
        );
    }
    // Where the copy gave the object a new ETag, the marker also names the content.
    for key in ["in/multi.png", "in/kms.png"] {
        let meta = &after[key]["head"]["Metadata"];
        assert_eq!(
            meta["triage-content"],
            format!("sha256:{}", after[key]["sha256"].as_str().unwrap()),
            "{key}"
        );
    }

    // The Copy events of our own writes: recognised, never a second triage.
    for key in KEYS {
        let o = pipeline
            .handle_event(&common::event_for(BUCKET, key, "ObjectCreated:Copy"), None)
            .await
            .remove(0);
        assert_eq!(o.code.as_deref(), Some("write_back_copy"), "{key}: {o:?}");
        let o = pipeline
            .handle_event(&common::event_for(BUCKET, key, "ObjectCreated:Put"), None)
            .await
            .remove(0);
        assert_eq!(o.code.as_deref(), Some("already_processed"), "{key}: {o:?}");
    }
    assert_eq!(snapshot(&moto), after, "a skipped event wrote something");

    // A human decision on objects whose copy changes the ETag (review, issue 16): its own
    // metadata copy gives them yet another ETag, and still the re-delivered upload is finished
    // work with the human's verdict, a new configuration keeps the decision (by the content
    // hash), and the decision's Copy event is recognised.
    for key in ["in/multi.png", "in/kms.png"] {
        let seen = common::sidecar_json(&*s3, BUCKET, key).await["object"]["etag"]
            .as_str()
            .unwrap()
            .to_string();
        let d = pipeline
            .decide(Provider::S3, BUCKET, key, Action::Block, "ana", Some(&seen))
            .await
            .unwrap();
        assert!(d.result.review.as_ref().unwrap().content.is_some(), "{key}");
        let o = pipeline
            .handle_event(&common::event_for(BUCKET, key, "ObjectCreated:Copy"), None)
            .await
            .remove(0);
        assert_eq!(o.code.as_deref(), Some("write_back_copy"), "{key}: {o:?}");
        let o = pipeline
            .handle_event(&common::event_for(BUCKET, key, "ObjectCreated:Put"), None)
            .await
            .remove(0);
        assert_eq!(
            (o.code.as_deref(), o.verdict.as_deref()),
            (Some("already_processed"), Some("block")),
            "{key}: {o:?}"
        );
    }
    let mut vars = moto.env();
    vars.extend(
        [
            ("TRIAGE_LABELER", "none"),
            ("TRIAGE_MODERATOR", "none"),
            ("TRIAGE_SINKS", "metadata,tags,sidecar"),
            ("TRIAGE_MAX_LABELS", "3"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let changed = Pipeline::with_store(Config::from_vars(vars).unwrap(), s3.clone());
    for key in ["in/multi.png", "in/kms.png"] {
        let o = changed
            .handle_event(&common::event_for(BUCKET, key, "ObjectCreated:Put"), None)
            .await
            .remove(0);
        assert_eq!(
            (o.status, o.verdict.as_deref()),
            ("done", Some("block")),
            "{key}: {o:?}"
        );
        let s = common::sidecar_json(&*s3, BUCKET, key).await;
        assert!(
            s["notes"].to_string().contains("human decision kept"),
            "{s}"
        );
    }
}

/// On a versioned bucket the tags go to the version that was analysed, and a version delete
/// removes only that version: neither touches the upload that replaced it.
#[tokio::test(flavor = "multi_thread")]
async fn tags_and_delete_go_to_the_version_that_was_analysed() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let v: Value = serde_json::from_str(
        moto.py(r#"
s3.create_bucket(Bucket="ver")
s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
v1 = s3.put_object(Bucket="ver", Key="in/a.png", Body=b"first")["VersionId"]
v2 = s3.put_object(Bucket="ver", Key="in/a.png", Body=b"second")["VersionId"]
print(json.dumps({"v1": v1, "v2": v2}))
"#)
            .trim(),
    )
    .unwrap();
    let config = Config::from_vars(moto.env()).unwrap();
    let s3 = store::for_provider(&config, Provider::S3).unwrap();
    let head = s3.head("ver", "in/a.png").await.unwrap();
    assert_eq!(head.version_id.as_deref(), v["v2"].as_str(), "{head:?}");
    let (v1, v2) = (v["v1"].as_str().unwrap(), v["v2"].as_str().unwrap());
    let tags = vec![("triage-verdict".to_string(), "block".to_string())];
    s3.put_version_tags("ver", "in/a.png", Some(v1), &tags)
        .await
        .unwrap();
    assert_eq!(
        s3.get_version_tags("ver", "in/a.png", Some(v1))
            .await
            .unwrap(),
        tags
    );
    let seen: Value = serde_json::from_str(
        moto.py(&format!(
            "print(json.dumps([s3.get_object_tagging(Bucket='ver', Key='in/a.png', VersionId=v)['TagSet'] for v in ({v1:?}, {v2:?})]))"
        ))
        .trim(),
    )
    .unwrap();
    assert_eq!(seen[0][0]["Value"], "block", "{seen}");
    assert_eq!(
        seen[1],
        serde_json::json!([]),
        "the newer version was tagged: {seen}"
    );

    // Deleting one version removes exactly that one: the newer upload stays current (a plain
    // DELETE would hide it under a delete marker).
    s3.delete_version("ver", "in/a.png", Some(v1))
        .await
        .unwrap();
    let left: Value = serde_json::from_str(
        moto.py(
            "r = s3.list_object_versions(Bucket='ver', Prefix='in/a.png')\n\
             print(json.dumps({'versions': [v['VersionId'] for v in r.get('Versions', [])], \
             'markers': len(r.get('DeleteMarkers', []))}))",
        )
        .trim(),
    )
    .unwrap();
    assert_eq!(left["versions"], serde_json::json!([v2]), "{left}");
    assert_eq!(left["markers"], 0, "{left}");
    assert_eq!(s3.get("ver", "in/a.png").await.unwrap().as_ref(), b"second");
}

/// Keys S3 allows but path-normalising clients mangle, end to end: the event (keys
/// form-encoded as S3 sends them), the analysis, the metadata copy, the quarantine move and the
/// sidecar, all under exactly that key.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_keys_from_event_to_sidecar() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("a.png");
    std::fs::write(&png, common::png_header(64, 64, 1024)).unwrap();
    let keys = [
        "in/./dot.png",
        "in/../up.png",
        "in//double.png",
        "in/trailing/.",
        "in/sp ace+plus%25=&;.png",
        "in/猫 ü.png",
    ];
    moto.py(&format!(
        "s3.create_bucket(Bucket='keys')\nbody = open({:?}, 'rb').read()\nfor k in {}:\n    s3.put_object(Bucket='keys', Key=k, Body=body, ContentType='image/png')",
        png.display().to_string(),
        serde_json::to_string(&keys).unwrap()
    ));
    let mut vars = moto.env();
    vars.extend(
        [
            ("TRIAGE_LABELER", "none"),
            ("TRIAGE_MODERATOR", "none"),
            ("TRIAGE_SINKS", "metadata,tags,sidecar"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let pipeline = Pipeline::new(Config::from_vars(vars).unwrap());
    for key in keys {
        let o = pipeline
            .handle_event(&common::event_for("keys", key, "ObjectCreated:Put"), None)
            .await
            .remove(0);
        assert_eq!((o.status, o.key.as_deref()), ("done", Some(key)), "{o:?}");
    }
    // Read back by boto3: every object carries its marker, every sidecar is at its exact key.
    let seen: Value = serde_json::from_str(
        moto.py(&format!(
            "out = {{}}\nfor k in {}:\n    h = s3.head_object(Bucket='keys', Key=k)\n    sc = json.loads(s3.get_object(Bucket='keys', Key='triage-results/' + k + '.json')['Body'].read())\n    out[k] = [h['Metadata'].get('triage-marker'), sc['object']['key']]\nprint(json.dumps(out))",
            serde_json::to_string(&keys).unwrap()
        ))
        .trim(),
    )
    .unwrap();
    for key in keys {
        assert!(seen[key][0].is_string(), "{key}: {seen}");
        assert_eq!(seen[key][1], key, "{seen}");
    }
}
