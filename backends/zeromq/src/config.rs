//! Settings of the ZeroMQ backend: [`ZmqConfig`], [`TopicConfig`] and [`Overflow`].

use courier_core::{InvalidSetting, backend::group::MAX_HELD};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use courier_core::Secret;
use serde::{Deserialize, Serialize};
use zeromq::Endpoint;

use crate::auth::SharedSecret;

pub use courier_core::Overflow;

/// Settings of the ZeroMQ backend, the `[broker.zeromq]` table.
///
/// Every topic is served by one ROUTER socket, bound by exactly one process: the *binding
/// side* of that endpoint. It holds each group's outbox in memory, hands messages to the
/// group's consumers (DEALER sockets that connect to it) and keeps every message until a
/// consumer acks it. Other processes connect: their consumers announce their group, and their
/// producers hand messages to the binding side, which confirms once they are in its outbox.
///
/// ```toml
/// [broker.zeromq]
/// endpoint = "tcp://127.0.0.1:5600"  # the ROUTER of every topic not listed below
/// bind = true                         # this process binds it (false: connect to it)
/// capacity = 100000                   # outbox size per group (waiting + unacked)
/// overflow = "block"                  # or "fail"
/// heartbeat_interval_ms = 1000
/// heartbeat_timeout_ms = 5000
/// connect_timeout_ms = 5000
/// linger_ms = 2000
/// secret_file = "/run/secrets/courier-zmq"  # or secret = "..."; every peer must know it
/// allow_remote_declare = false        # remote DECLARE/HELLO only for groups declared here
/// max_message_bytes = 67108864        # largest message read from a peer
/// max_parked_bytes_per_peer = 67108864  # PUBLISHes waiting for room, per peer
/// max_delay_ms = 86400000             # longest delayed send or retry (24 h)
///
/// [broker.zeromq.topics."orders.placed"]
/// endpoint = "tcp://127.0.0.1:5601"   # a ROUTER of its own
/// bind = true
/// groups = ["inventory"]              # kept from the start, before any consumer connects
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZmqConfig {
    /// The ROUTER endpoint of every topic not listed in [`topics`](Self::topics): `tcp://host:port`
    /// or `ipc://path`. Topics share it; the topic travels in a frame. Port 0 (binding side
    /// only) picks a free port, see [`ZmqBroker::local_endpoint`](crate::ZmqBroker::local_endpoint).
    /// Default `tcp://127.0.0.1:5600`.
    pub endpoint: String,
    /// Whether this process binds [`endpoint`](Self::endpoint) and holds the outboxes of its
    /// topics (`true`), or connects to the process that does (`false`). Default `true`.
    pub bind: bool,
    /// The most messages one group's outbox holds at once: those waiting for a consumer plus
    /// those delivered and not yet acked. Default 100 000.
    pub capacity: usize,
    /// What `send` does when a group's outbox is full. Default [`Overflow::Block`].
    pub overflow: Overflow,
    /// How often each side of a connection proves it is alive. Default 1000 ms.
    pub heartbeat_interval_ms: u64,
    /// Silence after which a peer counts as gone: the binding side gives a silent consumer's
    /// unacked messages to the rest of its group, and a consumer or producer reconnects.
    /// At least twice the interval. Default 5000 ms.
    pub heartbeat_timeout_ms: u64,
    /// How long `subscribe`, `declare_group` and a send to a connected endpoint wait for the
    /// binding side to answer before failing with a retryable error. Default 5000 ms.
    pub connect_timeout_ms: u64,
    /// How long [`Broker::close`](courier_core::Broker::close) waits for consumers to ack what
    /// the outboxes still hold before the sockets close. Default 2000 ms.
    pub linger_ms: u64,
    /// The shared secret every connection proves it knows (HMAC-SHA256 challenge-response
    /// both ways; the secret never travels) before anything else is accepted. Without it (or
    /// [`secret_file`](Self::secret_file)) anyone who can connect to a bound endpoint may
    /// consume, publish and declare. Never printed.
    pub secret: Option<Secret>,
    /// A file holding the shared secret (a trailing newline is ignored); instead of
    /// [`secret`](Self::secret).
    pub secret_file: Option<PathBuf>,
    /// Whether peers in other processes may create groups (`DECLARE`, or `HELLO` for a group
    /// that does not exist yet). Default `false`: only groups listed in `topics."t".groups`
    /// or declared by this process exist, so a peer cannot make the binding side keep
    /// messages for a group nobody consumes.
    pub allow_remote_declare: bool,
    /// The most bytes one message from a peer may have (all frames together); a peer that
    /// sends more is disconnected before anything is reserved for it. Default 64 MiB.
    pub max_message_bytes: usize,
    /// The most bytes of `PUBLISH`ed messages one peer may have waiting for room in full
    /// outboxes (`overflow = "block"`); past it, its `PUBLISH` is answered with a retryable
    /// `full:` error. Default 64 MiB.
    pub max_parked_bytes_per_peer: usize,
    /// The longest delay of a delayed send
    /// ([`Producer::send_after`](courier_core::Producer::send_after)) or a delayed retry
    /// ([`Delivery::retry_after`](courier_core::Delivery::retry_after)). The binding side
    /// refuses a delayed `PUBLISH` beyond it and holds a `RETRY` beyond it for this long; a
    /// producer or consumer of this process refuses a longer delay before sending anything
    /// (a retry is then requeued at once). Delayed messages wait in the binding process's
    /// memory and count against `capacity`. At most a year. Default 86 400 000 ms (24 h).
    pub max_delay_ms: u64,
    /// Topics with an endpoint, bind side or declared groups of their own.
    pub topics: BTreeMap<String, TopicConfig>,
}

