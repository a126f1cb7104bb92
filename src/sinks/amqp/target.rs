//! `TRIAGE_QUEUE=amqp[s]://…` parsed once into where and how to publish.

use super::AmqpError;

pub(super) const DEFAULT_ROUTING_KEY: &str = "image-triage";

/// Where and how to publish, parsed from the URL once.
#[derive(Clone, PartialEq)]
pub(super) struct Target {
    pub(super) tls: bool,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) user: String,
    pub(super) password: String,
    pub(super) vhost: String,
    pub(super) exchange: String,
    pub(super) exchange_type: Option<String>,
    pub(super) routing_key: String,
    pub(super) queue: Option<String>,
}

impl Target {
    /// For errors and logs: no credentials.
    pub(super) fn endpoint(&self) -> String {
        let scheme = if self.tls { "amqps" } else { "amqp" };
        let vhost =
            percent_encoding::utf8_percent_encode(&self.vhost, percent_encoding::NON_ALPHANUMERIC);
        format!("{scheme}://{}:{}/{vhost}", self.host, self.port)
    }

    pub(super) fn parse(raw: &str) -> Result<Target, AmqpError> {
        let bad = |m: String| AmqpError::Config(m);
        let url = url::Url::parse(raw).map_err(|e| bad(format!("not a URL: {e}")))?;
        let tls = match url.scheme() {
            "amqp" => false,
            "amqps" => true,
            other => return Err(bad(format!("scheme {other:?} is not amqp or amqps"))),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host".into()))?
            .trim_matches(['[', ']'])
            .to_string();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("user, password and vhost must be UTF-8".into()))
        };
        // The AMQP URI spec: no user means the broker's default (guest/guest on RabbitMQ).
        let (user, password) = if url.username().is_empty() {
            ("guest".to_string(), "guest".to_string())
        } else {
            (
                decode(url.username())?,
                decode(url.password().unwrap_or_default())?,
            )
        };
        // "/" and "" mean the default vhost "/"; "/%2F" is "/" spelled out; "/prod" is "prod".
        let path = url.path().strip_prefix('/').unwrap_or(url.path());
        if path.contains('/') {
            return Err(bad(
                "the vhost is one path segment; write '/' inside it as %2F".into(),
            ));
        }
        let vhost = match decode(path)? {
            v if v.is_empty() => "/".to_string(),
            v => v,
        };
        let (mut exchange, mut exchange_type, mut routing_key, mut queue) =
            (String::new(), None, None, None);
        for (k, v) in url.query_pairs() {
            match &*k {
                "exchange" => exchange = v.into_owned(),
                "exchange_type" => exchange_type = Some(v.into_owned()),
                "routing_key" => routing_key = Some(v.into_owned()),
                "queue" => queue = Some(v.into_owned()).filter(|q| !q.is_empty()),
                other => {
                    return Err(bad(format!(
                        "unknown option {other:?}; expected exchange, exchange_type, routing_key, queue"
                    )))
                }
            }
        }
        if exchange.is_empty() && exchange_type.is_some() {
            return Err(bad(
                "exchange_type needs exchange (the default exchange cannot be declared)".into(),
            ));
        }
        if let Some(t) = &exchange_type {
            if !matches!(t.as_str(), "direct" | "topic" | "fanout" | "headers") {
                return Err(bad(format!(
                    "exchange_type {t:?}: expected direct, topic, fanout or headers"
                )));
            }
        }
        let routing_key = match (routing_key, &queue) {
            (Some(r), _) => r,
            // The default exchange routes by queue name.
            (None, Some(q)) => q.clone(),
            (None, None) if !exchange.is_empty() => DEFAULT_ROUTING_KEY.to_string(),
            (None, None) => {
                return Err(bad(
                    "nowhere to publish: give queue=NAME, or exchange=NAME (with routing_key)"
                        .into(),
                ))
            }
        };
        Ok(Target {
            tls,
            port: url.port().unwrap_or(if tls { 5671 } else { 5672 }),
            host,
            user,
            password,
            vhost,
            exchange,
            exchange_type,
            routing_key,
            queue,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let t = Target::parse("amqp://u:p%40ss@mq.example.com/prod?queue=results").unwrap();
        assert_eq!(
            (
                t.host.as_str(),
                t.port,
                t.user.as_str(),
                t.password.as_str()
            ),
            ("mq.example.com", 5672, "u", "p@ss")
        );
        assert_eq!((t.vhost.as_str(), t.exchange.as_str()), ("prod", ""));
        assert_eq!(t.routing_key, "results");
        assert!(!t.endpoint().contains("p@ss") && !t.endpoint().contains("p%40ss"));

        let t = Target::parse(
            "amqps://h:5999/%2F?exchange=triage&exchange_type=topic&routing_key=img.done&queue=q1",
        )
        .unwrap();
        assert!(t.tls);
        assert_eq!((t.port, t.vhost.as_str()), (5999, "/"));
        assert_eq!(
            (
                t.exchange.as_str(),
                t.routing_key.as_str(),
                t.queue.as_deref()
            ),
            ("triage", "img.done", Some("q1"))
        );
        assert_eq!((t.user.as_str(), t.password.as_str()), ("guest", "guest"));

        let t = Target::parse("amqps://h?exchange=x").unwrap();
        assert_eq!((t.port, t.vhost.as_str()), (5671, "/"));
        assert_eq!(t.routing_key, DEFAULT_ROUTING_KEY);
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, why) in [
            ("amqp://h/", "nowhere to publish"),
            ("amqp://h/?queue=q&prefetch=1", "unknown option"),
            ("amqp://h/a/b?queue=q", "%2F"),
            (
                "amqp://h/?queue=q&exchange_type=topic",
                "exchange_type needs",
            ),
            (
                "amqp://h/?exchange=x&exchange_type=weird",
                "expected direct",
            ),
            ("amqp:///?queue=q", "host"),
        ] {
            let e = Target::parse(url).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(why)),
                "{url}: {e:?}"
            );
        }
    }
}
