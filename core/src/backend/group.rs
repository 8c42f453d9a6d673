//! One group of one topic, free of locks and sockets: the messages it holds and the members
//! that compete for them.
//!
//! Every message of the topic reaches the group once and is delivered to one member at a
//! time. A member takes at most its `prefetch` of unsettled deliveries. A keyed message is
//! pinned to the member that holds earlier messages of its key (delivered and unsettled, or
//! routed to it and not yet taken), so that one key's messages are handled in send order
//! across competing members; messages without key, and keys nobody holds, go to whoever takes
//! next. A requeued delivery, and what a member held when it leaves, go back to the front with
//! the next attempt number. Nothing leaves the group until a member acks or rejects it.
//!
//! Two ways to hand messages out, one per transport:
//! - pull: a member asks for up to `n` ([`Group::take`]), as an in-process consumer does;
//! - push: the group hands messages round-robin to members with room ([`Group::dispatch`]),
//!   as a binding side does for its remote peers.
//!
//! Each message stays in one place from its arrival until it leaves: a slot of the group's
//! store. The queues hold slot numbers, and a delivery's token names its slot, so handing out
//! and settling move no message and look nothing up in a map.
//!
//! The group tells its caller whom to wake through [`Member::wake`] and the `bool`s its
//! methods return; it never blocks.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use crate::key_routing::KeyTable;
use crate::settle::Settle;

mod delayed;
mod store;
#[cfg(test)]
mod tests;

pub use store::MAX_HELD;
use store::{Delivered, Entry, Store};

/// What a backend keeps per member; the group calls [`wake`](Self::wake) when something
/// arrives that only this member may take, or when its prefetch room frees up after it found
/// none.
pub trait Member {
    /// Wakes the member's waiting receiver; nothing by default (push transports dispatch
    /// after every change instead).
    fn wake(&self) {}
}

/// Names one member of a [`Group`]; a slot is reused once its member left, the id is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemberId {
    slot: usize,
    uid: u64,
}

/// One member as the group sees it.
#[derive(Debug)]
struct Slot<D> {
    uid: u64,
    data: D,
    prefetch: usize,
    /// Routed to it by key and not yet taken, in send order; taken before the shared queue.
    routed: VecDeque<usize>,
    /// Deliveries it holds unsettled.
    unacked: usize,
    /// Set when it found no prefetch room: its next settle wakes it.
    waiting_for_room: bool,
}

impl<D> Slot<D> {
    fn room(&self) -> usize {
        self.prefetch.saturating_sub(self.unacked)
    }

    /// Counts one settled delivery; wakes the member when it waits for room.
    fn settled_one(&mut self)
    where
        D: Member,
    {
        self.unacked -= 1;
        if std::mem::take(&mut self.waiting_for_room) {
            self.data.wake();
        }
    }
}

/// What a member's [`take`](Group::take) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// This many deliveries were handed out, at least one.
    Taken(usize),
    /// Nothing to take now; `full` when the member is at its prefetch bound.
    Idle {
        /// The member has no prefetch room: only a settle can help.
        full: bool,
    },
    /// The member has left.
    Gone,
}

/// Why a settle failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettleError {
    /// The member has left; its unsettled deliveries went back to the group.
    MemberGone,
    /// No unsettled delivery of the member has this token.
    UnknownToken,
}

/// Sizes of a group's queues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Messages in the shared queue, waiting for any member.
    pub shared: usize,
    /// Messages routed by key to one member and not yet taken by it.
    pub routed: usize,
    /// Messages delivered and not yet settled.
    pub unacked: usize,
    /// Members of the group.
    pub members: usize,
    /// Messages waiting for their time (a delayed retry or send).
    pub delayed: usize,
}

/// The messages and members of one group; `M` is the message as the backend stores it, `D`
/// what it keeps per member. See the module documentation.
#[derive(Debug)]
pub struct Group<M, D> {
    /// Every message held, wherever it is.
    store: Store<M>,
    /// The shared queue of store slots, oldest first.
    shared: VecDeque<usize>,
    keys: KeyTable<usize>,
    slots: Vec<Option<Slot<D>>>,
    free_slots: Vec<usize>,
    members: usize,
    next_uid: u64,
    /// Messages routed to members, over all members.
    routed: usize,
    /// Where the next [`dispatch`](Self::dispatch) round starts.
    cursor: usize,
    /// Store slots of messages waiting for a time before they join the shared queue, by due
    /// time and then arrival (see [`Group::park`]).
    delayed: BTreeMap<(Instant, u64), usize>,
    next_delayed: u64,
}

