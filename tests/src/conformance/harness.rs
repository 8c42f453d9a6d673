//! What every conformance test uses: its context ([`Ctx`]), failures, and helpers to send and
//! to wait for deliveries with deadlines.

use std::{
    collections::{BTreeMap, HashSet},
    fmt::Display,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use courier_core::{
    Broker, Capabilities, Consumer, Delivery, Headers, Message, Producer, Subscription,
};
use futures::future::join_all;
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use crate::support::unique_name;

/// Header the suite numbers its messages with (per key where keys matter).
pub(crate) const SEQ: &str = "suite-seq";

/// Why a test failed, in words.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

/// What a test returns.
pub(crate) type TestResult<T = ()> = Result<T, Failure>;

/// Fails the test with a formatted message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::conformance::harness::Failure(format!($($arg)+)));
        }
    };
}
pub(crate) use ensure;

/// Fails the test with a formatted message.
macro_rules! fail {
    ($($arg:tt)+) => {
        return Err($crate::conformance::harness::Failure(format!($($arg)+)))
    };
}
pub(crate) use fail;

/// Turns a courier error into a failure that says what was being done.
pub(crate) trait Context<T> {
    /// The failure `what: error`.
    fn context(self, what: impl Display) -> TestResult<T>;
}

impl<T> Context<T> for courier_core::Result<T> {
    fn context(self, what: impl Display) -> TestResult<T> {
        self.map_err(|e| Failure(format!("{what}: {e}")))
    }
}

/// Timing settings of a conformance run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuiteOptions {
    /// The longest one test may take; a test still running then fails (a hung broker never
    /// hangs the run). Default 60 s; `COURIER_SUITE_TIMEOUT_SECS` overrides it.
    pub timeout: Duration,
    /// How long a test keeps listening after what it expects arrived, to catch duplicates and
    /// strays. Default 200 ms; `COURIER_SUITE_SETTLE_MS` overrides it.
    pub settle: Duration,
}

impl Default for SuiteOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            settle: Duration::from_millis(200),
        }
    }
}

impl SuiteOptions {
    /// The defaults, overridden by `COURIER_SUITE_TIMEOUT_SECS` and `COURIER_SUITE_SETTLE_MS`;
    /// a malformed value is ignored with a warning.
    pub fn from_env() -> Self {
        let defaults = Self::default();
        Self {
            timeout: Duration::from_secs(env_number(
                "COURIER_SUITE_TIMEOUT_SECS",
                defaults.timeout.as_secs(),
            )),
            settle: Duration::from_millis(env_number(
                "COURIER_SUITE_SETTLE_MS",
                defaults.settle.as_millis() as u64,
            )),
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Err(_) => default,
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!(
                    "conformance: ignoring {name}={v:?} (not a positive integer); using {default}"
                );
                default
            }
        },
    }
}

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

/// The headers of `message` that were not added by courier itself (`courier-*`).
pub(crate) fn user_headers(headers: &Headers) -> Headers {
    headers
        .iter()
        .filter(|(k, _)| !k.starts_with("courier-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `message`'s `suite-seq` header as a number.
pub(crate) fn seq_of(message: &Message) -> TestResult<u64> {
    message
        .header(SEQ)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            Failure(format!(
                "message {} arrived without its {SEQ} header (headers: {:?})",
                message.id, message.headers
            ))
        })
}

/// Sends `messages` to `topic` in one `send_batch`.
pub(crate) async fn send_batch(
    producer: &Arc<dyn Producer>,
    topic: &str,
    messages: Vec<Message>,
) -> TestResult {
    let n = messages.len();
    producer
        .send_batch(topic, messages)
        .await
        .context(format!("send_batch of {n} messages to {topic}"))
}

/// Sends `messages` in a background task (so a broker that applies backpressure while nothing
/// consumes yet cannot stall the test before its consumers run).
pub(crate) fn spawn_send(
    producer: Arc<dyn Producer>,
    topic: String,
    messages: Vec<Message>,
) -> JoinHandle<TestResult> {
    tokio::spawn(async move { send_batch(&producer, &topic, messages).await })
}

/// Awaits a spawned step of the test, turning a panic into a failure.
pub(crate) async fn join<T>(handle: JoinHandle<TestResult<T>>, what: &str) -> TestResult<T> {
    match handle.await {
        Ok(result) => result,
        Err(e) => fail!("{what}: task failed: {e}"),
    }
}

/// The next delivery of `consumer`, failing at the deadline or when it is closed.
pub(crate) async fn recv_one(
    consumer: &mut dyn Consumer,
    deadline: Instant,
    what: &str,
) -> TestResult<Delivery> {
    let mut retries = 0;
    loop {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Err(_) => fail!("{what}: nothing arrived before the deadline"),
            Ok(Ok(Some(d))) => return Ok(d),
            Ok(Ok(None)) => fail!("{what}: the consumer closed unexpectedly"),
            Ok(Err(e)) if e.is_retryable() && retries < 5 => retries += 1,
            Ok(Err(e)) => fail!("{what}: recv failed: {e}"),
        }
    }
}

