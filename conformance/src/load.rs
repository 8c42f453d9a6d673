//! Load and lifecycle: many concurrent sends, subscribe/close churn, the prefetch bound.

use std::time::Duration;

use courier_core::{Consumer, Delivery, Message};
use futures::{StreamExt, TryStreamExt, future::try_join_all, stream};
use tokio::time::Instant;

use super::harness::{
    Context, Ctx, Failure, MemberOptions, Members, TestResult, ack_all, close, ensure, expect_all,
    expect_exactly, expect_silence, fail, join, spawn_send,
};

/// 10,000 sends, half through concurrent `send_batch` calls and half through concurrent
/// `send`s (512 in flight), then `close`: every message arrives.
pub(super) async fn concurrent_sends(ctx: Ctx) -> TestResult {
    const TOTAL: usize = 10_000;
    let topic = ctx.topic("bulk");
    let members = Members::spawn(
        vec![ctx.subscribe(&topic, &ctx.group("g"), 256).await?],
        MemberOptions {
            batch: 256,
            work: Duration::ZERO,
        },
    );
    let sent: Vec<Message> = ctx
        .numbered("bulk", TOTAL)
        .into_iter()
        .enumerate()
        .map(|(i, m)| m.with_key(format!("k{}", i % 32)))
        .collect();
    let (batched, single) = sent.split_at(TOTAL / 2);
    let producer = ctx.producer().await?;
    let batches = try_join_all(
        batched
            .chunks(500)
            .map(|chunk| producer.send_batch(&topic, chunk.to_vec())),
    );
    let singles = stream::iter(single.iter().cloned())
        .map(|m| producer.send(&topic, m))
        .buffer_unordered(512)
        .try_collect::<Vec<()>>();
    futures::try_join!(batches, singles).context("concurrent sends")?;
    producer.close().await.context("closing the producer")?;
    members
        .wait_distinct(TOTAL, ctx.deadline, "10,000 concurrent sends")
        .await?;
    let got = members.finish(ctx.settle).await?;
    let duplicates = expect_all(&sent, &got, &topic, "10,000 concurrent sends")?;
    if !duplicates.is_empty() {
        ctx.note(format!("{} duplicate deliveries", duplicates.len()));
    }
    Ok(())
}

/// Four tasks subscribe to and close consumers of one group three times each, all at once
/// (some cancel a pending `recv` on the way); afterwards a new consumer of that group
/// receives every message sent, once.
pub(super) async fn subscribe_close_churn(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("churn");
    let group = ctx.group("g");
    let cycles = (0..4).map(|task| {
        let (broker, topic, group) = (ctx.broker.clone(), topic.clone(), group.clone());
        tokio::spawn(async move {
            for cycle in 0..3 {
                let subscription = courier_core::Subscription::new(&topic, &group).with_prefetch(8);
                let mut consumer = broker
                    .subscribe(subscription)
                    .await
                    .context(format!("churn task {task}, cycle {cycle}: subscribe"))?;
                if (task + cycle) % 2 == 0 {
                    // Drop a pending recv (cancel safety), then close.
                    let _ = tokio::time::timeout(Duration::from_millis(2), consumer.recv()).await;
                }
                close(consumer, &format!("churn task {task}, cycle {cycle}")).await?;
            }
            Ok(())
        })
    });
    for (task, handle) in cycles.enumerate() {
        join(handle, &format!("churn task {task}")).await?;
    }
    let members = Members::one(ctx.subscribe(&topic, &group, 64).await?);
    let sent = ctx.numbered("after-churn", 100);
    let producer = ctx.producer().await?;
    join(spawn_send(producer, topic.clone(), sent.clone()), "send").await?;
    members
        .wait_distinct(sent.len(), ctx.deadline, "after the churn")
        .await?;
    let got = members.finish(ctx.settle).await?;
    expect_exactly(&sent, &got, &topic, "after the churn")
}