impl<M, D> Default for Group<M, D> {
    fn default() -> Self {
        Self {
            store: Store::default(),
            shared: VecDeque::new(),
            keys: KeyTable::default(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            members: 0,
            next_uid: 0,
            routed: 0,
            cursor: 0,
            delayed: BTreeMap::new(),
            next_delayed: 0,
        }
    }
}

impl<M, D: Member> Group<M, D> {
    /// An empty group without members.
    pub fn new() -> Self {
        Self::default()
    }

    /// Messages the group holds: waiting, routed, unsettled or delayed.
    pub fn held(&self) -> usize {
        self.store.len()
    }

    /// How many members the group has.
    pub fn members(&self) -> usize {
        self.members
    }

    /// Whether the shared queue holds a message some member could take.
    pub fn has_shared(&self) -> bool {
        !self.shared.is_empty()
    }

    /// Sizes of the queues.
    pub fn stats(&self) -> GroupStats {
        let mut stats = GroupStats {
            shared: self.shared.len(),
            members: self.members,
            delayed: self.delayed.len(),
            ..GroupStats::default()
        };
        for slot in self.slots.iter().flatten() {
            stats.routed += slot.routed.len();
            stats.unacked += slot.unacked;
        }
        stats
    }

    /// What the backend keeps for member `id`, while it is a member.
    pub fn member(&self, id: MemberId) -> Option<&D> {
        self.slot(id).map(|s| &s.data)
    }

    /// Mutable access to what the backend keeps for member `id`.
    pub fn member_mut(&mut self, id: MemberId) -> Option<&mut D> {
        self.slot_mut(id).map(|s| &mut s.data)
    }

