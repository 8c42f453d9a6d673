//! A received message and its acknowledgement: [`Delivery`] and [`Ack`].

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;

use crate::{Error, ErrorKind, Message, Result};

/// Settles deliveries on behalf of one consumer.
///
/// A backend implements it once per consumer (not per message) and hands each [`Delivery`] an
/// `Arc` of it plus an opaque `token` that identifies the delivery to the backend (a RabbitMQ
/// delivery tag, a Kafka partition and offset packed into 64 bits, a sequence number). The
/// "settle once" rule is enforced by [`Delivery`], so implementations need not track it.
#[async_trait]
pub trait Ack: Send + Sync + 'static {
    /// Marks the delivery `token` done.
    ///
    /// # Errors
    /// [`ErrorKind::Ack`](crate::ErrorKind::Ack) when the backend cannot record it, for example
    /// because the consumer has closed and the message was handed back to its group.
    async fn ack(&self, token: u64) -> Result<()>;

    /// Gives the delivery back to its group (`requeue = true`) or rejects it.
    ///
    /// # Errors
    /// As for [`Ack::ack`].
    async fn nack(&self, token: u64, requeue: bool) -> Result<()>;

    /// Gives the delivery back to its group to be delivered again, with the attempt counted,
    /// once `delay` has passed; meanwhile it holds no consumer and no prefetch slot. For a
    /// backend with [`Capability::DelayedDelivery`](crate::Capability::DelayedDelivery).
    ///
    /// A backend that cannot schedule the redelivery (its delay queue or retry topic refused
    /// the copy) hands the delivery back at once, as [`Ack::nack`] with `requeue`, and returns
    /// the error: the message is never lost.
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] from the default (the delivery is then left unsettled);
    /// otherwise as for [`Ack::ack`].
    async fn nack_after(&self, token: u64, delay: Duration) -> Result<()> {
        let _ = (token, delay);
        Err(unsupported_delay())
    }

    /// Marks every delivery in `tokens` done, in one operation where the backend can.
    ///
    /// The tokens are all of deliveries handed out with this acker, and none of them was
    /// settled before: "settle once" is enforced by the caller ([`Delivery::ack_all`]), so
    /// implementations need not check it. The default acks each token in turn with
    /// [`Ack::ack`] and stops at the first error; a backend overrides it when it can settle
    /// the batch with one lock, one write or one round trip.
    ///
    /// # Errors
    /// As for [`Ack::ack`]. Tokens after a failure may be left unsettled; the backend then
    /// treats them like a failed `ack` (they reach the group again once the consumer is gone).
    async fn ack_batch(&self, tokens: &[u64]) -> Result<()> {
        for &token in tokens {
            self.ack(token).await?;
        }
        Ok(())
    }
}

/// The error of a backend without delayed delivery.
pub(crate) fn unsupported_delay() -> Error {
    Error::new(
        "core",
        ErrorKind::Unsupported,
        "this backend has no delayed delivery",
    )
}

/// What every delivery of one consumer shares: the topic they come from and the [`Ack`] that
/// settles them. A backend makes one per consumer; each [`Delivery`] holds it behind one
/// `Arc`, so handing out a delivery costs one counter increment for both.
pub struct Origin {
    topic: Arc<str>,
    acker: Arc<dyn Ack>,
}

impl Origin {
    /// The origin of deliveries from `topic`, settled through `acker`.
    pub fn new(topic: impl Into<Arc<str>>, acker: Arc<dyn Ack>) -> Arc<Self> {
        Arc::new(Self {
            topic: topic.into(),
            acker,
        })
    }

    /// The topic.
    pub fn topic(&self) -> &Arc<str> {
        &self.topic
    }
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// A message received from a topic, with what the backend knows of its delivery.
///
/// Settle it once with [`ack`](Delivery::ack) or [`nack`](Delivery::nack), or settle a whole
/// batch with [`Delivery::ack_all`]. A delivery dropped unsettled stays with its consumer, and
/// reaches its group again once that consumer is gone.
pub struct Delivery {
    /// The message.
    pub message: Message,
    /// 1 on the first delivery, then one more on each redelivery.
    pub attempt: u32,
    /// Whether the backend delivered it before.
    pub redelivered: bool,
    origin: Arc<Origin>,
    token: u64,
    settled: bool,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("id", &self.message.id)
            .field("topic", self.topic())
            .field("attempt", &self.attempt)
            .field("redelivered", &self.redelivered)
            .field("settled", &self.settled)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// A delivery of `message` from `origin`'s topic, settled through its acker with `token`.
    pub fn new(message: Message, origin: Arc<Origin>, attempt: u32, token: u64) -> Self {
        Self {
            message,
            attempt: attempt.max(1),
            redelivered: attempt > 1,
            origin,
            token,
            settled: false,
        }
    }

    /// The topic it came from.
    pub fn topic(&self) -> &Arc<str> {
        &self.origin.topic
    }

