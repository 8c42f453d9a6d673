//! End-to-end throughput of the in-memory backend: produce, consume, ack.
//!
//! One task sends `COUNT` messages of `SIZE` bytes with `send_batch`; another receives them
//! with `recv_batch` and acks each one. Both run on a tokio runtime with 2 worker threads. Run it in release mode:
//!
//! ```text
//! cargo run --release -p courier-memory --example memory_throughput -- \
//!     [COUNT] [SIZE] [BATCH] [PREFETCH] [CAPACITY] [uuid|seq]
//! ```
//!
//! Defaults: 1 000 000 messages of 1 KiB, batches of 1 000, prefetch 1 000, the default group
//! capacity (100 000, blocking), on a tokio runtime with 2 worker threads. Each message gets a
//! UUIDv7 id as `Message::new` gives it; `seq` gives sequence-number ids instead, to measure
//! the backend without the cost of generating ids.

use std::time::Instant;

use bytes::Bytes;
use courier_core::{Broker, Headers, Message, Subscription};
use courier_memory::{MemoryBroker, MemoryConfig, Overflow};

fn arg(position: usize, default: usize) -> usize {
    std::env::args()
        .nth(position)
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() -> courier_core::Result<()> {
    let count = arg(1, 1_000_000);
    let size = arg(2, 1024);
    let batch = arg(3, 1_000).max(1);
    let prefetch = arg(4, 1_000).max(1);
    let capacity = arg(5, MemoryConfig::DEFAULT_CAPACITY).max(1);
    let uuid_ids = std::env::args().nth(6).is_none_or(|ids| ids != "seq");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            courier_core::Error::new("memory", courier_core::ErrorKind::Other, e.to_string())
        })?;
    runtime.block_on(run(count, size, batch, prefetch, capacity, uuid_ids))
}

async fn run(
    count: usize,
    size: usize,
    batch: usize,
    prefetch: usize,
    capacity: usize,
    uuid_ids: bool,
) -> courier_core::Result<()> {
    let broker = MemoryBroker::new(MemoryConfig {
        capacity,
        overflow: Overflow::Block,
    });
    let mut consumer = broker
        .subscribe(Subscription::new("bench", "bench").with_prefetch(prefetch))
        .await?;
    let producer = broker.producer().await?;
    let template = vec![0xA5u8; size];

    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let mut sent = 0;
        while sent < count {
            let n = batch.min(count - sent);
            let messages = (0..n)
                .map(|i| {
                    let payload = Bytes::copy_from_slice(&template);
                    if uuid_ids {
                        Message::new(payload)
                    } else {
                        Message {
                            id: (sent + i).to_string().into(),
                            key: None,
                            headers: Headers::new(),
                            payload,
                        }
                    }
                })
                .collect();
            producer.send_batch("bench", messages).await?;
            sent += n;
        }
        courier_core::Result::Ok(started.elapsed())
    });

    let receiver = tokio::spawn(async move {
        let mut received = 0;
        let mut bytes = 0;
        while received < count {
            let deliveries = consumer.recv_batch(prefetch).await?;
            if deliveries.is_empty() {
                break;
            }
            for mut delivery in deliveries {
                bytes += delivery.message.payload.len();
                delivery.ack().await?;
                received += 1;
            }
        }
        let elapsed = started.elapsed();
        consumer.close().await?;
        courier_core::Result::Ok((received, bytes, elapsed))
    });
    let joined = |e: tokio::task::JoinError| {
        courier_core::Error::new("memory", courier_core::ErrorKind::Other, e.to_string())
    };
    let (received, bytes, elapsed) = receiver.await.map_err(joined)??;
    let send_elapsed = sender.await.map_err(joined)??;

    let rate = received as f64 / elapsed.as_secs_f64();
    println!(
        "memory: {received} messages of {size} B ({} ids, batch {batch}, prefetch {prefetch}, \
         capacity {capacity}) produced, consumed and acked in {:.3} s: {:.0} msg/s, \
         {:.1} MiB/s (sending alone took {:.3} s)",
        if uuid_ids { "uuid" } else { "seq" },
        elapsed.as_secs_f64(),
        rate,
        bytes as f64 / elapsed.as_secs_f64() / (1024.0 * 1024.0),
        send_elapsed.as_secs_f64(),
    );
    assert_eq!(received, count, "every message arrives");
    Ok(())
}
