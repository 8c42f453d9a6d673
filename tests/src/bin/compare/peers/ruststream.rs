//! ruststream on RabbitMQ (`ruststream-lapin`), driven through its own public API at its best
//! settings for the workload: a broker per direction connected with `prefetch` set to the
//! run's, publishing through the publisher-confirms policy (persistent messages, every publish
//! of a batch in flight together on the publisher's confirm channel, each awaiting its own
//! confirm), and consuming through `Subscriber::stream` with the native `basic.ack` per
//! delivery (the acks of a taken batch in flight together).
//!
//! ruststream declares nothing unless told to, so the topology is courier's, declared with
//! lapin before opening: a durable fanout exchange named after the topic and a durable queue
//! `<topic>.<group>` bound to it.

use std::{num::NonZeroU16, sync::Arc};

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::try_join_all;
use lapin::{Connection, ConnectionProperties};
use ruststream::{Broker, IncomingMessage, OutgoingMessage, Publisher as _, Subscriber as _};
use ruststream_lapin::{
    ConfirmsPublisher, ConnectedLapinBroker, LapinBroker, LapinMessage, LapinPublish,
    LapinSubscriber, RabbitQueue,
};

use crate::{
    driver::{Endpoints, Outcome, Publisher, Seen, Side, Subscriber},
    peers::take_ready,
    raw::rabbitmq::{declare, delete, queue_of},
    workload::{Names, PREFETCH, Settings, Workload},
};

/// The row's label in reports.
pub const LABEL: &str = "ruststream";

/// What the row is, with the crate version measured.
pub const TITLE: &str = "ruststream (ruststream-lapin 0.7.2)";

/// ruststream-lapin with courier's connection layout: one connected broker for publishing and
/// one for consuming, a confirm channel per publisher and a channel per subscription.
pub struct RustStreamSide {
    publishing: ConnectedLapinBroker,
    consuming: ConnectedLapinBroker,
    /// lapin, for the topology ruststream does not declare and for cleaning up.
    admin: Connection,
}

impl RustStreamSide {
    /// Connects both brokers and the admin connection to `url`.
    ///
    /// # Errors
    /// When the broker cannot be reached or refuses the login.
    pub async fn connect(url: &str) -> Outcome<Self> {
        let prefetch = NonZeroU16::new(u16::try_from(PREFETCH).unwrap_or(u16::MAX))
            .ok_or("the prefetch is 0")?;
        let broker = || LapinBroker::new(url).prefetch(prefetch).connect();
        Ok(Self {
            publishing: broker().await?,
            consuming: broker().await?,
            admin: Connection::connect(url, ConnectionProperties::default()).await?,
        })
    }
}

#[async_trait]
impl Side for RustStreamSide {
    fn label(&self) -> &'static str {
        LABEL
    }

    async fn open(
        &self,
        workload: Workload,
        settings: &Settings,
        names: &Names,
    ) -> Outcome<Endpoints> {
        declare(&self.admin, names).await?;
        let prefetch = NonZeroU16::new(u16::try_from(settings.prefetch).unwrap_or(u16::MAX))
            .ok_or("the prefetch is 0")?;
        let queue = queue_of(names);
        let mut subscribers: Vec<Box<dyn Subscriber>> = Vec::with_capacity(workload.consumers);
        for _ in 0..workload.consumers {
            let subscription = RabbitQueue::new(queue.as_str())
                .durable(true)
                .prefetch(prefetch);
            subscribers.push(Box::new(RustStreamSubscriber {
                subscriber: self.consuming.subscribe(subscription).await?,
                batch: Vec::new(),
            }));
        }
        let mut publishers: Vec<Arc<dyn Publisher>> = Vec::with_capacity(workload.producers);
        for _ in 0..workload.producers {
            let policy = LapinPublish::default()
                .exchange(names.topic.as_str())
                .persistent(true)
                .confirms();
            publishers.push(Arc::new(RustStreamPublisher {
                publisher: self.publishing.publisher(policy),
                routing_key: names.topic.clone(),
            }));
        }
        Ok(Endpoints {
            publishers,
            subscribers,
        })
    }

    async fn cleanup(&self, names: &Names) -> Outcome<()> {
        delete(&self.admin, &names.topic, &[&names.group]).await
    }
}

/// A confirms publisher of its own per producer (its own confirm channel).
struct RustStreamPublisher {
    publisher: ConfirmsPublisher,
    /// The fanout exchange ignores it; the topic, as a ruststream service would name it.
    routing_key: String,
}

#[async_trait]
impl Publisher for RustStreamPublisher {
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()> {
        let publishes = payloads.iter().map(|payload| {
            self.publisher
                .publish(OutgoingMessage::new(&self.routing_key, payload), None)
        });
        try_join_all(publishes).await?;
        Ok(())
    }
}

/// One subscription; its stream is taken again on every call, which the crate documents as
/// losing nothing (deliveries buffer in the consumer).
struct RustStreamSubscriber {
    subscriber: LapinSubscriber,
    /// The deliveries of the batch being taken, kept to reuse the allocation.
    batch: Vec<LapinMessage>,
}

#[async_trait]
impl Subscriber for RustStreamSubscriber {
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize> {
        if !take_ready(self.subscriber.stream(), &mut self.batch, max).await? {
            return Ok(0);
        }
        let taken = self.batch.len();
        for message in &self.batch {
            seen(message.payload());
        }
        try_join_all(self.batch.drain(..).map(IncomingMessage::ack)).await?;
        Ok(taken)
    }
}
