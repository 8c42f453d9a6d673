//! The hub task: the one owner of a ROUTER socket. It reacts to local commands, to frames
//! from peers (read by the reader task), to the socket monitor's disconnect events and to a
//! heartbeat tick, and to its timer when a delayed message is due, then writes what the
//! outbox produced.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use courier_core::{Error, ErrorKind, Result};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use zeromq::util::PeerIdentity;
use zeromq::{RouterSendHalf, RouterSocket, Socket, SocketEvent, TrySendError, ZmqMessage};

use super::batches::Batches;
use super::gate::{Admit, Gate};
use super::outbox::{Intake, Outbox, Outgoing, Settle};
use super::timer::DueTimer;
use super::{Command, HubSettings};
use crate::BACKEND;
use crate::config::Overflow;
use crate::delay;
use crate::socket::spawn_reader;
use crate::wire::{FromHub, Malformed, ToHub, WireMessage};

/// Frames read from peers handled per wake-up before writing, so that acks and deliveries
/// travel in batches.
const READ_BATCH: usize = 256;

/// Where the answer to a send goes.
enum Reply {
    Local(oneshot::Sender<Result<()>>),
    Remote { peer: Bytes, seq: Bytes },
}

/// Messages waiting for room in a full outbox, in send order.
struct Parked {
    messages: VecDeque<WireMessage>,
    /// When they join their groups, for a delayed send; `None`: at once.
    due: Option<Instant>,
    reply: Reply,
    /// The bytes counted against a remote peer's parking allowance.
    bytes: usize,
}

struct State {
    settings: HubSettings,
    outbox: Outbox,
    parked: HashMap<String, VecDeque<Parked>>,
    /// Bytes each remote peer has parked.
    parked_bytes: HashMap<Bytes, usize>,
    /// The authentication state, when the hub has a secret.
    gate: Option<Gate>,
    drain_waiters: Vec<oneshot::Sender<()>>,
    out: Vec<Outgoing>,
    replies: Vec<ZmqMessage>,
    /// Connections to close once what was queued for them is written.
    evict: Vec<Bytes>,
    /// Connections to close at once: they do not read what they are sent.
    cut: Vec<Bytes>,
    /// Topics without groups that a warning was logged for (at most [`WARNED_TOPICS`]).
    warned: HashSet<String>,
}

/// Topics without groups warned about at most, so that random topic names cannot grow the
/// set without bound.
const WARNED_TOPICS: usize = 1024;

/// Runs the hub until `shutdown` is cancelled or every command sender is gone.
pub(super) async fn run(
    mut socket: RouterSocket,
    settings: HubSettings,
    groups: Vec<(String, String)>,
    mut commands: mpsc::Receiver<Command>,
    shutdown: CancellationToken,
) {
    let mut monitor = socket.monitor();
    let (sender, receiver) = socket.split();
    let (reader, mut incoming) = spawn_reader(receiver, 4096, None);
    let mut tick = tokio::time::interval(settings.heartbeat_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut state = State {
        outbox: Outbox::new(settings.capacity),
        gate: settings.secret.clone().map(Gate::new),
        settings,
        parked: HashMap::new(),
        parked_bytes: HashMap::new(),
        drain_waiters: Vec::new(),
        out: Vec::new(),
        replies: Vec::new(),
        evict: Vec::new(),
        cut: Vec::new(),
        warned: HashSet::new(),
    };
    for (topic, group) in groups {
        state.outbox.declare(&topic, &group);
    }
    let mut monitoring = true;
    let mut last_tick = Instant::now();
    let mut timer = DueTimer::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            // Before the peers' frames, so that a busy socket cannot hold releases back.
            () = timer.fired() => state.outbox.release_due(Instant::now(), &mut state.out),
            command = commands.recv() => match command {
                Some(command) => state.on_command(command),
                None => break,
            },
            frames = incoming.recv() => match frames {
                Some(frames) => {
                    let now = Instant::now();
                    state.on_frames(frames, now);
                    for _ in 1..READ_BATCH {
                        match incoming.try_recv() {
                            Ok(frames) => state.on_frames(frames, now),
                            Err(_) => break,
                        }
                    }
                }
                None => {
                    tracing::error!(backend = BACKEND, "the ROUTER socket stopped receiving");
                    break;
                }
            },
            event = monitor.next(), if monitoring => match event {
                Some(SocketEvent::Disconnected(peer)) => {
                    let peer = Bytes::from(peer);
                    if let Some(gate) = &mut state.gate {
                        gate.forget(&peer);
                    }
                    if state.outbox.leave(&peer, &mut state.out) {
                        tracing::debug!(backend = BACKEND, peer = ?peer, "consumer disconnected");
                    }
                }
                Some(_) => {}
                None => monitoring = false,
            },
            _ = tick.tick() => {
                // A hub that could not run for a while (a starved process) has not read what
                // its peers sent meanwhile: it lets one tick pass before blaming them.
                let now = Instant::now();
                let late = now.saturating_duration_since(last_tick)
                    > 2 * state.settings.heartbeat_interval;
                last_tick = now;
                let timeout = state.settings.heartbeat_timeout;
                let expired = if late {
                    Vec::new()
                } else {
                    state.outbox.expire(now, timeout, &mut state.out)
                };
                for peer in expired {
                    state.reply(peer.clone(), not_a_member());
                    tracing::info!(
                        backend = BACKEND,
                        peer = ?peer,
                        "consumer silent for longer than the heartbeat timeout: its unacked \
                         messages go back to its group"
                    );
                }
            }
        }
        state.unpark();
        state.write(&sender);
        state.answer_drained();
        timer.set(state.outbox.next_due());
    }
    for (_, queue) in state.parked.drain() {
        for parked in queue {
            if let Reply::Local(reply) = parked.reply {
                let _ = reply.send(Err(Error::closed(BACKEND, "the zeromq broker")));
            }
        }
    }
    reader.abort();
    drop(sender);
    tracing::debug!(backend = BACKEND, "hub stopped");
}

