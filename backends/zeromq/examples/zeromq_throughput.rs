//! Throughput by hand: N messages of S bytes sent, consumed and acked through courier's
//! ZeroMQ backend (over TCP loopback), against a raw `zeromq` PUSH/PULL pair in the same
//! program.
//!
//! ```text
//! cargo run --release -p courier-zeromq --example zeromq_throughput -- [messages] [bytes] [prefetch] [seq]
//! ```
//! Defaults: 100000 messages of 1024 bytes, prefetch 1024. With `seq`, messages get
//! sequence-number ids instead of a fresh UUIDv7 each, so the figure measures the backend
//! alone.

use std::time::{Duration, Instant};

use bytes::Bytes;
use courier_core::{Broker, Headers, Message, Subscription};
use courier_zeromq::{ZmqBroker, ZmqConfig};
use zeromq::{PullSocket, PushSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

const BATCH: usize = 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| -> Result<usize, std::num::ParseIntError> {
        args.get(i).map_or(Ok(default), |a| a.parse())
    };
    let messages = number(0, 100_000)?;
    let size = number(1, 1024)?;
    let prefetch = number(2, 1024)?;
    let seq_ids = args.get(3).is_some_and(|a| a == "seq");
    let payload = Bytes::from(vec![7u8; size]);

    let raw = raw_push_pull(messages, payload.clone()).await?;
    let courier = through_courier(messages, payload, prefetch, seq_ids).await?;
    let rate = |d: Duration| messages as f64 / d.as_secs_f64();
    println!("{messages} messages of {size} B");
    println!(
        "raw zeromq PUSH/PULL (send + receive):          {:>8.0} msg/s ({:.2?})",
        rate(raw),
        raw
    );
    println!(
        "courier-zeromq (send + consume + ack, p={prefetch}): {:>8.0} msg/s ({:.2?})",
        rate(courier),
        courier
    );
    println!(
        "courier / raw: {:.2}{}",
        rate(courier) / rate(raw),
        if seq_ids {
            " (sequence ids)"
        } else {
            " (UUIDv7 ids)"
        }
    );
    Ok(())
}

async fn raw_push_pull(
    messages: usize,
    payload: Bytes,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let mut pull = PullSocket::new();
    let endpoint = pull.bind("tcp://127.0.0.1:0").await?.to_string();
    let mut push = PushSocket::new();
    push.connect(&endpoint).await?;
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        for _ in 0..messages {
            push.send(ZmqMessage::from(payload.clone())).await?;
        }
        Ok::<_, zeromq::ZmqError>(push)
    });
    for _ in 0..messages {
        pull.recv().await?;
    }
    let elapsed = started.elapsed();
    drop(sender.await??);
    Ok(elapsed)
}

async fn through_courier(
    messages: usize,
    payload: Bytes,
    prefetch: usize,
    seq_ids: bool,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let broker = ZmqBroker::connect(ZmqConfig {
        endpoint: "tcp://127.0.0.1:0".into(),
        capacity: messages.max(1),
        ..ZmqConfig::default()
    })
    .await?;
    let topic = "bench";
    let mut consumer = broker
        .subscribe(Subscription::new(topic, "bench").with_prefetch(prefetch))
        .await?;
    let producer = broker.producer().await?;
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let mut left = messages;
        while left > 0 {
            let n = left.min(BATCH);
            let batch = (0..n)
                .map(|i| {
                    if seq_ids {
                        Message {
                            id: (left - i).to_string().into(),
                            key: None,
                            headers: Headers::new(),
                            payload: payload.clone(),
                        }
                    } else {
                        Message::new(payload.clone())
                    }
                })
                .collect();
            producer.send_batch(topic, batch).await?;
            left -= n;
        }
        Ok::<_, courier_core::Error>(())
    });
    let mut received = 0;
    while received < messages {
        let batch = consumer.recv_batch(prefetch).await?;
        received += batch.len();
        for mut delivery in batch {
            delivery.ack().await?;
        }
    }
    let consumed = started.elapsed();
    sender.await??;
    // The acks reach the binding side: close lingers until its outboxes are empty.
    broker.close().await?;
    println!(
        "courier: consumed and acked in {consumed:.2?}, binding side drained after {:.2?}",
        started.elapsed()
    );
    Ok(started.elapsed())
}
