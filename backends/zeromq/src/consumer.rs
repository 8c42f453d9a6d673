//! [`ZmqConsumer`]: one DEALER connection per consumer, announcing its group and credit to
//! the binding side, receiving `MSG`s, and settling them with batched `ACK`/`NACK`/`REJECT`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use courier_core::{Ack, Consumer, Delivery, Error, ErrorKind, Result, token};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::BACKEND;
use crate::session::{Access, Dealer, connect};
use crate::socket::Intercept;
use crate::wire::{FromHub, ToHub};

/// Settlements written in one go.
const SETTLE_BATCH: usize = 4096;

/// What a consumer connects to and announces.
#[derive(Clone, Debug)]
pub(crate) struct ConsumerParams {
    pub(crate) endpoint: String,
    pub(crate) topic: Arc<str>,
    pub(crate) group: String,
    pub(crate) prefetch: u32,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) access: Access,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Ack,
    Nack,
    Reject,
}

/// State shared by the consumer, its connection task and the deliveries it handed out; it
/// is the consumer's [`Ack`].
#[derive(Debug)]
struct ZmqAck {
    generation: AtomicU64,
    closed: AtomicBool,
    /// Set by the reader task on every message, cleared by the heartbeat check.
    heard: AtomicBool,
    settle: mpsc::UnboundedSender<(u64, Op)>,
}

impl ZmqAck {
    fn settle(&self, token: u64, op: Op) -> Result<()> {
        let generation = self.open_generation()?;
        if !token::is_of(token, generation) {
            return Err(connection_lost());
        }
        self.settle.send((token, op)).map_err(|_| task_stopped())
    }

    /// Queues an ack of every token with one check of closed and generation. The channel
    /// carries one settlement per item, which costs no lock; the connection task writes
    /// them out in batches.
    fn ack_batch(&self, tokens: &[u64]) -> Result<()> {
        let generation = self.open_generation()?;
        let mut lost = false;
        for &token in tokens {
            if !token::is_of(token, generation) {
                lost = true;
                continue;
            }
            self.settle
                .send((token, Op::Ack))
                .map_err(|_| task_stopped())?;
        }
        if lost {
            return Err(connection_lost());
        }
        Ok(())
    }

    /// The current connection generation, unless the consumer is closed.
    fn open_generation(&self) -> Result<u64> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(
                BACKEND,
                ErrorKind::Ack,
                "the consumer is closed; its unsettled deliveries went back to the group",
            ));
        }
        Ok(self.generation.load(Ordering::Acquire))
    }
}

fn connection_lost() -> Error {
    Error::new(
        BACKEND,
        ErrorKind::Ack,
        "the connection this delivery came on was lost; it went back to its group",
    )
}

fn task_stopped() -> Error {
    Error::new(
        BACKEND,
        ErrorKind::Ack,
        "the consumer's connection task has stopped",
    )
}

#[async_trait]
impl Ack for ZmqAck {
    async fn ack(&self, token: u64) -> Result<()> {
        self.settle(token, Op::Ack)
    }

    async fn nack(&self, token: u64, requeue: bool) -> Result<()> {
        self.settle(token, if requeue { Op::Nack } else { Op::Reject })
    }

    async fn ack_batch(&self, tokens: &[u64]) -> Result<()> {
        ZmqAck::ack_batch(self, tokens)
    }
}

/// A consumer of one topic as a member of one group, over its own DEALER connection.
///
/// The binding side never hands it more than `prefetch` unsettled deliveries. Acks are
/// queued to the connection task and written in batches; an ack returns once queued.
/// Closing or dropping it sends `BYE`, and the binding side gives its unsettled deliveries
/// to the rest of the group (as it does when the connection drops or falls silent).
#[derive(Debug)]
pub struct ZmqConsumer {
    deliveries: mpsc::UnboundedReceiver<Delivery>,
    shared: Arc<ZmqAck>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
    _keep_alive: Arc<dyn std::any::Any + Send + Sync>,
}

