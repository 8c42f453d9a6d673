//! A producer's connection to an endpoint that another process binds: `PUBLISH` and
//! `DECLARE` requests over one DEALER, many in flight, each answered `OK` once the binding
//! side has queued it in its outboxes.
//!
//! The link connects on its first request and stays connected. When the connection drops
//! or falls silent, requests not yet answered fail with a retryable error (the binding side
//! may or may not have queued them: a retry can duplicate, never lose).

use std::collections::BTreeMap;
use std::time::Duration;

use courier_core::{Error, ErrorKind, Result};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::BACKEND;
use crate::delay;
use crate::session::{Access, Dealer, connect};
use crate::wire::{FromHub, ToHub, WireMessage, decimal};

/// What a link is asked to do.
enum Body {
    Publish {
        topic: String,
        messages: Vec<WireMessage>,
        delay_ms: u64,
    },
    Declare {
        topic: String,
        group: String,
    },
    Barrier,
}

struct Request {
    body: Body,
    reply: oneshot::Sender<Result<()>>,
}

/// Timing of a link.
#[derive(Clone, Debug)]
pub(crate) struct LinkSettings {
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) access: Access,
}

/// A handle to the link task of one remote endpoint.
#[derive(Debug)]
pub(crate) struct Link {
    /// The endpoint it connects to.
    pub(crate) endpoint: String,
    requests: mpsc::Sender<Request>,
}

impl Link {
    /// Starts the link task; it connects on the first request.
    pub(crate) fn spawn(endpoint: &str, settings: LinkSettings, cancel: CancellationToken) -> Self {
        let (requests, rx) = mpsc::channel(1024);
        tokio::spawn(
            Task {
                endpoint: endpoint.to_owned(),
                settings,
                requests: rx,
                cancel,
            }
            .run(),
        );
        Self {
            endpoint: endpoint.to_owned(),
            requests,
        }
    }

    /// Hands `messages` to the binding side, returning once it has queued them; it hands
    /// them out once `delay` has passed (zero: at once).
    ///
    /// # Errors
    /// [`ErrorKind::Connection`] when the binding side cannot be reached or the connection
    /// drops before it answers; [`ErrorKind::Full`] when one of its outboxes is full and it
    /// is set to fail; [`ErrorKind::Config`] when `delay` is longer than its `max_delay_ms`;
    /// [`ErrorKind::Send`] when it refuses the messages otherwise.
    ///
    /// # Cancel safety
    /// Dropped once the request is written, the messages may or may not be queued.
    pub(crate) async fn publish(
        &self,
        topic: &str,
        messages: Vec<WireMessage>,
        delay: Duration,
    ) -> Result<()> {
        self.request(Body::Publish {
            topic: topic.to_owned(),
            messages,
            delay_ms: delay::to_ms(delay),
        })
        .await
    }

    /// Asks the binding side to create the outbox of `group` on `topic`.
    ///
    /// # Errors
    /// As for [`publish`](Self::publish).
    pub(crate) async fn declare(&self, topic: &str, group: &str) -> Result<()> {
        self.request(Body::Declare {
            topic: topic.to_owned(),
            group: group.to_owned(),
        })
        .await
    }

    /// Waits until every request made so far is answered.
    ///
    /// # Errors
    /// When the connection dropped with requests unanswered.
    pub(crate) async fn barrier(&self) -> Result<()> {
        self.request(Body::Barrier).await
    }

    async fn request(&self, body: Body) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request { body, reply })
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

fn closed() -> Error {
    Error::closed(BACKEND, "the zeromq broker")
}

struct Task {
    endpoint: String,
    settings: LinkSettings,
    requests: mpsc::Receiver<Request>,
    cancel: CancellationToken,
}

/// Requests sent and not yet answered, by sequence number, and barriers waiting for them.
#[derive(Default)]
struct InFlight {
    next_seq: u64,
    waiting: BTreeMap<u64, oneshot::Sender<Result<()>>>,
    barriers: Vec<(u64, oneshot::Sender<Result<()>>)>,
}

impl InFlight {
    fn answer(&mut self, seq: u64, result: Result<()>) {
        if let Some(reply) = self.waiting.remove(&seq) {
            let _ = reply.send(result);
        }
        let oldest = self.waiting.keys().next().copied().unwrap_or(u64::MAX);
        let (done, waiting) = std::mem::take(&mut self.barriers)
            .into_iter()
            .partition(|(upto, _)| *upto < oldest);
        self.barriers = waiting;
        for (_, reply) in done {
            let _ = reply.send(Ok(()));
        }
    }

    fn fail_all(&mut self, why: &str) {
        for (_, reply) in std::mem::take(&mut self.waiting) {
            let _ = reply.send(Err(Error::new(BACKEND, ErrorKind::Connection, why)));
        }
        for (_, reply) in self.barriers.drain(..) {
            let _ = reply.send(Err(Error::new(BACKEND, ErrorKind::Connection, why)));
        }
    }
}

