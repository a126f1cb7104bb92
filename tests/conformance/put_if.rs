//! Conditional puts (`put_if`): the conditions every store checks, and the races that only a
//! check made in one step with the write survives (run where the backend makes it so, see
//! `Harness::atomic_put_if`).
//!
//! One answer per case on every store, as S3 gives it: a failed condition (the key exists for
//! `Absent`, another ETag for `Matches`) is `PreconditionFailed` and changes nothing; `Matches`
//! on a key with no object is `NotFound` (S3: 404 NoSuchKey for `If-Match` without a current
//! object; the other stores find it missing with their HEAD or on disk).

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use image_triage::store::{ObjectMeta, ObjectStore, PutCondition, StoreError};

use super::checks::{assert_not_found, body, meta, parts};
use super::harness::Harness;

/// Racing writers in the concurrency checks.
const WRITERS: u64 = 8;
/// Attempts one writer makes before the check gives up (it never should: each failed attempt
/// means another writer succeeded, and there are only `WRITERS - 1` others).
const MAX_ATTEMPTS: u32 = 200;

#[track_caller]
fn assert_precondition_failed<T: Debug>(r: Result<T, StoreError>, bucket: &str, key: &str) {
    match r {
        Err(StoreError::PreconditionFailed {
            bucket: b, key: k, ..
        }) if b == bucket && k == key => {}
        other => panic!("{bucket}/{key}: want PreconditionFailed, got {other:?}"),
    }
}

/// Everything a refused write must leave as it was.
async fn snapshot(s: &dyn ObjectStore, b: &str, key: &str) -> (ObjectMeta, Bytes) {
    (s.head(b, key).await.unwrap(), s.get(b, key).await.unwrap())
}

/// `Absent` writes a new key and returns the ETag HEAD then reports; on a key that has an
/// object it is refused and the object (bytes, ETag, type, metadata) stays as it was.
pub async fn put_if_absent(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/put-if/absent.json";
    let first = body(300, 40);
    let etag = s
        .put_if(
            b,
            key,
            first.clone(),
            "application/json",
            PutCondition::Absent,
        )
        .await
        .unwrap_or_else(|e| panic!("Absent on a new key: {e:?}"));
    let m = s.head(b, key).await.unwrap();
    assert!(!etag.is_empty() && !etag.contains('"'), "{etag:?}");
    assert_eq!(etag, m.etag, "the returned ETag is the one HEAD reports");
    assert_eq!(
        (m.size, m.content_type.as_deref()),
        (300, Some("application/json"))
    );
    assert_eq!(s.get(b, key).await.unwrap(), first);

    s.update_metadata(b, key, &meta(&[("kept", "1")]))
        .await
        .unwrap();
    let before = snapshot(s, b, key).await;
    let again = s
        .put_if(b, key, body(200, 41), "text/plain", PutCondition::Absent)
        .await;
    assert_precondition_failed(again, b, key);
    assert_eq!(
        snapshot(s, b, key).await,
        before,
        "a refused write changed the object"
    );
}

/// `Matches` with the current ETag writes (a new object: the returned ETag is HEAD's); with a
/// stale one it is refused and nothing changes; on a missing key it is `NotFound`.
pub async fn put_if_matches(h: Arc<Harness>) {
    let (s, b) = parts(&h);
    let key = "conf/put-if/matches.json";
    s.put(b, key, body(400, 42), "application/json")
        .await
        .unwrap();
    let old = s.head(b, key).await.unwrap().etag;

    let second = body(450, 43);
    let new = s
        .put_if(
            b,
            key,
            second.clone(),
            "application/json",
            PutCondition::Matches(&old),
        )
        .await
        .unwrap_or_else(|e| panic!("Matches with the current ETag {old:?}: {e:?}"));
    assert_ne!(new, old, "new content, new ETag");
    let m = s.head(b, key).await.unwrap();
    assert_eq!(new, m.etag, "the returned ETag is the one HEAD reports");
    assert_eq!(s.get(b, key).await.unwrap(), second);
    // A quoted ETag works too: quotes are ignored, as by every conditional method.
    let quoted = format!("\"{new}\"");
    let third = body(460, 44);
    let newer = s
        .put_if(
            b,
            key,
            third.clone(),
            "text/plain",
            PutCondition::Matches(&quoted),
        )
        .await
        .unwrap_or_else(|e| panic!("Matches with the quoted ETag {quoted:?}: {e:?}"));
    assert_eq!(newer, s.head(b, key).await.unwrap().etag);

    s.update_metadata(b, key, &meta(&[("kept", "2")]))
        .await
        .unwrap();
    let before = snapshot(s, b, key).await;
    assert_eq!(before.1, third);
    for stale in [old.as_str(), new.as_str()] {
        let r = s
            .put_if(
                b,
                key,
                body(10, 45),
                "text/plain",
                PutCondition::Matches(stale),
            )
            .await;
        assert_precondition_failed(r, b, key);
    }
    assert_eq!(
        snapshot(s, b, key).await,
        before,
        "a refused write changed the object"
    );

    let missing = "conf/put-if/missing.json";
    assert_not_found(
        s.put_if(
            b,
            missing,
            body(10, 46),
            "text/plain",
            PutCondition::Matches(&old),
        )
        .await,
        b,
        missing,
        "put_if Matches",
    );
    assert_not_found(
        s.head(b, missing).await,
        b,
        missing,
        "head after a refused put_if",
    );
}