/// Settings of one topic, the `[broker.zeromq.topics."<topic>"]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicConfig {
    /// The topic's ROUTER endpoint; default: [`ZmqConfig::endpoint`].
    pub endpoint: Option<String>,
    /// Whether this process binds the topic's endpoint; default: [`ZmqConfig::bind`].
    pub bind: Option<bool>,
    /// Groups whose outbox exists from start-up, so that messages sent before their first
    /// consumer connects are kept for them. Only on the binding side.
    pub groups: Vec<String>,
}

impl ZmqConfig {
    /// The default endpoint.
    pub const DEFAULT_ENDPOINT: &'static str = "tcp://127.0.0.1:5600";
    /// The default outbox capacity of a group.
    pub const DEFAULT_CAPACITY: usize = 100_000;
    /// The default largest message, and parked bytes per peer: 64 MiB.
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 << 20;
    /// The default longest delay: 24 hours, in ms.
    pub const DEFAULT_MAX_DELAY_MS: u64 = 24 * 60 * 60 * 1000;
    /// The largest `max_delay_ms` accepted: a year, in ms.
    pub const MAX_DELAY_LIMIT_MS: u64 = 365 * 24 * 60 * 60 * 1000;

    /// Checks the settings.
    ///
    /// # Errors
    /// [`InvalidSetting`] for the first bad value, with the key inside `[broker.zeromq]`:
    /// a malformed endpoint (`endpoint`, `topics."t".endpoint`), an endpoint bound by one topic
    /// and connected by another (`topics."t".bind`), groups on a connecting side
    /// (`topics."t".groups`), a capacity of 0 or above [`MAX_HELD`] (2^26), heartbeat
    /// settings out of range, or a `max_delay_ms` of 0 or above
    /// [`MAX_DELAY_LIMIT_MS`](Self::MAX_DELAY_LIMIT_MS).
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        check_endpoint(&self.endpoint, self.bind)
            .map_err(|p| InvalidSetting::new("endpoint", p))?;
        if self.capacity == 0 || self.capacity > MAX_HELD {
            return Err(InvalidSetting::new(
                "capacity",
                format!(
                    "must be from 1 to {MAX_HELD}, not {} (it is the most messages a group's outbox holds)",
                    self.capacity
                ),
            ));
        }
        if self.heartbeat_interval_ms < 10 {
            return Err(InvalidSetting::new(
                "heartbeat_interval_ms",
                format!("must be at least 10, not {}", self.heartbeat_interval_ms),
            ));
        }
        if self.heartbeat_timeout_ms < 2 * self.heartbeat_interval_ms {
            return Err(InvalidSetting::new(
                "heartbeat_timeout_ms",
                format!(
                    "must be at least twice heartbeat_interval_ms ({}), not {}",
                    self.heartbeat_interval_ms, self.heartbeat_timeout_ms
                ),
            ));
        }
        if self.max_message_bytes < 1024 {
            return Err(InvalidSetting::new(
                "max_message_bytes",
                format!("must be at least 1024, not {}", self.max_message_bytes),
            ));
        }
        if !(1..=Self::MAX_DELAY_LIMIT_MS).contains(&self.max_delay_ms) {
            return Err(InvalidSetting::new(
                "max_delay_ms",
                format!(
                    "must be from 1 to {} (a year), not {}",
                    Self::MAX_DELAY_LIMIT_MS,
                    self.max_delay_ms
                ),
            ));
        }
        self.shared_secret()?;
        if self.connect_timeout_ms == 0 {
            return Err(InvalidSetting::new(
                "connect_timeout_ms",
                "must be at least 1",
            ));
        }
        let mut sides: Vec<(Endpoint, bool, String)> = Vec::new();
        sides.push((
            parse_endpoint(&self.endpoint).map_err(|p| InvalidSetting::new("endpoint", p))?,
            self.bind,
            "endpoint".to_owned(),
        ));
        for (topic, settings) in &self.topics {
            let key = |field: &str| format!("topics.\"{topic}\".{field}");
            if topic.is_empty() {
                return Err(InvalidSetting::new("topics", "a topic name is empty"));
            }
            let (endpoint, bind) = self.route_of(settings);
            check_endpoint(endpoint, bind).map_err(|p| InvalidSetting::new(key("endpoint"), p))?;
            let parsed =
                parse_endpoint(endpoint).map_err(|p| InvalidSetting::new(key("endpoint"), p))?;
            if let Some((_, other_bind, other_key)) =
                sides.iter().find(|(e, b, _)| *e == parsed && *b != bind)
            {
                return Err(InvalidSetting::new(
                    key("bind"),
                    format!(
                        "{endpoint} is {} here but {} by {other_key}: one endpoint is one socket, \
                         either bound or connected by this process",
                        side_name(bind),
                        side_name(*other_bind)
                    ),
                ));
            }
            sides.push((parsed, bind, key("endpoint")));
            if !settings.groups.is_empty() && !bind {
                return Err(InvalidSetting::new(
                    key("groups"),
                    "groups are kept by the process that binds the topic's endpoint: list them \
                     in that process's settings (this one connects, bind = false)"
                        .to_owned(),
                ));
            }
            if settings.groups.iter().any(String::is_empty) {
                return Err(InvalidSetting::new(key("groups"), "a group name is empty"));
            }
        }
        Ok(())
    }

    /// The shared secret from [`secret`](Self::secret) or [`secret_file`](Self::secret_file).
    ///
    /// # Errors
    /// [`InvalidSetting`] when both are set, the file cannot be read, or the secret is empty.
    pub(crate) fn shared_secret(&self) -> Result<Option<SharedSecret>, InvalidSetting> {
        match (&self.secret, &self.secret_file) {
            (Some(_), Some(_)) => Err(InvalidSetting::new(
                "secret_file",
                "set either secret or secret_file, not both",
            )),
            (Some(secret), None) if secret.is_empty() => {
                Err(InvalidSetting::new("secret", "is empty"))
            }
            (Some(secret), None) => Ok(Some(SharedSecret::new(secret.expose().as_bytes()))),
            (None, Some(path)) => {
                let text = std::fs::read(path).map_err(|e| {
                    InvalidSetting::new(
                        "secret_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let secret = text.strip_suffix(b"\n").unwrap_or(&text);
                let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
                if secret.is_empty() {
                    return Err(InvalidSetting::new(
                        "secret_file",
                        format!("{} is empty", path.display()),
                    ));
                }
                Ok(Some(SharedSecret::new(secret)))
            }
            (None, None) => Ok(None),
        }
    }

    /// The endpoint and bind side of `topic`.
    pub fn route(&self, topic: &str) -> (&str, bool) {
        match self.topics.get(topic) {
            Some(settings) => self.route_of(settings),
            None => (&self.endpoint, self.bind),
        }
    }

    fn route_of<'a>(&'a self, settings: &'a TopicConfig) -> (&'a str, bool) {
        (
            settings.endpoint.as_deref().unwrap_or(&self.endpoint),
            settings.bind.unwrap_or(self.bind),
        )
    }

    /// The heartbeat interval.
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    /// The heartbeat timeout.
    pub fn heartbeat_timeout(&self) -> Duration {
        Duration::from_millis(self.heartbeat_timeout_ms)
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// The linger on close.
    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }

    /// The longest delay of a delayed send or retry.
    pub fn max_delay(&self) -> Duration {
        Duration::from_millis(self.max_delay_ms)
    }
}

impl Default for ZmqConfig {
    fn default() -> Self {
        Self {
            endpoint: Self::DEFAULT_ENDPOINT.to_owned(),
            bind: true,
            capacity: Self::DEFAULT_CAPACITY,
            overflow: Overflow::Block,
            heartbeat_interval_ms: 1000,
            heartbeat_timeout_ms: 5000,
            connect_timeout_ms: 5000,
            linger_ms: 2000,
            secret: None,
            secret_file: None,
            allow_remote_declare: false,
            max_message_bytes: Self::DEFAULT_MAX_MESSAGE_BYTES,
            max_parked_bytes_per_peer: Self::DEFAULT_MAX_MESSAGE_BYTES,
            max_delay_ms: Self::DEFAULT_MAX_DELAY_MS,
            topics: BTreeMap::new(),
        }
    }
}

fn side_name(bind: bool) -> &'static str {
    if bind { "bound" } else { "connected" }
}

