//! The AMQP 0-9-1 sink: RabbitMQ, and the managed brokers that speak the same protocol (Huawei
//! DMS for RabbitMQ, Tencent TDMQ for RabbitMQ, Amazon MQ for RabbitMQ).
//!
//! `TRIAGE_QUEUE=amqp[s]://user:pass@host[:port]/vhost?queue=Q&exchange=X&routing_key=R&exchange_type=T`
//!
//! A publish is done only when the broker confirmed it (publisher confirms) and it was routed to
//! at least one queue (`mandatory`); messages are persistent and carry the dedupe key as
//! `message_id`, so consumers can drop the duplicates that at-least-once delivery allows. The
//! connection is kept for the life of the process (a warm function reuses it) and dropped after
//! any failure, so the retry reconnects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use amqprs::callbacks::ChannelCallback;
use amqprs::channel::{
    BasicPublishArguments, Channel, ConfirmSelectArguments, ExchangeDeclareArguments,
    QueueBindArguments, QueueDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
use async_trait::async_trait;
use tokio::sync::mpsc;

mod target;

use super::queue::QueueMessage;
use crate::client::{Retryable, Service, TimedOut, Tuning};
use crate::config::Config;
use target::Target;

/// Defaults for `TRIAGE_AMQP_QPS` / `_TIMEOUT` / `_MAX_ATTEMPTS`.
const DEFAULTS: Tuning = Tuning::new(None, Duration::from_secs(10), 4);

#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("TRIAGE_QUEUE (amqp): {0}")]
    Config(String),
    #[error("amqp {endpoint}: {what}: {message} (retryable; the connection is reopened)")]
    Broker {
        endpoint: String,
        what: &'static str,
        message: String,
    },
    #[error("amqp {endpoint}: the broker refused the message (nack); retryable")]
    Nacked { endpoint: String },
    #[error("amqp {endpoint}: message returned unroutable ({code} {text}): no queue is bound to exchange {exchange:?} with routing key {routing_key:?}")]
    Unroutable {
        endpoint: String,
        code: u16,
        text: String,
        exchange: String,
        routing_key: String,
    },
    #[error(transparent)]
    TimedOut(#[from] TimedOut),
}

impl Retryable for AmqpError {
    fn retryable(&self) -> bool {
        // Unroutable is retryable too: a consumer may declare its queue later; until then the
        // object's result is not final, so the platform's retry publishes again.
        !matches!(self, AmqpError::Config(_))
    }
}

/// What the channel callback reports back to the publisher.
#[derive(Debug)]
enum Event {
    Ack {
        tag: u64,
        multiple: bool,
    },
    Nack {
        tag: u64,
        multiple: bool,
    },
    Return {
        message_id: Option<String>,
        code: u16,
        text: String,
    },
    Closed(String),
}

struct Events(mpsc::UnboundedSender<Event>);

#[async_trait]
impl ChannelCallback for Events {
    async fn close(
        &mut self,
        _: &Channel,
        close: CloseChannel,
    ) -> Result<(), amqprs::error::Error> {
        let _ = self.0.send(Event::Closed(format!(
            "{} {}",
            close.reply_code(),
            close.reply_text()
        )));
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        let _ = self.0.send(Event::Ack {
            tag: ack.delivery_tag(),
            multiple: ack.mutiple(),
        });
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        let _ = self.0.send(Event::Nack {
            tag: nack.delivery_tag(),
            multiple: nack.multiple(),
        });
    }
    async fn publish_return(
        &mut self,
        _: &Channel,
        ret: Return,
        props: BasicProperties,
        _: Vec<u8>,
    ) {
        let _ = self.0.send(Event::Return {
            message_id: props.message_id().cloned(),
            code: ret.reply_code(),
            text: ret.reply_text().clone(),
        });
    }
}

/// One open connection with a channel in confirm mode. Publishes are serialised on it (one
/// message per triaged object is far below what one channel carries), which keeps the delivery
/// tag bookkeeping trivial.
struct Link {
    connection: Connection,
    channel: Channel,
    events: mpsc::UnboundedReceiver<Event>,
    /// Delivery tag of the last publish on this channel (confirm mode numbers them from 1).
    last_tag: u64,
    /// Set while a publish waits for its confirm; still set at the next attempt means that wait
    /// was abandoned (per-attempt timeout), so the link's state is unknown: reconnect.
    in_flight: bool,
}

type Slot = Arc<tokio::sync::Mutex<Option<Link>>>;

/// Connections by URL, kept across invocations of a warm function.
fn slot(url: &str) -> Slot {
    static LINKS: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    let mut links = LINKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    links.entry(url.to_string()).or_default().clone()
}

#[derive(Clone)]
pub struct AmqpQueue {
    url: String,
    target: Arc<Target>,
    service: Service,
}

impl std::fmt::Debug for AmqpQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpQueue")
            .field("endpoint", &self.target.endpoint())
            .field("exchange", &self.target.exchange)
            .field("routing_key", &self.target.routing_key)
            .finish_non_exhaustive()
    }
}

