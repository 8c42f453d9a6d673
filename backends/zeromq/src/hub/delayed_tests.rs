//! Delays through a running hub: a `RETRY` parks the delivery and frees the consumer's
//! credit, a delayed send waits, and the hub's timer hands both out once due; a `RETRY`
//! past the limit waits the limit, a delayed `PUBLISH` past it is refused; a retried
//! delivery comes back even when the member that retried it has left.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::test_peer::{MAX_DELAY, Peer, hub, wire};
use crate::wire::{FromHub, ToHub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_frees_the_credit_and_the_timer_hands_it_out_again_when_due() {
    let shutdown = CancellationToken::new();
    let hub = hub(&shutdown).await;
    let mut peer = Peer::connect(&hub).await;
    peer.join(1).await;
    hub.send("t", vec![wire("first"), wire("second")], Duration::ZERO)
        .await
        .expect("queued");
    let (tag, attempt, id) = peer.msg().await;
    assert_eq!((attempt, id.as_ref()), (1, b"first".as_slice()));

    let delay = Duration::from_millis(500);
    let retried_at = Instant::now();
    peer.send(ToHub::Retry {
        delay_ms: 500,
        tags: vec![tag],
    })
    .await;
    // The credit is free at once: the second message comes while the first waits.
    let (tag, _, id) = peer.msg().await;
    assert_eq!(id.as_ref(), b"second");
    assert!(retried_at.elapsed() < delay, "the retry held the credit");
    peer.send(ToHub::Ack(vec![tag])).await;

    let (tag, attempt, id) = peer.msg().await;
    assert!(retried_at.elapsed() >= delay, "came back early");
    assert_eq!((attempt, id.as_ref()), (2, b"first".as_slice()));
    peer.send(ToHub::Ack(vec![tag])).await;
    peer.sync().await;
    assert!(peer.recv_within(Duration::from_millis(200)).await.is_none());
    shutdown.cancel();
    hub.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_sends_wait_their_turn_and_a_retry_past_the_limit_waits_the_limit() {
    let shutdown = CancellationToken::new();
    let hub = hub(&shutdown).await;
    let mut peer = Peer::connect(&hub).await;
    peer.join(8).await;

    let sent_at = Instant::now();
    hub.send("t", vec![wire("late")], Duration::from_millis(400))
        .await
        .expect("queued");
    hub.send("t", vec![wire("early")], Duration::from_millis(200))
        .await
        .expect("queued");
    hub.send("t", vec![wire("now")], Duration::ZERO)
        .await
        .expect("queued");
    let refused = hub
        .send(
            "t",
            vec![wire("never")],
            MAX_DELAY + Duration::from_millis(1),
        )
        .await
        .expect_err("past the limit");
    assert_eq!(refused.kind(), courier_core::ErrorKind::Config);

    let mut order = Vec::new();
    let mut tags = Vec::new();
    for _ in 0..3 {
        let (tag, attempt, id) = peer.msg().await;
        assert_eq!(attempt, 1);
        order.push((String::from_utf8_lossy(&id).into_owned(), sent_at.elapsed()));
        tags.push(tag);
    }
    let names: Vec<&str> = order.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(names, ["now", "early", "late"]);
    assert!(order[1].1 >= Duration::from_millis(200), "{order:?}");
    assert!(order[2].1 >= Duration::from_millis(400), "{order:?}");

    // A retry of u64::MAX ms is held to the hub's limit.
    let retried_at = Instant::now();
    peer.send(ToHub::Retry {
        delay_ms: u64::MAX,
        tags: vec![tags[0]],
    })
    .await;
    peer.send(ToHub::Ack(tags[1..].to_vec())).await;
    let (_, attempt, id) = peer.msg().await;
    assert_eq!((attempt, id.as_ref()), (2, b"now".as_slice()));
    assert!(retried_at.elapsed() >= MAX_DELAY);
    shutdown.cancel();
    hub.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_publish_is_answered_and_refused_past_the_limit() {
    let shutdown = CancellationToken::new();
    let hub = hub(&shutdown).await;
    let mut consumer = Peer::connect(&hub).await;
    consumer.join(8).await;
    let mut producer = Peer::connect(&hub).await;
    let publish = |seq: &'static str, delay_ms: u64| ToHub::Publish {
        seq: Bytes::from_static(seq.as_bytes()),
        topic: "t".into(),
        delay_ms,
        messages: vec![wire(seq)],
    };

    let too_long = u64::try_from(MAX_DELAY.as_millis()).expect("small") + 1;
    producer.send(publish("1", too_long)).await;
    match producer.recv().await {
        FromHub::Error { seq, reason } => {
            assert_eq!(seq, Bytes::from_static(b"1"));
            assert!(reason.starts_with(crate::delay::REASON), "{reason}");
        }
        other => panic!("expected an ERROR, got {other:?}"),
    }
    let sent_at = Instant::now();
    producer.send(publish("2", 250)).await;
    assert!(matches!(producer.recv().await, FromHub::Ok { seq } if seq == "2"));
    let (_, attempt, id) = consumer.msg().await;
    assert_eq!((attempt, id.as_ref()), (1, b"2".as_slice()));
    assert!(sent_at.elapsed() >= Duration::from_millis(250));
    // Nothing of the refused one.
    assert!(
        consumer
            .recv_within(Duration::from_millis(200))
            .await
            .is_none()
    );
    shutdown.cancel();
    hub.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_delivery_outlives_the_member_that_retried_it() {
    let shutdown = CancellationToken::new();
    let hub = hub(&shutdown).await;
    let mut leaving = Peer::connect(&hub).await;
    leaving.join(4).await;
    hub.send("t", vec![wire("kept")], Duration::ZERO)
        .await
        .expect("queued");
    let (tag, _, _) = leaving.msg().await;
    leaving
        .send(ToHub::Retry {
            delay_ms: 300,
            tags: vec![tag],
        })
        .await;
    leaving.send(ToHub::Bye).await;
    leaving.sync().await;
    // A RETRY after BYE is answered `gone:`, like any settle of a peer that left.
    leaving
        .send(ToHub::Retry {
            delay_ms: 300,
            tags: vec![tag],
        })
        .await;
    assert!(matches!(
        leaving.recv().await,
        FromHub::Error { reason, .. } if reason.starts_with("gone:")
    ));

    let mut staying = Peer::connect(&hub).await;
    staying.join(4).await;
    let (_, attempt, id) = staying.msg().await;
    assert_eq!((attempt, id.as_ref()), (2, b"kept".as_slice()));
    shutdown.cancel();
    hub.join().await;
}
