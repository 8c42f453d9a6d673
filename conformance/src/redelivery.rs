//! Redelivery: after a nack, and after a consumer leaves with unsettled deliveries.

use std::collections::{BTreeMap, BTreeSet};

use courier_core::{Capability, Consumer, Delivery, Message, MessageId};

use super::harness::{
    Context, Ctx, Members, TestResult, close, ensure, expect_silence, intact, recv_one, sample,
    send_batch,
};

/// `nack(requeue = true)` delivers the message again, intact, with attempt 2 and then 3 and
/// the redelivered flag; after the ack it does not come back.
pub(super) async fn nack_requeue_redelivers(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("nack");
    let mut consumer = ctx.subscribe(&topic, &ctx.group("g"), 8).await?;
    let sent = Message::new(vec![1u8, 2, 3, 255])
        .with_id(ctx.id("nack", 0))
        .with_key("order-1001")
        .with_header("suite-origin", "nack test");
    let producer = ctx.producer().await?;
    producer.send(&topic, sent.clone()).await.context("send")?;
    for expected_attempt in 1..=3u32 {
        let mut d = recv_one(consumer.as_mut(), ctx.deadline, "the nacked message").await?;
        ensure!(
            d.message.id == sent.id,
            "expected {} again, got {}",
            sent.id,
            d.message.id
        );
        intact(&sent, &d.message, &format!("attempt {expected_attempt}"))?;
        ensure!(
            d.attempt == expected_attempt,
            "delivery #{expected_attempt} has attempt {}",
            d.attempt
        );
        ensure!(
            d.redelivered == (expected_attempt > 1),
            "delivery #{expected_attempt} has redelivered = {}",
            d.redelivered
        );
        if expected_attempt < 3 {
            d.nack(true).await.context("nack(requeue)")?;
        } else {
            d.ack().await.context("ack")?;
        }
    }
    expect_silence(consumer.as_mut(), ctx.settle, "after the ack").await?;
    close(consumer, "the consumer").await
}

/// Receives `n` deliveries without settling them.
async fn hold(
    consumer: &mut dyn Consumer,
    n: usize,
    ctx: &Ctx,
    what: &str,
) -> TestResult<Vec<Delivery>> {
    let mut held = Vec::with_capacity(n);
    while held.len() < n {
        held.push(recv_one(consumer, ctx.deadline, what).await?);
    }
    Ok(held)
}

/// Consumer A takes 10 deliveries, acks 4 and is dropped or closed holding 6; consumer B of
/// the same group then receives those 6.
async fn leaves_holding(ctx: Ctx, drop_it: bool) -> TestResult {
    let topic = ctx.topic("leaving");
    let group = ctx.group("g");
    let mut a = ctx.subscribe(&topic, &group, 20).await?;
    let sent = ctx.numbered("held", 10);
    let producer = ctx.producer().await?;
    send_batch(&producer, &topic, sent).await?;
    let mut held = hold(a.as_mut(), 10, &ctx, "consumer A").await?;
    let unsettled = held.split_off(4);
    for d in &mut held {
        d.ack().await.context("ack by consumer A")?;
    }
    let acked: BTreeSet<MessageId> = held.iter().map(|d| d.message.id.clone()).collect();
    let expected: BTreeSet<MessageId> = unsettled.iter().map(|d| d.message.id.clone()).collect();
    // B is a member of the group before A goes.
    let b = Members::one(ctx.subscribe(&topic, &group, 20).await?);
    drop(unsettled);
    if drop_it {
        drop(a);
    } else {
        close(a, "consumer A").await?;
    }
    b.wait_until(
        ctx.deadline,
        "consumer B receiving A's unsettled deliveries",
        |got| {
            let ids: BTreeSet<&MessageId> = got.iter().map(|r| &r.message.id).collect();
            expected.iter().all(|id| ids.contains(id))
        },
    )
    .await?;
    let got = b.finish(ctx.settle).await?;
    let mut counts: BTreeMap<&MessageId, usize> = BTreeMap::new();
    for r in &got {
        *counts.entry(&r.message.id).or_default() += 1;
    }
    let twice: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id.to_string())
        .collect();
    ensure!(
        twice.is_empty(),
        "consumer B received {} message(s) more than once: {}",
        twice.len(),
        sample(&twice)
    );
    let strays: Vec<String> = counts
        .keys()
        .filter(|id| !expected.contains(**id) && !acked.contains(**id))
        .map(|id| id.to_string())
        .collect();
    ensure!(
        strays.is_empty(),
        "consumer B received unknown messages: {}",
        sample(&strays)
    );
    let came_back: Vec<String> = counts
        .keys()
        .filter(|id| acked.contains(**id))
        .map(|id| id.to_string())
        .collect();
    if !came_back.is_empty() {
        // At-least-once allows it, but it is worth knowing.
        ctx.note(format!(
            "{} acked message(s) were delivered again",
            came_back.len()
        ));
    }
    let unmarked = got
        .iter()
        .filter(|r| expected.contains(&r.message.id) && !r.redelivered && r.attempt < 2)
        .count();
    if unmarked > 0 && ctx.caps.has(Capability::AttemptCount) {
        // The message itself is what this test requires; the marking is reported.
        ctx.note(format!(
            "{unmarked} redelivered message(s) carried attempt 1 and redelivered false"
        ));
    }
    Ok(())
}

/// A consumer dropped while holding unacked deliveries: another member of its group
/// receives them.
pub(super) async fn dropped_consumer_redelivers(ctx: Ctx) -> TestResult {
    leaves_holding(ctx, true).await
}

/// Like [`dropped_consumer_redelivers`], with an explicit `close`.
pub(super) async fn closed_consumer_redelivers(ctx: Ctx) -> TestResult {
    leaves_holding(ctx, false).await
}

/// After a consumer nacks 100 times (requeue), every message is still consumed, and the
/// attempt number of each message grows with each delivery where the backend counts them.
pub(super) async fn nack_many_times(ctx: Ctx) -> TestResult {
    const MESSAGES: usize = 10;
    const NACKS: usize = 100;
    let topic = ctx.topic("nack-many");
    let mut consumer = ctx.subscribe(&topic, &ctx.group("g"), 16).await?;
    let producer = ctx.producer().await?;
    send_batch(&producer, &topic, ctx.numbered("again", MESSAGES)).await?;
    let counts_attempts = ctx.caps.has(Capability::AttemptCount);
    let mut nacks = 0;
    let mut last_attempt: BTreeMap<String, u32> = BTreeMap::new();
    let mut acked: BTreeSet<String> = BTreeSet::new();
    while acked.len() < MESSAGES {
        let what = format!("after {nacks} nacks and {} acks", acked.len());
        let mut d = recv_one(consumer.as_mut(), ctx.deadline, &what).await?;
        ensure!(
            !acked.contains(d.message.id.text().as_str()),
            "{} delivered again after its ack",
            d.message.id
        );
        let previous = last_attempt.insert(d.message.id.to_string(), d.attempt);
        if let (true, Some(previous)) = (counts_attempts, previous) {
            ensure!(
                d.attempt > previous,
                "{}: attempt {} after attempt {previous}",
                d.message.id,
                d.attempt
            );
        }
        if nacks < NACKS {
            nacks += 1;
            d.nack(true).await.context("nack(requeue)")?;
        } else {
            d.ack().await.context("ack")?;
            acked.insert(d.message.id.to_string());
        }
    }
    expect_silence(
        consumer.as_mut(),
        ctx.settle,
        "after every message was acked",
    )
    .await?;
    close(consumer, "the consumer").await
}
