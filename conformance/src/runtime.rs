//! The runtime ([`courier_core::Runtime`]) on the backend: retries, dead-lettering, per-key
//! order with concurrency, graceful shutdown.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use courier_core::{
    Capability, Context as HandlerContext, HandlerError, Message, Metrics, Running, Runtime,
    RuntimeSettings, headers,
};
use tokio::sync::{mpsc, watch};

use super::{
    harness::{
        Context, Ctx, DELIBERATE_PANIC, Members, Received, SEQ, TestResult, ensure, expect_exactly,
        expect_per_key_order, expect_silence, fail, intact, lock, send_batch, seq_of,
    },
    ordering::keyed,
};

/// Settings with small backoffs, so retries take milliseconds.
fn settings(max_attempts: u32, concurrency: usize, prefetch: usize) -> RuntimeSettings {
    RuntimeSettings {
        max_attempts,
        backoff_initial_ms: 5,
        backoff_max_ms: 20,
        backoff_multiplier: 2.0,
        jitter: true,
        concurrency,
        prefetch,
        shutdown_deadline_ms: 10_000,
        dead_letter_timeout_ms: 10_000,
        delayed_retries: true,
    }
}

/// A handler call: the message id and the attempt the runtime passed.
type Call = (String, u32);

async fn start(runtime: Runtime) -> TestResult<Running> {
    runtime.start().await.context("starting the runtime")
}

async fn shutdown(running: Running, ctx: &Ctx) -> TestResult {
    match tokio::time::timeout_at(ctx.deadline, running.shutdown()).await {
        Err(_) => fail!("runtime shutdown did not finish before the deadline"),
        Ok(result) => result.context("runtime shutdown"),
    }
}

/// Receives handler calls until `done` holds for all of them, or fails at the deadline.
async fn await_calls(
    rx: &mut mpsc::UnboundedReceiver<Call>,
    calls: &mut Vec<Call>,
    ctx: &Ctx,
    what: &str,
    done: impl Fn(&[Call]) -> bool,
) -> TestResult {
    while !done(calls) {
        match tokio::time::timeout_at(ctx.deadline, rx.recv()).await {
            Ok(Some(call)) => calls.push(call),
            Ok(None) => fail!("{what}: the handlers are gone ({} calls)", calls.len()),
            Err(_) => fail!(
                "{what}: not done before the deadline; calls so far: {}",
                summarize(calls)
            ),
        }
    }
    Ok(())
}

/// Fails if another handler call arrives within the settle window.
async fn no_more_calls(
    rx: &mut mpsc::UnboundedReceiver<Call>,
    ctx: &Ctx,
    what: &str,
) -> TestResult {
    match tokio::time::timeout(ctx.settle, rx.recv()).await {
        Ok(Some((id, attempt))) => {
            fail!("{what}: unexpected handler call for {id}, attempt {attempt}")
        }
        Ok(None) | Err(_) => Ok(()),
    }
}

/// The attempts of each message, in call order.
fn attempts(calls: &[Call]) -> BTreeMap<&str, Vec<u32>> {
    let mut map: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (id, attempt) in calls {
        map.entry(id.as_str()).or_default().push(*attempt);
    }
    map
}

fn summarize(calls: &[Call]) -> String {
    let map = attempts(calls);
    let shown: Vec<String> = map
        .iter()
        .take(5)
        .map(|(id, a)| format!("{id}: {a:?}"))
        .collect();
    format!("{} message(s); {}", map.len(), shown.join(", "))
}

/// Checks the counters of `topic`/`group`.
fn expect_counts(
    metrics: &Metrics,
    topic: &str,
    group: &str,
    acked: u64,
    retried: u64,
    dead_lettered: u64,
) -> TestResult {
    let c = metrics.counts(topic, group);
    ensure!(
        (c.acked, c.retried, c.dead_lettered) == (acked, retried, dead_lettered),
        "runtime counters: acked {}, retried {}, dead-lettered {}; expected {acked}, {retried}, {dead_lettered}",
        c.acked,
        c.retried,
        c.dead_lettered
    );
    Ok(())
}

