//! Issue 10, point 6: every key the store allows works, byte for byte. Clients that normalise
//! paths turn `a/./b` into `a/b` (another object, or a signature over a path that was not
//! sent); keys are escaped so no client does, and the counterpart must hold exactly the key.

use std::sync::Arc;
use std::time::Duration;

use image_triage::store::StoreError;

use super::checks::{body, meta, parts};
use super::harness::Harness;

/// Keys with dot segments, doubled and trailing slashes, characters that need escaping, and
/// unicode; the last is `long` bytes.
fn hostile_keys(long_len: usize) -> Vec<String> {
    let mut keys: Vec<String> = [
        "conf/keys/./dot.png",
        "conf/keys/../dotdot.png",
        "conf/keys/a/../../up.png",
        "conf/keys//double.png",
        "conf/keys/trailing/.",
        "conf/keys/trailing-dotdot/..",
        "conf/keys/sp ace+plus%25pct%=eq&amp;semi;.png",
        "conf/keys/猫 ü é/?#[]@!$'()*,.png",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    // Segments under 255 bytes, so a file system can hold it too.
    let mut long = "conf/keys/long".to_string();
    while long.len() < long_len - 5 {
        long.push('/');
        let room = long_len - 4 - long.len();
        long.push_str(&"x".repeat(room.min(200)));
    }
    long.push_str(".png");
    assert_eq!(long.len(), long_len);
    keys.push(long);
    keys
}

/// Keys the embedded bucket refuses because they would leave or alias its directory.
fn local_refuses(key: &str) -> bool {
    key.ends_with('/')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
}

pub async fn hostile_keys_work(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    // COS allows 850-byte keys, S3 and OBS 1,024.
    let long = if matches!(h.counterpart, super::harness::Counterpart::Cos(_)) {
        850
    } else {
        1000
    };
    for (i, key) in hostile_keys(long).iter().enumerate() {
        let content = body(700 + i, 40 + i as u8);
        let put = s.put(b, key, content.clone(), "image/png").await;
        if h.is_local() && local_refuses(key) {
            assert!(
                matches!(put, Err(StoreError::InvalidKey { .. })),
                "{key:?}: {put:?}"
            );
            continue;
        }
        put.unwrap_or_else(|e| panic!("put {key:?}: {e}"));
        assert!(
            h.stored_keys("conf/keys/").await.contains(key),
            "{key:?} is not what the counterpart stored"
        );
        let head = s
            .head(b, key)
            .await
            .unwrap_or_else(|e| panic!("head {key:?}: {e}"));
        assert_eq!(head.size, content.len() as u64, "{key:?}");
        assert_eq!(s.get(b, key).await.unwrap(), content, "{key:?}");
        assert_eq!(
            s.get_range(b, key, 10..20).await.unwrap(),
            content.slice(10..20),
            "{key:?}"
        );
        s.update_metadata_if(b, key, &meta(&[("triage-verdict", "pass")]), &head.etag)
            .await
            .unwrap_or_else(|e| panic!("metadata {key:?}: {e}"));
        assert_eq!(
            s.head(b, key).await.unwrap().metadata.get("triage-verdict"),
            Some(&"pass".to_string()),
            "{key:?}"
        );
        let tags = vec![("triage-verdict".to_string(), "pass".to_string())];
        s.put_tags(b, key, &tags)
            .await
            .unwrap_or_else(|e| panic!("tags {key:?}: {e}"));
        assert_eq!(s.get_tags(b, key).await.unwrap(), tags, "{key:?}");
        let listed = s.list(b, key, None, 10).await.unwrap();
        assert!(
            listed.objects.iter().any(|o| &o.key == key),
            "{key:?} not listed: {listed:?}"
        );
        if s.capabilities().presign {
            let url = h
                .presign_store()
                .presign(b, key, Duration::from_secs(60))
                .await
                .unwrap();
            if !matches!(h.counterpart, super::harness::Counterpart::S3 { .. }) {
                assert_eq!(
                    h.fetch_presigned(&url).await.unwrap(),
                    content,
                    "{key:?}: {url}"
                );
            }
        }
        s.delete(b, key)
            .await
            .unwrap_or_else(|e| panic!("delete {key:?}: {e}"));
        assert!(
            !h.stored_keys("conf/keys/").await.contains(key),
            "{key:?} still stored after delete"
        );
    }
}
