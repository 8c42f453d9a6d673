//! Groups: fan-out between groups, competing consumers within one, retention for a group
//! with no consumer running.

use std::{collections::BTreeMap, time::Duration};

use courier_core::Message;
use futures::future::{join_all, try_join_all};

use super::harness::{
    Context, Ctx, MemberOptions, Members, TestResult, ensure, expect_exactly, send_batch,
};

/// Every one of three groups on a topic receives every message.
pub(super) async fn fan_out(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("events");
    let mut groups = Vec::new();
    for name in ["billing", "shipping", "audit"] {
        let consumer = ctx.subscribe(&topic, &ctx.group(name), 32).await?;
        groups.push((name, Members::one(consumer)));
    }
    let sent = ctx.numbered("fan", 50);
    let producer = ctx.producer().await?;
    // Concurrent single sends (the batch path is covered elsewhere).
    try_join_all(sent.iter().map(|m| producer.send(&topic, m.clone())))
        .await
        .context("concurrent sends")?;
    try_join_all(
        groups
            .iter()
            .map(|(name, m)| m.wait_distinct(sent.len(), ctx.deadline, name)),
    )
    .await?;
    let names: Vec<&str> = groups.iter().map(|(name, _)| *name).collect();
    let received = try_join_all(groups.into_iter().map(|(_, m)| m.finish(ctx.settle))).await?;
    for (name, got) in names.into_iter().zip(received) {
        expect_exactly(&sent, &got, &topic, &format!("group {name}"))?;
    }
    Ok(())
}

/// Two consumers of one group share its messages: none lost, none twice, both get some.
pub(super) async fn competing_consumers(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("work");
    let group = ctx.group("workers");
    let consumers = vec![
        ctx.subscribe(&topic, &group, 16).await?,
        ctx.subscribe(&topic, &group, 16).await?,
    ];
    // A little work per batch, so one fast consumer cannot take everything.
    let members = Members::spawn(
        consumers,
        MemberOptions {
            batch: 16,
            work: Duration::from_millis(2),
        },
    );
    // Distinct keys, so partitioned backends spread the messages over their partitions.
    let sent: Vec<Message> = ctx
        .numbered("work", 200)
        .into_iter()
        .enumerate()
        .map(|(i, m)| m.with_key(format!("k{i}")))
        .collect();
    let producer = ctx.producer().await?;
    send_batch(&producer, &topic, sent.clone()).await?;
    members
        .wait_distinct(sent.len(), ctx.deadline, "competing consumers")
        .await?;
    let got = members.finish(ctx.settle).await?;
    expect_exactly(&sent, &got, &topic, "competing consumers")?;
    let mut per_member: BTreeMap<usize, usize> = BTreeMap::new();
    for r in &got {
        *per_member.entry(r.member).or_default() += 1;
    }
    ensure!(
        per_member.len() == 2,
        "one consumer received all {} messages, the other none ({per_member:?})",
        got.len()
    );
    ctx.note(format!(
        "split {}/{}",
        per_member.get(&0).copied().unwrap_or(0),
        per_member.get(&1).copied().unwrap_or(0)
    ));
    Ok(())
}

/// Messages sent to a declared group while none of its consumers runs reach it later, and so
/// do those sent after its consumer closed.
pub(super) async fn detached_retention(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("retained");
    let group = ctx.group("late");
    let other = ctx.group("late-too");
    for g in [&group, &other] {
        ctx.broker
            .declare_group(&topic, g)
            .await
            .context(format!("declare_group {g}"))?;
    }
    let producer = ctx.producer().await?;
    let early = ctx.numbered("early", 20);
    send_batch(&producer, &topic, early.clone()).await?;
    // Both declared groups kept them.
    let (ctx_ref, topic_ref, early_ref) = (&ctx, &topic, &early);
    let runs = [&group, &other].map(|g| async move {
        let members = Members::one(ctx_ref.subscribe(topic_ref, g, 32).await?);
        members
            .wait_distinct(early_ref.len(), ctx_ref.deadline, g)
            .await?;
        let got = members.finish(ctx_ref.settle).await?;
        expect_exactly(
            early_ref,
            &got,
            topic_ref,
            &format!("group {g}, sent before it ran"),
        )
    });
    for r in join_all(runs).await {
        r?;
    }
    // Its consumer has closed; the group keeps what is sent now.
    let later = ctx.numbered("later", 20);
    send_batch(&producer, &topic, later.clone()).await?;
    let members = Members::one(ctx.subscribe(&topic, &group, 32).await?);
    members
        .wait_distinct(later.len(), ctx.deadline, "sent after the consumer closed")
        .await?;
    let got = members.finish(ctx.settle).await?;
    expect_exactly(&later, &got, &topic, "sent after the consumer closed")
}
