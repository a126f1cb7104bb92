//! One message per triaged object. `TRIAGE_QUEUE`'s URL scheme picks the queue: `file:PATH`, an
//! append-only JSON-lines file (the embedded default); `cmq://<queue>?region=…`, Tencent TDMQ
//! for CMQ (see [`super::cmq`]); `sqs://HOST/ACCOUNT/NAME`, Amazon SQS (see [`super::sqs`]);
//! `amqp://` / `amqps://` (RabbitMQ and the managed AMQP 0-9-1 brokers, see [`super::amqp`]); `callback+https://` / `callback+http://`, a
//! signed webhook POST (see [`super::callback`]).
//!
//! Delivery is at-least-once upstream (platforms re-deliver events), so every message carries a
//! dedupe key; the file queue refuses a key it already holds, the others hand it to consumers
//! (SQS message attribute / FIFO deduplication id, AMQP `message_id`, HTTP `Idempotency-Key`).

use std::path::PathBuf;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::result::TriageResult;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Holds the URL's scheme only: the rest may carry a password or token.
    #[error("TRIAGE_QUEUE: unsupported queue URL scheme {0:?}; this build knows file:PATH, cmq://, sqs://, amqp://, amqps://, callback+https:// and callback+http://")]
    Unsupported(String),
    #[error(transparent)]
    Cmq(#[from] super::cmq::CmqError),
    #[error("TRIAGE_QUEUE: {0}")]
    Config(String),
    #[error(transparent)]
    Amqp(#[from] super::amqp::AmqpError),
    #[error(transparent)]
    Callback(#[from] super::callback::CallbackError),
    #[error(transparent)]
    Sqs(#[from] super::sqs::SqsError),
    #[error("queue {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl QueueError {
    pub fn retryable(&self) -> bool {
        match self {
            QueueError::Io { .. } => true,
            QueueError::Cmq(e) => crate::client::Retryable::retryable(e),
            QueueError::Amqp(e) => crate::client::Retryable::retryable(e),
            QueueError::Callback(e) => crate::client::Retryable::retryable(e),
            QueueError::Unsupported(_) | QueueError::Config(_) => false,
            QueueError::Sqs(e) => e.is_retryable(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Queue {
    File(PathBuf),
    Cmq(super::cmq::CmqQueue),
    Amqp(super::amqp::AmqpQueue),
    Callback(super::callback::CallbackQueue),
    Sqs(super::sqs::SqsQueue),
}

/// Check `TRIAGE_QUEUE` and the settings its scheme needs when the configuration is built: the
/// constructor the sink uses, which parses and connects to nothing. The error shows the URL's
/// scheme only (the rest may carry a password or token).
pub fn check(config: &crate::config::Config) -> Result<(), crate::config::ConfigError> {
    let Some(url) = config.queue.as_deref() else {
        return Ok(());
    };
    Queue::for_config(config).map(drop).map_err(|e| {
        // A sink's message may quote its URL; the user-info part never leaves here.
        let e = e
            .to_string()
            .replace(url, &crate::config::redact_userinfo(url));
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
        let secret = super::callback::SECRET_VAR;
        if scheme.to_ascii_lowercase().starts_with("callback+") && config.env.get(secret).is_none()
        {
            crate::config::ConfigError::new(secret, "", e)
        } else {
            crate::config::ConfigError::new("TRIAGE_QUEUE", &format!("{scheme}:…"), e)
        }
    })
}

impl Queue {
    /// A queue that needs nothing but its URL (`file:`); others need [`Queue::for_config`].
    pub fn from_url(url: &str) -> Result<Queue, QueueError> {
        match url.strip_prefix("file:") {
            Some(path) if !path.is_empty() => {
                Ok(Queue::File(PathBuf::from(path.trim_start_matches("//"))))
            }
            _ => Err(QueueError::Unsupported(
                url.split_once(':')
                    .map(|(scheme, _)| scheme.to_string())
                    .unwrap_or_default(),
            )),
        }
    }

    /// The queue `TRIAGE_QUEUE` names, with its settings (secrets, tuning) from `config`.
    pub fn for_config(config: &crate::config::Config) -> Result<Queue, QueueError> {
        Queue::for_url(config.queue.as_deref().unwrap_or_default(), config)
    }

    /// The queue `url` names (the schemes of `TRIAGE_QUEUE`), with its settings (secrets,
    /// tuning) from `config`: `scan --enqueue` sends to a queue other than the results queue.
    pub fn for_url(url: &str, config: &crate::config::Config) -> Result<Queue, QueueError> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("cmq") => Ok(Queue::Cmq(super::cmq::CmqQueue::new(url, config)?)),
            Some("amqp" | "amqps") => Ok(Queue::Amqp(super::amqp::AmqpQueue::new(url, config)?)),
            Some("callback+https" | "callback+http") => Ok(Queue::Callback(
                super::callback::CallbackQueue::new(url, config)?,
            )),
            Some("sqs") => Ok(Queue::Sqs(super::sqs::SqsQueue::new(url, config)?)),
            _ => Queue::from_url(url),
        }
    }

    /// Publish `message` unless one with the same dedupe key was published before.
    /// Returns false for a duplicate.
    pub async fn publish(&self, message: &QueueMessage<'_>) -> Result<bool, QueueError> {
        match self {
            Queue::Cmq(q) => Ok(q.publish(message).await?),
            Queue::Amqp(q) => Ok(q.publish(message).await?),
            Queue::Callback(q) => Ok(q.publish(message).await?),
            Queue::Sqs(q) => Ok(q.publish(message).await?),
            Queue::File(path) => {
                let needle = format!("\"dedupe_key\":\"{}\"", message.dedupe_key);
                let line = serde_json::to_string(message).map_err(|e| QueueError::Io {
                    path: path.display().to_string(),
                    source: std::io::Error::other(e),
                })?;
                append_unless_present(path, &needle, &line).await
            }
        }
    }

    /// Send `body` as it is: one JSON document (an upload event that `scan --enqueue` hands to
    /// the platform's consumers), with `dedupe_key` where each queue carries one: the SQS message
    /// attribute (and FIFO deduplication id), the AMQP `message_id`. CMQ has no such field: its
    /// consumers find the key in the body. The file queue holds one body per line and refuses a
    /// key it already holds, so `body` must contain `dedupe_key` itself. Returns false for a
    /// refused duplicate.
    pub async fn send_raw(&self, body: &str, dedupe_key: &str) -> Result<bool, QueueError> {
        match self {
            Queue::Sqs(q) => Ok(q.send_raw(body, dedupe_key).await?),
            Queue::Cmq(q) => Ok(q.send_raw(body).await?),
            Queue::Amqp(q) => Ok(q.send_raw(body, dedupe_key).await?),
            Queue::Callback(_) => Err(QueueError::Config(
                "a callback URL takes results, not upload events; send these to sqs://, cmq://, \
                 amqp:// or file:"
                    .into(),
            )),
            Queue::File(path) => {
                // A body over two lines would read back as two broken messages.
                if body.contains('\n') || !body.contains(dedupe_key) {
                    return Err(QueueError::Config(
                        "a file queue message must be one line holding its dedupe key".into(),
                    ));
                }
                append_unless_present(path, dedupe_key, body).await
            }
        }
    }
}

/// Append `line` to the JSON-lines file at `path` unless the file already contains `needle`;
/// false when it does.
async fn append_unless_present(
    path: &std::path::Path,
    needle: &str,
    line: &str,
) -> Result<bool, QueueError> {
    let io = |source| QueueError::Io {
        path: path.display().to_string(),
        source,
    };
    match tokio::fs::read_to_string(path).await {
        Ok(existing) if existing.contains(needle) => return Ok(false),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let mut line = line.to_string();
    line.push('\n');
    // One write of one line with O_APPEND: concurrent writers do not interleave.
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(io)?;
    f.write_all(line.as_bytes()).await.map_err(io)?;
    f.flush().await.map_err(io)?;
    Ok(true)
}

/// The queue message: small, self-describing, with what consumers filter on.
#[derive(Debug, Clone, Serialize)]
pub struct QueueMessage<'a> {
    pub schema: &'static str,
    pub dedupe_key: String,
    pub bucket: &'a str,
    pub key: &'a str,
    pub etag: &'a str,
    pub verdict: Option<&'static str>,
    pub labels: Vec<&'a str>,
    pub result_key: Option<&'a str>,
    pub processed_at: chrono::DateTime<chrono::Utc>,
}

/// (bucket, key, etag, config hash): the same object content under the same configuration.
pub fn dedupe_key(bucket: &str, key: &str, etag: &str, config_hash: &str) -> String {
    let mut h = Sha256::new();
    for part in [bucket, key, etag, config_hash] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

pub fn message<'a>(
    result: &'a TriageResult,
    etag: &'a str,
    result_key: Option<&'a str>,
) -> QueueMessage<'a> {
    QueueMessage {
        schema: crate::result::SCHEMA_ID,
        dedupe_key: dedupe_key(
            &result.object.bucket,
            &result.object.key,
            etag,
            &result.config_hash,
        ),
        bucket: &result.object.bucket,
        key: &result.object.key,
        etag,
        verdict: result.verdict.as_ref().map(|v| v.decision.as_str()),
        labels: result.labels().iter().map(|l| l.name.as_str()).collect(),
        result_key,
        processed_at: result.processed_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(
            matches!(Queue::from_url("file:/tmp/q.jsonl"), Ok(Queue::File(p)) if p == std::path::Path::new("/tmp/q.jsonl"))
        );
        assert!(
            matches!(Queue::from_url("file:///tmp/q.jsonl"), Ok(Queue::File(p)) if p == std::path::Path::new("/tmp/q.jsonl"))
        );
        let e = Queue::from_url("kafka://x").unwrap_err().to_string();
        assert!(e.contains("file:PATH"), "{e}");
        assert_ne!(
            dedupe_key("b", "k", "e", "c"),
            dedupe_key("b", "k", "e2", "c")
        );
        assert_ne!(
            dedupe_key("b", "ke", "", "c"),
            dedupe_key("b", "k", "e", "c")
        );
    }

    #[tokio::test]
    async fn file_queue_refuses_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::from_url(&format!("file:{}/q/out.jsonl", dir.path().display())).unwrap();
        let msg = QueueMessage {
            schema: "image-triage/v1",
            dedupe_key: dedupe_key("b", "k", "e", "c"),
            bucket: "b",
            key: "k",
            etag: "e",
            verdict: Some("pass"),
            labels: vec!["cat"],
            result_key: None,
            processed_at: chrono::Utc::now(),
        };
        assert!(q.publish(&msg).await.unwrap());
        assert!(!q.publish(&msg).await.unwrap());
        let text = std::fs::read_to_string(dir.path().join("q/out.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["labels"][0], "cat");
    }

    #[tokio::test]
    async fn raw_bodies_go_one_a_line_and_a_repeated_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::from_url(&format!("file:{}/events.jsonl", dir.path().display())).unwrap();
        let body = r#"{"Records":[{"id":"k1"}]}"#;
        assert!(q.send_raw(body, "k1").await.unwrap());
        assert!(!q.send_raw(body, "k1").await.unwrap());
        assert!(q.send_raw(r#"{"id":"k2"}"#, "k2").await.unwrap());
        let text = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
        assert_eq!(text, format!("{body}\n{{\"id\":\"k2\"}}\n"));
        // A body that does not carry its key could never be refused as a repeat.
        assert!(q.send_raw("{}", "k3").await.is_err());
        assert!(q.send_raw("{\n\"k4\":1}", "k4").await.is_err());
    }
}
