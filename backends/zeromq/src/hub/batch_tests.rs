//! Batched `RECORD`s through a running hub: a peer that says `batched` gets what one round
//! hands it in one message, in order, within the bounds; a peer that says only `packed`
//! gets one delivery per message.

use std::time::Duration;

use bytes::Bytes;
use courier_core::Message;
use tokio_util::sync::CancellationToken;

use super::test_peer::{Peer, hub, wire};
use crate::wire::{BATCH_BYTES, Framing, Record, ToHub, WireMessage, records};

/// The deliveries of the next message, which must be a `RECORD`.
async fn record(peer: &mut Peer) -> Vec<Record> {
    let mut frames = peer.frames().await;
    assert_eq!(frames.get(1).map(|c| c.as_ref()), Some(&b"RECORD"[..]));
    records(frames.split_off(2))
        .collect::<Result<_, _>>()
        .expect("every delivery reads")
}

fn ids(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.message.id).into_owned())
        .collect()
}

fn tags(records: &[Record]) -> Vec<u64> {
    records.iter().map(|r| r.tag).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_peer_gets_a_round_in_one_record_and_a_packed_peer_one_each() {
    let shutdown = CancellationToken::new();
    let hub = hub(&shutdown).await;
    let names: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    let queued: Vec<WireMessage> = names.iter().map(|n| wire(n)).collect();
    hub.send("t", queued, Duration::ZERO).await.expect("queued");

    let mut batched = Peer::connect(&hub).await;
    batched.join_framed(8, Framing::Batch).await;
    let first = record(&mut batched).await;
    assert_eq!(ids(&first), names[..8], "the join's round, in order");
    batched.send(ToHub::Ack(tags(&first))).await;
    let rest = record(&mut batched).await;
    assert_eq!(ids(&rest), names[8..]);
    batched.send(ToHub::Bye).await;

    // What the leaving peer held goes to a peer that takes one delivery per RECORD.
    let mut packed = Peer::connect(&hub).await;
    packed.join_framed(8, Framing::Record).await;
    for name in &names[8..] {
        let one = record(&mut packed).await;
        assert_eq!(ids(&one), std::slice::from_ref(name));
        assert_eq!(one[0].attempt, 2, "handed back by the peer that left");
        packed.send(ToHub::Ack(tags(&one))).await;
    }
    packed.sync().await;
    shutdown.cancel();
    hub.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stays_within_its_bytes_unless_one_delivery_is_larger() {
    let shutdown = CancellationToken::new();
    let hub = hub(&shutdown).await;
    let third = BATCH_BYTES / 3;
    let sizes = [third, third, third, BATCH_BYTES + 1, 10];
    let queued: Vec<WireMessage> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            WireMessage::encode(
                Message::new(Bytes::from(vec![b'x'; size])).with_id(format!("m{i}")),
            )
        })
        .collect();
    hub.send("t", queued, Duration::ZERO).await.expect("queued");

    let mut peer = Peer::connect(&hub).await;
    peer.join_framed(16, Framing::Batch).await;
    let mut seen: Vec<Vec<String>> = Vec::new();
    while seen.iter().map(Vec::len).sum::<usize>() < sizes.len() {
        let batch = record(&mut peer).await;
        let bytes: usize = batch.iter().map(|r| r.message.payload.len()).sum();
        assert!(
            batch.len() == 1 || bytes <= BATCH_BYTES,
            "a batch of {} deliveries carries {bytes} bytes",
            batch.len()
        );
        seen.push(ids(&batch));
    }
    assert_eq!(
        seen,
        [vec!["m0", "m1"], vec!["m2"], vec!["m3"], vec!["m4"]],
        "m2 would take the first batch past its bytes, m3 goes alone, m4 does not join it"
    );
    shutdown.cancel();
    hub.join().await;
}
