//! The binding side's bookkeeping, free of sockets: each group's outbox (messages waiting
//! for a consumer), its members with their credit, and what each member holds unacked.
//!
//! Every group of a topic gets every message; a group hands each message to one member with
//! credit, round-robin; a member's unacked messages go back to the front of its group when it
//! nacks them or leaves. Nothing is dropped until a member acks or rejects it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::wire::WireMessage;

/// One message in a group's outbox, with the number of its next delivery.
#[derive(Clone, Debug)]
struct Entry {
    message: WireMessage,
    attempt: u32,
}

/// A delivery the binding side must send: `message` to the peer `member`.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) member: Bytes,
    pub(crate) tag: u64,
    pub(crate) attempt: u32,
    pub(crate) message: WireMessage,
}

#[derive(Debug)]
struct Group {
    pending: VecDeque<Entry>,
    /// Members with credit, in round-robin order.
    ready: VecDeque<Bytes>,
    members: usize,
    unacked: usize,
}

#[derive(Debug)]
struct Member {
    group: usize,
    credit: u32,
    queued: bool,
    unacked: HashMap<u64, Entry>,
    last_seen: Instant,
}

/// Why a peer could not join.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AlreadyJoined;

/// Outboxes of every group of every topic served by one ROUTER.
#[derive(Debug)]
pub(crate) struct Outbox {
    capacity: usize,
    groups: Vec<Group>,
    by_topic: HashMap<String, Vec<usize>>,
    by_name: HashMap<(String, String), usize>,
    members: HashMap<Bytes, Member>,
    next_tag: u64,
}

