//! Delayed delivery without a plugin: per-delay queues whose messages expire into their
//! destination.
//!
//! A delayed message is published (confirmed) to a *delay queue* that nobody consumes. The
//! queue has a message TTL equal to the delay and a dead-letter exchange: when a message
//! expires, RabbitMQ moves it to its destination.
//!
//! * A retry of group queue `Q` after `d` ms goes to `Q.delay-<d>ms`, which dead-letters
//!   through the default exchange to `Q` itself: no other group of the topic sees it.
//! * A delayed send to topic `T` goes to `T.send-delay-<d>ms`, which dead-letters to the
//!   exchange `T`, so every group of the topic receives it.
//!
//! RabbitMQ expires messages only at the head of a queue, so one queue holds one delay: then
//! its order is its expiry order. Delays are rounded up to a step of 1, 1.2, 1.5, 1.8, 2, 2.5,
//! 3, 3.5, 4, 5, 6, 7 or 8 times a power of ten milliseconds (1234 ms waits 1500 ms; never less
//! than asked, at most a quarter more), which bounds how many delay queues a jittered
//! backoff creates to thirteen per factor of ten. A delay
//! queue removes itself (`x-expires`) once unused for twice its delay plus a minute, and is
//! declared again before that lease can lapse while it is in use.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use courier_core::{Error, ErrorKind, Result};
use lapin::{
    options::QueueDeclareOptions,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use tokio::time::Instant;

use crate::{
    BACKEND,
    connector::Connector,
    error::{from_lapin, kind_of},
    naming::MAX_NAME,
    publisher::{Outgoing, Publisher, Target},
    topology::declare_exchange,
};

/// Where a delayed message goes once its delay has passed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Destination<'a> {
    /// One group's queue: a retry.
    Queue(&'a str),
    /// A topic's exchange: a delayed send.
    Topic(&'a str),
}

/// The delay queues of one broker connection: declares them on first use and publishes to
/// them.
#[derive(Debug)]
pub(crate) struct Delays {
    connector: Arc<Connector>,
    /// Publishes retries (the broker's requeue publisher).
    retries: Arc<Publisher>,
    /// Delay queues declared, with when: declared again once half their lease is gone.
    declared: Mutex<HashMap<String, Instant>>,
}

impl Delays {
    /// Delay queues declared on `connector`; retries are published with `retries`.
    pub(crate) fn new(connector: Arc<Connector>, retries: Arc<Publisher>) -> Self {
        Self {
            connector,
            retries,
            declared: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes `copy` to reach the group queue `queue` once `delay` has passed, returning
    /// once RabbitMQ has confirmed it.
    ///
    /// # Errors
    /// As for [`send`](Self::send).
    ///
    /// # Cancel safety
    /// As for [`send`](Self::send).
    pub(crate) async fn retry(&self, queue: &str, delay: Duration, copy: Outgoing) -> Result<()> {
        self.send(&self.retries, Destination::Queue(queue), delay, vec![copy])
            .await
    }

    /// Publishes `items` with `publisher` (their routing keys are replaced) to reach
    /// `destination` once `delay` has passed, returning once RabbitMQ has confirmed them.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the delay queue's name would be too long or RabbitMQ
    /// refuses it; otherwise as for [`Publisher::publish`].
    ///
    /// # Cancel safety
    /// As for [`Publisher::publish`]: dropped early, some items may have been published.
    pub(crate) async fn send(
        &self,
        publisher: &Publisher,
        destination: Destination<'_>,
        delay: Duration,
        mut items: Vec<Outgoing>,
    ) -> Result<()> {
        let ttl = rounded_ms(delay);
        let queue = queue_name(destination, ttl)?;
        self.ensure(&queue, destination, ttl).await?;
        let routing_key = ShortString::from(queue.as_str());
        for item in &mut items {
            item.routing_key = routing_key.clone();
        }
        let target = Target {
            exchange: ShortString::default(),
            declare: false,
            mandatory: true,
        };
        publisher.publish(&target, items).await
    }

    /// Declares the delay queue `queue` unless it was declared within half its lease.
    async fn ensure(&self, queue: &str, destination: Destination<'_>, ttl: u64) -> Result<()> {
        let lease = expires_ms(ttl);
        let fresh = self
            .lock()
            .get(queue)
            .is_some_and(|at| at.elapsed() < Duration::from_millis(lease / 2));
        if fresh {
            return Ok(());
        }
        let channel = self.connector.channel().await?;
        let failed = |what: &str, e: lapin::Error| {
            from_lapin(
                kind_of(&e, ErrorKind::Connection),
                &format!("declaring the delay queue {queue} failed ({what})"),
                e,
            )
        };
        if let Destination::Topic(topic) = destination {
            declare_exchange(&channel, topic)
                .await
                .map_err(|e| failed("its topic's exchange", e))?;
        }
        channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments(destination, ttl, lease),
            )
            .await
            .map_err(|e| failed("the queue", e))?;
        channel.close(200, "declared".into()).await.ok();
        self.lock().insert(queue.to_owned(), Instant::now());
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.declared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The delays a delay queue has: 1 to 9 ms, then these steps times a power of ten (a delay
/// just above one step waits at most a quarter longer at the next).
const STEPS: [u64; 13] = [10, 12, 15, 18, 20, 25, 30, 35, 40, 50, 60, 70, 80];

/// The longest delay: RabbitMQ's message TTL is at most 2^32 - 1 ms (about 49 days).
pub(crate) const MAX_DELAY_MS: u64 = u32::MAX as u64;

/// `delay` in milliseconds rounded up to the next step of [`STEPS`] (at least 1 ms, at most
/// [`MAX_DELAY_MS`]): never shorter than asked, at most a quarter longer.
pub(crate) fn rounded_ms(delay: Duration) -> u64 {
    let ms = u64::try_from(delay.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_DELAY_MS);
    if ms < STEPS[0] {
        return ms;
    }
    let mut scale = 1u64;
    while scale <= MAX_DELAY_MS {
        if let Some(step) = STEPS.iter().map(|s| s * scale).find(|v| *v >= ms) {
            return step.min(MAX_DELAY_MS);
        }
        scale *= 10;
    }
    MAX_DELAY_MS
}

/// The lease of a delay queue with `ttl`: twice the delay plus a minute.
fn expires_ms(ttl: u64) -> u64 {
    ttl.saturating_mul(2).saturating_add(60_000)
}

/// The delay queue of `destination` for `ttl` ms.
///
/// # Errors
/// [`ErrorKind::Config`] when the name would pass AMQP's 255 bytes.
pub(crate) fn queue_name(destination: Destination<'_>, ttl: u64) -> Result<String> {
    let name = match destination {
        Destination::Queue(queue) => format!("{queue}.delay-{ttl}ms"),
        Destination::Topic(topic) => format!("{topic}.send-delay-{ttl}ms"),
    };
    if name.len() > MAX_NAME {
        return Err(Error::new(
            BACKEND,
            ErrorKind::Config,
            format!(
                "the delay queue {name:?} would be {} bytes long; RabbitMQ names are at most \
                 {MAX_NAME} bytes (shorten the topic or group name)",
                name.len()
            ),
        ));
    }
    Ok(name)
}

fn arguments(destination: Destination<'_>, ttl: u64, lease: u64) -> FieldTable {
    let long = |n: u64| AMQPValue::LongLongInt(i64::try_from(n).unwrap_or(i64::MAX));
    let text = |s: &str| AMQPValue::LongString(LongString::from(s));
    let mut arguments = FieldTable::default();
    arguments.insert("x-message-ttl".into(), long(ttl));
    arguments.insert("x-expires".into(), long(lease));
    match destination {
        Destination::Queue(queue) => {
            arguments.insert("x-dead-letter-exchange".into(), text(""));
            arguments.insert("x-dead-letter-routing-key".into(), text(queue));
        }
        Destination::Topic(topic) => {
            arguments.insert("x-dead-letter-exchange".into(), text(topic));
        }
    }
    arguments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_to_a_step_never_down_and_at_most_a_quarter_up() {
        for (ms, rounded) in [
            (0, 1),
            (1, 1),
            (9, 9),
            (10, 10),
            (11, 12),
            (99, 100),
            (101, 120),
            (1234, 1500),
            (1500, 1500),
            (59_999, 60_000),
            (86_400_000, 100_000_000),
        ] {
            assert_eq!(rounded_ms(Duration::from_millis(ms)), rounded, "{ms} ms");
        }
        for ms in (1..200_000).step_by(7) {
            let got = rounded_ms(Duration::from_millis(ms));
            assert!(got >= ms && got * 4 <= ms * 5, "{ms} ms rounded to {got}");
        }
        assert_eq!(rounded_ms(Duration::MAX), MAX_DELAY_MS);
    }

    #[test]
    fn retries_and_sends_have_their_own_queues_and_long_names_are_refused() {
        assert_eq!(
            queue_name(Destination::Queue("orders.billing"), 1500).expect("name"),
            "orders.billing.delay-1500ms"
        );
        assert_eq!(
            queue_name(Destination::Topic("orders"), 1500).expect("name"),
            "orders.send-delay-1500ms"
        );
        let long = "q".repeat(250);
        let error = queue_name(Destination::Queue(&long), 1500).expect_err("too long");
        assert_eq!(error.kind(), ErrorKind::Config);
    }
}
