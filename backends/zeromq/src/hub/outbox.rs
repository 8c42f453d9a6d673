//! The binding side's bookkeeping, free of sockets: each group of each topic (core's group
//! engine, pushing to members with credit) and which peer is a member of which group.
//!
//! Every group of a topic gets every message; a group hands each message to one member with
//! credit, round-robin, keeping one key's messages on one member while it holds any of them.
//! A member's unacked messages go back to the front of its group when it nacks them or
//! leaves, or wait aside until a time when it retries them after a delay (see `delayed`).
//! Nothing is dropped until a member acks or rejects it, except with a temporary group,
//! which is removed (with what it holds) when its last member leaves.

mod delayed;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use courier_core::backend::group::{Group, Member, MemberId};
use courier_core::key_routing::KeyHasher;

use crate::wire::{Framing, WireMessage};

pub(crate) use courier_core::Settle;

/// A delivery the binding side must send: `message` to the peer `member`.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) member: Bytes,
    /// How the member asked for its deliveries.
    pub(crate) framing: Framing,
    pub(crate) tag: u64,
    pub(crate) attempt: u32,
    pub(crate) message: WireMessage,
}

/// How a member takes its deliveries: at most `prefetch` unsettled, framed as it asked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Intake {
    pub(crate) prefetch: u32,
    pub(crate) framing: Framing,
}

impl From<u32> for Intake {
    fn from(prefetch: u32) -> Self {
        Self {
            prefetch,
            framing: Framing::Msg,
        }
    }
}

/// A member as its group sees it: the peer's identity, and how it asked for its
/// deliveries. Nothing to wake: the hub dispatches after every change.
#[derive(Debug)]
struct Peer {
    identity: Bytes,
    framing: Framing,
}

impl Member for Peer {}

/// Which group a peer is a member of, and when it was last heard from.
#[derive(Debug)]
struct Membership {
    group: usize,
    id: MemberId,
    last_seen: Instant,
}

/// Why a peer could not join.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AlreadyJoined;

/// Outboxes of every group of every topic served by one ROUTER.
#[derive(Debug)]
pub(crate) struct Outbox {
    capacity: usize,
    keys: KeyHasher,
    groups: Vec<Group<WireMessage, Peer>>,
    by_topic: HashMap<String, Vec<usize>>,
    by_name: HashMap<(String, String), usize>,
    members: HashMap<Bytes, Membership>,
    /// Temporary groups, removed when their last member leaves.
    temporary: HashSet<usize>,
    /// Slots of removed groups, reused by the next group declared.
    free: Vec<usize>,
    /// Groups that hold delayed messages.
    delayed: HashSet<usize>,
    /// When the earliest delayed message of any group is due (possibly earlier than that,
    /// never later: a group removed since makes it early).
    next_due: Option<Instant>,
}

impl Outbox {
    /// Outboxes holding at most `capacity` messages per group.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            keys: KeyHasher::new(),
            groups: Vec::new(),
            by_topic: HashMap::new(),
            by_name: HashMap::new(),
            members: HashMap::new(),
            temporary: HashSet::new(),
            free: Vec::new(),
            delayed: HashSet::new(),
            next_due: None,
        }
    }

    /// Creates `group` on `topic` when missing; messages enqueued from now on are kept for it.
    pub(crate) fn declare(&mut self, topic: &str, group: &str) -> usize {
        if let Some(&id) = self.by_name.get(&(topic.to_owned(), group.to_owned())) {
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.groups[id] = Group::new();
                id
            }
            None => {
                self.groups.push(Group::new());
                self.groups.len() - 1
            }
        };
        self.by_name
            .insert((topic.to_owned(), group.to_owned()), id);
        self.by_topic.entry(topic.to_owned()).or_default().push(id);
        id
    }

    /// Marks `group` of `topic` temporary: it is removed when its last member leaves.
    pub(crate) fn make_temporary(&mut self, topic: &str, group: &str) {
        if let Some(&id) = self.by_name.get(&(topic.to_owned(), group.to_owned())) {
            self.temporary.insert(id);
        }
    }

    /// Removes the temporary group `id` once it has no member: messages sent from now on skip
    /// it, and what it holds is dropped.
    fn remove_if_unused(&mut self, id: usize) {
        if !self.temporary.contains(&id) || self.groups[id].members() > 0 {
            return;
        }
        self.temporary.remove(&id);
        self.delayed.remove(&id);
        self.by_name.retain(|_, &mut g| g != id);
        self.by_topic.retain(|_, ids| {
            ids.retain(|&g| g != id);
            !ids.is_empty()
        });
        self.groups[id] = Group::new();
        self.free.push(id);
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
            .map(|((_, group), id)| (group.clone(), self.groups[*id].members()))
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
            let key = self.key_of(&message);
            for &id in ids {
                let _ = self.groups[id].push(message.clone(), key);
            }
        }
        for &id in ids {
            dispatch(&mut self.groups[id], out);
        }
    }

    /// The hash of the key of `message`, when it has one.
    fn key_of(&self, message: &WireMessage) -> Option<u64> {
        (!message.key.is_empty()).then(|| self.keys.hash(&message.key))
    }

    /// Makes the peer `member` a consumer of `group` on `topic`, taking its deliveries as
    /// `intake` says (a bare number: that prefetch, as `MSG`s).
    ///
    /// # Errors
    /// [`AlreadyJoined`] when the peer is already a member.
    pub(crate) fn join(
        &mut self,
        member: Bytes,
        topic: &str,
        group: &str,
        intake: impl Into<Intake>,
        now: Instant,
        out: &mut Vec<Outgoing>,
    ) -> Result<(), AlreadyJoined> {
        let Intake { prefetch, framing } = intake.into();
        if self.members.contains_key(&member) {
            return Err(AlreadyJoined);
        }
        let group = self.declare(topic, group);
        let peer = Peer {
            identity: member.clone(),
            framing,
        };
        let id = self.groups[group].join(prefetch as usize, peer);
        self.members.insert(
            member,
            Membership {
                group,
                id,
                last_seen: now,
            },
        );
        dispatch(&mut self.groups[group], out);
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
    /// with a higher attempt (`Settle::Requeue`) or dropped (`Settle::Reject`). Tags the
    /// member does not hold (already settled, or unknown) are ignored.
    pub(crate) fn settle(
        &mut self,
        member: &[u8],
        tags: &[u64],
        how: Settle,
        out: &mut Vec<Outgoing>,
    ) {
        let Some(m) = self.members.get(member) else {
            return;
        };
        let group = &mut self.groups[m.group];
        // A peer may repeat a settle; unknown tags change nothing.
        let _ = group.settle(m.id, tags, how);
        dispatch(group, out);
    }

    /// Removes `member`; what it held (unacked, then routed to it) goes back to the front of
    /// its group, and its keys are no longer pinned to it.
    pub(crate) fn leave(&mut self, member: &[u8], out: &mut Vec<Outgoing>) -> bool {
        let Some(m) = self.members.remove(member) else {
            return false;
        };
        let group = &mut self.groups[m.group];
        let _ = group.leave(m.id);
        dispatch(group, out);
        self.remove_if_unused(m.group);
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
            .filter(|g| g.members() > 0)
            .map(Group::held)
            .sum()
    }
}

