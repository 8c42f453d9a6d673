//! Handling one delivery: attempts with backoff, dead-lettering, acking.

use std::{
    any::Any,
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::FutureExt;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span, debug, error, warn};

use super::{
    RuntimeSettings,
    dead_letter::{DeadLetterKind, dead_letter_message},
    handler::{Context, Handler, HandlerError, shared_headers},
    metrics::SubscriptionMetrics,
};
use crate::{
    Delivery, ErrorKind, Producer, headers,
    trace::{self, spans},
};

/// What every lane of one subscription shares.
pub(crate) struct Worker {
    pub(crate) group: Arc<str>,
    pub(crate) handler: Arc<dyn Handler>,
    /// Transient failures are retried through the broker's delayed redelivery, not in the
    /// lane.
    pub(crate) delayed_retries: bool,
    pub(crate) producer: Arc<dyn Producer>,
    /// The backend's name, for the spans' `messaging.system`.
    pub(crate) system: &'static str,
    pub(crate) settings: Arc<RuntimeSettings>,
    pub(crate) metrics: Arc<SubscriptionMetrics>,
    pub(crate) shutdown: CancellationToken,
}

impl Worker {
    /// Runs the handler on `delivery` until it succeeds, fails for good or runs out of
    /// attempts, then settles it: ack on success, dead-letter and ack on failure, and
    /// nack(requeue) when shutdown interrupts a backoff or the dead-letter send fails. With
    /// delayed retries, a transient failure hands the delivery back to the broker for the
    /// backoff instead of waiting here.
    ///
    /// All of it runs in one `process <topic>` span, the child of the span the message was
    /// sent from when it carries a trace context.
    pub(crate) async fn process(&self, delivery: Delivery) {
        let span = spans::process(
            self.system,
            delivery.topic(),
            &self.group,
            &delivery.message,
        );
        trace::continue_from(&span, &delivery.message);
        let _in_flight = self.metrics.in_flight();
        self.attempts(delivery).instrument(span).await;
    }

    /// [`process`](Self::process) inside its span.
    async fn attempts(&self, delivery: Delivery) {
        let max = self.settings.max_attempts;
        // An attempt number is carried in a header anyone can set: one above the limit counts
        // as the last attempt, so the handler always runs at least once.
        let mut attempt = delivery.attempt.min(max);
        let headers = shared_headers(&delivery.message);
        loop {
            let context = Context {
                topic: delivery.topic().clone(),
                group: self.group.clone(),
                attempt,
                message_id: delivery.message.id.clone(),
                key: delivery.message.key.clone(),
                headers: headers.clone(),
            };
            Span::current().record("courier.attempt", attempt);
            let started = Instant::now();
            let handled = AssertUnwindSafe(self.handler.handle(&delivery.message, &context))
                .catch_unwind()
                .await;
            let outcome = handled.unwrap_or_else(|panic| {
                self.metrics.panicked();
                let reason = panic_message(panic.as_ref());
                error!(id = %delivery.message.id, topic = %delivery.topic(), reason, "handler panicked");
                Err(HandlerError::permanent(format!("handler panicked: {reason}")))
            });
            self.metrics.observe_latency(started.elapsed());
            match outcome {
                Ok(()) => return self.ack(delivery).await,
                Err(HandlerError::Transient(e)) if attempt < max => {
                    debug!(id = %delivery.message.id, attempt, error = %e, "transient failure; retrying");
                    self.metrics.retried();
                    let backoff = self.settings.backoff(attempt);
                    if self.delayed_retries {
                        return self.retry_later(delivery, backoff).await;
                    }
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

    /// Hands `delivery` back to the broker to come again after `backoff`, freeing the lane;
    /// where the backend cannot, requeues it at once.
    async fn retry_later(&self, mut delivery: Delivery, backoff: Duration) {
        match delivery.retry_after(backoff).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Unsupported => self.requeue(delivery).await,
            Err(e) => {
                warn!(id = %delivery.message.id, error = %e, "delayed retry failed; the message is delivered again");
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
        spans::set_error(&Span::current(), reason);
        let topic = headers::dlq_topic(delivery.topic());
        let copy = dead_letter_message(
            &delivery.message,
            delivery.topic(),
            &self.group,
            attempts,
            kind,
            reason,
        );
        let timeout = self.settings.dead_letter_timeout();
        let sent = match tokio::time::timeout(timeout, self.producer.send(&topic, copy)).await {
            Ok(sent) => sent,
            Err(_) => Err(crate::Error::new(
                "core",
                crate::ErrorKind::Send,
                format!("the dead-letter send was not confirmed within {timeout:?}"),
            )),
        };
        match sent {
            Ok(()) => {
                warn!(id = %delivery.message.id, topic = %delivery.topic(), dlq = %topic, attempts, reason, "dead-lettered");
                self.metrics.dead_lettered();
                if let Err(e) = delivery.ack().await {
                    warn!(id = %delivery.message.id, error = %e, "ack after dead-letter failed");
                }
            }
            Err(e) => {
                self.metrics.dead_letter_failed();
                error!(id = %delivery.message.id, dlq = %topic, error = %e, "dead-letter send failed; requeueing after a backoff");
                // Back off (not past shutdown) so a dead-letter topic that stays unavailable
                // does not turn into a hot redelivery loop.
                tokio::select! {
                    () = tokio::time::sleep(self.settings.backoff(attempts.max(1))) => {}
                    () = self.shutdown.cancelled() => {}
                }
                self.requeue(delivery).await;
            }
        }
    }
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
