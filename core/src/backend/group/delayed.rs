//! Delays inside a [`Group`]: a delivery parked until a time ([`Group::park`]), a message
//! that joins the group at a time ([`Group::push_at`]), and [`Group::release_due`], which the
//! backend calls once [`Group::next_due`] has come. The group only keeps the times; the
//! backend owns the clock (a timer task, a poll loop's timeout).

use std::time::Instant;

use super::{Entry, Group, Member, MemberId, SettleError, member_slot};

impl<M, D: Member> Group<M, D> {
    /// Takes the unsettled delivery `token` from member `id` (freeing its prefetch room and
    /// its key, as an ack does) and keeps it aside until `due`; then
    /// [`release_due`](Self::release_due) puts it at the back of the group with the next
    /// attempt number. It stays counted in [`held`](Self::held) meanwhile.
    ///
    /// # Errors
    /// As for [`settle`](Self::settle): [`SettleError::MemberGone`] when the member left,
    /// [`SettleError::UnknownToken`] when `token` is not its unsettled delivery.
    pub fn park(&mut self, id: MemberId, token: u64, due: Instant) -> Result<(), SettleError> {
        let slot = member_slot(&mut self.slots, id).ok_or(SettleError::MemberGone)?;
        let (at, _) = self
            .store
            .undeliver(id.slot, token)
            .ok_or(SettleError::UnknownToken)?;
        slot.settled_one();
        if let Some(hash) = self.store.next_attempt(at) {
            self.keys.release(hash);
        }
        self.hold_until(due, at);
        Ok(())
    }

    /// Adds a message that joins the group at `due` (its first attempt): a delayed send.
    pub fn push_at(&mut self, message: M, key: Option<u64>, due: Instant) {
        let at = self.store.insert(Entry::new(message, key));
        self.hold_until(due, at);
    }

    /// Keeps the stored message `at` aside until `due`.
    fn hold_until(&mut self, due: Instant, at: usize) {
        let seq = self.next_delayed;
        self.next_delayed += 1;
        self.delayed.insert((due, seq), at);
    }

    /// When the earliest delayed message is due, if any is waiting.
    pub fn next_due(&self) -> Option<Instant> {
        self.delayed.keys().next().map(|(due, _)| *due)
    }

    /// Moves every delayed message due at `now` to the back of the group, earliest first.
    /// Returns whether the shared queue went from empty to not: a waiting member should be
    /// woken (a message routed by key wakes its member itself).
    pub fn release_due(&mut self, now: Instant) -> bool {
        let was_empty = self.shared.is_empty();
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let at = entry.remove();
            self.enqueue(at);
        }
        was_empty && !self.shared.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::backend::group::{Group, Member, Take};

    struct Quiet;
    impl Member for Quiet {}

    fn take_one(
        group: &mut Group<&'static str, Quiet>,
        id: super::MemberId,
    ) -> (u64, u32, &'static str) {
        let mut got = None;
        let taken = group.take(id, 1, |token, attempt, message| {
            got = Some((token, attempt, *message));
        });
        assert_eq!(taken, Take::Taken(1));
        got.expect("one delivery")
    }

    #[test]
    fn a_parked_delivery_frees_its_member_and_comes_back_when_due_with_the_next_attempt() {
        let mut group: Group<&'static str, Quiet> = Group::new();
        let id = group.join(1, Quiet);
        group.push("retry me", Some(7));
        group.push("next", Some(7));
        let (token, attempt, message) = take_one(&mut group, id);
        assert_eq!((attempt, message), (1, "retry me"));
        let now = Instant::now();
        group
            .park(id, token, now + Duration::from_secs(5))
            .expect("park");
        group.check_invariants();
        assert_eq!(group.stats().delayed, 1);
        // The key is free and the prefetch slot too: the later message of the key flows.
        let (token, _, message) = take_one(&mut group, id);
        assert_eq!(message, "next");
        assert!(
            !group.release_due(now + Duration::from_secs(4)),
            "not due yet"
        );
        group.settle(id, &[token], crate::Settle::Ack).expect("ack");
        assert_eq!(group.next_due(), Some(now + Duration::from_secs(5)));
        assert!(group.release_due(now + Duration::from_secs(5)));
        let (_, attempt, message) = take_one(&mut group, id);
        assert_eq!((attempt, message), (2, "retry me"));
        assert_eq!(group.next_due(), None);
        group.check_invariants();
    }

    #[test]
    fn delayed_sends_join_in_due_order_and_count_as_held() {
        let mut group: Group<&'static str, Quiet> = Group::new();
        let id = group.join(8, Quiet);
        let now = Instant::now();
        group.push_at("late", None, now + Duration::from_secs(2));
        group.push_at("early", None, now + Duration::from_secs(1));
        assert_eq!(group.held(), 2);
        assert_eq!(group.take(id, 8, |_, _, _| {}), Take::Idle { full: false });
        group.release_due(now + Duration::from_secs(3));
        assert_eq!(take_one(&mut group, id).2, "early");
        assert_eq!(take_one(&mut group, id).2, "late");
        group.check_invariants();
    }

    #[test]
    fn parking_a_token_of_a_member_that_left_or_an_unknown_token_fails() {
        let mut group: Group<&'static str, Quiet> = Group::new();
        let id = group.join(1, Quiet);
        group.push("m", None);
        let (token, _, _) = take_one(&mut group, id);
        let due = Instant::now();
        assert_eq!(
            group.park(id, token + 1, due),
            Err(super::SettleError::UnknownToken)
        );
        group.leave(id);
        assert_eq!(
            group.park(id, token, due),
            Err(super::SettleError::MemberGone)
        );
        group.check_invariants();
    }
}
