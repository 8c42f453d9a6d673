//! Raw baselines of the memory backend: one bounded tokio mpsc channel per run, its receiver
//! shared by the group's consumers. Bare, the channel has no acks, so it does less work than
//! courier's memory backend, which tracks every delivery until it is acked; with equal work
//! an ack channel runs back to the producer side ([`super::memory_acked`]).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{Mutex, mpsc};

use crate::{
    driver::{Endpoints, Outcome, Publisher, Seen, Side, Subscriber},
    raw::Work,
    workload::{Names, Settings, Workload},
};

/// tokio mpsc with the memory backend's capacity, doing `work`.
pub struct RawMemory {
    capacity: usize,
    work: Work,
}

impl RawMemory {
    /// Channels of `capacity` messages, like a memory group of that capacity.
    pub fn new(capacity: usize, work: Work) -> Self {
        Self { capacity, work }
    }
}

#[async_trait]
impl Side for RawMemory {
    fn label(&self) -> &'static str {
        self.work.label()
    }

    async fn open(
        &self,
        workload: Workload,
        _settings: &Settings,
        _names: &Names,
    ) -> Outcome<Endpoints> {
        Ok(match self.work {
            Work::Bare => bare(self.capacity, workload),
            Work::Equal => super::memory_acked::endpoints(self.capacity, workload),
        })
    }
}

/// The channel alone: no numbers, no acks.
fn bare(capacity: usize, workload: Workload) -> Endpoints {
    let (tx, rx) = mpsc::channel::<Bytes>(capacity);
    let rx = Arc::new(Mutex::new(rx));
    let subscribers = (0..workload.consumers)
        .map(|_| {
            Box::new(ChannelSubscriber {
                rx: rx.clone(),
                buffer: Vec::new(),
            }) as Box<dyn Subscriber>
        })
        .collect();
    let publishers = (0..workload.producers)
        .map(|_| Arc::new(ChannelPublisher(tx.clone())) as Arc<dyn Publisher>)
        .collect();
    Endpoints {
        publishers,
        subscribers,
    }
}

struct ChannelPublisher(mpsc::Sender<Bytes>);

#[async_trait]
impl Publisher for ChannelPublisher {
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()> {
        // One wait for room for the whole batch, as a batch send would.
        let permits = self
            .0
            .reserve_many(payloads.len())
            .await
            .map_err(|_| "the channel is closed")?;
        for (permit, payload) in permits.zip(payloads) {
            permit.send(payload);
        }
        Ok(())
    }
}

struct ChannelSubscriber {
    rx: Arc<Mutex<mpsc::Receiver<Bytes>>>,
    buffer: Vec<Bytes>,
}

#[async_trait]
impl Subscriber for ChannelSubscriber {
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize> {
        let taken = self.rx.lock().await.recv_many(&mut self.buffer, max).await;
        for payload in self.buffer.drain(..) {
            seen(&payload);
        }
        Ok(taken)
    }
}
