//! The binding side's bookkeeping, free of sockets: each group's outbox (messages waiting
//! for a consumer), its members with their credit, and what each member holds unacked.
//!
//! Every group of a topic gets every message; a group hands each message to one member with
//! credit, round-robin, except that a message whose key is pinned to a member (because that
//! member holds earlier messages of the key) is routed to that member, so one key's messages
//! are handled in order across competing consumers. A member's unacked messages go back to
//! the front of its group when it nacks them or leaves. Nothing is dropped until a member
//! acks or rejects it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use courier_core::key_routing::KeyTable;

use super::hash::{FxHashMap, key_hash};
use crate::wire::WireMessage;

/// One message in a group's outbox, with the number of its next delivery.
#[derive(Clone, Debug)]
struct Entry {
    message: WireMessage,
    key: Option<u64>,
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

#[derive(Debug, Default)]
struct Group {
    /// The shared queue, oldest first.
    pending: VecDeque<Entry>,
    /// Members with credit, in round-robin order.
    ready: VecDeque<Bytes>,
    keys: KeyTable<Bytes>,
    members: usize,
    /// Delivered and not yet settled, over all members.
    unacked: usize,
    /// Routed to a member by key and not yet sent, over all members.
    routed: usize,
}

impl Group {
    fn held(&self) -> usize {
        self.pending.len() + self.unacked + self.routed
    }

    /// Adds a message at the back: to its key's owner when the key is pinned and nothing of
    /// it is queued, else to the shared queue.
    fn push(&mut self, entry: Entry, members: &mut FxHashMap<Bytes, Member>) {
        if let Some(key) = entry.key {
            let state = self.keys.entry(key);
            if state.queued == 0 {
                if let Some(owner) = state.owner.as_ref().and_then(|o| members.get_mut(o)) {
                    state.held += 1;
                    owner.routed.push_back(entry);
                    self.routed += 1;
                    return;
                }
            }
            state.queued += 1;
        }
        self.pending.push_back(entry);
    }

