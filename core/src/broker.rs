//! The traits a backend implements: [`Broker`], [`Producer`] and [`Consumer`].

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use futures::future::try_join_all;

use crate::{Capabilities, ConnectionState, Delivery, Message, Result, SubscriptionStatus};

/// Sends messages to topics.
///
/// Shared as `Arc<dyn Producer>`; every method takes `&self`, so many sends can be in flight
/// at once from clones of the `Arc`.
#[async_trait]
pub trait Producer: Send + Sync {
    /// Sends one message to `topic`, returning once the backend has taken responsibility for
    /// it (a publisher confirm, a delivery report, an enqueue), or, for a backend without
    /// [`Capability::ConfirmedSend`](crate::Capability::ConfirmedSend), once it is handed to
    /// the transport.
    ///
    /// Concurrent calls are kept in flight together; callers that have many messages should
    /// use [`send_batch`](Producer::send_batch) or run sends concurrently, never await them one
    /// at a time.
    ///
    /// # Cancel safety
    /// Not cancel safe as to the outcome: a send dropped before it returns may or may not
    /// have reached the broker (as with a send whose confirm was lost). Retrying it can
    /// duplicate the message, never lose it; consumers deduplicate by id.
    ///
    /// # Errors
    /// A retryable [`ErrorKind::Send`](crate::ErrorKind::Send) or
    /// [`ErrorKind::Connection`](crate::ErrorKind::Connection) when the backend did not confirm;
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) after [`close`](Producer::close).
    async fn send(&self, topic: &str, message: Message) -> Result<()>;

    /// Sends every message to `topic`, all in flight together, returning once all are
    /// confirmed. The default runs [`send`](Producer::send) concurrently; backends override it
    /// to take locks and allocate once per batch.
    ///
    /// # Cancel safety
    /// As for [`send`](Producer::send): some of the messages may have been sent.
    ///
    /// # Errors
    /// The first error of any send; messages before and after it may have been sent.
    async fn send_batch(&self, topic: &str, messages: Vec<Message>) -> Result<()> {
        try_join_all(messages.into_iter().map(|m| self.send(topic, m))).await?;
        Ok(())
    }

    /// Sends one message to `topic` to be delivered once `delay` has passed, returning once
    /// the backend has taken responsibility for it (as [`send`](Producer::send)). For a
    /// backend with [`Capability::DelayedDelivery`](crate::Capability::DelayedDelivery); a
    /// zero delay is a plain send.
    ///
    /// # Cancel safety
    /// As for [`send`](Producer::send).
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) from the default; otherwise
    /// as for [`send`](Producer::send).
    async fn send_after(&self, topic: &str, message: Message, delay: Duration) -> Result<()> {
        let _ = (topic, message, delay);
        Err(crate::delivery::unsupported_delay())
    }

    /// Sends one message to `topic` to be delivered at `at` (at once when `at` has passed):
    /// [`send_after`](Producer::send_after) with the time left.
    ///
    /// # Cancel safety
    /// As for [`send`](Producer::send).
    ///
    /// # Errors
    /// As for [`send_after`](Producer::send_after).
    async fn send_at(&self, topic: &str, message: Message, at: SystemTime) -> Result<()> {
        let delay = at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        self.send_after(topic, message, delay).await
    }

    /// Waits until every message sent so far is confirmed.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping it stops the wait only; the sends continue.
    ///
    /// # Errors
    /// When the backend cannot confirm what is outstanding.
    async fn flush(&self) -> Result<()>;

    /// Flushes, then refuses further sends.
    ///
    /// # Cancel safety
    /// Dropped before it returns, the producer may already refuse sends while messages are
    /// still unconfirmed; call it again to wait for them.
    ///
    /// # Errors
    /// As for [`flush`](Producer::flush).
    async fn close(&self) -> Result<()>;
}

/// Receives the deliveries of one subscription (a topic and a group).
#[async_trait]
pub trait Consumer: Send {
    /// The next delivery, waiting for one; `None` once the consumer is closed.
    ///
    /// # Cancel safety
    /// Implementations must be cancel safe: if the future is dropped before it completes, no
    /// delivery is lost (it stays queued for the next call or for the group). The runtime
    /// relies on this to stop receiving at shutdown.
    ///
    /// # Errors
    /// [`ErrorKind::Receive`](crate::ErrorKind::Receive) or
    /// [`ErrorKind::Connection`](crate::ErrorKind::Connection) when the backend fails; these are
    /// retryable, and a later call may succeed.
    async fn recv(&mut self) -> Result<Option<Delivery>>;