/// Parses `endpoint`, naming the problem in words.
pub(crate) fn parse_endpoint(endpoint: &str) -> Result<Endpoint, String> {
    endpoint.parse::<Endpoint>().map_err(|e| {
        format!("`{endpoint}` is not a ZeroMQ endpoint (tcp://host:port or ipc://path): {e}")
    })
}

fn check_endpoint(endpoint: &str, bind: bool) -> Result<(), String> {
    match parse_endpoint(endpoint)? {
        Endpoint::Tcp(_, 0) if !bind => Err(format!(
            "`{endpoint}`: port 0 (any free port) only makes sense where the endpoint is bound"
        )),
        Endpoint::Ipc(None) => Err(format!("`{endpoint}`: an ipc endpoint needs a path")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(text: &str) -> ZmqConfig {
        toml::from_str(text).expect("valid TOML for ZmqConfig")
    }

    #[test]
    fn defaults_are_valid() {
        let config = ZmqConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.route("any.topic"), ("tcp://127.0.0.1:5600", true));
    }

    #[test]
    fn topic_tables_override_the_route() {
        let config = from_toml(
            r#"
            endpoint = "tcp://127.0.0.1:5700"
            bind = false
            [topics."orders.placed"]
            endpoint = "tcp://127.0.0.1:5701"
            bind = true
            groups = ["inventory"]
            "#,
        );
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(
            config.route("orders.placed"),
            ("tcp://127.0.0.1:5701", true)
        );
        assert_eq!(config.route("other"), ("tcp://127.0.0.1:5700", false));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let error = toml::from_str::<ZmqConfig>("endpoints = \"x\"").unwrap_err();
        assert!(error.to_string().contains("endpoints"), "{error}");
    }

    #[test]
    fn a_malformed_endpoint_names_its_key() {
        let config = ZmqConfig {
            endpoint: "127.0.0.1:5600".into(),
            ..ZmqConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().key, "endpoint");

        let config = from_toml(
            r#"
            [topics."orders.placed"]
            endpoint = "tcp://127.0.0.1:99999"
            "#,
        );
        assert_eq!(
            config.validate().unwrap_err().key,
            "topics.\"orders.placed\".endpoint"
        );
    }

    #[test]
    fn port_zero_needs_the_binding_side() {
        let config = ZmqConfig {
            endpoint: "tcp://127.0.0.1:0".into(),
            bind: false,
            ..ZmqConfig::default()
        };
        let InvalidSetting { key, problem } = config.validate().unwrap_err();
        assert_eq!(key, "endpoint");
        assert!(problem.contains("port 0"), "{problem}");
    }

    #[test]
    fn one_endpoint_cannot_be_bound_and_connected() {
        let config = from_toml(
            r#"
            endpoint = "tcp://127.0.0.1:5600"
            [topics.a]
            endpoint = "tcp://127.0.0.1:5600"
            bind = false
            "#,
        );
        assert_eq!(config.validate().unwrap_err().key, "topics.\"a\".bind");
    }

    #[test]
    fn groups_only_on_the_binding_side() {
        let config = from_toml(
            r#"
            [topics.a]
            endpoint = "tcp://127.0.0.1:5601"
            bind = false
            groups = ["g"]
            "#,
        );
        assert_eq!(config.validate().unwrap_err().key, "topics.\"a\".groups");
    }

    #[test]
    fn heartbeat_and_capacity_ranges() {
        let config = ZmqConfig {
            heartbeat_timeout_ms: 1500,
            ..ZmqConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().key, "heartbeat_timeout_ms");
        for capacity in [0, MAX_HELD + 1] {
            let config = ZmqConfig {
                capacity,
                ..ZmqConfig::default()
            };
            assert_eq!(config.validate().unwrap_err().key, "capacity");
        }
        let config = ZmqConfig {
            capacity: MAX_HELD,
            ..ZmqConfig::default()
        };
        assert!(config.validate().is_ok());
    }

    #[test]
    fn the_longest_delay_is_bounded() {
        for max_delay_ms in [0, ZmqConfig::MAX_DELAY_LIMIT_MS + 1, u64::MAX] {
            let config = ZmqConfig {
                max_delay_ms,
                ..ZmqConfig::default()
            };
            assert_eq!(config.validate().unwrap_err().key, "max_delay_ms");
        }
        let config = from_toml("max_delay_ms = 1500");
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.max_delay(), Duration::from_millis(1500));
    }

    #[test]
    fn the_secret_comes_from_one_place_and_is_never_printed() {
        let config = from_toml("secret = \"hunter2\"");
        assert!(config.shared_secret().unwrap().is_some());
        assert!(!format!("{config:?}").contains("hunter2"));

        let dir = std::env::temp_dir().join(format!("courier-zmq-secret-{}", std::process::id()));
        std::fs::write(&dir, "from-file\n").unwrap();
        let config = ZmqConfig {
            secret_file: Some(dir.clone()),
            ..ZmqConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
        let both = ZmqConfig {
            secret: Some(Secret::new("x")),
            ..config
        };
        assert_eq!(both.validate().unwrap_err().key, "secret_file");
        std::fs::remove_file(&dir).unwrap();
        let missing = ZmqConfig {
            secret_file: Some(dir.clone()),
            ..ZmqConfig::default()
        };
        let InvalidSetting { key, problem } = missing.validate().unwrap_err();
        assert_eq!(key, "secret_file");
        assert!(problem.contains(&dir.display().to_string()), "{problem}");
        assert_eq!(
            from_toml("secret = \"\"").validate().unwrap_err().key,
            "secret"
        );
    }
}
