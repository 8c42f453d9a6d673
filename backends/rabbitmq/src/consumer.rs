//! Receiving: [`RabbitMqConsumer`] and the task that keeps its subscription alive.
//!
//! A task owns the channel and its lapin consumer, turns each AMQP delivery into a courier
//! [`Delivery`] and hands it over a bounded queue, so `recv` is cancel safe. When the channel
//! or connection is lost, the task reconnects with backoff, declares the group again, re-applies
//! the prefetch (`basic.qos`) and consumes again; deliveries still buffered from the lost
//! channel are skipped (RabbitMQ delivers them again).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use courier_core::{
    Backoff, ByteBudget, Consumer, Delivery, Error, ErrorKind, Origin, Result, SubscriptionState,
    SubscriptionStatus, backend::fill_batch,
};
use futures::{FutureExt, StreamExt};
use lapin::{
    Channel,
    options::{BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions},
    types::FieldTable,
};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{debug, info, warn};

use crate::{
    BACKEND,
    acker::{Held, RabbitMqAck, token},
    connector::Connector,
    error::{from_lapin, kind_of},
    naming::QueueSpec,
    temporary::declare_temporary,
    topology::declare_group,
    wire,
};

/// The most deliveries taken from lapin at once.
const FORWARD_BATCH: usize = 64;

/// How often a consumer samples its queue's depth (`courier_queue_depth`).
const DEPTH_EVERY: Duration = Duration::from_secs(2);

/// What the receiving task needs.
pub(crate) struct Subscriber {
    pub(crate) connector: Arc<Connector>,
    pub(crate) spec: QueueSpec,
    pub(crate) topic: Arc<str>,
    pub(crate) prefetch: u16,
    pub(crate) acker: Arc<RabbitMqAck>,
    pub(crate) backoff: Backoff,
    /// Bytes of deliveries waiting for `recv` (`max_buffered_bytes`).
    pub(crate) budget: Arc<ByteBudget>,
    /// Whether the group is temporary: its queue is declared auto-delete.
    pub(crate) temporary: bool,
    /// Consuming, or reconnecting while the subscription is lost.
    pub(crate) status: SubscriptionStatus,
}

/// A consumer of one group's queue.
pub struct RabbitMqConsumer {
    deliveries: mpsc::Receiver<Delivery>,
    acker: Arc<RabbitMqAck>,
    budget: Arc<ByteBudget>,
    task: Option<JoinHandle<()>>,
    stop: Option<DropGuard>,
    status: SubscriptionStatus,
}

impl std::fmt::Debug for RabbitMqConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitMqConsumer").finish_non_exhaustive()
    }
}

impl RabbitMqConsumer {
    /// Subscribes (declaring the group), then starts the receiving task.
    ///
    /// # Errors
    /// When the first subscription fails: the broker is unreachable or refuses the queue.
    pub(crate) async fn open(subscriber: Subscriber) -> Result<Self> {
        let subscription = subscriber.subscribe().await?;
        subscriber.status.set(SubscriptionState::Consuming);
        let status = subscriber.status.clone();
        let (tx, deliveries) = mpsc::channel(usize::from(subscriber.prefetch).max(1) * 2);
        let stop = CancellationToken::new();
        let acker = subscriber.acker.clone();
        let budget = subscriber.budget.clone();
        tokio::spawn(sample_depth(
            subscriber.connector.clone(),
            subscriber.spec.queue.clone(),
            status.clone(),
            stop.clone(),
        ));
        let task = tokio::spawn(subscriber.run(subscription, tx, stop.clone()));
        Ok(Self {
            deliveries,
            acker,
            budget,
            task: Some(task),
            stop: Some(stop.drop_guard()),
            status,
        })
    }

    /// The bytes of deliveries buffered ahead of `recv` (payloads plus
    /// [`ByteBudget::OVERHEAD`] each): at most `max_buffered_bytes`, or one larger delivery.
    pub fn buffered_bytes(&self) -> usize {
        self.budget.used()
    }

    /// Whether `delivery`, just taken from the buffer, can still be settled; its bytes leave
    /// the buffer either way.
    fn fresh(&self, delivery: &Delivery) -> bool {
        self.budget
            .release(ByteBudget::cost(delivery.message.payload.len()));
        !self.acker.is_stale(delivery.token())
    }
}