impl ZmqConsumer {
    /// Connects, announces the subscription, and waits for the binding side's `WELCOME`.
    pub(crate) async fn start(
        params: ConsumerParams,
        cancel: CancellationToken,
        keep_alive: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Result<Self> {
        let (settle_tx, settle_rx) = mpsc::unbounded_channel();
        let (deliveries_tx, deliveries) = mpsc::unbounded_channel();
        let shared = Arc::new(ZmqAck {
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            heard: AtomicBool::new(false),
            settle: settle_tx,
        });
        let (ready_tx, ready) = oneshot::channel();
        let wait = params.access.timeout + params.heartbeat_interval;
        let endpoint = params.endpoint.clone();
        let task = tokio::spawn(
            Connection {
                params,
                shared: shared.clone(),
                settles: settle_rx,
                deliveries: deliveries_tx,
                cancel: cancel.clone(),
                ready: Some(ready_tx),
            }
            .run(),
        );
        let consumer = Self {
            deliveries,
            shared,
            cancel,
            task: Some(task),
            _keep_alive: keep_alive,
        };
        match tokio::time::timeout(wait, ready).await {
            Ok(Ok(Ok(()))) => Ok(consumer),
            Ok(Ok(Err(error))) => Err(error),
            Ok(Err(_)) => Err(Error::closed(BACKEND, "the zeromq broker")),
            Err(_) => Err(Error::new(
                BACKEND,
                ErrorKind::Connection,
                format!(
                    "no WELCOME from the binding side at {endpoint} within {wait:?}; is the \
                     process that binds it running?"
                ),
            )),
        }
    }

    fn current(&self, delivery: &Delivery) -> bool {
        token::is_of(
            delivery.token(),
            self.shared.generation.load(Ordering::Acquire),
        )
    }
}

#[async_trait]
impl Consumer for ZmqConsumer {
    async fn recv(&mut self) -> Result<Option<Delivery>> {
        loop {
            if self.shared.closed.load(Ordering::Acquire) {
                return Ok(None);
            }
            match self.deliveries.recv().await {
                // A delivery of a lost connection already went back to the group.
                Some(delivery) if !self.current(&delivery) => {}
                other => return Ok(other),
            }
        }
    }

