//! [`DeclaredQueue`]: the exchange and queue this backend declares for a group, worked out
//! from the configuration alone (no connection), for tools that describe the topology.

use courier_core::{Error, ErrorKind, Result};

use crate::{
    BACKEND, RabbitMqConfig,
    naming::{Naming, QueueType},
};

/// The RabbitMQ objects behind group `G` of topic `T`, as
/// [`RabbitMqBroker`](crate::RabbitMqBroker) declares them: the durable `fanout` exchange `T`
/// and the queue bound to it (`T.G`, or the one `[broker.rabbitmq.queues.T.G]` names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredQueue {
    /// The topic's exchange: durable, `fanout`, named after the topic.
    pub exchange: String,
    /// The group's queue.
    pub queue: String,
    /// Whether the queue survives a broker restart.
    pub durable: bool,
    /// The queue's type.
    pub queue_type: QueueType,
    /// The queue's `x-expires`, in milliseconds, when set.
    pub expires_ms: Option<u64>,
}

impl RabbitMqConfig {
    /// The exchange and queue of `group` on `topic` under this configuration.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a name RabbitMQ refuses (empty, over 255 bytes, or starting
    /// with `amq.`).
    pub fn declared_queue(&self, topic: &str, group: &str) -> Result<DeclaredQueue> {
        let naming = Naming::new(self.queue_type, self.queue_expires_ms, self.queues.clone());
        let spec = naming
            .queue_spec(topic, group)
            .map_err(|problem| Error::new(BACKEND, ErrorKind::Config, problem))?;
        Ok(DeclaredQueue {
            exchange: spec.exchange,
            queue: spec.queue,
            durable: spec.durable,
            queue_type: spec.queue_type,
            expires_ms: spec.expires_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::QueueOverride;

    #[test]
    fn groups_get_topic_dot_group_unless_a_queue_is_named() {
        let mut config = RabbitMqConfig {
            queue_expires_ms: Some(60_000),
            ..RabbitMqConfig::default()
        };
        config.queues.insert(
            "order_queue".into(),
            BTreeMap::from([(
                "order".into(),
                QueueOverride {
                    queue: Some("order_queue".into()),
                    durable: false,
                    queue_type: None,
                },
            )]),
        );
        let plain = config
            .declared_queue("orders.placed", "inventory")
            .expect("valid names");
        assert_eq!(plain.exchange, "orders.placed");
        assert_eq!(plain.queue, "orders.placed.inventory");
        assert!(plain.durable);
        assert_eq!(plain.expires_ms, Some(60_000));
        let named = config
            .declared_queue("order_queue", "order")
            .expect("valid names");
        assert_eq!(named.queue, "order_queue");
        assert!(!named.durable);
        assert_eq!(named.expires_ms, None);
        assert!(config.declared_queue("amq.x", "g").is_err());
    }
}
