//! Delayed delivery: a retry after a delay ([`Delivery::retry_after`]) and a delayed send
//! ([`Producer::send_after`]) arrive no sooner than asked, with the attempt counted for the
//! retry, while other messages keep flowing; and the runtime's retries through the broker
//! never hold back the messages behind them.
//!
//! [`Delivery::retry_after`]: courier_core::Delivery::retry_after
//! [`Producer::send_after`]: courier_core::Producer::send_after

use std::time::Duration;

use courier_core::{Context as HandlerContext, HandlerError, Message, Runtime, RuntimeSettings};
use tokio::{sync::mpsc, time::Instant};

use super::harness::{
    Context, Ctx, TestResult, close, ensure, expect_silence, fail, recv_one, send_batch,
};

/// How long the cases delay: long enough to tell from a plain redelivery, short enough for a
/// quick suite.
const DELAY: Duration = Duration::from_millis(1_500);

/// What a broker's timer may fire early by (clock granularity).
const EARLY: Duration = Duration::from_millis(50);

/// A retry after [`DELAY`] comes back no sooner, with the next attempt, while the consumer
/// (holding a prefetch of 1) takes the message behind it, of the same key, at once; another
/// group of the topic receives the message once, untouched by the retry.
pub(super) async fn retry_after_delays_the_redelivery(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("retry-after");
    let mut a = ctx.subscribe(&topic, &ctx.group("a"), 1).await?;
    let mut b = ctx.subscribe(&topic, &ctx.group("b"), 8).await?;
    let sent: Vec<Message> = ctx
        .numbered("retry-after", 2)
        .into_iter()
        .map(|m| m.with_key("one-key"))
        .collect();
    send_batch(&ctx.producer().await?, &topic, sent.clone()).await?;

    let mut first = recv_one(a.as_mut(), ctx.deadline, "the first message").await?;
    ensure!(
        first.message.id == sent[0].id && first.attempt == 1,
        "expected {} at attempt 1 first, got {} at attempt {}",
        sent[0].id,
        first.message.id,
        first.attempt
    );
    let retried_at = Instant::now();
    first
        .retry_after(DELAY)
        .await
        .context("retry_after on the first message")?;
    let mut second = recv_one(a.as_mut(), ctx.deadline, "the message behind the retry").await?;
    let waited = retried_at.elapsed();
    ensure!(
        second.message.id == sent[1].id,
        "expected {} while the first waits, got {} (attempt {})",
        sent[1].id,
        second.message.id,
        second.attempt
    );
    ensure!(
        waited < DELAY,
        "the message behind the retry took {waited:?}: the retry held the consumer"
    );
    second.ack().await.context("ack of the second message")?;

    let mut again = recv_one(a.as_mut(), ctx.deadline, "the retried message").await?;
    let after = retried_at.elapsed();
    ensure!(
        again.message.id == sent[0].id,
        "expected the retried {}, got {}",
        sent[0].id,
        again.message.id
    );
    ensure!(
        after + EARLY >= DELAY,
        "the retry came back after {after:?}, before its delay of {DELAY:?}"
    );
    ensure!(
        again.attempt == 2,
        "the retry came back with attempt {}, expected 2",
        again.attempt
    );
    ensure!(
        again.message.payload == sent[0].payload,
        "the retry's payload changed"
    );
    again.ack().await.context("ack of the retried message")?;
    expect_silence(a.as_mut(), ctx.settle, "group a after its acks").await?;

    for m in &sent {
        let mut d = recv_one(b.as_mut(), ctx.deadline, "group b's deliveries").await?;
        ensure!(
            d.message.id == m.id && d.attempt == 1,
            "group b got {} at attempt {}, expected {} at attempt 1",
            d.message.id,
            d.attempt,
            m.id
        );
        d.ack().await.context("ack in group b")?;
    }
    expect_silence(b.as_mut(), ctx.settle, "group b after group a's retry").await?;
    close(a, "group a's consumer").await?;
    close(b, "group b's consumer").await
}

