//! tansu killed (SIGKILL) and restarted on the same sqlite file while 10,000 messages are
//! being sent and consumed: every message is received at least once.
//!
//! It runs its own tansu on `COURIER_KAFKA_RESTART_PORT` (default 19092) with its own data
//! directory, through `scripts/kafka.sh`, so the shared broker is not disturbed.

mod kafka_support;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use courier_core::{Broker, Message, Subscription};
use courier_kafka::KafkaConfig;
use courier_tests::support::unique_name;
use kafka_support::{Collector, config, wait_for_all};

const MESSAGES: usize = 10_000;
const BATCH: usize = 250;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_survive_a_broker_kill_and_restart() {
    kafka_support::init_logs();
    let Some((tansu, brokers)) =
        kafka_support::own_tansu("restart", "COURIER_KAFKA_RESTART_PORT", "19092")
    else {
        return;
    };
    let broker = Arc::new(
        courier_kafka::KafkaBroker::connect(KafkaConfig {
            // Sends wait out the restart instead of failing.
            send_timeout_ms: 120_000,
            session_timeout_ms: 6_000,
            ..config(&brokers)
        })
        .await
        .expect("connect"),
    );
    let topic = unique_name("kafka.restart");
    let group = unique_name("g");
    broker.declare_group(&topic, &group).await.expect("declare");
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let collector = Collector::spawn(
        broker
            .subscribe(Subscription::new(&topic, &group))
            .await
            .expect("subscribe"),
        seen.clone(),
    );

    let messages: Vec<Message> = (0..MESSAGES)
        .map(|i| Message::new(format!("payload {i}")).with_key(format!("k{}", i % 64)))
        .collect();
    let ids: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
    let producer = broker.producer().await.expect("producer");
    let sending = {
        let topic = topic.clone();
        tokio::spawn(async move {
            let mut retried = 0;
            for batch in messages.chunks(BATCH) {
                // A batch that fails for good is sent again: consumers deduplicate by id.
                while let Err(e) = producer.send_batch(&topic, batch.to_vec()).await {
                    retried += 1;
                    assert!(retried < 20, "sending keeps failing: {e}");
                    eprintln!("send_batch failed ({e}); sending the batch again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            retried
        })
    };

    // Kill the broker once part of the stream went through, then restart it.
    let started = Instant::now();
    while seen.lock().expect("seen").len() < MESSAGES / 4 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "a quarter of the messages did not arrive before the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before_kill = seen.lock().expect("seen").len();
    tansu.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(tansu.start(), "restarting tansu on the same data");
    let restarted = Instant::now();

    let retried = tokio::time::timeout(Duration::from_secs(240), sending)
        .await
        .expect("sending finished in time")
        .expect("sender");
    let missing = wait_for_all(&seen, &ids, Duration::from_secs(180)).await;
    let deliveries = collector.finish().await;
    assert_eq!(
        missing, 0,
        "{missing} of {MESSAGES} messages never arrived after the restart"
    );
    println!(
        "all {MESSAGES} received ({deliveries} deliveries, {} before the kill, {retried} batches sent again) {:.1}s after the restart",
        before_kill,
        restarted.elapsed().as_secs_f64()
    );
    broker.close().await.expect("close");
}
