//! Handling one delivery: attempts with backoff, dead-lettering, acking.

use std::{sync::Arc, time::Instant};

use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info_span, warn};

use super::{
    RuntimeSettings,
    dead_letter::{DeadLetterKind, dead_letter_message},
    handler::{Context, Handler, HandlerError},
    metrics::SubscriptionMetrics,
};
use crate::{Delivery, Producer, headers};

/// What every lane of one subscription shares.
pub(crate) struct Worker {
    pub(crate) group: Arc<str>,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) producer: Arc<dyn Producer>,
    pub(crate) settings: Arc<RuntimeSettings>,
    pub(crate) metrics: Arc<SubscriptionMetrics>,
    pub(crate) shutdown: CancellationToken,
}

impl Worker {
    /// Runs the handler on `delivery` until it succeeds, fails for good or runs out of
    /// attempts, then settles it: ack on success, dead-letter and ack on failure, and
    /// nack(requeue) when shutdown interrupts a backoff or the dead-letter send fails.
    pub(crate) async fn process(&self, delivery: Delivery) {
        let max = self.settings.max_attempts;
        let mut attempt = delivery.attempt;
        if attempt > max {
            let reason = format!("delivered {attempt} times, more than max_attempts ({max})");
            return self
                .dead_letter(delivery, attempt - 1, DeadLetterKind::Exhausted, &reason)
                .await;
        }
        loop {
            let context = Context {
                topic: delivery.topic.clone(),
                group: self.group.clone(),
                attempt,
                message_id: delivery.message.id.clone(),
                key: delivery.message.key.clone(),
            };
            let span = info_span!("message", id = %delivery.message.id, topic = %delivery.topic, group = %self.group, attempt);
            let started = Instant::now();
            let outcome = self
                .handler
                .handle(&delivery.message, &context)
                .instrument(span)
                .await;
            self.metrics.observe_latency(started.elapsed());
            match outcome {
                Ok(()) => return self.ack(delivery).await,
                Err(HandlerError::Transient(e)) if attempt < max => {
                    debug!(id = %delivery.message.id, attempt, error = %e, "transient failure; retrying");
                    self.metrics.retried();
                    let backoff = self.settings.backoff(attempt);
                    let interrupted = tokio::select! {
                        () = tokio::time::sleep(backoff) => false,
                        () = self.shutdown.cancelled() => true,
                    };
                    if interrupted {
                        return self.requeue(delivery).await;
                    }
                    attempt += 1;
                }
                Err(e) => {
                    let kind = if e.is_transient() {
                        DeadLetterKind::Exhausted
                    } else {
                        DeadLetterKind::Permanent
                    };
                    return self.dead_letter(delivery, attempt, kind, &e.reason()).await;
                }
            }
        }
    }

    async fn ack(&self, mut delivery: Delivery) {
        match delivery.ack().await {
            Ok(()) => self.metrics.acked(),
            Err(e) => {
                warn!(id = %delivery.message.id, error = %e, "ack failed; the message will be delivered again")
            }
        }
    }

    async fn requeue(&self, mut delivery: Delivery) {
        if let Err(e) = delivery.nack(true).await {
            warn!(id = %delivery.message.id, error = %e, "requeue failed; the message will be delivered again");
        }
    }

    async fn dead_letter(
        &self,
        mut delivery: Delivery,
        attempts: u32,
        kind: DeadLetterKind,
        reason: &str,
    ) {
        let topic = headers::dlq_topic(&delivery.topic);
        let copy = dead_letter_message(
            &delivery.message,
            &delivery.topic,
            &self.group,
            attempts,
            kind,
            reason,
        );
        match self.producer.send(&topic, copy).await {
            Ok(()) => {
                warn!(id = %delivery.message.id, topic = %delivery.topic, dlq = %topic, attempts, reason, "dead-lettered");
                self.metrics.dead_lettered();
                if let Err(e) = delivery.ack().await {
                    warn!(id = %delivery.message.id, error = %e, "ack after dead-letter failed");
                }
            }
            Err(e) => {
                error!(id = %delivery.message.id, dlq = %topic, error = %e, "dead-letter send failed; requeueing");
                self.requeue(delivery).await;
            }
        }
    }
}
