//! [`ZmqAck`], the consumer's [`Ack`]: the state the consumer, its connection task and the
//! deliveries it handed out share, and the checks that queue a settlement to the connection
//! task only while the consumer is open and the delivery's connection is the current one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use courier_core::{Ack, Error, ErrorKind, Result, token};
use tokio::sync::mpsc;

use super::settle::{Op, Settlement};
use crate::BACKEND;
use crate::delay;

/// State shared by the consumer, its connection task and the deliveries it handed out; it
/// is the consumer's [`Ack`].
#[derive(Debug)]
pub(super) struct ZmqAck {
    pub(super) generation: AtomicU64,
    pub(super) closed: AtomicBool,
    /// Set by the reader task on every message, cleared by the heartbeat check.
    pub(super) heard: AtomicBool,
    pub(super) settle: mpsc::UnboundedSender<Settlement>,
    /// The longest delay of a retry.
    pub(super) max_delay: Duration,
}

impl ZmqAck {
    fn settle(&self, token: u64, op: Op) -> Result<()> {
        let generation = self.open_generation()?;
        if !token::is_of(token, generation) {
            return Err(connection_lost());
        }
        self.settle
            .send(Settlement::One(token, op))
            .map_err(|_| task_stopped())
    }

    /// Queues an ack of every token with one check of closed and generation. The channel
    /// carries one settlement per item, which costs no lock; the connection task writes
    /// them out in batches.
    fn ack_batch(&self, tokens: &[u64]) -> Result<()> {
        let generation = self.open_generation()?;
        let current: Vec<u64> = tokens
            .iter()
            .copied()
            .filter(|&token| token::is_of(token, generation))
            .collect();
        let lost = current.len() < tokens.len();
        if !current.is_empty() {
            self.settle
                .send(Settlement::Acks(current))
                .map_err(|_| task_stopped())?;
        }
        if lost {
            return Err(connection_lost());
        }
        Ok(())
    }

    /// The current connection generation, unless the consumer is closed.
    fn open_generation(&self) -> Result<u64> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(
                BACKEND,
                ErrorKind::Ack,
                "the consumer is closed; its unsettled deliveries went back to the group",
            ));
        }
        Ok(self.generation.load(Ordering::Acquire))
    }
}

fn connection_lost() -> Error {
    Error::new(
        BACKEND,
        ErrorKind::Ack,
        "the connection this delivery came on was lost; it went back to its group",
    )
}

fn task_stopped() -> Error {
    Error::new(
        BACKEND,
        ErrorKind::Ack,
        "the consumer's connection task has stopped",
    )
}

#[async_trait]
impl Ack for ZmqAck {
    async fn ack(&self, token: u64) -> Result<()> {
        self.settle(token, Op::Ack)
    }

    async fn nack(&self, token: u64, requeue: bool) -> Result<()> {
        self.settle(token, if requeue { Op::Nack } else { Op::Reject })
    }

    /// Queues a `RETRY` (the binding side keeps the message aside, off this consumer's
    /// credit, until `delay` has passed); a zero delay is a plain requeue.
    ///
    /// # Errors
    /// As for [`nack`](Ack::nack): [`ErrorKind::Ack`] when the consumer is closed or the
    /// delivery's connection was lost (it went back to its group then). A delay longer than
    /// `max_delay_ms` requeues the delivery at once and returns [`ErrorKind::Config`].
    async fn nack_after(&self, token: u64, delay: Duration) -> Result<()> {
        if delay > self.max_delay {
            self.settle(token, Op::Nack)?;
            return Err(delay::refused(delay, self.max_delay));
        }
        match delay::to_ms(delay) {
            0 => self.settle(token, Op::Nack),
            delay_ms => self.settle(token, Op::Retry(delay_ms)),
        }
    }

    async fn ack_batch(&self, tokens: &[u64]) -> Result<()> {
        ZmqAck::ack_batch(self, tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(generation: u64) -> (ZmqAck, mpsc::UnboundedReceiver<Settlement>) {
        let (settle, settles) = mpsc::unbounded_channel();
        let shared = ZmqAck {
            generation: AtomicU64::new(generation),
            closed: AtomicBool::new(false),
            heard: AtomicBool::new(false),
            settle,
            max_delay: Duration::from_secs(60),
        };
        (shared, settles)
    }

    #[test]
    fn a_batch_queues_the_current_connections_acks_and_reports_the_lost_ones() {
        let (shared, mut settles) = shared(2);
        let current = |tag: u64| token::pack(2, tag);
        shared.ack_batch(&[current(1), current(2)]).expect("queued");
        let err = shared
            .ack_batch(&[token::pack(1, 3), current(4)])
            .expect_err("one came on a lost connection");
        assert_eq!(err.kind(), ErrorKind::Ack);
        let mut queued = Vec::new();
        while let Ok(settle) = settles.try_recv() {
            queued.push(settle);
        }
        assert_eq!(
            queued,
            vec![
                Settlement::Acks(vec![current(1), current(2)]),
                Settlement::Acks(vec![current(4)])
            ]
        );
        shared.closed.store(true, Ordering::Release);
        assert!(shared.ack_batch(&[current(5)]).is_err());
        assert!(settles.try_recv().is_err(), "nothing queued once closed");
    }

    #[tokio::test]
    async fn a_delayed_nack_queues_a_retry_or_requeues_at_once() {
        let (shared, mut settles) = shared(3);
        let current = |tag: u64| token::pack(3, tag);
        shared
            .nack_after(current(1), Duration::from_micros(1_500))
            .await
            .expect("queued");
        shared
            .nack_after(current(2), Duration::ZERO)
            .await
            .expect("a plain requeue");
        let too_long = shared
            .nack_after(current(3), Duration::from_secs(61))
            .await
            .expect_err("longer than max_delay");
        assert_eq!(too_long.kind(), ErrorKind::Config);
        let lost = shared
            .nack_after(token::pack(2, 4), Duration::from_secs(1))
            .await
            .expect_err("a delivery of a lost connection");
        assert_eq!(lost.kind(), ErrorKind::Ack);
        let mut queued = Vec::new();
        while let Ok(settle) = settles.try_recv() {
            queued.push(settle);
        }
        assert_eq!(
            queued,
            vec![
                Settlement::One(current(1), Op::Retry(2)),
                Settlement::One(current(2), Op::Nack),
                Settlement::One(current(3), Op::Nack)
            ]
        );
    }
}