impl Task {
    async fn run(mut self) {
        loop {
            let request = tokio::select! {
                () = self.cancel.cancelled() => return,
                request = self.requests.recv() => match request {
                    Some(request) => request,
                    None => return,
                },
            };
            if matches!(request.body, Body::Barrier) {
                // Nothing is in flight while disconnected.
                let _ = request.reply.send(Ok(()));
                continue;
            }
            match connect(&self.endpoint, &self.settings.access, &self.cancel, None).await {
                Ok(mut dealer) => {
                    self.serve(&mut dealer, request).await;
                    if self.cancel.is_cancelled() {
                        return;
                    }
                }
                Err(error) => {
                    let why = error.to_string();
                    let _ = request.reply.send(Err(error));
                    // Requests that waited for this attempt fail with it.
                    while let Ok(queued) = self.requests.try_recv() {
                        let _ = queued.reply.send(Err(Error::new(
                            BACKEND,
                            ErrorKind::Connection,
                            why.clone(),
                        )));
                    }
                    if self.cancel.is_cancelled() {
                        return;
                    }
                }
            }
        }
    }

    /// Serves requests until the connection is lost or closed; what is in flight then fails.
    async fn serve(&mut self, dealer: &mut Dealer, first: Request) {
        let mut in_flight = InFlight::default();
        if let Err(error) = self.submit(dealer, &mut in_flight, first).await {
            in_flight.fail_all(&error);
            return;
        }
        let mut last_heard = Instant::now();
        let interval = self.settings.heartbeat_interval;
        let mut tick = tokio::time::interval_at(Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let why = loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break "the zeromq broker was closed".to_owned(),
                frames = dealer.incoming.recv() => {
                    let Some(frames) = frames else {
                        break "the socket stopped receiving".to_owned();
                    };
                    last_heard = Instant::now();
                    match FromHub::parse(frames) {
                        Ok(FromHub::Ok { seq }) => {
                            if let Some(seq) = parse_seq(&seq) {
                                in_flight.answer(seq, Ok(()));
                            }
                        }
                        Ok(FromHub::Error { seq, reason }) => match parse_seq(&seq) {
                            Some(seq) => in_flight.answer(seq, Err(refused(reason))),
                            None => tracing::warn!(backend = BACKEND, reason, "the binding side reported an error"),
                        },
                        Ok(_) => {}
                        Err(malformed) => {
                            tracing::debug!(backend = BACKEND, reason = malformed.reason, "malformed frames ignored");
                        }
                    }
                }
                request = self.requests.recv() => {
                    let Some(request) = request else { break "the broker is gone".to_owned() };
                    if let Err(error) = self.submit(dealer, &mut in_flight, request).await {
                        break error;
                    }
                }
                () = dealer.events.disconnected() => break "the binding side disconnected".to_owned(),
                _ = tick.tick() => {
                    if last_heard.elapsed() > self.settings.heartbeat_timeout {
                        break format!("nothing heard for {:?}", self.settings.heartbeat_timeout);
                    }
                    if let Err(error) = dealer.send(ToHub::Ping).await {
                        break error.to_string();
                    }
                }
            }
        };
        if !in_flight.waiting.is_empty() {
            tracing::warn!(
                backend = BACKEND,
                endpoint = %self.endpoint,
                unanswered = in_flight.waiting.len(),
                reason = %why,
                "producer connection lost; unanswered sends fail and may be retried"
            );
        }
        in_flight.fail_all(&format!(
            "the connection to {} ended before the binding side confirmed ({why}); the \
             message may or may not be queued",
            self.endpoint
        ));
    }

    async fn submit(
        &mut self,
        dealer: &mut Dealer,
        in_flight: &mut InFlight,
        request: Request,
    ) -> std::result::Result<(), String> {
        let seq = in_flight.next_seq;
        let frames = match request.body {
            Body::Barrier => {
                if in_flight.waiting.is_empty() {
                    let _ = request.reply.send(Ok(()));
                } else {
                    in_flight
                        .barriers
                        .push((seq.saturating_sub(1), request.reply));
                }
                return Ok(());
            }
            Body::Publish {
                topic,
                messages,
                delay_ms,
            } => ToHub::Publish {
                seq: decimal(seq),
                topic,
                delay_ms,
                messages,
            },
            Body::Declare { topic, group } => ToHub::Declare {
                seq: decimal(seq),
                topic,
                group,
            },
        };
        in_flight.next_seq += 1;
        in_flight.waiting.insert(seq, request.reply);
        dealer.send(frames).await.map_err(|e| e.to_string())
    }
}

fn parse_seq(seq: &[u8]) -> Option<u64> {
    std::str::from_utf8(seq).ok()?.parse().ok()
}

/// The error for a request the binding side answered with `ERROR`.
fn refused(reason: String) -> Error {
    let kind = if reason.starts_with("full:") {
        ErrorKind::Full
    } else if reason.starts_with(delay::REASON) {
        ErrorKind::Config
    } else {
        ErrorKind::Send
    };
    Error::new(BACKEND, kind, format!("the binding side refused: {reason}"))
}
