//! Raw baselines of the RabbitMQ backend with lapin, set up like courier's topology: a durable
//! fanout exchange per topic, a durable queue `<topic>.<group>` bound to it, persistent
//! messages, publisher confirms (every publish of a batch in flight, then every confirm
//! awaited), `basic_qos` prefetch and a manual ack per delivery.
//!
//! With [`Work::Equal`] every message carries what a courier publish carries (a UUIDv7
//! `message_id` and a headers table, see `backends/rabbitmq/src/wire.rs`) and the acks of a
//! taken batch are all in flight together, one `basic.ack` per delivery tag, as courier's
//! `ack_batch` sends them. With [`Work::Bare`] messages carry only the delivery mode and each
//! ack is awaited before the next delivery.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{FutureExt, StreamExt, future::try_join_all};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    },
    types::FieldTable,
};

use crate::{
    courier_side::Cleaner,
    driver::{Endpoints, Outcome, Publisher, Seen, Side, Subscriber},
    raw::Work,
    workload::{Names, Settings, Workload},
};

/// AMQP delivery mode of persistent messages.
const PERSISTENT: u8 = 2;

/// lapin with courier's connection layout: one connection for publishing and one for
/// consuming, a channel per publisher and per subscriber.
pub struct RawRabbitMq {
    publishing: Connection,
    consuming: Connection,
    work: Work,
}

impl RawRabbitMq {
    /// Connects to `url`, to do `work` per message.
    ///
    /// # Errors
    /// When the broker cannot be reached or refuses the login.
    pub async fn connect(url: &str, work: Work) -> Outcome<Self> {
        Ok(Self {
            publishing: connect(url).await?,
            consuming: connect(url).await?,
            work,
        })
    }
}

async fn connect(url: &str) -> lapin::Result<Connection> {
    Connection::connect(url, ConnectionProperties::default()).await
}

/// The queue of a run's group, named as courier names it: `<topic>.<group>`.
pub(crate) fn queue_of(names: &Names) -> String {
    format!("{}.{}", names.topic, names.group)
}

/// Deletes the queue and exchange of a run, on either side (courier's API has no delete).
pub struct AmqpCleaner(Connection);

impl AmqpCleaner {
    /// Connects to `url`.
    ///
    /// # Errors
    /// When the broker cannot be reached or refuses the login.
    pub async fn connect(url: &str) -> Outcome<Self> {
        Ok(Self(connect(url).await?))
    }
}

#[async_trait]
impl Cleaner for AmqpCleaner {
    async fn clean(&self, topic: &str, groups: &[&str]) -> Outcome<()> {
        delete(&self.0, topic, groups).await
    }
}

/// Deletes the queues `<topic>.<group>` of `groups` and the exchange `topic` (RabbitMQ
/// answers ok for objects that do not exist).
pub(crate) async fn delete(connection: &Connection, topic: &str, groups: &[&str]) -> Outcome<()> {
    let channel = connection.create_channel().await?;
    for group in groups {
        channel
            .queue_delete(
                format!("{topic}.{group}").into(),
                QueueDeleteOptions::default(),
            )
            .await?;
    }
    channel
        .exchange_delete(topic.into(), ExchangeDeleteOptions::default())
        .await?;
    channel.close(200, "done".into()).await?;
    Ok(())
}

/// Declares the topology courier declares: a durable fanout exchange and a durable classic
/// queue bound to it.
pub(crate) async fn declare(connection: &Connection, names: &Names) -> Outcome<()> {
    let channel = connection.create_channel().await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            names.topic.as_str().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
    let queue = queue_of(names);
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            queue.as_str().into(),
            names.topic.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel.close(200, "declared".into()).await?;
    Ok(())
}

#[async_trait]
impl Side for RawRabbitMq {
    fn label(&self) -> &'static str {
        self.work.label()
    }

    async fn open(
        &self,
        workload: Workload,
        settings: &Settings,
        names: &Names,
    ) -> Outcome<Endpoints> {
        declare(&self.consuming, names).await?;
        let queue = queue_of(names);
        let mut subscribers: Vec<Box<dyn Subscriber>> = Vec::with_capacity(workload.consumers);
        for i in 0..workload.consumers {
            let channel = self.consuming.create_channel().await?;
            let prefetch = u16::try_from(settings.prefetch).unwrap_or(u16::MAX);
            channel
                .basic_qos(prefetch, BasicQosOptions::default())
                .await?;
            let consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    format!("compare-{i}").into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            subscribers.push(Box::new(AmqpSubscriber {
                channel,
                consumer,
                work: self.work,
                batch: Vec::new(),
            }));
        }
        let mut publishers: Vec<Arc<dyn Publisher>> = Vec::with_capacity(workload.producers);
        for _ in 0..workload.producers {
            let channel = self.publishing.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            publishers.push(Arc::new(AmqpPublisher {
                channel,
                exchange: names.topic.clone(),
                work: self.work,
            }));
        }
        Ok(Endpoints {
            publishers,
            subscribers,
        })
    }

    async fn cleanup(&self, names: &Names) -> Outcome<()> {
        delete(&self.consuming, &names.topic, &[&names.group]).await
    }
}

