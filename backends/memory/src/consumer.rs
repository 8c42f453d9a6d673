//! The consumer: takes deliveries from its group, waits cancel-safely when there are none.

use std::{pin::pin, sync::Arc};

use async_trait::async_trait;
use courier_core::{Consumer, Delivery, Origin, Result, backend::group::MemberId};
use tokio::sync::Notify;

use crate::{
    ack::MemoryAck,
    group::Group,
    state::{Take, Wakes},
};

/// What one attempt to take deliveries found.
enum Found {
    /// At least one delivery.
    Deliveries(Vec<Delivery>),
    /// Nothing now; `full` when at the prefetch bound.
    Idle { full: bool },
    /// The broker is closed.
    Closed,
}

/// One member of a group.
///
/// Closing or dropping it gives every unsettled delivery, and every message routed to it by
/// key and not yet taken, back to the front of the group in their original order.
pub(crate) struct MemoryConsumer {
    group: Arc<Group>,
    member: MemberId,
    /// Woken for messages routed to this consumer and for freed prefetch room.
    notify: Arc<Notify>,
    /// The topic and acker every delivery shares.
    origin: Arc<Origin>,
    closed: bool,
}

impl MemoryConsumer {
    /// Attaches a new consumer to `group`.
    pub(crate) fn attach(group: Arc<Group>, prefetch: usize) -> Self {
        let notify = Arc::new(Notify::new());
        let member = group.lock().attach(prefetch, notify.clone());
        let acker = Arc::new(MemoryAck {
            group: group.clone(),
            member,
        });
        Self {
            origin: Origin::new(group.topic.clone(), acker),
            group,
            member,
            notify,
            closed: false,
        }
    }

    /// One attempt to take up to `max` deliveries, under one lock.
    fn take(&self, max: usize) -> Found {
        let mut wakes = Wakes::default();
        let taken =
            self.group
                .lock()
                .take(self.member, max, &mut wakes, |message, attempt, token| {
                    Delivery::new(message, self.origin.clone(), attempt, token)
                });
        self.group.wake(wakes);
        match taken {
            Take::Taken(deliveries) => Found::Deliveries(deliveries),
            Take::Idle { full } => Found::Idle { full },
            Take::Closed => Found::Closed,
        }
    }

    fn detach(&mut self) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let mut wakes = Wakes::default();
        self.group.lock().detach(self.member, &mut wakes);
        self.group.wake(wakes);
    }
}

#[async_trait]
impl Consumer for MemoryConsumer {
    async fn recv(&mut self) -> Result<Option<Delivery>> {
        Ok(self.recv_batch(1).await?.pop())
    }

    /// Waits for the first delivery, then takes what else is there, up to `max` and the
    /// prefetch room, under one lock.
    ///
    /// # Cancel safety
    /// Deliveries are taken and returned in one step with no await in between; a dropped
    /// future has taken nothing.
    async fn recv_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        loop {
            if self.closed {
                return Ok(Vec::new());
            }
            match self.take(max) {
                Found::Deliveries(deliveries) => return Ok(deliveries),
                Found::Closed => return Ok(Vec::new()),
                Found::Idle { .. } => {}
            }
            // Register for wake-ups before looking again, so none is lost in between.
            let mut own = pin!(self.notify.notified());
            own.as_mut().enable();
            match self.take(max) {
                Found::Deliveries(deliveries) => return Ok(deliveries),
                Found::Closed => return Ok(Vec::new()),
                Found::Idle { full: true } => {
                    // Only a settle can help: do not stand in line for the shared queue, where
                    // this consumer would swallow a wake-up meant for one with room.
                    own.await;
                    continue;
                }
                Found::Idle { full: false } => {}
            }
            let mut shared = pin!(self.group.ready.notified());
            shared.as_mut().enable();
            match self.take(max) {
                Found::Deliveries(deliveries) => return Ok(deliveries),
                Found::Closed => return Ok(Vec::new()),
                // Room only shrinks by taking; loop to wait on the right signal. Dropping
                // `shared` hands a wake-up it received to the next waiter.
                Found::Idle { full: true } => continue,
                Found::Idle { full: false } => {
                    tokio::select! {
                        () = &mut own => {}
                        () = &mut shared => {}
                    }
                }
            }
        }
    }

    async fn close(&mut self) -> Result<()> {
        self.detach();
        Ok(())
    }
}

impl Drop for MemoryConsumer {
    fn drop(&mut self) {
        self.detach();
    }
}
