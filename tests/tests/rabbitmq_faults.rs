//! Fault tests against the real RabbitMQ: 10 000 messages stream from a producer to a
//! consumer while every connection is closed twice (`rabbitmqctl close_all_connections`),
//! and while the broker restarts (`rabbitmqctl stop_app` / `start_app`). Every message whose
//! send returned `Ok` must arrive at least once; the tests print how many arrived twice.
//!
//! They need `rabbitmqctl` (root on the broker's machine); without it they report a skip.
//! The restart test always leaves RabbitMQ running, even when it fails.

mod rabbitmq_common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use courier_core::{Broker, ErrorKind, Message, Subscription};
use courier_tests::support::{broker_absent, unique_name};
use rabbitmq_common::{Vhost, broker_present, rabbitmqctl};
use tokio::{sync::watch, time::Instant};

const MESSAGES: usize = 10_000;
/// Messages per `send_batch`.
const BATCH: usize = 20;
/// Pause between batches, so the stream lasts long enough for the faults to land in it.
const PACE: Duration = Duration::from_millis(15);

/// The fault tests of this file run one at a time: each disturbs every connection.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts the RabbitMQ application again when dropped, so a failing test never leaves the
/// broker stopped.
struct KeepRunning;

impl Drop for KeepRunning {
    fn drop(&mut self) {
        if let Err(e) = rabbitmqctl(&["start_app"]) {
            eprintln!("could not restart RabbitMQ: {e}");
        }
        let _ = rabbitmqctl(&["await_startup"]);
    }
}

/// What one streamed run saw.
#[derive(Debug, Default)]
struct Tally {
    deliveries: usize,
    per_id: HashMap<String, u32>,
    ack_errors: usize,
    other_ack_errors: Vec<String>,
}

/// How the fault is injected once `sent` messages are confirmed.
enum Fault {
    CloseAllConnections { at: [usize; 2] },
    Restart { at: usize, down_for: Duration },
}

fn ctl_available() -> bool {
    match rabbitmqctl(&["status"]) {
        Ok(_) => true,
        Err(e) => {
            broker_absent(
                "rabbitmq",
                &format!("the fault tests need rabbitmqctl: {e}"),
            );
            false
        }
    }
}

