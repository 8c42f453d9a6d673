//! What is particular to the Kafka backend, against the broker at `COURIER_KAFKA_BROKERS`:
//! the wire format seen by plain clients, records from plain producers, topic creation,
//! commits of the contiguous acknowledged prefix, the prefetch pause, requeue by
//! re-publishing, and configuration errors.

mod kafka_support;

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use courier_core::{
    Broker, Consumer, Delivery, ErrorKind, Message, MessageId, Subscription, headers,
};
use courier_kafka::{ID_HEADER, KafkaBroker, KafkaConfig};
use courier_tests::support::unique_name;
use kafka_support::{
    brokers, config, connect_default_or_skip, connect_or_skip, partition_count, raw_producer,
    raw_reader,
};
use rdkafka::{
    Message as _,
    message::{Header, Headers as _, OwnedHeaders},
    producer::FutureRecord,
};

const WAIT: Duration = Duration::from_secs(30);

async fn recv(consumer: &mut dyn Consumer) -> Delivery {
    tokio::time::timeout(WAIT, consumer.recv())
        .await
        .expect("a delivery in time")
        .expect("recv")
        .expect("open consumer")
}

async fn silent(consumer: &mut dyn Consumer, window: Duration) -> bool {
    tokio::time::timeout(window, consumer.recv()).await.is_err()
}

