//! Settings of the RabbitMQ backend, the `[broker.rabbitmq]` table: [`RabbitMqConfig`].

use courier_core::InvalidSetting;
use std::{collections::BTreeMap, fmt, path::PathBuf};

use courier_core::{Secret, redact_url};
use serde::{Deserialize, Serialize};

use crate::naming::{self, QueueOverride, QueueType};

/// Settings of the RabbitMQ backend, the `[broker.rabbitmq]` table. Every key has a default.
///
/// ```toml
/// [broker.rabbitmq]
/// url = "amqp://guest@127.0.0.1:5672/%2f"   # amqps:// for TLS
/// password_file = "/run/secrets/rabbitmq"    # or password = "..."; overrides the URL's
/// queue_type = "classic"                     # or "quorum"
/// confirm_window = 256                       # publishes awaiting their confirm, per producer
///
/// [broker.rabbitmq.groups]                   # declared at connect: kept before any consumer
/// "orders.placed" = ["inventory"]
///
/// [broker.rabbitmq.queues.order_queue]       # the queue of topic order_queue, group order,
/// order = { queue = "order_queue", durable = false }   # is the plain queue `order_queue`
/// ```
///
/// `Debug` never shows a password: the URL's is replaced by `***`, and `password` prints as
/// `***`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RabbitMqConfig {
    /// The broker: `amqp://user:password@host:port/vhost` (the vhost URL-encoded, `%2f` for
    /// `/`), or `amqps://...` for TLS. Default `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub url: String,
    /// Replaces the URL's password, so the password need not sit in the URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A file whose content (without its trailing newline) replaces the URL's password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// PEM file of the certificate authorities trusted for `amqps://`, added to the system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<PathBuf>,
    /// PEM certificate (chain) presented to the broker for client authentication over TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key_file: Option<PathBuf>,
    /// The type of the group queues courier declares: `classic` (default) or `quorum`.
    pub queue_type: QueueType,
    /// Publishes a producer keeps awaiting their confirm at once. Default 256.
    pub confirm_window: usize,
    /// First wait before reconnecting after the connection dropped, in milliseconds; doubles
    /// per failed attempt. Default 100.
    pub reconnect_initial_ms: u64,
    /// Longest wait between reconnection attempts, in milliseconds. Default 5000.
    pub reconnect_max_ms: u64,
    /// How long one connection attempt may take, in milliseconds. Default 10 000.
    pub connect_timeout_ms: u64,
    /// How long a send keeps retrying (across reconnections) before it fails with a
    /// retryable error, in milliseconds. Default 60 000.
    pub send_timeout_ms: u64,
    /// Publish with the `mandatory` flag, so that a message no queue receives (a topic without
    /// groups) fails its send instead of being dropped. Default `false`.
    pub mandatory: bool,
    /// When set, the group queues courier names are declared with `x-expires`: RabbitMQ
    /// deletes a queue (and its messages) once it has had no consumer for this long, in
    /// milliseconds. For tests and short-lived groups. Default unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_expires_ms: Option<u64>,
    /// The largest payload accepted, in bytes; keep it at or below the broker's
    /// `max_message_size` (128 MiB by default on RabbitMQ 3.8 to 3.13, 16 MiB from 4.0).
    /// Default 134 217 728.
    pub max_payload: usize,
    /// The most bytes of deliveries one consumer buffers ahead of `recv` (payloads plus 256
    /// bytes each); one larger delivery passes alone. Default 64 MiB. RabbitMQ never has
    /// more than `prefetch` unacked deliveries out on a subscription, so what the client
    /// holds in all is at most `prefetch` deliveries of at most the broker's
    /// `max_message_size`: lower the prefetch for large messages.
    pub max_buffered_bytes: usize,
    /// Groups declared at connect (and again after every reconnection), per topic, so that
    /// messages sent before their first consumer starts are kept.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Queue settings per topic, then per group, replacing the rule that the queue of topic
    /// `T` for group `G` is `T.G`: the queue name, whether it is durable, and its type.
    pub queues: BTreeMap<String, BTreeMap<String, QueueOverride>>,
}

impl RabbitMqConfig {
    /// The URL used when none is configured.
    pub const DEFAULT_URL: &'static str = "amqp://guest:guest@127.0.0.1:5672/%2f";
    /// RabbitMQ's default `max_message_size` (3.8 to 3.13): 128 MiB.
    pub const DEFAULT_MAX_PAYLOAD: usize = 128 * 1024 * 1024;
    /// RabbitMQ's hard limit on `max_message_size`: 512 MiB.
    pub const HARD_MAX_PAYLOAD: usize = 512 * 1024 * 1024;

