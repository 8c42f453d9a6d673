//! Delayed messages in the outboxes: deliveries a member retries after a delay (`RETRY`,
//! parked aside with core's [`Group::park`]) and delayed sends (held with
//! [`Group::push_at`]). Both count against the group's capacity while they wait; the hub's
//! loop wakes at [`Outbox::next_due`] and calls [`Outbox::release_due`].
//!
//! [`Group::park`]: courier_core::backend::group::Group::park
//! [`Group::push_at`]: courier_core::backend::group::Group::push_at

use std::time::Instant;

use super::{Outbox, Outgoing, dispatch};
use crate::wire::WireMessage;

impl Outbox {
    /// Takes the deliveries `tags` from `member` (freeing its credit and its keys, which
    /// hands out what it can take now) and keeps them aside until `due`; then they go to the
    /// back of the group with the next attempt. Tags the member does not hold are ignored,
    /// as for [`settle`](Outbox::settle), and so is a peer that is not a member.
    pub(crate) fn park(
        &mut self,
        member: &[u8],
        tags: &[u64],
        due: Instant,
        out: &mut Vec<Outgoing>,
    ) {
        let Some(m) = self.members.get(member) else {
            return;
        };
        let (id, index) = (m.id, m.group);
        let group = &mut self.groups[index];
        let mut parked = false;
        for &tag in tags {
            // A peer may repeat a settle; unknown tags change nothing.
            parked |= group.park(id, tag, due).is_ok();
        }
        dispatch(group, out);
        if parked {
            self.delayed.insert(index);
            self.note_due(due);
        }
    }

    /// Adds `messages` to every group of `topic`, joining each group at `due`. The caller
    /// checks [`room`](Outbox::room) first: they count as held from now on.
    pub(crate) fn enqueue_at(
        &mut self,
        topic: &str,
        messages: impl IntoIterator<Item = WireMessage>,
        due: Instant,
    ) {
        let Some(ids) = self.by_topic.get(topic) else {
            return;
        };
        let mut any = false;
        for message in messages {
            let key = self.key_of(&message);
            for &id in ids {
                self.groups[id].push_at(message.clone(), key, due);
            }
            any = true;
        }
        if any {
            self.delayed.extend(ids.iter().copied());
            self.note_due(due);
        }
    }

    /// Adds `messages` to every group of `topic`, at once with `due` `None` (as
    /// [`enqueue`](Outbox::enqueue)), else at `due` (as [`enqueue_at`](Self::enqueue_at)).
    pub(crate) fn enqueue_due(
        &mut self,
        topic: &str,
        messages: impl IntoIterator<Item = WireMessage>,
        due: Option<Instant>,
        out: &mut Vec<Outgoing>,
    ) {
        match due {
            None => self.enqueue(topic, messages, out),
            Some(due) => self.enqueue_at(topic, messages, due),
        }
    }