impl State {
    fn on_command(&mut self, command: Command) {
        match command {
            Command::Send {
                topic,
                messages,
                delay,
                reply,
            } => {
                let max = self.settings.max_delay;
                match delay::publish_due(Instant::now(), delay::to_ms(delay), max) {
                    Ok(due) => self.accept(topic, messages, due, Reply::Local(reply)),
                    Err(reason) => {
                        let _ = reply.send(Err(Error::new(BACKEND, ErrorKind::Config, reason)));
                    }
                }
            }
            Command::Declare {
                topic,
                group,
                reply,
            } => {
                self.outbox.declare(&topic, &group);
                let _ = reply.send(());
            }
            Command::Barrier(reply) => {
                let _ = reply.send(());
            }
            Command::Drained(reply) => self.drain_waiters.push(reply),
        }
    }

    fn on_frames(&mut self, mut frames: Vec<Bytes>, now: Instant) {
        if frames.is_empty() {
            return;
        }
        let peer = frames.remove(0);
        self.outbox.touch(&peer, now);
        let parsed = ToHub::parse(frames);
        let parsed = match &mut self.gate {
            None => parsed,
            Some(gate) => match gate.admit(&peer, parsed) {
                Admit::Pass(parsed) => parsed,
                Admit::Answer(answer) => return self.reply(peer, answer),
                Admit::Refuse(answer) => {
                    tracing::info!(backend = BACKEND, peer = ?peer, "connection refused: not authenticated");
                    self.reply(peer.clone(), answer);
                    self.evict.push(peer);
                    return;
                }
            },
        };
        self.handle(peer, parsed, now);
    }

