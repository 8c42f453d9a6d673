//! The consumer's connection task: connects a DEALER, announces `HELLO`, waits for the
//! binding side's `WELCOME`, writes the queued settlements, sends heartbeats and notices
//! silence, reconnects with a new generation when the connection is lost, and says `BYE`
//! when the consumer closes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use courier_core::{Delivery, Error, ErrorKind, Result, SubscriptionState, SubscriptionStatus};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::ack::ZmqAck;
use super::receiver::receiver;
use super::settle::{SETTLE_BATCH, Settlement, write_settles};
use crate::BACKEND;
use crate::session::{Access, Dealer, connect};
use crate::wire::{Framing, FromHub, ToHub};

/// What a consumer connects to and announces.
#[derive(Clone, Debug)]
pub(crate) struct ConsumerParams {
    pub(crate) endpoint: String,
    pub(crate) topic: Arc<str>,
    pub(crate) group: String,
    pub(crate) prefetch: u32,
    /// Whether to ask for a temporary group (removed when its last member leaves).
    pub(crate) temporary: bool,
    /// The longest delay of a retry ([`courier_core::Ack::nack_after`]).
    pub(crate) max_delay: Duration,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) access: Access,
}

/// Why a connection ended.
enum Ended {
    /// Closed by the consumer or the broker.
    Closed,
    /// The binding side refused the subscription.
    Refused(Error),
    /// The connection dropped or fell silent; reconnect.
    Lost(String),
}

/// The consumer's connection task.
pub(super) struct Connection {
    pub(super) params: ConsumerParams,
    pub(super) shared: Arc<ZmqAck>,
    pub(super) settles: mpsc::UnboundedReceiver<Settlement>,
    pub(super) deliveries: mpsc::UnboundedSender<Delivery>,
    pub(super) cancel: CancellationToken,
    pub(super) ready: Option<oneshot::Sender<Result<()>>>,
    /// Consuming once welcomed, reconnecting from a lost connection to the next welcome.
    pub(super) status: SubscriptionStatus,
}

impl Connection {
    pub(super) async fn run(mut self) {
        let mut generation = 0u64;
        loop {
            generation = (generation % 0xFFFF) + 1;
            self.shared.generation.store(generation, Ordering::Release);
            let p = &self.params;
            let intercept = receiver(
                self.shared.clone(),
                self.deliveries.clone(),
                p.topic.clone(),
                generation,
            );
            let connected = connect(&p.endpoint, &p.access, &self.cancel, Some(intercept));
            let ended = match connected.await {
                Ok(mut dealer) => self.serve(&mut dealer, generation).await,
                Err(error) if error.kind() == ErrorKind::Closed => Ended::Closed,
                Err(error) if self.ready.is_some() => Ended::Refused(error),
                Err(error) => Ended::Lost(error.to_string()),
            };
            match ended {
                Ended::Closed => {
                    self.status.set(SubscriptionState::Stopped);
                    return;
                }
                Ended::Refused(error) => {
                    self.status.set(SubscriptionState::Stopped);
                    if let Some(ready) = self.ready.take() {
                        let _ = ready.send(Err(error));
                    }
                    return;
                }
                Ended::Lost(reason) => {
                    self.status.set(SubscriptionState::Reconnecting);
                    tracing::warn!(
                        backend = BACKEND,
                        endpoint = %self.params.endpoint,
                        topic = %self.params.topic,
                        group = %self.params.group,
                        reason,
                        "consumer connection lost; reconnecting (unacked deliveries go back to the group)"
                    );
                    tokio::select! {
                        () = self.cancel.cancelled() => {
                            self.status.set(SubscriptionState::Stopped);
                            return;
                        }
                        () = tokio::time::sleep(self.params.heartbeat_interval) => {}
                    }
                }
            }
        }
    }

