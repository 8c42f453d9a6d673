//! Temporary groups on the memory backend: removed when their consumer closes (or is
//! dropped), so they keep nothing afterwards; a temporary subscription to a group that
//! exists leaves that group alone.

use courier_core::{Broker, Message, Subscription};
use courier_memory::MemoryBroker;

#[tokio::test]
async fn a_temporary_group_goes_with_its_consumer() {
    let broker = MemoryBroker::default();
    broker.declare_group("t", "kept").await.unwrap();
    let producer = broker.producer().await.unwrap();
    let mut tail = broker
        .subscribe(Subscription::new("t", "tail").with_temporary())
        .await
        .unwrap();
    producer
        .send("t", Message::new("a").with_id("a"))
        .await
        .unwrap();
    producer
        .send("t", Message::new("b").with_id("b"))
        .await
        .unwrap();
    let mut first = tail.recv().await.unwrap().unwrap();
    assert_eq!(first.message.id, "a");
    first.ack().await.unwrap();
    assert_eq!(broker.group_stats("t", "tail").unwrap().consumers, 1);

    // "b" is still held when the consumer closes: it goes with the group.
    tail.close().await.unwrap();
    assert!(broker.group_stats("t", "tail").is_none());
    producer
        .send("t", Message::new("c").with_id("c"))
        .await
        .unwrap();
    assert_eq!(broker.group_stats("t", "kept").unwrap().ready, 3);

    // Subscribed again under the same name, it starts empty.
    let mut again = broker
        .subscribe(Subscription::new("t", "tail").with_temporary())
        .await
        .unwrap();
    producer
        .send("t", Message::new("d").with_id("d"))
        .await
        .unwrap();
    assert_eq!(again.recv().await.unwrap().unwrap().message.id, "d");
    drop(again);
    assert!(
        broker.group_stats("t", "tail").is_none(),
        "dropping removes it too"
    );
}

#[tokio::test]
async fn a_temporary_subscription_to_an_existing_group_leaves_it() {
    let broker = MemoryBroker::default();
    broker.declare_group("t", "svc").await.unwrap();
    let mut consumer = broker
        .subscribe(Subscription::new("t", "svc").with_temporary())
        .await
        .unwrap();
    consumer.close().await.unwrap();
    let producer = broker.producer().await.unwrap();
    producer.send("t", Message::new("x")).await.unwrap();
    assert_eq!(broker.group_stats("t", "svc").unwrap().ready, 1);
}
