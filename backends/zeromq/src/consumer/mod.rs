//! [`ZmqConsumer`]: one DEALER connection per consumer, announcing its group and credit to
//! the binding side, receiving `MSG`s, and settling them with batched `ACK`/`NACK`/`REJECT`,
//! or `RETRY` for a redelivery after a delay.
//!
//! This file holds the consumer itself, what the runtime calls; the rest is in one file per
//! part: `ack` (the [`Ack`](courier_core::Ack) its deliveries carry, which queues
//! settlements), `settle` (the kinds of settlement and how they are written), `connection`
//! (the task that owns the connection, reconnecting when it is lost) and `receiver` (what
//! the reader task makes of each `MSG`).

mod ack;
mod connection;
mod receiver;
mod settle;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use courier_core::{
    Consumer, Delivery, Error, ErrorKind, Result, SubscriptionState, SubscriptionStatus,
    backend::fill_batch, token,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::ack::ZmqAck;
use self::connection::Connection;
pub(crate) use self::connection::ConsumerParams;
use crate::BACKEND;

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
    status: SubscriptionStatus,
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
            max_delay: params.max_delay,
        });
        let (ready_tx, ready) = oneshot::channel();
        let wait = params.access.timeout + params.heartbeat_interval;
        let endpoint = params.endpoint.clone();
        let status = SubscriptionStatus::default();
        let task = tokio::spawn(
            Connection {
                params,
                shared: shared.clone(),
                settles: settle_rx,
                deliveries: deliveries_tx,
                cancel: cancel.clone(),
                ready: Some(ready_tx),
                status: status.clone(),
            }
            .run(),
        );
        let consumer = Self {
            deliveries,
            shared,
            cancel,
            task: Some(task),
            status,
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
        Ok(fill_batch(
            self,
            first,
            max,
            |c| c.deliveries.try_recv().ok(),
            Self::current,
        ))
    }

    async fn close(&mut self) -> Result<()> {
        self.shared.closed.store(true, Ordering::Release);
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            // The task writes pending settlements and BYE, then ends.
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        self.deliveries.close();
        self.status.set(SubscriptionState::Stopped);
        Ok(())
    }

    /// Consuming while its connection to the binding side is welcomed; reconnecting from a
    /// lost or silent connection (`heartbeat_timeout_ms`) until it is welcomed again.
    fn status(&self) -> Option<SubscriptionStatus> {
        Some(self.status.clone())
    }
}

impl Drop for ZmqConsumer {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.cancel.cancel();
    }
}
