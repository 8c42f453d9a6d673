//! The memory bound: blocking and failing senders.

use std::time::Duration;

use courier_core::{Broker, ErrorKind, Message};

use super::support::*;
use crate::Overflow;

#[tokio::test]
async fn a_full_group_blocks_send_until_an_ack_frees_room() {
    let broker = broker(2, Overflow::Block);
    let mut c = consumer(&broker, "t", "g", 10).await;
    let producer = broker.producer().await.unwrap();
    producer
        .send_batch("t", vec![Message::new("1"), Message::new("2")])
        .await
        .unwrap();

    let blocked = tokio::spawn({
        let producer = producer.clone();
        async move { producer.send("t", Message::new("3")).await }
    });
    tokio::time::sleep(QUIET).await;
    assert!(
        !blocked.is_finished(),
        "send must wait while the group is full"
    );

    // Delivered but unacked messages still count: taking them frees nothing.
    let mut held = take(&mut c, 10).await;
    assert_eq!(bodies(&held), ["1", "2"]);
    tokio::time::sleep(QUIET).await;
    assert!(
        !blocked.is_finished(),
        "unacked deliveries count against capacity"
    );

    held.remove(0).ack().await.unwrap();
    tokio::time::timeout(PATIENCE, blocked)
        .await
        .expect("the ack wakes the sender")
        .unwrap()
        .unwrap();
    let third = take(&mut c, 10).await;
    assert_eq!(bodies(&third), ["3"]);
    broker.check_invariants();
}

#[tokio::test]
async fn a_full_group_fails_send_with_a_retryable_full_error() {
    let broker = broker(2, Overflow::Fail);
    let mut c = consumer(&broker, "t", "g", 10).await;
    let producer = broker.producer().await.unwrap();
    producer.send("t", Message::new("1")).await.unwrap();

    // A batch that does not fit is refused whole.
    let err = producer
        .send_batch("t", vec![Message::new("2"), Message::new("3")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Full);
    assert!(err.is_retryable());
    assert!(err.to_string().contains("group g of topic t"), "{err}");
    assert_eq!(
        broker.group_stats("t", "g").unwrap().ready,
        1,
        "nothing of it enqueued"
    );

    producer.send("t", Message::new("2")).await.unwrap();
    let err = producer.send("t", Message::new("3")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Full);

    let held = take(&mut c, 10).await;
    ack_all(held).await;
    producer.send("t", Message::new("3")).await.unwrap();
    assert_eq!(bodies(&take(&mut c, 10).await), ["3"]);
    broker.check_invariants();
}

#[tokio::test]
async fn fan_out_with_fail_is_all_or_nothing_across_groups() {
    let broker = broker(2, Overflow::Fail);
    let mut small = consumer(&broker, "t", "small", 10).await;
    broker.declare_group("t", "other").await.unwrap();
    let producer = broker.producer().await.unwrap();
    producer.send("t", Message::new("1")).await.unwrap();
    let held = take(&mut small, 10).await;
    ack_all(held).await;
    // "other" has no consumer: it holds "1"; "small" is empty.
    producer.send("t", Message::new("2")).await.unwrap();
    let err = producer.send("t", Message::new("3")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Full);
    assert!(err.to_string().contains("group other"), "{err}");
    let small_stats = broker.group_stats("t", "small").unwrap();
    assert_eq!(
        small_stats.ready, 1,
        "the group with room did not get it either"
    );
    broker.check_invariants();
}

#[tokio::test]
async fn messages_routed_to_a_consumer_count_against_capacity() {
    let broker = broker(3, Overflow::Fail);
    let mut a = consumer(&broker, "t", "g", 1).await;
    let mut b = consumer(&broker, "t", "g", 1).await;
    let producer = broker.producer().await.unwrap();
    producer
        .send_batch("t", vec![keyed("k", "1"), keyed("k", "2"), keyed("k", "3")])
        .await
        .unwrap();
    let held = take(&mut a, 1).await;
    assert_nothing(&mut b).await;
    let stats = broker.group_stats("t", "g").unwrap();
    assert_eq!((stats.ready, stats.pending, stats.unacked), (0, 2, 1));
    let err = producer.send("t", Message::new("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Full);
    ack_all(held).await;
    producer.send("t", Message::new("x")).await.unwrap();
    broker.check_invariants();
}

/// A batch larger than the whole capacity goes through in order while a consumer drains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_batch_larger_than_capacity_arrives_whole_and_in_order() {
    const COUNT: usize = 1_000;
    let broker = broker(16, Overflow::Block);
    let mut c = consumer(&broker, "t", "g", 4).await;
    let producer = broker.producer().await.unwrap();
    let sender = tokio::spawn(async move {
        let batch = (0..COUNT).map(|i| Message::new(i.to_string())).collect();
        producer.send_batch("t", batch).await
    });
    let mut next = 0;
    while next < COUNT {
        for mut d in take(&mut c, 4).await {
            assert_eq!(body(&d), next.to_string());
            next += 1;
            d.ack().await.unwrap();
        }
        let stats = broker.group_stats("t", "g").unwrap();
        assert!(
            stats.ready + stats.unacked <= 16,
            "capacity bound: {stats:?}"
        );
    }
    tokio::time::timeout(PATIENCE, sender)
        .await
        .expect("sender finishes")
        .unwrap()
        .unwrap();
    broker.check_invariants();
}

#[tokio::test]
async fn closing_the_broker_fails_a_blocked_send() {
    let broker = broker(1, Overflow::Block);
    broker.declare_group("t", "g").await.unwrap();
    let producer = broker.producer().await.unwrap();
    producer.send("t", Message::new("1")).await.unwrap();
    let blocked = tokio::spawn({
        let producer = producer.clone();
        async move { producer.send("t", Message::new("2")).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    broker.close().await.unwrap();
    let err = tokio::time::timeout(PATIENCE, blocked)
        .await
        .expect("close wakes the sender")
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
}

#[tokio::test]
async fn a_cancelled_blocked_send_does_not_stall_later_senders() {
    let broker = broker(1, Overflow::Block);
    let mut c = consumer(&broker, "t", "g", 10).await;
    let producer = broker.producer().await.unwrap();
    producer.send("t", Message::new("1")).await.unwrap();
    let cancelled = tokio::time::timeout(QUIET, producer.send("t", Message::new("never"))).await;
    assert!(cancelled.is_err(), "the send was blocked");
    let waiting = tokio::spawn({
        let producer = producer.clone();
        async move { producer.send("t", Message::new("2")).await }
    });
    let held = take(&mut c, 10).await;
    assert_eq!(bodies(&held), ["1"]);
    ack_all(held).await;
    tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("the live sender is woken")
        .unwrap()
        .unwrap();
    assert_eq!(bodies(&take(&mut c, 10).await), ["2"]);
}
