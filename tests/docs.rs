//! The docs are checked by the tests: every `TRIAGE_*` variable the code reads and every outcome
//! code it emits is documented, the README's sidecar example has the shape (and the deterministic
//! values) of a real result, and every test the docs cite exists.
//!
//! The source checks scan `src/` as text with the small Rust lexer in `docs_support/`, so they
//! depend on files, not on module paths.

mod common;
mod docs_support;

use std::collections::{BTreeMap, BTreeSet};

use docs_support::*;

#[test]
fn the_lexer_sees_strings_and_skips_comments_chars_and_test_items() {
    let src = r##"
        // "TRIAGE_IN_A_COMMENT"
        fn f<'a>(x: &'a str) -> char { let _ = ('"', '\'', b'"'); '{' }
        const A: &str = r#"raw "TRIAGE_RAW""#;
        #[cfg(test)]
        mod tests { fn g() { let _ = "TRIAGE_IN_TESTS"; } }
        const B: &str = "TRIAGE_\"QUOTED\"";
    "##;
    let strs: Vec<String> = strip_cfg_test(lex(src))
        .into_iter()
        .filter_map(|(t, _)| match t {
            Tok::Str(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(strs, [r#"raw "TRIAGE_RAW""#, r#"TRIAGE_"QUOTED""#]);
    assert_eq!(
        triage_names("TRIAGE_{service}_QPS or TRIAGE_LABEL_ and TRIAGE_X"),
        ["TRIAGE_<*>_QPS", "TRIAGE_X"]
    );
    assert!(glob_matches("TRIAGE_<SERVICE>_QPS", "TRIAGE_IMS_QPS"));
    assert!(!glob_matches("TRIAGE_<SERVICE>_QPS", "TRIAGE_QPS"));
}

// ---------------------------------------------------------------------------------------------
// a. Environment variables

/// `TRIAGE_` names in a string literal: concrete names, and patterns with `<*>` where the string
/// formats a part in (`TRIAGE_{}`, `TRIAGE_{service}_QPS`) or names a family (`TRIAGE_*_X`).
/// Bare prefixes used for matching (`TRIAGE_LABEL_`) are neither.
fn triage_names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = s[from..].find("TRIAGE_").map(|a| a + from) {
        let (mut name, mut end) = (String::new(), at);
        let mut chars = s[at..].char_indices().peekable();
        while let Some((i, ch)) = chars.next() {
            end = at + i + ch.len_utf8();
            if ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_' {
                name.push(ch);
            } else if ch == '{' {
                for (j, x) in chars.by_ref() {
                    end = at + j + x.len_utf8();
                    if x == '}' {
                        break;
                    }
                }
                name.push_str("<*>");
            } else if ch == '*' {
                name.push_str("<*>");
            } else {
                end -= ch.len_utf8();
                break;
            }
        }
        if name.contains("<*>") || !name.ends_with('_') {
            out.push(name);
        }
        from = end.max(at + 1);
    }
    out
}

/// Every `TRIAGE_*` name (or `<*>` pattern) the code reads, with where it was seen first.
fn code_variables() -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for (file, toks) in source_files() {
        let strs: Vec<(&String, usize)> = toks
            .iter()
            .filter_map(|(t, l)| match t {
                Tok::Str(s) => Some((s, *l)),
                _ => None,
            })
            .collect();
        let mut builds_names = false;
        for (s, line) in &strs {
            for name in triage_names(s) {
                // `TRIAGE_{}` alone is a prefix; its suffixes are found below.
                builds_names |= name.ends_with("<*>");
                if name != "TRIAGE_<*>" {
                    found.entry(name).or_insert(format!("{file}:{line}"));
                }
            }
            builds_names |= s.as_str() == "TRIAGE_";
        }
        // A file that builds names from `TRIAGE_` and a suffix (`format!("{prefix}{suffix}")`,
        // `strip_suffix("_ENDPOINT")`, `ends_with("_LIMITS")`): each `_SUFFIX` literal is one
        // family `TRIAGE_<*>_SUFFIX`.
        if builds_names {
            for (s, line) in &strs {
                let suffix = s.strip_prefix('_').unwrap_or_default();
                if !suffix.is_empty()
                    && suffix
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    found
                        .entry(format!("TRIAGE_<*>{s}"))
                        .or_insert(format!("{file}:{line}"));
                }
            }
        }
    }
    found
}

