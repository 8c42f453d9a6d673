//! Produce, consume and acknowledge N messages through courier, then through raw rdkafka with
//! the same settings, and compare.
//!
//! ```text
//! cargo run --release -p courier-kafka --example kafka_throughput -- \
//!     [messages] [bytes] [partitions] [courier-first]
//! ```
//!
//! Three runs, each on its own topic and group: raw rdkafka, raw rdkafka with a `courier-id`
//! header on every record (what courier puts on the wire), and courier. Producing and
//! consuming overlap; the end-to-end time runs from the first send to the last ack.
//!
//! Brokers from `COURIER_KAFKA_BROKERS` (default `127.0.0.1:9092`). Each run uses fresh topics
//! and groups.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use courier_core::{Broker, Message, Subscription};
use courier_kafka::{KafkaBroker, KafkaConfig};
use futures::future::join_all;
use rdkafka::{
    ClientConfig, Message as _, Offset, TopicPartitionList,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{CommitMode, Consumer as _, StreamConsumer},
    message::{Header, Headers as _, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};

struct Timing {
    produced: Duration,
    total: Duration,
}

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    let n = arg(1, 20_000);
    let size = arg(2, 1024);
    let partitions = arg(3, 1) as u32;
    let brokers =
        std::env::var("COURIER_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let config = KafkaConfig {
        brokers: brokers.clone(),
        partitions,
        ..KafkaConfig::default()
    };
    println!("{n} messages of {size} bytes, {partitions} partition(s), brokers {brokers}");
    // The broker's data grows with every run: alternate the order to see its effect.
    let courier_first = std::env::args()
        .nth(4)
        .is_some_and(|a| a == "courier-first");
    let early = if courier_first {
        Some(courier_run(&config, n, size).await)
    } else {
        None
    };
    let raw = raw_run(&config, n, size, false).await;
    let raw_id = raw_run(&config, n, size, true).await;
    let courier = match early {
        Some(courier) => courier,
        None => courier_run(&config, n, size).await,
    };
    for (name, t) in [
        ("raw rdkafka", &raw),
        ("raw + id hdr", &raw_id),
        ("courier", &courier),
    ] {
        println!(
            "{name:>12}: produced in {:>6.2}s ({:>7.0} msg/s); produced+consumed+acked in {:>6.2}s ({:>7.0} msg/s)",
            t.produced.as_secs_f64(),
            rate(n, t.produced),
            t.total.as_secs_f64(),
            rate(n, t.total)
        );
    }
    for (name, base) in [("raw", &raw), ("raw + id header", &raw_id)] {
        println!(
            "courier / {name}: produce {:.2}, end to end {:.2}",
            base.produced.as_secs_f64() / courier.produced.as_secs_f64(),
            base.total.as_secs_f64() / courier.total.as_secs_f64()
        );
    }
}

async fn courier_run(config: &KafkaConfig, n: usize, size: usize) -> Timing {
    let broker = Arc::new(KafkaBroker::connect(config.clone()).await.expect("connect"));
    let topic = format!("throughput-courier-{}", uuid::Uuid::new_v4().simple());
    let mut consumer = broker
        .subscribe(
            Subscription::new(
                &topic,
                format!("throughput-{}", uuid::Uuid::new_v4().simple()),
            )
            .with_prefetch(1024),
        )
        .await
        .expect("subscribe");
    let producer = broker.producer().await.expect("producer");
    let payload = bytes::Bytes::from(vec![b'x'; size]);
    let messages: Vec<Message> = (0..n)
        .map(|i| Message::new(payload.clone()).with_key(format!("k{}", i % 100)))
        .collect();
    let started = Instant::now();
    let sending = tokio::spawn({
        let topic = topic.clone();
        async move {
            producer.send_batch(&topic, messages).await.expect("send");
            started.elapsed()
        }
    });
    let mut acked = 0;
    let mut reported = 0;
    while acked < n {
        if acked >= reported {
            eprintln!(
                "courier: {acked} acked after {:.1}s",
                started.elapsed().as_secs_f64()
            );
            reported += 5000;
        }
        let batch = consumer.recv_batch(1024).await.expect("recv");
        for mut d in batch {
            d.ack().await.expect("ack");
            acked += 1;
        }
    }
    let total = started.elapsed();
    let produced = sending.await.expect("sender");
    consumer.close().await.expect("close");
    broker.close().await.expect("close");
    Timing { produced, total }
}