    /// Where it came from: its topic and the acker that settles it.
    pub fn origin(&self) -> &Arc<Origin> {
        &self.origin
    }

    /// Overrides the redelivered flag (for backends that know it apart from the attempt).
    #[must_use]
    pub fn with_redelivered(mut self, redelivered: bool) -> Self {
        self.redelivered = redelivered;
        self
    }

    /// The backend's token for this delivery.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// Whether it was acked or nacked.
    pub fn is_settled(&self) -> bool {
        self.settled
    }

    /// Marks the delivery done.
    ///
    /// # Cancel safety
    /// The delivery counts as settled as soon as this is called: dropped before it returns,
    /// the ack may or may not reach the backend. If it does not, the message is delivered
    /// again (at-least-once), never lost.
    ///
    /// # Errors
    /// [`ErrorKind::AlreadySettled`](crate::ErrorKind::AlreadySettled) if it was acked or nacked
    /// before; otherwise what the backend's [`Ack::ack`] returns.
    pub async fn ack(&mut self) -> Result<()> {
        self.settle()?;
        self.origin.acker.ack(self.token).await
    }

    /// Gives the delivery back to its group for another attempt (`requeue = true`) or
    /// rejects it (`requeue = false`).
    ///
    /// # Cancel safety
    /// As for [`ack`](Delivery::ack).
    ///
    /// # Errors
    /// As for [`ack`](Delivery::ack).
    pub async fn nack(&mut self, requeue: bool) -> Result<()> {
        self.settle()?;
        self.origin.acker.nack(self.token, requeue).await
    }

    /// Gives the delivery back to its group to be delivered again once `delay` has passed,
    /// with its attempt counted, without holding this consumer meanwhile (see
    /// [`Ack::nack_after`]). Other messages keep flowing in the meantime, so a message
    /// retried this way may come after later messages of its key.
    ///
    /// # Cancel safety
    /// As for [`ack`](Delivery::ack).
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] when the backend lacks
    /// [`Capability::DelayedDelivery`](crate::Capability::DelayedDelivery): the delivery is
    /// then still unsettled, to be acked or nacked. Otherwise as for
    /// [`ack`](Delivery::ack).
    pub async fn retry_after(&mut self, delay: Duration) -> Result<()> {
        self.settle()?;
        let outcome = self.origin.acker.nack_after(self.token, delay).await;
        if matches!(&outcome, Err(e) if e.kind() == ErrorKind::Unsupported) {
            self.settled = false;
        }
        outcome
    }

    /// Acks every delivery in `deliveries` with as few backend calls as possible.
    ///
    /// Deliveries that follow each other and came from the same consumer (the same [`Ack`])
    /// are settled by one [`Ack::ack_batch`] call, so a batch from
    /// [`Consumer::recv_batch`](crate::Consumer::recv_batch) costs one call rather than one per
    /// message. Either every delivery is marked settled or, if any one was settled before, none
    /// is and nothing reaches the backend. An empty slice is `Ok`.
    ///
    /// When a backend call fails, the other runs are still settled and the first error is
    /// returned; the deliveries of the failed call count as settled here and are treated like
    /// a failed [`ack`](Delivery::ack): they reach their group again once their consumer is
    /// gone (at once where the failure was that it had closed).
    ///
    /// # Cancel safety
    /// As for [`ack`](Delivery::ack), for each delivery.
    ///
    /// # Errors
    /// [`ErrorKind::AlreadySettled`](crate::ErrorKind::AlreadySettled) if any delivery was
    /// acked or nacked before (then none is settled); otherwise the first error a backend's
    /// [`Ack::ack_batch`] returns.
    pub async fn ack_all(deliveries: &mut [Delivery]) -> Result<()> {
        if deliveries.iter().any(|d| d.settled) {
            return Err(Error::already_settled("core"));
        }
        for delivery in deliveries.iter_mut() {
            delivery.settled = true;
        }
        let mut tokens = Vec::with_capacity(deliveries.len());
        let mut first_error = None;
        let mut rest: &[Delivery] = deliveries;
        while let Some(first) = rest.first() {
            let run = rest
                .iter()
                .take_while(|d| same_acker(&d.origin.acker, &first.origin.acker))
                .count();
            tokens.clear();
            tokens.extend(rest[..run].iter().map(|d| d.token));
            if let Err(error) = first.origin.acker.ack_batch(&tokens).await {
                first_error.get_or_insert(error);
            }
            rest = &rest[run..];
        }
        first_error.map_or(Ok(()), Err)
    }

    fn settle(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.settled, true) {
            return Err(Error::already_settled("core"));
        }
        Ok(())
    }
}