    /// The oldest shared message `member` may take. Keyed messages pinned to another member
    /// are routed to it on the way; an unpinned key is pinned to `member`.
    fn take_shared(
        &mut self,
        member: &Bytes,
        members: &mut FxHashMap<Bytes, Member>,
    ) -> Option<Entry> {
        while let Some(entry) = self.pending.pop_front() {
            let Some(key) = entry.key else {
                return Some(entry);
            };
            let state = self.keys.entry(key);
            state.queued = state.queued.saturating_sub(1);
            state.held += 1;
            match state.owner.as_ref() {
                Some(owner) if owner != member => {
                    if let Some(owner) = members.get_mut(owner) {
                        owner.routed.push_back(entry);
                        self.routed += 1;
                        continue;
                    }
                    // The owner is gone (its state is always cleaned up; kept for safety).
                    state.owner = Some(member.clone());
                    return Some(entry);
                }
                Some(_) => return Some(entry),
                None => {
                    state.owner = Some(member.clone());
                    return Some(entry);
                }
            }
        }
        None
    }
}

#[derive(Debug)]
struct Member {
    group: usize,
    credit: u32,
    /// Whether it is in its group's `ready` queue (always, while it has credit).
    queued: bool,
    unacked: FxHashMap<u64, Entry>,
    /// Routed to it by key, waiting for credit; sent before anything of the shared queue.
    routed: VecDeque<Entry>,
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
    members: FxHashMap<Bytes, Member>,
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
            members: FxHashMap::default(),
            next_tag: 1,
        }
    }

    /// Creates `group` on `topic` when missing; messages enqueued from now on are kept for it.
    pub(crate) fn declare(&mut self, topic: &str, group: &str) -> usize {
        if let Some(&id) = self.by_name.get(&(topic.to_owned(), group.to_owned())) {
            return id;
        }
        let id = self.groups.len();
        self.groups.push(Group::default());
        self.by_name
            .insert((topic.to_owned(), group.to_owned()), id);
        self.by_topic.entry(topic.to_owned()).or_default().push(id);
        id
    }

    /// How many more messages every group of `topic` can take; unbounded without groups.
    pub(crate) fn room(&self, topic: &str) -> usize {
        self.by_topic.get(topic).map_or(usize::MAX, |ids| {
            ids.iter()
                .map(|&id| self.capacity.saturating_sub(self.groups[id].held()))
                .min()
                .unwrap_or(usize::MAX)
        })
    }

    /// Whether `topic` has at least one group.
    pub(crate) fn has_groups(&self, topic: &str) -> bool {
        self.by_topic.contains_key(topic)
    }

    /// Whether `group` exists on `topic`.
    pub(crate) fn has_group(&self, topic: &str, group: &str) -> bool {
        self.by_name
            .contains_key(&(topic.to_owned(), group.to_owned()))
    }

    /// The groups of `topic` that hold `capacity` messages, with how many members each has.
    pub(crate) fn full_groups(&self, topic: &str) -> Vec<(String, usize)> {
        self.by_name
            .iter()
            .filter(|((t, _), id)| t == topic && self.groups[**id].held() >= self.capacity)
            .map(|((_, group), id)| (group.clone(), self.groups[*id].members))
            .collect()
    }

    /// Adds `messages` to the outbox of every group of `topic` and hands out what members
    /// with credit can take. The caller checks [`room`](Self::room) first.
    pub(crate) fn enqueue(
        &mut self,
        topic: &str,
        messages: impl IntoIterator<Item = WireMessage>,
        out: &mut Vec<Outgoing>,
    ) {
        let Some(ids) = self.by_topic.get(topic) else {
            return;
        };
        for message in messages {
            let entry = Entry {
                key: key_hash(&message.key),
                message,
                attempt: 1,
            };
            for &id in ids {
                self.groups[id].push(entry.clone(), &mut self.members);
            }
        }
        for &id in ids {
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
                unacked: FxHashMap::default(),
                routed: VecDeque::new(),
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
    pub(crate) fn is_member(&self, member: &[u8]) -> bool {
        self.members.contains_key(member)
    }

    /// Notes that `member` was heard from.
    pub(crate) fn touch(&mut self, member: &[u8], now: Instant) {
        if let Some(m) = self.members.get_mut(member) {
            m.last_seen = now;
        }
    }

    /// Settles the deliveries `tags` of `member`: acked (`Settle::Ack`), back to its group
    /// with a higher attempt (`Settle::Requeue`) or dropped (`Settle::Reject`). A requeued
    /// message goes to the front of the group, or, when the member still holds later messages
    /// of its key, to the front of what is routed to the member. Tags the member does not
    /// hold (already requeued, or unknown) are ignored.
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
        let g = &mut self.groups[id];
        // Oldest first, so that requeued messages keep their order at the front.
        tags.sort_unstable();
        let mut requeued = Vec::new();
        let mut settled = 0u32;
        for tag in tags.iter() {
            let Some(entry) = m.unacked.remove(tag) else {
                continue;
            };
            settled += 1;
            if how == Settle::Requeue {
                requeued.push(entry);
            } else if let Some(key) = entry.key {
                g.keys.release(key);
            }
        }
        if settled == 0 {
            return;
        }
        m.credit += settled;
        g.unacked -= settled as usize;
        for mut entry in requeued.into_iter().rev() {
            entry.attempt = entry.attempt.saturating_add(1);
            match entry.key {
                Some(key) if g.keys.entry(key).held > 1 => {
                    m.routed.push_front(entry);
                    g.routed += 1;
                }
                Some(key) => {
                    g.keys.returned(key);
                    g.pending.push_front(entry);
                }
                None => g.pending.push_front(entry),
            }
        }
        if !m.queued {
            m.queued = true;
            g.ready.push_back(Bytes::copy_from_slice(member));
        }
        self.dispatch(id, out);
    }

    /// Removes `member`; what it held (unacked, then routed to it) goes back to the front of
    /// its group, and its keys are no longer pinned to it.
    pub(crate) fn leave(&mut self, member: &[u8], out: &mut Vec<Outgoing>) -> bool {
        let Some(m) = self.members.remove(member) else {
            return false;
        };
        let g = &mut self.groups[m.group];
        g.members -= 1;
        g.unacked -= m.unacked.len();
        g.routed -= m.routed.len();
        g.ready.retain(|r| r.as_ref() != member);
        let mut unacked: Vec<(u64, Entry)> = m.unacked.into_iter().collect();
        unacked.sort_unstable_by_key(|(tag, _)| *tag);
        let back: Vec<Entry> = unacked
            .into_iter()
            .map(|(_, mut entry)| {
                entry.attempt = entry.attempt.saturating_add(1);
                entry
            })
            .chain(m.routed)
            .collect();
        for key in back.iter().filter_map(|e| e.key) {
            g.keys.returned(key);
        }
        for entry in back.into_iter().rev() {
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
            .map(Group::held)
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

/// Hands the group's messages to its members with credit, round-robin: each member first
/// gets what is routed to it, then the oldest shared message it may take.
fn dispatch(
    g: &mut Group,
    id: usize,
    members: &mut FxHashMap<Bytes, Member>,
    next_tag: &mut u64,
    out: &mut Vec<Outgoing>,
) {
    // Members in a row that had nothing to take: after a whole round of them, stop.
    let mut idle = 0;
    while (!g.pending.is_empty() || g.routed > 0) && idle <= g.ready.len() {
        let Some(member_id) = g.ready.pop_front() else {
            break;
        };
        let routed = match members.get_mut(&member_id) {
            Some(m) if m.group == id && m.credit > 0 => m.routed.pop_front(),
            Some(m) => {
                m.queued = false;
                continue;
            }
            None => continue,
        };
        let entry = match routed {
            Some(entry) => {
                g.routed -= 1;
                Some(entry)
            }
            None => g.take_shared(&member_id, members),
        };
        let Some(entry) = entry else {
            g.ready.push_back(member_id);
            idle += 1;
            continue;
        };
        idle = 0;
        let Some(m) = members.get_mut(&member_id) else {
            continue;
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

pub(crate) use courier_core::Settle;

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str) -> WireMessage {
        keyed(id, "")
    }

    fn keyed(id: &str, key: &str) -> WireMessage {
        WireMessage {
            id: Bytes::copy_from_slice(id.as_bytes()),
            key: Bytes::copy_from_slice(key.as_bytes()),
            headers: Bytes::new(),
            payload: Bytes::new(),
        }
    }

    fn tag_of(out: &[Outgoing], id: &str) -> u64 {
        out.iter()
            .rev()
            .find(|o| o.message.id == id.as_bytes())
            .map(|o| o.tag)
            .expect("delivered")
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

    #[test]
    fn one_key_sticks_to_one_member_while_it_holds_the_key() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        let now = Instant::now();
        outbox.join(peer("a"), "t", "g", 5, now, &mut out).unwrap();
        outbox.join(peer("b"), "t", "g", 5, now, &mut out).unwrap();
        outbox.enqueue(
            "t",
            [
                keyed("1", "k1"),
                keyed("2", "k1"),
                keyed("3", "k2"),
                keyed("4", "k1"),
            ],
            &mut out,
        );
        let sent = ids(&out);
        let member_of = |id: &str| sent.iter().find(|s| s.1 == id).unwrap().0.clone();
        assert_eq!(member_of("1"), member_of("2"));
        assert_eq!(member_of("1"), member_of("4"));
        assert_ne!(member_of("1"), member_of("3"), "round-robin between keys");
    }

    #[test]
    fn a_pinned_key_waits_for_its_owner_while_others_flow() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        let now = Instant::now();
        outbox.join(peer("a"), "t", "g", 1, now, &mut out).unwrap();
        outbox.enqueue("t", [keyed("k-1", "k")], &mut out);
        outbox.join(peer("b"), "t", "g", 5, now, &mut out).unwrap();
        outbox.enqueue("t", [keyed("k-2", "k"), msg("free")], &mut out);
        // b has credit, yet k-2 waits for a, which holds k-1; the free message goes to b.
        assert_eq!(
            ids(&out),
            vec![
                ("a".into(), "k-1".into(), 1),
                ("b".into(), "free".into(), 1)
            ]
        );
        assert_eq!(outbox.room("t"), 7);
        let free = tag_of(&out, "free");
        let tag = tag_of(&out, "k-1");
        out.clear();
        outbox.settle(b"a", &mut [tag], Settle::Ack, &mut out);
        assert_eq!(ids(&out), vec![("a".into(), "k-2".into(), 1)]);
        let tag = tag_of(&out, "k-2");
        outbox.settle(b"a", &mut [tag], Settle::Ack, &mut out);
        outbox.settle(b"b", &mut [free], Settle::Ack, &mut out);
        assert_eq!(outbox.undelivered(), 0);
        assert_eq!(outbox.groups[0].keys.len(), 0, "the key table is emptied");
    }

    #[test]
    fn a_leaving_owner_hands_its_key_over_in_order() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        let now = Instant::now();
        outbox.join(peer("a"), "t", "g", 1, now, &mut out).unwrap();
        outbox.enqueue("t", [keyed("k-1", "k"), keyed("k-2", "k")], &mut out);
        outbox.join(peer("b"), "t", "g", 5, now, &mut out).unwrap();
        out.clear();
        assert!(outbox.leave(b"a", &mut out));
        // k-1 was delivered (attempt 2 now); k-2 was only routed (still attempt 1).
        assert_eq!(
            ids(&out),
            vec![("b".into(), "k-1".into(), 2), ("b".into(), "k-2".into(), 1)]
        );
    }

    #[test]
    fn a_nack_while_holding_later_messages_of_the_key_keeps_it_with_the_owner() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        let now = Instant::now();
        outbox.join(peer("a"), "t", "g", 1, now, &mut out).unwrap();
        outbox.join(peer("b"), "t", "g", 5, now, &mut out).unwrap();
        outbox.enqueue("t", [keyed("k-1", "k"), keyed("k-2", "k")], &mut out);
        // a joined first, so it takes k-1 and the key; k-2 is routed to a, not given to b.
        assert_eq!(ids(&out), vec![("a".into(), "k-1".into(), 1)]);
        let tag = out[0].tag;
        out.clear();
        outbox.settle(b"a", &mut [tag], Settle::Requeue, &mut out);
        // a held k-1 and had k-2 routed to it: k-1 goes before k-2, both to a.
        assert_eq!(ids(&out), vec![("a".into(), "k-1".into(), 2)]);
        let tag = out[0].tag;
        out.clear();
        outbox.settle(b"a", &mut [tag], Settle::Ack, &mut out);
        assert_eq!(ids(&out), vec![("a".into(), "k-2".into(), 1)]);
    }
}
