//! Equal-work baseline of the ZeroMQ backend: acks and redelivery written by hand on
//! ROUTER/DEALER with the `zeromq` crate, over loopback TCP, laid out as courier's binding
//! side in the benchmark.
//!
//! A binder task owns a ROUTER socket and the run's one group: producers in its process hand
//! it batches over a bounded channel (a send returns once the batch is queued, as courier's
//! in-process send returns once the message is in the outbox); each consumer connects a
//! DEALER, says `HELLO`, and receives `MSG (tag payload)+` while it holds fewer than
//! `prefetch` unacked messages, round-robin across the members, up to [`BATCH`] deliveries per
//! message as courier's binding side sends them. A consumer acks a taken batch with one
//! `ACK` carrying one tag per frame; the binder keeps every delivered message in an unacked
//! map until then, and puts a member's unacked messages back at the front of the queue when
//! it says `BYE`. Waiting plus unacked messages are bounded by the outbox capacity.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use futures::FutureExt;
use tokio::{sync::mpsc, task::AbortHandle};
use zeromq::{
    DealerSocket, RouterRecvHalf, RouterSendHalf, RouterSocket, Socket, SocketRecv, SocketSend,
    ZmqMessage,
};

use crate::{
    driver::{Endpoints, Outcome, Publisher, Seen, Side, Subscriber},
    raw::Work,
    workload::{Names, Settings, Workload},
};

const HELLO: &[u8] = b"HELLO";
const MSG: &[u8] = b"MSG";
const ACK: &[u8] = b"ACK";
const BYE: &[u8] = b"BYE";
/// Batches queued towards the binder at once.
const PUBLISH_QUEUE: usize = 16;
/// The most deliveries in one `MSG`, as in courier's batched `RECORD`.
const BATCH: usize = 64;

/// A binder task with a ROUTER socket per run, and DEALER consumers.
pub struct AckedZmq {
    capacity: usize,
    /// The binder task of each open run, by topic, stopped by `cleanup`.
    binders: Mutex<HashMap<String, AbortHandle>>,
}

impl AckedZmq {
    /// Binders whose queue and unacked messages together stay within `capacity`, as a
    /// courier outbox of that capacity.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            binders: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl Side for AckedZmq {
    fn label(&self) -> &'static str {
        Work::Equal.label()
    }

    async fn open(
        &self,
        workload: Workload,
        settings: &Settings,
        names: &Names,
    ) -> Outcome<Endpoints> {
        let mut router = RouterSocket::new();
        let endpoint = router.bind("tcp://127.0.0.1:0").await?.to_string();
        let (send, recv) = router.split();
        let (publishes, queued) = mpsc::channel(PUBLISH_QUEUE);
        let binder = Binder::new(send, settings.prefetch, self.capacity);
        let task = tokio::spawn(binder.run(recv, queued));
        self.binders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(names.topic.clone(), task.abort_handle());
        let mut subscribers: Vec<Box<dyn Subscriber>> = Vec::with_capacity(workload.consumers);
        for _ in 0..workload.consumers {
            let mut dealer = DealerSocket::new();
            dealer.connect(&endpoint).await?;
            dealer
                .send(ZmqMessage::from(Bytes::from_static(HELLO)))
                .await?;
            subscribers.push(Box::new(DealerSubscriber(dealer)));
        }
        let publishers = (0..workload.producers)
            .map(|_| Arc::new(QueuePublisher(publishes.clone())) as Arc<dyn Publisher>)
            .collect();
        Ok(Endpoints {
            publishers,
            subscribers,
        })
    }

    async fn cleanup(&self, names: &Names) -> Outcome<()> {
        let binder = self
            .binders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&names.topic);
        if let Some(binder) = binder {
            binder.abort();
        }
        Ok(())
    }
}

/// A consumer of the group, known by its ROUTER identity.
struct Member {
    identity: Bytes,
    /// How many more messages it may hold unacked.
    credit: usize,
}

/// The binding side: the group's queue, its members and what each holds unacked.
struct Binder {
    router: RouterSendHalf,
    members: Vec<Member>,
    /// The member the next message goes to, if it has credit.
    turn: usize,
    waiting: VecDeque<(u64, Bytes)>,
    /// Delivered and not yet acked: tag to holder and payload.
    unacked: HashMap<u64, (Bytes, Bytes)>,
    next_tag: u64,
    prefetch: usize,
    capacity: usize,
}

impl Binder {
    fn new(router: RouterSendHalf, prefetch: usize, capacity: usize) -> Self {
        Self {
            router,
            members: Vec::new(),
            turn: 0,
            waiting: VecDeque::new(),
            unacked: HashMap::new(),
            next_tag: 0,
            prefetch: prefetch.max(1),
            capacity: capacity.max(1),
        }
    }

