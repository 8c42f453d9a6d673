//! A second consumer joins a group mid-stream and later leaves (closed, then another dropped
//! without closing): nothing sent is lost, both consumers take part, and the survivor ends
//! with every partition.

mod kafka_support;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use courier_core::{Broker, Message, Subscription};
use courier_kafka::KafkaConfig;
use courier_tests::support::unique_name;
use kafka_support::{Collector, brokers, config, connect_or_skip, wait_for_all};

const MESSAGES: usize = 6_000;
const BATCH: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_joining_and_leaving_mid_stream_lose_nothing() {
    kafka_support::init_logs();
    let Some(broker) = connect_or_skip(KafkaConfig {
        partitions: 4,
        session_timeout_ms: 6_000,
        ..config(&brokers())
    })
    .await
    else {
        return;
    };
    let broker = Arc::new(broker);
    let topic = unique_name("kafka.rebalance");
    let group = unique_name("g");
    let subscription = Subscription::new(&topic, &group).with_prefetch(64);
    let steady_seen = Arc::new(Mutex::new(HashMap::new()));
    let steady = Collector::spawn(
        broker
            .subscribe(subscription.clone())
            .await
            .expect("subscribe"),
        steady_seen.clone(),
    );

    let messages: Vec<Message> = (0..MESSAGES)
        .map(|i| Message::new(format!("payload {i}")).with_key(format!("order-{}", i % 97)))
        .collect();
    let ids: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
    let producer = broker.producer().await.expect("producer");
    let sent = Arc::new(AtomicUsize::new(0));
    let sending = {
        let (topic, sent) = (topic.clone(), sent.clone());
        tokio::spawn(async move {
            for batch in messages.chunks(BATCH) {
                producer
                    .send_batch(&topic, batch.to_vec())
                    .await
                    .expect("send");
                sent.fetch_add(batch.len(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let sent_share = |sixths: usize| {
        let sent = sent.clone();
        async move {
            while sent.load(Ordering::Relaxed) < MESSAGES * sixths / 6 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    // A second consumer joins, works a while, and closes.
    sent_share(1).await;
    let joiner_seen = Arc::new(Mutex::new(HashMap::new()));
    let joiner = Collector::spawn(
        broker
            .subscribe(subscription.clone())
            .await
            .expect("joiner subscribes"),
        joiner_seen.clone(),
    );
    // It works a while: until it received something and a third of the stream went out.
    let joined = tokio::time::Instant::now();
    while joiner_seen.lock().expect("seen").is_empty() {
        assert!(
            joined.elapsed() < Duration::from_secs(60),
            "the joiner received nothing in a minute"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sent_share(2).await;
    let joiner_received = joiner.finish().await;

    // A third joins and is dropped without closing, holding what it received unacked.
    sent_share(3).await;
    let mut dropped = broker
        .subscribe(subscription.clone())
        .await
        .expect("third subscribes");
    let held = tokio::time::timeout(Duration::from_secs(30), dropped.recv_batch(64))
        .await
        .expect("the third consumer got partitions and messages")
        .expect("recv");
    let held_ids: Vec<String> = held.iter().map(|d| d.message.id.to_string()).collect();
    drop(held);
    drop(dropped);

    tokio::time::timeout(Duration::from_secs(120), sending)
        .await
        .expect("sending finished in time")
        .expect("sender");
    // The survivor and the joiner together saw everything; what the dropped consumer held
    // came back to the survivor.
    let all = Arc::new(Mutex::new(HashMap::new()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let missing = loop {
        {
            let mut all = all.lock().expect("all");
            all.clear();
            for seen in [&steady_seen, &joiner_seen] {
                for (id, n) in seen.lock().expect("seen").iter() {
                    *all.entry(id.clone()).or_insert(0) += n;
                }
            }
        }
        let missing = wait_for_all(&all, &ids, Duration::ZERO).await;
        if missing == 0 || tokio::time::Instant::now() >= deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let steady_received = steady.finish().await;
    assert_eq!(missing, 0, "{missing} of {MESSAGES} messages were lost");
    assert!(joiner_received > 0, "the joiner never received anything");
    let back = wait_for_all(&steady_seen, &held_ids, Duration::ZERO).await;
    assert_eq!(
        back, 0,
        "{back} messages held by the dropped consumer never reached the survivor"
    );
    let duplicates: usize = all
        .lock()
        .expect("all")
        .values()
        .map(|n| n.saturating_sub(1))
        .sum();
    println!(
        "steady {steady_received}, joiner {joiner_received}, dropped held {}, duplicates {duplicates}",
        held_ids.len()
    );
    broker.close().await.expect("close");
}
