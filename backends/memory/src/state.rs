//! The queues of one group and the rules that move messages between them. Everything here is
//! synchronous and runs under the group's lock; waking waiters is left to the caller through
//! [`Wakes`].

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

use courier_core::Message;
use tokio::sync::Notify;

use courier_core::key_routing::{BuildU64Hasher, KeyTable};

/// The message of an [`Entry`].
#[derive(Clone, Debug)]
pub(crate) enum Body {
    /// Held by this group alone, as the producer sent it: enqueueing allocates nothing.
    Owned(Message),
    /// Shared: by the groups of a topic with several, and once delivered, between the group
    /// and the copy handed out.
    Shared(Arc<Message>),
}

/// A message held by a group.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) body: Body,
    /// Hash of the message key, when it has one.
    pub(crate) key: Option<u64>,
    /// The attempt number of its next delivery.
    pub(crate) attempt: u32,
}

impl Entry {
    /// A message not delivered yet.
    pub(crate) fn new(body: Body, key: Option<u64>) -> Self {
        Self {
            body,
            key,
            attempt: 1,
        }
    }
}

/// One consumer of the group, as the group sees it.
struct ConsumerState {
    /// Tells an ack of a closed consumer from an ack of a later consumer in the same slot.
    uid: u64,
    prefetch: usize,
    /// Messages routed to this consumer by key and not yet taken, in send order.
    pending: VecDeque<Entry>,
    /// Delivered and not yet settled, by token (a sequence number: sorted, delivery order).
    unacked: HashMap<u64, Entry, BuildU64Hasher>,
    next_token: u64,
    /// Wakes the consumer's `recv` for routed messages and freed prefetch room.
    notify: Arc<Notify>,
    /// Set when `recv` found no prefetch room and may be waiting for a settle.
    waiting_for_room: bool,
}

/// Whom to wake once the lock is released.
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub(crate) struct Wakes {
    /// One consumer waiting for the shared queue.
    pub(crate) ready: bool,
    /// Every sender waiting for room.
    pub(crate) space: bool,
}

/// A message taken for delivery; the consumer turns it into a
/// [`Delivery`](courier_core::Delivery) once the lock is released.
pub(crate) struct Handout {
    pub(crate) message: Arc<Message>,
    pub(crate) attempt: u32,
    pub(crate) token: u64,
}

/// What a consumer's attempt to take deliveries found.
pub(crate) enum Take {
    /// Messages to deliver, at least one.
    Taken(Vec<Handout>),
    /// Nothing to take now. `full` when the consumer is at its prefetch bound.
    Idle { full: bool },
    /// The consumer or the whole broker is closed.
    Closed,
}

pub(crate) use courier_core::Settle;

/// Why a settle failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SettleError {
    /// The consumer closed; its unsettled deliveries went back to the group.
    ConsumerClosed,
    /// No unsettled delivery has this token.
    UnknownToken,
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
}

