//! Settling deliveries: one [`MemoryAck`] per consumer, a sequence number per delivery.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use courier_core::{Ack, Result, backend::group::MemberId};

use crate::{group::Group, state::Settle};

/// Settles the deliveries of one consumer in its group: one short lock per call, one for a
/// whole [`Ack::ack_batch`].
pub(crate) struct MemoryAck {
    pub(crate) group: Arc<Group>,
    pub(crate) member: MemberId,
}

#[async_trait]
impl Ack for MemoryAck {
    async fn ack(&self, token: u64) -> Result<()> {
        self.group.settle(self.member, &[token], Settle::Ack)
    }

    async fn nack(&self, token: u64, requeue: bool) -> Result<()> {
        let how = if requeue {
            Settle::Requeue
        } else {
            Settle::Reject
        };
        self.group.settle(self.member, &[token], how)
    }

    /// Keeps the message in its group, aside from every consumer, until `delay` has passed
    /// (a timer task then gives it back with the next attempt).
    async fn nack_after(&self, token: u64, delay: Duration) -> Result<()> {
        self.group.park(self.member, token, delay)
    }

    /// Acks the batch under one lock of the group, waking waiters once.
    async fn ack_batch(&self, tokens: &[u64]) -> Result<()> {
        self.group.settle(self.member, tokens, Settle::Ack)
    }
}

#[cfg(test)]
mod tests {
    use courier_core::{Broker, Delivery, ErrorKind, Message, Subscription};

    use crate::{MemoryBroker, MemoryConfig, Overflow};

    #[tokio::test]
    async fn a_batch_ack_frees_room_and_prefetch_like_single_acks() {
        let broker = MemoryBroker::new(MemoryConfig {
            capacity: 8,
            overflow: Overflow::Fail,
        });
        let mut consumer = broker
            .subscribe(Subscription::new("t", "g").with_prefetch(8))
            .await
            .expect("subscribe");
        let producer = broker.producer().await.expect("producer");
        let batch: Vec<Message> = (0..8)
            .map(|i| Message::new(format!("{i}")).with_key(format!("k{}", i % 3)))
            .collect();
        producer.send_batch("t", batch).await.expect("send");
        let mut got = consumer.recv_batch(100).await.expect("recv");
        assert_eq!(got.len(), 8);
        let stats = broker.group_stats("t", "g").expect("group");
        assert_eq!((stats.unacked, stats.ready), (8, 0));

        Delivery::ack_all(&mut got[..5]).await.expect("ack");
        let stats = broker.group_stats("t", "g").expect("group");
        assert_eq!(stats.unacked, 3);
        broker.check_invariants();
        // The group has room for 5 more again.
        let more: Vec<Message> = (0..5).map(|i| Message::new(format!("m{i}"))).collect();
        producer.send_batch("t", more).await.expect("room again");
        assert_eq!(consumer.recv_batch(100).await.expect("recv").len(), 5);

        consumer.close().await.expect("close");
        let error = Delivery::ack_all(&mut got[5..])
            .await
            .expect_err("consumer closed");
        assert_eq!(error.kind(), ErrorKind::Ack);
        let stats = broker.group_stats("t", "g").expect("group");
        assert_eq!((stats.unacked, stats.ready), (0, 8));
        broker.check_invariants();
    }
}
