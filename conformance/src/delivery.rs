//! Basic delivery: messages arrive intact, topics stay apart, settling and closing behave.

use std::collections::BTreeSet;

use courier_core::{Delivery, ErrorKind, Message, MessageId};
use rand::RngCore;

use super::harness::{
    Context, Ctx, Members, TestResult, close, ensure, expect_exactly, expect_silence, fail,
    recv_one, sample, send_batch,
};

const ONE_MIB: usize = 1 << 20;

/// Message `i` of the 100 sent by [`publish_subscribe`]: varied keys, headers and payloads,
/// including a non-UTF-8 one, an empty one and (when allowed) one of 1 MiB.
fn varied(ctx: &Ctx, i: usize, big: Option<&[u8]>) -> Message {
    let payload: Vec<u8> = match i {
        0 => vec![0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0x00, 0xf0, 0x9f],
        1 => Vec::new(),
        2 => big.map_or_else(|| b"1 MiB payload left out".to_vec(), <[u8]>::to_vec),
        _ => format!("payload {i}: caf\u{e9} \u{2713}").into_bytes(),
    };
    let mut m = Message::new(payload).with_id(ctx.id("varied", i));
    if i % 5 != 4 {
        m = m.with_key(format!("key-{}-\u{1f511}", i % 7));
    }
    if i % 10 != 9 {
        m = m
            .with_header("suite-index", i.to_string())
            .with_header("suite-text", format!("gr\u{fc}\u{df}e {i} \"quoted\""))
            .with_header("suite-empty", "");
    }
    m
}

/// 100 messages with ids, keys and headers arrive intact, once each, on the first attempt.
pub(super) async fn publish_subscribe(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("main");
    let group = ctx.group("readers");
    let members = Members::one(ctx.subscribe(&topic, &group, 64).await?);
    let big = match ctx.caps.max_payload {
        Some(max) if max < ONE_MIB => {
            ctx.note(format!(
                "1 MiB payload left out: max_payload is {max} bytes"
            ));
            None
        }
        _ => {
            let mut bytes = vec![0u8; ONE_MIB];
            rand::rng().fill_bytes(&mut bytes);
            Some(bytes)
        }
    };
    let sent: Vec<Message> = (0..100).map(|i| varied(&ctx, i, big.as_deref())).collect();
    let producer = ctx.producer().await?;
    send_batch(&producer, &topic, sent.clone()).await?;
    members
        .wait_distinct(sent.len(), ctx.deadline, "publish_subscribe")
        .await?;
    let got = members.finish(ctx.settle).await?;
    expect_exactly(&sent, &got, &topic, "publish_subscribe")?;
    if let Some(r) = got.iter().find(|r| r.attempt != 1 || r.redelivered) {
        fail!(
            "first delivery of {} has attempt {} and redelivered {}; expected 1 and false",
            r.message.id,
            r.attempt,
            r.redelivered
        );
    }
    Ok(())
}

/// A message with a key and no headers, and one with neither, arrive as sent.
pub(super) async fn key_without_headers(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("bare");
    let members = Members::one(ctx.subscribe(&topic, &ctx.group("g"), 8).await?);
    let sent = vec![
        Message::new("keyed")
            .with_id(ctx.id("bare", 0))
            .with_key("only-a-key"),
        Message::new("bare").with_id(ctx.id("bare", 1)),
    ];
    let producer = ctx.producer().await?;
    futures::future::try_join_all(sent.iter().map(|m| producer.send(&topic, m.clone())))
        .await
        .context("send of a message without headers")?;
    members
        .wait_distinct(2, ctx.deadline, "key_without_headers")
        .await?;
    let got = members.finish(ctx.settle).await?;
    expect_exactly(&sent, &got, &topic, "key_without_headers")
}

/// Topics are isolated, even when one name is a prefix of the other and both have a group of
/// the same name; sending to a topic nobody subscribes to succeeds.
pub(super) async fn topics_isolated(ctx: Ctx) -> TestResult {
    let first = ctx.topic("iso");
    let second = ctx.topic("iso.more");
    let unread = ctx.topic("iso-unread");
    let group = ctx.group("same-name");
    let a = Members::one(ctx.subscribe(&first, &group, 32).await?);
    let b = Members::one(ctx.subscribe(&second, &group, 32).await?);
    let to_first = ctx.numbered("first", 10);
    let to_second = ctx.numbered("second", 10);
    let producer = ctx.producer().await?;
    futures::try_join!(
        send_batch(&producer, &first, to_first.clone()),
        send_batch(&producer, &second, to_second.clone()),
        send_batch(&producer, &unread, ctx.numbered("unread", 5)),
    )?;
    futures::try_join!(
        a.wait_distinct(10, ctx.deadline, "first topic"),
        b.wait_distinct(10, ctx.deadline, "second topic"),
    )?;
    let (got_a, got_b) = futures::try_join!(a.finish(ctx.settle), b.finish(ctx.settle))?;
    expect_exactly(&to_first, &got_a, &first, "first topic")?;
    expect_exactly(&to_second, &got_b, &second, "second topic")
}

