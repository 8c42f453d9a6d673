//! What a ZeroMQ binding side lets its peers do: with a shared secret only authenticated
//! connections are served; remote peers cannot create groups unless allowed; a remote
//! producer cannot park more than its allowance of bytes on full outboxes; a peer that stops
//! reading is disconnected instead of stalling every other peer; the message size limit is
//! configurable.

use std::time::Duration;

use bytes::Bytes;
use courier_core::{Broker, ErrorKind, Message, Secret, Subscription};
use courier_tests::support::{self, unique_name};
use courier_tests::zmtp;
use courier_zeromq::{Overflow, ZmqBroker, ZmqConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use zeromq::{DealerSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

fn binding(secret: Option<&str>) -> ZmqConfig {
    ZmqConfig {
        endpoint: "tcp://127.0.0.1:0".into(),
        heartbeat_interval_ms: 200,
        heartbeat_timeout_ms: 2000,
        connect_timeout_ms: 2000,
        linger_ms: 200,
        secret: secret.map(Secret::new),
        ..ZmqConfig::default()
    }
}

/// A process that connects to `endpoint` instead of binding it.
async fn connecting(endpoint: &str, secret: Option<&str>) -> ZmqBroker {
    ZmqBroker::connect(ZmqConfig {
        endpoint: endpoint.to_owned(),
        bind: false,
        ..binding(secret)
    })
    .await
    .expect("a connecting broker")
}

fn frames(parts: &[&[u8]]) -> ZmqMessage {
    let frames: Vec<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p)).collect();
    ZmqMessage::try_from(frames).expect("frames")
}

async fn raw_dealer(endpoint: &str) -> DealerSocket {
    let mut socket = DealerSocket::new();
    socket.connect(endpoint).await.expect("connects");
    socket
}

async fn recv_frames(socket: &mut DealerSocket) -> Vec<Bytes> {
    tokio::time::timeout(Duration::from_secs(5), socket.recv())
        .await
        .expect("an answer in time")
        .expect("receives")
        .into_vec()
}

