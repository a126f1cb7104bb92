//! Conditional metadata writes (`update_metadata_if`): the ETag check every store makes, and
//! the race between the store's read and its write that a vendor precondition header closes.

use std::sync::Arc;

use image_triage::store::StoreError;

use super::checks::{assert_not_found, body, meta, parts};
use super::harness::Harness;

#[track_caller]
fn assert_precondition_failed(r: Result<(), StoreError>, bucket: &str, key: &str) {
    match r {
        Err(StoreError::PreconditionFailed {
            bucket: b, key: k, ..
        }) if b == bucket && k == key => {}
        other => panic!("stale ETag for {bucket}/{key}: want PreconditionFailed, got {other:?}"),
    }
}

/// With the object's current ETag the entries are written and everything else is kept; once
/// new bytes replaced the object, that ETag is stale: `PreconditionFailed`, nothing changes.
pub async fn conditional_metadata_update(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/cond/c.png";
    let first = body(1500, 15);
    s.put(b, key, first.clone(), "image/png").await.unwrap();
    s.update_metadata(b, key, &meta(&[("kept", "1")]))
        .await
        .unwrap();
    let read = s.head(b, key).await.unwrap();

    let reported = s
        .update_metadata_if(b, key, &meta(&[("Triage-Verdict", "pass")]), &read.etag)
        .await
        .unwrap_or_else(|e| panic!("with the current ETag {:?}: {e:?}", read.etag));
    let after = s.head(b, key).await.unwrap();
    assert_eq!(
        reported, after.etag,
        "the ETag after the write, as reported"
    );
    assert_eq!(
        after.metadata,
        meta(&[("kept", "1"), ("triage-verdict", "pass")])
    );
    assert_eq!(after.content_type.as_deref(), Some("image/png"));
    assert_eq!((after.size, &after.etag), (read.size, &read.etag));
    assert_eq!(s.get(b, key).await.unwrap(), first);

    let second = body(1700, 16);
    s.put(b, key, second.clone(), "image/jpeg").await.unwrap();
    s.update_metadata(b, key, &meta(&[("fresh", "1")]))
        .await
        .unwrap();
    let now = s.head(b, key).await.unwrap();
    assert_ne!(now.etag, read.etag, "new content, new ETag");
    let stale = s
        .update_metadata_if(b, key, &meta(&[("triage-verdict", "block")]), &read.etag)
        .await;
    assert_precondition_failed(stale.map(|_| ()), b, key);
    let unchanged = s.head(b, key).await.unwrap();
    assert_eq!(
        unchanged.metadata,
        meta(&[("fresh", "1")]),
        "a refused write changed the metadata"
    );
    assert_eq!(
        (
            unchanged.size,
            &unchanged.etag,
            unchanged.content_type.as_deref()
        ),
        (now.size, &now.etag, Some("image/jpeg"))
    );
    assert_eq!(s.get(b, key).await.unwrap(), second);

    let missing = "conf/cond/missing.png";
    assert_not_found(
        s.update_metadata_if(b, missing, &meta(&[("a", "1")]), &read.etag)
            .await,
        b,
        missing,
        "update_metadata_if",
    );
}

/// An upload that lands after the store read the ETag but before its write arrives must not
/// receive the entries: the counterpart holds the write back and replaces the object under
/// it. Skipped where that cannot be staged (see `Harness::replace_during_write`).
pub async fn conditional_metadata_update_race(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/cond-race/r.png";
    s.put(b, key, body(900, 17), "image/png").await.unwrap();
    let read = s.head(b, key).await.unwrap();
    let (store, bucket, k) = (h.store.clone(), b.to_string(), key.to_string());
    let write = Box::pin(async move {
        let entries = meta(&[("triage-verdict", "pass")]);
        store
            .update_metadata_if(&bucket, &k, &entries, &read.etag)
            .await
            .map(|_| ())
    });
    let newer = body(950, 18);
    let Some(r) = h.replace_during_write(key, newer.to_vec(), write).await else {
        return;
    };
    assert_precondition_failed(r, b, key);
    let m = s.head(b, key).await.unwrap();
    assert!(
        m.metadata.is_empty(),
        "the upload that landed mid-write received the metadata: {m:?}"
    );
    assert_eq!(s.get(b, key).await.unwrap(), newer);
}
