use super::*;

fn summary(verdict: &str, labels: &[&str], cats: &[(&str, f32)], hits: &[&str]) -> Summary {
    Summary {
        key: "k".into(),
        sidecar: "s".into(),
        etag: None,
        verdict: verdict.into(),
        reason: String::new(),
        machine_verdict: None,
        reviewed: None,
        categories: cats.iter().map(|(c, s)| (c.to_string(), *s)).collect(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        hits: hits.iter().map(|h| h.to_string()).collect(),
        processed_at: None,
        size: None,
    }
}

fn filter(pairs: &[(&str, &str)]) -> Filter {
    let get = |n: &str| {
        pairs
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    };
    Filter::from_query(&Query {
        verdict: get("verdict"),
        category: get("category"),
        label: get("label"),
        text: get("text"),
        since: get("since"),
        until: get("until"),
    })
    .unwrap()
}

#[test]
fn review_is_the_default_and_filters_combine() {
    let cat = summary("review", &["tabby", "tiger cat"], &[("porn", 62.0)], &[]);
    let ad = summary(
        "block",
        &["menu"],
        &[("ad", 100.0), ("porn", 1.0)],
        &["ad: 加微信"],
    );
    let f = filter(&[]);
    assert!(f.matches(&cat) && !f.matches(&ad));
    assert!(filter(&[("verdict", "any"), ("label", "TIGER")]).matches(&cat));
    assert!(!filter(&[("verdict", "any"), ("label", "dog")]).matches(&cat));
    // A category counts from CATEGORY_MIN_SCORE: every image has some porn score.
    assert!(filter(&[("verdict", "block"), ("category", "ad")]).matches(&ad));
    assert!(!filter(&[("verdict", "block"), ("category", "porn")]).matches(&ad));
    assert!(filter(&[("verdict", "any"), ("text", "any")]).matches(&ad));
    assert!(filter(&[("verdict", "any"), ("text", "微信")]).matches(&ad));
    assert!(!filter(&[("verdict", "any"), ("text", "any")]).matches(&cat));
    assert!(Filter::from_query(&Query {
        verdict: Some("maybe".into()),
        ..Query::default()
    })
    .is_err());
    assert!(Filter::from_query(&Query {
        since: Some("12/01/2026".into()),
        ..Query::default()
    })
    .is_err());
}

#[test]
fn dates_are_decided_from_the_listing() {
    let f = filter(&[("since", "2026-12-01"), ("until", "2026-12-02")]);
    let at = |d: &str| {
        Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc(),
        )
    };
    assert!(f.date_ok(at("2026-12-01")) && f.date_ok(at("2026-12-02")));
    assert!(!f.date_ok(at("2026-11-30")) && !f.date_ok(at("2026-12-03")));
    assert!(!f.date_ok(None) && filter(&[]).date_ok(None));
}

fn entries(n: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| Entry {
            sidecar: format!("r/{i:05}.json"),
            size: 100,
            etag: "e".into(),
            at: None,
        })
        .collect()
}

#[test]
fn a_walk_reads_only_what_the_page_needs_and_pages_on() {
    let list = entries(10_000);
    // Every third item is `review`.
    let all: Vec<Summary> = (0..list.len())
        .map(|i| summary(if i % 3 == 0 { "review" } else { "pass" }, &[], &[], &[]))
        .collect();
    let f = filter(&[]);
    let mut read = vec![false; list.len()];
    let mut from = 0;
    let mut pages = vec![];
    let mut reads = 0;
    loop {
        let w = walk(&list, from, 50, 1_000, 32, &f, |i| read[i].then(|| &all[i]));
        match w {
            Walk::Read(ix) => {
                reads += ix.len();
                assert!(ix.len() <= 32);
                for i in ix {
                    read[i] = true;
                }
            }
            Walk::Page { matched, next, .. } => {
                assert!(matched.iter().all(|i| i % 3 == 0));
                pages.push(matched);
                match next {
                    Some(n) if pages.len() < 2 => from = n,
                    _ => break,
                }
            }
        }
    }
    // Two pages of 50 matches: the ~300 entries they span are read, not 10,000.
    assert_eq!(pages[0], (0..50).map(|i| i * 3).collect::<Vec<_>>());
    assert_eq!(pages[1][0], 150);
    assert!(reads <= 300 + 32, "{reads}");
}

#[test]
fn a_walk_stops_at_its_scan_limit_with_a_cursor() {
    let list = entries(100);
    let none = summary("pass", &[], &[], &[]);
    let w = walk(&list, 10, 50, 20, 32, &filter(&[]), |_| Some(&none));
    assert_eq!(
        w,
        Walk::Page {
            matched: vec![],
            next: Some(30),
            scanned: 20
        }
    );
    let w = walk(&list, 90, 50, 20, 32, &filter(&[]), |_| Some(&none));
    assert!(matches!(w, Walk::Page { next: None, .. }));
}

#[test]
fn sidecars_are_told_from_records_and_sorted_newest_first() {
    assert!(is_sidecar("uploads/a.png.json") && is_sidecar("long-keys/abc.json"));
    assert!(!is_sidecar("_by-content/abc") && !is_sidecar("_daily-cap/2026-12-02"));
    assert!(!is_sidecar("_by-content/x.json"));
    let t = |s: i64| chrono::DateTime::from_timestamp(s, 0);
    let mut e = vec![
        Entry {
            sidecar: "a".into(),
            size: 100,
            etag: String::new(),
            at: t(1),
        },
        Entry {
            sidecar: "b".into(),
            size: 100,
            etag: String::new(),
            at: None,
        },
        Entry {
            sidecar: "c".into(),
            size: 100,
            etag: String::new(),
            at: t(5),
        },
    ];
    sort_newest_first(&mut e);
    let order: Vec<&str> = e.iter().map(|e| e.sidecar.as_str()).collect();
    assert_eq!(order, ["c", "a", "b"]);
}
