//! Confirmed publishing with a window of publishes in flight.
//!
//! One task owns the channel (in confirm mode) and writes the publishes handed to it, in the
//! order they arrive; a lapin channel must not be published to from several threads at once,
//! or confirm numbers and messages could pair up wrongly. Callers take a slot of the window per
//! message, hand whole batches to the task, and await the confirms themselves, so that up to
//! `confirm_window` confirms are outstanding at once. A publish whose channel or connection
//! drops before its confirm is published again on a new channel (reconnecting as needed)
//! until `send_timeout` runs out: no send returns `Ok` without a confirm.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use courier_core::{Error, ErrorKind, Result};
use futures::{StreamExt, stream::FuturesUnordered};
use lapin::{
    BasicProperties, Channel, Confirmation, PublisherConfirm,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::ShortString,
};
use tokio::{
    sync::{RwLock, Semaphore, mpsc, oneshot},
    time::Instant,
};
use tracing::{debug, warn};

use crate::{
    BACKEND,
    connector::Connector,
    error::{from_lapin, is_transient, kind_of},
    topology::declare_exchange,
};

/// One message, encoded.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// The routing key (the queue, when publishing through the default exchange).
    pub(crate) routing_key: ShortString,
    /// Its properties and headers.
    pub(crate) properties: BasicProperties,
    /// Its body.
    pub(crate) body: Bytes,
}

/// Where messages go.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The exchange; empty for the default exchange (routing straight to a queue).
    pub(crate) exchange: ShortString,
    /// Declare the exchange (once per channel) before publishing to it.
    pub(crate) declare: bool,
    /// Publish with `mandatory`: a message no queue takes is returned, and its send fails.
    pub(crate) mandatory: bool,
}

/// Settings of a publisher.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PublisherSettings {
    /// Confirms awaited at once.
    pub(crate) window: usize,
    /// How long a publish keeps retrying.
    pub(crate) send_timeout: Duration,
    /// Pause before publishing again what failed.
    pub(crate) retry_pause: Duration,
}

/// A batch handed to the writer task: publish `items[i]` for each `i` of `indices`.
struct Job {
    target: Target,
    items: Arc<[Outgoing]>,
    indices: Vec<usize>,
    reply: oneshot::Sender<Result<Vec<lapin::Result<PublisherConfirm>>>>,
}

/// A confirmed publisher: one channel, one writer task, one window.
#[derive(Debug)]
pub(crate) struct Publisher {
    jobs: mpsc::Sender<Job>,
    window: Semaphore,
    /// Held shared by every publish under way, exclusively by `flush`: a flush waits for
    /// the publishes begun before it, retries included.
    under_way: RwLock<()>,
    settings: PublisherSettings,
    closed: AtomicBool,
}

/// A slot of the window, given back when dropped.
struct Slot<'a>(&'a Semaphore);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.add_permits(1);
    }
}

impl Publisher {
    /// A publisher on channels of `connector`; its writer task ends once the publisher is
    /// dropped.
    pub(crate) fn new(connector: Arc<Connector>, settings: PublisherSettings) -> Self {
        let (jobs, rx) = mpsc::channel(64);
        tokio::spawn(write_loop(rx, connector));
        let size = settings
            .window
            .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        Self {
            jobs,
            window: Semaphore::new(size),
            under_way: RwLock::new(()),
            settings,
            closed: AtomicBool::new(false),
        }
    }