/// A consumer of `<topic>.dlq`, subscribed before the runtime starts.
async fn watch_dlq(ctx: &Ctx, topic: &str) -> TestResult<(String, Members)> {
    let dlq = headers::dlq_topic(topic);
    let members = Members::one(ctx.subscribe(&dlq, &ctx.group("dlq-watch"), 16).await?);
    Ok((dlq, members))
}

/// Checks the dead-letter headers of `got`.
fn expect_dead_letter(
    got: &Received,
    kind: &str,
    attempts: u32,
    topic: &str,
    group: &str,
    reason_contains: &str,
) -> TestResult {
    let m = &got.message;
    let header = |name: &str| m.header(name).unwrap_or_default().to_owned();
    let expected = [
        (headers::DLQ_KIND, kind.to_owned()),
        (headers::DLQ_ATTEMPTS, attempts.to_string()),
        (headers::DLQ_TOPIC, topic.to_owned()),
        (headers::DLQ_GROUP, group.to_owned()),
    ];
    for (name, value) in expected {
        ensure!(
            header(name) == value,
            "dead letter {}: header {name} is {:?}, expected {value:?} (headers: {:?})",
            m.id,
            m.header(name),
            m.headers
        );
    }
    let reason = header(headers::DLQ_REASON);
    ensure!(
        reason.contains(reason_contains),
        "dead letter {}: reason {reason:?} does not mention {reason_contains:?}",
        m.id
    );
    Ok(())
}

/// A handler failing transiently on attempts 1 and 2 succeeds on attempt 3: attempts are
/// numbered 1, 2, 3, every attempt's context carries the message's headers, nothing is
/// dead-lettered or handled again.
pub(super) async fn runtime_retry_then_success(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("retry");
    let group = ctx.group("svc");
    let (_, dlq) = watch_dlq(&ctx, &topic).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
    let mut runtime = Runtime::new(ctx.broker.clone(), settings(5, 4, 32));
    runtime.handle_fn(
        topic.clone(),
        group.clone(),
        move |m: Message, cx: HandlerContext| {
            let _ = tx.send((m.id.to_string(), cx.attempt));
            let seen = cx.header(SEQ).map(str::to_owned);
            let sent = m.headers.get(SEQ).cloned();
            async move {
                if seen.is_none() || seen != sent {
                    Err(HandlerError::permanent(format!(
                        "the context's {SEQ} header is {seen:?}, the message's {sent:?}"
                    )))
                } else if cx.attempt < 3 {
                    Err(HandlerError::transient(format!(
                        "simulated outage on attempt {}",
                        cx.attempt
                    )))
                } else {
                    Ok(())
                }
            }
        },
    );
    let metrics = runtime.metrics().clone();
    let running = start(runtime).await?;
    let sent = ctx.numbered("retry", 8);
    send_batch(&ctx.producer().await?, &topic, sent.clone()).await?;
    let mut calls = Vec::new();
    await_calls(&mut rx, &mut calls, &ctx, "retries", |calls| {
        calls.iter().filter(|(_, a)| *a == 3).count() == sent.len()
    })
    .await?;
    no_more_calls(&mut rx, &ctx, "after every message succeeded").await?;
    shutdown(running, &ctx).await?;
    for m in &sent {
        let got = attempts(&calls)
            .get(m.id.text().as_str())
            .cloned()
            .unwrap_or_default();
        ensure!(
            got == [1, 2, 3],
            "{}: handler attempts {got:?}, expected [1, 2, 3]",
            m.id
        );
    }
    expect_counts(&metrics, &topic, &group, 8, 16, 0)?;
    let dead = dlq.finish(Duration::ZERO).await?;
    ensure!(
        dead.is_empty(),
        "{} message(s) dead-lettered though they succeeded on attempt 3",
        dead.len()
    );
    Ok(())
}

