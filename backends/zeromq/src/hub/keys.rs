//! Per-key routing of one group: which member a key is pinned to while it holds any of the
//! key's messages, so that one key's messages are handled in send order even with several
//! competing consumers.
//!
//! Keys are tracked by a 64-bit hash. Two keys whose hashes collide are routed as one key:
//! that costs some parallelism, never order.

use std::hash::{BuildHasher, BuildHasherDefault};

use bytes::Bytes;

use super::hash::{FxHashMap, FxHasher};

/// The routing hash of a message key; `None` for a message without key.
pub(crate) fn key_hash(key: &[u8]) -> Option<u64> {
    (!key.is_empty()).then(|| BuildHasherDefault::<FxHasher>::default().hash_one(key))
}

/// Routing state of one key in one group.
///
/// Invariant: the messages held by `owner` (delivered and unacked, or routed to it and not
/// yet sent) were all sent before the `queued` ones in the group's shared queue. So a new
/// message of the key goes straight to the owner only while none is queued.
#[derive(Debug, Default)]
pub(crate) struct KeyState {
    /// The member the key is pinned to while it holds any of the key's messages.
    pub(crate) owner: Option<Bytes>,
    /// The key's messages at `owner`.
    pub(crate) held: usize,
    /// The key's messages in the group's shared queue.
    pub(crate) queued: usize,
}

/// Key hash to [`KeyState`]; an entry exists only while the key has a message in the group.
#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    states: FxHashMap<u64, KeyState>,
}

impl KeyTable {
    /// The state of `key`, created empty when missing.
    pub(crate) fn entry(&mut self, key: u64) -> &mut KeyState {
        self.states.entry(key).or_default()
    }

    /// A message of `key` held by its owner is gone for good (acked or rejected).
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

    /// A message of `key` held by its owner went back to the shared queue.
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
