//! The context of one case ([`Ctx`]): its broker, fresh names, deadline, notes and the
//! producers the runner closes after it.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use courier_core::{Broker, Capabilities, Consumer, Message, Producer, Subscription};
use tokio::time::Instant;

use super::{
    checks::SEQ,
    failure::{Context, TestResult},
};
use crate::{SuiteOptions, support::unique_name};

/// The context of one test: the broker, its capabilities, fresh names and the deadline.
pub(crate) struct Ctx {
    pub(crate) broker: Arc<dyn Broker>,
    pub(crate) caps: Capabilities,
    /// Waits inside the test end here, a little before the test's own timeout, so a slow
    /// broker fails with a precise message rather than a bare timeout.
    pub(crate) deadline: Instant,
    pub(crate) settle: Duration,
    prefix: String,
    notes: Arc<Mutex<Vec<String>>>,
    producers: Arc<Mutex<Vec<Arc<dyn Producer>>>>,
}

/// What the runner keeps of a test's context to report and clean up after it.
pub(crate) struct Leftovers {
    pub(crate) notes: Arc<Mutex<Vec<String>>>,
    pub(crate) producers: Arc<Mutex<Vec<Arc<dyn Producer>>>>,
}

impl Ctx {
    /// A context for test `name` with fresh topic and group names.
    pub(crate) fn new(
        broker: Arc<dyn Broker>,
        name: &str,
        options: SuiteOptions,
    ) -> (Self, Leftovers) {
        let notes = Arc::new(Mutex::new(Vec::new()));
        let producers = Arc::new(Mutex::new(Vec::new()));
        let ctx = Self {
            caps: broker.capabilities(),
            broker,
            deadline: Instant::now() + options.timeout.mul_f64(0.9),
            settle: options.settle,
            prefix: unique_name(&format!("cs.{name}")),
            notes: notes.clone(),
            producers: producers.clone(),
        };
        (ctx, Leftovers { notes, producers })
    }

    /// A topic name unique to this test run.
    pub(crate) fn topic(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    /// A group name unique to this test run.
    pub(crate) fn group(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    /// A message id unique to this test run.
    pub(crate) fn id(&self, tag: &str, i: usize) -> String {
        format!("{}.{tag}-{i}", self.prefix)
    }

    /// Adds a remark printed with the test's result (what was left out, and why).
    pub(crate) fn note(&self, note: impl Into<String>) {
        lock(&self.notes).push(note.into());
    }

    /// A producer, closed by the runner when the test ends.
    pub(crate) async fn producer(&self) -> TestResult<Arc<dyn Producer>> {
        let producer = self.broker.producer().await.context("opening a producer")?;
        lock(&self.producers).push(producer.clone());
        Ok(producer)
    }

    /// A consumer of `topic` in `group` with `prefetch`.
    pub(crate) async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        prefetch: usize,
    ) -> TestResult<Box<dyn Consumer>> {
        self.broker
            .subscribe(Subscription::new(topic, group).with_prefetch(prefetch))
            .await
            .context(format!("subscribing to {topic} as {group}"))
    }

    /// `n` messages tagged `tag`: ids `<prefix>.<tag>-<i>`, header `suite-seq = i`, a small
    /// payload naming them.
    pub(crate) fn numbered(&self, tag: &str, n: usize) -> Vec<Message> {
        (0..n)
            .map(|i| {
                Message::new(format!("{tag} message {i}"))
                    .with_id(self.id(tag, i))
                    .with_header(SEQ, i.to_string())
            })
            .collect()
    }
}

/// Locks `m`, ignoring poisoning (a panicking test is reported on its own).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