    async fn serve(&mut self, dealer: &mut Dealer, generation: u64) -> Ended {
        let hello = ToHub::Hello {
            topic: self.params.topic.to_string(),
            group: self.params.group.clone(),
            prefetch: self.params.prefetch,
            temporary: self.params.temporary,
            framing: Framing::for_limit(self.params.access.max_message_bytes),
        };
        if let Err(error) = dealer.send(hello).await {
            return Ended::Lost(error.to_string());
        }
        let mut welcomed = false;
        let mut last_heard = Instant::now();
        let mut tick = tokio::time::interval_at(
            Instant::now() + self.params.heartbeat_interval,
            self.params.heartbeat_interval,
        );
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => {
                    while let Ok(settle) = self.settles.try_recv() {
                        batch.push(settle);
                    }
                    let _ = write_settles(dealer, &mut batch, generation).await;
                    self.say_goodbye(dealer).await;
                    return Ended::Closed;
                }
                settle = self.settles.recv() => {
                    let Some(settle) = settle else { return Ended::Closed };
                    batch.push(settle);
                    while batch.len() < SETTLE_BATCH {
                        match self.settles.try_recv() {
                            Ok(settle) => batch.push(settle),
                            Err(_) => break,
                        }
                    }
                    if let Err(error) = write_settles(dealer, &mut batch, generation).await {
                        return Ended::Lost(error.to_string());
                    }
                }
                frames = dealer.incoming.recv() => {
                    let Some(frames) = frames else {
                        return Ended::Lost("the socket stopped receiving".to_owned());
                    };
                    last_heard = Instant::now();
                    match FromHub::parse(frames) {
                        Ok(FromHub::Welcome { .. }) => {
                            welcomed = true;
                            self.status.set(SubscriptionState::Consuming);
                            if let Some(ready) = self.ready.take() {
                                let _ = ready.send(Ok(()));
                            }
                        }
                        Ok(FromHub::Error { reason, .. }) if !welcomed => {
                            return Ended::Refused(Error::new(
                                BACKEND,
                                ErrorKind::Connection,
                                format!("the binding side refused the subscription: {reason}"),
                            ));
                        }
                        Ok(FromHub::Error { reason, .. }) => {
                            // Only a consumer that is no longer a member gets one now.
                            return Ended::Lost(format!("the binding side says: {reason}"));
                        }
                        Ok(
                            FromHub::Msg { .. }
                            | FromHub::Pong
                            | FromHub::Ok { .. }
                            | FromHub::Nonce { .. }
                            | FromHub::Authenticated,
                        ) => {}
                        Err(malformed) => {
                            tracing::debug!(backend = BACKEND, reason = malformed.reason, "malformed frames ignored");
                        }
                    }
                }
                () = dealer.events.disconnected() => {
                    return Ended::Lost("the binding side disconnected".to_owned());
                }
                _ = tick.tick() => {
                    if self.shared.heard.swap(false, Ordering::AcqRel) {
                        last_heard = Instant::now();
                    }
                    if last_heard.elapsed() > self.params.heartbeat_timeout {
                        return Ended::Lost(format!(
                            "nothing heard for {:?}", self.params.heartbeat_timeout
                        ));
                    }
                    if let Err(error) = dealer.send(ToHub::Ping).await {
                        return Ended::Lost(error.to_string());
                    }
                }
            }
        }
    }

    /// Sends `BYE`, then a `PING`, and waits (at most a heartbeat timeout) for the `PONG`.
    /// The binding side reads a connection's frames in order, so its `PONG` means it has
    /// taken the settlements and the `BYE` written before: only then may the socket go, as
    /// dropping it can discard frames still queued for writing.
    async fn say_goodbye(&self, dealer: &mut Dealer) {
        if dealer.send(ToHub::Bye).await.is_err() || dealer.send(ToHub::Ping).await.is_err() {
            return;
        }
        let pong = async {
            while let Some(frames) = dealer.incoming.recv().await {
                if matches!(FromHub::parse(frames), Ok(FromHub::Pong)) {
                    return;
                }
            }
        };
        if tokio::time::timeout(self.params.heartbeat_timeout, pong)
            .await
            .is_err()
        {
            tracing::debug!(
                backend = BACKEND,
                endpoint = %self.params.endpoint,
                "no PONG after BYE; closing anyway (the binding side notices the disconnect)"
            );
        }
    }
}