/// Fails if `consumer` delivers anything within `window`.
pub(crate) async fn expect_silence(
    consumer: &mut dyn Consumer,
    window: Duration,
    what: &str,
) -> TestResult {
    match tokio::time::timeout(window, consumer.recv()).await {
        Err(_) => Ok(()),
        Ok(Ok(Some(d))) => fail!(
            "{what}: unexpected delivery of {} (attempt {}, redelivered {})",
            d.message.id,
            d.attempt,
            d.redelivered
        ),
        Ok(Ok(None)) => fail!("{what}: the consumer closed unexpectedly"),
        Ok(Err(e)) => fail!("{what}: recv failed: {e}"),
    }
}

/// Acks every delivery of `batch`, all in flight together.
pub(crate) async fn ack_all(batch: &mut [Delivery], what: &str) -> TestResult {
    for result in join_all(batch.iter_mut().map(Delivery::ack)).await {
        result.context(format!("{what}: ack"))?;
    }
    Ok(())
}

/// Closes `consumer`, failing the test when that fails.
pub(crate) async fn close(mut consumer: Box<dyn Consumer>, what: &str) -> TestResult {
    match tokio::time::timeout(Duration::from_secs(10), consumer.close()).await {
        Ok(result) => result.context(format!("closing {what}")),
        Err(_) => fail!("closing {what}: timed out after 10s"),
    }
}

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
                if !entries.ids.contains(&d.message.id) {
                    entries.ids.insert(d.message.id.clone());
                }
            }
            entries.all.extend(batch.iter().map(|d| Received {
                member,
                message: d.message.clone(),
                topic: d.topic.clone(),
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

/// Checks that every message of `expected` arrived exactly once, nothing else arrived, and
/// each arrived intact (payload, key and the headers it was sent with) from `topic`.
pub(crate) fn expect_exactly(
    expected: &[Message],
    got: &[Received],
    topic: &str,
    what: &str,
) -> TestResult {
    let duplicates = expect_all(expected, got, topic, what)?;
    ensure!(
        duplicates.is_empty(),
        "{what}: {} message(s) delivered more than once though nothing failed, e.g. {}",
        duplicates.len(),
        sample(&duplicates)
    );
    Ok(())
}

/// Like [`expect_exactly`] but tolerating duplicates (at-least-once); returns the ids that
/// arrived more than once.
pub(crate) fn expect_all(
    expected: &[Message],
    got: &[Received],
    topic: &str,
    what: &str,
) -> TestResult<Vec<String>> {
    let wanted: BTreeMap<&str, &Message> = expected.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in got {
        let Some(sent) = wanted.get(r.message.id.as_str()) else {
            fail!(
                "{what}: received message {} that was not sent to {topic} (from topic {})",
                r.message.id,
                r.topic
            );
        };
        ensure!(
            &*r.topic == topic,
            "{what}: delivery of {} names topic {:?}, expected {topic:?}",
            r.message.id,
            r.topic
        );
        intact(sent, &r.message, what)?;
        *seen.entry(sent.id.as_str()).or_default() += 1;
    }
    let missing: Vec<String> = wanted
        .keys()
        .filter(|id| !seen.contains_key(*id))
        .map(|id| (*id).to_owned())
        .collect();
    ensure!(
        missing.is_empty(),
        "{what}: {} of {} messages never arrived, e.g. {}",
        missing.len(),
        expected.len(),
        sample(&missing)
    );
    Ok(seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id.to_owned())
        .collect())
}

/// Checks that `got` carries what `sent` did.
pub(crate) fn intact(sent: &Message, got: &Message, what: &str) -> TestResult {
    ensure!(
        got.payload == sent.payload,
        "{what}: payload of {} changed: sent {} bytes, received {} bytes{}",
        sent.id,
        sent.payload.len(),
        got.payload.len(),
        if got.payload.len() == sent.payload.len() {
            " (same length, other bytes)"
        } else {
            ""
        }
    );
    ensure!(
        got.key == sent.key,
        "{what}: key of {} changed: sent {:?}, received {:?}",
        sent.id,
        sent.key,
        got.key
    );
    let headers = user_headers(&got.headers);
    ensure!(
        headers == sent.headers,
        "{what}: headers of {} changed: sent {:?}, received {:?}",
        sent.id,
        sent.headers,
        headers
    );
    Ok(())
}

/// Up to five items, for failure messages.
pub(crate) fn sample(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
    if items.len() > shown.len() {
        format!(
            "{} (and {} more)",
            shown.join(", "),
            items.len() - shown.len()
        )
    } else {
        shown.join(", ")
    }
}

/// Checks that, per key, the `suite-seq` numbers in `log` run 0, 1, 2, ... without gaps,
/// repeats or reordering, and that every key reached `per_key[key]` messages.
pub(crate) fn expect_per_key_order(
    log: &[Received],
    per_key: &BTreeMap<String, u64>,
    what: &str,
) -> TestResult {
    let mut next: BTreeMap<&str, u64> = BTreeMap::new();
    for r in log {
        let Some(key) = r.message.key.as_deref() else {
            fail!("{what}: message {} arrived without its key", r.message.id);
        };
        let seq = seq_of(&r.message)?;
        let expected = next.entry(key).or_default();
        ensure!(
            seq == *expected,
            "{what}: key {key}: expected message #{expected} next, got #{seq} (consumer {}, attempt {})",
            r.member,
            r.attempt
        );
        *expected += 1;
    }
    for (key, &count) in per_key {
        let got = next.get(key.as_str()).copied().unwrap_or(0);
        ensure!(
            got == count,
            "{what}: key {key}: {got} of {count} messages arrived"
        );
    }
    Ok(())
}
