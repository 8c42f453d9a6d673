use bytes::Bytes;
use courier_core::Message;

use super::*;
use crate::wire::tests::{full_message, without_identity};

#[test]
fn a_record_reads_as_the_msg_it_packs() {
    for message in [full_message(), Message::new("")] {
        let wire = WireMessage::encode(message.clone());
        let frames = delivery_to(
            Bytes::from("peer"),
            Framing::Record,
            1 << 40,
            3,
            wire.clone(),
        );
        let frames = without_identity(frames);
        assert_eq!(frames.len(), 4, "protocol, command, head, payload");
        let parsed = FromHub::parse(frames).expect("parses");
        let plain = FromHub::parse(without_identity(
            FromHub::Msg {
                tag: 1 << 40,
                attempt: 3,
                message: wire,
            }
            .frames_to(Bytes::from("peer")),
        ))
        .expect("parses");
        assert_eq!(parsed, plain);
        let FromHub::Msg { message: read, .. } = parsed else {
            panic!("not a MSG: {parsed:?}");
        };
        assert_eq!(read.decode().expect("decodes"), message);
    }
}

#[test]
fn a_peer_without_options_gets_a_msg() {
    let wire = WireMessage::encode(full_message());
    let frames = without_identity(delivery_to(
        Bytes::from("peer"),
        Framing::Msg,
        7,
        1,
        wire.clone(),
    ));
    assert_eq!(frames[1].as_ref(), b"MSG");
}

#[test]
fn an_id_too_long_for_a_record_goes_as_a_msg() {
    let wire = WireMessage::encode(Message::new("p").with_id("i".repeat(70_000)));
    let frames = without_identity(delivery_to(
        Bytes::from("peer"),
        Framing::Batch,
        1,
        1,
        wire.clone(),
    ));
    let back = FromHub::parse(frames).expect("parses");
    assert_eq!(
        back,
        FromHub::Msg {
            tag: 1,
            attempt: 1,
            message: wire.clone()
        }
    );
    let mut batch = RecordBatch::new(Bytes::from("peer"));
    assert_eq!(batch.push(1, 1, wire.clone()), Some(wire));
    assert_eq!(batch.len(), 0);
}

#[test]
fn a_batch_reads_back_as_its_deliveries_in_order() {
    let mut batch = RecordBatch::new(Bytes::from("peer"));
    let messages: Vec<Message> = (0..5)
        .map(|i| full_message().with_id(format!("id-{i}")))
        .collect();
    for (i, message) in messages.iter().enumerate() {
        let wire = WireMessage::encode(message.clone());
        assert!(!batch.is_full_for(&wire));
        assert_eq!(batch.push(i as u64 + 10, 1 + i as u32, wire), None);
    }
    assert_eq!(batch.identity().as_ref(), b"peer");
    assert_eq!(batch.len(), 5);
    let mut frames = without_identity(batch.into_message());
    assert_eq!(frames.len(), 2 + 2 * 5);
    assert_eq!(frames[1].as_ref(), b"RECORD");
    let read: Vec<Record> = records(frames.split_off(2))
        .collect::<Result<_, _>>()
        .expect("every record reads");
    for (i, (record, message)) in read.into_iter().zip(&messages).enumerate() {
        assert_eq!((record.tag, record.attempt), (i as u64 + 10, 1 + i as u32));
        assert_eq!(&record.message.decode().expect("decodes"), message);
    }
}

#[test]
fn a_batch_is_full_at_its_count_or_its_bytes_but_takes_one_large_delivery() {
    let small = WireMessage::encode(Message::new("x"));
    let mut batch = RecordBatch::new(Bytes::from("peer"));
    for tag in 0..BATCH_DELIVERIES as u64 {
        assert!(!batch.is_full_for(&small));
        assert!(batch.push(tag, 1, small.clone()).is_none());
    }
    assert!(batch.is_full_for(&small), "count bound");

    let large = WireMessage::encode(Message::new(vec![0u8; BATCH_BYTES]));
    let mut batch = RecordBatch::new(Bytes::from("peer"));
    assert!(
        !batch.is_full_for(&large),
        "an empty batch takes any delivery"
    );
    assert!(batch.push(1, 1, large.clone()).is_none());
    assert!(batch.is_full_for(&small), "byte bound");
    let mut batch = RecordBatch::new(Bytes::from("peer"));
    assert!(batch.push(1, 1, small.clone()).is_none());
    assert!(
        batch.is_full_for(&large),
        "no second delivery past the bytes"
    );
}

#[test]
fn a_bad_record_is_malformed_in_its_place_not_a_panic() {
    let record = |head: &[u8]| {
        FromHub::parse(vec![
            Bytes::from_static(PROTOCOL),
            Bytes::from_static(b"RECORD"),
            Bytes::copy_from_slice(head),
            Bytes::from_static(b"payload"),
        ])
    };
    assert!(record(&[0; 15]).is_err(), "shorter than the fixed head");
    let mut head = vec![0; 16];
    head[13] = 5; // an id of 5 bytes that is not there
    assert!(record(&head).is_err());
    head.extend_from_slice(b"abcde");
    assert!(record(&head).is_ok());
    assert!(
        FromHub::parse(vec![
            Bytes::from_static(PROTOCOL),
            Bytes::from_static(b"RECORD")
        ])
        .is_err(),
        "no head"
    );
    let good = Bytes::from(head);
    let read: Vec<bool> = records(vec![
        good.clone(),
        Bytes::from_static(b"p"),
        Bytes::from_static(&[0; 3]),
        Bytes::from_static(b"p"),
        good,
    ])
    .map(|r| r.is_ok())
    .collect();
    assert_eq!(
        read,
        [true, false, false],
        "bad head, then a head without payload"
    );
}