/// The messages and consumers of one group.
pub(crate) struct GroupState {
    capacity: usize,
    /// Messages held: ready + every pending + every unacked.
    size: usize,
    /// The shared queue.
    ready: VecDeque<Entry>,
    keys: KeyTable<usize>,
    consumers: Vec<Option<ConsumerState>>,
    free_slots: Vec<usize>,
    next_uid: u64,
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
            size: 0,
            ready: VecDeque::new(),
            keys: KeyTable::default(),
            consumers: Vec::new(),
            free_slots: Vec::new(),
            next_uid: 0,
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
        self.capacity.saturating_sub(self.size)
    }

    /// Whether the broker was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Marks the group closed: consumers receive nothing more, senders fail. Wakes every
    /// consumer; the caller wakes the shared waiters.
    pub(crate) fn close(&mut self) {
        self.closed = true;
        for consumer in self.consumers.iter().flatten() {
            consumer.notify.notify_one();
        }
    }

    /// Sizes of the queues.
    pub(crate) fn stats(&self) -> GroupStats {
        let mut stats = GroupStats {
            ready: self.ready.len(),
            ..GroupStats::default()
        };
        for consumer in self.consumers.iter().flatten() {
            stats.pending += consumer.pending.len();
            stats.unacked += consumer.unacked.len();
            stats.consumers += 1;
        }
        stats
    }

    /// Enqueues `entry` (the caller checked [`room`](Self::room)): to the consumer its key is
    /// pinned to when nothing of the key waits in the shared queue, else to the shared queue.
    pub(crate) fn push(&mut self, entry: Entry, wakes: &mut Wakes) {
        debug_assert!(self.size < self.capacity, "push without room");
        self.size += 1;
        if let Some(hash) = entry.key {
            let key = self.keys.entry(hash);
            let owner = match (key.owner, key.queued) {
                (Some(owner), 0) => self.consumers.get_mut(owner).and_then(Option::as_mut),
                _ => None,
            };
            if let Some(consumer) = owner {
                key.held += 1;
                if consumer.pending.is_empty() {
                    consumer.notify.notify_one();
                }
                consumer.pending.push_back(entry);
                return;
            }
            key.queued += 1;
        }
        if self.ready.is_empty() {
            wakes.ready = true;
        }
        self.ready.push_back(entry);
    }

    /// Registers a sender that waits until `need` messages fit.
    pub(crate) fn wait_for_room(&mut self, need: usize) {
        self.space_waiters += 1;
        self.space_need = self.space_need.min(need.max(1));
    }

    /// Attaches a consumer; returns its slot and uid.
    pub(crate) fn attach(&mut self, prefetch: usize, notify: Arc<Notify>) -> (usize, u64) {
        let uid = self.next_uid;
        self.next_uid += 1;
        let consumer = ConsumerState {
            uid,
            prefetch: prefetch.max(1),
            pending: VecDeque::new(),
            unacked: HashMap::default(),
            next_token: 0,
            notify,
            waiting_for_room: false,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.consumers[slot] = Some(consumer);
                slot
            }
            None => {
                self.consumers.push(Some(consumer));
                self.consumers.len() - 1
            }
        };
        (slot, uid)
    }

    /// Detaches a consumer: its unacked deliveries (in delivery order, attempt + 1) and then
    /// its pending messages go back to the front of the shared queue.
    pub(crate) fn detach(&mut self, slot: usize, uid: u64, wakes: &mut Wakes) {
        let Some(place) = self.consumers.get_mut(slot) else {
            return;
        };
        if place.as_ref().is_none_or(|c| c.uid != uid) {
            return;
        }
        let Some(consumer) = place.take() else {
            return;
        };
        self.free_slots.push(slot);
        let mut unacked: Vec<(u64, Entry)> = consumer.unacked.into_iter().collect();
        unacked.sort_unstable_by_key(|(token, _)| *token);
        let unacked = unacked.into_iter().map(|(_, mut entry)| {
            entry.attempt = entry.attempt.saturating_add(1);
            entry
        });
        let returned: Vec<Entry> = unacked.chain(consumer.pending).collect();
        for entry in &returned {
            if let Some(hash) = entry.key {
                self.keys.returned(hash);
            }
        }
        for entry in returned.into_iter().rev() {
            self.ready.push_front(entry);
        }
        if !self.ready.is_empty() {
            wakes.ready = true;
        }
    }

    /// Takes up to `max` deliveries for the consumer in `slot`, within its prefetch room:
    /// first what was routed to it, then from the shared queue. A keyed message of the shared
    /// queue whose key is pinned to another consumer moves to that consumer instead.
    pub(crate) fn take(&mut self, slot: usize, max: usize, wakes: &mut Wakes) -> Take {
        if self.closed {
            return Take::Closed;
        }
        let Self {
            consumers,
            ready,
            keys,
            ..
        } = self;
        let Some(Some(consumer)) = consumers.get_mut(slot) else {
            return Take::Closed;
        };
        let room = consumer
            .prefetch
            .saturating_sub(consumer.unacked.len())
            .min(max.max(1));
        if room == 0 {
            consumer.waiting_for_room = true;
            return Take::Idle { full: true };
        }
        consumer.waiting_for_room = false;
        let mut taken = Vec::with_capacity(room.min(consumer.pending.len() + ready.len()));
        let mut deliver = |consumer: &mut ConsumerState, entry: Entry| {
            let token = consumer.next_token;
            consumer.next_token += 1;
            // Sharing costs one small allocation here, on the consumer's thread; the copy
            // handed out is made after the lock is released.
            let message = match entry.body {
                Body::Owned(message) => Arc::new(message),
                Body::Shared(message) => message,
            };
            taken.push(Handout {
                message: message.clone(),
                attempt: entry.attempt,
                token,
            });
            let entry = Entry {
                body: Body::Shared(message),
                ..entry
            };
            consumer.unacked.insert(token, entry);
        };
        let mut delivered = 0;
        while delivered < room {
            let Some(entry) = consumer.pending.pop_front() else {
                break;
            };
            deliver(consumer, entry);
            delivered += 1;
        }
        let mut rerouted: Vec<(usize, Entry)> = Vec::new();
        while delivered < room {
            let Some(entry) = ready.pop_front() else {
                break;
            };
            if let Some(hash) = entry.key {
                let key = keys.dequeued(hash);
                key.held += 1;
                match key.owner {
                    Some(owner) if owner != slot => {
                        rerouted.push((owner, entry));
                        continue;
                    }
                    _ => key.owner = Some(slot),
                }
            }
            deliver(consumer, entry);
            delivered += 1;
        }
        if !ready.is_empty() {
            wakes.ready = true;
        }
        for (owner, entry) in rerouted {
            match consumers.get_mut(owner) {
                Some(Some(other)) => {
                    if other.pending.is_empty() {
                        other.notify.notify_one();
                    }
                    other.pending.push_back(entry);
                }
                // Unreachable while the key table is consistent; never lose the message.
                _ => ready.push_front(entry),
            }
        }
        if taken.is_empty() {
            Take::Idle { full: false }
        } else {
            Take::Taken(taken)
        }
    }

    /// Settles the delivery `token` of the consumer in `slot`. Returns the message when it
    /// left the group, for the caller to drop once the lock is released.
    pub(crate) fn settle(
        &mut self,
        slot: usize,
        uid: u64,
        token: u64,
        how: Settle,
        wakes: &mut Wakes,
    ) -> Result<Option<Entry>, SettleError> {
        let consumer = member(&mut self.consumers, slot, uid)?;
        let Some(mut entry) = consumer.unacked.remove(&token) else {
            return Err(SettleError::UnknownToken);
        };
        if std::mem::take(&mut consumer.waiting_for_room) {
            consumer.notify.notify_one();
        }
        if how != Settle::Requeue {
            if let Some(hash) = entry.key {
                self.keys.release(hash);
            }
            self.left(1, wakes);
            return Ok(Some(entry));
        }
        entry.attempt = entry.attempt.saturating_add(1);
        if let Some(hash) = entry.key {
            let key = self.keys.entry(hash);
            if key.held > 1 && key.owner == Some(slot) {
                // The consumer still holds later messages of the key: keep the key on it, with
                // this one first.
                if consumer.pending.is_empty() {
                    consumer.notify.notify_one();
                }
                consumer.pending.push_front(entry);
                return Ok(None);
            }
            self.keys.returned(hash);
        }
        if self.ready.is_empty() {
            wakes.ready = true;
        }
        self.ready.push_front(entry);
        Ok(None)
    }

    /// Acks the deliveries `tokens` of the consumer in `slot` in one pass: the messages that
    /// leave the group are moved to `freed`, for the caller to drop once the lock is released.
    /// Known tokens are settled even when others are unknown.
    pub(crate) fn ack_batch(
        &mut self,
        slot: usize,
        uid: u64,
        tokens: &[u64],
        wakes: &mut Wakes,
        freed: &mut Vec<Entry>,
    ) -> Result<(), SettleError> {
        let Self {
            consumers, keys, ..
        } = self;
        let consumer = member(consumers, slot, uid)?;
        let before = freed.len();
        let mut unknown = false;
        for token in tokens {
            let Some(entry) = consumer.unacked.remove(token) else {
                unknown = true;
                continue;
            };
            if let Some(hash) = entry.key {
                keys.release(hash);
            }
            freed.push(entry);
        }
        let acked = freed.len() - before;
        if acked > 0 {
            if std::mem::take(&mut consumer.waiting_for_room) {
                consumer.notify.notify_one();
            }
            self.left(acked, wakes);
        }
        if unknown {
            return Err(SettleError::UnknownToken);
        }
        Ok(())
    }

    /// Counts `count` messages as gone from the group and, once enough room is free, asks
    /// for the waiting senders to be woken.
    fn left(&mut self, count: usize, wakes: &mut Wakes) {
        self.size = self.size.saturating_sub(count);
        if self.space_waiters > 0 && self.room() >= self.space_need {
            self.space_waiters = 0;
            self.space_need = usize::MAX;
            wakes.space = true;
        }
    }

    /// Checks the bookkeeping (tests only).
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let stats = self.stats();
        assert_eq!(
            self.size,
            stats.ready + stats.pending + stats.unacked,
            "size counts every held message"
        );
        assert!(self.size <= self.capacity, "capacity bound");
        if self.size == 0 {
            assert_eq!(self.keys.len(), 0, "no key state without messages");
        }
    }
}

/// The consumer in `slot` if it is still the one of `uid` (a slot is reused once its
/// consumer has closed).
fn member(
    consumers: &mut [Option<ConsumerState>],
    slot: usize,
    uid: u64,
) -> Result<&mut ConsumerState, SettleError> {
    match consumers.get_mut(slot) {
        Some(Some(consumer)) if consumer.uid == uid => Ok(consumer),
        _ => Err(SettleError::ConsumerClosed),
    }
}
