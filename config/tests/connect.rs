//! `connect` opens the configured backend; `check_needs` compares what a service needs with
//! what the backend guarantees.

#![cfg(feature = "memory")]

mod common;

use std::time::Duration;

use common::config_of;
use courier_config::{check_needs, connect};
use courier_core::{Capability, Message, Subscription};

#[tokio::test]
async fn connect_opens_the_memory_backend_and_it_carries_messages() {
    let config = config_of("[broker]\nkind = \"memory\"\n[broker.memory]\ncapacity = 8\n");
    let broker = connect(&config).await.expect("memory connects");
    assert_eq!(broker.name(), "memory");

    let topic = &config.topics.order_placed;
    broker
        .declare_group(topic, "inventory")
        .await
        .expect("declare");
    let producer = broker.producer().await.expect("producer");
    producer
        .send_batch(topic, vec![Message::new("one"), Message::new("two")])
        .await
        .expect("sent");
    let mut consumer = broker
        .subscribe(Subscription::new(topic.clone(), "inventory"))
        .await
        .expect("subscribed");
    let mut payloads = Vec::new();
    while payloads.len() < 2 {
        let batch = tokio::time::timeout(Duration::from_secs(5), consumer.recv_batch(8))
            .await
            .expect("delivered in time")
            .expect("received");
        for mut delivery in batch {
            payloads.push(delivery.message.payload.clone());
            delivery.ack().await.expect("acked");
        }
    }
    assert_eq!(payloads, [&b"one"[..], &b"two"[..]]);
    broker.close().await.expect("closed");
}

#[tokio::test]
async fn the_memory_capacity_from_the_config_reaches_the_backend() {
    let config = config_of(
        "[broker]\nkind = \"memory\"\n[broker.memory]\ncapacity = 1\noverflow = \"fail\"\n",
    );
    let broker = connect(&config).await.expect("memory connects");
    broker.declare_group("t", "g").await.expect("declare");
    let producer = broker.producer().await.expect("producer");
    producer
        .send("t", Message::new("first"))
        .await
        .expect("room for one");
    let error = producer
        .send("t", Message::new("second"))
        .await
        .expect_err("capacity 1 with overflow = fail refuses the second");
    assert_eq!(error.kind(), courier_core::ErrorKind::Full);
}

#[tokio::test]
async fn check_needs_warns_or_refuses_by_strictness() {
    let relaxed = config_of("[broker]\nkind = \"memory\"\nstrict = false\n");
    let broker = connect(&relaxed).await.expect("memory connects");
    let caps = broker.capabilities();
    assert!(
        !caps.has(Capability::Persistence),
        "memory keeps nothing across restarts"
    );
    assert!(caps.has(Capability::AtLeastOnce));

    let needs = [Capability::AtLeastOnce, Capability::Persistence];
    let warnings = check_needs(&relaxed, caps, "payment", &needs).expect("not strict: warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    for piece in ["\"payment\"", "\"memory\"", "persistence"] {
        assert!(warnings[0].contains(piece), "{warnings:?} lacks {piece}");
    }
    assert!(
        check_needs(&relaxed, caps, "payment", &[Capability::AtLeastOnce])
            .expect("met")
            .is_empty()
    );

    let strict = config_of("[broker]\nkind = \"memory\"\nstrict = true\n");
    let needs = [Capability::Persistence];
    let error = check_needs(&strict, caps, "inventory", &needs).expect_err("strict refuses");
    assert_eq!(error.exit_code(), 2);
    assert_eq!(error.key(), Some("broker.strict"));
    let line = error.to_string();
    for piece in ["\"inventory\"", "\"memory\"", "persistence", "strict"] {
        assert!(line.contains(piece), "{line} lacks {piece}");
    }
    assert!(check_needs(&strict, caps, "inventory", &[Capability::FanOut]).is_ok());
}

