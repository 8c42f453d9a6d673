//! One group's state under its lock: core's group engine plus what the in-memory queue adds
//! — a capacity that senders wait on, closing, and the `Notify` that wakes each consumer.
//! Everything here is synchronous; waking the group-wide waiters is left to the caller
//! through [`Wakes`].

use std::{sync::Arc, time::Instant};

use courier_core::Message;
use courier_core::backend::group::{self, Member, MemberId};
use tokio::sync::Notify;

pub(crate) use courier_core::Settle;
pub(crate) use group::SettleError;

/// The message of an [`Entry`].
#[derive(Clone, Debug)]
pub(crate) enum Body {
    /// Held by this group alone, as the producer sent it: enqueueing allocates nothing.
    Owned(Message),
    /// Shared by the groups of a topic with several.
    Shared(Arc<Message>),
}

impl Body {
    /// The message, for a copy handed out while the group keeps this one.
    fn message(&self) -> &Message {
        match self {
            Body::Owned(message) => message,
            Body::Shared(message) => message,
        }
    }
}

/// A message on its way into a group.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) body: Body,
    /// Hash of the message key, when it has one.
    pub(crate) key: Option<u64>,
    /// When it joins the group, for a delayed send; `None`: at once.
    pub(crate) due: Option<Instant>,
}

impl Entry {
    /// A message not delivered yet, joining the group at `due` (`None`: at once).
    pub(crate) fn new(body: Body, key: Option<u64>, due: Option<Instant>) -> Self {
        Self { body, key, due }
    }
}

/// A consumer as the group sees it: the signal that wakes its `recv`, for messages routed to
/// it by key and for freed prefetch room.
pub(crate) struct Waiter(Arc<Notify>);

impl Member for Waiter {
    fn wake(&self) {
        self.0.notify_one();
    }
}

/// Whom to wake once the lock is released.
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub(crate) struct Wakes {
    /// One consumer waiting for the shared queue.
    pub(crate) ready: bool,
    /// Every sender waiting for room.
    pub(crate) space: bool,
    /// The earliest time a delayed message added under the lock is due: a timer must
    /// release it then.
    pub(crate) timer: Option<Instant>,
}

impl Wakes {
    fn due_at(&mut self, due: Instant) {
        self.timer = Some(self.timer.map_or(due, |t| t.min(due)));
    }
}

/// What a consumer's attempt to take deliveries found; `T` is what the consumer makes of
/// each delivery (see [`GroupState::take`]).
pub(crate) enum Take<T> {
    /// Deliveries, at least one.
    Taken(Vec<T>),
    /// Nothing to take now. `full` when the consumer is at its prefetch bound.
    Idle { full: bool },
    /// The consumer or the whole broker is closed.
    Closed,
}

/// Sizes of a group's queues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Messages in the shared queue, waiting for any consumer.
    pub ready: usize,
    /// Messages routed by key to one consumer and not yet taken by it.
    pub pending: usize,
    /// Messages delivered and not yet acked or nacked.
    pub unacked: usize,
    /// Consumers attached to the group.
    pub consumers: usize,
    /// Messages waiting for their time: delayed retries and sends.
    pub delayed: usize,
}

/// The messages and consumers of one group, with its capacity.
pub(crate) struct GroupState {
    capacity: usize,
    engine: group::Group<Body, Waiter>,
    closed: bool,
    /// Senders that registered to wait for room since the last wake.
    space_waiters: usize,
    /// The least room any of them asked for.
    space_need: usize,
}

