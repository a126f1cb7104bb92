//! Log output. Object keys, vendor error text and event fields come from outside: in the text
//! format every control character in a field or message is escaped, so a key holding a newline
//! cannot start a line that looks like a log line of its own. (The JSON format escapes by
//! construction.)

use std::fmt::Write as _;

/// `text` with control characters written as Rust escapes (`\n`, `\u{1b}`).
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Logs on stderr: `TRIAGE_LOG` filter (else `default`), JSON when asked, else text with every
/// field escaped.
pub fn init(default: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRIAGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json || std::env::var("TRIAGE_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        use tracing_subscriber::field::MakeExt;
        let fields = tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
            let shown = escape_controls(&format!("{value:?}"));
            if field.name() == "message" {
                write!(w, "{shown}")
            } else {
                write!(w, "{field}={shown}")
            }
        })
        .delimited(" ");
        builder.with_target(false).fmt_fields(fields).init();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::escape_controls("plain key.png"), "plain key.png");
        assert_eq!(
            super::escape_controls("a.png\n2026-12-01T00:00:00Z  INFO forged\r\u{1b}[31m"),
            "a.png\\n2026-12-01T00:00:00Z  INFO forged\\r\\u{1b}[31m"
        );
        assert_eq!(super::escape_controls("猫\t"), "猫\\t");
    }
}

/// `text` with the query of every URL in it removed (`?…` → `?<redacted>`): vendor error text
/// and transport errors can quote a presigned URL, whose signature and token must not reach a
/// sidecar, an outcome or a log.
pub fn redact_url_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let next_url = |s: &str| {
        [s.find("http://"), s.find("https://")]
            .into_iter()
            .flatten()
            .min()
    };
    while let Some(at) = next_url(rest) {
        out.push_str(&rest[..at]);
        let url_len = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')'))
            .unwrap_or(rest.len() - at);
        let url = &rest[at..at + url_len];
        match url.find('?') {
            Some(q) => {
                out.push_str(&url[..q]);
                out.push_str("?<redacted>");
            }
            None => out.push_str(url),
        }
        rest = &rest[at + url_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod redact_tests {
    #[test]
    fn url_queries_are_redacted() {
        let text = "download failed: https://b-1.cos.ap-guangzhou.myqcloud.com/k.png?q-sign-algorithm=sha1&q-signature=abc&x-cos-security-token=T (403) and http://x/y?X-Amz-Signature=s\\nmore";
        let r = super::redact_url_queries(text);
        assert!(
            !r.contains("q-signature") && !r.contains("X-Amz-Signature") && !r.contains("token=T"),
            "{r}"
        );
        assert!(
            r.contains("https://b-1.cos.ap-guangzhou.myqcloud.com/k.png?<redacted> (403)"),
            "{r}"
        );
        assert_eq!(super::redact_url_queries("no urls here"), "no urls here");
    }
}