/// Receives one batch into `held`, failing when it would exceed `PREFETCH` unacked; `None`
/// when nothing arrived by `until`.
async fn receive_bounded(
    consumer: &mut dyn Consumer,
    held: &mut Vec<Delivery>,
    seen: &mut Vec<String>,
    until: Instant,
) -> TestResult<Option<()>> {
    let batch = match tokio::time::timeout_at(until, consumer.recv_batch(100)).await {
        Err(_) => return Ok(None),
        Ok(Err(e)) => fail!("recv_batch failed: {e}"),
        Ok(Ok(batch)) if batch.is_empty() => fail!("the consumer closed unexpectedly"),
        Ok(Ok(batch)) => batch,
    };
    ensure!(
        held.len() + batch.len() <= PREFETCH,
        "holding {} unacked deliveries, recv_batch returned {} more; prefetch is {PREFETCH}",
        held.len(),
        batch.len()
    );
    seen.extend(batch.iter().map(|d| d.message.id.to_string()));
    held.extend(batch);
    Ok(Some(()))
}

const PREFETCH: usize = 5;

/// With prefetch 5, a consumer never holds more than 5 unacked deliveries: `recv_batch(100)`
/// never returns more than the room left, a 6th delivery does not come while 5 are held,
/// after two acks at most two more come, and every message arrives once the held ones are
/// acked.
pub(super) async fn prefetch_bound(ctx: Ctx) -> TestResult {
    const TOTAL: usize = 30;
    let topic = ctx.topic("prefetch");
    let mut consumer = ctx.subscribe(&topic, &ctx.group("g"), PREFETCH).await?;
    let sent = ctx.numbered("prefetch", TOTAL);
    let sending = spawn_send(ctx.producer().await?, topic.clone(), sent.clone());
    let mut held: Vec<Delivery> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let starved = |seen: &[String], held: &[Delivery]| {
        Failure(format!(
            "{} of {TOTAL} received before the deadline ({} held unacked)",
            seen.len(),
            held.len()
        ))
    };
    // Fill up to the prefetch.
    while held.len() < PREFETCH {
        receive_bounded(consumer.as_mut(), &mut held, &mut seen, ctx.deadline)
            .await?
            .ok_or_else(|| starved(&seen, &held))?;
    }
    // Full: nothing more may arrive until an ack.
    expect_silence(
        consumer.as_mut(),
        ctx.settle,
        "a 6th delivery while 5 are unacked",
    )
    .await
    .map_err(|f| Failure(format!("prefetch {PREFETCH}: {}", f.0)))?;
    // Ack two: at most two more may come. A backend that resumes only further below the
    // bound (hysteresis) sends none yet; that is allowed, and noted.
    let mut two: Vec<Delivery> = held.drain(..2).collect();
    ack_all(&mut two, "ack of two").await?;
    let refill_until = Instant::now() + ctx.settle;
    while held.len() < PREFETCH {
        if receive_bounded(consumer.as_mut(), &mut held, &mut seen, refill_until)
            .await?
            .is_none()
        {
            ctx.note(format!(
                "after 2 acks with {} held, no refill within {:?}",
                held.len(),
                ctx.settle
            ));
            break;
        }
    }
    // Drain: ack what is held, receive the rest (every batch still within the bound).
    while seen.len() < TOTAL {
        ack_all(&mut held, "ack").await?;
        held.clear();
        receive_bounded(consumer.as_mut(), &mut held, &mut seen, ctx.deadline)
            .await?
            .ok_or_else(|| starved(&seen, &held))?;
    }
    ack_all(&mut held, "ack").await?;
    join(sending, "send").await?;
    let mut ids = seen.clone();
    ids.sort_unstable();
    ids.dedup();
    ensure!(
        ids.len() == TOTAL && seen.len() == TOTAL,
        "{} deliveries of {} distinct messages; expected {TOTAL} once each",
        seen.len(),
        ids.len()
    );
    expect_silence(
        consumer.as_mut(),
        ctx.settle,
        "after every message was acked",
    )
    .await?;
    close(consumer, "the consumer").await
}
