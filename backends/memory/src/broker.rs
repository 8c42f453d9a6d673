//! The broker: a registry of topics and their groups, shared by every producer and consumer.

use std::{
    collections::HashMap,
    fmt,
    hash::{BuildHasher, RandomState},
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use async_trait::async_trait;
use courier_core::{
    Broker, Capabilities, Capability, Consumer, Error, Producer, Result, Subscription,
};

use crate::{
    BACKEND, config::MemoryConfig, consumer::MemoryConsumer, group::Group,
    producer::MemoryProducer, state::GroupStats,
};

/// What the in-memory backend guarantees: everything but persistence and native
/// dead-lettering.
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
    .with(Capability::Prefetch);

/// State shared by the broker, its producers and its consumers.
pub(crate) struct Shared {
    pub(crate) config: MemoryConfig,
    /// Topic name to its groups, in creation order (the order senders lock them in).
    topics: RwLock<HashMap<String, Arc<[Arc<Group>]>>>,
    closed: AtomicBool,
    key_hasher: RandomState,
}

impl Shared {
    /// The groups of `topic`, if it has any.
    pub(crate) fn groups(&self, topic: &str) -> Option<Arc<[Arc<Group>]>> {
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        topics
            .get(topic)
            .filter(|groups| !groups.is_empty())
            .cloned()
    }

    /// The routing hash of a message key.
    pub(crate) fn hash_key(&self, key: &str) -> u64 {
        self.key_hasher.hash_one(key)
    }

    /// # Errors
    /// [`ErrorKind::Closed`](courier_core::ErrorKind::Closed) once the broker is closed.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed(BACKEND, "the broker"));
        }
        Ok(())
    }

    /// The group `group` of `topic`, created when missing.
    fn declare(&self, topic: &str, group: &str) -> Result<Arc<Group>> {
        self.check_open()?;
        if let Some(found) = self.find(topic, group) {
            return Ok(found);
        }
        let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        // Checked again under the lock `close` reads the registry with, so every group created
        // is either refused here or closed there.
        self.check_open()?;
        let groups = topics
            .entry(topic.to_owned())
            .or_insert_with(|| Arc::from([]));
        if let Some(found) = groups.iter().find(|g| g.name == group) {
            return Ok(found.clone());
        }
        let created = Arc::new(Group::new(Arc::from(topic), group, self.config.capacity));
        let mut extended = groups.to_vec();
        extended.push(created.clone());
        *groups = Arc::from(extended);
        Ok(created)
    }

    fn find(&self, topic: &str, group: &str) -> Option<Arc<Group>> {
        self.groups(topic)?
            .iter()
            .find(|g| g.name == group)
            .cloned()
    }
}

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
            shared: Arc::new(Shared {
                config,
                topics: RwLock::new(HashMap::new()),
                closed: AtomicBool::new(false),
                key_hasher: RandomState::new(),
            }),
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
        let topics = self.shared.topics.read().map_or(0, |topics| topics.len());
        f.debug_struct("MemoryBroker")
            .field("config", &self.shared.config)
            .field("topics", &topics)
            .field("closed", &self.shared.closed.load(Ordering::Relaxed))
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

    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>> {
        let group = self
            .shared
            .declare(&subscription.topic, &subscription.group)?;
        Ok(Box::new(MemoryConsumer::attach(
            group,
            subscription.prefetch,
        )))
    }

    async fn close(&self) -> Result<()> {
        self.shared.closed.store(true, Ordering::Release);
        let groups: Vec<Arc<Group>> = {
            let topics = self
                .shared
                .topics
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            topics.values().flat_map(|g| g.iter().cloned()).collect()
        };
        for group in groups {
            group.close();
        }
        Ok(())
    }
}

#[cfg(test)]
impl MemoryBroker {
    /// Checks the bookkeeping of every group.
    pub(crate) fn check_invariants(&self) {
        let topics = self
            .shared
            .topics
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for group in topics.values().flat_map(|g| g.iter()) {
            group.lock().check_invariants();
        }
    }
}
