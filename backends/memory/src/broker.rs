//! [`MemoryBroker`]: the [`Broker`] over a registry of topics and groups in this process.

use std::{fmt, sync::Arc};

use async_trait::async_trait;
use courier_core::{Broker, Capabilities, Capability, Consumer, Producer, Result, Subscription};

use crate::{
    BACKEND, config::MemoryConfig, consumer::MemoryConsumer, producer::MemoryProducer,
    registry::Shared, state::GroupStats, temporary::TemporaryConsumer,
};

/// What the in-memory backend guarantees: everything but persistence.
pub const CAPABILITIES: Capabilities = Capabilities::none()
    .with(Capability::DetachedRetention)
    .with(Capability::FanOut)
    .with(Capability::CompetingConsumers)
    .with(Capability::PerKeyOrder)
    .with(Capability::PerKeyOrderAcrossConsumers)
    .with(Capability::RedeliveryOnNack)
    .with(Capability::RedeliveryOnDisconnect)
    .with(Capability::AttemptCount)
    .with(Capability::AtLeastOnce)
    .with(Capability::ConfirmedSend)
    .with(Capability::Prefetch)
    .with(Capability::DelayedDelivery);

/// The in-memory broker: per-topic, per-group queues inside this process.
///
/// Cheap to clone: clones share the same topics, so producers and consumers opened from any
/// clone talk to each other.
///
/// A group exists from [`declare_group`](Broker::declare_group) or the first
/// [`subscribe`](Broker::subscribe) until the broker is dropped, keeping its messages while no
/// consumer runs. A message sent to a topic that has no group yet is dropped, as an exchange
/// with no queue bound drops it: declare the groups first.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> courier_core::Result<()> {
/// use courier_core::{Broker, Message, Subscription};
/// use courier_memory::MemoryBroker;
///
/// let broker = MemoryBroker::default();
/// let mut consumer = broker.subscribe(Subscription::new("orders.placed", "inventory")).await?;
/// let producer = broker.producer().await?;
/// producer.send("orders.placed", Message::new("order 1001").with_key("1001")).await?;
/// let mut delivery = consumer.recv().await?.expect("open consumer");
/// assert_eq!(&delivery.message.payload[..], b"order 1001");
/// assert_eq!(delivery.attempt, 1);
/// delivery.ack().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryBroker {
    shared: Arc<Shared>,
}

impl MemoryBroker {
    /// A broker with `config`. A `capacity` of 0 (which
    /// [`MemoryConfig::validate`] rejects) counts as 1.
    pub fn new(config: MemoryConfig) -> Self {
        Self {
            shared: Arc::new(Shared::new(config)),
        }
    }

    /// The configuration the broker was built with.
    pub fn config(&self) -> &MemoryConfig {
        &self.shared.config
    }

    /// The sizes of the queues of `group` on `topic`, when that group exists.
    pub fn group_stats(&self, topic: &str, group: &str) -> Option<GroupStats> {
        Some(self.shared.find(topic, group)?.lock().stats())
    }
}

impl Default for MemoryBroker {
    fn default() -> Self {
        Self::new(MemoryConfig::default())
    }
}

impl fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBroker")
            .field("config", &self.shared.config)
            .field("topics", &self.shared.topic_count())
            .field("closed", &self.shared.is_closed())
            .finish()
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn producer(&self) -> Result<Arc<dyn Producer>> {
        self.shared.check_open()?;
        Ok(Arc::new(MemoryProducer::new(self.shared.clone())))
    }

    async fn declare_group(&self, topic: &str, group: &str) -> Result<()> {
        self.shared.declare(topic, group).map(drop)
    }

    /// A temporary subscription that creates its group removes it when its consumer closes
    /// (see [`Subscription::temporary`]).
    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>> {
        let creates = subscription.temporary
            && self
                .shared
                .find(&subscription.topic, &subscription.group)
                .is_none();
        let group = self
            .shared
            .declare(&subscription.topic, &subscription.group)?;
        let consumer = MemoryConsumer::attach(group.clone(), subscription.prefetch);
        if creates {
            return Ok(Box::new(TemporaryConsumer::new(
                consumer,
                self.shared.clone(),
                group,
            )));
        }
        Ok(Box::new(consumer))
    }

    async fn close(&self) -> Result<()> {
        self.shared.close();
        Ok(())
    }
}

#[cfg(test)]
impl MemoryBroker {
    /// Checks the bookkeeping of every group.
    pub(crate) fn check_invariants(&self) {
        for group in self.shared.all_groups() {
            group.lock().check_invariants();
        }
    }
}