/// Names documented in `md` (any `TRIAGE_` word) and the patterns among them; a backticked
/// `_SUFFIX` after a pattern on the same line (`TRIAGE_<SERVICE>_QPS` / `_TIMEOUT`) is that
/// pattern with the other suffix.
fn documented_names(md: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let word = |s: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(at) = rest.find("TRIAGE_") {
            let tail = &rest[at..];
            let len = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || "_<>*".contains(c)))
                .unwrap_or(tail.len());
            // `<TRIAGE_RESULTS_PREFIX><key>`: the name ends before an unopened `>`.
            let mut open = 0i32;
            let len = tail[..len]
                .find(|c: char| {
                    open += match c {
                        '<' => 1,
                        '>' => -1,
                        _ => 0,
                    };
                    open < 0
                })
                .unwrap_or(len);
            out.push(tail[..len].to_string());
            rest = &tail[len.max(1)..];
        }
        out
    };
    let (mut names, mut patterns) = (BTreeSet::new(), BTreeSet::new());
    for n in word(md) {
        if n.contains('<') || n.contains('*') {
            patterns.insert(n);
        } else {
            names.insert(n);
        }
    }
    let mut last: Option<(usize, String)> = None;
    for (line, span) in backtick_spans(md) {
        if let Some(p) = word(&span).into_iter().find(|n| n.contains('<')) {
            last = Some((line, p));
        } else if let (Some((l, p)), true) = (&last, span.starts_with('_')) {
            let cut = p.rfind('>').map(|i| i + 1).unwrap_or(p.len());
            if *l == line {
                patterns.insert(format!("{}{span}", &p[..cut]));
            }
        }
    }
    (names, patterns)
}

