//! Per-key routing state of one group: which consumer a key is pinned to, and how many of the
//! key's messages are where.
//!
//! Keys are tracked by a 64-bit hash of the key (hashed once per send, outside any lock).
//! Two keys whose hashes collide are routed as one key: that costs some parallelism, never
//! order, because messages of the merged keys still reach one consumer in send order.

use std::collections::HashMap;

use crate::hash::BuildU64Hasher;

/// Routing state of one key in one group.
///
/// Invariant, per key: the messages held by `owner` (delivered and unacked, then routed to it
/// and not yet taken) were all sent before the `queued` ones still in the group's shared
/// queue. A new message of the key therefore goes straight to the owner only while none is
/// queued; otherwise it queues behind the others.
#[derive(Debug, Default)]
pub(crate) struct KeyState {
    /// The consumer slot the key is pinned to while it holds any of the key's messages.
    pub(crate) owner: Option<usize>,
    /// The key's messages at `owner`: delivered and unacked, or routed to it and not taken.
    pub(crate) held: usize,
    /// The key's messages in the group's shared queue.
    pub(crate) queued: usize,
}

/// Key hash to [`KeyState`]; entries exist only while the key has a message in the group.
#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    states: HashMap<u64, KeyState, BuildU64Hasher>,
}

impl KeyTable {
    /// The state of `key`, created empty when missing.
    pub(crate) fn entry(&mut self, key: u64) -> &mut KeyState {
        self.states.entry(key).or_default()
    }

    /// Records that a message of `key` left the shared queue.
    pub(crate) fn dequeued(&mut self, key: u64) -> &mut KeyState {
        let state = self.entry(key);
        state.queued = state.queued.saturating_sub(1);
        state
    }

    /// Records that a message of `key` held by its owner is gone for good (acked or
    /// rejected).
    pub(crate) fn release(&mut self, key: u64) {
        let state = self.entry(key);
        state.held = state.held.saturating_sub(1);
        if state.held == 0 {
            state.owner = None;
            if state.queued == 0 {
                self.states.remove(&key);
            }
        }
    }

    /// Records that a message of `key` held by its owner went back to the shared queue.
    pub(crate) fn returned(&mut self, key: u64) {
        let state = self.entry(key);
        state.held = state.held.saturating_sub(1);
        state.queued += 1;
        if state.held == 0 {
            state.owner = None;
        }
    }

    /// How many keys have messages in the group.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }
}
