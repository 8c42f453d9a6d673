//! The two measurements, written once for both sides: a [`Side`] opens [`Publisher`]s and
//! [`Subscriber`]s (through courier or through the raw client) and the driver runs the same
//! workload on them.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use courier_core::BoxError;
use futures::{StreamExt, TryStreamExt, stream::FuturesUnordered};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{
    allocations,
    latency::{Latency, Recorder},
    workload::{self, Names, Phase, Settings, Workload},
};

/// Result of the benchmark's own steps.
pub type Outcome<T> = Result<T, BoxError>;

/// Sends payloads to the run's topic.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Sends every payload, all in flight together, returning once the client confirms them
    /// all (or has handed them to the transport, where it cannot confirm).
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()>;

    /// Flushes and releases the publisher.
    async fn close(&self) -> Outcome<()> {
        Ok(())
    }
}

/// Called with each payload a subscriber takes.
pub type Seen<'s> = dyn for<'p> FnMut(&'p [u8]) + Send + 's;

/// Receives the run's messages as one member of its group.
#[async_trait]
pub trait Subscriber: Send {
    /// Waits for a delivery, takes what else is ready up to `max`, passes each payload to
    /// `seen` and acks it (where the client has acks). Returns how many; 0 once closed.
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize>;

    /// Detaches from the group.
    async fn close(self: Box<Self>) -> Outcome<()> {
        Ok(())
    }
}

/// The publishers and subscribers of one run.
pub struct Endpoints {
    /// One per producer of the workload.
    pub publishers: Vec<Arc<dyn Publisher>>,
    /// One per consumer of the workload, all in one group.
    pub subscribers: Vec<Box<dyn Subscriber>>,
}

/// One way of moving messages: courier's public API or a raw client.
#[async_trait]
pub trait Side: Send + Sync {
    /// `courier` or `raw`.
    fn label(&self) -> &'static str;

    /// Subscribes `workload.consumers` members of `names.group` to `names.topic`, then opens
    /// `workload.producers` publishers to it.
    async fn open(
        &self,
        workload: Workload,
        settings: &Settings,
        names: &Names,
    ) -> Outcome<Endpoints>;

    /// Deletes what `open` declared on the broker (queues, exchanges, topics).
    async fn cleanup(&self, names: &Names) -> Outcome<()> {
        let _ = names;
        Ok(())
    }
}

/// How long warm-up may take: a Kafka group needs a rebalance before it receives.
const WARMUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A measurement, and why cleaning up after it failed, if it did (which does not spoil it).
pub struct Measured<T> {
    /// The figure.
    pub value: T,
    /// The cleanup error, as a sentence.
    pub leftover: Option<String>,
}

/// Throughput in messages per second of `settings.messages` measured messages through
/// produce, consume and ack, timed from the first send to the last ack.
///
/// # Errors
/// When the side cannot open its endpoints, a send or receive fails, or the messages do not
/// all arrive in time.
pub async fn throughput(
    side: &dyn Side,
    backend: &str,
    workload: Workload,
    settings: &Settings,
) -> Outcome<Measured<f64>> {
    let measured = run(side, backend, workload, settings, Pace::Flat).await?;
    Ok(Measured {
        value: settings.messages as f64 / measured.value.0.as_secs_f64(),
        leftover: measured.leftover,
    })
}

/// Heap allocations (and reallocations) per measured message, on every thread of the
/// process, in a throughput run from the first send to the last ack: what the producers,
/// the consumers and the broker client do for the messages, payloads included.
///
/// # Errors
/// As for [`throughput`].
pub async fn allocations(
    side: &dyn Side,
    backend: &str,
    workload: Workload,
    settings: &Settings,
) -> Outcome<Measured<f64>> {
    let measured = run(side, backend, workload, settings, Pace::Counted).await?;
    Ok(Measured {
        value: measured.value.2 as f64 / settings.messages as f64,
        leftover: measured.leftover,
    })
}

/// End-to-end latency (send to receive) of messages sent at `rate` per second for `duration`,
/// spread over the workload's producers.
///
/// # Errors
/// As for [`throughput`].
pub async fn latency(
    side: &dyn Side,
    backend: &str,
    workload: Workload,
    settings: &Settings,
    rate: f64,
    duration: Duration,
) -> Outcome<Measured<Latency>> {
    let messages = ((rate * duration.as_secs_f64()) as u64).max(workload.producers as u64);
    let settings = Settings {
        messages,
        ..*settings
    };
    let measured = run(side, backend, workload, &settings, Pace::Rate(rate)).await?;
    Ok(Measured {
        value: measured.value.1.summary()?,
        leftover: measured.leftover,
    })
}

/// How producers send.
#[derive(Clone, Copy)]
enum Pace {
    /// As fast as the window allows.
    Flat,
    /// As [`Pace::Flat`], counting heap allocations.
    Counted,
    /// At a fixed total rate per second, stamping each payload.
    Rate(f64),
}

async fn run(
    side: &dyn Side,
    backend: &str,
    workload: Workload,
    settings: &Settings,
    pace: Pace,
) -> Outcome<Measured<(Duration, Recorder, u64)>> {
    let names = Names::fresh(backend, side.label());
    let result = run_on(side, &names, workload, settings, pace).await;
    let cleaned = side.cleanup(&names).await;
    Ok(Measured {
        value: result?,
        leftover: cleaned
            .err()
            .map(|e| format!("cleaning up {}: {e}", names.topic)),
    })
}

async fn run_on(
    side: &dyn Side,
    names: &Names,
    workload: Workload,
    settings: &Settings,
    pace: Pace,
) -> Outcome<(Duration, Recorder, u64)> {
    let endpoints = side.open(workload, settings, names).await?;
    let tally = Arc::new(Tally::new(endpoints.subscribers.len(), settings.messages));
    let timed = matches!(pace, Pace::Rate(_));
    let mut consumers = JoinSet::new();
    for (index, subscriber) in endpoints.subscribers.into_iter().enumerate() {
        consumers.spawn(consume(
            subscriber,
            index,
            tally.clone(),
            settings.prefetch,
            timed,
        ));
    }
    let publishers = endpoints.publishers;
    let counted = matches!(pace, Pace::Counted);
    let outcome: Outcome<(Duration, u64)> = async {
        warm_up(&publishers, &tally, settings.size).await?;
        if counted {
            allocations::start();
        }
        let started = Instant::now();
        let mut producers = JoinSet::new();
        for (index, publisher) in publishers.iter().enumerate() {
            let count = share(settings.messages, publishers.len(), index);
            let publisher = publisher.clone();
            let settings = *settings;
            producers.spawn(async move {
                match pace {
                    Pace::Flat | Pace::Counted => {
                        produce_flat(publisher.as_ref(), count, &settings).await
                    }
                    Pace::Rate(rate) => {
                        let rate = rate / workload.producers as f64;
                        produce_paced(publisher.as_ref(), count, rate, settings.size).await
                    }
                }
            });
        }
        let limit = deadline(settings, pace);
        let finished = tokio::time::timeout(limit, async {
            loop {
                tokio::select! {
                    () = tally.done.cancelled() => return Ok(()),
                    joined = producers.join_next(), if !producers.is_empty() => {
                        if let Some(produced) = joined {
                            produced.map_err(|e| format!("producer task: {e}"))??;
                        }
                    }
                }
            }
        })
        .await;
        let elapsed = started.elapsed();
        let allocated = if counted { allocations::stop() } else { 0 };
        match finished {
            Ok(result) => result.map(|()| (elapsed, allocated)),
            Err(_) => {
                let received = tally.measured.load(Relaxed);
                Err(format!(
                    "timed out after {}s with {received} of {} messages received ({:.0} msg/s)",
                    limit.as_secs(),
                    settings.messages,
                    received as f64 / elapsed.as_secs_f64()
                )
                .into())
            }
        }
    }
    .await;
    tally.done.cancel();
    let mut recorder = Recorder::new();
    let mut first_error = None;
    while let Some(joined) = consumers.join_next().await {
        match joined.map_err(|e| BoxError::from(format!("consumer task: {e}"))) {
            Ok(Ok(part)) => recorder.merge(&part),
            Ok(Err(e)) | Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    for publisher in &publishers {
        publisher.close().await?;
    }
    let (elapsed, allocated) = outcome?;
    match first_error {
        Some(e) => Err(e),
        None => Ok((elapsed, recorder, allocated)),
    }
}

/// The measured-phase time limit: generous, only to turn a lost message into an error.
fn deadline(settings: &Settings, pace: Pace) -> Duration {
    let floor = match pace {
        Pace::Flat | Pace::Counted => 120.0,
        Pace::Rate(rate) => 60.0 + settings.messages as f64 / rate,
    };
    Duration::from_secs_f64(floor + settings.messages as f64 / 2_000.0)
}

/// Producer `index`'s part of `total` over `parts` producers.
fn share(total: u64, parts: usize, index: usize) -> u64 {
    let parts = parts as u64;
    total / parts + u64::from((index as u64) < total % parts)
}

/// Sends warm-up messages until every consumer has received one, so that connections, group
/// membership and partition assignment are settled before the clock starts.
async fn warm_up(publishers: &[Arc<dyn Publisher>], tally: &Tally, size: usize) -> Outcome<()> {
    let Some(publisher) = publishers.first() else {
        return Err("no publisher".into());
    };
    let started = Instant::now();
    let body = workload::payload(size, Phase::Warmup, 0);
    while !tally.all_warm() {
        if started.elapsed() > WARMUP_TIMEOUT {
            return Err(format!(
                "warm-up: not every consumer received a message within {}s",
                WARMUP_TIMEOUT.as_secs()
            )
            .into());
        }
        publisher
            .publish(vec![body.clone(); 2 * tally.warm.len()])
            .await?;
        tokio::select! {
            () = tally.done.cancelled() => return Err("a consumer stopped during warm-up".into()),
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    Ok(())
}

async fn produce_flat(publisher: &dyn Publisher, count: u64, settings: &Settings) -> Outcome<()> {
    let body = workload::payload(settings.size, Phase::Measured, 0);
    let batch = settings.batch as u64;
    let sizes = (0..count.div_ceil(batch)).map(|i| (count - i * batch).min(batch) as usize);
    futures::stream::iter(sizes)
        .map(|n| publisher.publish(vec![body.clone(); n]))
        .buffer_unordered(settings.depth)
        .try_collect::<()>()
        .await
}

/// Sends `count` stamped messages at `rate` per second, one batch per millisecond tick, the
/// batches in flight concurrently so that a slow confirm never delays the schedule.
async fn produce_paced(
    publisher: &dyn Publisher,
    count: u64,
    rate: f64,
    size: usize,
) -> Outcome<()> {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut in_flight = FuturesUnordered::new();
    let mut sent = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick(), if sent < count => {
                let due = ((started.elapsed().as_secs_f64() * rate) as u64).min(count);
                if due > sent {
                    let stamp = workload::now_nanos();
                    let payloads = (sent..due)
                        .map(|_| workload::payload(size, Phase::Measured, stamp))
                        .collect();
                    in_flight.push(publisher.publish(payloads));
                    sent = due;
                }
            }
            Some(done) = in_flight.next() => done?,
            else => return Ok(()),
        }
    }
}

/// Receives until the run is done, counting warm-up and measured messages and, when `timed`,
/// recording each measured message's latency.
async fn consume(
    mut subscriber: Box<dyn Subscriber>,
    index: usize,
    tally: Arc<Tally>,
    max: usize,
    timed: bool,
) -> Outcome<Recorder> {
    let mut recorder = Recorder::new();
    let result = async {
        loop {
            let (mut warm, mut measured) = (0u64, 0u64);
            let mut seen = |payload: &[u8]| match workload::phase_of(payload) {
                Phase::Warmup => warm += 1,
                Phase::Measured => {
                    measured += 1;
                    if let Some(sent) = workload::sent_at(payload).filter(|_| timed) {
                        recorder.record(workload::now_nanos().saturating_sub(sent));
                    }
                }
            };
            let took = tokio::select! {
                biased;
                () = tally.done.cancelled() => return Ok(()),
                took = subscriber.take(max, &mut seen) => took?,
            };
            if took == 0 {
                return Err(BoxError::from(
                    "the consumer closed before the run was done",
                ));
            }
            tally.add(index, warm, measured);
        }
    }
    .await;
    let closed = subscriber.close().await;
    if let Err(e) = result {
        tally.done.cancel();
        return Err(e);
    }
    closed?;
    Ok(recorder)
}

/// What the consumers have received, updated once per batch.
struct Tally {
    warm: Vec<AtomicU64>,
    measured: AtomicU64,
    target: u64,
    done: CancellationToken,
}

impl Tally {
    fn new(consumers: usize, target: u64) -> Self {
        Self {
            warm: (0..consumers).map(|_| AtomicU64::new(0)).collect(),
            measured: AtomicU64::new(0),
            target,
            done: CancellationToken::new(),
        }
    }

    fn add(&self, consumer: usize, warm: u64, measured: u64) {
        if warm > 0 {
            self.warm[consumer].fetch_add(warm, Relaxed);
        }
        if measured > 0 && self.measured.fetch_add(measured, Relaxed) + measured >= self.target {
            self.done.cancel();
        }
    }

    fn all_warm(&self) -> bool {
        self.warm.iter().all(|w| w.load(Relaxed) > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for (total, parts) in [(10, 4), (1_000_000, 4), (3, 4), (7, 1)] {
            let sum: u64 = (0..parts).map(|i| share(total, parts, i)).sum();
            assert_eq!(sum, total);
        }
    }
}
