//! [`Members`]: consumers that receive and ack in background tasks, logging what arrived, with
//! waits for what a case expects.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use courier_core::{Consumer, Message};
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use super::{
    ctx::lock,
    failure::{Failure, TestResult, fail},
    steps::{ack_all, close},
};

/// One delivery as a member saw it.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    /// Which consumer of the [`Members`] got it.
    pub(crate) member: usize,
    pub(crate) message: Message,
    pub(crate) topic: Arc<str>,
    pub(crate) attempt: u32,
    pub(crate) redelivered: bool,
}

/// How the [`Members`] treat what they receive.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemberOptions {
    /// `recv_batch` size.
    pub(crate) batch: usize,
    /// Simulated work between receiving a batch and acking it.
    pub(crate) work: Duration,
}

impl Default for MemberOptions {
    fn default() -> Self {
        Self {
            batch: 64,
            work: Duration::ZERO,
        }
    }
}

/// What the members received, in arrival order, and the distinct ids among it.
#[derive(Default)]
struct Entries {
    all: Vec<Received>,
    ids: HashSet<String>,
}

struct Log {
    entries: Mutex<Entries>,
    /// The first member failure, so waiters report it at once.
    failure: Mutex<Option<String>>,
    version: watch::Sender<u64>,
}

/// Consumers that receive and ack in background tasks, logging every delivery in the order
/// they arrived (logged before the ack, so per-key order across consumers can be checked).
pub(crate) struct Members {
    log: Arc<Log>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<TestResult<Box<dyn Consumer>>>>,
}

impl Members {
    /// Starts one task per consumer.
    pub(crate) fn spawn(consumers: Vec<Box<dyn Consumer>>, options: MemberOptions) -> Self {
        let (version, _) = watch::channel(0);
        let log = Arc::new(Log {
            entries: Mutex::new(Entries::default()),
            failure: Mutex::new(None),
            version,
        });
        let (stop, _) = watch::channel(false);
        let tasks = consumers
            .into_iter()
            .enumerate()
            .map(|(member, consumer)| {
                tokio::spawn(member_loop(
                    member,
                    consumer,
                    log.clone(),
                    stop.subscribe(),
                    options,
                ))
            })
            .collect();
        Self { log, stop, tasks }
    }

    /// One consumer with default options.
    pub(crate) fn one(consumer: Box<dyn Consumer>) -> Self {
        Self::spawn(vec![consumer], MemberOptions::default())
    }

    /// Waits until `done` holds for what was received, or fails at `deadline` with `what`
    /// and a summary of what did arrive.
    pub(crate) async fn wait_until(
        &self,
        deadline: Instant,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> TestResult {
        self.wait_entries(deadline, what, |e| done(&e.all)).await
    }

    async fn wait_entries(
        &self,
        deadline: Instant,
        what: &str,
        done: impl Fn(&Entries) -> bool,
    ) -> TestResult {
        let mut version = self.log.version.subscribe();
        loop {
            if done(&lock(&self.log.entries)) {
                return Ok(());
            }
            if let Some(failure) = lock(&self.log.failure).clone() {
                fail!("{what}: {failure}");
            }
            match tokio::time::timeout_at(deadline, version.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => fail!("{what}: the receiving tasks stopped"),
                Err(_) => {
                    let got = lock(&self.log.entries);
                    fail!(
                        "{what}: not done before the deadline ({} deliveries, {} distinct)",
                        got.all.len(),
                        got.ids.len()
                    );
                }
            }
        }
    }

    /// Waits until `n` distinct message ids arrived.
    pub(crate) async fn wait_distinct(
        &self,
        n: usize,
        deadline: Instant,
        what: &str,
    ) -> TestResult {
        self.wait_entries(deadline, what, |e| e.ids.len() >= n)
            .await
            .map_err(|Failure(m)| Failure(format!("{m}; expected {n} distinct")))
    }

    /// Keeps receiving for `linger` (to catch duplicates and strays), stops the members,
    /// closes their consumers and returns everything received.
    pub(crate) async fn finish(self, linger: Duration) -> TestResult<Vec<Received>> {
        tokio::time::sleep(linger).await;
        let _ = self.stop.send(true);
        let mut first_error = None;
        for (member, task) in self.tasks.into_iter().enumerate() {
            match task.await {
                Ok(Ok(consumer)) => {
                    if let Err(e) = close(consumer, &format!("consumer {member}")).await {
                        first_error.get_or_insert(e);
                    }
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(Failure(format!("consumer {member} task: {e}")));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(std::mem::take(&mut lock(&self.log.entries).all)),
        }
    }
}

async fn member_loop(
    member: usize,
    consumer: Box<dyn Consumer>,
    log: Arc<Log>,
    stop: watch::Receiver<bool>,
    options: MemberOptions,
) -> TestResult<Box<dyn Consumer>> {
    let result = member_receive(member, consumer, &log, stop, options).await;
    if let Err(Failure(message)) = &result {
        lock(&log.failure).get_or_insert_with(|| message.clone());
        log.version.send_modify(|v| *v += 1);
    }
    result
}

async fn member_receive(
    member: usize,
    mut consumer: Box<dyn Consumer>,
    log: &Log,
    mut stop: watch::Receiver<bool>,
    options: MemberOptions,
) -> TestResult<Box<dyn Consumer>> {
    let mut retries = 0;
    loop {
        let received = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return Ok(consumer),
            received = consumer.recv_batch(options.batch) => received,
        };
        let mut batch = match received {
            Ok(batch) if batch.is_empty() => {
                fail!("consumer {member}: closed unexpectedly (recv_batch returned nothing)")
            }
            Ok(batch) => batch,
            Err(e) if e.is_retryable() && retries < 5 => {
                retries += 1;
                continue;
            }
            Err(e) => fail!("consumer {member}: recv_batch failed: {e}"),
        };
        retries = 0;
        {
            let mut entries = lock(&log.entries);
            for d in &batch {
                if !entries.ids.contains(d.message.id.text().as_str()) {
                    entries.ids.insert(d.message.id.to_string());
                }
            }
            entries.all.extend(batch.iter().map(|d| Received {
                member,
                message: d.message.clone(),
                topic: d.topic().clone(),
                attempt: d.attempt,
                redelivered: d.redelivered,
            }));
        }
        log.version.send_modify(|v| *v += 1);
        if !options.work.is_zero() {
            tokio::time::sleep(options.work).await;
        }
        ack_all(&mut batch, &format!("consumer {member}")).await?;
    }
}