    /// Up to `max` deliveries: waits for the first, then takes what is ready without
    /// waiting. An empty vector means the consumer is closed. The default calls
    /// [`recv`](Consumer::recv) once; backends override it to take a batch at a time.
    ///
    /// # Cancel safety
    /// As for [`recv`](Consumer::recv).
    ///
    /// # Errors
    /// As for [`recv`](Consumer::recv).
    async fn recv_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        let _ = max;
        Ok(self.recv().await?.into_iter().collect())
    }

    /// Stops receiving. Deliveries not yet settled go back to the group.
    ///
    /// # Cancel safety
    /// Dropped before it returns, the consumer may be half closed; deliveries not settled
    /// still reach the group again once the connection or consumer is gone.
    ///
    /// # Errors
    /// When the backend fails to detach cleanly; unsettled deliveries still reach the group
    /// again.
    async fn close(&mut self) -> Result<()>;

    /// The backend's own view of this subscription, for a backend that reconnects by itself
    /// (its `recv` then waits instead of failing while the subscription is lost): a shared
    /// status it keeps at [`Consuming`](crate::SubscriptionState::Consuming) or
    /// [`Reconnecting`](crate::SubscriptionState::Reconnecting) as the subscription is lost
    /// and made again, and where it may record the backlog it samples. The runtime's
    /// readiness ([`Health`](crate::Health)) reads it. The default, `None`, leaves readiness
    /// to what `recv` returns.
    fn status(&self) -> Option<SubscriptionStatus> {
        None
    }
}

/// What a consumer subscribes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// The topic to receive from.
    pub topic: String,
    /// The group: every group gets every message; within a group each message goes to one
    /// consumer.
    pub group: String,
    /// The most unacked deliveries the consumer may hold at once (at least 1).
    pub prefetch: usize,
    /// Whether the group is temporary: made for this consumer, to read what is sent from now
    /// on, and not left behind holding messages once the consumer is gone. Memory and ZeroMQ
    /// remove the group when its last consumer leaves, RabbitMQ declares it as an auto-delete
    /// queue, Kafka starts it at the end of the topic (Kafka keeps messages per topic, not per
    /// group, so a group left behind holds nothing). A group that already exists is used as
    /// it is. Default `false`.
    pub temporary: bool,
}

impl Subscription {
    /// A subscription to `topic` as a member of `group`, with a prefetch of 256.
    pub fn new(topic: impl Into<String>, group: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            group: group.into(),
            prefetch: 256,
            temporary: false,
        }
    }

    /// Sets the prefetch (values below 1 count as 1).
    #[must_use]
    pub fn with_prefetch(mut self, prefetch: usize) -> Self {
        self.prefetch = prefetch.max(1);
        self
    }

    /// Makes the group temporary (see [`temporary`](Self::temporary)).
    #[must_use]
    pub fn with_temporary(mut self) -> Self {
        self.temporary = true;
        self
    }
}

/// A connection to one message broker: opens producers and consumers and says what it
/// guarantees.
///
/// Services hold it as `Arc<dyn Broker>`, so they never name a backend.
#[async_trait]
pub trait Broker: Send + Sync {
    /// The backend's name: `memory`, `rabbitmq`, `kafka`, `zeromq`, ...
    fn name(&self) -> &'static str;

    /// What this backend guarantees, as configured.
    fn capabilities(&self) -> Capabilities;

    /// A producer.
    ///
    /// # Errors
    /// When the backend cannot connect.
    async fn producer(&self) -> Result<Arc<dyn Producer>>;

    /// Creates `group` on `topic` when missing, so that messages sent from now on are kept for
    /// it even before its first consumer starts (where the backend has
    /// [`Capability::DetachedRetention`](crate::Capability::DetachedRetention)).
    ///
    /// # Errors
    /// When the backend cannot reach the broker.
    async fn declare_group(&self, topic: &str, group: &str) -> Result<()>;

    /// A consumer of `subscription`. Its group is declared first.
    ///
    /// # Errors
    /// When the backend cannot connect or subscribe.
    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>>;

    /// Whether the connection to the broker is up now, for a readiness probe: cheap (no
    /// request to the broker), from what the backend already tracks. The default says
    /// [`ConnectionState::Up`], for a backend with nothing to lose (in memory).
    fn connection_state(&self) -> ConnectionState {
        ConnectionState::Up
    }

    /// Closes the connection; producers and consumers opened from it stop working.
    ///
    /// # Errors
    /// When closing fails; the broker is unusable afterwards either way.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}
