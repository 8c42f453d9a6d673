//! The ZeroMQ binding side against hostile peers: a frame header declaring 2^62 bytes right
//! after a valid ZMTP greeting (which aborted the process on the allocation with the `zeromq`
//! crate as published), a message of more frames than the size limit, and plain garbage. The
//! binding process survives each and keeps serving a well-behaved producer and consumer. And
//! the delay frames of `PUBLISH` and `RETRY`: garbage, numbers past `u64`, and delays past
//! `max_delay_ms` are refused (or, for a retry, held to the limit) without stopping anything.

use std::time::{Duration, Instant};

use bytes::Bytes;
use courier_core::{Broker, Message};
use courier_tests::support::round_trip as round_trip_through;
use courier_tests::zmtp::greeting;
use courier_zeromq::{ZmqBroker, ZmqConfig};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use zeromq::{DealerSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

/// Connects to `address`, writes `bytes`, and waits (at most 2 s) for the peer to close.
async fn send_and_wait(address: &str, bytes: &[u8]) {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        panic!("the binding side does not accept connections at {address}");
    };
    let _ = stream.write_all(bytes).await;
    let mut sink = vec![0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

async fn round_trip(broker: &ZmqBroker, topic: &str, n: usize) {
    let payload = format!("still here {n}");
    round_trip_through(broker, broker, topic, &format!("m-{n}"), &payload).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_frames_and_garbage_do_not_stop_the_binding_side() {
    let broker = ZmqBroker::connect(ZmqConfig {
        endpoint: "tcp://127.0.0.1:0".into(),
        ..ZmqConfig::default()
    })
    .await
    .expect("binds");
    let endpoint = broker.local_endpoint("hostile").expect("a bound endpoint");
    let address = endpoint.trim_start_matches("tcp://").to_owned();
    round_trip(&broker, "hostile", 0).await;

    // A LONG frame declaring 2^62 bytes, right after the greeting.
    let mut forged = greeting();
    forged.push(0x02);
    forged.extend((1u64 << 62).to_be_bytes());
    send_and_wait(&address, &forged).await;
    round_trip(&broker, "hostile", 1).await;

    // A frame just over the 64 MiB limit, and many small frames marked MORE that add up past
    // it (only the header of the first is sent: nothing is reserved before the check).
    let mut too_big = greeting();
    too_big.push(0x02);
    too_big.extend((64u64 * 1024 * 1024 + 1).to_be_bytes());
    send_and_wait(&address, &too_big).await;
    round_trip(&broker, "hostile", 2).await;

    // Garbage instead of a greeting, and a greeting cut short.
    send_and_wait(&address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    send_and_wait(&address, &greeting()[..30]).await;
    let mut noise = Vec::with_capacity(64 * 1024);
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..noise.capacity() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    send_and_wait(&address, &noise).await;
    let mut after_greeting = greeting();
    after_greeting.extend(&noise);
    send_and_wait(&address, &after_greeting).await;
    round_trip(&broker, "hostile", 3).await;
    broker.close().await.expect("closes");
}

/// A DEALER that speaks `courier/1` frames by hand.
struct RawPeer(DealerSocket);

impl RawPeer {
    async fn connect(endpoint: &str) -> Self {
        let mut socket = DealerSocket::new();
        socket.connect(endpoint).await.expect("connects");
        Self(socket)
    }

    async fn send(&mut self, parts: &[&[u8]]) {
        let mut frames = vec![Bytes::from_static(b"courier/1")];
        frames.extend(parts.iter().map(|p| Bytes::copy_from_slice(p)));
        let message = ZmqMessage::try_from(frames).expect("frames");
        self.0.send(message).await.expect("sends");
    }

    /// The command and the frames after it, within 10 s.
    async fn recv(&mut self) -> (Bytes, Vec<Bytes>) {
        let frames = tokio::time::timeout(Duration::from_secs(10), self.0.recv())
            .await
            .expect("an answer within 10 s")
            .expect("receives")
            .into_vec();
        assert_eq!(frames[0], "courier/1");
        (frames[1].clone(), frames[2..].to_vec())
    }

    /// Expects `ERROR <seq> <reason>` and returns the reason.
    async fn error(&mut self, seq: &str) -> String {
        let (command, rest) = self.recv().await;
        assert_eq!(command, "ERROR", "{rest:?}");
        assert_eq!(rest[0], seq.as_bytes(), "the ERROR's seq");
        String::from_utf8_lossy(&rest[1]).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_frames_out_of_bounds_are_refused_or_held_to_the_limit() {
    let max_delay = Duration::from_millis(400);
    let broker = ZmqBroker::connect(ZmqConfig {
        endpoint: "tcp://127.0.0.1:0".into(),
        heartbeat_timeout_ms: 20_000,
        max_delay_ms: 400,
        ..ZmqConfig::default()
    })
    .await
    .expect("binds");
    let topic = courier_tests::support::unique_name("hostile-delay");
    let endpoint = broker.local_endpoint(&topic).expect("a bound endpoint");
    broker.declare_group(&topic, "g").await.expect("declares");
    let t = topic.as_bytes();
    let message: [&[u8]; 4] = [b"id", b"", b"", b"payload"];

    // PUBLISH: each refused with its seq, nothing queued.
    let mut producer = RawPeer::connect(&endpoint).await;
    let cases: [(&str, &[u8]); 5] = [
        ("1", b"soon"),
        ("2", b"18446744073709551616"),
        ("3", b"-5"),
        ("4", b"401"),
        ("5", b"18446744073709551615"),
    ];
    for (seq, delay) in cases {
        let mut parts: Vec<&[u8]> = vec![b"PUBLISH", seq.as_bytes(), t, delay];
        parts.extend(message);
        producer.send(&parts).await;
        let reason = producer.error(seq).await;
        assert!(reason.contains("delay"), "seq {seq}: {reason}");
    }
    producer.send(&[b"PUBLISH", b"6", t, b"100"]).await;
    producer.error("6").await;
    let mut parts: Vec<&[u8]> = vec![b"PUBLISH", b"7", t, b"100"];
    parts.extend(message);
    parts.push(b"extra");
    producer.send(&parts).await;
    producer.error("7").await;

    // RETRY: garbage is refused, and a peer that is not a member is told so.
    for parts in [
        &[b"RETRY".as_slice()][..],
        &[b"RETRY", b"soon", b"1"],
        &[b"RETRY", b"100", b"x"],
        &[b"RETRY", b"99999999999999999999999", b"1"],
    ] {
        producer.send(parts).await;
        producer.error("").await;
    }
    producer.send(&[b"RETRY", b"100", b"1"]).await;
    assert!(producer.error("").await.starts_with("gone:"));

    // A member's RETRY of u64::MAX ms waits max_delay_ms, then the delivery comes again.
    let mut consumer = RawPeer::connect(&endpoint).await;
    consumer.send(&[b"HELLO", t, b"g", b"4"]).await;
    assert_eq!(consumer.recv().await.0, "WELCOME");
    let producer_side = broker.producer().await.expect("a producer");
    producer_side
        .send(&topic, Message::new("m").with_id("held"))
        .await
        .expect("sends");
    let (command, frames) = consumer.recv().await;
    assert_eq!((command, frames[1].clone()), ("MSG".into(), "1".into()));
    let tag = frames[0].clone();
    let retried_at = Instant::now();
    consumer
        .send(&[b"RETRY", b"18446744073709551615", &tag])
        .await;
    let (command, frames) = consumer.recv().await;
    assert_eq!(command, "MSG");
    assert_eq!(
        (frames[1].clone(), frames[2].clone()),
        ("2".into(), "held".into())
    );
    assert!(
        retried_at.elapsed() >= max_delay,
        "{:?}",
        retried_at.elapsed()
    );
    consumer.send(&[b"ACK", &frames[0]]).await;
    consumer.send(&[b"BYE"]).await;

    // A delayed send past the limit through the API is refused before anything is sent.
    let refused = producer_side
        .send_after(&topic, Message::new("late"), Duration::from_secs(1))
        .await
        .expect_err("past max_delay_ms");
    assert_eq!(refused.kind(), courier_core::ErrorKind::Config);
    round_trip(&broker, &topic, 4).await;
    broker.close().await.expect("closes");
}