/// Whether two ackers are the same object (data pointers only: vtable pointers of one type
/// may differ between codegen units).
fn same_acker(a: &Arc<dyn Ack>, b: &Arc<dyn Ack>) -> bool {
    std::ptr::eq(Arc::as_ptr(a).cast::<()>(), Arc::as_ptr(b).cast::<()>())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::ErrorKind;

    /// Records every call it receives as (name, tokens).
    struct Recording {
        name: &'static str,
        calls: Calls,
        fail_batches: bool,
    }

    #[async_trait]
    impl Ack for Recording {
        async fn ack(&self, token: u64) -> Result<()> {
            self.calls
                .lock()
                .expect("not poisoned")
                .push((self.name, vec![token]));
            Ok(())
        }

        async fn nack(&self, _token: u64, _requeue: bool) -> Result<()> {
            Ok(())
        }

        async fn ack_batch(&self, tokens: &[u64]) -> Result<()> {
            self.calls
                .lock()
                .expect("not poisoned")
                .push((self.name, tokens.to_vec()));
            if self.fail_batches {
                return Err(Error::new("test", ErrorKind::Ack, "refused"));
            }
            Ok(())
        }
    }

    type Calls = Arc<Mutex<Vec<(&'static str, Vec<u64>)>>>;

    fn acker(name: &'static str, calls: &Calls, fail_batches: bool) -> Arc<dyn Ack> {
        Arc::new(Recording {
            name,
            calls: Arc::clone(calls),
            fail_batches,
        })
    }

    fn delivery(acker: &Arc<dyn Ack>, token: u64) -> Delivery {
        Delivery::new(
            Message::new("x"),
            Origin::new("t", Arc::clone(acker)),
            1,
            token,
        )
    }

    #[tokio::test]
    async fn ack_all_calls_ack_batch_once_per_run_of_one_acker() {
        let calls = Calls::default();
        let a = acker("a", &calls, false);
        let b = acker("b", &calls, false);
        let mut batch = vec![
            delivery(&a, 1),
            delivery(&a, 2),
            delivery(&b, 10),
            delivery(&b, 11),
            delivery(&b, 12),
            delivery(&a, 3),
        ];
        Delivery::ack_all(&mut batch).await.expect("acked");
        assert!(batch.iter().all(Delivery::is_settled));
        assert_eq!(
            *calls.lock().expect("not poisoned"),
            vec![("a", vec![1, 2]), ("b", vec![10, 11, 12]), ("a", vec![3])]
        );
    }

    #[tokio::test]
    async fn ack_all_refuses_a_batch_holding_a_settled_delivery() {
        let calls = Calls::default();
        let a = acker("a", &calls, false);
        let mut batch = vec![delivery(&a, 1), delivery(&a, 2), delivery(&a, 3)];
        batch[1].ack().await.expect("acked");
        let error = Delivery::ack_all(&mut batch)
            .await
            .expect_err("one was settled");
        assert_eq!(error.kind(), ErrorKind::AlreadySettled);
        assert!(!batch[0].is_settled() && !batch[2].is_settled());
        assert_eq!(*calls.lock().expect("not poisoned"), vec![("a", vec![2])]);

        calls.lock().expect("not poisoned").clear();
        let mut rest = vec![batch.remove(0), batch.remove(1)];
        Delivery::ack_all(&mut rest).await.expect("acked");
        let again = Delivery::ack_all(&mut rest).await.expect_err("settled");
        assert_eq!(again.kind(), ErrorKind::AlreadySettled);
        assert_eq!(
            *calls.lock().expect("not poisoned"),
            vec![("a", vec![1, 3])]
        );
    }

    #[tokio::test]
    async fn ack_all_of_nothing_is_ok() {
        Delivery::ack_all(&mut []).await.expect("nothing to ack");
    }

    #[tokio::test]
    async fn ack_all_settles_the_other_runs_and_returns_the_first_error() {
        let calls = Calls::default();
        let bad = acker("bad", &calls, true);
        let good = acker("good", &calls, false);
        let mut batch = vec![delivery(&bad, 1), delivery(&good, 2)];
        let error = Delivery::ack_all(&mut batch).await.expect_err("bad fails");
        assert_eq!(error.kind(), ErrorKind::Ack);
        assert!(batch.iter().all(Delivery::is_settled));
        assert_eq!(
            *calls.lock().expect("not poisoned"),
            vec![("bad", vec![1]), ("good", vec![2])]
        );
    }

    #[tokio::test]
    async fn default_ack_batch_acks_each_token_in_turn() {
        struct Plain(Mutex<Vec<u64>>);
        #[async_trait]
        impl Ack for Plain {
            async fn ack(&self, token: u64) -> Result<()> {
                self.0.lock().expect("not poisoned").push(token);
                if token == 3 {
                    return Err(Error::new("test", ErrorKind::Ack, "refused"));
                }
                Ok(())
            }
            async fn nack(&self, _token: u64, _requeue: bool) -> Result<()> {
                Ok(())
            }
        }
        let plain = Plain(Mutex::new(Vec::new()));
        plain.ack_batch(&[1, 2]).await.expect("acked");
        assert!(plain.ack_batch(&[3, 4]).await.is_err());
        assert_eq!(*plain.0.lock().expect("not poisoned"), vec![1, 2, 3]);
    }
}
