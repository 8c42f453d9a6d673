//! The ZeroMQ binding side against hostile peers: a frame header declaring 2^62 bytes right
//! after a valid ZMTP greeting (which aborted the process on the allocation with the `zeromq`
//! crate as published), a message of more frames than the size limit, and plain garbage. The
//! binding process survives each and keeps serving a well-behaved producer and consumer.

use std::time::Duration;

use courier_core::Broker;
use courier_tests::support::round_trip as round_trip_through;
use courier_tests::zmtp::greeting;
use courier_zeromq::{ZmqBroker, ZmqConfig};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

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
