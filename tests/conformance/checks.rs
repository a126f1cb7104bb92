//! The checks every `ObjectStore` must pass, each on its own keys (`conf/<check>/…`). A check
//! panics on the first broken expectation; the runner reports every failed check by name.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use image_triage::store::{ObjectStore, StoreError};

pub use super::conditional::{conditional_metadata_update, conditional_metadata_update_race};
use super::harness::Harness;
pub use super::tag_limits::tags_documented_limits;

/// Deterministic bytes without a short period (a read at the wrong offset shows), different
/// per `seed`.
pub fn body(len: usize, seed: u8) -> Bytes {
    (0..len as u64)
        .map(|i| ((i + seed as u64 * 1_000_003).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect::<Vec<u8>>()
        .into()
}

pub(super) fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

#[track_caller]
pub(super) fn assert_not_found<T: Debug>(
    r: Result<T, StoreError>,
    bucket: &str,
    key: &str,
    what: &str,
) {
    match r {
        Err(StoreError::NotFound { bucket: b, key: k }) if b == bucket && k == key => {}
        other => panic!("{what} of missing {bucket}/{key}: want NotFound, got {other:?}"),
    }
}

pub(super) fn parts(h: &Harness) -> (&dyn ObjectStore, &str) {
    (&*h.store, h.bucket.as_str())
}

/// HEAD: size, unquoted ETag, content type, user metadata (keys lower-cased); a missing key is
/// `NotFound`.
pub async fn head(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/head/my cat+1.png";
    s.put(b, key, body(1000, 1), "image/png").await.unwrap();
    let m = s.head(b, key).await.unwrap();
    assert_eq!(m.size, 1000);
    assert!(
        !m.etag.is_empty() && !m.etag.contains('"'),
        "ETag without quotes: {m:?}"
    );
    assert_eq!(m.content_type.as_deref(), Some("image/png"));
    assert!(m.metadata.is_empty(), "a new object has no metadata: {m:?}");

    let entries = meta(&[("Triage-Verdict", "pass"), ("note", "two words")]);
    s.update_metadata(b, key, &entries).await.unwrap();
    let m2 = s.head(b, key).await.unwrap();
    assert_eq!(
        m2.metadata,
        meta(&[("triage-verdict", "pass"), ("note", "two words")])
    );
    assert_eq!((m2.size, &m2.etag), (m.size, &m.etag));
    assert_not_found(
        s.head(b, "conf/head/missing.png").await,
        b,
        "conf/head/missing.png",
        "head",
    );
}

/// Ranges are end-exclusive and clamped to the object's size; a range that starts at or past
/// the end (or is empty) reads as no bytes, on every store.
pub async fn ranged_read(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/range/r.bin";
    let full = body(1000, 2);
    s.put(b, key, full.clone(), "application/octet-stream")
        .await
        .unwrap();
    let cases: [(std::ops::Range<u64>, &[u8]); 8] = [
        (100..200, &full[100..200]),
        (0..1, &full[..1]),
        (999..1000, &full[999..]),
        (990..5000, &full[990..]),
        (0..10_000, &full[..]),
        (1000..1010, b""),
        (5000..6000, b""),
        (10..10, b""),
    ];
    for (range, want) in cases {
        let got = s.get_range(b, key, range.clone()).await;
        let got = got.unwrap_or_else(|e| panic!("{range:?}: {e}"));
        assert_eq!(&got[..], want, "{range:?}");
    }
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 20..10;
    assert!(s.get_range(b, key, reversed).await.unwrap().is_empty());

    let empty = "conf/range/empty.bin";
    s.put(b, empty, Bytes::new(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(s.head(b, empty).await.unwrap().size, 0);
    assert!(s.get_range(b, empty, 0..10).await.unwrap().is_empty());
}

/// GET returns the whole object, byte for byte; a missing key is `NotFound`.
pub async fn get(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/get/猫 photo (2)+x.png";
    let big = body(256 * 1024 + 3, 3);
    s.put(b, key, big.clone(), "image/png").await.unwrap();
    assert_eq!(s.get(b, key).await.unwrap(), big);
    let empty = "conf/get/empty";
    s.put(b, empty, Bytes::new(), "text/plain").await.unwrap();
    assert!(s.get(b, empty).await.unwrap().is_empty());
    assert_not_found(s.get(b, "conf/get/nope").await, b, "conf/get/nope", "get");
}

/// PUT then HEAD; a second PUT replaces content, type, metadata and tags; equal content gives
/// an equal ETag.
pub async fn put_then_head(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/put/p.img";
    let (one, two) = (body(500, 4), body(700, 5));
    s.put(b, key, one.clone(), "image/png").await.unwrap();
    let first = s.head(b, key).await.unwrap();
    assert_eq!(
        (first.size, first.content_type.as_deref()),
        (500, Some("image/png"))
    );
    s.update_metadata(b, key, &meta(&[("old", "1")]))
        .await
        .unwrap();
    s.put_tags(b, key, &tags(&[("old", "1")])).await.unwrap();

    s.put(b, key, two.clone(), "image/jpeg").await.unwrap();
    let second = s.head(b, key).await.unwrap();
    assert_eq!(second.size, 700);
    assert_eq!(second.content_type.as_deref(), Some("image/jpeg"));
    assert_ne!(second.etag, first.etag, "new content, new ETag");
    assert!(
        second.metadata.is_empty(),
        "a PUT replaces metadata: {second:?}"
    );
    assert!(
        s.get_tags(b, key).await.unwrap().is_empty(),
        "a PUT replaces tags"
    );
    assert_eq!(s.get(b, key).await.unwrap(), two);

    s.put(b, "conf/put/same.img", one, "image/png")
        .await
        .unwrap();
    assert_eq!(
        s.head(b, "conf/put/same.img").await.unwrap().etag,
        first.etag
    );
}

/// update_metadata sets the named entries and keeps everything else: the bytes, the ETag, the
/// content type, the other user metadata, the tags, and a private ACL.
pub async fn update_metadata_keeps_the_rest(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/meta/m.webp";
    let content = body(3000, 6);
    s.put(b, key, content.clone(), "image/webp").await.unwrap();
    s.put_tags(b, key, &tags(&[("t", "1"), ("label", "cat")]))
        .await
        .unwrap();
    s.update_metadata(b, key, &meta(&[("a", "1"), ("b", "x")]))
        .await
        .unwrap();
    let before = s.head(b, key).await.unwrap();
    assert_eq!(before.metadata, meta(&[("a", "1"), ("b", "x")]));

    s.update_metadata(b, key, &meta(&[("B", "2"), ("c", "3")]))
        .await
        .unwrap();
    let after = s.head(b, key).await.unwrap();
    assert_eq!(after.metadata, meta(&[("a", "1"), ("b", "2"), ("c", "3")]));
    assert_eq!(after.content_type.as_deref(), Some("image/webp"));
    assert_eq!((after.size, &after.etag), (before.size, &before.etag));
    assert_eq!(s.get(b, key).await.unwrap(), content);
    assert_eq!(
        sorted(s.get_tags(b, key).await.unwrap()),
        tags(&[("label", "cat"), ("t", "1")])
    );

    // Block action, then write-back: the object must stay private.
    s.set_private(b, key).await.unwrap();
    s.update_metadata(b, key, &meta(&[("triage-verdict", "block")]))
        .await
        .unwrap();
    assert_eq!(
        h.acl(key).await,
        "private",
        "a metadata write made it non-private"
    );
}

/// A metadata write must not reset the ACL of a public-read object.
pub async fn update_metadata_acl_kept(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/acl-kept/pub.png";
    s.put(b, key, body(100, 7), "image/png").await.unwrap();
    h.make_public(key).await;
    assert_eq!(h.acl(key).await, "public-read");
    s.update_metadata(b, key, &meta(&[("triage-verdict", "pass")]))
        .await
        .unwrap();
    // S3 and COS copy the object onto itself, which resets the ACL unless it is sent again.
    assert_eq!(
        h.acl(key).await,
        "public-read",
        "the metadata write changed the ACL"
    );
}

/// Tags: replace semantics, and the vendor's limits from `tag_rules()`.
pub async fn tags_round_trip_and_limits(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/tags/t.png";
    s.put(b, key, body(100, 8), "image/png").await.unwrap();
    assert!(s.get_tags(b, key).await.unwrap().is_empty());

    let set = tags(&[("triage-verdict", "pass"), ("label", "cat dog")]);
    s.put_tags(b, key, &set).await.unwrap();
    assert_eq!(sorted(s.get_tags(b, key).await.unwrap()), sorted(set));
    s.put_tags(b, key, &tags(&[("only", "one")])).await.unwrap();
    assert_eq!(s.get_tags(b, key).await.unwrap(), tags(&[("only", "one")]));

    let rules = s.tag_rules();
    // A key and a value at the length limits, made of every allowed special character.
    let fill = |len: usize, seed: &str| -> String {
        let mut v = format!("A{}0", rules.extra_chars);
        v.push_str(seed);
        assert!(v.len() <= len, "{} is too short for the test", len);
        while v.len() < len {
            v.push('z');
        }
        v
    };
    let edge = vec![(
        fill(rules.max_key_chars, "k"),
        fill(rules.max_value_chars, "v"),
    )];
    s.put_tags(b, key, &edge).await.unwrap();
    assert_eq!(s.get_tags(b, key).await.unwrap(), edge);

    let many = |n: usize| -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("k{i:02}"), format!("v{i}")))
            .collect()
    };
    let max = many(rules.max_tags);
    s.put_tags(b, key, &max).await.unwrap();
    assert_eq!(sorted(s.get_tags(b, key).await.unwrap()), max);
    let too_many = many(rules.max_tags + 1);
    let r = s.put_tags(b, key, &too_many).await;
    assert!(
        r.is_err(),
        "{} tags accepted (max {})",
        too_many.len(),
        rules.max_tags
    );
    assert_eq!(
        sorted(s.get_tags(b, key).await.unwrap()),
        max,
        "a refused set changes nothing"
    );
}

/// set_private: afterwards the counterpart holds the object private (and, where it decides by
/// the ACL, refuses an unauthenticated GET); the owner still reads it.
pub async fn set_private(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/private/secret.png";
    let content = body(300, 9);
    s.put(b, key, content.clone(), "image/png").await.unwrap();
    h.make_public(key).await;
    assert_eq!(h.acl(key).await, "public-read");
    s.set_private(b, key).await.unwrap();
    assert_eq!(h.acl(key).await, "private");
    if let Some(status) = h.anonymous_get_status(key).await {
        assert_eq!(status, 403, "an unauthenticated GET of a private object");
    }
    s.set_private(b, key).await.unwrap();
    assert_eq!(h.acl(key).await, "private");
    assert_eq!(s.get(b, key).await.unwrap(), content);
}

/// rename: the new key has the same bytes, type and metadata; the old one is gone.
pub async fn rename(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let (from, to) = ("conf/rename/a.gif", "conf/rename/moved/deeper/new name.gif");
    let content = body(2000, 10);
    s.put(b, from, content.clone(), "image/gif").await.unwrap();
    s.update_metadata(b, from, &meta(&[("m", "1"), ("verdict", "block")]))
        .await
        .unwrap();
    s.rename(b, from, to, None).await.unwrap();
    assert_eq!(s.get(b, to).await.unwrap(), content);
    let m = s.head(b, to).await.unwrap();
    assert_eq!(m.content_type.as_deref(), Some("image/gif"));
    assert_eq!(m.metadata, meta(&[("m", "1"), ("verdict", "block")]));
    assert_eq!(m.size, 2000);
    assert_not_found(s.head(b, from).await, b, from, "head after rename");
    assert_not_found(s.get(b, from).await, b, from, "get after rename");
}

/// delete: the object is gone; deleting a missing key succeeds (S3 semantics), on every store.
pub async fn delete(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/delete/d.png";
    s.put(b, key, body(10, 11), "image/png").await.unwrap();
    s.delete(b, key).await.unwrap();
    assert_not_found(s.head(b, key).await, b, key, "head after delete");
    assert_not_found(s.get(b, key).await, b, key, "get after delete");
    assert!(s
        .list(b, "conf/delete/", None, 10)
        .await
        .unwrap()
        .objects
        .is_empty());
    s.delete(b, key)
        .await
        .unwrap_or_else(|e| panic!("deleting a deleted key: {e:?}"));
    s.delete(b, "conf/delete/never-was.png")
        .await
        .unwrap_or_else(|e| panic!("deleting a key that never existed: {e:?}"));
}

/// Every per-object operation on a missing key is `NotFound`.
pub async fn missing_key_is_not_found(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let k = "conf/missing/ghost.png";
    assert_not_found(s.head(b, k).await, b, k, "head");
    assert_not_found(s.get(b, k).await, b, k, "get");
    assert_not_found(s.get_range(b, k, 0..10).await, b, k, "get_range");
    assert_not_found(
        s.update_metadata(b, k, &meta(&[("a", "1")])).await,
        b,
        k,
        "update_metadata",
    );
    assert_not_found(
        s.put_tags(b, k, &tags(&[("a", "1")])).await,
        b,
        k,
        "put_tags",
    );
    assert_not_found(s.get_tags(b, k).await, b, k, "get_tags");
    assert_not_found(s.set_private(b, k).await, b, k, "set_private");
    let r = s.rename(b, k, "conf/missing/elsewhere.png", None).await;
    assert!(
        matches!(r, Err(StoreError::NotFound { .. })),
        "rename: {r:?}"
    );
    assert_not_found(
        s.head(b, "conf/missing/elsewhere.png").await,
        b,
        "conf/missing/elsewhere.png",
        "head",
    );
}

/// Paging with `start_after = next_marker`: all and only the prefix's keys, sorted by bytes,
/// no duplicates, full pages but the last, `None` after the last page.
pub async fn list_pages(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let inside = [
        "0.png",
        "1 a.png",
        "10.png",
        "2.png",
        "Z.png",
        "sub/x.png",
        "é.png",
    ];
    let outside = [
        "conf-list/o.png",
        "conf-list/p-x.png",
        "conf-list/p0.png",
        "conf-list/q/1.png",
    ];
    let mut want: Vec<String> = inside.iter().map(|k| format!("conf-list/p/{k}")).collect();
    let all: Vec<&str> = want.iter().map(String::as_str).chain(outside).collect();
    for (i, k) in all.into_iter().enumerate() {
        s.put(b, k, body(10 + i, 12), "image/png").await.unwrap();
    }
    want.sort();
    for limit in [1usize, 3, 7, 1000] {
        let (mut got, mut marker, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let page = s
                .list(b, "conf-list/p/", marker.as_deref(), limit)
                .await
                .unwrap();
            pages += 1;
            assert!(
                pages <= want.len() + 1,
                "limit {limit}: paging does not end"
            );
            assert!(page.objects.len() <= limit, "limit {limit}: {page:?}");
            for o in &page.objects {
                let m = s.head(b, &o.key).await.unwrap();
                assert_eq!((o.size, &o.etag), (m.size, &m.etag), "{}", o.key);
            }
            got.extend(page.objects.iter().map(|o| o.key.clone()));
            match page.next_marker {
                Some(next) => {
                    assert_eq!(
                        page.objects.len(),
                        limit,
                        "limit {limit}: short page with a marker"
                    );
                    marker = Some(next);
                }
                None => break,
            }
        }
        assert_eq!(got, want, "limit {limit}");
        assert_eq!(pages, want.len().div_ceil(limit), "limit {limit}: pages");
    }
    let none = s.list(b, "conf-list/nothing/", None, 10).await.unwrap();
    assert!(
        none.objects.is_empty() && none.next_marker.is_none(),
        "{none:?}"
    );
    let past = s
        .list(b, "conf-list/p/", want.last().map(String::as_str), 10)
        .await
        .unwrap();
    assert!(
        past.objects.is_empty() && past.next_marker.is_none(),
        "{past:?}"
    );
}

/// presign: the counterpart serves the URL to a plain GET and refuses it unsigned, pointed at
/// another key, or expired (where it checks expiry). The local store has no URLs to give.
pub async fn presign(h: Arc<Harness>) {
    let b = h.bucket.as_str();
    let (key, other) = ("conf/presign/a.png", "conf/presign/b.png");
    let content = body(4096, 13);
    if h.is_local() {
        h.store.put(b, key, content, "image/png").await.unwrap();
        let r = h.store.presign(b, key, Duration::from_secs(60)).await;
        assert!(
            matches!(r, Err(StoreError::Unsupported { store: "local", .. })),
            "{r:?}"
        );
        return;
    }
    let s = h.presign_store();
    s.put(b, key, content.clone(), "image/png").await.unwrap();
    s.put(b, other, body(10, 14), "image/png").await.unwrap();
    let url = s.presign(b, key, Duration::from_secs(60)).await.unwrap();
    assert_eq!(h.fetch_presigned(&url).await.unwrap(), content, "{url}");

    let unsigned = url.split('?').next().unwrap();
    assert!(
        h.fetch_presigned(unsigned).await.is_err(),
        "unsigned URL served"
    );
    assert!(url.contains("/a.png?"), "{url}");
    let tampered = url.replacen("/a.png?", "/b.png?", 1);
    let r = h.fetch_presigned(&tampered).await;
    assert!(r.is_err(), "a signature for {key} opened {other}");

    if h.checks_presigned_expiry() {
        let short = s.presign(b, key, Duration::from_secs(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(
            h.fetch_presigned(&short).await.is_err(),
            "expired URL served"
        );
    }
}
