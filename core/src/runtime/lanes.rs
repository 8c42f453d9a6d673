//! One subscription's receive loop and its lanes: bounded concurrency, one key per lane.

use std::{sync::Arc, time::Duration};

use tokio::{sync::mpsc, task::JoinSet, time::Instant};
use tracing::{error, warn};

use super::worker::Worker;
use crate::key_routing::KeyHasher;
use crate::{Consumer, Delivery, Result, SubscriptionState, SubscriptionStatus};

/// Receives from `consumer` and hands each delivery to one of `concurrency` lanes; a lane runs
/// its deliveries one at a time, and every delivery of one key goes to the same lane, so a
/// key's messages are handled in order. Keyless deliveries go round-robin.
///
/// Returns once shutdown is signalled and the lanes have finished (or the deadline passed),
/// after closing the consumer so that whatever was not settled goes back to the group.
///
/// `status` says whether it is consuming: reconnecting while receives fail (retryable),
/// consuming again at the first that succeeds, stopped once it leaves; written on those
/// changes only, not per delivery.
pub(crate) async fn drive(
    mut consumer: Box<dyn Consumer>,
    worker: Arc<Worker>,
    batch: usize,
    status: SubscriptionStatus,
) -> Result<()> {
    status.set(SubscriptionState::Consuming);
    let stopped = Stopped(status.clone());
    let lanes = worker.settings.concurrency;
    let depth = (batch / lanes).max(1);
    let mut senders = Vec::with_capacity(lanes);
    let mut tasks = JoinSet::new();
    for _ in 0..lanes {
        let (tx, rx) = mpsc::channel::<Delivery>(depth);
        senders.push(tx);
        tasks.spawn(run_lane(rx, worker.clone()));
    }
    let hasher = KeyHasher::new();
    let mut next = 0usize;
    let mut failures = 0u32;
    let shutdown = worker.shutdown.clone();
    loop {
        let received = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            received = consumer.recv_batch(batch) => received,
        };
        let deliveries = match received {
            Ok(d) if d.is_empty() => break,
            Ok(d) => {
                if failures > 0 {
                    failures = 0;
                    status.set(SubscriptionState::Consuming);
                }
                d
            }
            Err(e) if e.is_retryable() => {
                if failures == 0 {
                    status.set(SubscriptionState::Reconnecting);
                }
                failures += 1;
                warn!(error = %e, failures, "receive failed; retrying");
                tokio::time::sleep(worker.settings.backoff(failures)).await;
                continue;
            }
            Err(e) => {
                error!(error = %e, "receive failed for good; stopping this subscription");
                drop(stopped);
                stop(tasks, senders, consumer.as_mut(), &worker).await;
                return Err(e);
            }
        };
        worker.metrics.received(deliveries.len() as u64);
        for delivery in deliveries {
            let lane = match &delivery.message.key {
                Some(key) => hasher.hash(key.as_bytes()) as usize % lanes,
                None => {
                    next = next.wrapping_add(1);
                    next % lanes
                }
            };
            // A full lane waits: the consumer's prefetch then bounds what is held.
            let sent = tokio::select! {
                biased;
                () = shutdown.cancelled() => false,
                sent = senders[lane].send(delivery) => sent.is_ok(),
            };
            if !sent {
                break;
            }
        }
    }
    drop(stopped);
    stop(tasks, senders, consumer.as_mut(), &worker).await;
    Ok(())
}

/// Marks the subscription stopped when the receive loop ends, however it ends (an aborted
/// task included).
struct Stopped(SubscriptionStatus);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.set(SubscriptionState::Stopped);
    }
}

async fn stop(
    mut tasks: JoinSet<()>,
    senders: Vec<mpsc::Sender<Delivery>>,
    consumer: &mut dyn Consumer,
    worker: &Worker,
) {
    drop(senders);
    let deadline = Instant::now() + worker.settings.shutdown_deadline();
    while !tasks.is_empty() {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(_) => {}
            Err(_) => {
                warn!(
                    left = tasks.len(),
                    "shutdown deadline passed; abandoning handlers in flight, their messages go back to the group"
                );
                tasks.abort_all();
                break;
            }
        }
    }
    let close = tokio::time::timeout(Duration::from_secs(10), consumer.close()).await;
    match close {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "closing the consumer failed"),
        Err(_) => warn!("closing the consumer timed out"),
    }
}

async fn run_lane(mut rx: mpsc::Receiver<Delivery>, worker: Arc<Worker>) {
    while let Some(delivery) = rx.recv().await {
        if worker.shutdown.is_cancelled() {
            // Not started: left unsettled, it goes back to the group when the consumer closes.
            drop(delivery);
            continue;
        }
        worker.process(delivery).await;
    }
}
