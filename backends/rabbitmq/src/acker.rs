//! Settling deliveries: [`RabbitMqAck`], shared by a consumer and its deliveries.
//!
//! A delivery's token packs the generation of the channel that delivered it (16 bits; a new
//! channel after every reconnection) with its delivery tag (48 bits). A delivery from a channel
//! that is gone can no longer be settled: RabbitMQ delivers it again, and `ack` says so with an
//! [`ErrorKind::Ack`] error.
//!
//! `nack(requeue = true)` on a classic queue publishes a copy of the message to the group's
//! queue (through the default exchange) with its `courier-attempt` header raised by one, waits
//! for the broker's confirm, then acks the original: classic queues keep no delivery count, and
//! a plain requeue would lose the attempt number. The copy joins the back of the queue. On a
//! quorum queue the message is requeued natively and RabbitMQ's `x-delivery-count` counts the
//! attempts.
//!
//! `nack_after` publishes the copy to the group's delay queue instead (see [`crate::delay`]),
//! from where RabbitMQ moves it back to the group's queue once the delay has passed.
//!
//! `ack_batch` checks the channel once and sends one `basic.ack` per delivery tag, all in flight
//! together; it never acks with `multiple = true`, which would also settle lower tags the
//! application still holds or is nacking.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use bytes::Bytes;
use courier_core::{Ack, Error, ErrorKind, Result, token};
use futures::future::try_join_all;
use lapin::{
    BasicProperties, Channel,
    options::{BasicAckOptions, BasicRejectOptions},
};
use tracing::warn;

use crate::{
    BACKEND,
    delay::Delays,
    error::from_lapin,
    publisher::{Outgoing, Publisher, Target},
    wire,
};

/// The token of delivery `tag` on the channel of `generation`.
pub(crate) fn token(generation: u64, tag: u64) -> u64 {
    courier_core::token::pack(generation, tag)
}

/// What a requeue needs to publish a copy.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) properties: BasicProperties,
    pub(crate) body: Bytes,
    pub(crate) attempt: u32,
}

/// How `nack(requeue = true)` gives a message back to its group.
#[derive(Debug)]
pub(crate) enum Requeue {
    /// Publish a copy with the attempt raised, then ack the original (classic queues).
    Republish(Arc<Publisher>),
    /// `basic.reject(requeue)`; the queue counts deliveries itself (quorum queues).
    Native,
}

/// The channel a consumer currently receives on.
#[derive(Debug)]
struct Session {
    channel: Channel,
    generation: u64,
}

/// Settles the deliveries of one consumer.
#[derive(Debug)]
pub(crate) struct RabbitMqAck {
    queue: String,
    requeue: Requeue,
    /// Where `nack_after` sends its copies; `None`: no delayed redelivery.
    delays: Option<Arc<Delays>>,
    session: RwLock<Option<Arc<Session>>>,
    generation: AtomicU64,
    held: Mutex<HashMap<u64, Held>>,
    closed: AtomicBool,
}

