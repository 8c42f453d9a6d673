//! [`KafkaConsumer`]: one member of a consumer group, driven by a poll task.
//!
//! Offsets are committed only up to the lowest unacknowledged delivery of each partition, so
//! acknowledgements may come in any order without losing a gap; they are committed every
//! `commit_interval_ms`, when partitions are revoked and on close, never once per message.

mod acker;
mod context;
mod partition;
mod poller;
mod shared;
mod slab;
mod start;
mod state;
mod waiting;
mod watchdog;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use courier_core::{
    Consumer, Delivery, Error, ErrorKind, Origin, Result, Subscription, SubscriptionState,
    SubscriptionStatus,
};
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::{acker::KafkaAck, context::GroupContext, poller::Poller, shared::Shared};
use crate::{
    BACKEND,
    client::ClientSettings,
    health::{ClientLink, Links},
    producer::SharedProducer,
};

/// Receives the deliveries of one subscription.
///
/// Dropping it without [`close`](Consumer::close) stops its poll task the same way, in the
/// background.
pub struct KafkaConsumer {
    shared: Arc<Shared>,
    /// The topic and acker every delivery shares.
    origin: Arc<Origin>,
    task: Option<JoinHandle<()>>,
    stop: CancellationToken,
    status: SubscriptionStatus,
}

/// Joins `subscription.group` on `subscription.topic` (which must exist) and waits for the
/// first partition assignment. A temporary group without committed offsets starts at the
/// end of the topic as it is now ([`start`]). Its connection state counts in `links`.
pub(crate) async fn open(
    settings: &ClientSettings,
    producer: Arc<SharedProducer>,
    subscription: &Subscription,
    links: &Links,
) -> Result<KafkaConsumer> {
    let Subscription {
        topic,
        group,
        prefetch,
        temporary,
    } = subscription;
    if group.is_empty() {
        return Err(Error::new(
            BACKEND,
            ErrorKind::Config,
            "the group of a subscription must not be empty",
        ));
    }
    let shared = Arc::new(Shared::new(topic, group, *prefetch));
    let mut client = settings.consumer(&settings.config.kafka_group(topic, group));
    if *temporary {
        client.set("auto.offset.reset", "latest");
    }
    let link = ClientLink::new();
    links.add(&link);
    let status = SubscriptionStatus::default();
    let consumer: Arc<StreamConsumer<GroupContext>> = Arc::new(
        client
            .create_with_context(GroupContext {
                shared: shared.clone(),
                link,
                status: status.clone(),
            })
            .map_err(|e| settings.error(ErrorKind::Config, "creating a consumer", e))?,
    );
    if *temporary {
        let ends =
            start::ends_without_commit(consumer.clone(), topic, settings.request_timeout()).await;
        shared.start_at(ends);
    }
    consumer.subscribe(&[topic]).map_err(|e| {
        settings.error(
            ErrorKind::Connection,
            &format!("subscribing to `{topic}`"),
            e,
        )
    })?;
    let stop = CancellationToken::new();
    let mut joined = shared.joined.subscribe();
    let poller = Poller {
        consumer,
        shared: shared.clone(),
        stop: stop.clone(),
        commit_every: Duration::from_millis(u64::from(settings.config.commit_interval_ms)),
        check_every: Duration::from_millis(u64::from(settings.config.session_timeout_ms)),
        stall_limit: match settings.config.stall_timeout_ms {
            0 => None,
            ms => Some(Duration::from_millis(u64::from(ms))),
        },
        request_timeout: settings.request_timeout(),
    };
    let task = tokio::spawn(poller.run());
    let mut consumer = KafkaConsumer {
        origin: Origin::new(
            shared.topic.clone(),
            Arc::new(KafkaAck {
                shared: shared.clone(),
                producer,
            }),
        ),
        shared,
        task: Some(task),
        stop,
        status: status.clone(),
    };
    let timeout = Duration::from_millis(u64::from(settings.config.join_timeout_ms));
    let assigned = tokio::time::timeout(timeout, joined.wait_for(|joined| *joined))
        .await
        .is_ok_and(|waited| waited.is_ok());
    if assigned {
        status.set(SubscriptionState::Consuming);
        Ok(consumer)
    } else {
        consumer.close().await.ok();
        Err(Error::new(
            BACKEND,
            ErrorKind::Timeout,
            format!(
                "group `{group}` (Kafka group `{}`) assigned no partitions of `{topic}` within {} ms (broker.kafka.join_timeout_ms)",
                settings.config.kafka_group(topic, group),
                timeout.as_millis()
            ),
        ))
    }
}

impl KafkaConsumer {
    /// Up to `max` ready deliveries, waiting for the first; empty once closed.
    async fn take(&self, max: usize) -> Vec<Delivery> {
        loop {
            let (ready, wake_poller) = {
                let mut state = self.shared.lock();
                let taken = state.take(max.max(1));
                if taken.0.is_empty() && state.is_closed() {
                    return Vec::new();
                }
                taken
            };
            if wake_poller {
                self.shared.wake_poller.notify_one();
            }
            if !ready.is_empty() {
                return ready
                    .into_iter()
                    .map(|r| Delivery::new(r.message, self.origin.clone(), r.attempt, r.token))
                    .collect();
            }
            // A notification sent after the check above is kept for this wait.
            self.shared.wake_receiver.notified().await;
        }
    }
}

#[async_trait]
impl Consumer for KafkaConsumer {
    async fn recv(&mut self) -> Result<Option<Delivery>> {
        Ok(self.take(1).await.pop())
    }

    async fn recv_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        Ok(self.take(max).await)
    }

    async fn close(&mut self) -> Result<()> {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.await.map_err(|e| {
                Error::new(
                    BACKEND,
                    ErrorKind::Other,
                    format!("the consumer's poll task failed: {e}"),
                )
            })?;
        }
        self.status.set(SubscriptionState::Stopped);
        Ok(())
    }

    /// Consuming while a broker connection is up and the group is joined with its
    /// assignment taken (from the consumer's statistics, every second; at once when
    /// librdkafka reports every broker down); reconnecting otherwise. librdkafka reconnects
    /// and rejoins by itself. Also holds each owned partition's lag, from the same
    /// statistics.
    fn status(&self) -> Option<SubscriptionStatus> {
        Some(self.status.clone())
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        self.status.set(SubscriptionState::Stopped);
        self.stop.cancel();
    }
}