    /// Publishes every item to `target` and waits for all their confirms.
    ///
    /// # Errors
    /// [`ErrorKind::Closed`] after [`close`](Self::close); [`ErrorKind::Send`] when the broker
    /// nacks or returns a message or refuses it for good; [`ErrorKind::Timeout`] when some are
    /// still unconfirmed after `send_timeout`. Messages before and after a failed one may have
    /// been published.
    pub(crate) async fn publish(&self, target: &Target, items: Vec<Outgoing>) -> Result<()> {
        let _under_way = self.under_way.read().await;
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed(BACKEND, "the producer"));
        }
        let items: Arc<[Outgoing]> = items.into();
        let deadline = Instant::now() + self.settings.send_timeout;
        let mut todo: Vec<usize> = (0..items.len()).collect();
        let mut last_error = String::new();
        while !todo.is_empty() {
            let retry =
                match tokio::time::timeout_at(deadline, self.round(target, &items, &todo)).await {
                    Ok(outcome) => outcome?,
                    Err(_) => return Err(self.timed_out(&items, &todo, &last_error)),
                };
            if let Some((_, error)) = retry.first() {
                last_error.clone_from(error);
                debug!(count = retry.len(), error = %last_error, "publishing again after a failure");
                let pause = self.settings.retry_pause;
                if tokio::time::timeout_at(deadline, tokio::time::sleep(pause))
                    .await
                    .is_err()
                {
                    let left: Vec<usize> = retry.iter().map(|(i, _)| *i).collect();
                    return Err(self.timed_out(&items, &left, &last_error));
                }
            }
            todo = retry.into_iter().map(|(i, _)| i).collect();
        }
        Ok(())
    }

    /// Waits until every publish begun before it is confirmed (or has failed).
    pub(crate) async fn flush(&self) {
        drop(self.under_way.write().await);
    }

    /// Flushes, then refuses further publishes.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.flush().await;
    }

    /// One pass over `todo`: publishes each with a slot of the window, collects the confirms.
    /// Returns the publishes worth trying again, with why they failed.
    async fn round(
        &self,
        target: &Target,
        items: &Arc<[Outgoing]>,
        todo: &[usize],
    ) -> Result<Vec<(usize, String)>> {
        let mut failed = Vec::new();
        let mut inflight = FuturesUnordered::new();
        let mut next = 0;
        while next < todo.len() {
            let first = loop {
                tokio::select! {
                    biased;
                    Some((i, outcome)) = inflight.next(), if !inflight.is_empty() => {
                        settle(items, i, outcome, &mut failed)?;
                    }
                    permit = self.window.acquire() => {
                        let Ok(permit) = permit else {
                            return Err(Error::closed(BACKEND, "the producer"));
                        };
                        permit.forget();
                        break Slot(&self.window);
                    }
                }
            };
            let mut slots = vec![first];
            let wanted = (todo.len() - next - 1).min(self.window.available_permits());
            if let Ok(count @ 1..) = u32::try_from(wanted) {
                if let Ok(more) = self.window.try_acquire_many(count) {
                    more.forget();
                    slots.extend((0..wanted).map(|_| Slot(&self.window)));
                }
            }
            let chunk = todo[next..next + slots.len()].to_vec();
            next += slots.len();
            let (reply, answer) = oneshot::channel();
            let job = Job {
                target: target.clone(),
                items: items.clone(),
                indices: chunk.clone(),
                reply,
            };
            if self.jobs.send(job).await.is_err() {
                return Err(Error::closed(BACKEND, "the producer"));
            }
            let published = answer
                .await
                .map_err(|_| Error::new(BACKEND, ErrorKind::Send, "the publisher task ended"))?;
            match published {
                Err(e) if e.is_retryable() => {
                    failed.extend(chunk.iter().map(|&i| (i, e.to_string())));
                }
                Err(e) => return Err(e),
                Ok(confirms) => {
                    for ((i, confirm), slot) in chunk.into_iter().zip(confirms).zip(slots) {
                        match confirm {
                            Ok(confirm) => inflight.push(async move {
                                let outcome = confirm.await;
                                drop(slot);
                                (i, outcome)
                            }),
                            Err(e) => settle(items, i, Err(e), &mut failed)?,
                        }
                    }
                }
            }
        }
        while let Some((i, outcome)) = inflight.next().await {
            settle(items, i, outcome, &mut failed)?;
        }
        Ok(failed)
    }

    fn timed_out(&self, items: &[Outgoing], left: &[usize], last_error: &str) -> Error {
        let first = left
            .first()
            .map(|&i| message_id(&items[i]))
            .unwrap_or_default();
        Error::new(
            BACKEND,
            ErrorKind::Timeout,
            format!(
                "{} message(s), first {first}, not confirmed within {} ms (send_timeout_ms); \
                 last error: {}",
                left.len(),
                self.settings.send_timeout.as_millis(),
                if last_error.is_empty() {
                    "none"
                } else {
                    last_error
                }
            ),
        )
    }
}