/// The properties courier sets, applied to raw clients.
fn raw_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.brokers)
        .set("client.id", "raw");
    c
}

/// The raw run; with `id_header`, each record carries a `courier-id` header as courier's do.
async fn raw_run(config: &KafkaConfig, n: usize, size: usize, id_header: bool) -> Timing {
    let topic = format!("throughput-raw-{}", uuid::Uuid::new_v4().simple());
    let admin: AdminClient<DefaultClientContext> = raw_config(config).create().expect("admin");
    admin
        .create_topics(
            [&NewTopic::new(
                &topic,
                config.partitions as i32,
                TopicReplication::Fixed(1),
            )],
            &AdminOptions::new(),
        )
        .await
        .expect("create topic");
    let producer: FutureProducer = raw_config(config)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", config.linger_ms.to_string())
        .set("batch.size", config.batch_bytes.to_string())
        .set("message.max.bytes", config.max_message_bytes.to_string())
        .set("message.timeout.ms", config.send_timeout_ms.to_string())
        .set("partitioner", "murmur2_random")
        .create()
        .expect("producer");
    let consumer: StreamConsumer = raw_config(config)
        .set(
            "group.id",
            format!("throughput-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", config.session_timeout_ms.to_string())
        .set(
            "heartbeat.interval.ms",
            (config.session_timeout_ms / 10).to_string(),
        )
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    // Join the group before timing, as courier's subscribe does.
    while consumer.assignment().map_or(0, |a| a.count()) == 0 {
        let _ = tokio::time::timeout(Duration::from_millis(50), consumer.recv()).await;
    }
    let payload = vec![b'x'; size];
    let keys: Vec<String> = (0..n).map(|i| format!("k{}", i % 100)).collect();
    let started = Instant::now();
    let sending = {
        let (producer, topic) = (producer.clone(), topic.clone());
        tokio::spawn(async move {
            let mut deliveries = Vec::with_capacity(n);
            for key in &keys {
                let mut record = FutureRecord::to(&topic).payload(&payload).key(key);
                if id_header {
                    let id = uuid::Uuid::now_v7().to_string();
                    record = record.headers(OwnedHeaders::new().insert(Header {
                        key: "courier-id",
                        value: Some(&id),
                    }));
                }
                loop {
                    match producer.send_result(record) {
                        Ok(delivery) => break deliveries.push(delivery),
                        Err((_, returned)) => {
                            record = returned;
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                }
            }
            for result in join_all(deliveries).await {
                result.expect("delivered").expect("confirmed");
            }
            started.elapsed()
        })
    };
    let mut positions = std::collections::HashMap::new();
    let mut last_commit = Instant::now();
    for i in 0..n {
        if i % 5000 == 0 {
            eprintln!(
                "raw (id header {id_header}): {i} consumed after {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
        let record = consumer.recv().await.expect("recv");
        if id_header {
            // Read the id as courier does.
            let id = record
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == "courier-id"))
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned());
            assert!(id.is_some(), "the id header arrived");
        }
        positions.insert(record.partition(), record.offset() + 1);
        if last_commit.elapsed() >= Duration::from_millis(u64::from(config.commit_interval_ms)) {
            commit(&consumer, &topic, &positions);
            last_commit = Instant::now();
        }
    }
    commit(&consumer, &topic, &positions);
    let total = started.elapsed();
    let produced = sending.await.expect("sender");
    Timing { produced, total }
}

fn commit(consumer: &StreamConsumer, topic: &str, positions: &std::collections::HashMap<i32, i64>) {
    let mut list = TopicPartitionList::new();
    for (&p, &o) in positions {
        list.add_partition_offset(topic, p, Offset::Offset(o))
            .expect("offset");
    }
    consumer.commit(&list, CommitMode::Async).expect("commit");
}
