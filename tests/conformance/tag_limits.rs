//! Object-tag limits as each vendor documents them, checked against the counterpart: the
//! documented maxima are accepted, one character over (or a duplicate key, a refused character,
//! an empty key) is refused with a `StoreError`, and a refused set changes nothing. The local
//! store documents only its own `tag_rules()`, so those are its limits.

use std::sync::Arc;

use image_triage::store::{ObjectStore, StoreError};

use super::checks::body;
use super::harness::{Counterpart, Harness};

/// What a vendor documents for object tags (lengths in characters).
struct Documented {
    max_tags: usize,
    max_key_chars: usize,
    max_value_chars: usize,
    /// `Some(true)`: documented as refused; `None`: not documented, or the counterpart does not
    /// enforce it (see `documented`).
    duplicate_key_refused: Option<bool>,
    /// `Some(false)`: an empty value is documented as allowed, `Some(true)` as refused.
    empty_value_refused: Option<bool>,
    /// An empty key is refused (every vendor documents a minimum of 1); `false` where the
    /// counterpart does not enforce it.
    empty_key_refused: bool,
}

fn documented(h: &Harness) -> Documented {
    let rules = h.store.tag_rules();
    match &h.counterpart {
        // The local store's documentation is its tag rules (S3's, intersected with COS's):
        // unique keys as on S3, an empty value allowed as on S3.
        Counterpart::Local(_) => Documented {
            max_tags: rules.max_tags,
            max_key_chars: rules.max_key_chars,
            max_value_chars: rules.max_value_chars,
            duplicate_key_refused: Some(true),
            empty_value_refused: Some(false),
            empty_key_refused: true,
        },
        // AWS: ≤ 10 tags (PutObjectTagging: "Amazon S3 limits the maximum number of tags to 10
        // tags per object"); key 1–128, value 0–256 Unicode characters, unique keys,
        // case-sensitive (S3 user guide tagging-managing / API_control_S3Tag; reference
        // huawei_aws.md "Object tags"). moto 5.2.5 enforces count, lengths and characters, but
        // parses the tag set into a dict (a duplicate key silently keeps the last value) and
        // leaves the key's minimum length to botocore: both assertions are skipped on S3.
        Counterpart::S3 { .. } => Documented {
            max_tags: 10,
            max_key_chars: 128,
            max_value_chars: 256,
            duplicate_key_refused: None,
            empty_value_refused: Some(false),
            empty_key_refused: false,
        },
        // COS: see `cos_tag_check` in tests/tencent/emu_cos.rs for the pages and how their
        // conflicts are resolved: ≤ 10 tags, key 1–128, value 1–256 characters; duplicate keys
        // not documented.
        Counterpart::Cos(_) => Documented {
            max_tags: 10,
            max_key_chars: 128,
            max_value_chars: 256,
            duplicate_key_refused: None,
            empty_value_refused: Some(true),
            empty_key_refused: true,
        },
        // OBS: see `obs_tag_check` in tests/huawei/obs.rs: ≤ 10 tags, key 1–128, value 0–255
        // characters, unique keys (api-obs obs_04_0172).
        Counterpart::Obs(_) => Documented {
            max_tags: 10,
            max_key_chars: 128,
            max_value_chars: 255,
            duplicate_key_refused: Some(true),
            empty_value_refused: Some(false),
            empty_key_refused: true,
        },
    }
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

/// `prefix` padded with `z` to `len` characters.
fn padded(prefix: &str, len: usize) -> String {
    assert!(prefix.len() <= len);
    format!("{prefix}{}", "z".repeat(len - prefix.len()))
}

/// `max_tags` tags, each key and value `key_len` / `value_len` characters long.
fn full_set(n: usize, key_len: usize, value_len: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                padded(&format!("k{i:02}"), key_len),
                padded(&format!("v{i:02}"), value_len),
            )
        })
        .collect()
}

#[track_caller]
fn assert_refused(r: Result<(), StoreError>, what: &str, store: &str) {
    assert!(
        r.is_err(),
        "{store}: {what} accepted; the vendor documents it as invalid"
    );
}

