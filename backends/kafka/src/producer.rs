//! [`KafkaProducer`]: idempotent, `acks=all`, every send in flight at once.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use courier_core::{Error, ErrorKind, Message, Producer, Result};
use futures::future::join_all;
use rdkafka::{
    ClientContext, Statistics,
    error::KafkaError,
    producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _},
    types::RDKafkaErrorCode,
};

use crate::{
    BACKEND,
    client::ClientSettings,
    health::{ClientLink, Links},
    topics::Topics,
    wire,
};

/// The producer's callbacks: its connection state, from its statistics and errors.
pub(crate) struct LinkContext {
    link: Arc<ClientLink>,
}

impl ClientContext for LinkContext {
    fn stats(&self, statistics: Statistics) {
        self.link.observe(&statistics);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.link.error(&error);
        tracing::warn!(backend = BACKEND, error = %error, reason, "producer error; librdkafka retries by itself");
    }
}

/// How long to wait before retrying an enqueue when librdkafka's local queue is full.
const QUEUE_FULL_PAUSE: Duration = Duration::from_millis(2);

/// The one librdkafka producer of a broker connection, shared by every [`KafkaProducer`]
/// handle and by consumers that hand messages back to their group.
pub(crate) struct SharedProducer {
    inner: FutureProducer<LinkContext>,
    topics: Arc<Topics>,
    settings: ClientSettings,
}

impl SharedProducer {
    /// Creates the librdkafka producer.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when librdkafka refuses the configuration.
    /// Its connection state counts in `links`.
    pub(crate) fn new(
        settings: ClientSettings,
        topics: Arc<Topics>,
        links: &Links,
    ) -> Result<Self> {
        let link = ClientLink::new();
        links.add(&link);
        let inner = settings
            .producer()
            .create_with_context(LinkContext { link })
            .map_err(|e| settings.error(ErrorKind::Config, "creating the producer", e))?;
        Ok(Self {
            inner,
            topics,
            settings,
        })
    }

    /// Enqueues `message` for `topic`, marked as a copy for one group when `requeued` is
    /// given and as due at `due_at_ms` (Unix milliseconds) when that is, and returns the
    /// future of its delivery report. The topic must exist.
    async fn enqueue(
        &self,
        topic: &str,
        message: &Message,
        requeued: Option<wire::Requeued<'_>>,
        due_at_ms: Option<u64>,
    ) -> Result<DeliveryFuture> {
        let limit = self.settings.config.max_message_bytes as usize;
        let size = wire::record_size(message);
        if size > limit {
            return Err(Error::new(
                BACKEND,
                ErrorKind::Config,
                format!(
                    "message {} takes about {size} bytes, more than broker.kafka.max_message_bytes ({limit})",
                    message.id
                ),
            ));
        }
        let mut record = FutureRecord::<str, [u8]>::to(topic)
            .payload(&message.payload[..])
            .headers(wire::encode_headers(message, requeued, due_at_ms));
        if let Some(key) = &message.key {
            record = record.key(key.as_str());
        }
        loop {
            match self.inner.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    tokio::time::sleep(QUEUE_FULL_PAUSE).await;
                }
                Err((e, _)) => {
                    return Err(self.settings.error(
                        ErrorKind::Send,
                        &format!("enqueueing message {} for `{topic}`", message.id),
                        e,
                    ));
                }
            }
        }
    }

    /// Waits for one delivery report.
    async fn confirmed(&self, topic: &str, delivery: DeliveryFuture) -> Result<()> {
        match delivery.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => Err(self.settings.error(
                ErrorKind::Send,
                &format!("the broker did not confirm a message to `{topic}`"),
                e,
            )),
            Err(_) => Err(Error::new(
                BACKEND,
                ErrorKind::Send,
                format!("the producer stopped before confirming a message to `{topic}`"),
            )),
        }
    }

    /// Sends `message` to `topic` (created when missing), marked as [`enqueue`](Self::enqueue)
    /// says, and waits for the broker's acknowledgement.
    ///
    /// # Errors
    /// As for [`Producer::send`].
    pub(crate) async fn send(
        &self,
        topic: &str,
        message: &Message,
        requeued: Option<wire::Requeued<'_>>,
        due_at_ms: Option<u64>,
    ) -> Result<()> {
        self.topics.ensure(topic).await?;
        let delivery = self.enqueue(topic, message, requeued, due_at_ms).await?;
        self.confirmed(topic, delivery).await
    }

    /// Enqueues every message, then waits for all their reports together.
    async fn send_batch(&self, topic: &str, messages: &[Message]) -> Result<()> {
        self.topics.ensure(topic).await?;
        let mut deliveries = Vec::with_capacity(messages.len());
        let mut first_error = None;
        for message in messages {
            match self.enqueue(topic, message, None, None).await {
                Ok(delivery) => deliveries.push(delivery),
                Err(e) => {
                    first_error = Some(e);
                    break;
                }
            }
        }
        let confirmations = join_all(
            deliveries
                .into_iter()
                .map(|delivery| self.confirmed(topic, delivery)),
        )
        .await;
        match first_error {
            Some(e) => Err(e),
            None => confirmations.into_iter().collect(),
        }
    }

    /// Waits until librdkafka has no message left to deliver.
    pub(crate) async fn flush(&self) -> Result<()> {
        let producer = self.inner.clone();
        let timeout = Duration::from_millis(u64::from(self.settings.config.send_timeout_ms))
            + self.settings.request_timeout();
        let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(|e| {
                Error::new(
                    BACKEND,
                    ErrorKind::Other,
                    format!("flushing the producer: {e}"),
                )
            })?;
        flushed.map_err(|e| {
            self.settings
                .error(ErrorKind::Send, "flushing the producer", e)
        })
    }
}

/// A producer handle: sends through the connection's shared librdkafka producer, and
/// refuses sends once closed.
pub struct KafkaProducer {
    shared: Arc<SharedProducer>,
    closed: AtomicBool,
}

impl KafkaProducer {
    pub(crate) fn new(shared: Arc<SharedProducer>) -> Self {
        Self {
            shared,
            closed: AtomicBool::new(false),
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed(BACKEND, "producer"));
        }
        Ok(())
    }
}

#[async_trait]
impl Producer for KafkaProducer {
    async fn send(&self, topic: &str, message: Message) -> Result<()> {
        self.check_open()?;
        self.shared.send(topic, &message, None, None).await
    }

    /// Sends the record now with a `courier-due-at` header: every group's consumer holds it
    /// until it is due (see the crate documentation on delays).
    async fn send_after(&self, topic: &str, message: Message, delay: Duration) -> Result<()> {
        self.check_open()?;
        let due = (!delay.is_zero()).then(|| wire::due_at_ms(delay));
        self.shared.send(topic, &message, None, due).await
    }

    async fn send_batch(&self, topic: &str, messages: Vec<Message>) -> Result<()> {
        self.check_open()?;
        self.shared.send_batch(topic, &messages).await
    }

    async fn flush(&self) -> Result<()> {
        self.shared.flush().await
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        self.shared.flush().await
    }
}