/// A message that always fails transiently lands in `<topic>.dlq` exactly once, after the
/// last attempt, intact and with the reason, kind, attempts, topic and group headers; the
/// original is acked (not delivered again), and a good message beside it is handled once.
pub(super) async fn runtime_dead_letter_exhausted(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("doomed");
    let group = ctx.group("svc");
    let (dlq_topic, dlq) = watch_dlq(&ctx, &topic).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
    let mut runtime = Runtime::new(ctx.broker.clone(), settings(3, 4, 32));
    runtime.handle_fn(
        topic.clone(),
        group.clone(),
        move |m: Message, cx: HandlerContext| {
            let fails = m.header("suite-fate") == Some("fail");
            let _ = tx.send((m.id.to_string(), cx.attempt));
            async move {
                if fails {
                    Err(HandlerError::transient(
                        "simulated failure: warehouse unreachable",
                    ))
                } else {
                    Ok(())
                }
            }
        },
    );
    let metrics = runtime.metrics().clone();
    let running = start(runtime).await?;
    let bad = Message::new(vec![0u8, 159, 146, 150])
        .with_id(ctx.id("doomed", 0))
        .with_key("order-7")
        .with_header("suite-fate", "fail")
        .with_header("suite-origin", "dead-letter test");
    let good = Message::new("fine")
        .with_id(ctx.id("fine", 0))
        .with_header("suite-fate", "ok");
    send_batch(
        &ctx.producer().await?,
        &topic,
        vec![bad.clone(), good.clone()],
    )
    .await?;
    let mut calls = Vec::new();
    await_calls(&mut rx, &mut calls, &ctx, "attempts", |calls| {
        let a = attempts(calls);
        a.get(bad.id.text().as_str()).is_some_and(|a| a.len() >= 3)
            && a.contains_key(good.id.text().as_str())
    })
    .await?;
    dlq.wait_distinct(1, ctx.deadline, "the dead letter")
        .await?;
    let (quiet, dead) = tokio::join!(
        no_more_calls(&mut rx, &ctx, "after dead-lettering"),
        dlq.finish(ctx.settle)
    );
    quiet?;
    let dead = dead?;
    shutdown(running, &ctx).await?;
    let a = attempts(&calls);
    ensure!(
        a.get(bad.id.text().as_str())
            .is_some_and(|a| a == &[1, 2, 3]),
        "failing message: handler attempts {:?}, expected [1, 2, 3]",
        a.get(bad.id.text().as_str())
    );
    ensure!(
        a.get(good.id.text().as_str()).is_some_and(|a| a == &[1]),
        "good message: handler attempts {:?}, expected [1]",
        a.get(good.id.text().as_str())
    );
    expect_exactly(
        std::slice::from_ref(&bad),
        &dead,
        &dlq_topic,
        "dead-letter topic",
    )?;
    expect_dead_letter(
        &dead[0],
        "exhausted",
        3,
        &topic,
        &group,
        "warehouse unreachable",
    )?;
    expect_counts(&metrics, &topic, &group, 1, 2, 1)?;
    // The original was acked: a new member of the group gets nothing.
    let mut consumer = ctx.subscribe(&topic, &group, 8).await?;
    expect_silence(
        consumer.as_mut(),
        ctx.settle,
        "the group after dead-lettering",
    )
    .await?;
    super::harness::close(consumer, "the consumer").await
}