/// After `close`, a producer refuses to send with `ErrorKind::Closed`; what it sent before
/// arrived.
pub(super) async fn send_after_close_fails(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("closing");
    let members = Members::one(ctx.subscribe(&topic, &ctx.group("g"), 8).await?);
    let producer = ctx.producer().await?;
    let before = ctx.numbered("before", 3);
    send_batch(&producer, &topic, before.clone()).await?;
    producer.close().await.context("closing the producer")?;
    match producer.send(&topic, Message::new("late")).await {
        Ok(()) => fail!("send after close succeeded"),
        Err(e) => ensure!(
            e.kind() == ErrorKind::Closed,
            "send after close failed with {:?} ({e}), expected Closed",
            e.kind()
        ),
    }
    match producer.send_batch(&topic, ctx.numbered("late", 2)).await {
        Ok(()) => fail!("send_batch after close succeeded"),
        Err(e) => ensure!(
            e.kind() == ErrorKind::Closed,
            "send_batch after close failed with {:?} ({e}), expected Closed",
            e.kind()
        ),
    }
    members
        .wait_distinct(3, ctx.deadline, "messages sent before close")
        .await?;
    let got = members.finish(ctx.settle).await?;
    expect_exactly(&before, &got, &topic, "messages sent before close")
}

/// Settling a delivery twice returns `ErrorKind::AlreadySettled`, whatever the order of ack
/// and nack, and the settled message is not delivered again.
pub(super) async fn ack_twice_fails(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("twice");
    let mut consumer = ctx.subscribe(&topic, &ctx.group("g"), 8).await?;
    let producer = ctx.producer().await?;
    send_batch(&producer, &topic, ctx.numbered("twice", 2)).await?;
    let mut first = recv_one(consumer.as_mut(), ctx.deadline, "first message").await?;
    let mut second = recv_one(consumer.as_mut(), ctx.deadline, "second message").await?;
    first.ack().await.context("first ack")?;
    second.nack(false).await.context("reject")?;
    for (what, result) in [
        ("ack after ack", first.ack().await),
        ("nack(requeue) after ack", first.nack(true).await),
        ("ack after reject", second.ack().await),
        ("reject after reject", second.nack(false).await),
    ] {
        match result {
            Ok(()) => fail!("{what} succeeded; expected AlreadySettled"),
            Err(e) => ensure!(
                e.kind() == ErrorKind::AlreadySettled,
                "{what} failed with {:?} ({e}); expected AlreadySettled",
                e.kind()
            ),
        }
    }
    ensure!(
        first.is_settled() && second.is_settled(),
        "deliveries not marked settled"
    );
    expect_silence(consumer.as_mut(), ctx.settle, "after settling both").await?;
    close(consumer, "the consumer").await
}

