//! TDMQ for CMQ queues through API 3.0 `SendCmqMsg` (tdmq.tencentcloudapi.com, version
//! 2020-02-17, TC3-signed; reference tencent.md §9.1). One message per object; `TRIAGE_QUEUE` =
//! `cmq://<queue-name>?region=<region>` (region defaults to the function's, `TENCENTCLOUD_REGION`).
//! CMQ does not deduplicate: the message carries `dedupe_key` for consumers.

use std::time::Duration;

use serde_json::json;

use super::queue::QueueMessage;
use crate::client::{Retryable, Tuning};
use crate::cloud::tencent::api::{Api, ApiError};
use crate::config::Config;

/// 5 s per attempt, 3 attempts; TDMQ's documented limits are far above one message per upload.
pub const TDMQ_TUNING: Tuning = Tuning::new(None, Duration::from_secs(5), 3);

#[derive(Debug, thiserror::Error)]
pub enum CmqError {
    #[error("TRIAGE_QUEUE={url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("TDMQ SendCmqMsg to {queue}: {source}")]
    Send {
        queue: String,
        #[source]
        source: ApiError,
    },
}

impl Retryable for CmqError {
    fn retryable(&self) -> bool {
        match self {
            CmqError::Url { .. } => false,
            CmqError::Send { source, .. } => source.retryable,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CmqQueue {
    pub queue: String,
    pub region: Option<String>,
    api: Api,
}

/// `(queue name, region)` from `cmq://NAME[?region=REGION]`. Queue names: a letter first, then
/// letters, digits, `-` and `_`, at most 64 characters (CMQ naming rule).
pub fn parse_url(url: &str) -> Result<(String, Option<String>), String> {
    let rest = url
        .strip_prefix("cmq://")
        .ok_or("expected cmq://<queue-name>[?region=<region>]")?;
    let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
    let name = name.trim_end_matches('/');
    let valid = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "queue name {name:?}: a letter first, then letters, digits, - or _, at most 64 characters"
        ));
    }
    let mut region = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("region", r)) if !r.is_empty() => region = Some(r.to_string()),
            _ => return Err(format!("unknown parameter {pair:?}; only region= is known")),
        }
    }
    Ok((name.to_string(), region))
}

impl CmqQueue {
    pub fn new(url: &str, config: &Config) -> Result<Self, CmqError> {
        let (queue, region) = parse_url(url).map_err(|reason| CmqError::Url {
            url: url.into(),
            reason,
        })?;
        Ok(CmqQueue {
            queue,
            region,
            api: Api::new(config, "tdmq", "2020-02-17", TDMQ_TUNING),
        })
    }

    /// Send one message. CMQ cannot refuse duplicates, so this always reports a fresh send.
    pub async fn publish(&self, message: &QueueMessage<'_>) -> Result<bool, CmqError> {
        let content = serde_json::to_string(message).map_err(|e| CmqError::Send {
            queue: self.queue.clone(),
            source: ApiError {
                code: "ClientError".into(),
                message: e.to_string(),
                retryable: false,
            },
        })?;
        self.send_raw(&content).await
    }

    /// Send `content` as the message body, as it is (`scan --enqueue`'s upload events, which
    /// carry their dedupe key inside). Always a fresh send, as for [`CmqQueue::publish`].
    pub async fn send_raw(&self, content: &str) -> Result<bool, CmqError> {
        let err = |source| CmqError::Send {
            queue: self.queue.clone(),
            source,
        };
        let body = json!({"QueueName": self.queue, "MsgContent": content, "DelaySeconds": 0});
        let response = self
            .api
            .call("SendCmqMsg", self.region.as_deref(), &body)
            .await
            .map_err(err)?;
        if response["Result"].as_bool() == Some(false) {
            return Err(err(ApiError {
                code: "FailedOperation".into(),
                message: "SendCmqMsg answered Result=false".into(),
                retryable: true,
            }));
        }
        tracing::info!(queue = %self.queue, msg_id = response["MsgId"].as_str().unwrap_or_default(), "queued");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("cmq://image-results?region=ap-shanghai").unwrap(),
            ("image-results".into(), Some("ap-shanghai".into()))
        );
        assert_eq!(parse_url("cmq://q_1").unwrap(), ("q_1".into(), None));
        for bad in [
            "cmq://",
            "cmq://1q",
            "cmq://a.b",
            "cmq://q?zone=x",
            "sqs://q",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