#[async_trait]
impl Consumer for RabbitMqConsumer {
    async fn recv(&mut self) -> Result<Option<Delivery>> {
        while let Some(delivery) = self.deliveries.recv().await {
            if self.fresh(&delivery) {
                return Ok(Some(delivery));
            }
        }
        Ok(None)
    }

    async fn recv_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        let Some(first) = self.recv().await? else {
            return Ok(Vec::new());
        };
        Ok(fill_batch(
            self,
            first,
            max,
            |c| c.deliveries.try_recv().ok(),
            Self::fresh,
        ))
    }

    async fn close(&mut self) -> Result<()> {
        self.acker.close();
        drop(self.stop.take());
        self.deliveries.close();
        if let Some(task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_err()
            {
                return Err(Error::new(
                    BACKEND,
                    ErrorKind::Timeout,
                    "closing the channel timed out; RabbitMQ requeues its deliveries once the \
                     connection ends",
                ));
            }
        }
        while let Ok(delivery) = self.deliveries.try_recv() {
            self.budget
                .release(ByteBudget::cost(delivery.message.payload.len()));
        }
        Ok(())
    }

    /// Consuming, or reconnecting from the moment the channel or connection is lost until
    /// the queue is consumed again.
    fn status(&self) -> Option<SubscriptionStatus> {
        Some(self.status.clone())
    }
}

impl Subscriber {
    /// Opens a channel, declares the group, sets the prefetch and starts consuming.
    async fn subscribe(&self) -> Result<(Channel, lapin::Consumer)> {
        let connection = self.connector.connection().await?;
        let what = |step: &str| format!("{step} of queue {} failed", self.spec.queue);
        let declared = if self.temporary {
            declare_temporary(&connection, &self.spec).await
        } else {
            declare_group(&connection, &self.spec).await
        };
        declared
            .map_err(|e| from_lapin(kind_of(&e, ErrorKind::Connection), &what("declaring"), e))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| from_lapin(ErrorKind::Connection, "opening a channel failed", e))?;
        let subscribed = self.consume(&channel).await;
        match subscribed {
            Ok(consumer) => {
                self.acker.install(channel.clone());
                Ok((channel, consumer))
            }
            Err(e) => {
                channel.close(200, "subscribe failed".into()).await.ok();
                Err(from_lapin(
                    kind_of(&e, ErrorKind::Connection),
                    &what("consuming"),
                    e,
                ))
            }
        }
    }

    async fn consume(&self, channel: &Channel) -> lapin::Result<lapin::Consumer> {
        channel
            .basic_qos(self.prefetch, BasicQosOptions { global: false })
            .await?;
        channel
            .basic_consume(
                self.spec.queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
    }

    /// Receives until stopped or until the consumer is dropped, resubscribing after losses;
    /// then no delivery can be settled any more.
    async fn run(
        self,
        subscription: (Channel, lapin::Consumer),
        tx: mpsc::Sender<Delivery>,
        stop: CancellationToken,
    ) {
        self.receive(subscription, &tx, &stop).await;
        self.status.set(SubscriptionState::Stopped);
        self.acker.close();
    }

    async fn receive(
        &self,
        (mut channel, mut consumer): (Channel, lapin::Consumer),
        tx: &mpsc::Sender<Delivery>,
        stop: &CancellationToken,
    ) {
        let origin = Origin::new(self.topic.clone(), self.acker.clone());
        loop {
            let lost = self.forward(&mut consumer, tx, stop, &origin).await;
            if !lost {
                if channel.status().connected() {
                    channel.close(200, "consumer closed".into()).await.ok();
                }
                return;
            }
            self.acker.invalidate();
            self.status.set(SubscriptionState::Reconnecting);
            let mut failures = 0u32;
            (channel, consumer) = loop {
                let attempt = tokio::select! {
                    () = stop.cancelled() => return,
                    () = tx.closed() => return,
                    attempt = self.subscribe() => attempt,
                };
                match attempt {
                    Ok(subscription) => {
                        info!(queue = %self.spec.queue, "consuming again");
                        self.status.set(SubscriptionState::Consuming);
                        break subscription;
                    }
                    Err(e) if e.kind() == ErrorKind::Closed => return,
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        warn!(queue = %self.spec.queue, error = %e, failures, "resubscribing failed");
                        let pause = self.backoff.delay(failures);
                        tokio::select! {
                            () = stop.cancelled() => return,
                            () = tokio::time::sleep(pause) => {}
                        }
                    }
                }
            };
        }
    }

    /// Forwards deliveries until the subscription is lost (`true`) or the consumer stops
    /// (`false`). What lapin has already received is taken as a batch, so the content kept
    /// for requeues is stored under one lock per batch.
    async fn forward(
        &self,
        consumer: &mut lapin::Consumer,
        tx: &mpsc::Sender<Delivery>,
        stop: &CancellationToken,
        origin: &Arc<Origin>,
    ) -> bool {
        let mut ready = Vec::with_capacity(FORWARD_BATCH);
        loop {
            let next = tokio::select! {
                biased;
                () = stop.cancelled() => return false,
                () = tx.closed() => return false,
                next = consumer.next() => next,
            };
            let mut lost = match next {
                Some(Ok(delivery)) => {
                    ready.push(delivery);
                    None
                }
                end => Some(end),
            };
            while lost.is_none() && ready.len() < FORWARD_BATCH {
                match consumer.next().now_or_never() {
                    Some(Some(Ok(delivery))) => ready.push(delivery),
                    Some(end) => lost = Some(end),
                    None => break,
                }
            }
            for delivery in self.convert(ready.drain(..), origin) {
                let cost = ByteBudget::cost(delivery.message.payload.len());
                tokio::select! {
                    biased;
                    () = stop.cancelled() => return false,
                    () = self.budget.reserve(cost) => {}
                }
                tokio::select! {
                    biased;
                    () = stop.cancelled() => return false,
                    sent = tx.send(delivery) => if sent.is_err() { return false },
                }
            }
            match lost {
                None => {}
                Some(Some(Err(e))) => {
                    warn!(queue = %self.spec.queue, error = %e, "subscription lost; resubscribing");
                    return true;
                }
                Some(_) => {
                    warn!(queue = %self.spec.queue, "the broker cancelled the subscription; resubscribing");
                    return true;
                }
            }
        }
    }

    /// Courier deliveries of `batch`, keeping what a requeue needs when it publishes copies.
    fn convert(
        &self,
        batch: impl Iterator<Item = lapin::message::Delivery>,
        origin: &Arc<Origin>,
    ) -> Vec<Delivery> {
        let generation = self.acker.generation();
        let holds = self.acker.holds_content();
        let mut held = Vec::new();
        let deliveries = batch
            .map(|d| {
                let tag = token(generation, d.delivery_tag);
                let (message, attempt) = wire::decode(&d.properties, d.data, d.redelivered);
                if holds {
                    let body = message.payload.clone();
                    held.push((
                        tag,
                        Held {
                            properties: d.properties,
                            body,
                            attempt,
                        },
                    ));
                }
                Delivery::new(message, origin.clone(), attempt, tag)
            })
            .collect();
        if holds {
            self.acker.hold(held);
        }
        deliveries
    }
}