impl GroupState {
    /// An empty group that holds at most `capacity` messages (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            engine: group::Group::new(),
            closed: false,
            space_waiters: 0,
            space_need: usize::MAX,
        }
    }

    /// The most messages the group holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many more messages the group can take.
    pub(crate) fn room(&self) -> usize {
        self.capacity.saturating_sub(self.engine.held())
    }

    /// Whether the broker was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Marks the group closed: consumers receive nothing more, senders fail. Wakes every
    /// consumer; the caller wakes the shared waiters.
    pub(crate) fn close(&mut self) {
        self.closed = true;
        for (_, waiter) in self.engine.iter_members() {
            waiter.wake();
        }
    }

    /// Sizes of the queues.
    pub(crate) fn stats(&self) -> GroupStats {
        let stats = self.engine.stats();
        GroupStats {
            ready: stats.shared,
            pending: stats.routed,
            unacked: stats.unacked,
            consumers: stats.members,
            delayed: stats.delayed,
        }
    }

    /// Enqueues `entry` (the caller checked [`room`](Self::room)).
    pub(crate) fn push(&mut self, entry: Entry, wakes: &mut Wakes) {
        debug_assert!(self.room() > 0, "push without room");
        match entry.due {
            Some(due) => {
                self.engine.push_at(entry.body, entry.key, due);
                wakes.due_at(due);
            }
            None => wakes.ready |= self.engine.push(entry.body, entry.key),
        }
    }

    /// Keeps the unsettled delivery `token` of consumer `id` aside until `due`, freeing its
    /// prefetch room and key; it comes back with the next attempt once released.
    pub(crate) fn park(
        &mut self,
        id: MemberId,
        token: u64,
        due: Instant,
        wakes: &mut Wakes,
    ) -> Result<(), SettleError> {
        self.engine.park(id, token, due)?;
        wakes.due_at(due);
        Ok(())
    }

    /// Moves the delayed messages due by `now` into the group. Each one still waiting has
    /// its own timer, started when it was added.
    pub(crate) fn release_due(&mut self, now: Instant, wakes: &mut Wakes) {
        wakes.ready |= self.engine.release_due(now);
    }

    /// Registers a sender that waits until `need` messages fit.
    pub(crate) fn wait_for_room(&mut self, need: usize) {
        self.space_waiters += 1;
        self.space_need = self.space_need.min(need.max(1));
    }

    /// Attaches a consumer woken through `notify`.
    pub(crate) fn attach(&mut self, prefetch: usize, notify: Arc<Notify>) -> MemberId {
        self.engine.join(prefetch, Waiter(notify))
    }

    /// Detaches a consumer: what it held goes back to the front of the shared queue.
    pub(crate) fn detach(&mut self, id: MemberId, wakes: &mut Wakes) {
        if self.engine.leave(id).is_some() && self.engine.has_shared() {
            wakes.ready = true;
        }
    }

    /// Takes up to `max` deliveries for consumer `id`, within its prefetch room, making each
    /// with `deliver(message, attempt, token)` from a copy of the message (the group keeps
    /// its own until the delivery is settled). A copy costs no allocation unless the message
    /// has a key or headers, or its payload was never shared before.
    pub(crate) fn take<T>(
        &mut self,
        id: MemberId,
        max: usize,
        wakes: &mut Wakes,
        mut deliver: impl FnMut(Message, u32, u64) -> T,
    ) -> Take<T> {
        if self.closed {
            return Take::Closed;
        }
        let mut out = Vec::new();
        let taken = self.engine.take(id, max, |token, attempt, body| {
            if out.capacity() == 0 {
                out.reserve_exact(max.clamp(1, 1024));
            }
            out.push(deliver(body.message().clone(), attempt, token));
        });
        if self.engine.has_shared() {
            wakes.ready = true;
        }
        match taken {
            group::Take::Taken(_) => Take::Taken(out),
            group::Take::Idle { full } => Take::Idle { full },
            group::Take::Gone => Take::Closed,
        }
    }

    /// Settles the deliveries `tokens` of consumer `id`. Known tokens are settled even when
    /// others are unknown.
    pub(crate) fn settle(
        &mut self,
        id: MemberId,
        tokens: &[u64],
        how: Settle,
        wakes: &mut Wakes,
    ) -> Result<(), SettleError> {
        let before = self.engine.held();
        let settled = self.engine.settle(id, tokens, how);
        if let Ok(true) = settled {
            wakes.ready = true;
        }
        if self.engine.held() < before && self.space_waiters > 0 && self.room() >= self.space_need {
            self.space_waiters = 0;
            self.space_need = usize::MAX;
            wakes.space = true;
        }
        settled.map(drop)
    }

    /// Checks the bookkeeping (tests only).
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        self.engine.check_invariants();
        assert!(self.engine.held() <= self.capacity, "capacity bound");
    }
}