impl RabbitMqAck {
    /// An acker for the consumer of `queue`, retrying after a delay through `delays`.
    pub(crate) fn new(queue: String, requeue: Requeue, delays: Option<Arc<Delays>>) -> Self {
        Self {
            queue,
            requeue,
            delays,
            session: RwLock::new(None),
            generation: AtomicU64::new(0),
            held: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// Starts a new generation on `channel`; deliveries of earlier channels become stale.
    /// Does nothing once the consumer is closed.
    pub(crate) fn install(&self, channel: Channel) {
        let mut session = self.session.write().unwrap_or_else(|p| p.into_inner());
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire).wrapping_add(1);
        *session = Some(Arc::new(Session {
            channel,
            generation,
        }));
        self.generation.store(generation, Ordering::Release);
        drop(session);
        self.lock_held().retain(|&t, _| token::is_of(t, generation));
    }

    /// Forgets the current channel (it was lost): its deliveries become stale.
    pub(crate) fn invalidate(&self) {
        self.session
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock_held().clear();
    }

    /// Marks the consumer closed: settling fails from now on.
    pub(crate) fn close(&self) {
        let session = self.session.write().unwrap_or_else(|p| p.into_inner());
        self.closed.store(true, Ordering::Release);
        drop(session);
        self.invalidate();
    }

    /// The generation of the current channel.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether the delivery of `token` came from a channel that is gone.
    pub(crate) fn is_stale(&self, token: u64) -> bool {
        !token::is_of(token, self.generation.load(Ordering::Acquire))
    }

    /// Whether requeues or delayed retries publish copies (and so need the deliveries'
    /// content).
    pub(crate) fn holds_content(&self) -> bool {
        matches!(self.requeue, Requeue::Republish(_)) || self.delays.is_some()
    }

    /// Keeps what a requeue of the deliveries `batch` would publish.
    pub(crate) fn hold(&self, batch: impl IntoIterator<Item = (u64, Held)>) {
        self.lock_held().extend(batch);
    }

    fn lock_held(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take_held(&self, token: u64) -> Option<Held> {
        if self.holds_content() {
            self.lock_held().remove(&token)
        } else {
            None
        }
    }

    /// The current channel, unless the consumer is closed or has none.
    fn current_session(&self) -> Result<Arc<Session>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(ack_error(
                "the consumer is closed; RabbitMQ delivers the message again",
            ));
        }
        let session = self.session.read().unwrap_or_else(|p| p.into_inner());
        session.as_ref().cloned().ok_or_else(channel_gone)
    }

    /// The channel that delivered `token`, if it is still the current one.
    fn session_of(&self, token: u64) -> Result<Arc<Session>> {
        let session = self.current_session()?;
        if token::is_of(token, session.generation) {
            Ok(session)
        } else {
            Err(channel_gone())
        }
    }

    async fn republish(&self, publisher: &Publisher, held: Held) -> Result<()> {
        let target = Target {
            exchange: "".into(),
            declare: false,
            mandatory: true,
        };
        publisher.publish(&target, vec![self.next_copy(held)]).await
    }

    /// The copy of `held` for its next attempt, addressed to the group's queue.
    fn next_copy(&self, held: Held) -> Outgoing {
        Outgoing {
            routing_key: self.queue.as_str().into(),
            properties: wire::with_attempt(&held.properties, held.attempt.saturating_add(1)),
            body: held.body,
        }
    }
}

#[async_trait]
impl Ack for RabbitMqAck {
    async fn ack(&self, token: u64) -> Result<()> {
        let session = self.session_of(token)?;
        self.take_held(token);
        session
            .channel
            .basic_ack(token::tag(token), BasicAckOptions::default())
            .await
            .map_err(|e| from_lapin(ErrorKind::Ack, "ack failed", e))
    }

    /// Checks the channel once, forgets the held copies under one lock, and puts one
    /// `basic.ack` per delivery tag in flight together. Never `multiple = true`: a lower tag
    /// may be held, or being nacked, by the application at the same time.
    async fn ack_batch(&self, tokens: &[u64]) -> Result<()> {
        if tokens.is_empty() {
            return Ok(());
        }
        let session = self.current_session()?;
        let is_current = |t: &&u64| token::is_of(**t, session.generation);
        if self.holds_content() {
            let mut held = self.lock_held();
            for token in tokens.iter().filter(is_current) {
                held.remove(token);
            }
        }
        let acks = tokens.iter().filter(is_current).map(|token| {
            session
                .channel
                .basic_ack(token::tag(*token), BasicAckOptions::default())
        });
        try_join_all(acks)
            .await
            .map_err(|e| from_lapin(ErrorKind::Ack, "ack failed", e))?;
        if tokens.iter().any(|token| !is_current(&token)) {
            return Err(channel_gone());
        }
        Ok(())
    }

