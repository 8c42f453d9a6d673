//! Where a group keeps its messages: each in one slot from its arrival until it leaves, so
//! that the queues move slot numbers and a delivery's token finds its message directly.

use std::collections::VecDeque;
use std::num::NonZeroU64;

/// A message held by a group, with its key hash, the number of its next delivery and, while
/// it is out, the delivery. Packed to 24 bytes beside the message: every slot of a deep
/// queue is read once when delivered, and fewer cache lines per slot make that cheaper.
#[derive(Debug)]
pub(super) struct Entry<M> {
    pub(super) message: M,
    key: Option<NonZeroU64>,
    /// While delivered: the delivery's place in the order of all deliveries of the group.
    order: Option<NonZeroU64>,
    /// While delivered: the member slot it went to.
    member: u32,
    pub(super) attempt: u32,
}

impl<M> Entry<M> {
    /// A message not delivered yet. A key hash of 0 is kept as 1: two keys share an order
    /// only when their hashes are equal anyway, or are 0 and 1.
    pub(super) fn new(message: M, key: Option<u64>) -> Self {
        Self {
            message,
            key: key.map(|hash| NonZeroU64::new(hash).unwrap_or(NonZeroU64::MIN)),
            order: None,
            member: 0,
            attempt: 1,
        }
    }

    /// The key hash.
    pub(super) fn key(&self) -> Option<u64> {
        self.key.map(NonZeroU64::get)
    }

    /// The unsettled delivery, while the message is out.
    fn delivered(&self) -> Option<Delivered> {
        self.order.map(|order| Delivered {
            member: self.member as usize,
            order: order.get(),
        })
    }
}

/// An unsettled delivery: to which member slot, and its place in the order of all
/// deliveries of the group (its token follows from that and the message's slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Delivered {
    member: usize,
    pub(super) order: u64,
}

/// Bits of a token that name the slot: a group holds at most 2^26 messages.
const SLOT_BITS: u32 = 26;
/// Bits of a token above the slot: the low bits of the delivery's order number. Tokens fit
/// [`crate::token::TAG_BITS`], so that a backend can pack them with its connection
/// generation.
const ORDER_BITS: u32 = crate::token::TAG_BITS - SLOT_BITS;

/// The most messages one group holds; a backend bounds its group capacity by it.
pub const MAX_HELD: usize = 1 << SLOT_BITS;

/// The messages of a group, one slot each; freed slots are reused oldest first.
///
/// Reusing the oldest freed slot keeps a queue that is settled in order stored in order: the
/// next messages a take reads lie one after the other, which the processor reads ahead of
/// time, where reusing the newest freed slot scattered them over the whole store.
///
/// A token is the low 22 bits of the delivery's order number above the 26-bit slot number,
/// 48 bits in all, so a settle finds its message at once, and a token of an earlier delivery
/// from the same slot does not match unless 2^22 deliveries lie between the two.
#[derive(Debug)]
pub(super) struct Store<M> {
    slots: Vec<Option<Entry<M>>>,
    /// Freed slots, oldest first.
    free: VecDeque<usize>,
    len: usize,
    delivered: usize,
    next_order: u64,
}

impl<M> Default for Store<M> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: VecDeque::new(),
            len: 0,
            delivered: 0,
            next_order: 1,
        }
    }
}

impl<M> Store<M> {
    /// Messages held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Messages delivered and not settled.
    pub(super) fn delivered(&self) -> usize {
        self.delivered
    }

