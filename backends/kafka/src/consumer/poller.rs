//! [`Poller`]: the task that owns one librdkafka consumer. It receives records into the buffer
//! `recv` takes from (holding those with a `courier-due-at` ahead until they are due, never
//! sleeping past a poll), stops taking more while that buffer is full, and if it stays full for
//! [`PAUSE_AFTER`] pauses the partitions so that it can keep serving rebalances without
//! fetching (resuming when the buffer is down to half). It commits acknowledged positions
//! periodically, checks now and then that every partition of the topic is being consumed
//! ([`watchdog`]), and on stop commits what is left and leaves the group.
//!
//! Not pausing at once matters: pausing drops what librdkafka has fetched ahead, and a
//! consumer that is only briefly full would fetch it all again.

use std::{sync::Arc, time::Duration};

use rdkafka::{
    Message as _,
    consumer::{CommitMode, Consumer as _, StreamConsumer},
    error::KafkaError,
};
use tokio::{
    task::JoinHandle,
    time::{Instant, MissedTickBehavior},
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{
    context::GroupContext,
    shared::Shared,
    watchdog::{self, Watch},
};
use crate::wire;

/// How long the buffer may stay full before the partitions are paused.
pub(crate) const PAUSE_AFTER: Duration = Duration::from_millis(300);

/// The poll task of one consumer.
pub(crate) struct Poller {
    pub(crate) consumer: Arc<StreamConsumer<GroupContext>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) stop: CancellationToken,
    pub(crate) commit_every: Duration,
    /// How often the group is checked for partitions nobody consumes ([`watchdog`]).
    pub(crate) check_every: Duration,
    /// How long a partition may stall before this consumer rejoins; `None` turns the check
    /// off.
    pub(crate) stall_limit: Option<Duration>,
    /// Timeout of the requests of that check.
    pub(crate) request_timeout: Duration,
}

/// Whether the poll task takes records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intake {
    /// The buffer has room.
    Open,
    /// The buffer is full since then; fetching goes on in librdkafka.
    FullSince(Instant),
    /// The partitions are paused; only rebalances and errors come.
    Paused,
}

impl Poller {
    /// Runs until stopped (by `close` or by dropping the consumer).
    pub(crate) async fn run(self) {
        let mut commit_tick = tokio::time::interval(self.commit_every);
        commit_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut check_tick = tokio::time::interval(self.check_every);
        check_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        check_tick.reset();
        let mut check: Option<JoinHandle<(Watch, bool)>> = None;
        let mut watch = Some(Watch::default());
        let mut intake = Intake::Open;
        // When the earliest record held for its time is due: only this task holds records,
        // so it knows without asking the state (a revocation can only make it early).
        let mut next_due: Option<Instant> = None;
        loop {
            let pause_at = match intake {
                Intake::FullSince(since) => Some(since + PAUSE_AFTER),
                _ => None,
            };
            tokio::select! {
                biased;
                () = self.stop.cancelled() => break,
                () = self.shared.wake_poller.notified() => intake = self.after_take(intake),
                _ = commit_tick.tick() => self.commit_moved(),
                _ = check_tick.tick(), if self.stall_limit.is_some() && check.is_none() => {
                    check = watch.take().map(|w| self.start_check(w));
                }
                checked = finished(&mut check) => {
                    check = None;
                    let rejoined = checked.as_ref().is_some_and(|(_, rejoined)| *rejoined);
                    watch = Some(checked.map(|(w, _)| w).unwrap_or_default());
                    if rejoined {
                        // Give the new generation time to form before looking again.
                        check_tick.reset_after(self.check_every * 3);
                    }
                }
                () = sleep_until(pause_at) => intake = self.pause_if_still_full(),
                () = sleep_until(next_due) => (intake, next_due) = self.release_due(intake),
                received = self.consumer.recv(), if !matches!(intake, Intake::FullSince(_)) => {
                    match received {
                        Ok(record) => {
                            let incoming = wire::decode(&record);
                            let (partition, offset) = (record.partition(), record.offset());
                            drop(record);
                            let (full, due) = self.admit(partition, offset, incoming);
                            if full && intake == Intake::Open {
                                intake = Intake::FullSince(Instant::now());
                            }
                            next_due = match (next_due, due) {
                                (Some(next), Some(due)) => Some(next.min(due)),
                                (next, due) => next.or(due),
                            };
                        }
                        Err(e) => report(&self.shared, &e),
                    }
                }
            }
        }
        if let Some(check) = check {
            let _ = check.await;
        }
        self.finish().await;
    }

    /// Starts a [`watchdog`] check on a blocking thread.
    fn start_check(&self, mut watch: Watch) -> JoinHandle<(Watch, bool)> {
        let (consumer, timeout) = (self.consumer.clone(), self.request_timeout);
        let limit = self.stall_limit.unwrap_or(Duration::MAX);
        tokio::task::spawn_blocking(move || {
            let rejoined = watchdog::check(&consumer, &mut watch, limit, timeout);
            (watch, rejoined)
        })
    }

