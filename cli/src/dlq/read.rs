//! Reading dead letters without removing them: [`Held`].
//!
//! A consumer joins the group `dead-letters` of `<topic>.dlq` with a prefetch of `limit`,
//! receives until nothing came for `idle`, and holds what it received unsettled. What a
//! command does not ack goes back to the group when the consumer closes: every backend
//! courier reads the DLQ on declares
//! [`Capability::RedeliveryOnDisconnect`].

use std::{sync::Arc, time::Duration};

use courier_core::{Broker, Capability, Consumer, Delivery, Subscription, headers};

use crate::{CliError, args::ReadArgs};

/// Dead letters received and not settled, and the consumer holding them.
pub struct Held {
    consumer: Box<dyn Consumer>,
    /// The dead-letter topic, `<topic>.dlq`.
    pub dlq: String,
    /// The dead letters, in the order received.
    pub deliveries: Vec<Delivery>,
    /// Whether reading stopped at the limit (more may be waiting).
    pub at_limit: bool,
}

/// Receives up to `read.limit` dead letters of `topic`, until none came for `read.idle`.
///
/// # Errors
/// [`USAGE`](crate::error::USAGE) when the backend does not hand unacked deliveries back on
/// disconnect (reading would remove letters) or the broker cannot be reached; otherwise when
/// receiving fails (the consumer is closed first, so nothing is lost).
///
/// # Cancel safety
/// Dropped before it returns, the consumer is dropped with what it received unsettled: the
/// backend hands it back to the group.
pub async fn read(
    broker: &Arc<dyn Broker>,
    topic: &str,
    read: &ReadArgs,
) -> Result<Held, CliError> {
    if !broker
        .capabilities()
        .has(Capability::RedeliveryOnDisconnect)
    {
        return Err(CliError::usage(format!(
            "the {} backend does not give unacked messages back when a consumer leaves, so \
             reading its dead letters would remove them; refusing",
            broker.name()
        )));
    }
    let dlq = headers::dlq_topic(topic);
    let limit = usize::from(read.limit.max(1));
    let subscription = Subscription::new(&dlq, headers::DEAD_LETTER_GROUP).with_prefetch(limit);
    let mut consumer = broker
        .subscribe(subscription)
        .await
        .map_err(|e| CliError::broker(&format!("reading {dlq}"), &e))?;
    let received = receive(consumer.as_mut(), limit, read.idle).await;
    match received {
        Ok(deliveries) => Ok(Held {
            consumer,
            dlq,
            at_limit: deliveries.len() >= limit,
            deliveries,
        }),
        Err(e) => {
            let _ = consumer.close().await;
            Err(CliError::broker(&format!("reading {dlq}"), &e))
        }
    }
}

/// Up to `limit` deliveries, until none came for `idle` or the consumer closed.
async fn receive(
    consumer: &mut dyn Consumer,
    limit: usize,
    idle: Duration,
) -> courier_core::Result<Vec<Delivery>> {
    let mut deliveries = Vec::new();
    while deliveries.len() < limit {
        match tokio::time::timeout(idle, consumer.recv_batch(limit - deliveries.len())).await {
            Err(_) => break,
            Ok(batch) => {
                let batch = batch?;
                if batch.is_empty() {
                    break;
                }
                deliveries.extend(batch);
            }
        }
    }
    Ok(deliveries)
}

impl Held {
    /// Splits off the deliveries `keep` accepts, leaving the others held.
    pub fn take(&mut self, mut keep: impl FnMut(&Delivery) -> bool) -> Vec<Delivery> {
        let (taken, rest) = std::mem::take(&mut self.deliveries)
            .into_iter()
            .partition(|d| keep(d));
        self.deliveries = rest;
        taken
    }

    /// Closes the consumer. The deliveries still held, unsettled, go back to the group;
    /// when `some_acked`, they are first given back with `nack(requeue)`, because on a
    /// backend that commits positions (Kafka) a letter left unacked would hold back the
    /// acks of those after it.
    ///
    /// # Errors
    /// When the consumer fails to close; what it held still goes back to the group.
    ///
    /// # Cancel safety
    /// Dropped before it returns, the consumer is dropped: what it held still goes back.
    pub async fn release(mut self, some_acked: bool) -> Result<(), CliError> {
        if some_acked {
            for delivery in &mut self.deliveries {
                // A failed nack leaves it unsettled: it goes back with the close.
                let _ = delivery.nack(true).await;
            }
        }
        self.deliveries.clear();
        self.consumer
            .close()
            .await
            .map_err(|e| CliError::broker(&format!("closing the reader of {}", self.dlq), &e))
    }
}
