//! [`GroupContext`]: the consumer's rebalance callback.
//!
//! On revocation, the acknowledged positions of the revoked partitions are committed before
//! they move to another consumer. On assignment, a partition that comes back to this consumer
//! after an eager revocation continues one past what it already received (so the deliveries
//! it holds are neither read twice nor forgotten); the others start at the group's committed
//! offset. Newly assigned partitions stay paused while the consumer is full.

use std::sync::Arc;

use courier_core::{SubscriptionState, SubscriptionStatus};
use rdkafka::{
    ClientContext, Offset, Statistics, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, RebalanceProtocol},
    error::{KafkaError, KafkaResult},
    types::RDKafkaRespErr,
};
use tracing::{debug, warn};

use super::shared::Shared;
use crate::health::{self, ClientLink};

/// Callbacks librdkafka runs from inside the consumer's poll.
pub(crate) struct GroupContext {
    pub(crate) shared: Arc<Shared>,
    /// This client's connection state, counted in the broker's.
    pub(crate) link: Arc<ClientLink>,
    /// The subscription's state and its partitions' lag.
    pub(crate) status: SubscriptionStatus,
}

impl ClientContext for GroupContext {
    fn stats(&self, statistics: Statistics) {
        self.link.observe(&statistics);
        health::observe_consumer(&self.status, &self.shared.topic, &statistics);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.link.error(&error);
        if health::is_all_brokers_down(&error)
            && self.status.state() == SubscriptionState::Consuming
        {
            self.status.set(SubscriptionState::Reconnecting);
        }
        warn!(topic = %self.shared.topic, group = %self.shared.group, error = %error, reason, "consumer error; librdkafka retries by itself");
    }
}

impl GroupContext {
    fn assign(&self, consumer: &BaseConsumer<Self>, list: &mut TopicPartitionList) {
        let shared = &self.shared;
        let partitions = shared.partitions_in(list);
        let (resume, paused) = {
            let mut state = shared.lock();
            (state.assigned(&partitions), state.paused)
        };
        for &(partition, next) in &resume {
            if let Err(e) =
                list.set_partition_offset(&shared.topic, partition, Offset::Offset(next))
            {
                warn!(topic = %shared.topic, partition, error = %e, "continuing a partition where it was failed; it restarts at the committed offset");
            }
        }
        for &partition in &partitions {
            if resume.iter().any(|&(p, _)| p == partition) {
                continue;
            }
            if let Some(start) = shared.take_start(partition) {
                if let Err(e) =
                    list.set_partition_offset(&shared.topic, partition, Offset::Offset(start))
                {
                    warn!(topic = %shared.topic, partition, error = %e, "starting a temporary group's partition at the end failed; it starts where auto.offset.reset puts it");
                }
            }
        }
        debug!(topic = %shared.topic, group = %shared.group, ?partitions, ?resume, "partitions assigned");
        let assigned = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_assign(list),
            _ => consumer.assign(list),
        };
        if let Err(e) = assigned {
            warn!(topic = %shared.topic, group = %shared.group, error = %e, "taking the assigned partitions failed");
        }
        if paused && list.count() > 0 {
            if let Err(e) = consumer.pause(list) {
                warn!(topic = %shared.topic, error = %e, "pausing newly assigned partitions failed");
            }
        }
        shared.joined.send_replace(true);
    }

    fn revoke(&self, consumer: &BaseConsumer<Self>, list: &TopicPartitionList) {
        let shared = &self.shared;
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let partitions = shared.partitions_in(list);
        let positions = shared.lock().revoked(&partitions, !cooperative);
        debug!(topic = %shared.topic, group = %shared.group, ?partitions, ?positions, "partitions revoked");
        if consumer.assignment_lost() {
            warn!(topic = %shared.topic, group = %shared.group, "assignment lost; what was acknowledged since the last commit will be read again");
        } else if let Err(e) = shared.commit(consumer, &positions, CommitMode::Sync) {
            warn!(topic = %shared.topic, group = %shared.group, error = %e, "committing revoked partitions failed; their messages since the last commit will be read again");
        }
        let released = if cooperative {
            consumer.incremental_unassign(list)
        } else {
            consumer.unassign()
        };
        if let Err(e) = released {
            warn!(topic = %shared.topic, group = %shared.group, error = %e, "releasing revoked partitions failed");
        }
    }
}

impl ConsumerContext for GroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        list: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, list),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, list),
            other => {
                warn!(topic = %self.shared.topic, group = %self.shared.group, error = ?other, "rebalance failed; releasing the assignment");
                self.revoke(consumer, list);
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(e) = result {
            self.shared.lock().recommit_all();
            warn!(topic = %self.shared.topic, group = %self.shared.group, error = %e, partitions = offsets.count(), "committing offsets failed; retrying at the next interval");
        }
    }
}
