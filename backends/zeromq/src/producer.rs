//! [`ZmqProducer`]: hands messages to the binding side of their topic, in this process (over
//! a channel to the hub task) or in another (as `PUBLISH` requests over a DEALER).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use courier_core::{Error, Message, Producer, Result};
use futures::future::try_join_all;

use crate::BACKEND;
use crate::delay;
use crate::routes::{Inner, Route};
use crate::wire::WireMessage;

/// Messages per `PUBLISH` request to another process; bigger batches become several
/// requests, all in flight together.
const PUBLISH_CHUNK: usize = 512;

/// A producer of the ZeroMQ backend.
///
/// `send` returns `Ok` once the message is in the outbox of every group of its topic on the
/// binding side (this process's hub, or the hub of the process that binds the topic's
/// endpoint, which then answers `OK`). From then on the binding side keeps it until a
/// consumer of each group acks it, and delivers it again when a consumer nacks it, leaves or
/// falls silent. It does not wait for consumers: that is why the backend does not report
/// [`Capability::ConfirmedSend`](courier_core::Capability::ConfirmedSend), and nothing
/// survives the end of the binding process.
///
/// [`send_after`](Producer::send_after) hands the message to the binding side at once, which
/// keeps it in the outbox of every group (counted against `capacity`) and hands it out once
/// the delay has passed, timed from when it received the message.
#[derive(Debug)]
pub struct ZmqProducer {
    inner: Arc<Inner>,
    closed: AtomicBool,
}

impl ZmqProducer {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self {
            inner,
            closed: AtomicBool::new(false),
        }
    }

    /// Hands `messages` to the binding side of `topic`, to be handed out once `delay` has
    /// passed (zero: at once).
    async fn deliver(&self, topic: &str, messages: Vec<Message>, delay: Duration) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed(BACKEND, "the producer"));
        }
        if messages.is_empty() {
            return Ok(());
        }
        let wire: Vec<WireMessage> = messages.into_iter().map(WireMessage::encode).collect();
        match self.inner.route(topic) {
            Route::Local(hub) => hub.send(topic, wire, delay).await,
            Route::Remote(link) if wire.len() <= PUBLISH_CHUNK => {
                link.publish(topic, wire, delay).await
            }
            Route::Remote(link) => {
                let mut chunks = Vec::with_capacity(wire.len().div_ceil(PUBLISH_CHUNK));
                let mut wire = wire.into_iter();
                loop {
                    let chunk: Vec<WireMessage> = wire.by_ref().take(PUBLISH_CHUNK).collect();
                    if chunk.is_empty() {
                        break;
                    }
                    chunks.push(link.publish(topic, chunk, delay));
                }
                try_join_all(chunks).await.map(|_| ())
            }
        }
    }
}

#[async_trait]
impl Producer for ZmqProducer {
    async fn send(&self, topic: &str, message: Message) -> Result<()> {
        self.send_batch(topic, vec![message]).await
    }

    async fn send_batch(&self, topic: &str, messages: Vec<Message>) -> Result<()> {
        self.deliver(topic, messages, Duration::ZERO).await
    }

    /// Hands the message to the binding side now (a `PUBLISH` with a delay frame from
    /// another process), which keeps it aside in each group's outbox until `delay` has
    /// passed; returns once it is queued there, as [`send`](Producer::send).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](courier_core::ErrorKind::Config) when `delay` is longer than
    /// `max_delay_ms` (of this process, or of the binding side, which refuses it); otherwise
    /// as for [`send`](Producer::send).
    ///
    /// # Cancel safety
    /// As for [`send`](Producer::send): dropped once sent, the message may or may not be
    /// queued.
    async fn send_after(&self, topic: &str, message: Message, delay: Duration) -> Result<()> {
        let max = self.inner.config.max_delay();
        if delay > max {
            return Err(delay::refused(delay, max));
        }
        self.deliver(topic, vec![message], delay).await
    }

    async fn flush(&self) -> Result<()> {
        self.inner.barrier().await
    }

    async fn close(&self) -> Result<()> {
        let flushed = self.flush().await;
        self.closed.store(true, Ordering::Release);
        flushed
    }
}