    fn handle(&mut self, peer: Bytes, parsed: Result<ToHub, Malformed>, now: Instant) {
        let request = match parsed {
            Ok(request) => request,
            Err(malformed) => {
                tracing::debug!(backend = BACKEND, peer = ?peer, reason = %malformed.reason, "malformed frames");
                self.reply(
                    peer,
                    FromHub::Error {
                        seq: malformed.seq,
                        reason: malformed.reason,
                    },
                );
                return;
            }
        };
        // A temporary group may be created by any peer that may connect: it exists only
        // while its members are connected, so it cannot grow once they are gone.
        let temporary = matches!(
            request,
            ToHub::Hello {
                temporary: true,
                ..
            }
        );
        if let ToHub::Hello { topic, group, .. } | ToHub::Declare { topic, group, .. } = &request
            && !temporary
            && !self.settings.allow_remote_declare
            && !self.outbox.has_group(topic, group)
        {
            let seq = match &request {
                ToHub::Declare { seq, .. } => seq.clone(),
                _ => Bytes::new(),
            };
            let reason = format!(
                "group `{group}` of topic `{topic}` is not declared on the binding side: list it \
                 in its [broker.zeromq.topics.\"{topic}\"] groups, declare it in that process, or \
                 set allow_remote_declare = true there"
            );
            tracing::info!(backend = BACKEND, peer = ?peer, topic, group, "remote declaration refused");
            return self.reply(peer, FromHub::Error { seq, reason });
        }
        match request {
            ToHub::Challenge { .. } | ToHub::Auth { .. } => {
                let reason = if self.gate.is_some() {
                    "auth: this connection is already authenticated"
                } else {
                    "auth: this binding side has no secret; remove `secret` from the peer or set \
                     the same secret on the binding side"
                };
                self.reply(
                    peer,
                    FromHub::Error {
                        seq: Bytes::new(),
                        reason: reason.to_owned(),
                    },
                );
            }
            ToHub::Hello {
                topic,
                group,
                prefetch,
                temporary,
                framing,
            } => {
                // The WELCOME is queued before the deliveries the join hands out.
                let welcome = FromHub::Welcome {
                    heartbeat_ms: u64::try_from(self.settings.heartbeat_interval.as_millis())
                        .unwrap_or(u64::MAX),
                };
                self.replies.push(welcome.frames_to(peer.clone()));
                let creates = !self.outbox.has_group(&topic, &group);
                let joined = self.outbox.join(
                    peer.clone(),
                    &topic,
                    &group,
                    Intake { prefetch, framing },
                    now,
                    &mut self.out,
                );
                if joined.is_ok() && creates && temporary {
                    self.outbox.make_temporary(&topic, &group);
                }
                if joined.is_err() {
                    self.replies.pop();
                    self.reply(
                        peer,
                        FromHub::Error {
                            seq: Bytes::new(),
                            reason: "this connection already joined a group; open one connection \
                                 per consumer"
                                .to_owned(),
                        },
                    );
                } else {
                    tracing::debug!(backend = BACKEND, peer = ?peer, topic, group, prefetch, temporary, "consumer joined");
                }
            }
            ToHub::Ack(tags) => self.settle(peer, &tags, Settle::Ack),
            ToHub::Nack(tags) => self.settle(peer, &tags, Settle::Requeue),
            ToHub::Reject(tags) => self.settle(peer, &tags, Settle::Reject),
            ToHub::Retry { delay_ms, tags } => {
                match delay::retry_due(now, delay_ms, self.settings.max_delay) {
                    Some(due) => self.retry(peer, &tags, due),
                    None => self.settle(peer, &tags, Settle::Requeue),
                }
            }
            ToHub::Ping => self.reply(peer, FromHub::Pong),
            ToHub::Bye => {
                self.outbox.leave(&peer, &mut self.out);
            }
            ToHub::Publish {
                seq,
                topic,
                delay_ms,
                messages,
            } => {
                let due = match delay::publish_due(now, delay_ms, self.settings.max_delay) {
                    Ok(due) => due,
                    Err(reason) => return self.reply(peer, FromHub::Error { seq, reason }),
                };
                match messages
                    .into_iter()
                    .map(WireMessage::validated)
                    .collect::<std::result::Result<Vec<_>, _>>()
                {
                    Ok(messages) => self.accept(topic, messages, due, Reply::Remote { peer, seq }),
                    Err(reason) => self.reply(peer, FromHub::Error { seq, reason }),
                }
            }
            ToHub::Declare { seq, topic, group } => {
                self.outbox.declare(&topic, &group);
                self.reply(peer, FromHub::Ok { seq });
            }
        }
    }

    /// Settles deliveries of a member. A peer that is no longer a member (it fell silent
    /// past the heartbeat timeout, so its deliveries went back to the group) is told, so that
    /// it reconnects instead of settling into the void.
    fn settle(&mut self, peer: Bytes, tags: &[u64], how: Settle) {
        if self.outbox.is_member(&peer) {
            self.outbox.settle(&peer, tags, how, &mut self.out);
        } else {
            self.reply(peer, not_a_member());
        }
    }

