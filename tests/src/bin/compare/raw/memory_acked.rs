//! Equal-work baseline of the memory backend: a bounded tokio mpsc channel carries each
//! message with a sequence number to the group's consumers, and a second channel carries the
//! acks back to the producer side, where a task counts them. Each consumer sends the numbers
//! of a taken batch back in one message, as courier's `Delivery::ack_all` settles a batch
//! with one call.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering::Relaxed},
};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{Mutex, mpsc};

use crate::{
    driver::{Endpoints, Outcome, Publisher, Seen, Subscriber},
    workload::Workload,
};

/// A message on the channel: its sequence number and payload.
type Numbered = (u64, Bytes);

/// The endpoints of one run: numbered messages on a channel of `capacity`, and acks back.
pub fn endpoints(capacity: usize, workload: Workload) -> Endpoints {
    let (tx, rx) = mpsc::channel::<Numbered>(capacity);
    let rx = Arc::new(Mutex::new(rx));
    let (acks, mut acked) = mpsc::unbounded_channel::<Vec<u64>>();
    // The producer side's count of acked messages; the task ends with the last consumer.
    tokio::spawn(async move {
        let mut count = 0usize;
        while let Some(numbers) = acked.recv().await {
            count += numbers.len();
        }
        std::hint::black_box(count);
    });
    let subscribers = (0..workload.consumers)
        .map(|_| {
            Box::new(AckingSubscriber {
                rx: rx.clone(),
                acks: acks.clone(),
                buffer: Vec::new(),
            }) as Box<dyn Subscriber>
        })
        .collect();
    let next = Arc::new(AtomicU64::new(0));
    let publishers = (0..workload.producers)
        .map(|_| {
            Arc::new(NumberingPublisher {
                tx: tx.clone(),
                next: next.clone(),
            }) as Arc<dyn Publisher>
        })
        .collect();
    Endpoints {
        publishers,
        subscribers,
    }
}

/// Numbers each message and queues the batch with one wait for room.
struct NumberingPublisher {
    tx: mpsc::Sender<Numbered>,
    next: Arc<AtomicU64>,
}

#[async_trait]
impl Publisher for NumberingPublisher {
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()> {
        let permits = self
            .tx
            .reserve_many(payloads.len())
            .await
            .map_err(|_| "the channel is closed")?;
        let first = self.next.fetch_add(payloads.len() as u64, Relaxed);
        for ((permit, payload), number) in permits.zip(payloads).zip(first..) {
            permit.send((number, payload));
        }
        Ok(())
    }
}

/// Takes a batch from the shared receiver, then sends its numbers back as one ack.
struct AckingSubscriber {
    rx: Arc<Mutex<mpsc::Receiver<Numbered>>>,
    acks: mpsc::UnboundedSender<Vec<u64>>,
    buffer: Vec<Numbered>,
}

#[async_trait]
impl Subscriber for AckingSubscriber {
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize> {
        let taken = self.rx.lock().await.recv_many(&mut self.buffer, max).await;
        let mut numbers = Vec::with_capacity(taken);
        for (number, payload) in self.buffer.drain(..) {
            seen(&payload);
            numbers.push(number);
        }
        if taken > 0 {
            self.acks
                .send(numbers)
                .map_err(|_| "the producer side stopped counting acks")?;
        }
        Ok(taken)
    }
}