/// Records the outcome of publish `i`: `Ok` when confirmed, a retry when its channel or
/// connection was lost, an error when the broker refused it.
fn settle(
    items: &[Outgoing],
    i: usize,
    outcome: lapin::Result<Confirmation>,
    failed: &mut Vec<(usize, String)>,
) -> Result<()> {
    let refused = |why: String| {
        Err(Error::new(
            BACKEND,
            ErrorKind::Send,
            format!("message {} {why}", message_id(&items[i])),
        ))
    };
    match outcome {
        Ok(Confirmation::Ack(None) | Confirmation::NotRequested) => Ok(()),
        Ok(Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned))) => {
            refused(format!(
                "was returned by the broker ({} {}): no queue takes it",
                returned.reply_code, returned.reply_text
            ))
        }
        Ok(Confirmation::Nack(None)) => refused("was refused by the broker (nack)".into()),
        Err(e) if is_transient(&e) => {
            failed.push((i, e.to_string()));
            Ok(())
        }
        Err(e) => Err(from_lapin(
            ErrorKind::Send,
            &format!(
                "message {} was refused by the broker",
                message_id(&items[i])
            ),
            e,
        )),
    }
}

fn message_id(item: &Outgoing) -> String {
    item.properties
        .message_id()
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The channel of a writer task, and the exchanges declared on it.
struct Session {
    channel: Channel,
    declared: HashSet<ShortString>,
}

/// The writer task: publishes jobs in arrival order on one channel, reopening it when lost.
async fn write_loop(mut jobs: mpsc::Receiver<Job>, connector: Arc<Connector>) {
    let mut session: Option<Session> = None;
    while let Some(job) = jobs.recv().await {
        if job.reply.is_closed() {
            continue;
        }
        let outcome = publish_job(&mut session, &connector, &job).await;
        if outcome.is_err() {
            session = None;
        }
        let _ = job.reply.send(outcome);
    }
    if let Some(session) = session {
        if session.channel.status().connected() {
            session
                .channel
                .close(200, "producer closed".into())
                .await
                .ok();
        }
    }
}

async fn publish_job(
    session: &mut Option<Session>,
    connector: &Connector,
    job: &Job,
) -> Result<Vec<lapin::Result<PublisherConfirm>>> {
    if session
        .as_ref()
        .is_none_or(|s| !s.channel.status().connected())
    {
        *session = None;
        let channel = connector.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| {
                from_lapin(
                    ErrorKind::Connection,
                    "enabling publisher confirms failed",
                    e,
                )
            })?;
        *session = Some(Session {
            channel,
            declared: HashSet::new(),
        });
    }
    let Some(session) = session.as_mut() else {
        return Err(Error::new(BACKEND, ErrorKind::Connection, "no channel"));
    };
    let target = &job.target;
    if target.declare && !session.declared.contains(&target.exchange) {
        if let Err(e) = declare_exchange(&session.channel, target.exchange.as_str()).await {
            // Refused for good when an exchange of that name exists with another type.
            let kind = kind_of(&e, ErrorKind::Connection);
            warn!(exchange = %target.exchange, error = %e, "declaring the exchange failed");
            return Err(from_lapin(
                kind,
                &format!("declaring exchange {} failed", target.exchange),
                e,
            ));
        }
        session.declared.insert(target.exchange.clone());
    }
    let options = BasicPublishOptions {
        mandatory: target.mandatory,
        immediate: false,
    };
    // Every publish of the job at once: lapin queues a publish's frames and takes its
    // confirm number on the first poll, and `join_all` polls in order, so the messages go out
    // in job order; awaiting them one by one would wait for a socket write per message.
    let publishes = job.indices.iter().map(|&i| {
        let item = &job.items[i];
        session.channel.basic_publish(
            target.exchange.clone(),
            item.routing_key.clone(),
            options,
            &item.body,
            item.properties.clone(),
        )
    });
    Ok(futures::future::join_all(publishes).await)
}