/// Hands what the members of `group` with credit can take to them, as deliveries to send.
fn dispatch(group: &mut Group<WireMessage, Peer>, out: &mut Vec<Outgoing>) {
    group.dispatch(|_, peer, tag, attempt, message| {
        out.push(Outgoing {
            member: peer.identity.clone(),
            framing: peer.framing,
            tag,
            attempt,
            message: message.clone(),
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn msg(id: &str) -> WireMessage {
        keyed(id, "")
    }

    pub(super) fn keyed(id: &str, key: &str) -> WireMessage {
        WireMessage {
            id: Bytes::copy_from_slice(id.as_bytes()),
            key: Bytes::copy_from_slice(key.as_bytes()),
            headers: Bytes::new(),
            payload: Bytes::new(),
        }
    }

    pub(super) fn ids(out: &[Outgoing]) -> Vec<(String, String, u32)> {
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

    pub(super) fn peer(name: &str) -> Bytes {
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
        outbox.settle(b"x1", &[tag_x1], Settle::Ack, &mut out);
        assert_eq!(ids(&out), vec![("x1".into(), "c".into(), 1)]);
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
    fn a_temporary_group_goes_with_its_last_member() {
        let mut outbox = Outbox::new(10);
        let mut out = Vec::new();
        let now = Instant::now();
        outbox.declare("t", "kept");
        outbox
            .join(peer("a"), "t", "tmp", 5, now, &mut out)
            .unwrap();
        outbox.make_temporary("t", "tmp");
        outbox
            .join(peer("b"), "t", "tmp", 5, now, &mut out)
            .unwrap();
        outbox.enqueue("t", [msg("1"), msg("2")], &mut out);
        assert!(outbox.leave(b"a", &mut out));
        assert!(outbox.has_group("t", "tmp"), "one member is left");
        assert!(outbox.leave(b"b", &mut out));
        assert!(!outbox.has_group("t", "tmp"));
        assert!(outbox.has_group("t", "kept"));
        // Only the kept group holds the two messages; a new group reuses the slot, empty.
        assert_eq!(outbox.room("t"), 8);
        out.clear();
        outbox
            .join(peer("c"), "t", "next", 5, now, &mut out)
            .unwrap();
        assert!(out.is_empty(), "nothing of the removed group is handed out");
        outbox.enqueue("t", [msg("3")], &mut out);
        assert_eq!(ids(&out), vec![("c".into(), "3".into(), 1)]);
        // A group not marked temporary stays when its last member leaves.
        assert!(outbox.leave(b"c", &mut out));
        assert!(outbox.has_group("t", "next"));
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
        outbox.settle(b"a", &[tag], Settle::Reject, &mut out);
        let tag = out.last().unwrap().tag;
        outbox.settle(b"a", &[tag], Settle::Ack, &mut out);
        assert_eq!(outbox.undelivered(), 0);
    }
}
