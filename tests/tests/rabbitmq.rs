//! The conformance suite on RabbitMQ (classic and quorum queues), and the backend's own
//! behaviour against the real broker at 127.0.0.1:5672.
//!
//! Every case is a test of its own: `cargo test -p courier-tests --test rabbitmq -- --list`.
//! Without the broker the trials are ignored with a notice, or fail in CI.
//! `RUST_LOG=warn` shows the backend's logs (off otherwise: nothing captures the output).

mod rabbitmq_common;

use std::{collections::BTreeMap, process::ExitCode, sync::Arc, time::Duration};

use courier_core::{Broker, Consumer, Delivery, ErrorKind, Message, Secret, Subscription};
use courier_rabbitmq::{QueueType, RabbitMqBroker, RabbitMqConfig};
use courier_tests::{
    conformance::{Configuration, Fixture, Trials},
    support::unique_name,
};
use rabbitmq_common::{ADDRESS, Vhost, broker_present};

/// RabbitMQ cannot keep per-key order once a group has several consumers.
const SKIPPED_ON_RABBITMQ: &[&str] = &["per_key_order_across_consumers"];

fn main() -> ExitCode {
    // Before `broker_present` sets its own (at `warn`, for captured output).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let classic = Configuration::new("suite_on_rabbitmq", || on_own_vhost(QueueType::Classic))
        .expect_skipped(SKIPPED_ON_RABBITMQ);
    let quorum = Configuration::new("suite_on_rabbitmq_quorum_queues", || {
        on_own_vhost(QueueType::Quorum)
    })
    .expect_skipped(SKIPPED_ON_RABBITMQ);

    let mut trials = Trials::new();
    courier_tests::async_tests!(&mut trials, unreachable_broker_and_bad_config_fail_fast);
    trials
        .needs_broker(broker_present)
        .suite(&classic)
        .suite(&quorum);
    courier_tests::async_tests!(
        &mut trials,
        wrong_password_is_a_connection_error_that_hides_it,
        topic_without_groups_drops_unless_mandatory,
        configured_groups_keep_messages_sent_before_any_consumer,
        attempts_count_disconnects_and_requeues,
        bad_names_and_sizes_are_errors_not_panics,
        closed_broker_refuses_work,
        a_consumer_buffers_no_more_bytes_than_its_budget,
    );
    trials.run()
}

/// A broker with `queue_type` on a virtual host of its own, deleted after the run.
async fn on_own_vhost(queue_type: QueueType) -> Fixture {
    // Fails the trial with the reason when the broker is absent (only reached in CI: elsewhere
    // the trials are ignored then).
    assert!(broker_present(), "RabbitMQ is absent");
    let vhost = Vhost::create();
    let mut config = vhost.config();
    config.queue_type = queue_type;
    let broker = vhost.connect(config).await;
    Fixture::new(Arc::new(broker)).keeping(vhost)
}

fn refused(subscribed: courier_core::Result<Box<dyn Consumer>>) -> courier_core::Error {
    match subscribed {
        Ok(_) => panic!("the subscription should have been refused"),
        Err(e) => e,
    }
}

async fn recv(consumer: &mut Box<dyn Consumer>, what: &str) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(10), consumer.recv()).await {
        Ok(Ok(Some(d))) => d,
        other => panic!("{what}: no delivery: {other:?}"),
    }
}

async fn wrong_password_is_a_connection_error_that_hides_it() {
    if !broker_present() {
        return;
    }
    let config = RabbitMqConfig {
        url: format!("amqp://guest:not-the-password@{ADDRESS}/%2f"),
        ..RabbitMqConfig::default()
    };
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("not-the-password"),
        "Debug shows the password: {shown}"
    );
    let err = RabbitMqBroker::connect(config).await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("not-the-password"),
        "the error shows the password: {text}"
    );
    assert!(
        text.contains("guest:***@"),
        "the error names the redacted URL: {text}"
    );

    let config = RabbitMqConfig {
        url: format!("amqp://guest:guest@{ADDRESS}/%2f"),
        password: Some(Secret::new("also-wrong")),
        ..RabbitMqConfig::default()
    };
    let err = RabbitMqBroker::connect(config)
        .await
        .expect_err("password overrides the URL");
    assert!(!format!("{err:?}").contains("also-wrong"));
}