    /// Every member with what the backend keeps for it.
    pub fn iter_members(&self) -> impl Iterator<Item = (MemberId, &D)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| s.as_ref().map(|s| (MemberId { slot, uid: s.uid }, &s.data)))
    }

    /// Adds a message at the back: straight to its key's member when the key is pinned and
    /// nothing of it waits in the shared queue (waking that member), else to the shared queue.
    /// Returns whether the shared queue was empty before: a waiting member should be woken.
    pub fn push(&mut self, message: M, key: Option<u64>) -> bool {
        let at = self.store.insert(Entry::new(message, key));
        self.enqueue(at)
    }

    /// Adds the stored message `at` at the back, as [`push`](Self::push) does.
    fn enqueue(&mut self, at: usize) -> bool {
        if let Some(hash) = self.store.key(at) {
            let state = self.keys.entry(hash);
            if state.queued == 0 {
                if let Some(owner) = state.owner.and_then(|o| live(&mut self.slots, o)) {
                    state.held += 1;
                    route(owner, at, false);
                    self.routed += 1;
                    return false;
                }
            }
            state.queued += 1;
        }
        let was_empty = self.shared.is_empty();
        self.shared.push_back(at);
        was_empty
    }

    /// Adds a member that holds at most `prefetch` (at least 1) unsettled deliveries.
    pub fn join(&mut self, prefetch: usize, data: D) -> MemberId {
        let uid = self.next_uid;
        self.next_uid += 1;
        self.members += 1;
        let slot = Slot {
            uid,
            data,
            prefetch: prefetch.max(1),
            routed: VecDeque::new(),
            unacked: 0,
            waiting_for_room: false,
        };
        let index = match self.free_slots.pop() {
            Some(index) => {
                self.slots[index] = Some(slot);
                index
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        MemberId { slot: index, uid }
    }

    /// Removes member `id`: its unsettled deliveries (in delivery order, with the next
    /// attempt number) and then what was routed to it go back to the front of the shared
    /// queue, and its keys are no longer pinned to it. Returns what the backend kept for it,
    /// or `None` when it had already left.
    pub fn leave(&mut self, id: MemberId) -> Option<D> {
        let place = self.slots.get_mut(id.slot)?;
        if place.as_ref().is_none_or(|s| s.uid != id.uid) {
            return None;
        }
        let slot = place.take()?;
        self.free_slots.push(id.slot);
        self.members -= 1;
        self.routed -= slot.routed.len();
        let unacked = if slot.unacked == 0 {
            Vec::new()
        } else {
            self.store.take_deliveries_of(id.slot)
        };
        for at in unacked.into_iter().chain(slot.routed).rev() {
            if let Some(hash) = self.store.key(at) {
                self.keys.returned(hash);
            }
            self.shared.push_front(at);
        }
        Some(slot.data)
    }

    /// Hands member `id` up to `max` (at least 1) deliveries within its prefetch room: first
    /// what was routed to it, then from the shared queue. A keyed message of the shared queue
    /// whose key is pinned to another member moves to that member on the way.
    ///
    /// `deliver(token, attempt, message)` is called for each, in order; the group keeps the
    /// message until the delivery is settled.
    pub fn take(
        &mut self,
        id: MemberId,
        max: usize,
        mut deliver: impl FnMut(u64, u32, &M),
    ) -> Take {
        let Some(slot) = self.slot_mut(id) else {
            return Take::Gone;
        };
        let room = slot.room().min(max.max(1));
        slot.waiting_for_room = room == 0;
        if room == 0 {
            return Take::Idle { full: true };
        }
        let mut taken = 0;
        while taken < room {
            let Some(at) = self.next_for(id.slot) else {
                break;
            };
            self.hand_out(id.slot, at, |_, token, attempt, message| {
                deliver(token, attempt, message);
            });
            taken += 1;
        }
        if taken == 0 {
            Take::Idle { full: false }
        } else {
            Take::Taken(taken)
        }
    }

    /// Hands out what members with room can take, one message at a time round-robin, each
    /// member first getting what is routed to it. `deliver(member, data, token, attempt,
    /// message)` is called for each; the group keeps the message until the delivery is
    /// settled. Returns how many were handed out.
    pub fn dispatch(&mut self, mut deliver: impl FnMut(MemberId, &D, u64, u32, &M)) -> usize {
        let count = self.slots.len();
        let mut handed = 0;
        // Slots in a row that took nothing: after a whole round of them, stop.
        let mut idle = 0;
        let mut index = self.cursor % count.max(1);
        while idle < count && (!self.shared.is_empty() || self.routed > 0) {
            let uid = match &self.slots[index] {
                Some(slot) if slot.room() > 0 => Some(slot.uid),
                _ => None,
            };
            let next = uid.and_then(|_| self.next_for(index));
            match (uid, next) {
                (Some(uid), Some(at)) => {
                    let member = MemberId { slot: index, uid };
                    self.hand_out(index, at, |data, token, attempt, message| {
                        deliver(member, data, token, attempt, message);
                    });
                    idle = 0;
                    handed += 1;
                }
                _ => idle += 1,
            }
            index = (index + 1) % count;
        }
        self.cursor = index;
        handed
    }

    /// Settles the deliveries `tokens` of member `id`: `Ack` and `Reject` drop them where
    /// they lie in the store (no message is moved), `Requeue` puts them back with
    /// the next attempt number, in their original order — at the front of what is routed to
    /// the member when it still holds later messages of their key, else at the front of the
    /// shared queue. Known tokens are settled even when others are not. Returns whether the
    /// shared queue went from empty to not: a waiting member should be woken.
    ///
    /// # Errors
    /// [`SettleError::MemberGone`] when the member left (nothing is settled: its deliveries
    /// are back in the group), [`SettleError::UnknownToken`] when a token is not an unsettled
    /// delivery of the member (already settled, or never handed out).
    pub fn settle(
        &mut self,
        id: MemberId,
        tokens: &[u64],
        how: Settle,
    ) -> Result<bool, SettleError> {
        let Self {
            slots,
            keys,
            shared,
            store,
            routed,
            ..
        } = self;
        let slot = member_slot(slots, id).ok_or(SettleError::MemberGone)?;
        let mut unknown = false;
        let mut requeued: Vec<(Delivered, usize)> = Vec::new();
        for &token in tokens {
            let Some((at, delivered)) = store.undeliver(id.slot, token) else {
                unknown = true;
                continue;
            };
            slot.settled_one();
            if how == Settle::Requeue {
                requeued.push((delivered, at));
                continue;
            }
            if let Some(Some(hash)) = store.discard(at) {
                keys.release(hash);
            }
        }
        let was_empty = shared.is_empty();
        // Newest first, each to the front: the oldest ends up first.
        requeued.sort_unstable_by_key(|(delivered, _)| std::cmp::Reverse(delivered.order));
        for (_, at) in requeued {
            let key = store.next_attempt(at);
            if let Some(hash) = key {
                let state = keys.entry(hash);
                if state.held > 1 && state.owner == Some(id.slot) {
                    route(slot, at, true);
                    *routed += 1;
                    continue;
                }
                keys.returned(hash);
            }
            shared.push_front(at);
        }
        if unknown {
            return Err(SettleError::UnknownToken);
        }
        Ok(was_empty && !shared.is_empty())
    }

    fn slot(&self, id: MemberId) -> Option<&Slot<D>> {
        match self.slots.get(id.slot) {
            Some(Some(slot)) if slot.uid == id.uid => Some(slot),
            _ => None,
        }
    }

    fn slot_mut(&mut self, id: MemberId) -> Option<&mut Slot<D>> {
        member_slot(&mut self.slots, id)
    }

    /// The store slot of the next message for the live member slot `index`: what is routed
    /// to it, else the oldest shared message it may take. Shared messages pinned to another
    /// member are routed to it on the way; an unpinned key is pinned to `index`.
    fn next_for(&mut self, index: usize) -> Option<usize> {
        let slot = self.slots[index].as_mut()?;
        if let Some(at) = slot.routed.pop_front() {
            self.routed -= 1;
            return Some(at);
        }
        while let Some(at) = self.shared.pop_front() {
            let Some(hash) = self.store.key(at) else {
                return Some(at);
            };
            let state = self.keys.dequeued(hash);
            state.held += 1;
            match state.owner {
                Some(owner) if owner != index => {
                    if let Some(other) = live(&mut self.slots, owner) {
                        route(other, at, false);
                        self.routed += 1;
                        continue;
                    }
                    // Unreachable while the key table is consistent; never lose the message.
                    state.owner = Some(index);
                }
                Some(_) => {}
                None => state.owner = Some(index),
            }
            return Some(at);
        }
        None
    }

    /// Records the stored message `at` as delivered to the live member slot `index` under a
    /// new token, and calls `deliver` with the member's data, the token, the attempt and the
    /// message.
    fn hand_out(&mut self, index: usize, at: usize, deliver: impl FnOnce(&D, u64, u32, &M)) {
        let Some(slot) = self.slots[index].as_mut() else {
            // Unreachable: callers pass a live slot. Never lose the message.
            self.shared.push_front(at);
            return;
        };
        if let Some((token, entry)) = self.store.deliver(at, index) {
            slot.unacked += 1;
            deliver(&slot.data, token, entry.attempt, &entry.message);
        }
    }

    /// Checks the bookkeeping; for tests of this module and of backends.
    ///
    /// # Panics
    /// When a count disagrees with the queues.
    pub fn check_invariants(&self) {
        let stats = self.stats();
        assert_eq!(
            self.held(),
            stats.shared + stats.routed + stats.unacked + stats.delayed,
            "held counts every message"
        );
        assert_eq!(
            self.routed, stats.routed,
            "routed counts every routed message"
        );
        assert_eq!(
            self.store.delivered(),
            stats.unacked,
            "every member's count of unsettled deliveries matches the store"
        );
        if self.held() == 0 {
            assert!(self.keys.is_empty(), "no key state without messages");
        }
    }
}

/// The slot of member `id`, while it is a member.
fn member_slot<D>(slots: &mut [Option<Slot<D>>], id: MemberId) -> Option<&mut Slot<D>> {
    match slots.get_mut(id.slot) {
        Some(Some(slot)) if slot.uid == id.uid => Some(slot),
        _ => None,
    }
}

/// The slot at `index` when a member is in it.
fn live<D>(slots: &mut [Option<Slot<D>>], index: usize) -> Option<&mut Slot<D>> {
    slots.get_mut(index).and_then(Option::as_mut)
}

/// Adds the stored message `at` to what is routed to `slot` (at the front for a requeue),
/// waking the member when it had nothing routed.
fn route<D: Member>(slot: &mut Slot<D>, at: usize, front: bool) {
    if slot.routed.is_empty() {
        slot.data.wake();
    }
    if front {
        slot.routed.push_front(at);
    } else {
        slot.routed.push_back(at);
    }
}
