//! Unit tests of the embedded bucket.

use super::*;

#[tokio::test]
async fn round_trip_metadata_tags_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    s.put(
        "b",
        "a/cat.jpg",
        Bytes::from_static(b"0123456789"),
        "image/jpeg",
    )
    .await
    .unwrap();
    let m = s.head("b", "a/cat.jpg").await.unwrap();
    assert_eq!((m.size, m.etag.len()), (10, 32));
    assert_eq!(s.get_range("b", "a/cat.jpg", 2..5).await.unwrap(), "234");
    assert_eq!(s.get_range("b", "a/cat.jpg", 8..100).await.unwrap(), "89");
    let mut e = BTreeMap::new();
    e.insert("Triage-Verdict".to_string(), "pass".to_string());
    s.update_metadata("b", "a/cat.jpg", &e).await.unwrap();
    s.put_tags("b", "a/cat.jpg", &[("k".into(), "v".into())])
        .await
        .unwrap();
    let m2 = s.head("b", "a/cat.jpg").await.unwrap();
    assert_eq!(m2.metadata["triage-verdict"], "pass");
    assert_eq!(m2.etag, m.etag, "metadata writes keep the ETag");
    assert_eq!(s.get_tags("b", "a/cat.jpg").await.unwrap().len(), 1);
    s.rename("b", "a/cat.jpg", "q/a/cat.jpg", None)
        .await
        .unwrap();
    assert!(matches!(
        s.head("b", "a/cat.jpg").await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.head("b", "q/a/cat.jpg").await.unwrap().metadata["triage-verdict"],
        "pass"
    );
    s.delete("b", "q/a/cat.jpg").await.unwrap();
    assert!(s.get("b", "q/a/cat.jpg").await.is_err());
}

#[tokio::test]
async fn a_file_replaced_by_hand_is_a_new_object() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    std::fs::write(dir.path().join("b/x.png"), b"first").unwrap();
    let first = s.head("b", "x.png").await.unwrap();
    s.update_metadata("b", "x.png", &BTreeMap::from([("m".into(), "1".into())]))
        .await
        .unwrap();
    std::fs::write(dir.path().join("b/x.png"), b"second!").unwrap();
    let second = s.head("b", "x.png").await.unwrap();
    assert_ne!(first.etag, second.etag);
    assert!(second.metadata.is_empty());
}

#[tokio::test]
async fn list_pages_in_key_order_with_prefix_and_marker() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStore::new(dir.path());
    for k in ["b/2.png", "a.png", "b/1.png", "c/x.png", "b/10.png"] {
        s.put("bk", k, Bytes::from(k.as_bytes().to_vec()), "image/png")
            .await
            .unwrap();
    }
    std::fs::write(dir.path().join("bk/b/.x.png.tmp-1"), b"partial").unwrap();
    let p = s.list("bk", "", None, 2).await.unwrap();
    let keys: Vec<_> = p.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["a.png", "b/1.png"]);
    assert_eq!(p.next_marker.as_deref(), Some("b/1.png"));
    assert_eq!(p.objects[0].etag, s.head("bk", "a.png").await.unwrap().etag);
    let p = s.list("bk", "b/", Some("b/1.png"), 10).await.unwrap();
    let keys: Vec<_> = p.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["b/10.png", "b/2.png"]);
    assert_eq!(p.next_marker, None);
    assert!(s
        .list("nobucket", "", None, 10)
        .await
        .unwrap()
        .objects
        .is_empty());
    assert!(s.list("../x", "", None, 10).await.is_err());
}

#[test]
fn keys_cannot_escape_the_bucket() {
    for key in [
        "../etc/passwd",
        "a/../../x",
        "/abs",
        "a//b",
        "./a",
        "dir/",
        "",
        "a\\b",
        "a\0b",
    ] {
        assert!(validate("b", key).is_err(), "{key:?} must be refused");
    }
    for bucket in ["", ".attrs", "a/b", ".."] {
        assert!(validate(bucket, "k").is_err(), "{bucket:?} must be refused");
    }
    assert!(validate("b", "photos/中 文.jpg").is_ok());
}
