//! The group engine on its own: pull and push hand-out, per-key pinning, requeue order,
//! leaving members, wake-ups and the bookkeeping.

use std::cell::Cell;

use super::*;

/// A member that counts its wake-ups.
#[derive(Debug, Default)]
struct Counted {
    name: &'static str,
    wakes: Cell<usize>,
}

impl Member for Counted {
    fn wake(&self) {
        self.wakes.set(self.wakes.get() + 1);
    }
}

type TestGroup = Group<&'static str, Counted>;

fn member(name: &'static str) -> Counted {
    Counted {
        name,
        wakes: Cell::new(0),
    }
}

/// (token, attempt, message) handed to `id` by a pull of up to `max`.
fn pull(group: &mut TestGroup, id: MemberId, max: usize) -> Vec<(u64, u32, &'static str)> {
    let mut got = Vec::new();
    let _ = group.take(id, max, |token, attempt, message| {
        got.push((token, attempt, *message));
    });
    got
}

/// (member, message, attempt, token) handed out by one dispatch.
fn push_out(group: &mut TestGroup) -> Vec<(&'static str, &'static str, u32, u64)> {
    let mut out = Vec::new();
    group.dispatch(|_, data, token, attempt, message| {
        out.push((data.name, *message, attempt, token));
    });
    out
}