impl Outbox {
    /// Outboxes holding at most `capacity` messages per group.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            groups: Vec::new(),
            by_topic: HashMap::new(),
            by_name: HashMap::new(),
            members: HashMap::new(),
            next_tag: 1,
        }
    }

    /// Creates `group` on `topic` when missing; messages enqueued from now on are kept for it.
    pub(crate) fn declare(&mut self, topic: &str, group: &str) -> usize {
        if let Some(&id) = self.by_name.get(&(topic.to_owned(), group.to_owned())) {
            return id;
        }
        let id = self.groups.len();
        self.groups.push(Group {
            pending: VecDeque::new(),
            ready: VecDeque::new(),
            members: 0,
            unacked: 0,
        });
        self.by_name
            .insert((topic.to_owned(), group.to_owned()), id);
        self.by_topic.entry(topic.to_owned()).or_default().push(id);
        id
    }

    /// How many more messages every group of `topic` can take; unbounded without groups.
    pub(crate) fn room(&self, topic: &str) -> usize {
        self.by_topic.get(topic).map_or(usize::MAX, |ids| {
            ids.iter()
                .map(|&id| {
                    let g = &self.groups[id];
                    self.capacity.saturating_sub(g.pending.len() + g.unacked)
                })
                .min()
                .unwrap_or(usize::MAX)
        })
    }

    /// Whether `topic` has at least one group.
    pub(crate) fn has_groups(&self, topic: &str) -> bool {
        self.by_topic.contains_key(topic)
    }

    /// Adds `messages` to the outbox of every group of `topic` and hands out what members
    /// with credit can take. The caller checks [`room`](Self::room) first.
    pub(crate) fn enqueue(
        &mut self,
        topic: &str,
        messages: impl IntoIterator<Item = WireMessage>,
        out: &mut Vec<Outgoing>,
    ) {
        let Some((&last, rest)) = self.by_topic.get(topic).and_then(|ids| ids.split_last()) else {
            return;
        };
        for message in messages {
            for &id in rest {
                self.groups[id].pending.push_back(Entry {
                    message: message.clone(),
                    attempt: 1,
                });
            }
            self.groups[last].pending.push_back(Entry {
                message,
                attempt: 1,
            });
        }
        for &id in &self.by_topic[topic] {
            dispatch(
                &mut self.groups[id],
                id,
                &mut self.members,
                &mut self.next_tag,
                out,
            );
        }
    }

    /// Makes the peer `member` a consumer of `group` on `topic` with `prefetch` credit.
    ///
    /// # Errors
    /// [`AlreadyJoined`] when the peer is already a member.
    pub(crate) fn join(
        &mut self,
        member: Bytes,
        topic: &str,
        group: &str,
        prefetch: u32,
        now: Instant,
        out: &mut Vec<Outgoing>,
    ) -> Result<(), AlreadyJoined> {
        if self.members.contains_key(&member) {
            return Err(AlreadyJoined);
        }
        let id = self.declare(topic, group);
        self.members.insert(
            member.clone(),
            Member {
                group: id,
                credit: prefetch.max(1),
                queued: true,
                unacked: HashMap::new(),
                last_seen: now,
            },
        );
        let g = &mut self.groups[id];
        g.members += 1;
        g.ready.push_back(member);
        self.dispatch(id, out);
        Ok(())
    }

    /// Whether the peer is a member of some group.
    #[cfg(test)]
    pub(crate) fn is_member(&self, member: &[u8]) -> bool {
        self.members.contains_key(member)
    }

    /// Notes that `member` was heard from.
    pub(crate) fn touch(&mut self, member: &[u8], now: Instant) {
        if let Some(m) = self.members.get_mut(member) {
            m.last_seen = now;
        }
    }

    /// Settles the deliveries `tags` of `member`: acked (`Settle::Ack`), back to the front of
    /// the group with a higher attempt (`Settle::Requeue`) or dropped (`Settle::Reject`).
    /// Tags the member does not hold (already requeued, or unknown) are ignored.
    pub(crate) fn settle(
        &mut self,
        member: &[u8],
        tags: &mut [u64],
        how: Settle,
        out: &mut Vec<Outgoing>,
    ) {
        let Some(m) = self.members.get_mut(member) else {
            return;
        };
        let id = m.group;
        // Oldest first, so that requeued messages keep their order at the front.
        tags.sort_unstable();
        let mut requeued = Vec::new();
        let mut settled = 0u32;
        for tag in tags.iter() {
            if let Some(entry) = m.unacked.remove(tag) {
                settled += 1;
                if how == Settle::Requeue {
                    requeued.push(entry);
                }
            }
        }
        if settled == 0 {
            return;
        }
        m.credit += settled;
        let enqueue_member = !m.queued;
        m.queued = true;
        let g = &mut self.groups[id];
        g.unacked -= settled as usize;
        for mut entry in requeued.into_iter().rev() {
            entry.attempt = entry.attempt.saturating_add(1);
            g.pending.push_front(entry);
        }
        if enqueue_member {
            g.ready.push_back(Bytes::copy_from_slice(member));
        }
        self.dispatch(id, out);
    }

    /// Removes `member`; what it held unacked goes back to the front of its group.
    pub(crate) fn leave(&mut self, member: &[u8], out: &mut Vec<Outgoing>) -> bool {
        let Some(m) = self.members.remove(member) else {
            return false;
        };
        let g = &mut self.groups[m.group];
        g.members -= 1;
        g.unacked -= m.unacked.len();
        g.ready.retain(|r| r.as_ref() != member);
        let mut held: Vec<(u64, Entry)> = m.unacked.into_iter().collect();
        held.sort_unstable_by_key(|(tag, _)| *tag);
        for (_, mut entry) in held.into_iter().rev() {
            entry.attempt = entry.attempt.saturating_add(1);
            g.pending.push_front(entry);
        }
        self.dispatch(m.group, out);
        true
    }

    /// Removes every member not heard from within `timeout`, returning them.
    pub(crate) fn expire(
        &mut self,
        now: Instant,
        timeout: Duration,
        out: &mut Vec<Outgoing>,
    ) -> Vec<Bytes> {
        let silent: Vec<Bytes> = self
            .members
            .iter()
            .filter(|(_, m)| now.saturating_duration_since(m.last_seen) > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &silent {
            self.leave(id, out);
        }
        silent
    }

    /// Messages still to be delivered or acked in groups that have members: what a linger
    /// waits for. Groups without members are not counted: nobody is there to take them.
    pub(crate) fn undelivered(&self) -> usize {
        self.groups
            .iter()
            .filter(|g| g.members > 0)
            .map(|g| g.pending.len() + g.unacked)
            .sum()
    }

    fn dispatch(&mut self, id: usize, out: &mut Vec<Outgoing>) {
        dispatch(
            &mut self.groups[id],
            id,
            &mut self.members,
            &mut self.next_tag,
            out,
        );
    }
}