/// `Delivery::ack_all` settles a whole batch received with `recv_batch`: a second `ack_all`
/// is refused with `ErrorKind::AlreadySettled`, and once the consumer has closed, another
/// member of the group receives the next message sent and none of the batch.
pub(super) async fn ack_batch_settles_every_delivery(ctx: Ctx) -> TestResult {
    const N: usize = 50;
    let topic = ctx.topic("batch");
    let group = ctx.group("g");
    let mut consumer = ctx.subscribe(&topic, &group, 64).await?;
    let producer = ctx.producer().await?;
    let sent = ctx.numbered("batch", N);
    send_batch(&producer, &topic, sent.clone()).await?;
    let mut batch: Vec<Delivery> = Vec::with_capacity(N);
    let mut retries = 0;
    while batch.len() < N {
        match tokio::time::timeout_at(ctx.deadline, consumer.recv_batch(N - batch.len())).await {
            Err(_) => fail!(
                "{} of {N} messages arrived before the deadline",
                batch.len()
            ),
            Ok(Ok(more)) if more.is_empty() => fail!("the consumer closed unexpectedly"),
            Ok(Ok(more)) => batch.extend(more),
            Ok(Err(e)) if e.is_retryable() && retries < 5 => retries += 1,
            Ok(Err(e)) => fail!("recv_batch failed: {e}"),
        }
    }
    let wanted: BTreeSet<&MessageId> = sent.iter().map(|m| &m.id).collect();
    let got: BTreeSet<&MessageId> = batch.iter().map(|d| &d.message.id).collect();
    ensure!(
        got == wanted && batch.len() == N,
        "expected each of the {N} messages once, got {} deliveries of {} distinct ids",
        batch.len(),
        got.len()
    );
    Delivery::ack_all(&mut batch)
        .await
        .context(format!("ack_all of {N} deliveries"))?;
    ensure!(
        batch.iter().all(Delivery::is_settled),
        "ack_all left deliveries unsettled"
    );
    match Delivery::ack_all(&mut batch).await {
        Ok(()) => fail!("a second ack_all of the same deliveries succeeded"),
        Err(e) => ensure!(
            e.kind() == ErrorKind::AlreadySettled,
            "a second ack_all failed with {:?} ({e}); expected AlreadySettled",
            e.kind()
        ),
    }
    // A new member of the group, there before the first goes (as in the redelivery tests),
    // gets what is sent next and nothing of the acked batch. (Closing in the same instant as
    // the acks is another matter: RabbitMQ quorum queues can apply the channel's close before
    // acks it received just earlier, rabbitmq-server#10327.)
    let mut next = ctx.subscribe(&topic, &group, 64).await?;
    close(consumer, "the consumer").await?;
    let after = ctx.numbered("after", 1);
    send_batch(&producer, &topic, after.clone()).await?;
    let mut redelivered = Vec::new();
    loop {
        let mut d = recv_one(
            next.as_mut(),
            ctx.deadline,
            "the message sent after the batch",
        )
        .await
        .map_err(|mut failure| {
            if !redelivered.is_empty() {
                failure.0 = format!(
                    "{} (acked messages delivered again: {})",
                    failure.0,
                    sample(&redelivered)
                );
            }
            failure
        })?;
        let id = d.message.id.to_string();
        d.ack().await.context("ack by the new member")?;
        if id == after[0].id {
            break;
        }
        redelivered.push(id);
    }
    ensure!(
        redelivered.is_empty(),
        "{} message(s) acked with ack_all were delivered again, e.g. {}",
        redelivered.len(),
        sample(&redelivered)
    );
    expect_silence(
        next.as_mut(),
        ctx.settle,
        "after the message sent after the batch",
    )
    .await?;
    close(next, "the new member").await
}

/// `nack(requeue = false)` rejects: the message does not come back to the group.
pub(super) async fn reject_is_not_redelivered(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("reject");
    let mut consumer = ctx.subscribe(&topic, &ctx.group("g"), 8).await?;
    let producer = ctx.producer().await?;
    send_batch(&producer, &topic, ctx.numbered("reject", 1)).await?;
    let mut d = recv_one(consumer.as_mut(), ctx.deadline, "the message").await?;
    d.nack(false).await.context("reject")?;
    expect_silence(consumer.as_mut(), ctx.settle, "after the reject").await?;
    close(consumer, "the consumer").await
}

/// A closed consumer's `recv` returns `None` and its `recv_batch` an empty vector.
pub(super) async fn recv_after_close_is_none(ctx: Ctx) -> TestResult {
    let mut consumer = ctx
        .subscribe(&ctx.topic("closed"), &ctx.group("g"), 8)
        .await?;
    consumer.close().await.context("closing the consumer")?;
    let recv = tokio::time::timeout_at(ctx.deadline, consumer.recv()).await;
    match recv {
        Err(_) => fail!("recv after close hung"),
        Ok(Ok(None)) => {}
        Ok(Ok(Some(d))) => fail!("recv after close returned a delivery: {}", d.message.id),
        Ok(Err(e)) => fail!("recv after close failed ({e}); expected None"),
    }
    match tokio::time::timeout_at(ctx.deadline, consumer.recv_batch(8)).await {
        Err(_) => fail!("recv_batch after close hung"),
        Ok(Ok(batch)) => ensure!(
            batch.is_empty(),
            "recv_batch after close returned {} deliveries",
            batch.len()
        ),
        Ok(Err(e)) => fail!("recv_batch after close failed ({e}); expected an empty batch"),
    }
    Ok(())
}
