//! A received message and its acknowledgement: [`Delivery`] and [`Ack`].

use std::sync::Arc;

use async_trait::async_trait;

use crate::{Error, Message, Result};

/// Settles deliveries on behalf of one consumer.
///
/// A backend implements it once per consumer (not per message) and hands each [`Delivery`] an
/// `Arc` of it plus an opaque `token` that identifies the delivery to the backend (a RabbitMQ
/// delivery tag, a Kafka partition and offset packed into 64 bits, a sequence number). The
/// "settle once" rule is enforced by [`Delivery`], so implementations need not track it.
#[async_trait]
pub trait Ack: Send + Sync + 'static {
    /// Marks the delivery `token` done.
    ///
    /// # Errors
    /// [`ErrorKind::Ack`](crate::ErrorKind::Ack) when the backend cannot record it, for example
    /// because the consumer has closed and the message was handed back to its group.
    async fn ack(&self, token: u64) -> Result<()>;

    /// Gives the delivery back to its group (`requeue = true`) or rejects it.
    ///
    /// # Errors
    /// As for [`Ack::ack`].
    async fn nack(&self, token: u64, requeue: bool) -> Result<()>;
}

/// A message received from a topic, with what the backend knows of its delivery.
///
/// Settle it once with [`ack`](Delivery::ack) or [`nack`](Delivery::nack). A delivery
/// dropped unsettled stays with its consumer, and reaches its group again once that consumer
/// is gone.
pub struct Delivery {
    /// The message.
    pub message: Message,
    /// The topic it came from.
    pub topic: Arc<str>,
    /// 1 on the first delivery, then one more on each redelivery.
    pub attempt: u32,
    /// Whether the backend delivered it before.
    pub redelivered: bool,
    acker: Arc<dyn Ack>,
    token: u64,
    settled: bool,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("id", &self.message.id)
            .field("topic", &self.topic)
            .field("attempt", &self.attempt)
            .field("redelivered", &self.redelivered)
            .field("settled", &self.settled)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// A delivery of `message` from `topic`, settled through `acker` with `token`.
    pub fn new(
        message: Message,
        topic: Arc<str>,
        attempt: u32,
        acker: Arc<dyn Ack>,
        token: u64,
    ) -> Self {
        Self {
            message,
            topic,
            attempt: attempt.max(1),
            redelivered: attempt > 1,
            acker,
            token,
            settled: false,
        }
    }

    /// Overrides the redelivered flag (for backends that know it apart from the attempt).
    #[must_use]
    pub fn with_redelivered(mut self, redelivered: bool) -> Self {
        self.redelivered = redelivered;
        self
    }

    /// The backend's token for this delivery.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// Whether it was acked or nacked.
    pub fn is_settled(&self) -> bool {
        self.settled
    }

    /// Marks the delivery done.
    ///
    /// # Errors
    /// [`ErrorKind::AlreadySettled`](crate::ErrorKind::AlreadySettled) if it was acked or nacked
    /// before; otherwise what the backend's [`Ack::ack`] returns.
    pub async fn ack(&mut self) -> Result<()> {
        self.settle()?;
        self.acker.ack(self.token).await
    }

    /// Gives the delivery back to its group for another attempt (`requeue = true`) or
    /// rejects it (`requeue = false`).
    ///
    /// # Errors
    /// As for [`ack`](Delivery::ack).
    pub async fn nack(&mut self, requeue: bool) -> Result<()> {
        self.settle()?;
        self.acker.nack(self.token, requeue).await
    }

    fn settle(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.settled, true) {
            return Err(Error::already_settled("core"));
        }
        Ok(())
    }
}
