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
