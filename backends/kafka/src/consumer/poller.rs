//! [`Poller`]: the task that owns one librdkafka consumer. It receives records and makes them
//! ready for `recv`, pauses the assigned partitions while the consumer holds `prefetch`
//! deliveries (resuming at half), commits acknowledged positions periodically, and on stop
//! commits what is left and leaves the group.

use std::{sync::Arc, time::Duration};

use rdkafka::{
    Message as _,
    consumer::{CommitMode, Consumer as _, StreamConsumer},
    error::KafkaError,
};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{context::GroupContext, shared::Shared};
use crate::wire;

/// The poll task of one consumer.
pub(crate) struct Poller {
    pub(crate) consumer: StreamConsumer<GroupContext>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) stop: CancellationToken,
    pub(crate) commit_every: Duration,
}

impl Poller {
    /// Runs until stopped (by `close` or by dropping the consumer).
    pub(crate) async fn run(self) {
        let mut commit_tick = tokio::time::interval(self.commit_every);
        commit_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = self.stop.cancelled() => break,
                () = self.shared.wake_poller.notified() => self.resume_if_room(),
                _ = commit_tick.tick() => self.commit_moved(),
                received = self.consumer.recv() => match received {
                    Ok(record) => {
                        let incoming = wire::decode(&record);
                        let (partition, offset) = (record.partition(), record.offset());
                        drop(record);
                        self.admit(partition, offset, incoming);
                    }
                    Err(e) => report(&self.shared, &e),
                },
            }
        }
        self.finish().await;
    }

    fn admit(&self, partition: i32, offset: i64, incoming: wire::Incoming) {
        let pause = {
            let mut state = self.shared.lock();
            state.admit(partition, offset, incoming.attempt, incoming.message);
            let pause = state.should_pause();
            if pause {
                state.paused = true;
            }
            pause
        };
        self.shared.wake_receiver.notify_one();
        if pause {
            self.set_paused(true);
        }
    }

    fn resume_if_room(&self) {
        let resume = {
            let mut state = self.shared.lock();
            let resume = state.should_resume();
            if resume {
                state.paused = false;
            }
            resume
        };
        if resume {
            self.set_paused(false);
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
            .commit(&self.consumer, &positions, CommitMode::Async)
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
            if let Err(e) = shared.commit(&consumer, &positions, CommitMode::Sync) {
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

fn report(shared: &Shared, error: &KafkaError) {
    warn!(topic = %shared.topic, group = %shared.group, error = %error, "consumer error; librdkafka retries by itself");
}