    /// When the earliest delayed message is due, if any waits: when the hub must call
    /// [`release_due`](Self::release_due).
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.next_due
    }

    /// Moves the delayed messages due by `now` into their groups and hands out what members
    /// with credit can take.
    pub(crate) fn release_due(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
        let groups = &mut self.groups;
        let mut next: Option<Instant> = None;
        self.delayed.retain(|&id| {
            let group = &mut groups[id];
            if group.next_due().is_some_and(|due| due <= now) {
                group.release_due(now);
                dispatch(group, out);
            }
            match group.next_due() {
                Some(due) => {
                    next = Some(next.map_or(due, |n| n.min(due)));
                    true
                }
                None => false,
            }
        });
        self.next_due = next;
    }

    fn note_due(&mut self, due: Instant) {
        self.next_due = Some(self.next_due.map_or(due, |n| n.min(due)));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use courier_core::backend::group::GroupStats;

    use super::super::tests::{ids, keyed, msg, peer};
    use super::*;

    fn stats(outbox: &Outbox, topic: &str, group: &str) -> GroupStats {
        outbox.groups[outbox.by_name[&(topic.to_owned(), group.to_owned())]].stats()
    }

    /// The tag of the delivery that went to `member`.
    fn tag_of(out: &[Outgoing], member: &Bytes) -> u64 {
        out.iter()
            .find(|o| o.member == member)
            .map(|o| o.tag)
            .expect("a delivery to the member")
    }

    #[test]
    fn a_retried_delivery_frees_the_credit_and_comes_back_when_due() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        let now = Instant::now();
        outbox.join(peer("a"), "t", "g", 1, now, &mut out).unwrap();
        outbox.enqueue("t", [keyed("1", "k"), keyed("2", "k")], &mut out);
        assert_eq!(ids(&out), vec![("a".into(), "1".into(), 1)]);
        let tag = tag_of(&out, &peer("a"));
        out.clear();

        let due = now + Duration::from_secs(5);
        outbox.park(b"a", &[tag, tag + 100], due, &mut out);
        // The credit and the key are free: the message behind it goes out at once.
        assert_eq!(ids(&out), vec![("a".into(), "2".into(), 1)]);
        assert_eq!(outbox.next_due(), Some(due));
        assert_eq!(outbox.room("t"), 8, "the parked message is still held");
        assert_eq!(stats(&outbox, "t", "g").delayed, 1);
        let tag = tag_of(&out, &peer("a"));
        out.clear();

        outbox.release_due(due - Duration::from_millis(1), &mut out);
        assert!(out.is_empty(), "not due yet");
        assert_eq!(outbox.next_due(), Some(due));
        outbox.settle(b"a", &[tag], super::super::Settle::Ack, &mut out);
        outbox.release_due(due, &mut out);
        assert_eq!(ids(&out), vec![("a".into(), "1".into(), 2)]);
        assert_eq!(outbox.next_due(), None);
        assert!(outbox.delayed.is_empty());
    }

    #[test]
    fn a_delayed_send_reaches_every_group_when_due_and_counts_as_held() {
        let mut outbox = Outbox::new(3);
        let mut out = Vec::new();
        let now = Instant::now();
        outbox.join(peer("x"), "t", "x", 5, now, &mut out).unwrap();
        outbox.join(peer("y"), "t", "y", 5, now, &mut out).unwrap();
        let (early, late) = (now + Duration::from_secs(1), now + Duration::from_secs(2));
        outbox.enqueue_at("t", [msg("late")], late);
        outbox.enqueue_at("t", [msg("early")], early);
        outbox.enqueue_at("none", [msg("dropped")], early);
        assert_eq!(outbox.room("t"), 1);
        assert_eq!(outbox.next_due(), Some(early));
        outbox.enqueue("t", [msg("now")], &mut out);
        assert_eq!(
            ids(&out),
            vec![("x".into(), "now".into(), 1), ("y".into(), "now".into(), 1)]
        );
        out.clear();

        outbox.release_due(early, &mut out);
        let mut got = ids(&out);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("x".into(), "early".into(), 1),
                ("y".into(), "early".into(), 1)
            ]
        );
        assert_eq!(outbox.next_due(), Some(late));
        out.clear();
        outbox.release_due(late + Duration::from_secs(1), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(outbox.next_due(), None);
    }

    #[test]
    fn a_removed_temporary_group_takes_its_delayed_messages_with_it() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        let now = Instant::now();
        outbox
            .join(peer("a"), "t", "tmp", 1, now, &mut out)
            .unwrap();
        outbox.make_temporary("t", "tmp");
        let due = now + Duration::from_secs(1);
        outbox.enqueue_at("t", [msg("later")], due);
        assert!(outbox.leave(b"a", &mut out));
        assert!(outbox.delayed.is_empty());
        // The wake-up may still come; it finds nothing.
        outbox.release_due(due, &mut out);
        assert!(out.is_empty());
        assert_eq!(outbox.next_due(), None);
    }

    #[test]
    fn a_peer_that_is_not_a_member_parks_nothing() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        outbox.park(b"stranger", &[1], Instant::now(), &mut out);
        assert!(out.is_empty());
        assert_eq!(outbox.next_due(), None);
    }
}
