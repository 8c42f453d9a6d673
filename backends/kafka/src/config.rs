//! [`KafkaConfig`]: the `[broker.kafka]` table.

use courier_core::InvalidSetting;
use std::{collections::BTreeMap, fmt, path::PathBuf};

use serde::{Deserialize, Serialize};

use crate::options;

/// Settings of the Kafka backend: where the brokers are, how topics are created, producer and
/// consumer tuning, and a pass-through table of librdkafka properties (TLS, SASL, anything
/// else).
///
/// Every field has a default, so an empty `[broker.kafka]` table connects to a local broker
/// on `127.0.0.1:9092`. `Debug` and `Serialize` never show passwords: options whose name
/// contains `password` or `secret` (and private keys) print as `***`.
///
/// ```toml
/// [broker.kafka]
/// brokers = "10.0.0.5:9093,10.0.0.6:9093"
/// partitions = 12
/// password_file = "/run/secrets/kafka"
///
/// [broker.kafka.options]
/// "security.protocol" = "sasl_ssl"
/// "sasl.mechanism" = "SCRAM-SHA-512"
/// "sasl.username" = "orders"
/// "ssl.ca.location" = "/etc/ssl/kafka-ca.pem"
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers, comma separated `host:port` (librdkafka `bootstrap.servers`).
    pub brokers: String,
    /// Client id sent to the brokers (librdkafka `client.id`).
    pub client_id: String,
    /// Partitions of the topics courier creates when they are missing. Bounds how many
    /// consumers of one group receive messages at once.
    pub partitions: u32,
    /// Replication factor of the topics courier creates.
    pub replication_factor: u16,
    /// How long the producer waits to fill a batch, in milliseconds (`linger.ms`).
    pub linger_ms: u32,
    /// Largest producer batch per partition, in bytes (`batch.size`).
    pub batch_bytes: u32,
    /// Largest record the producer sends, in bytes (`message.max.bytes`). A message's payload,
    /// key and headers must fit in it with some room to spare; see
    /// [`Capabilities::max_payload`](courier_core::Capabilities::max_payload).
    pub max_message_bytes: u32,
    /// How long a send may wait for the broker's acknowledgement, retries included, in
    /// milliseconds (`message.timeout.ms`).
    pub send_timeout_ms: u32,
    /// How long a consumer may go silent before its group hands its partitions to the others,
    /// in milliseconds (`session.timeout.ms`; heartbeats go every tenth of it).
    pub session_timeout_ms: u32,
    /// How often acknowledged offsets are committed, in milliseconds.
    pub commit_interval_ms: u32,
    /// A consumer that sees a partition of its topic, owned by another member of its group,
    /// with messages waiting and a committed offset that has not moved for this long (in
    /// milliseconds) rejoins the group so that every partition is assigned again. It makes up
    /// for coordinators (tansu 0.6) that do not rebalance after a member dies. 0 turns it off.
    pub stall_timeout_ms: u32,
    /// How long `subscribe` waits for the group to assign partitions to the new consumer, in
    /// milliseconds.
    pub join_timeout_ms: u32,
    /// Timeout of metadata and admin requests (connecting, creating topics), in milliseconds.
    pub request_timeout_ms: u32,
    /// The Kafka `group.id` of a subscription, made from its `{topic}` and `{group}`. The
    /// default `{topic}.{group}` gives every (topic, group) pair its own Kafka group, as a
    /// courier group belongs to one topic: a service that reads several topics under one group
    /// name then joins several small Kafka groups, and a consumer joining one topic does not
    /// make the consumers of the others rebalance. `{group}` shares one Kafka group across
    /// topics (what a plain Kafka client with that `group.id` would join).
    pub group_id: String,
    /// A file holding the SASL password (`sasl.password`); its trailing newline is ignored.
    pub password_file: Option<PathBuf>,
    /// librdkafka properties passed to every producer, consumer and admin client, such as
    /// `security.protocol`, `ssl.ca.location`, `sasl.mechanism`, `sasl.username`,
    /// `sasl.password`. Values may be strings, numbers or booleans. They override the tuning
    /// fields above. Properties courier manages itself are refused (see
    /// [`KafkaConfig::validate`]).
    #[serde(
        deserialize_with = "options::deserialize",
        serialize_with = "options::serialize_redacted"
    )]
    pub options: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            client_id: "courier".into(),
            partitions: 4,
            replication_factor: 1,
            linger_ms: 5,
            batch_bytes: 1_000_000,
            max_message_bytes: 4 * 1024 * 1024,
            send_timeout_ms: 30_000,
            session_timeout_ms: 10_000,
            commit_interval_ms: 1_000,
            stall_timeout_ms: 30_000,
            join_timeout_ms: 30_000,
            request_timeout_ms: 10_000,
            group_id: "{topic}.{group}".into(),
            password_file: None,
            options: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("client_id", &self.client_id)
            .field("partitions", &self.partitions)
            .field("replication_factor", &self.replication_factor)
            .field("linger_ms", &self.linger_ms)
            .field("batch_bytes", &self.batch_bytes)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("send_timeout_ms", &self.send_timeout_ms)
            .field("session_timeout_ms", &self.session_timeout_ms)
            .field("commit_interval_ms", &self.commit_interval_ms)
            .field("stall_timeout_ms", &self.stall_timeout_ms)
            .field("join_timeout_ms", &self.join_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("group_id", &self.group_id)
            .field("password_file", &self.password_file)
            .field("options", &options::Redacted(&self.options))
            .finish()
    }
}

