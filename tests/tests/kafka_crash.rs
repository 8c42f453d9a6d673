//! A consumer process killed (SIGKILL) while holding unacknowledged messages: once the group
//! notices it is gone, its messages reach the group's other consumer.
//!
//! The consumer that dies is this test binary run again in a child process, in the role
//! named by `COURIER_KAFKA_CRASH_ROLE`: it subscribes, receives without ever acking, says how
//! many it holds on stdout, and waits to be killed.

mod kafka_support;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use courier_core::{Broker, Message, Subscription};
use courier_kafka::KafkaConfig;
use courier_tests::support::unique_name;
use kafka_support::{Collector, brokers, config, connect_or_skip, wait_for_all};

const ROLE: &str = "COURIER_KAFKA_CRASH_ROLE";
const TEST: &str = "a_killed_consumers_messages_reach_the_other_consumer";
const MESSAGES: usize = 200;

fn test_config() -> KafkaConfig {
    KafkaConfig {
        partitions: 4,
        // The group notices a dead member after this long without heartbeats.
        session_timeout_ms: 6_000,
        // tansu 0.6 does not rebalance after dropping a dead member; the survivor rejoins
        // once the dead member's partitions have stalled this long.
        stall_timeout_ms: 12_000,
        ..config(&brokers())
    }
}

/// The child's part: hold everything, ack nothing.
async fn hold_without_acking(topic: &str, group: &str) {
    let broker = courier_kafka::KafkaBroker::connect(test_config())
        .await
        .expect("child connects");
    let mut consumer = broker
        .subscribe(Subscription::new(topic, group).with_prefetch(10 * MESSAGES))
        .await
        .expect("child subscribes");
    let mut held = Vec::new();
    loop {
        let batch = consumer.recv_batch(MESSAGES).await.expect("child receives");
        held.extend(batch);
        println!("HOLDING {}", held.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_consumers_messages_reach_the_other_consumer() {
    kafka_support::init_logs();
    if let Ok(role) = std::env::var(ROLE) {
        let (topic, group) = role.split_once(' ').expect("role: <topic> <group>");
        return hold_without_acking(topic, group).await;
    }
    let Some(broker) = connect_or_skip(test_config()).await else {
        return;
    };
    let topic = unique_name("kafka.crash");
    let group = unique_name("g");
    let sent: Vec<Message> = (0..MESSAGES)
        .map(|i| Message::new(format!("m{i}")).with_key(format!("k{i}")))
        .collect();
    let ids: Vec<String> = sent.iter().map(|m| m.id.to_string()).collect();
    let producer = broker.producer().await.expect("producer");
    producer.send_batch(&topic, sent).await.expect("send");

    // The child joins the group alone and takes every message.
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(ROLE, format!("{topic} {group}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("child starts");
    // Read the child's output to its end, so that it never writes into a closed pipe.
    let stdout = child.stdout.take().expect("child stdout");
    let (holding_tx, holding) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut holding_tx = Some(holding_tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let count = line
                .strip_prefix("HOLDING ")
                .and_then(|n| n.trim().parse().ok());
            if count == Some(MESSAGES) {
                if let Some(tx) = holding_tx.take() {
                    let _ = tx.send(());
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(60), holding)
        .await
        .expect("the child took every message in time")
        .expect("the child ended before holding every message");

    // The survivor joins; then the child dies without a word to the group.
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let survivor = Collector::spawn(
        broker
            .subscribe(Subscription::new(&topic, &group))
            .await
            .expect("survivor subscribes"),
        seen.clone(),
    );
    let killed_at = Instant::now();
    child.kill().expect("SIGKILL the child");
    child.wait().expect("child reaped");

    let missing = wait_for_all(&seen, &ids, Duration::from_secs(90)).await;
    let took = killed_at.elapsed();
    let received = survivor.finish().await;
    assert_eq!(
        missing, 0,
        "{missing} of {MESSAGES} messages held by the killed consumer never reached the survivor"
    );
    println!(
        "survivor received all {MESSAGES} ({received} deliveries) {:.1}s after the kill",
        took.as_secs_f64()
    );
    broker.close().await.expect("close");
}
