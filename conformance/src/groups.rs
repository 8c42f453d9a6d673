//! Groups: fan-out between groups, competing consumers within one, retention for a group
//! with no consumer running.

use std::{collections::BTreeMap, time::Duration};

use courier_core::Message;
use futures::future::{join_all, try_join_all};

use super::harness::{
    Context, Ctx, MemberOptions, Members, TestResult, close, ensure, expect_exactly,
    expect_silence, recv_one, send_batch,
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

/// A message group `a` nacks back to itself twice comes again to `a` (attempts 1, 2, 3) and
/// never again to group `b`, which receives each message once, with attempt 1.
pub(super) async fn nack_stays_in_its_group(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("requeue");
    let mut a = ctx.subscribe(&topic, &ctx.group("a"), 8).await?;
    let mut b = ctx.subscribe(&topic, &ctx.group("b"), 8).await?;
    let sent = ctx.numbered("requeue", 3);
    send_batch(&ctx.producer().await?, &topic, sent.clone()).await?;
    let mut attempts_in_a: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    while attempts_in_a.values().filter(|a| a.len() == 3).count() < sent.len() {
        let mut d = recv_one(a.as_mut(), ctx.deadline, "group a's deliveries").await?;
        let seen = attempts_in_a.entry(d.message.id.to_string()).or_default();
        seen.push(d.attempt);
        if seen.len() < 3 {
            d.nack(true).await.context("nack(requeue) in group a")?;
        } else {
            d.ack().await.context("ack in group a")?;
        }
    }
    for m in &sent {
        let got = attempts_in_a
            .get(m.id.text().as_str())
            .cloned()
            .unwrap_or_default();
        ensure!(
            got == [1, 2, 3],
            "{}: attempts in group a {got:?}, expected [1, 2, 3]",
            m.id
        );
    }
    let mut in_b = BTreeMap::new();
    for _ in 0..sent.len() {
        let mut d = recv_one(b.as_mut(), ctx.deadline, "group b's deliveries").await?;
        ensure!(
            d.attempt == 1,
            "group b got {} with attempt {}: a copy group a requeued",
            d.message.id,
            d.attempt
        );
        *in_b.entry(d.message.id.to_string()).or_insert(0) += 1;
        d.ack().await.context("ack in group b")?;
    }
    ensure!(
        in_b.len() == sent.len(),
        "group b got {in_b:?}: a message twice instead of each once"
    );
    expect_silence(b.as_mut(), ctx.settle, "group b after group a's requeues").await?;
    expect_silence(a.as_mut(), ctx.settle, "group a after its acks").await?;
    close(a, "group a's consumer").await?;
    close(b, "group b's consumer").await
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