async fn unreachable_broker_and_bad_config_fail_fast() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let config = RabbitMqConfig {
        url: format!("amqp://guest:guest@127.0.0.1:{closed_port}/%2f"),
        ..RabbitMqConfig::default()
    };
    let started = std::time::Instant::now();
    let err = RabbitMqBroker::connect(config)
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(5));

    for (url, key) in [
        ("http://guest:guest@127.0.0.1/", "url"),
        ("amqp//nohost", "url"),
    ] {
        let config = RabbitMqConfig {
            url: url.into(),
            ..RabbitMqConfig::default()
        };
        let err = RabbitMqBroker::connect(config).await.expect_err(url);
        assert_eq!(err.kind(), ErrorKind::Config, "{url}: {err}");
        assert!(err.message().contains(key), "{url}: {err}");
    }
    let config = RabbitMqConfig {
        confirm_window: 0,
        ..RabbitMqConfig::default()
    };
    let err = RabbitMqBroker::connect(config)
        .await
        .expect_err("zero window");
    assert!(err.message().contains("confirm_window"), "{err}");
}

async fn topic_without_groups_drops_unless_mandatory() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let broker = vhost.connect(vhost.config()).await;
    let producer = broker.producer().await.expect("producer");
    producer
        .send(&unique_name("nobody"), Message::new("dropped"))
        .await
        .expect("RabbitMQ drops what no queue takes; the send itself succeeds");

    let mut config = vhost.config();
    config.mandatory = true;
    let strict = vhost.connect(config).await;
    let producer = strict.producer().await.expect("producer");
    let err = producer
        .send(&unique_name("nobody"), Message::new("returned"))
        .await
        .expect_err("mandatory: a message no queue takes fails its send");
    assert_eq!(err.kind(), ErrorKind::Send, "{err}");
    let topic = unique_name("somebody");
    strict.declare_group(&topic, "g").await.expect("declare");
    producer
        .send(&topic, Message::new("routed"))
        .await
        .expect("mandatory send to a topic with a group");
    broker.close().await.ok();
    strict.close().await.ok();
}

async fn configured_groups_keep_messages_sent_before_any_consumer() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let topic = unique_name("early");
    let mut config = vhost.config();
    config.groups = BTreeMap::from([(topic.clone(), vec!["late".to_owned()])]);
    let broker = vhost.connect(config).await;
    let producer = broker.producer().await.expect("producer");
    let sent: Vec<Message> = (0..20).map(|i| Message::new(format!("m{i}"))).collect();
    producer
        .send_batch(&topic, sent.clone())
        .await
        .expect("send");
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "late"))
        .await
        .expect("subscribe");
    for m in &sent {
        let mut d = recv(&mut consumer, "a message sent before the consumer").await;
        assert_eq!(d.message.id, m.id, "in order");
        d.ack().await.expect("ack");
    }
    consumer.close().await.expect("close");
    broker.close().await.ok();
}

async fn attempts_count_disconnects_and_requeues() {
    if !broker_present() {
        return;
    }
    for queue_type in [QueueType::Classic, QueueType::Quorum] {
        attempts_on(queue_type).await;
    }
}

async fn attempts_on(queue_type: QueueType) {
    let vhost = Vhost::create();
    let mut config = vhost.config();
    config.queue_type = queue_type;
    let broker = vhost.connect(config).await;
    let topic = unique_name("attempts");
    let subscription = Subscription::new(&topic, "g").with_prefetch(1);
    let mut consumer = broker
        .subscribe(subscription.clone())
        .await
        .expect("subscribe");
    let producer = broker.producer().await.expect("producer");
    producer
        .send(
            &topic,
            Message::new("x").with_key("k").with_header("h", "v"),
        )
        .await
        .expect("send");
    let first = recv(&mut consumer, "first delivery").await;
    assert_eq!(
        (first.attempt, first.redelivered),
        (1, false),
        "{queue_type}"
    );
    drop(first);
    drop(consumer);

    let mut consumer = broker
        .subscribe(subscription.clone())
        .await
        .expect("subscribe again");
    let mut second = recv(&mut consumer, "after the consumer died").await;
    assert_eq!(
        (second.attempt, second.redelivered),
        (2, true),
        "{queue_type}"
    );
    second.nack(true).await.expect("requeue");
    let mut third = recv(&mut consumer, "after a requeue").await;
    assert_eq!(
        (third.attempt, third.redelivered),
        (3, true),
        "{queue_type}"
    );
    assert_eq!(third.message.key.as_deref(), Some("k"));
    assert_eq!(
        third.message.headers,
        BTreeMap::from([("h".to_owned(), "v".to_owned())])
    );
    third.nack(true).await.expect("requeue again");
    let mut fourth = recv(&mut consumer, "after a second requeue").await;
    assert_eq!(fourth.attempt, 4, "{queue_type}");
    fourth.nack(false).await.expect("reject");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), consumer.recv())
            .await
            .is_err(),
        "{queue_type}: a rejected message is not delivered again"
    );
    consumer.close().await.expect("close");
    broker.close().await.ok();
}