/// A broker whose topics have one partition, so order and offsets are easy to reason about.
async fn single_partition() -> Option<KafkaBroker> {
    connect_or_skip(KafkaConfig {
        partitions: 1,
        ..config(&brokers())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_consumer_sees_key_payload_and_headers_with_the_id() {
    kafka_support::init_logs();
    let Some(broker) = connect_default_or_skip().await else {
        return;
    };
    let topic = unique_name("kafka.wire");
    let sent = Message::new(vec![0u8, 1, 2, 255])
        .with_key("order-1001")
        .with_header("content-type", "application/octet-stream");
    let producer = broker.producer().await.expect("producer");
    producer.send(&topic, sent.clone()).await.expect("send");
    let reader = raw_reader(&brokers(), &topic);
    let record = tokio::task::spawn_blocking(move || {
        let record = reader
            .poll(WAIT)
            .expect("a record in time")
            .expect("no error");
        record.detach()
    })
    .await
    .expect("reader");
    assert_eq!(record.payload(), Some(&[0u8, 1, 2, 255][..]));
    assert_eq!(record.key(), Some(&b"order-1001"[..]));
    let headers: Vec<(String, String)> = record
        .headers()
        .expect("headers")
        .iter()
        .map(|h| {
            (
                h.key.to_owned(),
                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
            )
        })
        .collect();
    assert!(
        headers.contains(&(ID_HEADER.to_owned(), sent.id.to_string())),
        "{headers:?}"
    );
    assert!(
        headers.contains(&(
            "content-type".to_owned(),
            "application/octet-stream".to_owned()
        )),
        "{headers:?}"
    );
    assert!(
        !headers.iter().any(|(name, _)| name == headers::ATTEMPT),
        "a first send carries no attempt header: {headers:?}"
    );
    broker.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_from_a_plain_producer_are_accepted_with_stable_ids() {
    kafka_support::init_logs();
    let Some(broker) = single_partition().await else {
        return;
    };
    let topic = unique_name("kafka.plain");
    broker
        .declare_group(&topic, "readers")
        .await
        .expect("declare");
    let raw = raw_producer(&brokers());
    let odd_headers = OwnedHeaders::new()
        .insert(Header {
            key: headers::ATTEMPT,
            value: Some("not a number"),
        })
        .insert(Header::<&str> {
            key: "empty",
            value: None,
        });
    let records = [
        FutureRecord::<str, [u8]>::to(&topic).payload(&b"{\"order_id\":\"1001\"}"[..]),
        FutureRecord::<str, [u8]>::to(&topic)
            .payload(&[0xffu8, 0xfe][..])
            .key("k\u{e9}"),
        FutureRecord::<str, [u8]>::to(&topic)
            .payload(&b""[..])
            .headers(odd_headers),
    ];
    for record in records {
        raw.send(record, WAIT).await.expect("raw send");
    }
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "readers"))
        .await
        .expect("subscribe");
    let mut got = Vec::new();
    for _ in 0..3 {
        let mut d = recv(consumer.as_mut()).await;
        d.ack().await.expect("ack");
        got.push(d);
    }
    let ids: Vec<String> = got.iter().map(|d| d.message.id.to_string()).collect();
    assert_eq!(
        ids,
        (0..3).map(|o| format!("{topic}-0-{o}")).collect::<Vec<_>>()
    );
    assert!(got.iter().all(|d| d.attempt == 1 && !d.redelivered));
    assert_eq!(&got[0].message.payload[..], b"{\"order_id\":\"1001\"}");
    assert_eq!(&got[1].message.payload[..], &[0xffu8, 0xfe]);
    assert_eq!(got[1].message.key.as_deref(), Some("k\u{e9}"));
    assert!(got[2].message.payload.is_empty());
    assert_eq!(got[2].message.header("empty"), Some(""));
    consumer.close().await.expect("close");
    broker.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_with_the_configured_partitions() {
    kafka_support::init_logs();
    let Some(broker) = connect_or_skip(KafkaConfig {
        partitions: 3,
        ..config(&brokers())
    })
    .await
    else {
        return;
    };
    let declared = unique_name("kafka.declared");
    broker.declare_group(&declared, "g").await.expect("declare");
    let sent_to = headers::dlq_topic(&unique_name("kafka.sent"));
    let producer = broker.producer().await.expect("producer");
    producer
        .send(&sent_to, Message::new("x"))
        .await
        .expect("send creates the topic");
    let (b1, b2) = (brokers(), brokers());
    let (d, s) = (declared.clone(), sent_to.clone());
    let counts =
        tokio::task::spawn_blocking(move || (partition_count(&b1, &d), partition_count(&b2, &s)))
            .await
            .expect("metadata");
    assert_eq!(counts, (3, 3));
    let bad = producer
        .send("not a topic!", Message::new("x"))
        .await
        .expect_err("invalid name");
    assert_eq!(bad.kind(), ErrorKind::Config);
    broker.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_acks_commit_only_the_contiguous_prefix() {
    kafka_support::init_logs();
    let Some(broker) = single_partition().await else {
        return;
    };
    let topic = unique_name("kafka.prefix");
    let group = unique_name("g");
    let sent: Vec<Message> = (0..10).map(|i| Message::new(format!("m{i}"))).collect();
    let producer = broker.producer().await.expect("producer");
    producer
        .send_batch(&topic, sent.clone())
        .await
        .expect("send");
    let mut first = broker
        .subscribe(Subscription::new(&topic, &group))
        .await
        .expect("subscribe");
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(recv(first.as_mut()).await);
    }
    let order: Vec<&MessageId> = held.iter().map(|d| &d.message.id).collect();
    let expected: Vec<&MessageId> = sent.iter().map(|m| &m.id).collect();
    assert_eq!(order, expected, "one partition keeps the send order");
    // Ack everything but #3, newest first: the commit may not pass #3.
    for (i, d) in held.iter_mut().enumerate().rev() {
        if i != 3 {
            d.ack().await.expect("ack");
        }
    }
    // Let a periodic commit happen, then leave.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.close().await.expect("close");
    let mut second = broker
        .subscribe(Subscription::new(&topic, &group))
        .await
        .expect("subscribe again");
    let mut again = Vec::new();
    for _ in 3..10 {
        let mut d = recv(second.as_mut()).await;
        d.ack().await.expect("ack");
        again.push(d.message.id);
    }
    assert_eq!(
        again,
        sent[3..]
            .iter()
            .map(|m| m.id.to_string())
            .collect::<Vec<_>>(),
        "the group resumes at the first unacknowledged message"
    );
    assert!(
        silent(second.as_mut(), Duration::from_secs(1)).await,
        "nothing before #3 comes back"
    );
    second.close().await.expect("close");
    broker.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_consumer_holds_no_more_than_prefetch_and_still_lets_others_join() {
    kafka_support::init_logs();
    let Some(broker) = connect_default_or_skip().await else {
        return;
    };
    let topic = unique_name("kafka.prefetch");
    let group = unique_name("g");
    let sent: Vec<Message> = (0..40)
        .map(|i| Message::new(format!("m{i}")).with_key(format!("k{i}")))
        .collect();
    let producer = broker.producer().await.expect("producer");
    let mut first = broker
        .subscribe(Subscription::new(&topic, &group).with_prefetch(2))
        .await
        .expect("subscribe");
    producer
        .send_batch(&topic, sent.clone())
        .await
        .expect("send");
    let mut held = vec![recv(first.as_mut()).await, recv(first.as_mut()).await];
    assert!(
        silent(first.as_mut(), Duration::from_secs(1)).await,
        "a third unacked delivery with prefetch 2"
    );
    let mut seen: HashSet<String> = HashSet::new();
    let mut d = held.remove(0);
    seen.insert(d.message.id.to_string());
    d.ack().await.expect("ack");
    held.push(recv(first.as_mut()).await);
    assert!(
        silent(first.as_mut(), Duration::from_millis(700)).await,
        "more than the prefetch after one ack"
    );
    // The first consumer is full and has paused fetching; it still serves the rebalance.
    let joined = Instant::now();
    let mut second = broker
        .subscribe(Subscription::new(&topic, &group).with_prefetch(2))
        .await
        .expect("a second consumer joins while the first is full");
    println!("joined in {:?}", joined.elapsed());
    for mut d in held.drain(..) {
        seen.insert(d.message.id.to_string());
        d.ack().await.expect("ack");
    }
    let started = Instant::now();
    while seen.len() < sent.len() {
        assert!(
            started.elapsed() < WAIT,
            "only {} of {} arrived",
            seen.len(),
            sent.len()
        );
        for consumer in [&mut first, &mut second] {
            if let Ok(batch) =
                tokio::time::timeout(Duration::from_millis(200), consumer.recv_batch(100)).await
            {
                let batch = batch.expect("recv");
                assert!(batch.len() <= 2, "a batch of {} > prefetch 2", batch.len());
                for mut d in batch {
                    seen.insert(d.message.id.to_string());
                    d.ack().await.expect("ack");
                }
            }
        }
    }
    let expected: HashSet<String> = sent.iter().map(|m| m.id.to_string()).collect();
    assert_eq!(seen, expected);
    first.close().await.expect("close");
    second.close().await.expect("close");
    broker.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nack_requeue_republishes_behind_later_messages_of_the_key() {
    kafka_support::init_logs();
    let Some(broker) = single_partition().await else {
        return;
    };
    let topic = unique_name("kafka.requeue");
    let producer = broker.producer().await.expect("producer");
    let first = Message::new("first")
        .with_key("order-7")
        .with_header("h", "1");
    let second = Message::new("second").with_key("order-7");
    producer
        .send_batch(&topic, vec![first.clone(), second.clone()])
        .await
        .expect("send");
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "g"))
        .await
        .expect("subscribe");
    let mut d = recv(consumer.as_mut()).await;
    assert_eq!(d.message.id, first.id);
    d.nack(true).await.expect("nack");
    let mut next = recv(consumer.as_mut()).await;
    assert_eq!(next.message.id, second.id, "the retry goes behind #2");
    next.ack().await.expect("ack");
    let mut retried = recv(consumer.as_mut()).await;
    assert_eq!(retried.message, first);
    assert_eq!((retried.attempt, retried.redelivered), (2, true));
    retried.ack().await.expect("ack");
    assert!(silent(consumer.as_mut(), Duration::from_millis(500)).await);
    // On the wire: the copy carries the same id and courier-attempt 2.
    let reader = raw_reader(&brokers(), &topic);
    let attempts = tokio::task::spawn_blocking(move || {
        (0..3)
            .map(|_| {
                let record = reader.poll(WAIT).expect("record").expect("no error");
                let headers = record.headers().expect("headers");
                let find = |name: &str| {
                    headers
                        .iter()
                        .find(|h| h.key == name)
                        .and_then(|h| h.value)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                };
                (find(ID_HEADER), find(headers::ATTEMPT))
            })
            .collect::<Vec<_>>()
    })
    .await
    .expect("reader");
    assert_eq!(
        attempts,
        vec![
            (Some(first.id.to_string()), None),
            (Some(second.id.to_string()), None),
            (Some(first.id.to_string()), Some("2".to_owned())),
        ]
    );
    consumer.close().await.expect("close");
    broker.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_is_refused_before_sending() {
    kafka_support::init_logs();
    let Some(broker) = connect_default_or_skip().await else {
        return;
    };
    let limit = broker.capabilities().max_payload.expect("a limit");
    let producer = broker.producer().await.expect("producer");
    let topic = unique_name("kafka.size");
    producer
        .send(&topic, Message::new(vec![7u8; limit]))
        .await
        .expect("max_payload fits");
    let err = producer
        .send(&topic, Message::new(vec![7u8; limit + 128 * 1024]))
        .await
        .expect_err("too large");
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("max_message_bytes"), "{err}");
    broker.close().await.expect("close");
}

#[tokio::test]
async fn connecting_to_nothing_fails_as_a_connection_error_without_secrets() {
    kafka_support::init_logs();
    let mut config = KafkaConfig {
        brokers: "127.0.0.1:1".into(),
        request_timeout_ms: 1_500,
        ..KafkaConfig::default()
    };
    config
        .options
        .insert("sasl.password".into(), "hunter2".into());
    let started = Instant::now();
    let err = KafkaBroker::connect(config)
        .await
        .expect_err("nothing listens on port 1");
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert!(err.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("127.0.0.1:1"), "{shown}");
}

#[tokio::test]
async fn invalid_configuration_is_refused_naming_the_key() {
    kafka_support::init_logs();
    let mut config = KafkaConfig::default();
    config
        .options
        .insert("security.protocol".into(), "carrier-pigeon".into());
    let err = KafkaBroker::connect(config)
        .await
        .expect_err("invalid option");
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.message()
            .starts_with("broker.kafka.options.\"security.protocol\""),
        "{err}"
    );
}