/// A message sent with [`DELAY`] arrives no sooner, at attempt 1, and a message sent after
/// it without a delay arrives first.
pub(super) async fn send_after_delays_the_message(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("send-after");
    let mut consumer = ctx.subscribe(&topic, &ctx.group("g"), 8).await?;
    let mut sent = ctx.numbered("send-after", 2);
    let plain = sent.pop().unwrap_or_else(|| Message::new("plain"));
    let delayed = sent.pop().unwrap_or_else(|| Message::new("delayed"));
    let producer = ctx.producer().await?;
    let sent_at = Instant::now();
    producer
        .send_after(&topic, delayed.clone(), DELAY)
        .await
        .context("send_after")?;
    producer
        .send(&topic, plain.clone())
        .await
        .context("the plain send")?;

    let mut first = recv_one(consumer.as_mut(), ctx.deadline, "the plain message").await?;
    ensure!(
        first.message.id == plain.id,
        "expected the plain {} first, got {} after {:?}",
        plain.id,
        first.message.id,
        sent_at.elapsed()
    );
    first.ack().await.context("ack of the plain message")?;
    let mut later = recv_one(consumer.as_mut(), ctx.deadline, "the delayed message").await?;
    let after = sent_at.elapsed();
    ensure!(
        later.message.id == delayed.id && later.attempt == 1,
        "expected the delayed {} at attempt 1, got {} at attempt {}",
        delayed.id,
        later.message.id,
        later.attempt
    );
    ensure!(
        after + EARLY >= DELAY,
        "the delayed message came after {after:?}, before its delay of {DELAY:?}"
    );
    ensure!(
        later.message.payload == delayed.payload && later.message.key == delayed.key,
        "the delayed message changed on the way"
    );
    later.ack().await.context("ack of the delayed message")?;
    expect_silence(consumer.as_mut(), ctx.settle, "after the delayed message").await?;
    close(consumer, "the consumer").await
}

/// A handler call: the message id, its attempt and when it ran.
type Call = (String, u32, Instant);

/// With one lane, a message that fails once is retried through the broker after its backoff
/// while the messages of its key sent behind it are handled at once; it is then handled at
/// attempt 2, no sooner than the backoff.
pub(super) async fn runtime_retry_does_not_block_the_lane(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("rt-delayed");
    let group = ctx.group("svc");
    let sent: Vec<Message> = ctx
        .numbered("rt-delayed", 6)
        .into_iter()
        .map(|m| m.with_key("one-key"))
        .collect();
    let failing = sent[0].id.to_string();
    let settings = RuntimeSettings {
        max_attempts: 3,
        backoff_initial_ms: DELAY.as_millis() as u64,
        backoff_max_ms: DELAY.as_millis() as u64,
        jitter: false,
        concurrency: 1,
        prefetch: 8,
        shutdown_deadline_ms: 10_000,
        delayed_retries: true,
        ..RuntimeSettings::default()
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
    let mut runtime = Runtime::new(ctx.broker.clone(), settings);
    runtime.handle_fn(
        topic.clone(),
        group.clone(),
        move |m: Message, cx: HandlerContext| {
            let tx = tx.clone();
            let fail_now = m.id.text().as_str() == failing && cx.attempt == 1;
            async move {
                let _ = tx.send((m.id.to_string(), cx.attempt, Instant::now()));
                if fail_now {
                    return Err(HandlerError::transient("simulated hiccup"));
                }
                Ok(())
            }
        },
    );
    let running = runtime.start().await.context("starting the runtime")?;
    send_batch(&ctx.producer().await?, &topic, sent.clone()).await?;
    let mut calls: Vec<Call> = Vec::new();
    while calls.len() < sent.len() + 1 {
        match tokio::time::timeout_at(ctx.deadline, rx.recv()).await {
            Ok(Some(call)) => calls.push(call),
            _ => fail!("handler calls before the deadline: {:?}", ids(&calls)),
        }
    }
    let shutdown = running.shutdown().await;
    ensure!(
        calls[0].0 == sent[0].id.text().as_str() && calls[0].1 == 1,
        "the first call should be {} at attempt 1: {:?}",
        sent[0].id,
        ids(&calls)
    );
    let (last_id, last_attempt, last_at) = calls[calls.len() - 1].clone();
    ensure!(
        last_id == sent[0].id.text().as_str() && last_attempt == 2,
        "the retried {} should come last, at attempt 2: {:?}",
        sent[0].id,
        ids(&calls)
    );
    let waited = last_at - calls[0].2;
    ensure!(
        waited + EARLY >= DELAY,
        "the retry ran after {waited:?}, before its backoff of {DELAY:?}"
    );
    let behind = calls[sent.len() - 1].2 - calls[0].2;
    ensure!(
        behind < DELAY,
        "the messages behind the retry were handled {behind:?} after it failed: the retry \
         blocked the lane"
    );
    shutdown.context("runtime shutdown")
}

fn ids(calls: &[Call]) -> Vec<(String, u32)> {
    calls.iter().map(|(id, a, _)| (id.clone(), *a)).collect()
}