impl AmqpQueue {
    pub fn new(url: &str, config: &Config) -> Result<Self, AmqpError> {
        Ok(AmqpQueue {
            url: url.to_string(),
            target: Arc::new(Target::parse(url)?),
            service: Service::new("amqp", config.tuning("amqp", DEFAULTS)),
        })
    }

    /// Where messages go, for logs: `amqp://host:port/vhost` without credentials.
    pub fn endpoint(&self) -> String {
        self.target.endpoint()
    }

    /// Publish and wait for the broker's confirm; always `true` (consumers deduplicate by
    /// `message_id`).
    pub async fn publish(&self, message: &QueueMessage<'_>) -> Result<bool, AmqpError> {
        let body = serde_json::to_vec(message)
            .map_err(|e| AmqpError::Config(format!("cannot serialize the message: {e}")))?;
        let slot = slot(&self.url);
        self.service
            .call(|| self.attempt(&slot, &body, &message.dedupe_key))
            .await?;
        Ok(true)
    }

    /// Publish `body` as it is (`scan --enqueue`'s upload events) with `message_id` as the
    /// AMQP `message_id`, and wait for the broker's confirm, with the same retries, connection
    /// reuse and routing checks as [`AmqpQueue::publish`]; always `true`.
    pub async fn send_raw(&self, body: &str, message_id: &str) -> Result<bool, AmqpError> {
        let slot = slot(&self.url);
        self.service
            .call(|| self.attempt(&slot, body.as_bytes(), message_id))
            .await?;
        Ok(true)
    }

    async fn attempt(&self, slot: &Slot, body: &[u8], message_id: &str) -> Result<(), AmqpError> {
        let mut guard = slot.lock().await;
        let reuse = guard
            .as_ref()
            .is_some_and(|l| !l.in_flight && l.connection.is_open() && l.channel.is_open());
        if !reuse {
            if let Some(old) = guard.take() {
                close_quietly(old);
            }
            *guard = Some(connect(&self.target).await?);
        }
        let Some(link) = guard.as_mut() else {
            unreachable!("the link was just set")
        };
        let result = publish_confirmed(&self.target, link, body, message_id).await;
        if result.is_err() {
            // Unknown channel state after a failure: start over on the next attempt.
            if let Some(old) = guard.take() {
                close_quietly(old);
            }
        }
        result
    }
}

fn broker_err(target: &Target, what: &'static str, e: impl std::fmt::Display) -> AmqpError {
    AmqpError::Broker {
        endpoint: target.endpoint(),
        what,
        message: e.to_string(),
    }
}

async fn connect(target: &Target) -> Result<Link, AmqpError> {
    let mut args =
        OpenConnectionArguments::new(&target.host, target.port, &target.user, &target.password);
    args.virtual_host(&target.vhost)
        .connection_name(concat!("image-triage/", env!("CARGO_PKG_VERSION")));
    if target.tls {
        // amqprs builds its TLS config with the process-default provider, which rustls cannot
        // pick by itself once another crate also enables aws-lc-rs; name ring (reqwest's) first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = amqprs::tls::TlsAdaptor::without_client_auth(None, target.host.clone())
            .map_err(|e| broker_err(target, "TLS set-up", e))?;
        args.tls_adaptor(tls);
    }
    let connection = Connection::open(&args)
        .await
        .map_err(|e| broker_err(target, "connect", e))?;
    let channel = connection
        .open_channel(None)
        .await
        .map_err(|e| broker_err(target, "open channel", e))?;
    let (tx, events) = mpsc::unbounded_channel();
    channel
        .register_callback(Events(tx))
        .await
        .map_err(|e| broker_err(target, "register callback", e))?;
    channel
        .confirm_select(ConfirmSelectArguments::default())
        .await
        .map_err(|e| broker_err(target, "enable publisher confirms", e))?;
    if let Some(t) = &target.exchange_type {
        let mut a = ExchangeDeclareArguments::new(&target.exchange, t);
        a.durable = true;
        channel
            .exchange_declare(a)
            .await
            .map_err(|e| broker_err(target, "declare exchange", e))?;
    }
    if let Some(q) = &target.queue {
        channel
            .queue_declare(QueueDeclareArguments::durable_client_named(q))
            .await
            .map_err(|e| broker_err(target, "declare queue", e))?;
        if !target.exchange.is_empty() {
            channel
                .queue_bind(QueueBindArguments::new(
                    q,
                    &target.exchange,
                    &target.routing_key,
                ))
                .await
                .map_err(|e| broker_err(target, "bind queue", e))?;
        }
    }
    tracing::debug!(endpoint = %target.endpoint(), "amqp connection open");
    Ok(Link {
        connection,
        channel,
        events,
        last_tag: 0,
        in_flight: false,
    })
}

