//! Amazon SQS over its JSON protocol (`X-Amz-Target: AmazonSQS.<Action>`), signed with SigV4:
//! the `sqs://` queue sink, and the receive/delete calls `image-triage poll-sqs` uses.
//!
//! `TRIAGE_QUEUE=sqs://sqs.REGION.amazonaws.com/ACCOUNT/NAME` names the queue (its https URL
//! with `sqs` for `https`); `TRIAGE_SQS_ENDPOINT` (moto, ElasticMQ, VPC endpoints) replaces the
//! scheme and host. Standard queues deliver at least once, so every message carries the dedupe
//! key (body and message attribute); FIFO queues (`.fifo`) also get it as
//! `MessageDeduplicationId`, so SQS itself drops a re-sent copy within its 5-minute window.

use std::time::Duration;

use serde_json::{json, Value};

use crate::client::credential::Cloud;
use crate::client::{self, CredentialSlots, Retryable, Service, TimedOut, Tuning};
use crate::cloud::aws::sigv4::{self, Request, Signer};
use crate::config::Config;

use super::queue::QueueMessage;

/// Defaults for `TRIAGE_SQS_QPS` / `_TIMEOUT` / `_MAX_ATTEMPTS`. The timeout must exceed the
/// 20 s long-poll wait.
pub const DEFAULT_TUNING: Tuning = Tuning::new(None, Duration::from_secs(30), 4);

#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    #[error("SQS {action}: HTTP {status} {code}: {message}")]
    Remote {
        action: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error("SQS {action}: transport: {message}")]
    Transport {
        action: &'static str,
        message: String,
    },
    #[error(transparent)]
    TimedOut(#[from] TimedOut),
    #[error("SQS: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")]
    NoCredentials,
    #[error("SQS queue URL {0:?}: expected sqs://HOST/ACCOUNT/NAME or https://HOST/ACCOUNT/NAME")]
    BadUrl(String),
}

impl Retryable for SqsError {
    fn retryable(&self) -> bool {
        match self {
            SqsError::Remote { status, code, .. } => {
                *status >= 500
                    || *status == 429
                    || code.ends_with("ThrottlingException")
                    || code.ends_with("RequestThrottled")
                    || code.ends_with("ServiceUnavailable")
            }
            SqsError::Transport { .. } | SqsError::TimedOut(_) => true,
            SqsError::NoCredentials | SqsError::BadUrl(_) => false,
        }
    }
}

impl SqsError {
    pub fn is_retryable(&self) -> bool {
        Retryable::retryable(self)
    }
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
}

/// A signed SQS JSON-protocol client for one queue.
#[derive(Debug, Clone)]
pub struct SqsClient {
    /// `scheme://host[:port]`, where requests go.
    endpoint: String,
    host: String,
    /// The queue URL as SQS knows it (sent in every request body).
    pub queue_url: String,
    region: String,
    credentials: CredentialSlots,
    service: Service,
}

impl SqsClient {
    /// `url`: `sqs://HOST/ACCOUNT/NAME` or the queue's `http(s)://` URL.
    pub fn new(url: &str, config: &Config) -> Result<SqsClient, SqsError> {
        let bad = || SqsError::BadUrl(url.to_string());
        let https = match url.strip_prefix("sqs://") {
            Some(rest) => format!("https://{rest}"),
            None => url.to_string(),
        };
        let parsed = url::Url::parse(&https).map_err(|_| bad())?;
        let queue_host = parsed.host_str().ok_or_else(bad)?.to_string();
        if parsed.path().trim_matches('/').split('/').count() != 2 {
            return Err(bad());
        }
        let endpoint = match config.endpoint("sqs") {
            Some(e) => e.to_string(),
            None => {
                let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!("{}://{queue_host}{port}", parsed.scheme())
            }
        };
        let ep = url::Url::parse(&endpoint).map_err(|_| bad())?;
        let host = match (ep.host_str(), ep.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => return Err(bad()),
        };
        // sqs.REGION.amazonaws.com names its region; otherwise the configured one.
        let region = queue_host
            .strip_prefix("sqs.")
            .and_then(|r| r.strip_suffix(".amazonaws.com"))
            .map(str::to_string)
            .or_else(|| config.env.get("AWS_REGION").map(str::to_string))
            .or_else(|| config.env.get("AWS_DEFAULT_REGION").map(str::to_string))
            .unwrap_or_else(|| "us-east-1".into());
        Ok(SqsClient {
            queue_url: format!("{}{}", endpoint.trim_end_matches('/'), parsed.path()),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            host,
            region,
            credentials: config.credentials.clone(),
            service: Service::new("sqs", config.tuning("sqs", DEFAULT_TUNING)),
        })
    }

