//! The deliveries of one write to peers that said `batched`, gathered into one `RECORD` per
//! peer until it is full, so that the sockets carry one message for many deliveries.

use bytes::Bytes;
use zeromq::ZmqMessage;

use super::outbox::Outgoing;
use crate::wire::{Framing, RecordBatch, delivery_to};

/// Open batches, one per peer (a write reaches few peers, so a list serves).
#[derive(Debug, Default)]
pub(super) struct Batches {
    open: Vec<RecordBatch>,
}

impl Batches {
    /// Frames `delivery` as its peer asked, calling `send(peer, message)` for what is ready
    /// in the order the peer must see it: a full batch before the delivery that did not fit
    /// it, a batch before a delivery of the same peer that must go alone (a `MSG`).
    pub(super) fn add(&mut self, delivery: Outgoing, send: &mut impl FnMut(Bytes, ZmqMessage)) {
        let Outgoing {
            member,
            framing,
            tag,
            attempt,
            message,
        } = delivery;
        if framing != Framing::Batch {
            send(
                member.clone(),
                delivery_to(member, framing, tag, attempt, message),
            );
            return;
        }
        let at = match self.open.iter().position(|b| *b.identity() == member) {
            Some(at) if self.open[at].is_full_for(&message) => {
                let full = std::mem::replace(&mut self.open[at], RecordBatch::new(member.clone()));
                send(member.clone(), full.into_message());
                at
            }
            Some(at) => at,
            None => {
                self.open.push(RecordBatch::new(member.clone()));
                self.open.len() - 1
            }
        };
        if let Some(message) = self.open[at].push(tag, attempt, message) {
            // Too long for a record: whatever the peer's batch holds goes first.
            let batch = self.open.swap_remove(at);
            if batch.len() > 0 {
                send(member.clone(), batch.into_message());
            }
            send(
                member.clone(),
                delivery_to(member, Framing::Msg, tag, attempt, message),
            );
        }
    }

    /// Drops the open batch of `peer`: it is gone, and what the batch held is back in its
    /// group.
    pub(super) fn discard(&mut self, peer: &Bytes) {
        self.open.retain(|b| b.identity() != peer);
    }

    /// Sends every open batch.
    pub(super) fn flush(&mut self, send: &mut impl FnMut(Bytes, ZmqMessage)) {
        for batch in self.open.drain(..) {
            if batch.len() > 0 {
                send(batch.identity().clone(), batch.into_message());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use courier_core::Message;

    use super::*;
    use crate::wire::{BATCH_DELIVERIES, FromHub, WireMessage, records};

    fn out(member: &str, framing: Framing, tag: u64, id: &str) -> Outgoing {
        Outgoing {
            member: Bytes::copy_from_slice(member.as_bytes()),
            framing,
            tag,
            attempt: 1,
            message: WireMessage::encode(Message::new("p").with_id(id)),
        }
    }

    /// What was sent, in order: the peer and the tags each message carries.
    fn sent(log: &[(Bytes, ZmqMessage)]) -> Vec<(String, Vec<u64>)> {
        log.iter()
            .map(|(peer, message)| {
                let mut frames = message.clone().into_vec();
                assert_eq!(&frames[0], peer, "addressed to the peer it was sent for");
                let tags = if frames[2].as_ref() == b"RECORD" {
                    records(frames.split_off(3))
                        .map(|r| r.expect("reads").tag)
                        .collect()
                } else {
                    match FromHub::parse(frames.split_off(1)).expect("parses") {
                        FromHub::Msg { tag, .. } => vec![tag],
                        other => panic!("not a delivery: {other:?}"),
                    }
                };
                (String::from_utf8_lossy(peer).into_owned(), tags)
            })
            .collect()
    }

    #[test]
    fn batched_peers_get_one_record_each_and_others_one_message_per_delivery() {
        let mut batches = Batches::default();
        let mut log = Vec::new();
        let mut send = |peer, message| log.push((peer, message));
        for tag in 0..3 {
            batches.add(out("a", Framing::Batch, tag, "x"), &mut send);
            batches.add(out("b", Framing::Record, 10 + tag, "x"), &mut send);
            batches.add(out("c", Framing::Batch, 20 + tag, "x"), &mut send);
        }
        batches.flush(&mut send);
        let mut got = sent(&log);
        got.sort();
        assert_eq!(
            got,
            [
                ("a".into(), vec![0, 1, 2]),
                ("b".into(), vec![10]),
                ("b".into(), vec![11]),
                ("b".into(), vec![12]),
                ("c".into(), vec![20, 21, 22]),
            ]
        );
    }

    #[test]
    fn a_full_batch_goes_first_and_order_holds_around_a_delivery_that_must_go_alone() {
        let mut batches = Batches::default();
        let mut log = Vec::new();
        let full = BATCH_DELIVERIES as u64;
        for tag in 0..=full {
            batches.add(out("a", Framing::Batch, tag, "x"), &mut |p, m| {
                log.push((p, m));
            });
        }
        assert_eq!(sent(&log), [("a".into(), (0..full).collect::<Vec<_>>())]);
        let long = "i".repeat(70_000);
        let mut send = |peer, message| log.push((peer, message));
        batches.add(out("a", Framing::Batch, 100, &long), &mut send);
        batches.add(out("a", Framing::Batch, 101, "x"), &mut send);
        batches.flush(&mut send);
        assert_eq!(
            sent(&log)[1..],
            [
                ("a".into(), vec![full]),
                ("a".into(), vec![100]),
                ("a".into(), vec![101]),
            ]
        );
        assert_eq!(log[2].1.get(2).map(|c| c.as_ref()), Some(&b"MSG"[..]));
    }

    #[test]
    fn a_discarded_peer_gets_nothing_more_from_its_batch() {
        let mut batches = Batches::default();
        let mut log = Vec::new();
        let mut send = |peer, message| log.push((peer, message));
        batches.add(out("a", Framing::Batch, 1, "x"), &mut send);
        batches.add(out("b", Framing::Batch, 2, "x"), &mut send);
        batches.discard(&Bytes::from_static(b"a"));
        batches.flush(&mut send);
        assert_eq!(sent(&log), [("b".into(), vec![2])]);
    }
}
