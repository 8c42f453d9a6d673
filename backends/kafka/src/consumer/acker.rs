//! [`KafkaAck`]: settles the deliveries of one consumer.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use courier_core::{Ack, Error, ErrorKind, Result};

use super::{
    shared::Shared,
    state::{Outcome, Refused},
};
use crate::{
    BACKEND,
    producer::SharedProducer,
    wire::{self, Requeued},
};

/// Settles deliveries: `ack` and `nack(false)` mark the offset done; `nack(true)` publishes
/// the message again to the same topic with the same key, id and headers, `courier-attempt`
/// one higher and `courier-requeued-for` naming the group (the topic's other groups skip the
/// copy), then marks the original done; `nack_after` does the same with a `courier-due-at`
/// header, which the group's consumers hold the copy until. `ack_batch` settles a whole
/// batch under one lock.
pub(crate) struct KafkaAck {
    pub(crate) shared: Arc<Shared>,
    pub(crate) producer: Arc<SharedProducer>,
}

impl KafkaAck {
    fn settle(&self, token: u64, outcome: Outcome) -> Result<()> {
        let room = self.shared.lock().settle(token, outcome).map_err(refused)?;
        if room {
            self.shared.wake_receiver.notify_one();
        }
        Ok(())
    }

    /// Publishes the copy of `token` for this group (due `delay` from now when given), then
    /// marks the original done.
    async fn requeue(&self, token: u64, delay: Option<Duration>) -> Result<()> {
        let (copy, attempt) = self
            .shared
            .lock()
            .take_for_requeue(token)
            .map_err(refused)?;
        let topic = self.shared.topic.clone();
        let requeued = Requeued {
            attempt: attempt.saturating_add(1),
            group: &self.shared.group,
        };
        let due = delay.map(wire::due_at_ms);
        match self.producer.send(&topic, &copy, Some(requeued), due).await {
            Ok(()) => self.settle(token, Outcome::Done),
            Err(e) => {
                self.settle(token, Outcome::Abandoned)?;
                Err(Error::new(
                    BACKEND,
                    ErrorKind::Ack,
                    format!(
                        "handing message {} back to group `{}` failed; it is read again after the next rebalance or restart",
                        copy.id, self.shared.group
                    ),
                )
                .with_source(e))
            }
        }
    }
}

fn refused(why: Refused) -> Error {
    let message = match why {
        Refused::Closed => {
            "the consumer has closed; the message goes back to its group and is delivered again"
        }
        Refused::Unknown => "no such delivery is outstanding on this consumer",
    };
    Error::new(BACKEND, ErrorKind::Ack, message)
}

#[async_trait]
impl Ack for KafkaAck {
    async fn ack(&self, token: u64) -> Result<()> {
        self.settle(token, Outcome::Done)
    }

    async fn nack(&self, token: u64, requeue: bool) -> Result<()> {
        if requeue {
            self.requeue(token, None).await
        } else {
            self.settle(token, Outcome::Done)
        }
    }

    /// Publishes the copy for this group with `courier-due-at`: this group's consumers hold
    /// it until it is due. When the copy cannot be published, the delivery is given up here
    /// (read again after the next rebalance or restart) and the error returned.
    async fn nack_after(&self, token: u64, delay: Duration) -> Result<()> {
        let delay = (!delay.is_zero()).then_some(delay);
        self.requeue(token, delay).await
    }

    /// Marks every offset done under one lock, waking `recv` at most once.
    async fn ack_batch(&self, tokens: &[u64]) -> Result<()> {
        let acked = self.shared.lock().ack_batch(tokens).map_err(refused)?;
        if acked.wake {
            self.shared.wake_receiver.notify_one();
        }
        if acked.unknown > 0 {
            return Err(refused(Refused::Unknown));
        }
        Ok(())
    }
}
