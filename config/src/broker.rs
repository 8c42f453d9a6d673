//! The `[broker]` section: which backend carries the messages, and each backend's table.

use std::{fmt, str::FromStr};

use courier_core::backend::BackendConfig;
use serde::{Deserialize, Serialize, ser::SerializeStruct};

/// Declares the backends from one line each: the `broker.kind` variant, the field (its
/// `[broker.<name>]` table), the name (in the config file, and the cargo feature of
/// `courier-config` that compiles the backend in) and the table's type, which implements
/// [`BackendConfig`]. [`BrokerKind`], the tables of [`BrokerSection`], validation,
/// `shop config` output and [`connect`](crate::connect) all come from the list below.
macro_rules! backends {
    ($($(#[doc = $doc:literal])* $variant:ident $field:ident $name:literal $table:path;)+) => {
        /// The backend that carries the messages: `broker.kind`. The first listed is the
        /// default.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum BrokerKind {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $name)]
                $variant,
            )+
        }

        impl BrokerKind {
            /// Every backend, in the order they are listed as valid choices.
            pub const ALL: &'static [BrokerKind] = &[$(Self::$variant),+];

            /// Its name in the config file, which is also the cargo feature of
            /// `courier-config` that compiles it in.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// Whether this build includes the backend (its cargo feature is on).
            pub fn is_compiled_in(self) -> bool {
                match self {
                    $(Self::$variant => cfg!(feature = $name),)+
                }
            }
        }

        /// The `[broker]` section.
        #[derive(Clone, Debug, Default, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct BrokerSection {
            /// The backend, one of [`BrokerKind::ALL`]; `memory` by default.
            pub kind: BrokerKind,
            /// Refuse to start a service when the backend lacks a guarantee the service needs
            /// (otherwise start with a warning). Default `false`.
            pub strict: bool,
            $(
                #[doc = concat!("`[broker.", $name, "]`.")]
                #[cfg(feature = $name)]
                pub $field: $table,
                #[doc = concat!("`[broker.", $name, "]` (the `", $name, "` feature is off).")]
                #[cfg(not(feature = $name))]
                #[serde(skip_serializing)]
                pub $field: CompiledOut,
            )+
        }

        impl BrokerSection {
            /// The table of backend `kind`; `None` when this build does not include it.
            pub fn backend(&self, kind: BrokerKind) -> Option<&dyn BackendConfig> {
                match kind {
                    $(
                        #[cfg(feature = $name)]
                        BrokerKind::$variant => Some(&self.$field),
                    )+
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }

            /// Adds the table of backend `kind` to `out`, named as in the file; nothing when
            /// this build does not include it.
            pub(crate) fn serialize_table<S: SerializeStruct>(
                &self,
                kind: BrokerKind,
                out: &mut S,
            ) -> Result<(), S::Error> {
                match kind {
                    $(
                        #[cfg(feature = $name)]
                        BrokerKind::$variant => out.serialize_field($name, &self.$field),
                    )+
                    #[allow(unreachable_patterns)]
                    _ => Ok(()),
                }
            }
        }
    };
}

backends! {
    /// In-process queues (`memory`), the default.
    Memory memory "memory" courier_memory::MemoryConfig;
    /// RabbitMQ (`rabbitmq`).
    RabbitMq rabbitmq "rabbitmq" courier_rabbitmq::RabbitMqConfig;
    /// Kafka (`kafka`), with `[broker.kafka.options]` passed to librdkafka.
    Kafka kafka "kafka" courier_kafka::KafkaConfig;
    /// ZeroMQ (`zeromq`).
    ZeroMq zeromq "zeromq" courier_zeromq::ZmqConfig;
}

impl Default for BrokerKind {
    fn default() -> Self {
        Self::ALL[0]
    }
}

impl BrokerKind {
    /// The backends this build includes.
    pub fn compiled_in() -> Vec<BrokerKind> {
        Self::ALL
            .iter()
            .copied()
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
            .iter()
            .copied()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name() {
        for &kind in BrokerKind::ALL {
            assert_eq!(kind.name().parse::<BrokerKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        let error = "rabbit".parse::<BrokerKind>().expect_err("unknown");
        assert!(error.contains("memory, rabbitmq, kafka, zeromq"), "{error}");
    }
}
