//! A dead-letter group nobody reads fills up: the runtime's dead-letter send gives up after
//! `dead_letter_timeout_ms` instead of holding its lane, the delivery goes back to its group
//! after a backoff, the failure is counted, and once the group has room again every dead
//! letter arrives and nothing is lost.

use std::{sync::Arc, time::Duration};

use courier_core::{
    Broker, Delivery, HandlerError, Message, Runtime, RuntimeSettings, Subscription,
};
use courier_memory::{MemoryBroker, MemoryConfig, Overflow};

const DEAD: usize = 4;

#[tokio::test]
async fn a_full_dead_letter_group_times_out_requeues_counts_and_loses_nothing() {
    // Every group holds at most 2 messages, and senders wait for room.
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new(MemoryConfig {
        capacity: 2,
        overflow: Overflow::Block,
    }));
    // The dead-letter group exists but nobody reads it yet.
    let mut dlq = broker
        .subscribe(Subscription::new("orders.dlq", "ops").with_prefetch(DEAD))
        .await
        .expect("dlq group");
    let settings = RuntimeSettings {
        max_attempts: 1,
        backoff_initial_ms: 20,
        backoff_max_ms: 50,
        dead_letter_timeout_ms: 200,
        ..RuntimeSettings::default()
    };
    let mut runtime = Runtime::new(broker.clone(), settings);
    runtime.handle_fn("orders", "svc", |_m: Message, _cx| async {
        Err::<(), _>(HandlerError::permanent("refused"))
    });
    let metrics = runtime.metrics().clone();
    let running = runtime.start().await.expect("start");

    let producer = broker.producer().await.expect("producer");
    let sent: Vec<Message> = (0..DEAD)
        .map(|i| Message::new("bad").with_id(format!("bad-{i}")))
        .collect();
    for message in sent.clone() {
        // Sent one at a time: the topic's own group holds at most 2 too.
        tokio::time::timeout(Duration::from_secs(10), producer.send("orders", message))
            .await
            .expect("a send within 10 s")
            .expect("send");
    }

    // Two dead letters fill the group; the next send must time out, not hang.
    tokio::time::timeout(Duration::from_secs(10), async {
        while metrics.counts("orders", "svc").dead_letter_failed == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a dead-letter send into the full group failed within 10 s");
    let counts = metrics.counts("orders", "svc");
    assert!(counts.dead_lettered <= 2, "no more than fit: {counts:?}");

    // Reading the dead-letter group makes room; every dead letter arrives once.
    let mut ids = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while ids.len() < DEAD {
            let mut got = dlq.recv_batch(DEAD).await.expect("recv");
            ids.extend(got.iter().map(|d| d.message.id.to_string()));
            Delivery::ack_all(&mut got).await.expect("ack");
        }
    })
    .await
    .unwrap_or_else(|_| panic!("all dead letters within 20 s; got {ids:?}"));
    ids.sort();
    let mut expected: Vec<String> = sent.iter().map(|m| m.id.to_string()).collect();
    expected.sort();
    assert_eq!(ids, expected, "each dead letter exactly once");
    let counts = metrics.counts("orders", "svc");
    assert_eq!(counts.dead_lettered, DEAD as u64, "{counts:?}");
    assert!(counts.dead_letter_failed >= 1, "{counts:?}");
    running.shutdown().await.expect("shutdown");
}
