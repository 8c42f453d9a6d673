//! The ZeroMQ backend's acks without a broker: what a consumer held unacked reaches another
//! consumer of its group when it disconnects without a word (a crash), falls silent past the
//! heartbeat timeout, or is dropped; and a consumer outlives a restart of the binding side.
//!
//! The crashing and silent members are raw DEALER sockets speaking the documented frames, so
//! nothing of courier's own consumer helps them leave cleanly.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use courier_core::{Broker, Consumer, Delivery, ErrorKind, Message, Subscription};
use courier_zeromq::{ZmqBroker, ZmqConfig};
use zeromq::{DealerSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

/// Bare DEALER members and a restarted binding side join groups nobody declared there, so
/// remote declarations are allowed (refused by default: zeromq_peers.rs).
fn config() -> ZmqConfig {
    ZmqConfig {
        endpoint: "tcp://127.0.0.1:0".into(),
        heartbeat_interval_ms: 200,
        heartbeat_timeout_ms: 1000,
        connect_timeout_ms: 2000,
        linger_ms: 200,
        allow_remote_declare: true,
        ..ZmqConfig::default()
    }
}

fn frames(parts: &[&[u8]]) -> ZmqMessage {
    let parts: Vec<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p)).collect();
    ZmqMessage::try_from(parts).expect("at least one frame")
}

/// A group member made of a bare DEALER socket: joins, and receives `MSG`s it never settles.
struct RawMember {
    socket: DealerSocket,
}

impl RawMember {
    async fn join(endpoint: &str, topic: &str, group: &str, prefetch: u32) -> Self {
        let mut socket = DealerSocket::new();
        socket.connect(endpoint).await.expect("connect");
        let prefetch = prefetch.to_string();
        socket
            .send(frames(&[
                b"courier/1",
                b"HELLO",
                topic.as_bytes(),
                group.as_bytes(),
                prefetch.as_bytes(),
            ]))
            .await
            .expect("send HELLO");
        let mut member = Self { socket };
        let welcome = member.next().await;
        assert_eq!(&welcome[..2], &[b"courier/1".as_slice(), b"WELCOME"]);
        member
    }

    async fn next(&mut self) -> Vec<Bytes> {
        tokio::time::timeout(Duration::from_secs(10), self.socket.recv())
            .await
            .expect("a frame from the binding side within 10 s")
            .expect("receive")
            .into_vec()
    }

    /// Receives `n` deliveries and returns their message ids (frame 4 of a `MSG`).
    async fn take(&mut self, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        while ids.len() < n {
            let msg = self.next().await;
            if msg.get(1).map(|c| c.as_ref()) == Some(b"MSG".as_slice()) {
                assert_eq!(msg[3].as_ref(), b"1", "first delivery has attempt 1");
                ids.push(String::from_utf8(msg[4].to_vec()).unwrap());
            }
        }
        ids
    }
}

async fn recv_within(consumer: &mut dyn Consumer, what: &str) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), consumer.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|e| panic!("receiving {what}: {e}"))
        .unwrap_or_else(|| panic!("consumer closed while waiting for {what}"))
}

/// Receives until every id of `expected` arrived; checks each is a redelivery and none comes
/// twice; acks them all.
async fn receive_redeliveries(consumer: &mut dyn Consumer, expected: &BTreeSet<String>) {
    let mut got = BTreeSet::new();
    while got.len() < expected.len() {
        let mut d = recv_within(consumer, "a redelivered message").await;
        assert!(
            expected.contains(d.message.id.text().as_str()),
            "unexpected {}",
            d.message.id
        );
        assert!(
            got.insert(d.message.id.to_string()),
            "{} twice",
            d.message.id
        );
        assert_eq!(d.attempt, 2, "{} is a second delivery", d.message.id);
        assert!(d.redelivered);
        d.ack().await.unwrap();
    }
    // Nothing more: what the member never held is not repeated.
    let extra = tokio::time::timeout(Duration::from_millis(300), consumer.recv()).await;
    assert!(extra.is_err(), "unexpected extra delivery: {extra:?}");
}

async fn send_numbered(broker: &ZmqBroker, topic: &str, n: usize) -> BTreeSet<String> {
    let producer = broker.producer().await.unwrap();
    let messages: Vec<Message> = (0..n)
        .map(|i| Message::new(format!("m{i}")).with_id(format!("{topic}-{i}")))
        .collect();
    let ids = messages.iter().map(|m| m.id.to_string()).collect();
    producer.send_batch(topic, messages).await.unwrap();
    ids
}