/// Room kept in a record for the key, the headers and the record framing.
const RECORD_OVERHEAD: usize = 64 * 1024;

impl KafkaConfig {
    /// The Kafka `group.id` of the courier group `group` reading `topic`: [`group_id`]
    /// with `{topic}` and `{group}` filled in.
    ///
    /// [`group_id`]: KafkaConfig::group_id
    pub fn kafka_group(&self, topic: &str, group: &str) -> String {
        self.group_id
            .replace("{topic}", topic)
            .replace("{group}", group)
    }

    /// The largest payload a message may carry: `max_message_bytes` less room for the key,
    /// headers and framing.
    pub fn max_payload(&self) -> usize {
        (self.max_message_bytes as usize).saturating_sub(RECORD_OVERHEAD)
    }

    /// The first setting that is out of range, as an [`InvalidSetting`]; `key` is relative to the
    /// `[broker.kafka]` table, for example `partitions` or `options."sasl.mechanism"`.
    ///
    /// # Errors
    /// An empty or malformed `brokers` list; zero partitions, replication factor or timeouts;
    /// `max_message_bytes` outside 131072..=1000000000; a `group_id` without `{group}`; an
    /// unreadable `password_file`, or one given together with `options."sasl.password"`; an option
    /// librdkafka does not know or whose value it refuses; an option courier sets itself
    /// (`bootstrap.servers`, `group.id`, `enable.idempotence`, `acks`, `enable.auto.commit`,
    /// `enable.auto.offset.store`, `auto.offset.reset`, `transactional.id`).
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        validate_brokers(&self.brokers).map_err(|p| InvalidSetting::new("brokers", p))?;
        let positive = [
            ("partitions", self.partitions),
            ("replication_factor", u32::from(self.replication_factor)),
            ("batch_bytes", self.batch_bytes),
            ("send_timeout_ms", self.send_timeout_ms),
            ("session_timeout_ms", self.session_timeout_ms),
            ("commit_interval_ms", self.commit_interval_ms),
            ("join_timeout_ms", self.join_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(InvalidSetting::new((*key).to_owned(), "must be at least 1"));
        }
        if i32::try_from(self.partitions).is_err() {
            return Err(InvalidSetting::new(
                "partitions",
                "must be at most 2147483647",
            ));
        }
        if !(131_072..=1_000_000_000).contains(&self.max_message_bytes) {
            return Err(InvalidSetting::new(
                "max_message_bytes",
                "must be between 131072 and 1000000000",
            ));
        }
        if self.session_timeout_ms < 1_000 {
            return Err(InvalidSetting::new(
                "session_timeout_ms",
                "must be at least 1000 (heartbeats go every tenth of it)",
            ));
        }
        if !self.group_id.contains("{group}") {
            return Err(InvalidSetting::new(
                "group_id",
                "must contain `{group}` (for example `{topic}.{group}` or `{group}`)",
            ));
        }
        if let Some(path) = &self.password_file {
            if self.options.contains_key("sasl.password") {
                return Err(InvalidSetting::new(
                    "password_file",
                    "conflicts with options.\"sasl.password\"; set only one",
                ));
            }
            if let Err(e) = std::fs::metadata(path) {
                return Err(InvalidSetting::new(
                    "password_file",
                    format!("cannot be read ({}): {e}", path.display()),
                ));
            }
        }
        options::validate(&self.options).map_err(|e| InvalidSetting {
            key: format!("options.\"{}\"", e.key),
            problem: e.problem,
        })
    }
}