    /// Takes in a record; returns whether the buffer is now full, and when the record is due
    /// if it is held for its time.
    fn admit(
        &self,
        partition: i32,
        offset: i64,
        incoming: wire::Incoming,
    ) -> (bool, Option<Instant>) {
        if incoming.is_for_another_group(&self.shared.group) {
            self.shared.lock().skip(partition, offset);
            return (false, None);
        }
        let due = incoming
            .due_at_ms
            .and_then(wire::hold_for)
            .map(|left| Instant::now() + left);
        let full = {
            let mut state = self.shared.lock();
            match due {
                Some(due) => {
                    state.admit_at(due, partition, offset, incoming.attempt, incoming.message);
                }
                None => state.admit(partition, offset, incoming.attempt, incoming.message),
            }
            state.buffer_full()
        };
        self.shared.wake_receiver.notify_one();
        (full, due)
    }

    /// Makes the records now due ready for `recv`; returns the intake and when the next
    /// held record is due.
    fn release_due(&self, intake: Intake) -> (Intake, Option<Instant>) {
        let (released, next_due) = {
            let mut state = self.shared.lock();
            (state.release_due(Instant::now()), state.next_due())
        };
        if released {
            self.shared.wake_receiver.notify_one();
        }
        (self.after_take(intake), next_due)
    }

    /// After `recv` took from the buffer: takes records again if it has room, and resumes
    /// fetching once it is down to half.
    fn after_take(&self, intake: Intake) -> Intake {
        let (full, resume) = {
            let mut state = self.shared.lock();
            let resume = state.should_resume();
            if resume {
                state.paused = false;
            }
            (state.buffer_full(), resume)
        };
        if resume {
            self.set_paused(false);
            return Intake::Open;
        }
        match intake {
            Intake::FullSince(_) if !full => Intake::Open,
            other => other,
        }
    }

    /// The buffer stayed full: pause the partitions and keep polling, for rebalances.
    fn pause_if_still_full(&self) -> Intake {
        let pause = {
            let mut state = self.shared.lock();
            let pause = state.should_pause();
            if pause {
                state.paused = true;
            }
            pause
        };
        if pause {
            self.set_paused(true);
            Intake::Paused
        } else {
            Intake::Open
        }
    }

    fn set_paused(&self, pause: bool) {
        let assignment = match self.consumer.assignment() {
            Ok(list) if list.count() > 0 => list,
            Ok(_) => return,
            Err(e) => {
                warn!(topic = %self.shared.topic, error = %e, "reading the assignment failed");
                return;
            }
        };
        debug!(topic = %self.shared.topic, pause, partitions = assignment.count(), "pausing or resuming fetching");
        let result = if pause {
            self.consumer.pause(&assignment)
        } else {
            self.consumer.resume(&assignment)
        };
        if let Err(e) = result {
            warn!(topic = %self.shared.topic, pause, error = %e, "pausing or resuming fetching failed");
        }
    }

    fn commit_moved(&self) {
        let positions = self.shared.lock().moved_positions();
        if let Err(e) = self
            .shared
            .commit(&*self.consumer, &positions, CommitMode::Async)
        {
            self.shared.lock().recommit_all();
            warn!(topic = %self.shared.topic, group = %self.shared.group, error = %e, "committing offsets failed; retrying at the next interval");
        }
    }

    /// Commits the final positions, then leaves the group so that what was not acknowledged
    /// goes to the remaining consumers.
    async fn finish(self) {
        let positions = self.shared.lock().close();
        self.shared.wake_receiver.notify_one();
        let Self {
            consumer, shared, ..
        } = self;
        let left = tokio::task::spawn_blocking(move || {
            if let Err(e) = shared.commit(&*consumer, &positions, CommitMode::Sync) {
                warn!(topic = %shared.topic, group = %shared.group, error = %e, "committing final offsets failed; messages since the last commit will be read again");
            }
            drop(consumer);
        })
        .await;
        if let Err(e) = left {
            warn!(error = %e, "leaving the consumer group failed");
        }
    }
}

/// The outcome of the check in flight once it finishes (`None` if it failed); never
/// without one.
async fn finished(check: &mut Option<JoinHandle<(Watch, bool)>>) -> Option<(Watch, bool)> {
    match check {
        Some(handle) => handle.await.ok(),
        None => std::future::pending().await,
    }
}

/// Completes at `deadline`, or never without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn report(shared: &Shared, error: &KafkaError) {
    warn!(topic = %shared.topic, group = %shared.group, error = %error, "consumer error; librdkafka retries by itself");
}
