//! A safety net for group coordinators that do not rebalance after a member dies.
//!
//! tansu 0.6 drops a member that stopped heartbeating but keeps the group's old assignment:
//! the dead member's partitions then belong to nobody and their messages wait forever.
//! (Its DescribeGroups fails on sqlite storage, so the group cannot simply be inspected.)
//! Kafka's own coordinator rebalances, so there this check normally finds nothing.
//!
//! Every `session_timeout_ms`, a consumer that does not own every partition of its topic
//! looks at the others: a partition with messages beyond the group's committed offset, whose
//! committed offset has not moved for `stall_timeout_ms`, is not being consumed. The consumer
//! then leaves and rejoins the group, which makes the coordinator form a new generation that
//! assigns every partition. A live but slow member can look the same; rejoining then costs a
//! rebalance (and redelivers what that member held unacknowledged), never a message.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{Consumer as _, StreamConsumer},
};
use tracing::{debug, warn};

use super::context::GroupContext;

/// What the previous checks saw of the partitions this consumer does not own.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// Per partition: the committed position, and since when it has not moved while messages
    /// wait beyond it.
    stalled: HashMap<i32, (i64, Instant)>,
}

impl Watch {
    /// Records that `partition` has its committed position at `position` and messages up to
    /// `high`, at `now`. Returns whether it has been stuck with messages waiting for `limit`.
    pub(crate) fn observe(
        &mut self,
        partition: i32,
        position: i64,
        high: i64,
        now: Instant,
        limit: Duration,
    ) -> bool {
        if position >= high {
            self.stalled.remove(&partition);
            return false;
        }
        match self.stalled.get(&partition) {
            Some(&(seen, since)) if seen == position => now.duration_since(since) >= limit,
            _ => {
                self.stalled.insert(partition, (position, now));
                false
            }
        }
    }

    /// Forgets every partition except `keep`.
    fn retain(&mut self, keep: &HashSet<i32>) {
        self.stalled.retain(|partition, _| keep.contains(partition));
    }
}

/// Checks the partitions of `consumer`'s topic it does not own, and rejoins the group when
/// one is stalled. Blocking: run it off the async threads. Returns whether it rejoined.
pub(crate) fn check(
    consumer: &StreamConsumer<GroupContext>,
    watch: &mut Watch,
    stall_limit: Duration,
    timeout: Duration,
) -> bool {
    let shared = &consumer.context().shared;
    let topic = &*shared.topic;
    let owned: HashSet<i32> = match consumer.assignment() {
        Ok(list) => shared.partitions_in(&list).into_iter().collect(),
        Err(_) => return false,
    };
    let partitions = match consumer.fetch_metadata(Some(topic), timeout) {
        Ok(metadata) => metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
            .unwrap_or_default(),
        Err(e) => {
            debug!(topic, error = %e, "group check: no metadata");
            return false;
        }
    };
    let others: HashSet<i32> = partitions
        .into_iter()
        .filter(|p| !owned.contains(p))
        .collect();
    watch.retain(&others);
    if others.is_empty() {
        return false;
    }
    let mut list = TopicPartitionList::with_capacity(others.len());
    for &partition in &others {
        list.add_partition(topic, partition);
    }
    let committed = match consumer.committed_offsets(list, timeout) {
        Ok(committed) => committed,
        Err(e) => {
            debug!(topic, error = %e, "group check: no committed offsets");
            return false;
        }
    };
    let now = Instant::now();
    let mut stalled = Vec::new();
    for element in committed.elements_for_topic(topic) {
        let partition = element.partition();
        let Ok((low, high)) = consumer.fetch_watermarks(topic, partition, timeout) else {
            continue;
        };
        let position = match element.offset() {
            Offset::Offset(offset) => offset,
            _ => low,
        };
        if watch.observe(partition, position, high, now, stall_limit) {
            stalled.push((partition, position, high));
        }
    }
    if stalled.is_empty() {
        return false;
    }
    warn!(
        topic,
        group = %shared.group,
        ?stalled,
        "partitions of the group are not being consumed (a member died and the coordinator did not rebalance?); rejoining the group"
    );
    watch.retain(&HashSet::new());
    consumer.unsubscribe();
    if let Err(e) = consumer.subscribe(&[topic]) {
        warn!(topic, error = %e, "subscribing again failed");
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_is_stalled_when_its_committed_offset_stays_behind_for_the_limit() {
        let limit = Duration::from_secs(30);
        let start = Instant::now();
        let mut watch = Watch::default();
        assert!(!watch.observe(2, 10, 50, start, limit));
        assert!(!watch.observe(2, 10, 60, start + Duration::from_secs(29), limit));
        assert!(watch.observe(2, 10, 60, start + Duration::from_secs(30), limit));
        // Progress restarts the clock.
        assert!(!watch.observe(2, 11, 60, start + Duration::from_secs(31), limit));
        assert!(!watch.observe(2, 11, 60, start + Duration::from_secs(60), limit));
        assert!(watch.observe(2, 11, 60, start + Duration::from_secs(61), limit));
        // Nothing waiting: not stalled, however long.
        assert!(!watch.observe(3, 60, 60, start, limit));
        assert!(!watch.observe(3, 60, 60, start + Duration::from_secs(300), limit));
        // Forgotten once owned.
        watch.retain(&HashSet::from([3]));
        assert!(!watch.observe(2, 11, 60, start + Duration::from_secs(400), limit));
    }
}