fn validate_brokers(brokers: &str) -> Result<(), String> {
    if brokers.trim().is_empty() {
        return Err("must name at least one broker as host:port".into());
    }
    for entry in brokers.split(',').map(str::trim) {
        let address = entry.split_once("://").map_or(entry, |(_, rest)| rest);
        let Some((host, port)) = address.rsplit_once(':') else {
            return Err(format!("`{entry}` is not host:port"));
        };
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("`{entry}` is not host:port"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_id_fills_in_topic_and_group() {
        let config = KafkaConfig::default();
        assert_eq!(config.kafka_group("orders", "billing"), "orders.billing");
        let shared = KafkaConfig {
            group_id: "shop-{group}".into(),
            ..KafkaConfig::default()
        };
        assert_eq!(shared.kafka_group("orders", "billing"), "shop-billing");
        let without_group = KafkaConfig {
            group_id: "{topic}".into(),
            ..KafkaConfig::default()
        };
        assert_eq!(
            without_group.validate().expect_err("invalid").key,
            "group_id"
        );
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(KafkaConfig::default().validate(), Ok(()));
        assert_eq!(KafkaConfig::default().brokers, "127.0.0.1:9092");
    }

    #[test]
    fn validate_names_the_bad_key() {
        let bad = |c: KafkaConfig| c.validate().expect_err("invalid").key;
        let base = KafkaConfig::default;
        assert_eq!(
            bad(KafkaConfig {
                brokers: "nohost".into(),
                ..base()
            }),
            "brokers"
        );
        assert_eq!(
            bad(KafkaConfig {
                brokers: "a:1,b:x".into(),
                ..base()
            }),
            "brokers"
        );
        assert_eq!(
            bad(KafkaConfig {
                partitions: 0,
                ..base()
            }),
            "partitions"
        );
        assert_eq!(
            bad(KafkaConfig {
                max_message_bytes: 10,
                ..base()
            }),
            "max_message_bytes"
        );
        assert_eq!(
            bad(KafkaConfig {
                password_file: Some("/nonexistent/courier-password".into()),
                ..base()
            }),
            "password_file"
        );
        let mut with = base();
        with.options.insert("group.id".into(), "x".into());
        assert_eq!(bad(with), "options.\"group.id\"");
        let mut with = base();
        with.options.insert("no.such.property".into(), "1".into());
        assert_eq!(bad(with), "options.\"no.such.property\"");
        let mut with = base();
        with.options.insert("linger.ms".into(), "soon".into());
        assert_eq!(bad(with), "options.\"linger.ms\"");
    }

    #[test]
    fn accepts_brokers_with_protocol_prefix() {
        let c = KafkaConfig {
            brokers: "SSL://k1.example:9093, k2.example:9093".into(),
            ..Default::default()
        };
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn debug_and_serialize_hide_passwords() {
        let mut c = KafkaConfig::default();
        c.options.insert("sasl.password".into(), "hunter2".into());
        c.options
            .insert("ssl.key.password".into(), "keypass-42".into());
        c.options
            .insert("sasl.oauthbearer.client.secret".into(), "s3cr3t".into());
        c.options.insert("sasl.username".into(), "orders".into());
        let debug = format!("{c:?}");
        let json = serde_json::to_string(&c).expect("serialises");
        for shown in [&debug, &json] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("keypass-42"), "{shown}");
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains("orders"), "{shown}");
        }
        let err = {
            let mut bad = c.clone();
            bad.options
                .insert("ssl.keystore.password".into(), "x".repeat(3));
            bad.options
                .insert("security.protocol".into(), "hunter2".into());
            bad.validate().expect_err("bad mechanism")
        };
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }

    #[test]
    fn deserialises_scalars_in_options_and_rejects_unknown_keys() {
        let c: KafkaConfig = toml::from_str(
            r#"
            brokers = "k:9092"
            [options]
            "socket.keepalive.enable" = true
            "socket.timeout.ms" = 5000
            "client.rack" = "eu-1a"
            "#,
        )
        .expect("parses");
        assert_eq!(c.options["socket.keepalive.enable"], "true");
        assert_eq!(c.options["socket.timeout.ms"], "5000");
        assert_eq!(c.validate(), Ok(()));
        let err = toml::from_str::<KafkaConfig>("brokerz = \"k:9092\"").expect_err("unknown");
        assert!(err.to_string().contains("brokerz"), "{err}");
    }
}