/// Writers racing to create one key with `Absent`: exactly one succeeds, and the object is its.
pub async fn put_if_absent_race(h: Arc<Harness>) {
    if !h.atomic_put_if().absent {
        return;
    }
    let b = h.bucket.clone();
    let key = "conf/put-if/race-create";
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (s, b) = (h.store.clone(), b.clone());
            tokio::spawn(async move {
                let r = s
                    .put_if(
                        &b,
                        key,
                        Bytes::from(format!("writer {i}")),
                        "text/plain",
                        PutCondition::Absent,
                    )
                    .await;
                (i, r)
            })
        })
        .collect();
    let mut won = vec![];
    for w in writers {
        match w.await.unwrap() {
            (i, Ok(etag)) => won.push((i, etag)),
            (_, r) => assert_precondition_failed(r, &b, key),
        }
    }
    let [(i, etag)] = won.as_slice() else {
        panic!("{} creators succeeded: {won:?}", won.len());
    };
    assert_eq!(h.store.get(&b, key).await.unwrap(), format!("writer {i}"));
    assert_eq!(&h.store.head(&b, key).await.unwrap().etag, etag);
}

/// `WRITERS` tasks each add one to a counter object by read-modify-write (HEAD, GET, `put_if`
/// with what was read), reading again whenever their write is refused: the counter ends at
/// exactly `WRITERS`. A store whose check and write are two steps loses increments here.
pub async fn put_if_counter_race(h: Arc<Harness>) {
    if !h.atomic_put_if().matches {
        return;
    }
    let b = h.bucket.clone();
    let key = "conf/put-if/counter";
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (s, b) = (h.store.clone(), b.clone());
            tokio::spawn(async move { increment(&*s, &b, key, i).await })
        })
        .collect();
    let mut attempts = 0;
    for w in writers {
        attempts += w.await.unwrap();
    }
    let total = h.store.get(&b, key).await.unwrap();
    assert_eq!(
        total,
        WRITERS.to_string(),
        "{WRITERS} increments ({attempts} attempts) left the counter at {total:?}"
    );
}

/// Add one to the decimal counter at `key`; the attempts it took.
pub async fn increment(s: &dyn ObjectStore, b: &str, key: &str, writer: u64) -> u32 {
    for attempt in 1..=MAX_ATTEMPTS {
        // HEAD before GET: if the object changes between them, the ETag is the older one and
        // the write is refused. GET then HEAD could pair one version's bytes with a later
        // version's ETag, and the write would pass, dropping that later version's increment.
        let (count, etag) = match s.head(b, key).await {
            Ok(m) => {
                let raw = s.get(b, key).await.unwrap();
                let n: u64 = std::str::from_utf8(&raw)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_else(|| panic!("counter holds {raw:?}"));
                (n, Some(m.etag))
            }
            Err(StoreError::NotFound { .. }) => (0, None),
            Err(e) => panic!("writer {writer}: {e:?}"),
        };
        let condition = etag
            .as_deref()
            .map_or(PutCondition::Absent, PutCondition::Matches);
        let next = Bytes::from((count + 1).to_string());
        match s.put_if(b, key, next, "text/plain", condition).await {
            Ok(_) => return attempt,
            // Another writer got there first (or deleted-and-recreated in between): read again,
            // after a pause that differs per writer so they do not keep colliding in step.
            Err(StoreError::PreconditionFailed { .. } | StoreError::NotFound { .. }) => {
                tokio::time::sleep(Duration::from_millis(1 + (writer * 3 + attempt as u64) % 7))
                    .await
            }
            Err(e) => panic!("writer {writer}: {e:?}"),
        }
    }
    panic!("writer {writer}: no increment in {MAX_ATTEMPTS} attempts");
}

/// An upload that creates the key after the store found it missing but before its PUT arrives
/// wins: the `Absent` write is refused and leaves the upload's object alone. Staged where the
/// store checks with a request of its own before the PUT (see `Harness::create_during_put_if`).
pub async fn put_if_absent_created_mid_write(h: Arc<Harness>) {
    let (_, b) = parts(&h);
    let key = "conf/put-if/created-mid-write";
    let (store, bucket) = (h.store.clone(), b.to_string());
    let write = Box::pin(async move {
        store
            .put_if(
                &bucket,
                key,
                Bytes::from_static(b"ours"),
                "text/plain",
                PutCondition::Absent,
            )
            .await
    });
    let Some(r) = h.create_during_put_if(key, b"theirs".to_vec(), write).await else {
        return;
    };
    assert_precondition_failed(r, b, key);
    assert_eq!(h.store.get(b, key).await.unwrap(), "theirs");
}
