//! Raw baseline of the RabbitMQ backend with lapin, set up like courier's topology: a durable
//! exchange per topic, a durable queue per group bound to it, persistent messages, publisher
//! confirms (every publish of a batch in flight, then every confirm awaited), `basic_qos`
//! prefetch and a manual ack per delivery.

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
    driver::{Endpoints, Outcome, Publisher, Seen, Side, Subscriber},
    workload::{Names, Settings, Workload},
};

/// AMQP delivery mode of persistent messages.
const PERSISTENT: u8 = 2;

/// lapin on one connection: a channel per publisher and per subscriber.
pub struct RawRabbitMq {
    connection: Connection,
    exchange_kind: ExchangeKind,
}

impl RawRabbitMq {
    /// Connects to `url`; topics become exchanges of `exchange_kind`.
    ///
    /// # Errors
    /// When the broker cannot be reached or refuses the login.
    pub async fn connect(url: &str, exchange_kind: ExchangeKind) -> Outcome<Self> {
        let connection = Connection::connect(url, ConnectionProperties::default()).await?;
        Ok(Self {
            connection,
            exchange_kind,
        })
    }

    /// Deletes queue `queue` and exchange `exchange`, when present.
    ///
    /// # Errors
    /// When the broker refuses.
    pub async fn delete(&self, queue: &str, exchange: &str) -> Outcome<()> {
        let channel = self.connection.create_channel().await?;
        channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await?;
        channel
            .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
            .await?;
        channel.close(200, "done".into()).await?;
        Ok(())
    }

    async fn declare(&self, names: &Names) -> Outcome<Channel> {
        let channel = self.connection.create_channel().await?;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                names.topic.as_str().into(),
                self.exchange_kind.clone(),
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_declare(
                names.group.as_str().into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                names.group.as_str().into(),
                names.topic.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(channel)
    }
}

#[async_trait]
impl Side for RawRabbitMq {
    fn label(&self) -> &'static str {
        "raw"
    }

    async fn open(
        &self,
        workload: Workload,
        settings: &Settings,
        names: &Names,
    ) -> Outcome<Endpoints> {
        self.declare(names)
            .await?
            .close(200, "declared".into())
            .await?;
        let mut subscribers: Vec<Box<dyn Subscriber>> = Vec::with_capacity(workload.consumers);
        for i in 0..workload.consumers {
            let channel = self.connection.create_channel().await?;
            let prefetch = u16::try_from(settings.prefetch).unwrap_or(u16::MAX);
            channel
                .basic_qos(prefetch, BasicQosOptions::default())
                .await?;
            let consumer = channel
                .basic_consume(
                    names.group.as_str().into(),
                    format!("compare-{i}").into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            subscribers.push(Box::new(AmqpSubscriber { channel, consumer }));
        }
        let mut publishers: Vec<Arc<dyn Publisher>> = Vec::with_capacity(workload.producers);
        for _ in 0..workload.producers {
            let channel = self.connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            publishers.push(Arc::new(AmqpPublisher {
                channel,
                exchange: names.topic.clone(),
            }));
        }
        Ok(Endpoints {
            publishers,
            subscribers,
        })
    }

    async fn cleanup(&self, names: &Names) -> Outcome<()> {
        self.delete(&names.group, &names.topic).await
    }
}

struct AmqpPublisher {
    channel: Channel,
    exchange: String,
}

#[async_trait]
impl Publisher for AmqpPublisher {
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()> {
        let properties = BasicProperties::default().with_delivery_mode(PERSISTENT);
        let publishes = payloads.iter().map(|payload| {
            self.channel.basic_publish(
                self.exchange.as_str().into(),
                "".into(),
                BasicPublishOptions::default(),
                payload,
                properties.clone(),
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
}

#[async_trait]
impl Subscriber for AmqpSubscriber {
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize> {
        let Some(first) = self.consumer.next().await else {
            return Ok(0);
        };
        let mut delivery = first?;
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

    async fn close(self: Box<Self>) -> Outcome<()> {
        Ok(self.channel.close(200, "done".into()).await?)
    }
}
