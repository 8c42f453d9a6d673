//! The retry figure: messages of which 1% fail transiently twice, handled by the runtime with
//! retries in the lane (the lane sleeps out each backoff) against retries through the broker
//! (the message goes back to the broker for its backoff and the lane moves on). It reports
//! the total time and the latency of the messages that never failed, which is what a retry
//! that blocks the stream costs everyone else.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use courier_core::{Broker, Capability, Context, HandlerError, Message, Runtime, RuntimeSettings};
use tokio::{sync::Notify, time::Instant};

use crate::courier_side::Cleaner;

/// Messages per run.
pub const MESSAGES: u64 = 10_000;
/// One message in this many fails.
const FAIL_EVERY: u64 = 100;
/// Attempts that fail for each failing message.
const FAILURES: u32 = 2;
/// Backoff before the second attempt; the third waits twice as long.
const BACKOFF_MS: u64 = 200;

const SENT_HEADER: &str = "bench-sent-us";
const SEQ_HEADER: &str = "bench-seq";

/// How a run retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The lane waits out the backoff (`delayed_retries = false`, or an ordered handler).
    InLane,
    /// The message goes back to the broker for the backoff (`delayed_retries = true`).
    Broker,
}

impl Mode {
    /// Its name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Self::InLane => "in the lane",
            Self::Broker => "through the broker",
        }
    }
}

/// One run's figures.
#[derive(Clone, Debug)]
pub struct RetryRow {
    /// The backend.
    pub backend: &'static str,
    /// How it retried.
    pub mode: Mode,
    /// From the first send until every message was handled.
    pub total: Duration,
    /// Median latency, send to handling, of the messages that never failed.
    pub p50_clean_ms: f64,
    /// 99th percentile of the same.
    pub p99_clean_ms: f64,
}

/// Runs `messages` messages through a runtime on `broker` retrying as `mode` says.
///
/// # Errors
/// A sentence when the backend lacks delayed delivery for [`Mode::Broker`], the runtime
/// cannot start, a send fails, or not every message is handled within two minutes.
pub async fn run(
    broker: Arc<dyn Broker>,
    backend: &'static str,
    mode: Mode,
    messages: u64,
    cleaner: Option<&Arc<dyn Cleaner>>,
) -> Result<RetryRow, String> {
    if mode == Mode::Broker && !broker.capabilities().has(Capability::DelayedDelivery) {
        return Err(format!("{backend} has no delayed delivery"));
    }
    let topic = courier_tests::support::unique_name("compare-retries");
    let group = "bench";
    let settings = RuntimeSettings {
        max_attempts: FAILURES + 2,
        backoff_initial_ms: BACKOFF_MS,
        backoff_max_ms: BACKOFF_MS * 4,
        backoff_multiplier: 2.0,
        jitter: false,
        delayed_retries: mode == Mode::Broker,
        ..RuntimeSettings::default()
    };
    let base = Instant::now();
    let tally = Arc::new(Tally::new(messages));
    let mut runtime = Runtime::new(broker.clone(), settings);
    let handler_tally = tally.clone();
    runtime.handle_fn(topic.clone(), group, move |m: Message, cx: Context| {
        let tally = handler_tally.clone();
        async move { tally.handle(&m, cx.attempt, base) }
    });
    let running = runtime
        .start()
        .await
        .map_err(|e| format!("the runtime did not start: {e}"))?;
    let producer = broker.producer().await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut seq = 0u64;
    while seq < messages {
        let chunk = (messages - seq).min(500);
        let sent_us = base.elapsed().as_micros().to_string();
        let batch: Vec<Message> = (seq..seq + chunk)
            .map(|n| {
                Message::new(vec![0u8; 64])
                    .with_header(SEQ_HEADER, n.to_string())
                    .with_header(SENT_HEADER, sent_us.clone())
            })
            .collect();
        producer
            .send_batch(&topic, batch)
            .await
            .map_err(|e| format!("send failed: {e}"))?;
        seq += chunk;
    }
    let done = tokio::time::timeout(Duration::from_secs(120), tally.done()).await;
    let total = started.elapsed();
    let _ = running.shutdown().await;
    let _ = producer.close().await;
    if let Some(cleaner) = cleaner {
        let _ = cleaner.clean(&topic, &[group]).await;
    }
    if done.is_err() {
        return Err(format!(
            "{} of {messages} messages handled after two minutes",
            tally.handled.load(Ordering::Acquire)
        ));
    }
    let mut clean =
        std::mem::take(&mut *tally.latencies_us.lock().unwrap_or_else(|p| p.into_inner()));
    clean.sort_unstable();
    Ok(RetryRow {
        backend,
        mode,
        total,
        p50_clean_ms: percentile_ms(&clean, 0.50),
        p99_clean_ms: percentile_ms(&clean, 0.99),
    })
}

/// What the handler records.
struct Tally {
    expected: u64,
    handled: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
    all_done: Notify,
}

impl Tally {
    fn new(expected: u64) -> Self {
        Self {
            expected,
            handled: AtomicU64::new(0),
            latencies_us: Mutex::new(Vec::with_capacity(usize::try_from(expected).unwrap_or(0))),
            all_done: Notify::new(),
        }
    }

    /// Fails the first [`FAILURES`] attempts of every [`FAIL_EVERY`]th message; records the
    /// latency of each message that never failed.
    fn handle(&self, message: &Message, attempt: u32, base: Instant) -> Result<(), HandlerError> {
        let number = |name: &str| message.header(name).and_then(|v| v.parse::<u64>().ok());
        let seq = number(SEQ_HEADER).ok_or_else(|| HandlerError::permanent("no sequence"))?;
        let failing = seq % FAIL_EVERY == 0;
        if failing && attempt <= FAILURES {
            return Err(HandlerError::transient("simulated hiccup"));
        }
        if !failing {
            let sent = number(SENT_HEADER).unwrap_or(0);
            let now = u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.latencies_us
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(now.saturating_sub(sent));
        }
        if self.handled.fetch_add(1, Ordering::AcqRel) + 1 >= self.expected {
            self.all_done.notify_one();
        }
        Ok(())
    }

    async fn done(&self) {
        while self.handled.load(Ordering::Acquire) < self.expected {
            let notified = self.all_done.notified();
            if self.handled.load(Ordering::Acquire) >= self.expected {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }
}

fn percentile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted_us.len() - 1) as f64 * q).round() as usize;
    sorted_us[index.min(sorted_us.len() - 1)] as f64 / 1000.0
}

/// The Markdown table of `rows`.
pub fn markdown(rows: &[RetryRow], skipped: &[String], messages: u64) -> String {
    let mut out = format!(
        "{messages} messages, 1 in {FAIL_EVERY} failing transiently {FAILURES} times \
         (backoff {BACKOFF_MS} ms, then {} ms; no jitter), 16 lanes, prefetch 256:\n\n\
         | backend | retries | total (s) | never-failed p50 (ms) | never-failed p99 (ms) |\n\
         |---|---|---:|---:|---:|\n",
        BACKOFF_MS * 2
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {:.2} | {:.1} | {:.1} |\n",
            row.backend,
            row.mode.name(),
            row.total.as_secs_f64(),
            row.p50_clean_ms,
            row.p99_clean_ms
        ));
    }
    for reason in skipped {
        out.push_str(&format!("\n{reason}"));
    }
    out
}