/// The documented maxima are accepted and round-trip; one over, a duplicate key (where
/// documented), a refused character or an empty key is refused and changes nothing.
pub async fn tags_documented_limits(h: Arc<Harness>) {
    let (s, b): (&dyn ObjectStore, &str) = (&*h.store, h.bucket.as_str());
    let name = s.name();
    let key = "conf/tag-limits/t.png";
    s.put(b, key, body(64, 21), "image/png").await.unwrap();
    let doc = documented(&h);
    let rules = s.tag_rules();

    // (a) A full set at the maxima both the vendor and the store's rules allow. Where the rules
    // are stricter (S3/COS 127/255 against 128/256; OBS 36 against 128), the rules' maxima.
    let at_max = full_set(
        doc.max_tags.min(rules.max_tags),
        doc.max_key_chars.min(rules.max_key_chars),
        doc.max_value_chars.min(rules.max_value_chars),
    );
    s.put_tags(b, key, &at_max).await.unwrap();
    assert_eq!(sorted(s.get_tags(b, key).await.unwrap()), at_max);
    // The vendor's own maxima, past the store's stricter rules: the store passes tags through,
    // so this is the counterpart accepting what the vendor documents as valid.
    if !h.is_local() {
        let vendor_max = full_set(doc.max_tags, doc.max_key_chars, doc.max_value_chars);
        s.put_tags(b, key, &vendor_max).await.unwrap_or_else(|e| {
            panic!("{name}: a tag set at the vendor's documented maxima refused: {e}")
        });
        assert_eq!(sorted(s.get_tags(b, key).await.unwrap()), vendor_max);
    }
    // Keys are case-sensitive everywhere: two keys differing in case are two tags.
    let cased = vec![
        ("Case".to_string(), "1".to_string()),
        ("case".into(), "2".into()),
    ];
    s.put_tags(b, key, &cased).await.unwrap();
    assert_eq!(sorted(s.get_tags(b, key).await.unwrap()), cased);
    match doc.empty_value_refused {
        Some(false) => {
            let empty = vec![("e".to_string(), String::new())];
            s.put_tags(b, key, &empty).await.unwrap();
            assert_eq!(s.get_tags(b, key).await.unwrap(), empty);
        }
        Some(true) => assert_refused(
            s.put_tags(b, key, &[("e".into(), String::new())]).await,
            "an empty tag value",
            name,
        ),
        None => {}
    }

    // The refusals, each against a known good set that must survive them.
    let good = vec![("good".to_string(), "1".to_string())];
    s.put_tags(b, key, &good).await.unwrap();
    let mut bad: Vec<(&str, Vec<(String, String)>)> = vec![
        // (b) a key one over the documented key length.
        (
            "a key one character over the limit",
            vec![(padded("k", doc.max_key_chars + 1), "v".into())],
        ),
        // (c) a value one over the documented value length.
        (
            "a value one character over the limit",
            vec![("k".into(), padded("v", doc.max_value_chars + 1))],
        ),
        (
            "one tag more than the limit",
            full_set(doc.max_tags + 1, 3, 3),
        ),
        // `*`: outside AWS's pattern and COS's list, on OBS's refused list.
        ("a '*' in a key", vec![("a*b".into(), "v".into())]),
        ("a '*' in a value", vec![("k".into(), "a*b".into())]),
    ];
    // (d) a duplicate key, where documented (and enforced by the counterpart).
    if doc.duplicate_key_refused == Some(true) {
        bad.push((
            "a duplicate key",
            vec![("dup".into(), "1".into()), ("dup".into(), "2".into())],
        ));
    }
    if doc.empty_key_refused {
        bad.push(("an empty key", vec![(String::new(), "v".into())]));
    }
    for (what, set) in bad {
        assert_refused(s.put_tags(b, key, &set).await, what, name);
        assert_eq!(
            s.get_tags(b, key).await.unwrap(),
            good,
            "{name}: refused set ({what}) changed the tags"
        );
    }
}
