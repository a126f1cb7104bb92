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
        .with_writer(|| Redacting);
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

/// `text` with what may be a secret taken out: the query of every URL (`?…` → `?<redacted>`),
/// the user-info of every URL (`amqp://user:password@` → `amqp://***@`), and the value of
/// every signature or token parameter wherever it stands (`q-signature=…`,
/// `X-Amz-Signature=…`, `Signature=…`, security tokens). Vendor error text and transport
/// errors can quote a presigned URL or a broker URL; none of it may reach a sidecar, an outcome
/// or a log.
pub fn redact_url_queries(text: &str) -> String {
    redact_params(&redact_urls(text))
}

/// Where a URL (or a parameter value) quoted in text ends.
fn ends_here(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | '\\' | ',' | ';')
}

fn redact_urls(text: &str) -> String {
    redact_queries(&redact_userinfo(text))
}

/// After every `://` (nested ones included: `x://amqp://user:pw@host`), an authority holding
/// `@` loses what comes before its last `@`.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(p) = rest.find("://") {
        out.push_str(&rest[..p + 3]);
        let after = &rest[p + 3..];
        let end = after
            .find(|c: char| ends_here(c) || matches!(c, '/' | '?' | '#'))
            .unwrap_or(after.len());
        rest = match after[..end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                &after[at..]
            }
            None => after,
        };
    }
    out.push_str(rest);
    out
}

/// The query of every URL (from its `?` to where the URL ends) becomes `?<redacted>`.
fn redact_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(p) = rest.find("://") {
        let end = rest[p..].find(ends_here).map_or(rest.len(), |e| p + e);
        match rest[p..end].find('?') {
            Some(q) => {
                out.push_str(&rest[..p + q]);
                out.push_str("?<redacted>");
            }
            None => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Parameters whose value is a signature or a token (compared without case).
const SECRET_PARAMS: [&str; 7] = [
    "signature",
    "q-signature",
    "x-amz-signature",
    "x-amz-security-token",
    "x-cos-security-token",
    "x-obs-security-token",
    "securitytoken",
];

fn redact_params(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut i = 0;
    while let Some(eq) = lower[i..].find('=').map(|e| i + e) {
        i = eq + 1;
        if !names_a_secret(&lower[..eq]) {
            continue;
        }
        // A quoted value (`Signature="…"`, `\"…\"` inside JSON) starts after its quote.
        let mut start = eq + 1;
        for quote in ["\\\"", "\"", "'"] {
            if text[start..].starts_with(quote) {
                start += quote.len();
                break;
            }
        }
        let value_end = text[start..]
            .find(|c: char| ends_here(c) || c == '&')
            .map_or(text.len(), |v| start + v);
        if value_end > start {
            out.push_str(&text[at..start]);
            out.push_str("<redacted>");
            at = value_end;
            i = value_end;
        }
    }
    out.push_str(&text[at..]);
    out
}

/// Whether `before` (lower-case text up to a `=`) ends with a secret parameter's name standing
/// on its own: at the start, after a character that cannot be part of a name, or after an
/// escape such as `\n` or `\t` (how the text and JSON log formats write a control character).
fn names_a_secret(before: &str) -> bool {
    SECRET_PARAMS.iter().any(|name| {
        let Some(head) = before.strip_suffix(name) else {
            return false;
        };
        let mut tail = head.chars().rev();
        match (tail.next(), tail.next()) {
            (None, _) => true,
            (Some(c), _) if !(c.is_ascii_alphanumeric() || c == '-' || c == '_') => true,
            (Some(c), Some('\\')) => c.is_ascii_alphabetic(),
            _ => false,
        }
    })
}

/// stderr, with [`redact_url_queries`] applied to every log line (text and JSON alike).
struct Redacting;

impl std::io::Write for Redacting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = redact_url_queries(&String::from_utf8_lossy(buf));
        std::io::stderr().write_all(line.as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod redact_tests {
    use super::redact_url_queries as redact;

    #[test]
    fn url_queries_are_redacted() {
        let text = "download failed: https://b-1.cos.ap-guangzhou.myqcloud.com/k.png?q-sign-algorithm=sha1&q-signature=abc&x-cos-security-token=T (403) and http://x/y?X-Amz-Signature=s\\nmore";
        let r = redact(text);
        assert!(
            !r.contains("q-signature") && !r.contains("X-Amz-Signature") && !r.contains("token=T"),
            "{r}"
        );
        assert!(
            r.contains("https://b-1.cos.ap-guangzhou.myqcloud.com/k.png?<redacted> (403)"),
            "{r}"
        );
        assert_eq!(redact("no urls here"), "no urls here");
    }

    #[test]
    fn userinfo_and_bare_signatures_are_redacted() {
        let r = redact("connect amqp://triage:hunter2@mq.internal:5672/%2F failed");
        assert_eq!(r, "connect amqp://***@mq.internal:5672/%2F failed");
        let r = redact("{\"err\":\"GET http://u:p@h/k\"}");
        assert_eq!(r, "{\"err\":\"GET http://***@h/k\"}");
        let r = redact("Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=0123abcd; q-sign-algorithm=sha1&q-ak=AKID&q-signature=ffee&x=1 SecurityToken=T0K");
        for secret in ["0123abcd", "ffee", "T0K"] {
            assert!(!r.contains(secret), "{r}");
        }
        assert!(r.contains("q-ak=AKID&q-signature=<redacted>&x=1"), "{r}");
        // Names that merely end like one are left alone; so is an empty value.
        assert_eq!(
            redact("nosignature=1 signature="),
            "nosignature=1 signature="
        );
        assert_eq!(redact("a://b@"), "a://***@");
        // Nested and scheme-less forms (found by the property test).
        assert_eq!(redact("://amqp://u:pw@h:5672/"), "://amqp://***@h:5672/");
        assert_eq!(
            redact("x://amqp://u:pw@h/?q=1"),
            "x://amqp://***@h/?<redacted>"
        );
        assert_eq!(redact("://"), "://");
        assert_eq!(redact("é://ü@ä?ö"), "é://***@ä?<redacted>");
        assert_eq!(redact("é=1 ésignature=2"), "é=1 ésignature=<redacted>");
        // Escaped control characters and quoted values (text and JSON log formats).
        assert_eq!(redact("err\\nSignature=abc"), "err\\nSignature=<redacted>");
        assert_eq!(
            redact("a\\tx-amz-security-token=T"),
            "a\\tx-amz-security-token=<redacted>"
        );
        assert_eq!(redact("Signature=\"abc\" x"), "Signature=\"<redacted>\" x");
        assert_eq!(
            redact("{\"m\":\"Signature=\\\"abc\\\"\"}"),
            "{\"m\":\"Signature=\\\"<redacted>\\\"\"}"
        );
        assert_eq!(redact("xsignature=1"), "xsignature=1");
    }
}
