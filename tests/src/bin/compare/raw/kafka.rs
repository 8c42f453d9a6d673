//! Raw baseline of the Kafka backend with rdkafka, configured as courier configures its
//! clients: an idempotent producer with `acks=all` and the same batching, a batch's sends all
//! in flight before any is awaited; a consumer in one group that stores each processed
//! message's offset (its "ack") for librdkafka's periodic commit, the standard at-least-once
//! pattern.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{FutureExt, future::join_all};
use rdkafka::{
    ClientConfig, Message,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{Consumer, StreamConsumer},
    message::{BorrowedMessage, Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};

use crate::{
    driver::{Endpoints, Outcome, Publisher, Seen, Side, Subscriber},
    raw::Work,
    workload::{Names, Settings, Workload},
};

/// The settings courier's Kafka backend was configured with, applied to the raw clients.
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// Partitions of each run's topic.
    pub partitions: u32,
    /// Replication factor of each run's topic.
    pub replication_factor: u16,
    /// `linger.ms`.
    pub linger_ms: u32,
    /// `batch.size`.
    pub batch_bytes: u32,
    /// `message.max.bytes`.
    pub max_message_bytes: u32,
    /// `message.timeout.ms`.
    pub send_timeout_ms: u32,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u32,
    /// `auto.commit.interval.ms`.
    pub commit_interval_ms: u32,
    /// Admin request timeout.
    pub request_timeout_ms: u32,
    /// Whether each record carries a `courier-id` header, as courier's do: the equal-work
    /// side; without it the bare one.
    pub id_header: bool,
}

impl KafkaSettings {
    fn base(&self) -> ClientConfig {
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", "compare-raw");
        client
    }

    fn producer(&self) -> ClientConfig {
        let mut client = self.base();
        client
            .set("linger.ms", self.linger_ms.to_string())
            .set("batch.size", self.batch_bytes.to_string())
            .set("message.max.bytes", self.max_message_bytes.to_string())
            .set("message.timeout.ms", self.send_timeout_ms.to_string())
            .set("partitioner", "murmur2_random")
            .set("enable.idempotence", "true")
            .set("acks", "all");
        client
    }

    fn consumer(&self, group: &str) -> ClientConfig {
        let mut client = self.base();
        client
            .set("session.timeout.ms", self.session_timeout_ms.to_string())
            .set(
                "heartbeat.interval.ms",
                (self.session_timeout_ms / 10).max(100).to_string(),
            )
            .set("enable.partition.eof", "false")
            .set(
                "fetch.message.max.bytes",
                self.max_message_bytes.max(1_048_576).to_string(),
            )
            .set("group.id", group)
            .set("enable.auto.commit", "true")
            .set(
                "auto.commit.interval.ms",
                self.commit_interval_ms.to_string(),
            )
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest");
        client
    }

    fn admin_options(&self) -> AdminOptions {
        let timeout = Duration::from_millis(u64::from(self.request_timeout_ms));
        AdminOptions::new()
            .request_timeout(Some(timeout))
            .operation_timeout(Some(timeout))
    }
}

/// rdkafka clients made afresh for every run, and one admin client.
pub struct RawKafka {
    settings: KafkaSettings,
    admin: Arc<AdminClient<DefaultClientContext>>,
}

impl RawKafka {
    /// An admin client for `settings.brokers`.
    ///
    /// # Errors
    /// When librdkafka refuses the configuration.
    pub fn new(settings: KafkaSettings) -> Outcome<Self> {
        let admin = Arc::new(settings.base().create()?);
        Ok(Self { settings, admin })
    }

    async fn create_topic(&self, topic: &str) -> Outcome<()> {
        let partitions = i32::try_from(self.settings.partitions)?;
        let replication = TopicReplication::Fixed(i32::from(self.settings.replication_factor));
        let topic = NewTopic::new(topic, partitions, replication);
        for result in self
            .admin
            .create_topics([&topic], &self.settings.admin_options())
            .await?
        {
            result.map_err(|(name, code)| format!("creating topic {name}: {code}"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Side for RawKafka {
    fn label(&self) -> &'static str {
        if self.settings.id_header {
            Work::Equal.label()
        } else {
            Work::Bare.label()
        }
    }

    async fn open(
        &self,
        workload: Workload,
        _settings: &Settings,
        names: &Names,
    ) -> Outcome<Endpoints> {
        self.create_topic(&names.topic).await?;
        let mut subscribers: Vec<Box<dyn Subscriber>> = Vec::with_capacity(workload.consumers);
        for _ in 0..workload.consumers {
            let consumer: StreamConsumer = self.settings.consumer(&names.group).create()?;
            consumer.subscribe(&[&names.topic])?;
            subscribers.push(Box::new(KafkaSubscriber(Some(consumer))));
        }
        let mut publishers: Vec<Arc<dyn Publisher>> = Vec::with_capacity(workload.producers);
        for _ in 0..workload.producers {
            publishers.push(Arc::new(KafkaPublisher {
                producer: self.settings.producer().create()?,
                topic: names.topic.clone(),
                id_header: self.settings.id_header,
            }));
        }
        Ok(Endpoints {
            publishers,
            subscribers,
        })
    }

    async fn cleanup(&self, _names: &Names) -> Outcome<()> {
        // Topics are kept: deleting one makes tansu 0.6 scan its tables, answering nothing
        // meanwhile, and a late produce to a deleted topic breaks its storage until restart.
        Ok(())
    }
}

struct KafkaPublisher {
    producer: FutureProducer,
    topic: String,
    id_header: bool,
}

#[async_trait]
impl Publisher for KafkaPublisher {
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()> {
        let ids: Vec<String> = if self.id_header {
            payloads.iter().map(|_| courier_core::new_id()).collect()
        } else {
            Vec::new()
        };
        let sends = payloads.iter().enumerate().map(|(i, payload)| {
            let mut record = FutureRecord::<(), [u8]>::to(&self.topic).payload(&payload[..]);
            if let Some(id) = ids.get(i) {
                record = record.headers(OwnedHeaders::new().insert(Header {
                    key: "courier-id",
                    value: Some(id.as_str()),
                }));
            }
            self.producer.send(record, Timeout::Never)
        });
        for delivery in join_all(sends).await {
            delivery.map_err(|(e, _)| e)?;
        }
        Ok(())
    }
}

/// `None` once closed.
struct KafkaSubscriber(Option<StreamConsumer>);

fn handle(
    consumer: &StreamConsumer,
    message: &BorrowedMessage<'_>,
    seen: &mut Seen<'_>,
) -> Outcome<()> {
    seen(message.payload().unwrap_or_default());
    consumer.store_offset_from_message(message)?;
    Ok(())
}

#[async_trait]
impl Subscriber for KafkaSubscriber {
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize> {
        let Some(consumer) = &self.0 else {
            return Ok(0);
        };
        let first = consumer.recv().await?;
        handle(consumer, &first, seen)?;
        let mut taken = 1;
        while taken < max {
            // `recv` takes a message only when it completes, so dropping it unfinished loses
            // nothing.
            match consumer.recv().now_or_never() {
                Some(message) => handle(consumer, &message?, seen)?,
                None => break,
            }
            taken += 1;
        }
        Ok(taken)
    }

    async fn close(mut self: Box<Self>) -> Outcome<()> {
        if let Some(consumer) = self.0.take() {
            // Closing commits the stored offsets and leaves the group; it blocks, so not on a
            // runtime thread.
            tokio::task::spawn_blocking(move || drop(consumer)).await?;
        }
        Ok(())
    }
}