/// A member that disconnects without `BYE` while holding unacked messages: another member
/// of its group receives them, at once (the socket reports the disconnect).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_disconnects_hands_its_unacked_messages_to_the_group() {
    let broker = ZmqBroker::connect(config()).await.unwrap();
    let topic = courier_tests::support::unique_name("crash");
    let endpoint = broker.local_endpoint(&topic).unwrap();
    let mut crashing = RawMember::join(&endpoint, &topic, "workers", 10).await;
    let sent = send_numbered(&broker, &topic, 6).await;
    let held: BTreeSet<String> = crashing.take(6).await.into_iter().collect();
    assert_eq!(held, sent, "the only member got everything");

    let mut survivor = broker
        .subscribe(Subscription::new(&topic, "workers"))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    drop(crashing);
    receive_redeliveries(survivor.as_mut(), &sent).await;
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "handed over on the disconnect, not only after the heartbeat timeout ({:?})",
        started.elapsed()
    );
    survivor.close().await.unwrap();
    broker.close().await.unwrap();
}

/// A member that keeps its connection open but stops talking: after the heartbeat timeout
/// (and not before) the group gets what it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_consumer_loses_its_messages_after_the_heartbeat_timeout() {
    let broker = ZmqBroker::connect(config()).await.unwrap();
    let topic = courier_tests::support::unique_name("silent");
    let endpoint = broker.local_endpoint(&topic).unwrap();
    let mut silent = RawMember::join(&endpoint, &topic, "workers", 4).await;
    let sent = send_numbered(&broker, &topic, 4).await;
    assert_eq!(silent.take(4).await.len(), 4);

    let mut survivor = broker
        .subscribe(Subscription::new(&topic, "workers"))
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_millis(400), survivor.recv()).await;
    assert!(early.is_err(), "handed over before the timeout: {early:?}");
    receive_redeliveries(survivor.as_mut(), &sent).await;
    // The silent member is told it is no longer one, and so is a late ack of it.
    let notice = silent.next().await;
    assert_eq!(notice[1].as_ref(), b"ERROR");
    assert!(notice[3].starts_with(b"gone:"), "{notice:?}");
    silent
        .socket
        .send(frames(&[b"courier/1", b"ACK", b"1"]))
        .await
        .unwrap();
    let notice = silent.next().await;
    assert!(notice[3].starts_with(b"gone:"), "{notice:?}");
    drop(silent);
    survivor.close().await.unwrap();
    broker.close().await.unwrap();
}

/// courier's own consumer, dropped with unacked deliveries, hands them over; its acks after
/// that fail instead of being lost silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_consumer_hands_over_and_its_late_acks_fail() {
    let broker = ZmqBroker::connect(config()).await.unwrap();
    let topic = courier_tests::support::unique_name("dropped");
    let mut first = broker
        .subscribe(Subscription::new(&topic, "g").with_prefetch(8))
        .await
        .unwrap();
    let sent = send_numbered(&broker, &topic, 5).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(recv_within(first.as_mut(), "a first delivery").await);
    }
    let mut second = broker
        .subscribe(Subscription::new(&topic, "g"))
        .await
        .unwrap();
    drop(first);
    receive_redeliveries(second.as_mut(), &sent).await;
    let error = held[0].ack().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Ack, "{error}");
    second.close().await.unwrap();
    broker.close().await.unwrap();
}

/// The binding process goes away and comes back on the same endpoint: a consumer in another
/// process reconnects by itself and receives what is sent after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_reconnects_after_the_binding_side_restarts() {
    let first = ZmqBroker::connect(config()).await.unwrap();
    let endpoint = first.local_endpoint("t").unwrap();
    let consumer_side = ZmqBroker::connect(ZmqConfig {
        endpoint: endpoint.clone(),
        bind: false,
        ..config()
    })
    .await
    .unwrap();
    let topic = courier_tests::support::unique_name("restart");
    let mut consumer = consumer_side
        .subscribe(Subscription::new(&topic, "g"))
        .await
        .unwrap();
    send_numbered(&first, &topic, 1).await;
    let mut before = recv_within(consumer.as_mut(), "a message before the restart").await;
    first.close().await.unwrap();
    drop(first);

    // The same endpoint, bound again (the old listener may take a moment to let go).
    let mut second = None;
    for _ in 0..50 {
        match ZmqBroker::connect(ZmqConfig {
            endpoint: endpoint.clone(),
            ..config()
        })
        .await
        {
            Ok(broker) => {
                second = Some(broker);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let second = second.expect("the endpoint can be bound again");
    // The group is declared again by the consumer's new HELLO; wait for it, then send.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let producer = second.producer().await.unwrap();
    let mut after = loop {
        producer
            .send(&topic, Message::new("after").with_id("after"))
            .await
            .unwrap();
        if let Ok(Ok(Some(d))) =
            tokio::time::timeout(Duration::from_millis(300), consumer.recv()).await
        {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer did not reconnect"
        );
    };
    assert_eq!(after.message.id, "after");
    after.ack().await.unwrap();
    // The delivery of the old connection cannot be acked on the new one.
    let error = before.ack().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Ack, "{error}");
    consumer.close().await.unwrap();
    consumer_side.close().await.unwrap();
    second.close().await.unwrap();
}