/// A payload a `handle_json` handler cannot decode (broken JSON, or JSON of another shape)
/// goes to the dead-letter topic at once (attempts = 1, kind permanent); the handler only
/// sees the good one.
pub(super) async fn runtime_undecodable_json(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("json");
    let group = ctx.group("svc");
    let (dlq_topic, dlq) = watch_dlq(&ctx, &topic).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
    let mut runtime = Runtime::new(ctx.broker.clone(), settings(5, 2, 16));
    runtime.handle_json(
        topic.clone(),
        group.clone(),
        move |event: BTreeMap<String, String>, cx: HandlerContext| {
            let order = event.get("order_id").cloned().unwrap_or_default();
            let _ = tx.send((format!("{}:{order}", cx.message_id), cx.attempt));
            async { Ok::<(), HandlerError>(()) }
        },
    );
    let metrics = runtime.metrics().clone();
    let running = start(runtime).await?;
    let broken = Message::new(r#"{"order_id": "1001", "#).with_id(ctx.id("broken", 0));
    let wrong_shape = Message::new("[1, 2, 3]").with_id(ctx.id("wrong-shape", 0));
    let good = Message::new(r#"{"order_id": "1001"}"#).with_id(ctx.id("good", 0));
    let sent = vec![broken.clone(), wrong_shape.clone(), good.clone()];
    send_batch(&ctx.producer().await?, &topic, sent).await?;
    dlq.wait_distinct(2, ctx.deadline, "dead letters of undecodable payloads")
        .await?;
    let mut calls = Vec::new();
    await_calls(&mut rx, &mut calls, &ctx, "the good message", |c| {
        !c.is_empty()
    })
    .await?;
    let (quiet, dead) = tokio::join!(
        no_more_calls(&mut rx, &ctx, "after the good message"),
        dlq.finish(ctx.settle)
    );
    quiet?;
    let dead = dead?;
    shutdown(running, &ctx).await?;
    ensure!(
        calls == [(format!("{}:1001", good.id), 1)],
        "handler calls {calls:?}; expected only the good message, once"
    );
    expect_exactly(
        &[broken, wrong_shape],
        &dead,
        &dlq_topic,
        "dead-letter topic",
    )?;
    for d in &dead {
        expect_dead_letter(d, "permanent", 1, &topic, &group, "JSON")?;
    }
    expect_counts(&metrics, &topic, &group, 1, 0, 2)
}

/// Per-key order holds through the runtime with concurrency 8, even when some messages fail
/// once and are retried.
pub(super) async fn runtime_per_key_order(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("rt-ordered");
    let group = ctx.group("svc");
    let (sent, per_key) = keyed(&ctx, "rt-ordered", 400, 16);
    let log: Arc<Mutex<Vec<Received>>> = Arc::default();
    let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
    let mut runtime = Runtime::new(ctx.broker.clone(), settings(5, 8, 64));
    let handler_log = log.clone();
    runtime
        .handle_fn(
            topic.clone(),
            group.clone(),
            move |m: Message, cx: HandlerContext| {
                let (log, tx) = (handler_log.clone(), tx.clone());
                async move {
                    let seq = seq_of(&m).map_err(|f| HandlerError::permanent(f.0))?;
                    if seq % 7 == 3 && cx.attempt == 1 {
                        return Err(HandlerError::transient("simulated hiccup"));
                    }
                    for _ in 0..rand::random_range(0..3u8) {
                        tokio::task::yield_now().await;
                    }
                    lock(&log).push(Received {
                        member: 0,
                        topic: cx.topic.clone(),
                        attempt: cx.attempt,
                        redelivered: false,
                        message: m.clone(),
                    });
                    let _ = tx.send((m.id.to_string(), cx.attempt));
                    Ok(())
                }
            },
        )
        // Retries in the lane: a retry through the broker would let later messages pass.
        .ordered();
    let running = start(runtime).await?;
    let producer = ctx.producer().await?;
    for chunk in sent.chunks(100) {
        send_batch(&producer, &topic, chunk.to_vec()).await?;
    }
    let mut calls = Vec::new();
    await_calls(&mut rx, &mut calls, &ctx, "handled messages", |c| {
        c.len() >= sent.len()
    })
    .await?;
    no_more_calls(&mut rx, &ctx, "after every message was handled").await?;
    shutdown(running, &ctx).await?;
    let log = std::mem::take(&mut *lock(&log));
    expect_exactly(&sent, &log, &topic, "runtime per-key order")?;
    expect_per_key_order(&log, &per_key, "runtime per-key order")
}

/// What the shutdown test's handlers report.
enum Step {
    Started { id: String, after_shutdown: bool },
    Finished(String),
}

type Probe = Box<dyn Fn() -> bool + Send + Sync>;

/// Graceful shutdown: the two handlers in flight finish and are acked (their messages are not
/// delivered again), no handler starts once shutdown began, and the messages not started go
/// back to the group.
pub(super) async fn runtime_graceful_shutdown(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("shutdown");
    let group = ctx.group("svc");
    let shutting_down: Arc<OnceLock<Probe>> = Arc::default();
    let (release, released) = watch::channel(false);
    let (tx, mut rx) = mpsc::unbounded_channel::<Step>();
    let mut runtime = Runtime::new(ctx.broker.clone(), settings(3, 2, 10));
    let probe = shutting_down.clone();
    runtime.handle_fn(
        topic.clone(),
        group.clone(),
        move |m: Message, _cx: HandlerContext| {
            let after_shutdown = probe.get().is_some_and(|p| p());
            let _ = tx.send(Step::Started {
                id: m.id.to_string(),
                after_shutdown,
            });
            let (tx, mut released) = (tx.clone(), released.clone());
            async move {
                let _ = released.wait_for(|r| *r).await;
                let _ = tx.send(Step::Finished(m.id.to_string()));
                Ok::<(), HandlerError>(())
            }
        },
    );
    let running = start(runtime).await?;
    let token = running.shutdown_token();
    let probe_token = token.clone();
    let _ = shutting_down.set(Box::new(move || probe_token.is_cancelled()));
    let sent = ctx.numbered("inflight", 10);
    send_batch(&ctx.producer().await?, &topic, sent.clone()).await?;
    let mut started: BTreeSet<String> = BTreeSet::new();
    while started.len() < 2 {
        match tokio::time::timeout_at(ctx.deadline, rx.recv()).await {
            Ok(Some(Step::Started { id, .. })) => {
                started.insert(id);
            }
            Ok(Some(Step::Finished(id))) => fail!("{id} finished before its release"),
            Ok(None) => fail!("the handlers are gone"),
            Err(_) => fail!(
                "{} of 2 handlers started before the deadline",
                started.len()
            ),
        }
    }
    let shutting = tokio::spawn(running.shutdown());
    if tokio::time::timeout_at(ctx.deadline, token.cancelled())
        .await
        .is_err()
    {
        fail!("shutdown did not begin");
    }
    // Both handlers are in flight while shutdown runs; now let them finish.
    let _ = release.send(true);
    match tokio::time::timeout_at(ctx.deadline, shutting).await {
        Err(_) => fail!("shutdown did not finish before the deadline"),
        Ok(Err(e)) => fail!("shutdown task failed: {e}"),
        Ok(Ok(result)) => result.context("runtime shutdown")?,
    }
    let mut finished = BTreeSet::new();
    while let Ok(step) = rx.try_recv() {
        match step {
            Step::Started { id, after_shutdown } => fail!(
                "handler for {id} started during shutdown (token cancelled: {after_shutdown})"
            ),
            Step::Finished(id) => {
                finished.insert(id);
            }
        }
    }
    ensure!(
        finished == started,
        "handlers in flight at shutdown: started {started:?}, finished {finished:?}"
    );
    // The finished ones were acked; the others go back to the group (where the backend
    // redelivers on disconnect).
    let rest: Vec<Message> = sent
        .iter()
        .filter(|m| !started.contains(m.id.text().as_str()))
        .cloned()
        .collect();
    let members = Members::one(ctx.subscribe(&topic, &group, 16).await?);
    if ctx.caps.has(Capability::RedeliveryOnDisconnect) {
        members
            .wait_distinct(
                rest.len(),
                ctx.deadline,
                "messages not started before shutdown",
            )
            .await?;
    }
    let got = members.finish(ctx.settle).await?;
    if let Some(r) = got
        .iter()
        .find(|r| started.contains(r.message.id.text().as_str()))
    {
        fail!(
            "{} was handled and acked during shutdown but delivered again (attempt {})",
            r.message.id,
            r.attempt
        );
    }
    if ctx.caps.has(Capability::RedeliveryOnDisconnect) {
        expect_exactly(&rest, &got, &topic, "messages not started before shutdown")?;
    }
    for m in &rest {
        if let Some(r) = got.iter().find(|r| r.message.id == m.id) {
            intact(m, &r.message, "message given back at shutdown")?;
        }
    }
    Ok(())
}

/// A handler that panics: the panic is caught, the delivery is dead-lettered at once with
/// the panic message as its reason, and the lane goes on with the next messages (one lane,
/// so a dead lane would stop everything).
pub(super) async fn runtime_handler_panic(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("panic");
    let group = ctx.group("svc");
    let (dlq_topic, dlq) = watch_dlq(&ctx, &topic).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
    let mut runtime = Runtime::new(ctx.broker.clone(), settings(5, 1, 8));
    runtime.handle_fn(topic.clone(), group.clone(), move |m: Message, cx| {
        let tx = tx.clone();
        async move {
            if m.payload.starts_with(b"boom") {
                panic!("boom in {} {DELIBERATE_PANIC}", cx.message_id);
            }
            let _ = tx.send((cx.message_id.to_string(), cx.attempt));
            Ok::<(), HandlerError>(())
        }
    });
    let metrics = runtime.metrics().clone();
    let running = start(runtime).await?;
    let boom = Message::new("boom").with_id(ctx.id("boom", 0));
    let goods: Vec<Message> = (0..3)
        .map(|i| Message::new("fine").with_id(ctx.id("fine", i)))
        .collect();
    let mut sent = vec![boom.clone()];
    sent.extend(goods.iter().cloned());
    send_batch(&ctx.producer().await?, &topic, sent).await?;
    let mut calls = Vec::new();
    await_calls(
        &mut rx,
        &mut calls,
        &ctx,
        "the messages after the panic",
        |c| c.len() >= goods.len(),
    )
    .await?;
    dlq.wait_distinct(1, ctx.deadline, "the dead letter of the panic")
        .await?;
    let dead = dlq.finish(ctx.settle).await?;
    shutdown(running, &ctx).await?;
    expect_exactly(&[boom], &dead, &dlq_topic, "dead-letter topic")?;
    expect_dead_letter(
        &dead[0],
        "permanent",
        1,
        &topic,
        &group,
        "handler panicked: boom",
    )?;
    let c = metrics.counts(&topic, &group);
    ensure!(c.panicked == 1, "panics counted: {c:?}");
    expect_counts(&metrics, &topic, &group, 3, 0, 1)
}

/// A `courier-attempt` header set by an outside publisher far above `max_attempts` does not
/// skip the handler: the delivery gets one attempt (counted as the last), and succeeds.
pub(super) async fn runtime_outside_attempt_header(ctx: Ctx) -> TestResult {
    let topic = ctx.topic("forged-attempt");
    let group = ctx.group("svc");
    let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
    let mut runtime = Runtime::new(ctx.broker.clone(), settings(3, 1, 8));
    runtime.handle_fn(topic.clone(), group.clone(), move |_m: Message, cx| {
        let _ = tx.send((cx.message_id.to_string(), cx.attempt));
        async { Ok::<(), HandlerError>(()) }
    });
    let metrics = runtime.metrics().clone();
    let running = start(runtime).await?;
    let forged = Message::new("x")
        .with_id(ctx.id("forged", 0))
        .with_header(headers::ATTEMPT, "99");
    send_batch(&ctx.producer().await?, &topic, vec![forged.clone()]).await?;
    let mut calls = Vec::new();
    await_calls(&mut rx, &mut calls, &ctx, "the forged message", |c| {
        !c.is_empty()
    })
    .await?;
    no_more_calls(&mut rx, &ctx, "after the forged message").await?;
    shutdown(running, &ctx).await?;
    ensure!(
        calls.len() == 1 && calls[0].0 == forged.id && calls[0].1 <= 3,
        "handler calls {calls:?}; expected one, with an attempt of at most max_attempts (3)"
    );
    expect_counts(&metrics, &topic, &group, 1, 0, 0)
}
