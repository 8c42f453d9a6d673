//! The librdkafka client settings derived from a [`KafkaConfig`], and turning librdkafka
//! errors into courier errors without leaking credentials.

use courier_core::InvalidSetting;
use std::{collections::BTreeMap, time::Duration};

use courier_core::{Error, ErrorKind, Result};
use rdkafka::{ClientConfig, error::KafkaError};

use crate::{BACKEND, KafkaConfig, options};

/// Validated settings, with the password file read, ready to build clients.
#[derive(Clone)]
pub(crate) struct ClientSettings {
    pub(crate) config: KafkaConfig,
    /// `options` plus `sasl.password` from `password_file`.
    options: BTreeMap<String, String>,
    secrets: Vec<String>,
}

impl ClientSettings {
    /// Validates `config` and reads its password file.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the bad key.
    pub(crate) fn new(config: KafkaConfig) -> Result<Self> {
        let secrets = options::sensitive_values(&config.options);
        config
            .validate()
            .map_err(|InvalidSetting { key, problem }| {
                let problem = options::redact_values(&problem, secrets.iter().map(String::as_str));
                Error::new(
                    BACKEND,
                    ErrorKind::Config,
                    format!("broker.kafka.{key} {problem}"),
                )
            })?;
        let mut options = config.options.clone();
        if let Some(path) = &config.password_file {
            let password = std::fs::read_to_string(path).map_err(|e| {
                Error::new(
                    BACKEND,
                    ErrorKind::Config,
                    format!(
                        "broker.kafka.password_file cannot be read ({}): {e}",
                        path.display()
                    ),
                )
            })?;
            options.insert(
                "sasl.password".into(),
                password.trim_end_matches(['\r', '\n']).to_owned(),
            );
        }
        let secrets = options::sensitive_values(&options);
        Ok(Self {
            config,
            options,
            secrets,
        })
    }

    fn base(&self) -> ClientConfig {
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &self.config.brokers)
            .set("client.id", &self.config.client_id)
            .set(
                "socket.connection.setup.timeout.ms",
                self.config.request_timeout_ms.to_string(),
            );
        client
    }

    fn with_options(&self, mut client: ClientConfig) -> ClientConfig {
        for (name, value) in &self.options {
            client.set(name, value);
        }
        client
    }

    /// An idempotent producer confirming with `acks=all`.
    pub(crate) fn producer(&self) -> ClientConfig {
        let c = &self.config;
        let mut client = self.base();
        client
            .set(
                "statistics.interval.ms",
                crate::health::STATS_INTERVAL_MS.to_string(),
            )
            .set("linger.ms", c.linger_ms.to_string())
            .set("batch.size", c.batch_bytes.to_string())
            .set("message.max.bytes", c.max_message_bytes.to_string())
            .set("message.timeout.ms", c.send_timeout_ms.to_string())
            .set("partitioner", "murmur2_random");
        let mut client = self.with_options(client);
        client.set("enable.idempotence", "true").set("acks", "all");
        client
    }

    /// A consumer in `group` that commits only what courier tells it to, and starts a new
    /// group at the earliest offset.
    pub(crate) fn consumer(&self, group: &str) -> ClientConfig {
        let c = &self.config;
        let mut client = self.base();
        let heartbeat = (c.session_timeout_ms / 10).max(100);
        client
            .set(
                "statistics.interval.ms",
                crate::health::STATS_INTERVAL_MS.to_string(),
            )
            .set("session.timeout.ms", c.session_timeout_ms.to_string())
            .set("heartbeat.interval.ms", heartbeat.to_string())
            .set("enable.partition.eof", "false");
        let mut client = self.with_options(client);
        client
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest");
        client
    }

    /// An admin client (creating topics, reading metadata).
    pub(crate) fn admin(&self) -> ClientConfig {
        self.with_options(self.base())
    }

    /// Timeout of metadata and admin requests.
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.config.request_timeout_ms))
    }

    /// A courier error of `kind` for `what` failing with `error`, with any credential removed
    /// from the text.
    pub(crate) fn error(&self, kind: ErrorKind, what: &str, error: KafkaError) -> Error {
        let text = options::redact_values(
            &format!("{what}: {error}"),
            self.secrets.iter().map(String::as_str),
        );
        match error {
            // These quote configuration values: keep them out of the source chain.
            KafkaError::ClientConfig(..) | KafkaError::ClientCreation(_) => {
                Error::new(BACKEND, kind, text)
            }
            other => Error::new(BACKEND, kind, text).with_source(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn courier_settings_win_over_options_and_password_file_is_read() {
        let dir = std::env::temp_dir().join(format!("courier-kafka-pw-{}", std::process::id()));
        std::fs::write(&dir, "hunter2\n").expect("writes");
        let mut config = KafkaConfig {
            password_file: Some(dir.clone()),
            linger_ms: 7,
            ..Default::default()
        };
        config.options.insert("batch.size".into(), "4096".into());
        let settings = ClientSettings::new(config).expect("valid");
        let producer = settings.producer();
        assert_eq!(producer.get("sasl.password"), Some("hunter2"));
        assert_eq!(producer.get("enable.idempotence"), Some("true"));
        assert_eq!(producer.get("acks"), Some("all"));
        assert_eq!(producer.get("linger.ms"), Some("7"));
        assert_eq!(producer.get("batch.size"), Some("4096"));
        let consumer = settings.consumer("payments");
        assert_eq!(consumer.get("group.id"), Some("payments"));
        assert_eq!(consumer.get("enable.auto.commit"), Some("false"));
        assert_eq!(consumer.get("auto.offset.reset"), Some("earliest"));
        let err = settings.error(
            ErrorKind::Config,
            "creating a producer",
            KafkaError::ClientCreation("bad sasl hunter2".into()),
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
        std::fs::remove_file(dir).ok();
    }

    #[test]
    fn invalid_config_is_a_config_error_naming_the_key() {
        let config = KafkaConfig {
            partitions: 0,
            ..Default::default()
        };
        let err = ClientSettings::new(config).err().expect("invalid");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.message().starts_with("broker.kafka.partitions"),
            "{err}"
        );
    }
}