async fn publish_confirmed(
    target: &Target,
    link: &mut Link,
    body: &[u8],
    message_id: &str,
) -> Result<(), AmqpError> {
    let props = BasicProperties::default()
        .with_message_id(message_id)
        .with_persistence(true)
        .with_content_type("application/json")
        .with_app_id("image-triage")
        .with_timestamp(chrono::Utc::now().timestamp().max(0) as u64)
        .finish();
    let mut args = BasicPublishArguments::new(&target.exchange, &target.routing_key);
    args.mandatory(true);
    link.in_flight = true;
    link.channel
        .basic_publish(props, body.to_vec(), args)
        .await
        .map_err(|e| broker_err(target, "publish", e))?;
    link.last_tag += 1;
    let tag = link.last_tag;
    let mut returned: Option<(u16, String)> = None;
    // A dead socket (e.g. a frozen function thawed after the broker gave up on it) ends the
    // wait at once instead of at the per-attempt timeout.
    let io_failure = link.connection.listen_network_io_failure();
    tokio::pin!(io_failure);
    // The broker sends basic.return (if unroutable) before the confirm for the same message.
    let outcome = loop {
        let event = tokio::select! {
            e = link.events.recv() => e,
            _ = &mut io_failure => None,
        };
        let Some(event) = event else {
            break Err(broker_err(
                target,
                "wait for confirm",
                "the connection or channel went away",
            ));
        };
        match event {
            Event::Return {
                message_id: Some(id),
                code,
                text,
            } if id == message_id => returned = Some((code, text)),
            Event::Return { .. } => {}
            Event::Closed(reason) => {
                break Err(broker_err(target, "channel closed by the broker", reason))
            }
            Event::Ack { tag: t, multiple } if t == tag || (multiple && t > tag) => {
                break match returned {
                    Some((code, text)) => Err(AmqpError::Unroutable {
                        endpoint: target.endpoint(),
                        code,
                        text,
                        exchange: target.exchange.clone(),
                        routing_key: target.routing_key.clone(),
                    }),
                    None => Ok(()),
                };
            }
            Event::Nack { tag: t, multiple } if t == tag || (multiple && t > tag) => {
                break Err(AmqpError::Nacked {
                    endpoint: target.endpoint(),
                })
            }
            // Confirms for earlier publishes on this channel; not ours.
            Event::Ack { .. } | Event::Nack { .. } => {}
        }
    };
    link.in_flight = false;
    outcome
}

fn close_quietly(link: Link) {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::spawn(async move {
            let _ = link.channel.close().await;
            let _ = link.connection.close().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn amqps_to_a_server_that_does_not_speak_tls_fails_cleanly() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = s.write_all(b"AMQP\x00\x00\x09\x01").await;
            }
        });
        let cfg =
            Config::from_vars([("TRIAGE_AMQP_MAX_ATTEMPTS".to_string(), "1".to_string())]).unwrap();
        let q = AmqpQueue::new(&format!("amqps://127.0.0.1:{port}/?queue=q"), &cfg).unwrap();
        let e = q.publish(&msg()).await.unwrap_err();
        assert!(e.retryable(), "{e}");
        assert!(e.to_string().contains("amqps://127.0.0.1"), "{e}");
    }

    fn msg() -> QueueMessage<'static> {
        QueueMessage {
            schema: "image-triage/v1",
            dedupe_key: "k".into(),
            bucket: "b",
            key: "k",
            etag: "e",
            verdict: None,
            labels: vec![],
            result_key: None,
            processed_at: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn unreachable_broker_is_a_clear_retryable_error() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg =
            Config::from_vars([("TRIAGE_AMQP_MAX_ATTEMPTS".to_string(), "1".to_string())]).unwrap();
        let q =
            AmqpQueue::new(&format!("amqp://u:secret@127.0.0.1:{port}/?queue=q"), &cfg).unwrap();
        let e = q.publish(&msg()).await.unwrap_err();
        assert!(e.retryable());
        let text = e.to_string();
        assert!(
            text.contains("connect") && text.contains(&port.to_string()),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }
}
