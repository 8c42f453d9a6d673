//! Per-key routing of one group, for backends that route messages to competing consumers
//! themselves (the in-memory queue, the ZeroMQ binding side): which consumer a key is pinned
//! to while it holds any of the key's messages, so that one key's messages are handled in send
//! order even with several consumers.
//!
//! Keys are tracked by a 64-bit hash of the key, computed once per send. Two keys whose hashes
//! collide are routed as one key: that costs some parallelism, never order, because messages of
//! the merged keys still reach one consumer in send order.

use std::{
    collections::HashMap,
    hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState},
};

/// The one hasher of message keys, for routing (groups, runtime lanes). It is keyed with
/// random keys per instance (SipHash, as `HashMap` uses), so keys chosen by an outside
/// publisher cannot be made to collide on purpose.
#[derive(Clone, Debug, Default)]
pub struct KeyHasher(RandomState);

impl KeyHasher {
    /// A hasher with fresh random keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// The routing hash of `key`.
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.0.hash_one(key)
    }
}

/// Builds [`U64Hasher`]s.
pub type BuildU64Hasher = BuildHasherDefault<U64Hasher>;

/// A hasher for `u64` keys that are sequence numbers or already hashes: it multiplies the
/// number by a large odd constant (Fibonacci hashing), so sequential numbers spread over every
/// bit and distinct inputs never collide.
#[derive(Debug, Default, Clone, Copy)]
pub struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Routing state of one key in one group; `O` names a consumer (a slot number, a peer
/// identity).
///
/// Invariant: the messages held by `owner` (delivered and unacked, or routed to it and not yet
/// taken) were all sent before the `queued` ones still in the group's shared queue. A new
/// message of the key therefore goes straight to the owner only while none is queued;
/// otherwise it queues behind the others.
#[derive(Debug)]
pub struct KeyState<O> {
    /// The consumer the key is pinned to while it holds any of the key's messages.
    pub owner: Option<O>,
    /// The key's messages at `owner`: delivered and unacked, or routed to it and not taken.
    pub held: usize,
    /// The key's messages in the group's shared queue.
    pub queued: usize,
}

impl<O> Default for KeyState<O> {
    fn default() -> Self {
        Self {
            owner: None,
            held: 0,
            queued: 0,
        }
    }
}

/// Key hash to [`KeyState`]; an entry exists only while the key has a message in the group.
#[derive(Debug)]
pub struct KeyTable<O> {
    states: HashMap<u64, KeyState<O>, BuildU64Hasher>,
}

impl<O> Default for KeyTable<O> {
    fn default() -> Self {
        Self {
            states: HashMap::default(),
        }
    }
}

impl<O> KeyTable<O> {
    /// The state of `key`, created empty when missing.
    pub fn entry(&mut self, key: u64) -> &mut KeyState<O> {
        self.states.entry(key).or_default()
    }

    /// Records that a message of `key` left the shared queue.
    pub fn dequeued(&mut self, key: u64) -> &mut KeyState<O> {
        let state = self.entry(key);
        state.queued = state.queued.saturating_sub(1);
        state
    }

    /// Records that a message of `key` held by its owner is gone for good (acked or
    /// rejected).
    pub fn release(&mut self, key: u64) {
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
    pub fn returned(&mut self, key: u64) {
        let state = self.entry(key);
        state.held = state.held.saturating_sub(1);
        state.queued += 1;
        if state.held == 0 {
            state.owner = None;
        }
    }

    /// How many keys have messages in the group.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether no key has a message in the group.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_pinned_while_held_and_forgotten_when_done() {
        let mut table = KeyTable::<usize>::default();
        let state = table.entry(7);
        state.owner = Some(1);
        state.held = 2;
        table.release(7);
        assert_eq!(table.entry(7).owner, Some(1), "one message still held");
        table.returned(7);
        let state = table.entry(7);
        assert_eq!((state.owner, state.held, state.queued), (None, 0, 1));
        table.dequeued(7);
        table.entry(7).held = 1;
        table.release(7);
        assert!(table.is_empty(), "no state without messages");
    }

    #[test]
    fn one_hasher_gives_one_key_one_hash() {
        let hasher = KeyHasher::new();
        assert_eq!(hasher.hash(b"order-1"), hasher.clone().hash(b"order-1"));
        assert_ne!(hasher.hash(b"order-1"), hasher.hash(b"order-2"));
    }

    #[test]
    fn fibonacci_hashing_keeps_distinct_numbers_distinct() {
        use std::hash::BuildHasher;
        let build = BuildU64Hasher::default();
        assert_ne!(build.hash_one(1u64), build.hash_one(2u64));
        assert_eq!(build.hash_one(42u64), build.hash_one(42u64));
    }
}
