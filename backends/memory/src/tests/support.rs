//! Helpers of the unit tests.

use std::time::Duration;

use courier_core::{Broker, Consumer, Delivery, Message, Subscription};

use crate::{MemoryBroker, MemoryConfig, Overflow};

/// How long a test waits for something that should happen.
pub(crate) const PATIENCE: Duration = Duration::from_secs(5);
/// How long a test waits to be sure something does not happen.
pub(crate) const QUIET: Duration = Duration::from_millis(100);

pub(crate) fn broker(capacity: usize, overflow: Overflow) -> MemoryBroker {
    MemoryBroker::new(MemoryConfig { capacity, overflow })
}

pub(crate) async fn consumer(
    broker: &MemoryBroker,
    topic: &str,
    group: &str,
    prefetch: usize,
) -> Box<dyn Consumer> {
    broker
        .subscribe(Subscription::new(topic, group).with_prefetch(prefetch))
        .await
        .expect("subscribe")
}

pub(crate) fn keyed(key: &str, body: &str) -> Message {
    Message::new(body.to_owned()).with_key(key)
}

pub(crate) fn body(delivery: &Delivery) -> &str {
    std::str::from_utf8(&delivery.message.payload).expect("utf-8 payload")
}

pub(crate) fn bodies(deliveries: &[Delivery]) -> Vec<&str> {
    deliveries.iter().map(body).collect()
}

/// Up to `max` deliveries, failing the test when none comes in time.
pub(crate) async fn take(consumer: &mut Box<dyn Consumer>, max: usize) -> Vec<Delivery> {
    let got = tokio::time::timeout(PATIENCE, consumer.recv_batch(max))
        .await
        .expect("a delivery in time")
        .expect("recv_batch");
    assert!(!got.is_empty(), "consumer closed unexpectedly");
    got
}

/// Asserts that nothing arrives for a while.
pub(crate) async fn assert_nothing(consumer: &mut Box<dyn Consumer>) {
    if let Ok(got) = tokio::time::timeout(QUIET, consumer.recv_batch(16)).await {
        let got = got.expect("recv_batch");
        panic!("expected nothing, got {:?}", bodies(&got));
    }
}

pub(crate) async fn ack_all(deliveries: Vec<Delivery>) {
    for mut d in deliveries {
        d.ack().await.expect("ack");
    }
}