#[test]
fn every_variable_the_code_reads_is_documented() {
    let readme = readme();
    let (mut names, patterns) = documented_names(&readme);
    for (_, page) in linked_docs(&readme) {
        names.extend(documented_names(&page).0);
    }
    let vars = code_variables();
    for must in ["TRIAGE_LABELER", "TRIAGE_SERVE_TOKEN", "TRIAGE_<*>_QPS"] {
        assert!(vars.contains_key(must), "the scan missed {must}: {vars:?}");
    }
    assert!(vars.len() >= 30, "too few variables found: {vars:?}");
    // A concrete name: literally on the README or a page it links, or an instance of a
    // `<SERVICE>` pattern. Families such as `TRIAGE_LABEL_*` send the reader to the vendor
    // pages, so their members must be named there. A pattern the code builds: matched by a
    // documented pattern.
    let undocumented: Vec<String> = vars
        .iter()
        .filter(|(name, _)| {
            let documented = if name.contains("<*>") {
                // A family the code builds: a documented pattern covers it, or documented
                // members instantiate it (`TRIAGE_REVIEW_THRESHOLD` for `TRIAGE_*_THRESHOLD`).
                patterns.iter().any(|p| glob_matches(p, name))
                    || names.iter().any(|n| glob_matches(name, n))
            } else {
                names.contains(*name)
                    || patterns
                        .iter()
                        .any(|p| p.contains('<') && glob_matches(p, name))
            };
            !documented
        })
        .map(|(name, at)| format!("{name} (read at {at})"))
        .collect();
    assert!(
        undocumented.is_empty(),
        "variables read in src/ that README.md and the docs/ pages it links do not name:\n  {}",
        undocumented.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// b. Outcome codes

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Every code an outcome or a skipped stage can carry, with where it comes from:
/// - the code argument of `Outcome::skipped(obj, code, ..)` / `Outcome::failed(obj, code, ..)`;
///   a literal is a code; otherwise it must be `x.code()`, `x.code` or `code`, which come from:
/// - every `fn code(&self) -> &'static str` (event skip reasons, not-an-image, limit violations);
/// - `code: "..."` fields of `&'static str` (the guard's `Skip`).
fn emitted_codes() -> BTreeMap<String, String> {
    let mut codes = BTreeMap::new();
    let mut unknown = Vec::new();
    let (mut calls, mut code_fns) = (0, 0);
    for (file, toks) in source_files() {
        let t = |i: usize| toks.get(i).map(|(t, _)| t);
        let ident = |i: usize, w: &str| matches!(t(i), Some(Tok::Ident(x)) if x == w);
        let punct = |i: usize, c: char| t(i) == Some(&Tok::Punct(c));
        for i in 0..toks.len() {
            let at = format!("{file}:{}", toks[i].1);
            if ident(i, "Outcome")
                && punct(i + 1, ':')
                && punct(i + 2, ':')
                && (ident(i + 3, "skipped") || ident(i + 3, "failed"))
                && punct(i + 4, '(')
            {
                calls += 1;
                let args = call_args(&toks, i + 4);
                match args.get(1).map(Vec::as_slice) {
                    Some([Tok::Str(s)]) => {
                        codes.entry(s.clone()).or_insert(at.clone());
                    }
                    Some([Tok::Ident(c)]) if c == "code" => {}
                    Some([.., Tok::Punct('.'), Tok::Ident(c)]) if c == "code" => {}
                    Some([.., Tok::Ident(c), Tok::Punct('('), Tok::Punct(')')]) if c == "code" => {}
                    other => unknown.push(format!("{at}: {other:?}")),
                }
            }
            // fn code(&self) -> &'static str { ... }: every literal in its body.
            if ident(i, "fn") && ident(i + 1, "code") && punct(i + 2, '(') && ident(i + 4, "self") {
                let Some(open) = (i..toks.len()).find(|&j| punct(j, '{')) else {
                    continue;
                };
                code_fns += 1;
                let mut depth = 0;
                for (tok, line) in &toks[open..] {
                    match tok {
                        Tok::Punct('{') => depth += 1,
                        Tok::Punct('}') => depth -= 1,
                        Tok::Str(s) if is_code(s) => {
                            codes.entry(s.clone()).or_insert(format!("{file}:{line}"));
                        }
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                }
            }
            // code: "own_output", (a &'static str field, not a vendor's `"Timeout".into()`)
            if ident(i, "code") && punct(i + 1, ':') && !punct(i + 3, '.') {
                if let Some(Tok::Str(s)) = t(i + 2) {
                    if is_code(s) {
                        codes.entry(s.clone()).or_insert(at);
                    }
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "codes built in a way emitted_codes does not follow (teach it their source):\n  {}",
        unknown.join("\n  ")
    );
    assert!(
        calls >= 8,
        "found only {calls} Outcome::skipped/failed calls"
    );
    assert!(
        code_fns >= 3,
        "found only {code_fns} `fn code(&self)` bodies"
    );
    codes
}

#[test]
fn every_outcome_code_the_code_emits_is_in_the_readme() {
    let codes = emitted_codes();
    for must in [
        "already_processed",
        "write_back_copy",
        "own_output",
        "not_an_image",
        "not_object_created",
        "invalid_event",
        "object_gone",
        "aspect_ratio",
    ] {
        assert!(
            codes.contains_key(must),
            "the scan missed {must}: {codes:?}"
        );
    }
    assert!(codes.len() >= 20, "too few codes found: {codes:?}");
    let spans: BTreeSet<String> = backtick_spans(&readme())
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let missing: Vec<String> = codes
        .iter()
        .filter(|(c, _)| !spans.contains(*c))
        .map(|(c, at)| format!("`{c}` (from {at})"))
        .collect();
    assert!(
        missing.is_empty(),
        "codes the code emits that README.md does not mention in backticks:\n  {}",
        missing.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// c. The sidecar example

/// The README's ```json block under the **sidecar** item, parsed; a bare `…` (outside strings)
/// stands for "more of the same" and is dropped.
fn readme_sidecar_example() -> serde_json::Value {
    let readme = readme();
    let after = &readme[readme.find("**sidecar**").expect("a **sidecar** item")..];
    let body = after.split("```json").nth(1).expect("a ```json block");
    let body = body.split("```").next().unwrap();
    let (mut text, mut in_str, mut escaped) = (String::new(), false, false);
    for ch in body.chars() {
        match ch {
            '…' if !in_str => continue,
            '"' if !escaped => in_str = !in_str,
            _ => {}
        }
        escaped = in_str && ch == '\\' && !escaped;
        text.push(ch);
    }
    // A dropped `…` may leave `, ]` or `, }` behind.
    let mut cleaned = String::new();
    for ch in text.chars() {
        if ch == ']' || ch == '}' {
            let trimmed = cleaned.trim_end().to_string();
            if let Some(t) = trimmed.strip_suffix(',') {
                cleaned = t.to_string();
            }
        }
        cleaned.push(ch);
    }
    serde_json::from_str(&cleaned)
        .unwrap_or_else(|e| panic!("README sidecar example is not JSON: {e}\n{cleaned}"))
}

/// Key-set differences between `example` and `real`, recursively (arrays: first elements).
fn shape_diff(path: &str, example: &serde_json::Value, real: &serde_json::Value) -> Vec<String> {
    use serde_json::Value::{Array, Object};
    match (example, real) {
        (Object(e), Object(r)) => {
            let mut out = Vec::new();
            for k in e.keys().filter(|k| !r.contains_key(*k)) {
                out.push(format!("{path}.{k}: in the README, not in a real result"));
            }
            for k in r.keys().filter(|k| !e.contains_key(*k)) {
                out.push(format!("{path}.{k}: in a real result, not in the README"));
            }
            for (k, v) in e {
                if let Some(rv) = r.get(k) {
                    out.extend(shape_diff(&format!("{path}.{k}"), v, rv));
                }
            }
            out
        }
        (Array(e), Array(r)) => match (e.first(), r.first()) {
            (Some(e0), Some(r0)) => shape_diff(&format!("{path}[0]"), e0, r0),
            (None, Some(_)) => vec![format!("{path}: empty in the README, not in a real result")],
            (Some(_), None) => vec![format!("{path}: empty in a real result, not in the README")],
            (None, None) => vec![],
        },
        (Object(_), _) | (_, Object(_)) | (Array(_), _) | (_, Array(_)) => {
            vec![format!(
                "{path}: {example} in the README, {real} in a real result"
            )]
        }
        _ => vec![],
    }
}

#[cfg(feature = "local")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_sidecar_example_matches_a_real_result() {
    use image_triage::pipeline::Pipeline;
    use image_triage::store::ObjectStore;

    // What `image-triage demo` does for its first photo: bucket `demo`, key `uploads/chelsea.png`.
    let (bucket, key) = ("demo", "uploads/chelsea.png");
    let dir = tempfile::tempdir().unwrap();
    let store = common::store(dir.path());
    let body = common::photo("chelsea.png");
    store
        .put(bucket, key, bytes::Bytes::from(body), "image/png")
        .await
        .unwrap();
    let pipeline = Pipeline::new(common::config(dir.path(), &[]));
    let event = common::event_for(bucket, key, "ObjectCreated:Put");
    let outcome = pipeline.handle_event(&event, None).await;
    assert_eq!(outcome[0].status, "done", "{:?}", outcome[0]);
    let path = dir
        .path()
        .join(bucket)
        .join(outcome[0].result_key.as_deref().expect("a sidecar key"));
    let real: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    let example = readme_sidecar_example();

    let diff = shape_diff("sidecar", &example, &real);
    assert!(
        diff.is_empty(),
        "README sidecar example vs a real result:\n  {}\nreal result:\n{}",
        diff.join("\n  "),
        serde_json::to_string_pretty(&real).unwrap()
    );

    // Values that are the same for the same input and configuration (not `config_hash`: it
    // covers the SHA-256 of the model files, which a different converter build may change).
    let mut wrong = Vec::new();
    for pointer in [
        "/schema",
        "/object/provider",
        "/object/bucket",
        "/object/key",
        "/object/size",
        "/object/etag",
        "/object/region",
        "/object/event_name",
        "/image/format",
        "/image/width",
        "/image/height",
        "/image/bytes",
        "/labels/analyzer",
        "/labels/status",
        "/moderation/analyzer",
        "/moderation/status",
        "/moderation/output/suggestion",
        "/moderation/output/label",
        "/verdict/decision",
        "/verdict/reason",
        "/verdict/on_error_applied",
        "/tool/name",
        "/labels/output/raw/model",
        "/moderation/output/raw/model",
    ] {
        if example.pointer(pointer) != real.pointer(pointer) {
            wrong.push(format!(
                "{pointer}: README {:?}, real {:?}",
                example.pointer(pointer),
                real.pointer(pointer)
            ));
        }
    }
    let names = |v: &serde_json::Value, list: &str, field: &str| -> Vec<String> {
        v.pointer(list)
            .and_then(|l| l.as_array())
            .map(|l| l.iter().map(|x| x[field].to_string()).collect())
            .unwrap_or_default()
    };
    for (list, field) in [
        ("/labels/output/labels", "name"),
        ("/moderation/output/categories", "category"),
        ("/actions", "action"),
        ("/actions", "status"),
        ("/actions", "detail"),
    ] {
        let (e, r) = (names(&example, list, field), names(&real, list, field));
        if e != r {
            wrong.push(format!("{list}[].{field}: README {e:?}, real {r:?}"));
        }
    }
    // Scores (0-100), rounded in the README; the models give the same figures to ~1e-5.
    let number = |v: &serde_json::Value, p: &str| v.pointer(p).and_then(|x| x.as_f64());
    let mut scores = vec!["/moderation/output/score".to_string()];
    for i in 0..names(&real, "/labels/output/labels", "name").len() {
        scores.push(format!("/labels/output/labels/{i}/confidence"));
    }
    for p in scores {
        match (number(&example, &p), number(&real, &p)) {
            (Some(e), Some(r)) if (e - r).abs() <= 0.01 => {}
            (e, r) => wrong.push(format!("{p}: README {e:?}, real {r:?}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "README sidecar example values differ from a real result:\n  {}\nreal result:\n{}",
        wrong.join("\n  "),
        serde_json::to_string_pretty(&real).unwrap()
    );
}

#[test]
fn sidecar_shape_check_catches_differences_and_the_example_parses() {
    let real = serde_json::json!({"a": 1, "b": {"c": [{"d": 1}]}});
    assert!(shape_diff("x", &real, &real).is_empty());
    let extra = serde_json::json!({"a": 1, "b": {"c": [{"d": 1, "e": 2}]}});
    assert_eq!(
        shape_diff("x", &extra, &real),
        ["x.b.c[0].e: in the README, not in a real result"]
    );
    let missing = serde_json::json!({"b": {"c": [{"d": 1}]}});
    assert_eq!(
        shape_diff("x", &missing, &real),
        ["x.a: in a real result, not in the README"]
    );
    // The README example itself parses, whatever features the build has.
    assert_eq!(readme_sidecar_example()["schema"], "image-triage/v1");
}

// ---------------------------------------------------------------------------------------------
// 2. Tests the docs cite

/// Every `tests/...` path the README and the docs/ pages name exists; every `file::test` (or
/// `tests/file.rs::test`) citation of an integration test names a test function in that file.
#[test]
fn every_test_the_docs_cite_exists() {
    let mut docs = vec![("README.md".to_string(), readme())];
    for entry in std::fs::read_dir(root().join("docs")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".md") {
            docs.push((format!("docs/{name}"), read(&entry.path())));
        }
    }
    let (mut bad, mut checked) = (Vec::new(), 0);
    for (doc, text) in &docs {
        for (line, raw) in text.lines().enumerate() {
            let at = format!("{doc}:{}", line + 1);
            let words = raw.split(|c: char| c.is_whitespace() || "`(),;|".contains(c));
            for word in words.filter(|w| !w.is_empty()) {
                let word = word.trim_end_matches(['.', ':']);
                let (file, test) = match word.split_once("::") {
                    Some((f, t)) => (f.to_string(), Some(t.to_string())),
                    None => (word.to_string(), None),
                };
                let path = if file.starts_with("tests/") {
                    file
                } else if test.is_some() && root().join(format!("tests/{file}.rs")).is_file() {
                    format!("tests/{file}.rs")
                } else {
                    continue;
                };
                checked += 1;
                if !root().join(&path).exists() {
                    bad.push(format!("{at}: {path} does not exist"));
                    continue;
                }
                let Some(test) = test.filter(|t| t != "*") else {
                    continue;
                };
                let fns = read(&root().join(&path));
                if !fns.contains(&format!("fn {test}(")) {
                    bad.push(format!("{at}: {path} has no test `{test}`"));
                }
            }
        }
    }
    assert!(checked >= 15, "found only {checked} test citations");
    assert!(
        bad.is_empty(),
        "test citations in the docs that point at nothing:\n  {}",
        bad.join("\n  ")
    );
}