/// Samples how many messages wait in `queue` (ready, not yet delivered) every
/// [`DEPTH_EVERY`], with a passive declare on a channel of its own (a failed passive declare
/// closes its channel, never the consumer's), into `status`, until `stop`. It samples only
/// while the subscription is consuming, so it never makes a connection by itself.
async fn sample_depth(
    connector: Arc<Connector>,
    queue: String,
    status: SubscriptionStatus,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(DEPTH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut channel: Option<Channel> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if status.state() != SubscriptionState::Consuming {
            continue;
        }
        let open = match channel.take() {
            Some(open) if open.status().connected() => open,
            _ => {
                let opened = tokio::select! {
                    () = stop.cancelled() => break,
                    opened = connector.channel() => opened,
                };
                match opened {
                    Ok(open) => open,
                    Err(e) => {
                        debug!(queue, error = %e, "no channel to sample the queue depth");
                        continue;
                    }
                }
            }
        };
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let declared = tokio::select! {
            () = stop.cancelled() => break,
            declared = open.queue_declare(queue.as_str().into(), passive, FieldTable::default()) => declared,
        };
        match declared {
            Ok(declared) => {
                status.set_queue_depth(u64::from(declared.message_count()));
                channel = Some(open);
            }
            Err(e) => debug!(queue, error = %e, "sampling the queue depth failed"),
        }
    }
    if let Some(open) = channel {
        if open.status().connected() {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                open.close(200, "consumer closed".into()),
            )
            .await;
        }
    }
}
