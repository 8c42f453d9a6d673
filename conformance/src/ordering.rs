//! Per-key order, with one consumer and with several in one group.

use std::{collections::BTreeMap, time::Duration};

use courier_core::Message;

use super::harness::{
    Ctx, MemberOptions, Members, SEQ, TestResult, ensure, expect_exactly, expect_per_key_order,
    send_batch,
};

const MESSAGES: usize = 1_000;
const KEYS: usize = 16;
const BATCHES: usize = 4;
/// Paced sending with several consumers: waves of 8 messages per key, each sent once at most
/// WINDOW of the earlier ones are still on their way (few waves, so slow brokers pay little).
const PACED_BATCH: usize = 8 * KEYS;
const WINDOW: usize = 4;

/// 1,000 messages over 16 keys, numbered per key, and how many each key got.
pub(super) fn keyed(
    ctx: &Ctx,
    tag: &str,
    messages: usize,
    keys: usize,
) -> (Vec<Message>, BTreeMap<String, u64>) {
    let mut per_key: BTreeMap<String, u64> = BTreeMap::new();
    let sent = (0..messages)
        .map(|i| {
            let key = format!("customer-{}", i % keys);
            let seq = per_key.entry(key.clone()).or_default();
            let m = Message::new(format!("{key} #{seq}"))
                .with_id(ctx.id(tag, i))
                .with_key(key)
                .with_header(SEQ, seq.to_string());
            *seq += 1;
            m
        })
        .collect();
    (sent, per_key)
}

async fn run(ctx: Ctx, consumers: usize) -> TestResult {
    let topic = ctx.topic("ordered");
    let group = ctx.group("g");
    let mut subscribed = Vec::with_capacity(consumers);
    for _ in 0..consumers {
        let prefetch = if consumers > 1 { 8 } else { 64 };
        subscribed.push(ctx.subscribe(&topic, &group, prefetch).await?);
    }
    let members = Members::spawn(
        subscribed,
        MemberOptions {
            batch: if consumers > 1 { 8 } else { 64 },
            // With several consumers, some work per batch makes them interleave.
            work: if consumers > 1 {
                Duration::from_millis(1)
            } else {
                Duration::ZERO
            },
        },
    );
    let (sent, per_key) = keyed(&ctx, "ordered", MESSAGES, KEYS);
    let producer = ctx.producer().await?;
    if consumers == 1 {
        // Batches one after another (each batch's messages in flight together): per key, the
        // order is the order of the batch.
        for chunk in sent.chunks(MESSAGES / BATCHES) {
            send_batch(&producer, &topic, chunk.to_vec()).await?;
        }
    } else {
        // Paced in waves: before each wave nearly everything sent is received, so a key's
        // consumer often runs dry and the key may move to another consumer.
        let mut sent_so_far: usize = 0;
        for chunk in sent.chunks(PACED_BATCH) {
            let floor = sent_so_far.saturating_sub(WINDOW);
            members
                .wait_until(ctx.deadline, "paced sending", |got| got.len() >= floor)
                .await?;
            send_batch(&producer, &topic, chunk.to_vec()).await?;
            sent_so_far += chunk.len();
        }
    }
    members
        .wait_distinct(sent.len(), ctx.deadline, "per-key order")
        .await?;
    let got = members.finish(ctx.settle).await?;
    expect_exactly(&sent, &got, &topic, "per-key order")?;
    expect_per_key_order(&got, &per_key, "per-key order")?;
    if consumers > 1 {
        let mut per_member = vec![0usize; consumers];
        for r in &got {
            per_member[r.member] += 1;
        }
        let moved = keys_moved(&got);
        ctx.note(format!(
            "split {per_member:?}, {moved} key moves between consumers"
        ));
        ensure!(
            per_member.iter().filter(|n| **n > 0).count() >= 2,
            "one consumer received every message ({per_member:?}): order across consumers was not exercised"
        );
    }
    Ok(())
}

/// How often a key's next message went to another consumer than its previous one.
fn keys_moved(log: &[super::harness::Received]) -> usize {
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    let mut moved = 0;
    for r in log {
        let Some(key) = r.message.key.as_deref() else {
            continue;
        };
        if last.insert(key, r.member).is_some_and(|m| m != r.member) {
            moved += 1;
        }
    }
    moved
}

/// 1,000 messages over 16 keys keep their order per key with one consumer.
pub(super) async fn per_key_order(ctx: Ctx) -> TestResult {
    run(ctx, 1).await
}

/// The same with three consumers in one group: the deliveries, logged in the order the
/// consumers received them (before each ack), keep each key's order.
pub(super) async fn per_key_order_across_consumers(ctx: Ctx) -> TestResult {
    run(ctx, 3).await
}
