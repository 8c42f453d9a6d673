//! `/readyz` and the lag gauge against Kafka (tansu): ready once the group has joined;
//! `courier_consumer_lag` counts what the group has not committed, and falls to 0 once it
//! is handled; tansu killed: 503 within a few seconds, naming the broker connection and the
//! subscription; tansu started again on the same data: 200 once librdkafka has reconnected
//! and the group has rejoined.
//!
//! It runs its own tansu on `COURIER_KAFKA_HEALTH_PORT` (default 19093) with its own data
//! directory, through `scripts/kafka.sh`, so the shared broker and the tests using it are
//! not disturbed; it is stopped and its data removed at the end, even when the test fails.
//! Without tansu installed it reports a skip (a failure with `CI=true` or
//! `COURIER_REQUIRE_BROKERS=1`).

mod health_support;
mod kafka_support;

use std::{sync::Arc, time::Duration};

use courier_core::{Broker, Message, RuntimeSettings};
use courier_kafka::KafkaConfig;
use courier_tests::support::unique_name;
use health_support::{Served, assert_ready_body};
use kafka_support::config;

const MESSAGES: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_lag_follow_a_broker_kill_and_restart() {
    kafka_support::init_logs();
    let Some((tansu, brokers)) =
        kafka_support::own_tansu("health", "COURIER_KAFKA_HEALTH_PORT", "19093")
    else {
        return;
    };
    let broker = Arc::new(
        courier_kafka::KafkaBroker::connect(KafkaConfig {
            session_timeout_ms: 6_000,
            ..config(&brokers)
        })
        .await
        .expect("connect"),
    );
    let topic = unique_name("kafka.health");
    let group = "ready";
    let name = format!("{topic}/{group}");
    let (open, gate) = tokio::sync::watch::channel(false);
    let settings = RuntimeSettings {
        prefetch: 64,
        ..RuntimeSettings::default()
    };
    let served = Served::start_gated(
        broker.clone() as Arc<dyn Broker>,
        &topic,
        group,
        settings,
        gate,
    )
    .await;
    let (took, body) = served.wait_for(200, Duration::from_secs(30)).await;
    assert_ready_body(&body, &name);
    println!("ready {:.0} ms after start", took.as_secs_f64() * 1e3);

    // Held by the handler, nothing is committed: the lag is every message sent.
    let producer = broker.producer().await.expect("producer");
    let messages = (0..MESSAGES)
        .map(|i| Message::new(format!("payload {i}")).with_key(format!("k{i}")))
        .collect();
    producer.send_batch(&topic, messages).await.expect("sent");
    let total = |gauges: &[(std::collections::HashMap<String, String>, f64)]| -> f64 {
        gauges
            .iter()
            .filter(|(labels, _)| {
                labels.get("messaging_destination_name") == Some(&topic)
                    && labels.get("messaging_consumer_group_name") == Some(&group.to_owned())
            })
            .map(|(_, v)| v)
            .sum()
    };
    let lag = served
        .wait_for_gauges("courier_consumer_lag", Duration::from_secs(20), |g| {
            total(g) == MESSAGES as f64
        })
        .await;
    assert!(
        lag.iter()
            .all(|(labels, _)| labels.contains_key("messaging_destination_partition_id")),
        "{lag:?}"
    );
    println!("lag while held: {lag:?}");
    open.send_replace(true);
    served
        .wait_for_gauges("courier_consumer_lag", Duration::from_secs(20), |g| {
            !g.is_empty() && total(g) == 0.0
        })
        .await;

    tansu.kill();
    let (took, body) = served.wait_for(503, Duration::from_secs(5)).await;
    println!(
        "not ready {:.0} ms after tansu was killed: {body}",
        took.as_secs_f64() * 1e3
    );
    assert_eq!(body["ready"], false, "{body}");
    assert!(
        body["broker"]
            .as_str()
            .is_some_and(|b| b.starts_with("down: ")),
        "{body}"
    );
    assert_eq!(body["subscriptions"][&name], "reconnecting", "{body}");
    served.assert_live().await;

    assert!(tansu.start(), "starting tansu again on {brokers}");
    let (took, body) = served.wait_for(200, Duration::from_secs(90)).await;
    assert_ready_body(&body, &name);
    println!(
        "ready again {:.0} ms after tansu answered again",
        took.as_secs_f64() * 1e3
    );
    producer.close().await.ok();
    served.stop().await;
    broker.close().await.ok();
    drop(tansu);
}
