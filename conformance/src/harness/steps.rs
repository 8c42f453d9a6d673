//! The steps of a case that talk to the broker, each bounded by a deadline or a timeout:
//! sending, receiving, expecting silence, acking and closing.

use std::{sync::Arc, time::Duration};

use courier_core::{Consumer, Delivery, Message, Producer};
use futures::future::join_all;
use tokio::{task::JoinHandle, time::Instant};

use super::failure::{Context, TestResult, fail};

/// Sends `messages` to `topic` in one `send_batch`.
pub(crate) async fn send_batch(
    producer: &Arc<dyn Producer>,
    topic: &str,
    messages: Vec<Message>,
) -> TestResult {
    let n = messages.len();
    producer
        .send_batch(topic, messages)
        .await
        .context(format!("send_batch of {n} messages to {topic}"))
}

/// Sends `messages` in a background task (so a broker that applies backpressure while nothing
/// consumes yet cannot stall the test before its consumers run).
pub(crate) fn spawn_send(
    producer: Arc<dyn Producer>,
    topic: String,
    messages: Vec<Message>,
) -> JoinHandle<TestResult> {
    tokio::spawn(async move { send_batch(&producer, &topic, messages).await })
}

/// Awaits a spawned step of the test, turning a panic into a failure.
pub(crate) async fn join<T>(handle: JoinHandle<TestResult<T>>, what: &str) -> TestResult<T> {
    match handle.await {
        Ok(result) => result,
        Err(e) => fail!("{what}: task failed: {e}"),
    }
}

/// The next delivery of `consumer`, failing at the deadline or when it is closed.
pub(crate) async fn recv_one(
    consumer: &mut dyn Consumer,
    deadline: Instant,
    what: &str,
) -> TestResult<Delivery> {
    let mut retries = 0;
    loop {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Err(_) => fail!("{what}: nothing arrived before the deadline"),
            Ok(Ok(Some(d))) => return Ok(d),
            Ok(Ok(None)) => fail!("{what}: the consumer closed unexpectedly"),
            Ok(Err(e)) if e.is_retryable() && retries < 5 => retries += 1,
            Ok(Err(e)) => fail!("{what}: recv failed: {e}"),
        }
    }
}

/// Fails if `consumer` delivers anything within `window`.
pub(crate) async fn expect_silence(
    consumer: &mut dyn Consumer,
    window: Duration,
    what: &str,
) -> TestResult {
    match tokio::time::timeout(window, consumer.recv()).await {
        Err(_) => Ok(()),
        Ok(Ok(Some(d))) => fail!(
            "{what}: unexpected delivery of {} (attempt {}, redelivered {})",
            d.message.id,
            d.attempt,
            d.redelivered
        ),
        Ok(Ok(None)) => fail!("{what}: the consumer closed unexpectedly"),
        Ok(Err(e)) => fail!("{what}: recv failed: {e}"),
    }
}

/// Acks every delivery of `batch`, all in flight together.
pub(crate) async fn ack_all(batch: &mut [Delivery], what: &str) -> TestResult {
    for result in join_all(batch.iter_mut().map(Delivery::ack)).await {
        result.context(format!("{what}: ack"))?;
    }
    Ok(())
}

/// Closes `consumer`, failing the test when that fails.
pub(crate) async fn close(mut consumer: Box<dyn Consumer>, what: &str) -> TestResult {
    match tokio::time::timeout(Duration::from_secs(10), consumer.close()).await {
        Ok(result) => result.context(format!("closing {what}")),
        Err(_) => fail!("closing {what}: timed out after 10s"),
    }
}