    /// Serves the group until aborted, or until the producers are gone and every member
    /// has left.
    async fn run(
        mut self,
        mut peers: RouterRecvHalf,
        mut queued: mpsc::Receiver<Vec<Bytes>>,
    ) -> Outcome<()> {
        let mut producing = true;
        loop {
            let room = self.waiting.len() + self.unacked.len() < self.capacity;
            tokio::select! {
                biased;
                message = peers.recv() => self.handle(message?),
                batch = queued.recv(), if producing && room => match batch {
                    Some(batch) => {
                        for payload in batch {
                            self.waiting.push_back((self.next_tag, payload));
                            self.next_tag += 1;
                        }
                    }
                    None => producing = false,
                },
            }
            if !producing && self.members.is_empty() {
                return Ok(());
            }
            self.dispatch().await?;
        }
    }

    /// Applies a peer's `HELLO`, `ACK` or `BYE` (identity frame first).
    fn handle(&mut self, message: ZmqMessage) {
        let frames = message.into_vec();
        let (Some(identity), Some(command)) = (frames.first(), frames.get(1)) else {
            return;
        };
        let member = self.members.iter().position(|m| m.identity == identity);
        match (&command[..], member) {
            (HELLO, None) => self.members.push(Member {
                identity: identity.clone(),
                credit: self.prefetch,
            }),
            (ACK, Some(member)) => {
                let acked = frames[2..]
                    .iter()
                    .filter_map(|frame| <[u8; 8]>::try_from(&frame[..]).ok())
                    .filter(|tag| self.unacked.remove(&u64::from_le_bytes(*tag)).is_some())
                    .count();
                self.members[member].credit += acked;
            }
            (BYE, Some(member)) => {
                self.members.remove(member);
                self.redeliver(identity);
            }
            _ => {}
        }
    }

    /// Puts the messages `identity` holds unacked back at the front of the queue, in order.
    fn redeliver(&mut self, identity: &Bytes) {
        let mut held: Vec<(u64, Bytes)> = self
            .unacked
            .iter()
            .filter(|(_, (holder, _))| holder == identity)
            .map(|(tag, (_, payload))| (*tag, payload.clone()))
            .collect();
        held.sort_unstable_by_key(|(tag, _)| *tag);
        for (tag, payload) in held.into_iter().rev() {
            self.unacked.remove(&tag);
            self.waiting.push_front((tag, payload));
        }
    }

    /// Sends waiting messages round-robin to the members with credit, each turn one `MSG` of
    /// up to [`BATCH`] deliveries.
    async fn dispatch(&mut self) -> Outcome<()> {
        while !self.waiting.is_empty() {
            let count = self.members.len();
            let Some(member) = (0..count)
                .map(|i| (self.turn + i) % count)
                .find(|&m| self.members[m].credit > 0)
            else {
                return Ok(());
            };
            self.turn = (member + 1) % count;
            let holder = &mut self.members[member];
            let n = holder.credit.min(BATCH).min(self.waiting.len());
            holder.credit -= n;
            let mut message = ZmqMessage::from(holder.identity.clone());
            message.push_back(Bytes::from_static(MSG));
            for (tag, payload) in self.waiting.drain(..n) {
                message.push_back(Bytes::copy_from_slice(&tag.to_le_bytes()));
                message.push_back(payload.clone());
                self.unacked.insert(tag, (holder.identity.clone(), payload));
            }
            self.router.send(message).await?;
        }
        Ok(())
    }
}

/// Hands batches to the binder in its process.
struct QueuePublisher(mpsc::Sender<Vec<Bytes>>);

#[async_trait]
impl Publisher for QueuePublisher {
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()> {
        self.0
            .send(payloads)
            .await
            .map_err(|_| "the binder stopped".into())
    }
}

/// A consumer on a DEALER socket.
struct DealerSubscriber(DealerSocket);

impl DealerSubscriber {
    /// Passes each payload of a `MSG` to `seen` and appends its tag to `tags`; returns how
    /// many deliveries it carried.
    fn handle(message: &ZmqMessage, tags: &mut BytesMut, seen: &mut Seen<'_>) -> usize {
        let mut frames = message.iter();
        if frames.next().map(|c| &c[..]) != Some(MSG) {
            return 0;
        }
        let mut count = 0;
        while let (Some(tag), Some(payload)) = (frames.next(), frames.next()) {
            seen(payload);
            tags.put_slice(tag);
            count += 1;
        }
        count
    }
}

#[async_trait]
impl Subscriber for DealerSubscriber {
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize> {
        // A DEALER's `recv` only awaits its fair queue's `next`, so polling it once and
        // dropping it when nothing is ready loses no message.
        let first = self.0.recv().await?;
        let mut tags = BytesMut::with_capacity(8 * max);
        let mut taken = Self::handle(&first, &mut tags, seen);
        while taken < max {
            match self.0.recv().now_or_never() {
                Some(next) => taken += Self::handle(&next?, &mut tags, seen),
                None => break,
            }
        }
        // One ACK for the batch, one tag per frame.
        let tags = tags.freeze();
        let mut ack = ZmqMessage::from(Bytes::from_static(ACK));
        for at in (0..tags.len()).step_by(8) {
            ack.push_back(tags.slice(at..at + 8));
        }
        self.0.send(ack).await?;
        Ok(taken)
    }

    async fn close(mut self: Box<Self>) -> Outcome<()> {
        self.0
            .send(ZmqMessage::from(Bytes::from_static(BYE)))
            .await?;
        Ok(())
    }
}