fn messages(got: &[(u64, u32, &'static str)]) -> Vec<&'static str> {
    got.iter().map(|g| g.2).collect()
}

fn settle(group: &mut TestGroup, id: MemberId, tokens: &[u64], how: Settle) {
    group.settle(id, tokens, how).expect("settles");
    group.check_invariants();
}

fn key(k: u64) -> Option<u64> {
    Some(k)
}

#[test]
fn messages_wait_for_a_member_and_are_taken_in_order() {
    let mut group = TestGroup::new();
    assert!(group.push("a", None), "the first message wakes a waiter");
    assert!(!group.push("b", None), "the second does not");
    let id = group.join(10, member("c"));
    assert_eq!(messages(&pull(&mut group, id, 10)), ["a", "b"]);
    assert_eq!(group.take(id, 10, |_, _, _| {}), Take::Idle { full: false });
    group.check_invariants();
}

#[test]
fn prefetch_bounds_what_a_member_holds_and_a_settle_wakes_it() {
    let mut group = TestGroup::new();
    let id = group.join(2, member("c"));
    for m in ["a", "b", "c"] {
        let _ = group.push(m, None);
    }
    let got = pull(&mut group, id, 10);
    assert_eq!(messages(&got), ["a", "b"]);
    assert_eq!(group.take(id, 10, |_, _, _| {}), Take::Idle { full: true });
    settle(&mut group, id, &[got[0].0], Settle::Ack);
    assert_eq!(group.member(id).unwrap().wakes.get(), 1, "room freed");
    assert_eq!(messages(&pull(&mut group, id, 10)), ["c"]);
    assert_eq!(group.held(), 2);
}

#[test]
fn a_requeue_goes_back_to_the_front_with_the_next_attempt_in_order() {
    let mut group = TestGroup::new();
    let id = group.join(2, member("c"));
    for m in ["a", "b", "c"] {
        let _ = group.push(m, None);
    }
    let got = pull(&mut group, id, 10);
    // Out of order on purpose: the requeued keep their delivery order.
    settle(&mut group, id, &[got[1].0, got[0].0], Settle::Requeue);
    let again = pull(&mut group, id, 10);
    assert_eq!(
        again.iter().map(|g| (g.2, g.1)).collect::<Vec<_>>(),
        [("a", 2), ("b", 2)]
    );
    // Settling a token twice is an error and changes nothing.
    assert_eq!(
        group.settle(id, &[got[0].0], Settle::Ack),
        Err(SettleError::UnknownToken)
    );
    assert_eq!(group.held(), 3);
}

#[test]
fn ack_and_reject_free_the_message_and_unknown_tokens_do_not_stop_known_ones() {
    let mut group = TestGroup::new();
    let id = group.join(5, member("c"));
    let _ = group.push("a", None);
    let _ = group.push("b", None);
    let got = pull(&mut group, id, 10);
    assert_eq!(
        group.settle(id, &[got[0].0, 999], Settle::Ack),
        Err(SettleError::UnknownToken)
    );
    assert_eq!(group.held(), 1, "the known token's message left the group");
    settle(&mut group, id, &[got[1].0], Settle::Reject);
    assert_eq!(group.held(), 0);
}

#[test]
fn a_token_names_one_delivery_even_when_its_message_slot_is_reused() {
    let mut group = TestGroup::new();
    let a = group.join(5, member("a"));
    let b = group.join(5, member("b"));
    let _ = group.push("first", None);
    let old = pull(&mut group, a, 1)[0].0;
    settle(&mut group, a, &[old], Settle::Ack);
    // "second" takes the slot "first" left; the old token does not settle it.
    let _ = group.push("second", None);
    let new = pull(&mut group, a, 1)[0].0;
    assert_ne!(old, new);
    assert_eq!(
        group.settle(a, &[old], Settle::Ack),
        Err(SettleError::UnknownToken)
    );
    // Nor does another member's settle of the same token.
    assert_eq!(
        group.settle(b, &[new], Settle::Ack),
        Err(SettleError::UnknownToken)
    );
    assert_eq!(group.stats().unacked, 1);
    settle(&mut group, a, &[new], Settle::Ack);
    assert_eq!(group.held(), 0);
}

#[test]
fn a_member_that_leaves_hands_back_what_it_held_and_its_settles_fail() {
    let mut group = TestGroup::new();
    let a = group.join(5, member("a"));
    let _ = group.push("1", None);
    let _ = group.push("2", None);
    let got = pull(&mut group, a, 10);
    let b = group.join(5, member("b"));
    assert_eq!(group.leave(a).map(|d| d.name), Some("a"));
    assert!(group.has_shared());
    assert!(group.leave(a).is_none(), "leaving twice");
    assert_eq!(
        group.settle(a, &[got[0].0], Settle::Ack),
        Err(SettleError::MemberGone)
    );
    let again = pull(&mut group, b, 10);
    assert_eq!(
        again.iter().map(|g| (g.2, g.1)).collect::<Vec<_>>(),
        [("1", 2), ("2", 2)]
    );
    // The freed slot is reused by a new member; the old id still names nobody.
    let c = group.join(1, member("c"));
    assert!(group.member(a).is_none());
    assert_eq!(group.member(c).unwrap().name, "c");
    group.check_invariants();
}

#[test]
fn one_key_sticks_to_one_member_while_it_holds_the_key() {
    let mut group = TestGroup::new();
    let a = group.join(5, member("a"));
    let b = group.join(5, member("b"));
    let _ = group.push("k1-1", key(1));
    let _ = group.push("k1-2", key(1));
    let _ = group.push("k2-1", key(2));
    let _ = group.push("k1-3", key(1));
    let sent = push_out(&mut group);
    let member_of = |m: &str| sent.iter().find(|s| s.1 == m).unwrap().0;
    assert_eq!(member_of("k1-1"), member_of("k1-2"));
    assert_eq!(member_of("k1-1"), member_of("k1-3"));
    assert_ne!(
        member_of("k1-1"),
        member_of("k2-1"),
        "round-robin between keys"
    );
    group.check_invariants();
    // Everything acked: the key table is empty again.
    for (name, _, _, token) in sent {
        let id = if name == "a" { a } else { b };
        settle(&mut group, id, &[token], Settle::Ack);
    }
    assert_eq!(group.held(), 0);
}

#[test]
fn a_pinned_key_waits_for_its_owner_while_others_flow() {
    let mut group = TestGroup::new();
    let a = group.join(1, member("a"));
    let _ = group.push("k-1", key(7));
    let first = push_out(&mut group);
    assert_eq!(
        first.iter().map(|o| (o.0, o.1, o.2)).collect::<Vec<_>>(),
        [("a", "k-1", 1)]
    );
    let b = group.join(5, member("b"));
    let _ = group.push("k-2", key(7));
    let _ = group.push("free", None);
    // b has room, yet k-2 waits for a, which holds k-1; the free message goes to b.
    let out = push_out(&mut group);
    assert_eq!(
        out.iter().map(|o| (o.0, o.1)).collect::<Vec<_>>(),
        [("b", "free")]
    );
    assert_eq!(group.member(a).unwrap().wakes.get(), 1, "k-2 routed to a");
    settle(&mut group, a, &[first[0].3], Settle::Ack);
    let out = push_out(&mut group);
    assert_eq!(
        out.iter().map(|o| (o.0, o.1)).collect::<Vec<_>>(),
        [("a", "k-2")]
    );
    settle(&mut group, a, &[out[0].3], Settle::Ack);
    let _ = b;
    assert_eq!(group.stats().unacked, 1);
}

#[test]
fn a_pull_reroutes_a_pinned_message_to_its_owner_and_wakes_it() {
    let mut group = TestGroup::new();
    let a = group.join(5, member("a"));
    let b = group.join(5, member("b"));
    let _ = group.push("k-1", key(7));
    let _ = group.push("k-2", key(7));
    let _ = group.push("x", None);
    // a takes k-1 and with it the key; b's pull meets k-2 first and moves it to a.
    assert_eq!(messages(&pull(&mut group, a, 1)), ["k-1"]);
    assert_eq!(messages(&pull(&mut group, b, 10)), ["x"]);
    assert_eq!(group.member(a).unwrap().wakes.get(), 1, "a is told of k-2");
    assert_eq!(group.stats().routed, 1);
    assert_eq!(messages(&pull(&mut group, a, 10)), ["k-2"]);
    group.check_invariants();
}

#[test]
fn a_leaving_owner_hands_its_key_over_in_order() {
    let mut group = TestGroup::new();
    let a = group.join(1, member("a"));
    let _ = group.push("k-1", key(7));
    let _ = group.push("k-2", key(7));
    let _ = push_out(&mut group);
    let _b = group.join(5, member("b"));
    assert!(group.leave(a).is_some());
    // k-1 was delivered (attempt 2 now); k-2 was only routed (still attempt 1).
    let out = push_out(&mut group);
    assert_eq!(
        out.iter().map(|o| (o.0, o.1, o.2)).collect::<Vec<_>>(),
        [("b", "k-1", 2), ("b", "k-2", 1)]
    );
    group.check_invariants();
}

#[test]
fn a_requeue_while_holding_later_messages_of_the_key_keeps_it_with_the_owner() {
    let mut group = TestGroup::new();
    let a = group.join(1, member("a"));
    let _b = group.join(5, member("b"));
    let _ = group.push("k-1", key(7));
    let _ = group.push("k-2", key(7));
    // a joined first, so it takes k-1 and the key; k-2 is routed to a, not given to b.
    let out = push_out(&mut group);
    assert_eq!(
        out.iter().map(|o| (o.0, o.1, o.2)).collect::<Vec<_>>(),
        [("a", "k-1", 1)]
    );
    settle(&mut group, a, &[out[0].3], Settle::Requeue);
    // k-1 goes before k-2, both to a.
    let out = push_out(&mut group);
    assert_eq!(
        out.iter().map(|o| (o.0, o.1, o.2)).collect::<Vec<_>>(),
        [("a", "k-1", 2)]
    );
    settle(&mut group, a, &[out[0].3], Settle::Ack);
    let out = push_out(&mut group);
    assert_eq!(
        out.iter().map(|o| (o.0, o.1, o.2)).collect::<Vec<_>>(),
        [("a", "k-2", 1)]
    );
}

#[test]
fn dispatch_shares_by_room_round_robin() {
    let mut group = TestGroup::new();
    let _x1 = group.join(1, member("x1"));
    let _x2 = group.join(1, member("x2"));
    for m in ["a", "b", "c"] {
        let _ = group.push(m, None);
    }
    let out = push_out(&mut group);
    assert_eq!(
        out.iter().map(|o| (o.0, o.1)).collect::<Vec<_>>(),
        [("x1", "a"), ("x2", "b")]
    );
    assert_eq!(group.stats().shared, 1, "c waits for room");
    assert_eq!(group.held(), 3);
}

/// A long random run of every operation keeps the counts right and never loses or
/// duplicates a message.
#[test]
fn random_operations_keep_every_message_exactly_once() {
    let mut group: Group<u32, Counted> = Group::new();
    let mut ids: Vec<MemberId> = Vec::new();
    let mut unacked: Vec<(MemberId, u64)> = Vec::new();
    let mut acked = 0u32;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut sent = 0u32;
    for _ in 0..20_000 {
        match next() % 7 {
            0 | 1 => {
                let _ = group.push(sent, Some(next() % 5).filter(|k| *k > 0));
                sent += 1;
            }
            2 if ids.len() < 4 => ids.push(group.join(1 + (next() % 3) as usize, member("m"))),
            3 if !ids.is_empty() => {
                let id = ids[(next() % ids.len() as u64) as usize];
                let mut got = Vec::new();
                let _ = group.take(id, 2, |token, _, _| got.push(token));
                unacked.extend(got.into_iter().map(|t| (id, t)));
            }
            4 if !unacked.is_empty() => {
                let (id, token) = unacked.swap_remove((next() % unacked.len() as u64) as usize);
                let how = if next() % 3 == 0 {
                    Settle::Requeue
                } else {
                    Settle::Ack
                };
                if group.settle(id, &[token], how).is_ok() && how == Settle::Ack {
                    acked += 1;
                }
            }
            5 if ids.len() > 1 && next() % 8 == 0 => {
                let id = ids.swap_remove((next() % ids.len() as u64) as usize);
                let _ = group.leave(id);
                unacked.retain(|(m, _)| *m != id);
            }
            _ => {
                let _ = group.dispatch(|id, _, token, _, _| unacked.push((id, token)));
            }
        }
        group.check_invariants();
    }
    assert_eq!(group.held() as u32 + acked, sent);
}

#[test]
fn tokens_stay_tags_a_reconnecting_backend_can_pack_over_many_deliveries() {
    let mut group = TestGroup::new();
    let id = group.join(64, member("a"));
    let mut largest = 0;
    for round in 0..1200 {
        for _ in 0..64 {
            let _ = group.push("m", None);
        }
        let tokens: Vec<u64> = pull(&mut group, id, 64).iter().map(|g| g.0).collect();
        assert_eq!(tokens.len(), 64, "round {round}");
        largest = tokens.iter().copied().fold(largest, u64::max);
        settle(&mut group, id, &tokens, Settle::Ack);
    }
    // 76,800 deliveries: every token still fits the 48 bits `token::pack` keeps.
    assert!(largest <= crate::token::MAX_TAG, "{largest:#x}");
    assert_eq!(group.held(), 0);
}