    /// Keeps `entry`; returns its slot.
    pub(super) fn insert(&mut self, entry: Entry<M>) -> usize {
        self.len += 1;
        match self.free.pop_front() {
            Some(at) => {
                self.slots[at] = Some(entry);
                at
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        }
    }

    /// The key hash of the message in slot `at`.
    pub(super) fn key(&self, at: usize) -> Option<u64> {
        self.slots.get(at)?.as_ref()?.key()
    }

    /// Drops the message of slot `at` where it lies; returns its key hash, or `None` when
    /// the slot is empty.
    pub(super) fn discard(&mut self, at: usize) -> Option<Option<u64>> {
        let slot = self.slots.get_mut(at)?;
        let key = slot.as_ref()?.key();
        *slot = None;
        self.len -= 1;
        self.free.push_back(at);
        Some(key)
    }

    /// Marks the message of slot `at` delivered to `member`; returns the delivery's token
    /// and the entry.
    pub(super) fn deliver(&mut self, at: usize, member: usize) -> Option<(u64, &Entry<M>)> {
        let member = u32::try_from(member).ok()?;
        let entry = self.slots.get_mut(at)?.as_mut()?;
        let order = NonZeroU64::new(self.next_order)?;
        self.next_order += 1;
        entry.order = Some(order);
        entry.member = member;
        self.delivered += 1;
        Some((token(order.get(), at), entry))
    }

    /// Ends the delivery `token` of `member`: returns the slot of its message and the
    /// delivery, or `None` when `token` is not an unsettled delivery of `member`.
    pub(super) fn undeliver(&mut self, member: usize, token: u64) -> Option<(usize, Delivered)> {
        let at = slot_of(token);
        let entry = self.slots.get_mut(at)?.as_mut()?;
        let delivered = entry
            .delivered()
            .filter(|d| d.member == member && self::token(d.order, at) == token)?;
        entry.order = None;
        self.delivered -= 1;
        Some((at, delivered))
    }

    /// Counts the next attempt of the message in slot `at`; returns its key hash.
    pub(super) fn next_attempt(&mut self, at: usize) -> Option<u64> {
        let entry = self.slots.get_mut(at)?.as_mut()?;
        entry.attempt = entry.attempt.saturating_add(1);
        entry.key()
    }

    /// Ends every delivery of `member`, counting each message's next attempt; returns their
    /// slots in delivery order.
    pub(super) fn take_deliveries_of(&mut self, member: usize) -> Vec<usize> {
        let mut out: Vec<(u64, usize)> = Vec::new();
        for (at, entry) in self.slots.iter_mut().enumerate() {
            let Some(entry) = entry else { continue };
            let Some(delivered) = entry.delivered().filter(|d| d.member == member) else {
                continue;
            };
            entry.order = None;
            entry.attempt = entry.attempt.saturating_add(1);
            out.push((delivered.order, at));
        }
        self.delivered -= out.len();
        out.sort_unstable_by_key(|(order, _)| *order);
        out.into_iter().map(|(_, at)| at).collect()
    }
}

/// The token of delivery number `order` of the message in slot `at`. The slot number fits
/// its bits while the group holds at most [`MAX_HELD`] messages.
fn token(order: u64, at: usize) -> u64 {
    ((order & ((1 << ORDER_BITS) - 1)) << SLOT_BITS) | at as u64
}

/// The slot a token names: its low [`SLOT_BITS`] bits, which always fit a `usize`.
fn slot_of(token: u64) -> usize {
    (token & ((1 << SLOT_BITS) - 1)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_fit_48_bits_and_stay_distinct_when_the_order_number_wraps() {
        let mut store: Store<&str> = Store::default();
        let a = store.insert(Entry::new("a", None));
        let b = store.insert(Entry::new("b", None));
        store.next_order = (1 << ORDER_BITS) - 1;
        let (first, _) = store.deliver(a, 0).expect("stored");
        let (second, _) = store.deliver(b, 0).expect("stored");
        for token in [first, second] {
            assert!(token <= crate::token::MAX_TAG, "{token:#x} fits a tag");
        }
        assert_ne!(first, second);
        assert_eq!(
            store.undeliver(0, second),
            Some((b, store_delivered(second, 1 << ORDER_BITS)))
        );
        assert_eq!(store.undeliver(0, second), None, "settled once");
        assert!(store.undeliver(0, first).is_some());
    }

    #[test]
    fn freed_slots_are_reused_oldest_first() {
        let mut store: Store<u32> = Store::default();
        let slots: Vec<usize> = (0..4).map(|i| store.insert(Entry::new(i, None))).collect();
        for &at in &slots[..3] {
            assert_eq!(store.discard(at), Some(None));
        }
        let reused: Vec<usize> = (4..7).map(|i| store.insert(Entry::new(i, None))).collect();
        assert_eq!(reused, slots[..3], "in the order they were freed");
        assert_eq!(store.insert(Entry::new(7, None)), 4, "then a new slot");
        assert_eq!(store.len(), 5);
    }

    #[test]
    fn an_entry_adds_24_bytes_to_its_message() {
        assert_eq!(std::mem::size_of::<Entry<[u64; 16]>>(), 128 + 24);
    }

    fn store_delivered(token: u64, order: u64) -> Delivered {
        assert_eq!(super::token(order, slot_of(token)), token);
        Delivered { member: 0, order }
    }
}