    /// Keeps the deliveries `tags` of a member aside until `due`, freeing its credit; a
    /// peer that is no longer a member is told, as for [`settle`](Self::settle).
    fn retry(&mut self, peer: Bytes, tags: &[u64], due: Instant) {
        if self.outbox.is_member(&peer) {
            self.outbox.park(&peer, tags, due, &mut self.out);
        } else {
            self.reply(peer, not_a_member());
        }
    }

    fn reply(&mut self, peer: Bytes, reply: FromHub) {
        self.replies.push(reply.frames_to(peer));
    }

    /// Queues `messages` on `topic`, to join the groups at `due` (`None`: at once), or parks
    /// what does not fit (or fails it, with [`Overflow::Fail`], or when a remote peer has
    /// parked its allowance of bytes). Messages of a topic never overtake parked ones;
    /// delayed messages take room like any other.
    fn accept(
        &mut self,
        topic: String,
        mut messages: Vec<WireMessage>,
        due: Option<Instant>,
        reply: Reply,
    ) {
        let rest = if self.parked.contains_key(&topic) {
            messages
        } else {
            if !self.outbox.has_groups(&topic) {
                self.warn_no_group(&topic, messages.len());
            }
            let room = self.outbox.room(&topic);
            if room >= messages.len() {
                self.outbox
                    .enqueue_due(&topic, messages, due, &mut self.out);
                self.answer(reply, Ok(()));
                return;
            }
            let rest = messages.split_off(room);
            self.outbox
                .enqueue_due(&topic, messages, due, &mut self.out);
            rest
        };
        if self.settings.overflow == Overflow::Fail {
            let problem = format!(
                "a group of topic `{topic}` already holds {} messages",
                self.settings.capacity
            );
            return self.answer(reply, Err(full(&problem, rest.len())));
        }
        let bytes = match &reply {
            Reply::Local(_) => 0,
            Reply::Remote { peer, .. } => {
                let bytes = rest.iter().map(WireMessage::byte_len).sum::<usize>();
                let parked = self.parked_bytes.get(peer).copied().unwrap_or(0);
                if parked + bytes > self.settings.max_parked_bytes_per_peer {
                    let problem = format!(
                        "this connection has {parked} bytes waiting for room on full outboxes \
                         (max_parked_bytes_per_peer = {})",
                        self.settings.max_parked_bytes_per_peer
                    );
                    return self.answer(reply, Err(full(&problem, rest.len())));
                }
                self.parked_bytes.insert(peer.clone(), parked + bytes);
                bytes
            }
        };
        let queue = self.parked.entry(topic.clone()).or_default();
        if queue.is_empty() {
            // The topic starts waiting: say which groups hold it up.
            for (group, members) in self.outbox.full_groups(&topic) {
                tracing::warn!(
                    backend = BACKEND,
                    topic,
                    group,
                    members,
                    capacity = self.settings.capacity,
                    "sends to the topic wait: this group's outbox is full{}",
                    if members == 0 {
                        " and nobody consumes it"
                    } else {
                        ""
                    }
                );
            }
        }
        queue.push_back(Parked {
            messages: rest.into(),
            due,
            reply,
            bytes,
        });
    }

    /// Logs, once per topic, that messages sent to a topic without groups are dropped.
    fn warn_no_group(&mut self, topic: &str, n: usize) {
        if self.warned.len() < WARNED_TOPICS && self.warned.insert(topic.to_owned()) {
            tracing::warn!(
                backend = BACKEND,
                topic,
                n,
                "messages sent to a topic without groups are dropped (logged once per topic): \
                 declare the consumers' groups on the binding side before sending"
            );
        } else {
            tracing::debug!(
                backend = BACKEND,
                topic,
                n,
                "no group on the topic: nothing kept"
            );
        }
    }

    /// Moves parked messages into outboxes that have room again.
    fn unpark(&mut self) {
        if self.parked.is_empty() {
            return;
        }
        let mut answered = Vec::new();
        for (topic, queue) in &mut self.parked {
            loop {
                let room = self.outbox.room(topic);
                let Some(front) = queue.front_mut() else {
                    break;
                };
                if room == 0 {
                    break;
                }
                let n = room.min(front.messages.len());
                self.outbox
                    .enqueue_due(topic, front.messages.drain(..n), front.due, &mut self.out);
                if front.messages.is_empty() {
                    if let Some(done) = queue.pop_front() {
                        answered.push((done.reply, done.bytes));
                    }
                }
            }
        }
        self.parked.retain(|_, queue| !queue.is_empty());
        for (reply, bytes) in answered {
            if let Reply::Remote { peer, .. } = &reply {
                if let Some(parked) = self.parked_bytes.get_mut(peer) {
                    *parked = parked.saturating_sub(bytes);
                    if *parked == 0 {
                        self.parked_bytes.remove(peer);
                    }
                }
            }
            self.answer(reply, Ok(()));
        }
    }