struct AmqpPublisher {
    channel: Channel,
    exchange: String,
    work: Work,
}

impl AmqpPublisher {
    /// The properties of one message: courier's (persistent, a fresh UUIDv7 `message_id`, a
    /// headers table) for equal work, only persistence for bare.
    fn properties(&self, bare: &BasicProperties) -> BasicProperties {
        match self.work {
            Work::Bare => bare.clone(),
            Work::Equal => bare
                .clone()
                .with_message_id(courier_core::new_id().into())
                .with_headers(FieldTable::default()),
        }
    }
}

#[async_trait]
impl Publisher for AmqpPublisher {
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()> {
        let persistent = BasicProperties::default().with_delivery_mode(PERSISTENT);
        let publishes = payloads.iter().map(|payload| {
            self.channel.basic_publish(
                self.exchange.as_str().into(),
                "".into(),
                BasicPublishOptions::default(),
                payload,
                self.properties(&persistent),
            )
        });
        let confirms = try_join_all(publishes).await?;
        for confirmation in try_join_all(confirms).await? {
            if !confirmation.is_ack() {
                return Err(format!("the broker did not confirm: {confirmation:?}").into());
            }
        }
        Ok(())
    }

    async fn close(&self) -> Outcome<()> {
        Ok(self.channel.close(200, "done".into()).await?)
    }
}

struct AmqpSubscriber {
    channel: Channel,
    consumer: lapin::Consumer,
    work: Work,
    /// The deliveries of the batch being taken (equal work), kept to reuse the allocation.
    batch: Vec<lapin::message::Delivery>,
}

impl AmqpSubscriber {
    /// Bare: each delivery acked, and the ack awaited, before the next is taken.
    async fn take_bare(
        &mut self,
        first: lapin::message::Delivery,
        max: usize,
        seen: &mut Seen<'_>,
    ) -> Outcome<usize> {
        let mut delivery = first;
        let mut taken = 0;
        loop {
            seen(&delivery.data);
            delivery.ack(BasicAckOptions::default()).await?;
            taken += 1;
            if taken >= max {
                return Ok(taken);
            }
            match self.consumer.next().now_or_never() {
                Some(Some(next)) => delivery = next?,
                _ => return Ok(taken),
            }
        }
    }

    /// Equal work: the ready deliveries taken up to `max`, each read as courier reads one
    /// (its `message_id` and headers), then one `basic.ack` per delivery tag, all in flight
    /// together.
    async fn take_equal(
        &mut self,
        first: lapin::message::Delivery,
        max: usize,
        seen: &mut Seen<'_>,
    ) -> Outcome<usize> {
        self.batch.push(first);
        while self.batch.len() < max {
            match self.consumer.next().now_or_never() {
                Some(Some(next)) => self.batch.push(next?),
                _ => break,
            }
        }
        for delivery in &self.batch {
            let id = delivery
                .properties
                .message_id()
                .as_ref()
                .map(|id| id.as_str());
            let headers = delivery
                .properties
                .headers()
                .as_ref()
                .map(|h| h.inner().len());
            std::hint::black_box((id, headers));
            seen(&delivery.data);
        }
        let acks = self
            .batch
            .iter()
            .map(|delivery| delivery.ack(BasicAckOptions::default()));
        try_join_all(acks).await?;
        let taken = self.batch.len();
        self.batch.clear();
        Ok(taken)
    }
}

#[async_trait]
impl Subscriber for AmqpSubscriber {
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize> {
        let Some(first) = self.consumer.next().await else {
            return Ok(0);
        };
        let first = first?;
        match self.work {
            Work::Bare => self.take_bare(first, max, seen).await,
            Work::Equal => self.take_equal(first, max, seen).await,
        }
    }

    async fn close(self: Box<Self>) -> Outcome<()> {
        Ok(self.channel.close(200, "done".into()).await?)
    }
}