    async fn attempt(&self, action: &'static str, body: &[u8]) -> Result<Value, SqsError> {
        let creds = self
            .credentials
            .get(Cloud::Aws)
            .ok_or(SqsError::NoCredentials)?;
        let signer = Signer {
            access_key: &creds.access_key,
            secret_key: &creds.secret_key,
            token: creds.token.as_deref(),
            region: &self.region,
            service: "sqs",
            time: chrono::Utc::now(),
        };
        let target = format!("AmazonSQS.{action}");
        let headers = sigv4::sign_headers(
            &signer,
            Request {
                method: "POST",
                path: "/",
                query: vec![],
                headers: vec![
                    ("host".into(), self.host.clone()),
                    ("content-type".into(), "application/x-amz-json-1.0".into()),
                    ("x-amz-target".into(), target),
                ],
                payload_hash: crate::client::sign::sha256_hex(body),
            },
        );
        let mut req = client::http().post(format!("{}/", self.endpoint));
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let transport = |e: reqwest::Error| SqsError::Transport {
            action,
            message: e.without_url().to_string(),
        };
        let resp = req.body(body.to_vec()).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport)?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let code = v["__type"].as_str().unwrap_or("Unknown");
            return Err(SqsError::Remote {
                action,
                status,
                code: code.rsplit('#').next().unwrap_or(code).to_string(),
                message: v["message"]
                    .as_str()
                    .or(v["Message"].as_str())
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        Ok(v)
    }

    async fn call(&self, action: &'static str, body: Value) -> Result<Value, SqsError> {
        let body = body.to_string().into_bytes();
        self.service.call(|| self.attempt(action, &body)).await
    }

    /// Send one message; FIFO queues deduplicate by `dedupe_key` themselves.
    pub async fn send(
        &self,
        body: &str,
        dedupe_key: &str,
        group: &str,
    ) -> Result<String, SqsError> {
        let mut req = json!({
            "QueueUrl": self.queue_url,
            "MessageBody": body,
            "MessageAttributes": {
                "dedupe_key": {"DataType": "String", "StringValue": dedupe_key}
            }
        });
        if self.queue_url.ends_with(".fifo") {
            req["MessageDeduplicationId"] = json!(dedupe_key);
            req["MessageGroupId"] = json!(group);
        }
        let v = self.call("SendMessage", req).await?;
        Ok(v["MessageId"].as_str().unwrap_or_default().to_string())
    }

    /// Long-poll for up to `max` messages.
    pub async fn receive(&self, max: u32, wait_secs: u32) -> Result<Vec<Received>, SqsError> {
        let v = self
            .call(
                "ReceiveMessage",
                json!({
                    "QueueUrl": self.queue_url,
                    "MaxNumberOfMessages": max.clamp(1, 10),
                    "WaitTimeSeconds": wait_secs.min(20),
                }),
            )
            .await?;
        Ok(v["Messages"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .map(|m| Received {
                        message_id: m["MessageId"].as_str().unwrap_or_default().into(),
                        receipt_handle: m["ReceiptHandle"].as_str().unwrap_or_default().into(),
                        body: m["Body"].as_str().unwrap_or_default().into(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    pub async fn delete(&self, receipt_handle: &str) -> Result<(), SqsError> {
        self.call(
            "DeleteMessage",
            json!({"QueueUrl": self.queue_url, "ReceiptHandle": receipt_handle}),
        )
        .await
        .map(|_| ())
    }
}

/// The `sqs://` results queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: SqsClient,
}

impl SqsQueue {
    pub fn new(url: &str, config: &Config) -> Result<SqsQueue, SqsError> {
        Ok(SqsQueue {
            client: SqsClient::new(url, config)?,
        })
    }

    /// Standard queues cannot refuse a duplicate; the pipeline's marker guard keeps re-delivered
    /// events from publishing again, and consumers can drop repeats by `dedupe_key`.
    pub async fn publish(&self, message: &QueueMessage<'_>) -> Result<bool, SqsError> {
        let body = serde_json::to_string(message).unwrap_or_default();
        self.client
            .send(&body, &message.dedupe_key, message.bucket)
            .await?;
        Ok(true)
    }

    /// Send `body` as it is, with `dedupe_key` as the message attribute (and FIFO deduplication
    /// id). On a FIFO queue each message gets its own group: `scan --enqueue` fans out upload
    /// events, and one group would make the consumers take them one at a time.
    pub async fn send_raw(&self, body: &str, dedupe_key: &str) -> Result<bool, SqsError> {
        self.client.send(body, dedupe_key, dedupe_key).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(vars: &[(&str, &str)]) -> Config {
        Config::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn queue_urls_and_endpoint_override() {
        let c = SqsClient::new(
            "sqs://sqs.eu-west-1.amazonaws.com/123456789012/results",
            &cfg(&[]),
        )
        .unwrap();
        assert_eq!(
            c.queue_url,
            "https://sqs.eu-west-1.amazonaws.com/123456789012/results"
        );
        assert_eq!(
            (c.host.as_str(), c.region.as_str()),
            ("sqs.eu-west-1.amazonaws.com", "eu-west-1")
        );
        let c = SqsClient::new(
            "sqs://sqs.us-east-1.amazonaws.com/123456789012/r.fifo",
            &cfg(&[
                ("TRIAGE_SQS_ENDPOINT", "http://127.0.0.1:5000"),
                ("AWS_REGION", "us-east-1"),
            ]),
        )
        .unwrap();
        assert_eq!(c.queue_url, "http://127.0.0.1:5000/123456789012/r.fifo");
        assert_eq!(c.host, "127.0.0.1:5000");
        let c = SqsClient::new("http://localhost:9324/000000000000/q", &cfg(&[])).unwrap();
        assert_eq!(c.host, "localhost:9324");
        assert!(SqsClient::new("sqs://host-only", &cfg(&[])).is_err());
    }

    #[test]
    fn throttling_is_retryable_access_denied_is_not() {
        let e = |status, code: &str| SqsError::Remote {
            action: "SendMessage",
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(e(400, "ThrottlingException").is_retryable());
        assert!(e(500, "InternalError").is_retryable());
        assert!(!e(403, "AccessDenied").is_retryable());
        assert!(!e(400, "QueueDoesNotExist").is_retryable());
    }
}