    fn answer(&mut self, reply: Reply, result: Result<()>) {
        match reply {
            Reply::Local(reply) => {
                let _ = reply.send(result);
            }
            Reply::Remote { peer, seq } => {
                let reply = match result {
                    Ok(()) => FromHub::Ok { seq },
                    Err(error) => FromHub::Error {
                        seq,
                        reason: error.message().to_owned(),
                    },
                };
                self.reply(peer, reply);
            }
        }
    }

    fn answer_drained(&mut self) {
        if !self.drain_waiters.is_empty() && self.outbox.undelivered() == 0 {
            for waiter in self.drain_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Writes replies, then deliveries, without ever waiting for a peer. A delivery that
    /// cannot be written means its consumer is gone: what it held goes back to its group,
    /// which may produce more. A peer whose send queue is full does not read what it is sent
    /// and is disconnected, so that it cannot hold up every other peer of the hub.
    fn write(&mut self, sender: &RouterSendHalf) {
        let mut gone: Vec<Bytes> = Vec::new();
        // Peers a send to failed, with the error; each becomes `gone` before the next round.
        let mut failed: Vec<(Bytes, TrySendError)> = Vec::new();
        let send = |failed: &mut Vec<_>, peer: Bytes, message: ZmqMessage| {
            if let Err(error) = sender.try_send(message) {
                failed.push((peer, error));
            }
        };
        for reply in std::mem::take(&mut self.replies) {
            let peer = reply.get(0).cloned().unwrap_or_default();
            send(&mut failed, peer, reply);
        }
        let mut batches = Batches::default();
        loop {
            for (peer, error) in failed.drain(..) {
                batches.discard(&peer);
                self.unwritable(peer, error, &mut gone);
            }
            for peer in gone.drain(..) {
                if self.outbox.leave(&peer, &mut self.out) {
                    tracing::debug!(backend = BACKEND, peer = ?peer, "consumer gone while writing");
                }
            }
            for delivery in std::mem::take(&mut self.out) {
                let member = &delivery.member;
                if failed.iter().any(|(peer, _)| peer == member) || self.cut.contains(member) {
                    continue;
                }
                batches.add(delivery, &mut |peer, message| {
                    send(&mut failed, peer, message)
                });
            }
            if failed.is_empty() {
                batches.flush(&mut |peer, message| send(&mut failed, peer, message));
                if failed.is_empty() {
                    break;
                }
            }
        }
        for peer in self.evict.drain(..) {
            if let Ok(identity) = PeerIdentity::try_from(peer) {
                sender.disconnect(&identity);
            }
        }
        for peer in self.cut.drain(..) {
            if let Ok(identity) = PeerIdentity::try_from(peer) {
                sender.disconnect_now(&identity);
            }
        }
    }

    /// Records a peer that could not be written to.
    fn unwritable(&mut self, peer: Bytes, error: TrySendError, gone: &mut Vec<Bytes>) {
        if error == TrySendError::Full && !self.cut.contains(&peer) {
            tracing::warn!(
                backend = BACKEND,
                peer = ?peer,
                "peer disconnected: it does not read what it is sent (its send queue is full); \
                 its unacked messages go back to its group"
            );
            self.cut.push(peer.clone());
        }
        if !gone.contains(&peer) {
            gone.push(peer);
        }
    }
}

/// A retryable error for messages that were not queued.
fn full(problem: &str, not_queued: usize) -> Error {
    Error::new(
        BACKEND,
        ErrorKind::Full,
        format!("full: {problem}; {not_queued} of the batch were not queued"),
    )
}

/// The notice to a peer that settles or was expired while not a member.
fn not_a_member() -> FromHub {
    FromHub::Error {
        seq: Bytes::new(),
        reason: "gone: this connection is not a member (silent past the heartbeat timeout, or \
                 never joined); its deliveries went back to the group, join again"
            .to_owned(),
    }
}