/// A name no other run uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Connects the backend `toml` selects and carries one message through it; skips (or fails
/// under CI) when the broker does not answer.
#[allow(dead_code)]
async fn round_trip(toml: &str, backend: &str) {
    let config = config_of(toml);
    let broker = match connect(&config).await {
        Ok(broker) => broker,
        Err(error) if error.kind() == courier_core::ErrorKind::Connection => {
            common::broker_absent(backend, &error.to_string());
            return;
        }
        Err(error) => panic!("{backend}: unexpected error: {error}"),
    };
    assert_eq!(broker.name(), backend);
    let topic = unique("courier-config-test");
    broker.declare_group(&topic, "g").await.expect("declare");
    let producer = broker.producer().await.expect("producer");
    producer
        .send(&topic, Message::new("through the config").with_key("k"))
        .await
        .expect("sent");
    let mut consumer = broker
        .subscribe(Subscription::new(topic.clone(), "g"))
        .await
        .expect("subscribed");
    let mut delivery = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("delivered in time")
        .expect("received")
        .expect("a delivery");
    assert_eq!(&delivery.message.payload[..], b"through the config");
    delivery.ack().await.expect("acked");
    consumer.close().await.expect("consumer closed");
    producer.close().await.expect("producer closed");
    broker.close().await.expect("broker closed");
}

#[cfg(feature = "rabbitmq")]
#[tokio::test]
async fn connect_opens_rabbitmq_from_the_config() {
    round_trip(
        "[broker]\nkind = \"rabbitmq\"\n[broker.rabbitmq]\n\
         url = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\nqueue_expires_ms = 60000\n\
         connect_timeout_ms = 3000\n",
        "rabbitmq",
    )
    .await;
}

#[cfg(feature = "kafka")]
#[tokio::test]
async fn connect_opens_kafka_from_the_config() {
    round_trip(
        "[broker]\nkind = \"kafka\"\n[broker.kafka]\nbrokers = \"127.0.0.1:9092\"\n\
         partitions = 1\n",
        "kafka",
    )
    .await;
}

#[cfg(feature = "zeromq")]
#[tokio::test]
async fn connect_opens_zeromq_from_the_config() {
    round_trip(
        "[broker]\nkind = \"zeromq\"\n[broker.zeromq]\nendpoint = \"tcp://127.0.0.1:0\"\n\
         linger_ms = 100\n",
        "zeromq",
    )
    .await;
}

#[cfg(not(feature = "kafka"))]
#[tokio::test]
async fn connect_refuses_a_backend_compiled_out() {
    let mut config = courier_config::Config::default();
    config.broker.kind = courier_config::BrokerKind::Kafka;
    let error = connect(&config).await.err().expect("kafka is compiled out");
    assert_eq!(error.kind(), courier_core::ErrorKind::Config);
    assert!(error.to_string().contains("feature \"kafka\""), "{error}");
}

/// The password comes from `password_file`, not from the URL (whose password is wrong): the
/// connection to the real broker succeeds only if the file is read.
#[cfg(feature = "rabbitmq")]
#[tokio::test]
async fn a_rabbitmq_password_file_replaces_the_url_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rabbitmq-password");
    std::fs::write(&file, "guest\n").expect("written");
    let config = config_of(&format!(
        "[broker]\nkind = \"rabbitmq\"\n[broker.rabbitmq]\n\
         url = \"amqp://guest:not-the-password@127.0.0.1:5672/%2f\"\n\
         password_file = {:?}\nconnect_timeout_ms = 3000\n",
        file.display().to_string()
    ));
    assert!(!format!("{config:?}").contains("not-the-password"));
    match connect(&config).await {
        Ok(broker) => {
            broker.close().await.expect("closed");
            let mut without_file = config.clone();
            without_file.broker.rabbitmq.password_file = None;
            let error = connect(&without_file)
                .await
                .err()
                .expect("the URL's password is wrong");
            assert!(!error.to_string().contains("not-the-password"), "{error}");
        }
        Err(error) if error.kind() == courier_core::ErrorKind::Connection => {
            assert!(!error.to_string().contains("not-the-password"), "{error}");
            common::broker_absent("rabbitmq", &error.to_string());
        }
        Err(error) => panic!("unexpected error: {error}"),
    }
}
