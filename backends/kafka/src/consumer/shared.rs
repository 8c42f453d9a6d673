//! [`Shared`]: what the poll task, the rebalance callbacks, `recv` and the acknowledger of
//! one consumer share, and committing positions.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer, ConsumerContext},
    error::KafkaResult,
};
use tokio::sync::{Notify, watch};

use super::state::State;

/// The shared part of one consumer.
pub(crate) struct Shared {
    /// The subscribed topic.
    pub(crate) topic: Arc<str>,
    /// The group.
    pub(crate) group: String,
    state: Mutex<State>,
    /// Wakes the poll task when `recv` makes room in the buffer of ready deliveries.
    pub(crate) wake_poller: Notify,
    /// Wakes `recv` when deliveries are ready or the consumer has closed.
    pub(crate) wake_receiver: Notify,
    /// Becomes `true` at the first partition assignment.
    pub(crate) joined: watch::Sender<bool>,
    /// Where partitions start at their first assignment, instead of the group's committed
    /// offset (a temporary group's end of the topic).
    starts: Mutex<HashMap<i32, i64>>,
}

impl Shared {
    pub(crate) fn new(topic: &str, group: &str, prefetch: usize) -> Self {
        Self {
            topic: topic.into(),
            group: group.to_owned(),
            state: Mutex::new(State::new(prefetch)),
            wake_poller: Notify::new(),
            wake_receiver: Notify::new(),
            joined: watch::Sender::new(false),
            starts: Mutex::new(HashMap::new()),
        }
    }

    /// Starts each partition of `starts` at its offset when it is first assigned.
    pub(crate) fn start_at(&self, starts: HashMap<i32, i64>) {
        *self.starts.lock().unwrap_or_else(PoisonError::into_inner) = starts;
    }

    /// Where `partition` starts, once: later assignments start at the committed offset.
    pub(crate) fn take_start(&self, partition: i32) -> Option<i64> {
        self.starts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&partition)
    }

    /// The state. The lock is never held across a call into librdkafka that waits.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The partitions of this consumer's topic in `list`.
    pub(crate) fn partitions_in(&self, list: &TopicPartitionList) -> Vec<i32> {
        list.elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect()
    }

    /// Commits `positions` (partition, next offset to read) of the topic for the group.
    ///
    /// # Errors
    /// What librdkafka reports (for [`CommitMode::Async`], only failures to enqueue).
    pub(crate) fn commit<C: ConsumerContext>(
        &self,
        consumer: &impl Consumer<C>,
        positions: &[(i32, i64)],
        mode: CommitMode,
    ) -> KafkaResult<()> {
        if positions.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::with_capacity(positions.len());
        for &(partition, offset) in positions {
            list.add_partition_offset(&self.topic, partition, Offset::Offset(offset))?;
        }
        consumer.commit(&list, mode)
    }
}
