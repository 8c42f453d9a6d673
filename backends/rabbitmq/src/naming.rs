//! How topics and groups map to RabbitMQ objects.
//!
//! * Topic `T` is the durable `fanout` exchange named `T`.
//! * Group `G` of topic `T` is the queue `T.G`, bound to exchange `T`, unless
//!   `[broker.rabbitmq.queues.T.G]` names another queue (for example a plain queue that
//!   non-courier clients publish to through the default exchange).

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

/// AMQP limits names (short strings) to 255 bytes.
pub(crate) const MAX_NAME: usize = 255;

/// The type of a queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    /// A classic queue (RabbitMQ's default). Declared without an `x-queue-type` argument, so
    /// it matches a queue a plain client declared.
    #[default]
    Classic,
    /// A replicated quorum queue (`x-queue-type = quorum`); always durable.
    Quorum,
}

impl fmt::Display for QueueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        })
    }
}

/// The queue of one group, replacing the `T.G` rule: `[broker.rabbitmq.queues.T.G]`.
///
/// A queue named here is declared plainly: with `durable` as given and no `x-expires`, so that
/// a plain client's `queue_declare` of the same queue (pika's default is `durable=False`)
/// matches it whichever side declares first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueOverride {
    /// The queue's name. Default `T.G`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Whether the queue survives a broker restart. Default `true`.
    pub durable: bool,
    /// The queue's type. Default: the table's `queue_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_type: Option<QueueType>,
}

impl Default for QueueOverride {
    fn default() -> Self {
        Self {
            queue: None,
            durable: true,
            queue_type: None,
        }
    }
}

/// Everything needed to declare one group's queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueueSpec {
    /// The exchange of the topic.
    pub(crate) exchange: String,
    /// The queue's name.
    pub(crate) queue: String,
    /// Whether it is durable.
    pub(crate) durable: bool,
    /// Its type.
    pub(crate) queue_type: QueueType,
    /// `x-expires` in milliseconds, when set.
    pub(crate) expires_ms: Option<u64>,
}

/// Resolves the queue of a topic and group from the configuration.
#[derive(Clone, Debug, Default)]
pub(crate) struct Naming {
    queue_type: QueueType,
    expires_ms: Option<u64>,
    overrides: BTreeMap<String, BTreeMap<String, QueueOverride>>,
}

impl Naming {
    /// Naming with `queue_type` and `expires_ms` for the `T.G` queues, and `overrides`.
    pub(crate) fn new(
        queue_type: QueueType,
        expires_ms: Option<u64>,
        overrides: BTreeMap<String, BTreeMap<String, QueueOverride>>,
    ) -> Self {
        Self {
            queue_type,
            expires_ms,
            overrides,
        }
    }

    /// The queue of `group` on `topic`.
    ///
    /// # Errors
    /// A description of the bad name: empty, too long or reserved.
    pub(crate) fn queue_spec(&self, topic: &str, group: &str) -> Result<QueueSpec, String> {
        check_name("topic", topic)?;
        check_name("group", group)?;
        let spec = match self.overrides.get(topic).and_then(|g| g.get(group)) {
            Some(o) => QueueSpec {
                exchange: topic.to_owned(),
                queue: o
                    .queue
                    .clone()
                    .unwrap_or_else(|| default_queue_name(topic, group)),
                durable: o.durable,
                queue_type: o.queue_type.unwrap_or(self.queue_type),
                expires_ms: None,
            },
            None => QueueSpec {
                exchange: topic.to_owned(),
                queue: default_queue_name(topic, group),
                durable: true,
                queue_type: self.queue_type,
                expires_ms: self.expires_ms,
            },
        };
        check_queue_name(&spec.queue)?;
        Ok(spec)
    }
}

/// The queue `T.G`, the default for group `group` of `topic`.
pub(crate) fn default_queue_name(topic: &str, group: &str) -> String {
    format!("{topic}.{group}")
}

/// Checks a topic or group name: not empty, at most 255 bytes (the exchange and queue names
/// derive from it), not reserved by RabbitMQ.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} name must not be empty"));
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "{what} name is {} bytes long; RabbitMQ names are at most {MAX_NAME} bytes",
            name.len()
        ));
    }
    if what == "topic" && name.starts_with("amq.") {
        return Err(format!(
            "topic {name:?} starts with \"amq.\", which RabbitMQ reserves"
        ));
    }
    Ok(())
}

/// Checks an explicit queue name.
pub(crate) fn check_queue_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("queue name must not be empty".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "queue name is {} bytes long; RabbitMQ names are at most {MAX_NAME} bytes",
            name.len()
        ));
    }
    if name.starts_with("amq.") {
        return Err(format!(
            "queue {name:?} starts with \"amq.\", which RabbitMQ reserves"
        ));
    }
    Ok(())
}
