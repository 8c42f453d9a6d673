//! ruststream on ZeroMQ (`ruststream-zeromq`), driven through its own public API at its best
//! settings for the workload: the PUSH/PULL queue in its ventilator layout, the competing
//! consumers pattern its documentation gives. The producers' side binds a `ZmqQueue` on a
//! loopback TCP port and pairs one publisher with its default publish policy (one PUSH socket,
//! listening from the pairing on, shared by every producer of the run: the crate's publishers
//! of one endpoint are clones of one socket); each consumer connects a `ZmqQueue` of its own to
//! that endpoint and subscribes, so the PUSH socket serves the consumers in turn, and takes
//! deliveries from `Subscriber::stream`, reading at most the run's prefetch ahead
//! (`read_ahead`).
//!
//! The crate has no acknowledgement: delivery is at most once and nothing is stored (a
//! delivery's `ack` reports `AckError::Unsupported`, so none is sent), and a publish returns once
//! the socket has taken the message, with no confirm.

use std::{num::NonZeroUsize, sync::Arc};

use async_trait::async_trait;
use bytes::Bytes;
use ruststream::{
    Broker, IncomingMessage, OutgoingMessage, PublishPolicy, Publisher as _, Subscribe,
    Subscriber as _,
};
use ruststream_zeromq::{
    ZmqEndpoint, ZmqMessage, ZmqQueue, ZmqQueuePublish, ZmqQueuePublisher, ZmqSubscriber,
};

use crate::{
    driver::{Endpoints, Outcome, Publisher, Seen, Side, Subscriber},
    peers::take_ready,
    workload::{Names, Settings, Workload},
};

/// The row's label in reports.
pub const LABEL: &str = "ruststream";

/// What the row is, with the crate version measured.
pub const TITLE: &str = "ruststream (ruststream-zeromq 0.7.1)";

/// ruststream-zeromq's PUSH/PULL queue, made afresh for every run.
pub struct RustStreamZmqSide;

#[async_trait]
impl Side for RustStreamZmqSide {
    fn label(&self) -> &'static str {
        LABEL
    }

    async fn open(
        &self,
        workload: Workload,
        settings: &Settings,
        names: &Names,
    ) -> Outcome<Endpoints> {
        let read_ahead = NonZeroUsize::new(settings.prefetch).ok_or("the prefetch is 0")?;
        // A port picked here, not `:0`: the crate reports the port a `:0` endpoint resolved
        // to only for a bound subscription, not for a bound publisher.
        let address = format!("tcp://127.0.0.1:{}", courier_tests::ports::free_port()?);
        // The ventilator: the PUSH socket listens from the pairing on, before anyone dials.
        let producing = ZmqQueue::new(ZmqEndpoint::bind(address.as_str()))
            .connect()
            .await?;
        let publisher = ZmqQueuePublish.pair(&producing).await?;
        let mut subscribers: Vec<Box<dyn Subscriber>> = Vec::with_capacity(workload.consumers);
        for _ in 0..workload.consumers {
            let consuming = ZmqQueue::new(ZmqEndpoint::connect(address.as_str()))
                .read_ahead(read_ahead)
                .connect()
                .await?;
            subscribers.push(Box::new(RustStreamZmqSubscriber {
                subscriber: consuming.subscribe(&names.topic).await?,
                batch: Vec::new(),
            }));
        }
        let publisher = Arc::new(RustStreamZmqPublisher {
            publisher,
            name: names.topic.clone(),
        });
        let publishers = (0..workload.producers)
            .map(|_| Arc::clone(&publisher) as Arc<dyn Publisher>)
            .collect();
        Ok(Endpoints {
            publishers,
            subscribers,
        })
    }
}

/// The run's one PUSH socket, shared by its producers.
struct RustStreamZmqPublisher {
    publisher: ZmqQueuePublisher,
    /// The name frame of every message: the topic, as a ruststream service would name it.
    name: String,
}

#[async_trait]
impl Publisher for RustStreamZmqPublisher {
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()> {
        // One socket takes one message at a time, so the batch goes through it in order.
        for payload in &payloads {
            self.publisher
                .publish(OutgoingMessage::new(&self.name, payload), None)
                .await?;
        }
        Ok(())
    }
}

/// One PULL subscription; its stream is taken again on every call, which loses nothing (the
/// crate's stream polls the subscription's delivery channel in place).
struct RustStreamZmqSubscriber {
    subscriber: ZmqSubscriber,
    /// The deliveries of the batch being taken, kept to reuse the allocation.
    batch: Vec<ZmqMessage>,
}

#[async_trait]
impl Subscriber for RustStreamZmqSubscriber {
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize> {
        if !take_ready(self.subscriber.stream(), &mut self.batch, max).await? {
            return Ok(0);
        }
        let taken = self.batch.len();
        // No ack: the crate has none (at most once), so a delivery is done once seen.
        for message in self.batch.drain(..) {
            seen(message.payload());
        }
        Ok(taken)
    }
}
