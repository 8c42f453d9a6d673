//! The courier side: the workload through the public API, as a service would use it
//! (`Producer::send_batch`, `Consumer::recv_batch`, `Delivery::ack_all`).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use courier_core::{Broker, Consumer, Delivery, Message, Producer, Subscription};

use crate::{
    driver::{Endpoints, Outcome, Publisher, Seen, Side, Subscriber},
    workload::{Names, Settings, Workload},
};

/// Removes what a run declared on the broker; courier's API has no delete, so each backend
/// supplies one that knows its naming.
#[async_trait]
pub trait Cleaner: Send + Sync {
    /// Deletes `topic` and what its `groups` hold on the broker; objects already gone are
    /// no error.
    async fn clean(&self, topic: &str, groups: &[&str]) -> Outcome<()>;
}

/// The workload through a courier [`Broker`].
pub struct CourierSide {
    broker: Arc<dyn Broker>,
    cleaner: Option<Arc<dyn Cleaner>>,
}

impl CourierSide {
    /// Runs on `broker`, calling `cleaner` after each run.
    pub fn new(broker: Arc<dyn Broker>, cleaner: Option<Arc<dyn Cleaner>>) -> Self {
        Self { broker, cleaner }
    }

    /// The broker this side runs on.
    pub fn broker(&self) -> Arc<dyn Broker> {
        self.broker.clone()
    }

    /// Closes the broker connection.
    ///
    /// # Errors
    /// The backend's error when closing fails.
    pub async fn close(&self) -> courier_core::Result<()> {
        self.broker.close().await
    }
}

#[async_trait]
impl Side for CourierSide {
    fn label(&self) -> &'static str {
        "courier"
    }

    async fn open(
        &self,
        workload: Workload,
        settings: &Settings,
        names: &Names,
    ) -> Outcome<Endpoints> {
        let mut subscribers: Vec<Box<dyn Subscriber>> = Vec::with_capacity(workload.consumers);
        for _ in 0..workload.consumers {
            let subscription =
                Subscription::new(&names.topic, &names.group).with_prefetch(settings.prefetch);
            let consumer = self.broker.subscribe(subscription).await?;
            subscribers.push(Box::new(CourierSubscriber(consumer)));
        }
        let mut publishers: Vec<Arc<dyn Publisher>> = Vec::with_capacity(workload.producers);
        for _ in 0..workload.producers {
            publishers.push(Arc::new(CourierPublisher {
                producer: self.broker.producer().await?,
                topic: names.topic.clone(),
            }));
        }
        Ok(Endpoints {
            publishers,
            subscribers,
        })
    }

    async fn cleanup(&self, names: &Names) -> Outcome<()> {
        match &self.cleaner {
            Some(cleaner) => cleaner.clean(&names.topic, &[&names.group]).await,
            None => Ok(()),
        }
    }
}

struct CourierPublisher {
    producer: Arc<dyn Producer>,
    topic: String,
}

#[async_trait]
impl Publisher for CourierPublisher {
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()> {
        let messages = payloads.into_iter().map(Message::new).collect();
        Ok(self.producer.send_batch(&self.topic, messages).await?)
    }

    async fn close(&self) -> Outcome<()> {
        Ok(self.producer.close().await?)
    }
}

struct CourierSubscriber(Box<dyn Consumer>);

#[async_trait]
impl Subscriber for CourierSubscriber {
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize> {
        let mut deliveries = self.0.recv_batch(max).await?;
        for delivery in &deliveries {
            seen(&delivery.message.payload);
        }
        // The batch was handled: settle it the way a service does, with one call.
        Delivery::ack_all(&mut deliveries).await?;
        Ok(deliveries.len())
    }

    async fn close(mut self: Box<Self>) -> Outcome<()> {
        Ok(self.0.close().await?)
    }
}