/// Hands the group's waiting messages to its members with credit, round-robin.
fn dispatch(
    g: &mut Group,
    id: usize,
    members: &mut HashMap<Bytes, Member>,
    next_tag: &mut u64,
    out: &mut Vec<Outgoing>,
) {
    while !g.pending.is_empty() {
        let Some(member_id) = g.ready.pop_front() else {
            break;
        };
        let Some(m) = members.get_mut(&member_id) else {
            continue;
        };
        if m.group != id || m.credit == 0 {
            m.queued = false;
            continue;
        }
        let Some(entry) = g.pending.pop_front() else {
            break;
        };
        let tag = *next_tag;
        *next_tag += 1;
        out.push(Outgoing {
            member: member_id.clone(),
            tag,
            attempt: entry.attempt,
            message: entry.message.clone(),
        });
        m.unacked.insert(tag, entry);
        m.credit -= 1;
        g.unacked += 1;
        if m.credit > 0 {
            g.ready.push_back(member_id);
        } else {
            m.queued = false;
        }
    }
}

/// How [`Outbox::settle`] settles deliveries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settle {
    /// Done.
    Ack,
    /// Back to the group, attempt raised.
    Requeue,
    /// Dropped.
    Reject,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str) -> WireMessage {
        WireMessage {
            id: Bytes::copy_from_slice(id.as_bytes()),
            key: Bytes::new(),
            headers: Bytes::new(),
            payload: Bytes::new(),
        }
    }

    fn ids(out: &[Outgoing]) -> Vec<(String, String, u32)> {
        out.iter()
            .map(|o| {
                (
                    String::from_utf8_lossy(&o.member).into_owned(),
                    String::from_utf8_lossy(&o.message.id).into_owned(),
                    o.attempt,
                )
            })
            .collect()
    }

    fn peer(name: &str) -> Bytes {
        Bytes::copy_from_slice(name.as_bytes())
    }

    #[test]
    fn without_groups_messages_go_nowhere_and_room_is_unbounded() {
        let mut outbox = Outbox::new(2);
        let mut out = Vec::new();
        assert_eq!(outbox.room("t"), usize::MAX);
        outbox.enqueue("t", [msg("a")], &mut out);
        assert!(out.is_empty());
        assert!(!outbox.has_groups("t"));
    }

    #[test]
    fn a_declared_group_keeps_messages_until_a_member_joins() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        outbox.declare("t", "g");
        outbox.enqueue("t", [msg("a"), msg("b")], &mut out);
        assert!(out.is_empty());
        assert_eq!(outbox.room("t"), 8);
        outbox
            .join(peer("c1"), "t", "g", 10, Instant::now(), &mut out)
            .unwrap();
        assert_eq!(
            ids(&out),
            vec![("c1".into(), "a".into(), 1), ("c1".into(), "b".into(), 1)]
        );
    }

    #[test]
    fn every_group_gets_every_message_and_members_share_by_credit() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        let now = Instant::now();
        outbox.join(peer("x1"), "t", "x", 1, now, &mut out).unwrap();
        outbox.join(peer("x2"), "t", "x", 1, now, &mut out).unwrap();
        outbox.join(peer("y1"), "t", "y", 5, now, &mut out).unwrap();
        outbox.enqueue("t", [msg("a"), msg("b"), msg("c")], &mut out);
        let sent = ids(&out);
        let to = |m: &str| sent.iter().filter(|s| s.0 == m).count();
        assert_eq!((to("x1"), to("x2"), to("y1")), (1, 1, 3));
        // Group x is out of credit: "c" waits, counted against the capacity.
        assert_eq!(outbox.room("t"), 7);
        let tag_x1 = out.iter().find(|o| o.member == "x1").unwrap().tag;
        out.clear();
        outbox.settle(b"x1", &mut [tag_x1], Settle::Ack, &mut out);
        assert_eq!(ids(&out), vec![("x1".into(), "c".into(), 1)]);
    }

    #[test]
    fn nack_requeues_at_the_front_with_a_higher_attempt() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        outbox
            .join(peer("c"), "t", "g", 2, Instant::now(), &mut out)
            .unwrap();
        outbox.enqueue("t", [msg("a"), msg("b"), msg("c")], &mut out);
        let mut tags: Vec<u64> = out.iter().map(|o| o.tag).collect();
        out.clear();
        outbox.settle(b"c", &mut tags, Settle::Requeue, &mut out);
        assert_eq!(
            ids(&out),
            vec![("c".into(), "a".into(), 2), ("c".into(), "b".into(), 2)]
        );
        // Settling a tag twice is ignored.
        let mut again = tags.clone();
        let before = outbox.undelivered();
        outbox.settle(b"c", &mut again, Settle::Ack, &mut Vec::new());
        assert_eq!(outbox.undelivered(), before);
    }

    #[test]
    fn a_member_that_leaves_hands_back_what_it_held() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        let now = Instant::now();
        outbox.join(peer("a"), "t", "g", 5, now, &mut out).unwrap();
        outbox.enqueue("t", [msg("1"), msg("2")], &mut out);
        out.clear();
        outbox.join(peer("b"), "t", "g", 5, now, &mut out).unwrap();
        assert!(out.is_empty());
        assert!(outbox.leave(b"a", &mut out));
        assert_eq!(
            ids(&out),
            vec![("b".into(), "1".into(), 2), ("b".into(), "2".into(), 2)]
        );
        assert!(!outbox.leave(b"a", &mut out));
    }

    #[test]
    fn silent_members_expire() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        let start = Instant::now();
        outbox
            .join(peer("old"), "t", "g", 1, start, &mut out)
            .unwrap();
        outbox
            .join(peer("new"), "t", "g", 1, start, &mut out)
            .unwrap();
        outbox.touch(b"new", start + Duration::from_secs(4));
        let gone = outbox.expire(
            start + Duration::from_secs(6),
            Duration::from_secs(5),
            &mut out,
        );
        assert_eq!(gone, vec![peer("old")]);
        assert!(outbox.is_member(b"new"));
    }

    #[test]
    fn joining_twice_is_refused() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        outbox
            .join(peer("a"), "t", "g", 1, Instant::now(), &mut out)
            .unwrap();
        assert_eq!(
            outbox.join(peer("a"), "t", "h", 1, Instant::now(), &mut out),
            Err(AlreadyJoined)
        );
    }

    #[test]
    fn linger_counts_only_groups_with_members() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        outbox.declare("t", "idle");
        outbox
            .join(peer("a"), "t", "busy", 1, Instant::now(), &mut out)
            .unwrap();
        outbox.enqueue("t", [msg("1"), msg("2")], &mut out);
        assert_eq!(outbox.undelivered(), 2);
        let tag = out[0].tag;
        outbox.settle(b"a", &mut [tag], Settle::Reject, &mut out);
        let tag = out.last().unwrap().tag;
        outbox.settle(b"a", &mut [tag], Settle::Ack, &mut out);
        assert_eq!(outbox.undelivered(), 0);
    }
}
