//! The `[broker]` section: which backend carries the messages, and each backend's table.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The backend that carries the messages: `broker.kind`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    /// In-process queues (`memory`), the default.
    #[default]
    Memory,
    /// RabbitMQ (`rabbitmq`).
    RabbitMq,
    /// Kafka (`kafka`).
    Kafka,
    /// ZeroMQ (`zeromq`).
    ZeroMq,
}

impl BrokerKind {
    /// Every backend, in the order they are listed as valid choices.
    pub const ALL: [BrokerKind; 4] = [Self::Memory, Self::RabbitMq, Self::Kafka, Self::ZeroMq];

    /// Its name in the config file, which is also the cargo feature of `courier-config` that
    /// compiles it in: `memory`, `rabbitmq`, `kafka`, `zeromq`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::RabbitMq => "rabbitmq",
            Self::Kafka => "kafka",
            Self::ZeroMq => "zeromq",
        }
    }

    /// Whether this build includes the backend (its cargo feature is on).
    pub fn is_compiled_in(self) -> bool {
        match self {
            Self::Memory => cfg!(feature = "memory"),
            Self::RabbitMq => cfg!(feature = "rabbitmq"),
            Self::Kafka => cfg!(feature = "kafka"),
            Self::ZeroMq => cfg!(feature = "zeromq"),
        }
    }

    /// The backends this build includes.
    pub fn compiled_in() -> Vec<BrokerKind> {
        Self::ALL
            .into_iter()
            .filter(|k| k.is_compiled_in())
            .collect()
    }
}

impl fmt::Display for BrokerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BrokerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
                format!("unknown backend {s:?}; valid choices: {}", names.join(", "))
            })
    }
}

/// The table of a backend this build does not include: accepted (so one file serves several
/// builds) but not read, and never printed.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct CompiledOut;

impl fmt::Debug for CompiledOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CompiledOut")
    }
}

impl<'de> Deserialize<'de> for CompiledOut {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Self)
    }
}

/// The `[broker]` section.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerSection {
    /// The backend: `memory` (default), `rabbitmq`, `kafka` or `zeromq`.
    pub kind: BrokerKind,
    /// Refuse to start a service when the backend lacks a guarantee the service needs
    /// (otherwise start with a warning). Default `false`.
    pub strict: bool,
    /// `[broker.memory]`.
    #[cfg(feature = "memory")]
    pub memory: courier_memory::MemoryConfig,
    /// `[broker.memory]` (the `memory` feature is off).
    #[cfg(not(feature = "memory"))]
    #[serde(skip_serializing)]
    pub memory: CompiledOut,
    /// `[broker.rabbitmq]`.
    #[cfg(feature = "rabbitmq")]
    pub rabbitmq: courier_rabbitmq::RabbitMqConfig,
    /// `[broker.rabbitmq]` (the `rabbitmq` feature is off).
    #[cfg(not(feature = "rabbitmq"))]
    #[serde(skip_serializing)]
    pub rabbitmq: CompiledOut,
    /// `[broker.kafka]`, with `[broker.kafka.options]` passed to librdkafka.
    #[cfg(feature = "kafka")]
    pub kafka: courier_kafka::KafkaConfig,
    /// `[broker.kafka]` (the `kafka` feature is off).
    #[cfg(not(feature = "kafka"))]
    #[serde(skip_serializing)]
    pub kafka: CompiledOut,
    /// `[broker.zeromq]`.
    #[cfg(feature = "zeromq")]
    pub zeromq: courier_zeromq::ZmqConfig,
    /// `[broker.zeromq]` (the `zeromq` feature is off).
    #[cfg(not(feature = "zeromq"))]
    #[serde(skip_serializing)]
    pub zeromq: CompiledOut,
}

impl BrokerSection {
    /// Runs the `validate()` of the table of `kind`, as `(key within the table, problem)`;
    /// `Ok` for a backend this build does not include.
    pub(crate) fn validate_backend(&self, kind: BrokerKind) -> Result<(), (String, String)> {
        match kind {
            #[cfg(feature = "memory")]
            BrokerKind::Memory => self.memory.validate(),
            #[cfg(feature = "rabbitmq")]
            BrokerKind::RabbitMq => self.rabbitmq.validate(),
            #[cfg(feature = "kafka")]
            BrokerKind::Kafka => self.kafka.validate(),
            #[cfg(feature = "zeromq")]
            BrokerKind::ZeroMq => self.zeromq.validate(),
            #[allow(unreachable_patterns)]
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name() {
        for kind in BrokerKind::ALL {
            assert_eq!(kind.name().parse::<BrokerKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        let error = "rabbit".parse::<BrokerKind>().expect_err("unknown");
        assert!(error.contains("memory, rabbitmq, kafka, zeromq"), "{error}");
    }
}