    async fn recv_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        let Some(first) = self.recv().await? else {
            return Ok(Vec::new());
        };
        let mut batch = Vec::with_capacity(max.clamp(1, 1024));
        batch.push(first);
        while batch.len() < max {
            match self.deliveries.try_recv() {
                Ok(delivery) if self.current(&delivery) => batch.push(delivery),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(batch)
    }

    async fn close(&mut self) -> Result<()> {
        self.shared.closed.store(true, Ordering::Release);
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            // The task writes pending settlements and BYE, then ends.
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        self.deliveries.close();
        Ok(())
    }
}

impl Drop for ZmqConsumer {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.cancel.cancel();
    }
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
struct Connection {
    params: ConsumerParams,
    shared: Arc<ZmqAck>,
    settles: mpsc::UnboundedReceiver<(u64, Op)>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    cancel: CancellationToken,
    ready: Option<oneshot::Sender<Result<()>>>,
}

impl Connection {
    async fn run(mut self) {
        let mut generation = 0u64;
        loop {
            generation = (generation % 0xFFFF) + 1;
            self.shared.generation.store(generation, Ordering::Release);
            let p = &self.params;
            let intercept = self.receiver(generation);
            let connected = connect(&p.endpoint, &p.access, &self.cancel, Some(intercept));
            let ended = match connected.await {
                Ok(mut dealer) => self.serve(&mut dealer, generation).await,
                Err(error) if error.kind() == ErrorKind::Closed => Ended::Closed,
                Err(error) if self.ready.is_some() => Ended::Refused(error),
                Err(error) => Ended::Lost(error.to_string()),
            };
            match ended {
                Ended::Closed => return,
                Ended::Refused(error) => {
                    if let Some(ready) = self.ready.take() {
                        let _ = ready.send(Err(error));
                    }
                    return;
                }
                Ended::Lost(reason) => {
                    tracing::warn!(
                        backend = BACKEND,
                        endpoint = %self.params.endpoint,
                        topic = %self.params.topic,
                        group = %self.params.group,
                        reason,
                        "consumer connection lost; reconnecting (unacked deliveries go back to the group)"
                    );
                    tokio::select! {
                        () = self.cancel.cancelled() => return,
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
                    let _ = self.write_settles(dealer, &mut batch, generation).await;
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
                    if let Err(error) = self.write_settles(dealer, &mut batch, generation).await {
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

    /// What the reader task of connection `generation` does with each message: a `MSG`
    /// becomes a [`Delivery`] handed straight to the consumer (one that cannot be read is
    /// rejected and logged); the rest goes on to this task.
    fn receiver(&self, generation: u64) -> Intercept {
        let shared = self.shared.clone();
        let deliveries = self.deliveries.clone();
        let topic = self.params.topic.clone();
        Box::new(move |frames: Vec<Bytes>| {
            shared.heard.store(true, Ordering::Release);
            if frames.get(1).map(|c| c.as_ref()) != Some(b"MSG".as_slice()) {
                return Some(frames);
            }
            let (tag, attempt, message) = match FromHub::parse(frames) {
                Ok(FromHub::Msg {
                    tag,
                    attempt,
                    message,
                }) => (tag, attempt, message),
                Ok(_) => return None,
                Err(malformed) => {
                    tracing::warn!(backend = BACKEND, %topic, reason = malformed.reason, "unreadable MSG ignored");
                    return None;
                }
            };
            if tag > token::MAX_TAG {
                tracing::warn!(backend = BACKEND, %topic, tag, "MSG ignored: its tag is above 2^48");
                return None;
            }
            let token = token::pack(generation, tag);
            match message.decode() {
                Ok(message) => {
                    let delivery =
                        Delivery::new(message, topic.clone(), attempt, shared.clone(), token);
                    // A send fails only once the consumer is gone; its BYE hands it back.
                    let _ = deliveries.send(delivery);
                }
                Err(reason) => {
                    tracing::warn!(backend = BACKEND, %topic, reason, "rejecting a delivery that cannot be read");
                    let _ = shared.settle.send((token, Op::Reject));
                }
            }
            None
        })
    }

    /// Writes settlements of the current connection, grouped by kind; drops the rest (their
    /// deliveries went back to the group with the connection that carried them).
    async fn write_settles(
        &self,
        dealer: &mut Dealer,
        batch: &mut Vec<(u64, Op)>,
        generation: u64,
    ) -> Result<()> {
        let (mut acks, mut nacks, mut rejects) = (Vec::new(), Vec::new(), Vec::new());
        for (token, op) in batch.drain(..) {
            if !token::is_of(token, generation) {
                continue;
            }
            let tag = token::tag(token);
            match op {
                Op::Ack => acks.push(tag),
                Op::Nack => nacks.push(tag),
                Op::Reject => rejects.push(tag),
            }
        }
        if !acks.is_empty() {
            dealer.send(ToHub::Ack(acks)).await?;
        }
        if !nacks.is_empty() {
            dealer.send(ToHub::Nack(nacks)).await?;
        }
        if !rejects.is_empty() {
            dealer.send(ToHub::Reject(rejects)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(generation: u64) -> (ZmqAck, mpsc::UnboundedReceiver<(u64, Op)>) {
        let (settle, settles) = mpsc::unbounded_channel();
        let shared = ZmqAck {
            generation: AtomicU64::new(generation),
            closed: AtomicBool::new(false),
            heard: AtomicBool::new(false),
            settle,
        };
        (shared, settles)
    }

    #[test]
    fn a_batch_queues_the_current_connections_acks_and_reports_the_lost_ones() {
        let (shared, mut settles) = shared(2);
        let current = |tag: u64| token::pack(2, tag);
        shared.ack_batch(&[current(1), current(2)]).expect("queued");
        let err = shared
            .ack_batch(&[token::pack(1, 3), current(4)])
            .expect_err("one came on a lost connection");
        assert_eq!(err.kind(), ErrorKind::Ack);
        let mut queued = Vec::new();
        while let Ok(settle) = settles.try_recv() {
            queued.push(settle);
        }
        assert_eq!(
            queued,
            vec![
                (current(1), Op::Ack),
                (current(2), Op::Ack),
                (current(4), Op::Ack)
            ]
        );
        shared.closed.store(true, Ordering::Release);
        assert!(shared.ack_batch(&[current(5)]).is_err());
        assert!(settles.try_recv().is_err(), "nothing queued once closed");
    }
}