async fn bad_names_and_sizes_are_errors_not_panics() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let mut config = vhost.config();
    config.max_payload = 1024;
    let broker = vhost.connect(config).await;
    assert_eq!(broker.capabilities().max_payload, Some(1024));
    let producer = broker.producer().await.expect("producer");
    let long = "t".repeat(256);
    for topic in ["", long.as_str(), "amq.direct"] {
        let err = producer
            .send(topic, Message::new("x"))
            .await
            .expect_err("bad topic");
        assert_eq!(err.kind(), ErrorKind::Config, "{topic:?}: {err}");
        let err = refused(broker.subscribe(Subscription::new(topic, "g")).await);
        assert_eq!(err.kind(), ErrorKind::Config, "{topic:?}: {err}");
    }
    let topic = unique_name("sizes");
    let err = producer
        .send(&topic, Message::new(vec![0u8; 1025]))
        .await
        .expect_err("over max_payload");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    let err = producer
        .send(&topic, Message::new("x").with_header("h".repeat(300), "v"))
        .await
        .expect_err("header name over 255 bytes");
    assert_eq!(err.kind(), ErrorKind::Encode, "{err}");
    producer
        .send(&topic, Message::new(vec![0u8; 1024]))
        .await
        .expect("the producer still works");
    broker.close().await.ok();
}

async fn closed_broker_refuses_work() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let broker = vhost.connect(vhost.config()).await;
    let producer = broker.producer().await.expect("producer");
    let topic = unique_name("closing");
    broker.declare_group(&topic, "g").await.expect("declare");
    producer
        .send(&topic, Message::new("before"))
        .await
        .expect("send");
    broker.close().await.expect("close");
    let err = producer
        .send(&topic, Message::new("after"))
        .await
        .expect_err("closed connection");
    assert!(
        matches!(err.kind(), ErrorKind::Closed | ErrorKind::Timeout),
        "{err}"
    );
    let err = refused(broker.subscribe(Subscription::new(&topic, "g")).await);
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
}

/// A consumer buffers at most `max_buffered_bytes` of deliveries ahead of `recv` (one larger
/// delivery passes alone), however large the prefetch, and still delivers everything.
async fn a_consumer_buffers_no_more_bytes_than_its_budget() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let budget = 64 * 1024;
    let broker = vhost
        .connect(RabbitMqConfig {
            max_buffered_bytes: budget,
            ..vhost.config()
        })
        .await;
    let topic = unique_name("budget");
    broker.declare_group(&topic, "g").await.expect("declares");
    let producer = broker.producer().await.expect("a producer");
    let messages: Vec<Message> = (0..50)
        .map(|i| Message::new(vec![u8::try_from(i).unwrap_or(0); 16 * 1024]))
        .collect();
    producer.send_batch(&topic, messages).await.expect("sends");
    let mut consumer = broker
        .consumer(Subscription::new(&topic, "g").with_prefetch(200))
        .await
        .expect("subscribes");
    // RabbitMQ sends all 50 (prefetch 200); the consumer takes no more than its budget.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let buffered = consumer.buffered_bytes();
    assert!(buffered > 0, "nothing buffered after 500 ms");
    assert!(
        buffered <= budget,
        "{buffered} bytes buffered with a budget of {budget}"
    );
    let mut received = 0;
    while received < 50 {
        let batch = tokio::time::timeout(Duration::from_secs(10), consumer.recv_batch(64))
            .await
            .expect("deliveries keep coming")
            .expect("receives");
        for mut delivery in batch {
            delivery.ack().await.expect("acks");
            received += 1;
        }
    }
    assert_eq!(consumer.buffered_bytes(), 0);
    consumer.close().await.expect("closes");
    producer.close().await.expect("closes");
    broker.close().await.expect("closes");
}
