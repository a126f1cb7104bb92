//! Helpers for tests/docs.rs: the README and the docs/ pages it links, and a small Rust lexer that
//! finds string literals, identifiers and brackets in src/ (comments and `#[cfg(test)]` items
//! skipped), so the checks depend on files, not on module paths.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn readme() -> String {
    read(&root().join("README.md"))
}

/// The `docs/*.md` pages the README links to.
pub fn linked_docs(readme: &str) -> Vec<(String, String)> {
    let mut pages = BTreeSet::new();
    for part in readme.split("](").skip(1) {
        let target = part.split(')').next().unwrap_or_default();
        let target = target.split('#').next().unwrap_or_default();
        if target.starts_with("docs/") && target.ends_with(".md") {
            pages.insert(target.to_string());
        }
    }
    pages
        .into_iter()
        .map(|p| {
            let text = read(&root().join(&p));
            (p, text)
        })
        .collect()
}

/// Text inside single backticks, line by line (a span never crosses a line here).
pub fn backtick_spans(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in md.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 {
                out.push((n + 1, span.to_string()));
            }
        }
    }
    out
}

/// One token of Rust source; comments, whitespace and char literals are dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Str(String),
    Ident(String),
    Punct(char),
}

pub fn lex(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let count_lines = |s: &[char]| s.iter().filter(|&&ch| ch == '\n').count();
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let (start, mut depth) = (i, 0);
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += count_lines(&c[start..i]);
        } else if ch == '"' {
            let start_line = line;
            let (s, end) = cooked_string(&c, i + 1);
            line += count_lines(&c[i..end]);
            i = end;
            out.push((Tok::Str(s), start_line));
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 3; // the quote, the backslash and the escaped character
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                out.push((Tok::Punct('\''), line));
                i += 1;
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let after = c.get(i).copied();
            match (word.as_str(), after) {
                ("r" | "br" | "cr", Some('"' | '#')) => {
                    let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
                    if c.get(i + hashes) != Some(&'"') {
                        out.push((Tok::Ident(word), line));
                        continue;
                    }
                    let body = i + hashes + 1;
                    let mut j = body;
                    let closing: Vec<char> = std::iter::once('"')
                        .chain((0..hashes).map(|_| '#'))
                        .collect();
                    while j < c.len() && !c[j..].starts_with(&closing) {
                        j += 1;
                    }
                    out.push((Tok::Str(c[body..j].iter().collect()), line));
                    line += count_lines(&c[i..j]);
                    i = (j + closing.len()).min(c.len());
                }
                ("b" | "c", Some('"')) => {
                    let (s, end) = cooked_string(&c, i + 1);
                    out.push((Tok::Str(s), line));
                    line += count_lines(&c[i..end]);
                    i = end;
                }
                ("b", Some('\'')) => {
                    i += 1;
                    if c.get(i) == Some(&'\\') {
                        i += 1;
                    }
                    while i < c.len() && c[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                }
                _ => out.push((Tok::Ident(word), line)),
            }
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// A `"..."` body starting at `i` (after the quote): (content, index after the closing quote).
pub fn cooked_string(c: &[char], mut i: usize) -> (String, usize) {
    let mut s = String::new();
    while i < c.len() && c[i] != '"' {
        if c[i] == '\\' && i + 1 < c.len() {
            s.push(c[i + 1]);
            i += 2;
        } else {
            s.push(c[i]);
            i += 1;
        }
    }
    (s, i + 1)
}

/// Drop every item marked `#[cfg(test)]` (unit-test modules, test helpers).
pub fn strip_cfg_test(toks: Vec<(Tok, usize)>) -> Vec<(Tok, usize)> {
    let is = |t: &Tok, s: &str| matches!(t, Tok::Ident(w) if w == s);
    let p = |t: &Tok, ch: char| *t == Tok::Punct(ch);
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let w: Vec<&Tok> = toks[i..].iter().take(7).map(|(t, _)| t).collect();
        let cfg_test = w.len() == 7
            && p(w[0], '#')
            && p(w[1], '[')
            && is(w[2], "cfg")
            && p(w[3], '(')
            && is(w[4], "test")
            && p(w[5], ')')
            && p(w[6], ']');
        if !cfg_test {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        // Skip the item: up to a `;` outside braces, or the end of its outermost `{ }`.
        i += 7;
        let mut depth = 0usize;
        while i < toks.len() {
            let t = &toks[i].0;
            i += 1;
            if p(t, '{') {
                depth += 1;
            } else if p(t, '}') {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            } else if p(t, ';') && depth == 0 {
                break;
            }
        }
    }
    out
}

/// Every non-test `.rs` file under `src/`, lexed: (path relative to the crate, tokens).
pub fn source_files() -> Vec<(String, Vec<(Tok, usize)>)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if name != "tests" {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" && !name.starts_with("tests_") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&root().join("src"), &mut paths);
    paths.sort();
    assert!(paths.len() > 20, "src/ scan found only {paths:?}");
    paths
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root()).unwrap().display().to_string();
            (rel, strip_cfg_test(lex(&read(&p))))
        })
        .collect()
}

/// Does `glob` (placeholders `<...>` or `*`, each standing for one or more characters) match
/// `name`?
pub fn glob_matches(glob: &str, name: &str) -> bool {
    fn go(g: &[u8], n: &[u8]) -> bool {
        match g.first() {
            None => n.is_empty(),
            Some(b'*') => (1..=n.len()).any(|k| go(&g[1..], &n[k..])),
            Some(b'<') => {
                let close = g.iter().position(|&b| b == b'>').unwrap_or(g.len() - 1);
                (1..=n.len()).any(|k| go(&g[close + 1..], &n[k..]))
            }
            Some(&b) => n.first() == Some(&b) && go(&g[1..], &n[1..]),
        }
    }
    go(glob.as_bytes(), name.as_bytes())
}

/// The argument token runs of a call whose `(` is at `open`.
pub fn call_args(toks: &[(Tok, usize)], open: usize) -> Vec<Vec<Tok>> {
    let (mut args, mut cur, mut depth) = (Vec::new(), Vec::new(), 0usize);
    for (t, _) in &toks[open..] {
        match t {
            Tok::Punct('(' | '[' | '{') => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    args.push(std::mem::take(&mut cur));
                    break;
                }
            }
            Tok::Punct(',') if depth == 1 => {
                args.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(t.clone());
    }
    args
}