    async fn nack(&self, token: u64, requeue: bool) -> Result<()> {
        let session = self.session_of(token)?;
        let held = self.take_held(token);
        let tag = token::tag(token);
        if requeue {
            if let (Requeue::Republish(publisher), Some(held)) = (&self.requeue, held) {
                match self.republish(publisher, held).await {
                    Ok(()) => return ack_original(&session, tag, "requeued").await,
                    Err(e) => warn!(
                        queue = %self.queue,
                        error = %e,
                        "publishing the requeued copy failed; requeueing the original (its attempt count is not raised)"
                    ),
                }
            }
        }
        session
            .channel
            .basic_reject(tag, BasicRejectOptions { requeue })
            .await
            .map_err(|e| from_lapin(ErrorKind::Ack, "nack failed", e))
    }

    /// Publishes a copy with the attempt raised to the group's delay queue (see
    /// [`crate::delay`]), waits for its confirm, then acks the original. When the copy cannot
    /// be published, the original is requeued at once and the error returned.
    async fn nack_after(&self, token: u64, delay: Duration) -> Result<()> {
        let Some(delays) = &self.delays else {
            return Err(Error::new(
                BACKEND,
                ErrorKind::Unsupported,
                "this consumer has no delay queues",
            ));
        };
        if delay.is_zero() {
            return self.nack(token, true).await;
        }
        let session = self.session_of(token)?;
        let tag = token::tag(token);
        let Some(held) = self.take_held(token) else {
            return Err(ack_error("the delivery's content is no longer held"));
        };
        match delays.retry(&self.queue, delay, self.next_copy(held)).await {
            Ok(()) => ack_original(&session, tag, "delayed").await,
            Err(e) => {
                warn!(queue = %self.queue, error = %e, "publishing the delayed copy failed; requeueing the original now");
                session
                    .channel
                    .basic_reject(tag, BasicRejectOptions { requeue: true })
                    .await
                    .ok();
                Err(e)
            }
        }
    }
}

/// Acks delivery `tag` once its `what` copy (requeued, delayed) is published.
async fn ack_original(session: &Session, tag: u64, what: &str) -> Result<()> {
    session
        .channel
        .basic_ack(tag, BasicAckOptions::default())
        .await
        .map_err(|e| {
            from_lapin(
                ErrorKind::Ack,
                &format!(
                    "acking the original after publishing its {what} copy failed (it may arrive \
                     twice)"
                ),
                e,
            )
        })
}

fn ack_error(message: &str) -> Error {
    Error::new(BACKEND, ErrorKind::Ack, message)
}

fn channel_gone() -> Error {
    ack_error(
        "the channel that delivered the message is gone (the connection dropped); \
         RabbitMQ delivers it again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_of_a_lost_channel_are_stale() {
        let acker = RabbitMqAck::new("q".into(), Requeue::Native, None);
        assert!(acker.is_stale(token(1, 1)));
        acker.generation.store(1, Ordering::Release);
        assert!(!acker.is_stale(token(1, 1)));
        acker.invalidate();
        assert!(acker.is_stale(token(1, 1)));
        let err = acker.session_of(token(2, 1)).expect_err("no channel");
        assert_eq!(err.kind(), ErrorKind::Ack);
    }

    #[test]
    fn a_batch_without_a_channel_is_refused_and_an_empty_one_is_not() {
        let acker = RabbitMqAck::new("q".into(), Requeue::Native, None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            acker.ack_batch(&[]).await.expect("nothing to ack");
            let err = acker
                .ack_batch(&[token(1, 1), token(1, 2)])
                .await
                .expect_err("no channel");
            assert_eq!(err.kind(), ErrorKind::Ack);
            acker.close();
            let err = acker.ack_batch(&[token(2, 1)]).await.expect_err("closed");
            assert!(err.message().contains("closed"), "{err}");
        });
    }
}