/// One message through `producer_side` to a consumer on `consumer_side`.
async fn round_trip(consumer_side: &ZmqBroker, producer_side: &ZmqBroker, topic: &str) {
    support::round_trip(consumer_side, producer_side, topic, "m-1", "hello").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_peers_that_know_the_secret_are_served() {
    let hub = ZmqBroker::connect(binding(Some("s3cret/with?odd#chars")))
        .await
        .expect("binds");
    let topic = unique_name("auth");
    let endpoint = hub.local_endpoint(&topic).expect("bound");
    hub.declare_group(&topic, "g").await.expect("declares");

    // The binding process's own consumers, and another process with the secret, are served.
    round_trip(&hub, &hub, &topic).await;
    let friend = connecting(&endpoint, Some("s3cret/with?odd#chars")).await;
    round_trip(&friend, &friend, &topic).await;
    friend.close().await.expect("closes");

    // Another secret: refused at subscribe and at send, naming authentication.
    let stranger = connecting(&endpoint, Some("guess")).await;
    let refused = stranger
        .subscribe(Subscription::new(&topic, "g"))
        .await
        .err()
        .expect("a wrong secret cannot subscribe");
    assert_eq!(refused.kind(), ErrorKind::Connection);
    assert!(refused.to_string().contains("auth"), "{refused}");
    assert!(!refused.to_string().contains("guess"), "{refused}");
    let producer = stranger.producer().await.expect("a producer");
    let sent = producer.send(&topic, Message::new("forged")).await;
    assert!(sent.is_err(), "a wrong secret could publish");
    stranger.close().await.expect("closes");

    // No secret at all: the first command is answered with an auth error.
    let mut raw = raw_dealer(&endpoint).await;
    raw.send(frames(&[
        b"courier/1",
        b"PUBLISH",
        b"1",
        topic.as_bytes(),
        b"",
        b"",
        b"",
        b"x",
    ]))
    .await
    .expect("sends");
    let answer = recv_frames(&mut raw).await;
    assert_eq!(&answer[1][..], b"ERROR");
    assert!(
        String::from_utf8_lossy(&answer[3]).starts_with("auth:"),
        "{answer:?}"
    );

    // Nothing of the refused peers reached the group, and the hub still serves.
    let mut consumer = hub
        .subscribe(Subscription::new(&topic, "g"))
        .await
        .expect("subscribes");
    let extra = tokio::time::timeout(Duration::from_millis(300), consumer.recv()).await;
    assert!(
        extra.is_err(),
        "a refused peer's message arrived: {extra:?}"
    );
    consumer.close().await.expect("closes");
    round_trip(&hub, &hub, &topic).await;
    hub.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_on_one_side_only_is_a_clear_error() {
    let open_hub = ZmqBroker::connect(binding(None)).await.expect("binds");
    let topic = unique_name("auth");
    let endpoint = open_hub.local_endpoint(&topic).expect("bound");
    open_hub.declare_group(&topic, "g").await.expect("declares");
    let with_secret = connecting(&endpoint, Some("x")).await;
    let error = with_secret
        .subscribe(Subscription::new(&topic, "g"))
        .await
        .err()
        .expect("refused");
    assert!(error.to_string().contains("no secret"), "{error}");
    with_secret.close().await.expect("closes");
    open_hub.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_peers_cannot_create_groups_unless_allowed() {
    let hub = ZmqBroker::connect(binding(None)).await.expect("binds");
    let topic = unique_name("declare");
    let endpoint = hub.local_endpoint(&topic).expect("bound");
    let remote = connecting(&endpoint, None).await;
    let error = remote
        .declare_group(&topic, "made-up")
        .await
        .expect_err("a remote DECLARE is refused");
    assert!(
        error.to_string().contains("allow_remote_declare"),
        "{error}"
    );
    let error = remote
        .subscribe(Subscription::new(&topic, "made-up"))
        .await
        .err()
        .expect("a HELLO for an unknown group is refused");
    assert!(error.to_string().contains("not declared"), "{error}");

    // Declared by the binding process: remote consumers join it.
    hub.declare_group(&topic, "g").await.expect("declares");
    remote
        .declare_group(&topic, "g")
        .await
        .expect("an existing group is fine");
    round_trip(&remote, &remote, &topic).await;
    remote.close().await.expect("closes");
    hub.close().await.expect("closes");

    let open = ZmqBroker::connect(ZmqConfig {
        allow_remote_declare: true,
        ..binding(None)
    })
    .await
    .expect("binds");
    let endpoint = open.local_endpoint(&topic).expect("bound");
    let remote = connecting(&endpoint, None).await;
    remote
        .declare_group(&topic, "made-up")
        .await
        .expect("allowed");
    remote.close().await.expect("closes");
    open.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_producer_parks_no_more_than_its_allowance() {
    let hub = ZmqBroker::connect(ZmqConfig {
        capacity: 1,
        overflow: Overflow::Block,
        max_parked_bytes_per_peer: 4096,
        ..binding(None)
    })
    .await
    .expect("binds");
    let topic = unique_name("parked");
    let endpoint = hub.local_endpoint(&topic).expect("bound");
    hub.declare_group(&topic, "nobody").await.expect("declares");
    let remote = connecting(&endpoint, None).await;
    let producer = remote.producer().await.expect("a producer");
    producer
        .send(&topic, Message::new("fills the outbox"))
        .await
        .expect("the first fits");
    let error = tokio::time::timeout(
        Duration::from_secs(5),
        producer.send(&topic, Message::new(vec![0u8; 8192])),
    )
    .await
    .expect("answered at once, not parked")
    .expect_err("more than the allowance");
    assert_eq!(error.kind(), ErrorKind::Full, "{error}");
    assert!(
        error.to_string().contains("max_parked_bytes_per_peer"),
        "{error}"
    );
    producer.close().await.expect("closes");
    remote.close().await.expect("closes");
    hub.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_disconnected_and_stalls_nobody() {
    let hub = ZmqBroker::connect(binding(None)).await.expect("binds");
    let topic = unique_name("slow");
    let endpoint = hub.local_endpoint(&topic).expect("bound");
    hub.declare_group(&topic, "g").await.expect("declares");

    // A peer that sends PINGs and reads none of the PONGs: the socket buffers and then the
    // hub's queue to it fill up. Its receive buffer is kept small so that happens after
    // megabytes rather than the tens of MB loopback autotuning allows. It sends until its
    // connection breaks, at most 6 million PINGs (100 MB).
    let address: std::net::SocketAddr = endpoint
        .trim_start_matches("tcp://")
        .parse()
        .expect("an address");
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("sets SO_RCVBUF");
    let mut deaf = socket.connect(address).await.expect("connects");
    let mut opening = zmtp::greeting();
    opening.extend(zmtp::ready_dealer());
    deaf.write_all(&opening).await.expect("greets");
    let ping = zmtp::message(&[b"courier/1", b"PING"]);
    let chunk: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 10_000)
        .collect();
    let flood = async {
        for _ in 0..600 {
            if deaf.write_all(&chunk).await.is_err() {
                break;
            }
        }
    };
    // The hub keeps reading while it writes to nobody: the flood is taken in time.
    tokio::time::timeout(Duration::from_secs(120), flood)
        .await
        .expect("the hub reads a peer that does not read");

    // Well-behaved peers are served promptly.
    let started = std::time::Instant::now();
    for _ in 0..3 {
        round_trip(&hub, &hub, &topic).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "well-behaved peers waited {:?}",
        started.elapsed()
    );

    // And the deaf peer was disconnected: after what was written before, its stream ends.
    let mut sink = vec![0u8; 1 << 16];
    let mut total = 0usize;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match deaf.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the peer that did not read is still connected after {total} bytes"
    );
    hub.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_size_limit_is_configurable() {
    let hub = ZmqBroker::connect(ZmqConfig {
        max_message_bytes: 16 * 1024,
        ..binding(None)
    })
    .await
    .expect("binds");
    let topic = unique_name("size");
    let endpoint = hub.local_endpoint(&topic).expect("bound");
    hub.declare_group(&topic, "g").await.expect("declares");
    let remote = ZmqBroker::connect(ZmqConfig {
        endpoint: endpoint.clone(),
        bind: false,
        max_message_bytes: 16 * 1024,
        ..binding(None)
    })
    .await
    .expect("connects");
    let producer = remote.producer().await.expect("a producer");
    let too_big = producer
        .send(&topic, Message::new(vec![7u8; 32 * 1024]))
        .await;
    assert!(too_big.is_err(), "a message over the limit was accepted");
    producer.close().await.expect("closes");
    remote.close().await.expect("closes");
    // The binding side still serves.
    round_trip(&hub, &hub, &topic).await;
    hub.close().await.expect("closes");
}