async fn stream_through(fault: Fault, label: &str) {
    let _serial = SERIAL.lock().await;
    let vhost = Vhost::create();
    let broker = Arc::new(vhost.connect(vhost.config()).await);
    let topic = unique_name("faults");
    let group = "stream";
    broker
        .declare_group(&topic, group)
        .await
        .expect("declare the group");

    let tally = Arc::new(Mutex::new(Tally::default()));
    let (distinct_tx, mut distinct_rx) = watch::channel(0usize);
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, group).with_prefetch(256))
        .await
        .expect("subscribe");
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let consuming = {
        let tally = tally.clone();
        tokio::spawn(async move {
            loop {
                let batch = tokio::select! {
                    _ = stop_rx.wait_for(|s| *s) => break,
                    batch = consumer.recv_batch(256) => batch,
                };
                let mut batch = match batch {
                    Ok(b) if b.is_empty() => panic!("the consumer closed by itself"),
                    Ok(b) => b,
                    Err(e) if e.is_retryable() => continue,
                    Err(e) => panic!("recv failed for good: {e}"),
                };
                let distinct = {
                    let mut t = tally.lock().expect("tally");
                    t.deliveries += batch.len();
                    for d in &batch {
                        *t.per_id.entry(d.message.id.to_string()).or_default() += 1;
                    }
                    t.per_id.len()
                };
                distinct_tx.send_replace(distinct);
                for d in &mut batch {
                    if let Err(e) = d.ack().await {
                        let mut t = tally.lock().expect("tally");
                        t.ack_errors += 1;
                        if e.kind() != ErrorKind::Ack {
                            t.other_ack_errors.push(e.to_string());
                        }
                    }
                }
            }
            consumer.close().await.ok();
        })
    };

    let producer = broker.producer().await.expect("producer");
    let (sent_tx, mut sent_rx) = watch::channel(0usize);
    let ids: Vec<String> = (0..MESSAGES).map(|i| format!("{topic}-{i}")).collect();
    let producing = {
        let ids = ids.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            let mut sent = 0;
            for chunk in ids.chunks(BATCH) {
                let batch = chunk
                    .iter()
                    .map(|id| Message::new(format!("payload of {id}")).with_id(id.clone()))
                    .collect();
                producer
                    .send_batch(&topic, batch)
                    .await
                    .unwrap_or_else(|e| panic!("send_batch after {sent} confirmed: {e}"));
                sent += chunk.len();
                sent_tx.send_replace(sent);
                tokio::time::sleep(PACE).await;
            }
            producer.close().await.expect("close the producer");
        })
    };

    let started = Instant::now();
    let _keep_running = match &fault {
        Fault::Restart { .. } => Some(KeepRunning),
        Fault::CloseAllConnections { .. } => None,
    };
    match fault {
        Fault::CloseAllConnections { at } => {
            for threshold in at {
                sent_rx
                    .wait_for(|&s| s >= threshold)
                    .await
                    .expect("producer alive");
                let out = vhost
                    .close_all_connections("test")
                    .expect("close_all_connections");
                println!(
                    "{label}: closed all connections after {} confirmed sends, {:.1}s in: {}",
                    *sent_rx.borrow(),
                    started.elapsed().as_secs_f64(),
                    out.trim().replace('\n', " ")
                );
            }
        }
        Fault::Restart { at, down_for } => {
            sent_rx
                .wait_for(|&s| s >= at)
                .await
                .expect("producer alive");
            rabbitmqctl(&["stop_app"]).expect("stop_app");
            println!(
                "{label}: stopped RabbitMQ after {} confirmed sends, {:.1}s in",
                *sent_rx.borrow(),
                started.elapsed().as_secs_f64()
            );
            tokio::time::sleep(down_for).await;
            rabbitmqctl(&["start_app"]).expect("start_app");
            rabbitmqctl(&["await_startup"]).expect("await_startup");
            println!(
                "{label}: started RabbitMQ again, {:.1}s in",
                started.elapsed().as_secs_f64()
            );
        }
    }

    tokio::time::timeout(Duration::from_secs(180), producing)
        .await
        .expect("the producer finishes within 3 minutes")
        .expect("the producer's sends all succeed");
    let all_in = tokio::time::timeout(
        Duration::from_secs(120),
        distinct_rx.wait_for(|&n| n >= MESSAGES),
    )
    .await;
    // Keep consuming a little longer to count late duplicates.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop_tx.send_replace(true);
    consuming.await.expect("the consumer task");
    broker.close().await.ok();

    let tally = tally.lock().expect("tally");
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !tally.per_id.contains_key(*id))
        .collect();
    let duplicates = tally.deliveries - tally.per_id.len();
    println!(
        "{label}: {MESSAGES} sent and confirmed, {} distinct received, {} deliveries, \
         {duplicates} duplicates, {} acks refused (their channel was gone), {:.1}s",
        tally.per_id.len(),
        tally.deliveries,
        tally.ack_errors,
        started.elapsed().as_secs_f64()
    );
    assert!(
        missing.is_empty(),
        "{label}: {} confirmed messages never arrived (e.g. {:?}); waited: {all_in:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        tally.other_ack_errors.is_empty(),
        "{label}: acks failed with a kind other than Ack: {:?}",
        tally.other_ack_errors
    );
    assert!(
        tally.per_id.keys().all(|id| id.starts_with(&topic)),
        "{label}: a stray message arrived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_survives_closing_all_connections_twice() {
    if !broker_present() || !ctl_available() {
        return;
    }
    stream_through(
        Fault::CloseAllConnections { at: [2_000, 6_000] },
        "close_all_connections x2",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_survives_a_broker_restart() {
    if !broker_present() || !ctl_available() {
        return;
    }
    stream_through(
        Fault::Restart {
            at: 3_000,
            down_for: Duration::from_secs(2),
        },
        "broker restart",
    )
    .await;
}

/// Deliveries received before the connection dropped cannot be acked any more (their channel
/// is gone): `ack` fails with `ErrorKind::Ack`, RabbitMQ delivers them again after the
/// consumer resubscribed, and those acks succeed. The producer carries on too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_after_a_dropped_connection_fail_and_the_messages_return() {
    if !broker_present() || !ctl_available() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let vhost = Vhost::create();
    let broker = vhost.connect(vhost.config()).await;
    let topic = unique_name("reack");
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "g").with_prefetch(16))
        .await
        .expect("subscribe");
    let producer = broker.producer().await.expect("producer");
    let sent: Vec<Message> = (0..5).map(|i| Message::new(format!("m{i}"))).collect();
    producer
        .send_batch(&topic, sent.clone())
        .await
        .expect("send");
    let mut held = Vec::new();
    while held.len() < sent.len() {
        let batch = tokio::time::timeout(Duration::from_secs(10), consumer.recv_batch(16))
            .await
            .expect("deliveries")
            .expect("recv");
        held.extend(batch);
    }
    vhost
        .close_all_connections("test")
        .expect("close_all_connections");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for d in &mut held {
        let err = d
            .ack()
            .await
            .expect_err("the channel that delivered it is gone");
        assert_eq!(err.kind(), ErrorKind::Ack, "{err}");
    }
    let mut again = HashMap::new();
    while again.len() < sent.len() {
        let mut d = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("redelivery after reconnecting")
            .expect("recv")
            .expect("open");
        assert!(d.redelivered && d.attempt == 2, "{d:?}");
        d.ack().await.expect("ack on the new channel");
        again.insert(d.message.id.to_string(), ());
    }
    assert!(
        sent.iter()
            .all(|m| again.contains_key(m.id.text().as_str()))
    );
    let late = Message::new("after the drop");
    producer
        .send(&topic, late.clone())
        .await
        .expect("the producer reconnected");
    let mut d = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
        .await
        .expect("the late message")
        .expect("recv")
        .expect("open");
    assert_eq!(d.message.id, late.id);
    d.ack().await.expect("ack");
    consumer.close().await.expect("close");
    broker.close().await.ok();
}