    /// Checks the settings.
    ///
    /// # Errors
    /// [`InvalidSetting`] for the first bad value: a malformed `url`, a scheme other than
    /// `amqp`/`amqps`, both `password` and `password_file`, TLS files with an `amqp://` URL or
    /// a certificate without its key, a zero `confirm_window`, timeout or `max_payload`,
    /// reconnect delays out of order, and empty or over-long topic, group or queue names.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let bad = |key: &str, problem: String| Err(InvalidSetting::new(key.to_owned(), problem));
        let url = match url::Url::parse(&self.url) {
            Ok(url) => url,
            Err(e) => {
                return bad(
                    "url",
                    format!("is not a valid URL ({e}): {}", redact_url(&self.url)),
                );
            }
        };
        let tls = match url.scheme() {
            "amqp" => false,
            "amqps" => true,
            other => {
                return bad(
                    "url",
                    format!("has scheme {other:?}; valid choices: amqp, amqps"),
                );
            }
        };
        if url.host_str().is_none_or(str::is_empty) {
            return bad("url", format!("names no host: {}", redact_url(&self.url)));
        }
        if self.password.is_some() && self.password_file.is_some() {
            return bad(
                "password_file",
                "cannot be combined with password; set one of them".into(),
            );
        }
        if !tls {
            for (key, value) in [
                ("tls_ca_file", &self.tls_ca_file),
                ("tls_cert_file", &self.tls_cert_file),
                ("tls_key_file", &self.tls_key_file),
            ] {
                if value.is_some() {
                    return bad(key, "needs an amqps:// url".into());
                }
            }
        }
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(_), None) => return bad("tls_key_file", "is required with tls_cert_file".into()),
            (None, Some(_)) => return bad("tls_cert_file", "is required with tls_key_file".into()),
            _ => {}
        }
        let positive = [
            ("confirm_window", self.confirm_window as u64),
            ("reconnect_initial_ms", self.reconnect_initial_ms),
            ("reconnect_max_ms", self.reconnect_max_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("send_timeout_ms", self.send_timeout_ms),
            ("max_payload", self.max_payload as u64),
            ("max_buffered_bytes", self.max_buffered_bytes as u64),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return bad(key, "must be at least 1".into());
        }
        if self.reconnect_initial_ms > self.reconnect_max_ms {
            return bad(
                "reconnect_initial_ms",
                format!(
                    "must not exceed reconnect_max_ms ({})",
                    self.reconnect_max_ms
                ),
            );
        }
        if self.max_payload > Self::HARD_MAX_PAYLOAD {
            return bad(
                "max_payload",
                format!(
                    "must not exceed RabbitMQ's limit of {} bytes",
                    Self::HARD_MAX_PAYLOAD
                ),
            );
        }
        if self.queue_expires_ms == Some(0) {
            return bad("queue_expires_ms", "must be at least 1 when set".into());
        }
        for (topic, groups) in &self.groups {
            let key = format!("groups.{topic}");
            if let Err(problem) = naming::check_name("topic", topic) {
                return Err(InvalidSetting::new(key, problem));
            }
            for group in groups {
                if let Err(problem) = naming::check_name("group", group) {
                    return Err(InvalidSetting::new(key, problem));
                }
            }
        }
        for (topic, groups) in &self.queues {
            for (group, spec) in groups {
                let key = format!("queues.{topic}.{group}");
                let checks = [("topic", topic.as_str()), ("group", group.as_str())];
                if let Some(problem) = checks
                    .into_iter()
                    .find_map(|(what, name)| naming::check_name(what, name).err())
                {
                    return Err(InvalidSetting::new(key, problem));
                }
                if let Some(queue) = &spec.queue {
                    if let Err(problem) = naming::check_queue_name(queue) {
                        return Err(InvalidSetting::new(format!("{key}.queue"), problem));
                    }
                }
                if !spec.durable && spec.queue_type.unwrap_or(self.queue_type) == QueueType::Quorum
                {
                    return Err(InvalidSetting::new(
                        format!("{key}.durable"),
                        "must be true for a quorum queue",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Default for RabbitMqConfig {
    fn default() -> Self {
        Self {
            url: Self::DEFAULT_URL.to_owned(),
            password: None,
            password_file: None,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            queue_type: QueueType::Classic,
            confirm_window: 256,
            reconnect_initial_ms: 100,
            reconnect_max_ms: 5_000,
            connect_timeout_ms: 10_000,
            send_timeout_ms: 60_000,
            mandatory: false,
            queue_expires_ms: None,
            max_payload: Self::DEFAULT_MAX_PAYLOAD,
            max_buffered_bytes: 64 * 1024 * 1024,
            groups: BTreeMap::new(),
            queues: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for RabbitMqConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitMqConfig")
            .field("url", &redact_url(&self.url))
            .field("password", &self.password)
            .field("password_file", &self.password_file)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field("queue_type", &self.queue_type)
            .field("confirm_window", &self.confirm_window)
            .field("reconnect_initial_ms", &self.reconnect_initial_ms)
            .field("reconnect_max_ms", &self.reconnect_max_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("send_timeout_ms", &self.send_timeout_ms)
            .field("mandatory", &self.mandatory)
            .field("queue_expires_ms", &self.queue_expires_ms)
            .field("max_payload", &self.max_payload)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .field("groups", &self.groups)
            .field("queues", &self.queues)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(config: RabbitMqConfig) -> String {
        config.validate().expect_err("invalid").key
    }

    #[test]
    fn defaults_are_valid() {
        RabbitMqConfig::default().validate().expect("valid");
    }

    #[test]
    fn validate_names_the_bad_key() {
        let url = |u: &str| RabbitMqConfig {
            url: u.into(),
            ..Default::default()
        };
        assert_eq!(key_of(url("not a url")), "url");
        assert_eq!(key_of(url("http://h/")), "url");
        let InvalidSetting { problem, .. } =
            url("kafka://u:secret@h/").validate().expect_err("scheme");
        assert!(
            problem.contains("amqp, amqps") && !problem.contains("secret"),
            "{problem}"
        );
        let InvalidSetting { problem, .. } =
            url("amqp://u:secret@[::1/").validate().expect_err("bad");
        assert!(!problem.contains("secret"), "{problem}");
        assert_eq!(
            key_of(RabbitMqConfig {
                confirm_window: 0,
                ..Default::default()
            }),
            "confirm_window"
        );
        assert_eq!(
            key_of(RabbitMqConfig {
                reconnect_initial_ms: 10_000,
                ..Default::default()
            }),
            "reconnect_initial_ms"
        );
        assert_eq!(
            key_of(RabbitMqConfig {
                password: Some(Secret::new("a")),
                password_file: Some("/p".into()),
                ..Default::default()
            }),
            "password_file"
        );
        assert_eq!(
            key_of(RabbitMqConfig {
                tls_ca_file: Some("/ca.pem".into()),
                ..Default::default()
            }),
            "tls_ca_file"
        );
        assert_eq!(
            key_of(RabbitMqConfig {
                url: "amqps://h/".into(),
                tls_cert_file: Some("/c.pem".into()),
                ..Default::default()
            }),
            "tls_key_file"
        );
        assert_eq!(
            key_of(RabbitMqConfig {
                max_payload: RabbitMqConfig::HARD_MAX_PAYLOAD + 1,
                ..Default::default()
            }),
            "max_payload"
        );
        assert_eq!(
            key_of(RabbitMqConfig {
                groups: BTreeMap::from([("t".into(), vec![String::new()])]),
                ..Default::default()
            }),
            "groups.t"
        );
    }

    #[test]
    fn queue_overrides_are_checked() {
        let config: RabbitMqConfig = toml::from_str(
            r#"
            queue_type = "quorum"
            [queues.order_queue]
            order = { queue = "order_queue", durable = false }
            "#,
        )
        .expect("parses");
        assert_eq!(key_of(config.clone()), "queues.order_queue.order.durable");
        let mut classic = config;
        classic
            .queues
            .get_mut("order_queue")
            .and_then(|g| g.get_mut("order"))
            .expect("override")
            .queue_type = Some(QueueType::Classic);
        classic
            .validate()
            .expect("a classic plain queue under quorum defaults");
        let reserved: RabbitMqConfig =
            toml::from_str("[queues.t]\ng = { queue = \"amq.q\" }").expect("parses");
        assert_eq!(key_of(reserved), "queues.t.g.queue");
    }

    #[test]
    fn toml_rejects_unknown_keys_and_reads_everything() {
        let err = toml::from_str::<RabbitMqConfig>("urll = \"amqp://h/\"").expect_err("unknown");
        assert!(err.to_string().contains("urll"), "{err}");
        let config: RabbitMqConfig = toml::from_str(
            r#"
            url = "amqps://app@rabbit.example:5671/shop"
            password = "pw"
            tls_ca_file = "/etc/ca.pem"
            queue_type = "quorum"
            confirm_window = 512
            reconnect_initial_ms = 50
            reconnect_max_ms = 2000
            connect_timeout_ms = 3000
            send_timeout_ms = 9000
            mandatory = true
            queue_expires_ms = 60000
            max_payload = 1048576
            [groups]
            "orders.placed" = ["inventory", "payment"]
            "#,
        )
        .expect("parses");
        config.validate().expect("valid");
        assert_eq!(config.confirm_window, 512);
        assert_eq!(config.groups["orders.placed"], ["inventory", "payment"]);
        assert_eq!(config.password.as_ref().map(Secret::expose), Some("pw"));
    }

    #[test]
    fn debug_never_shows_passwords() {
        let config = RabbitMqConfig {
            url: "amqp://guest:hunter2@127.0.0.1:5672/%2f".into(),
            password: Some(Secret::new("s3cret")),
            ..Default::default()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
        assert!(shown.contains("guest:***@127.0.0.1"), "{shown}");
    }
}
