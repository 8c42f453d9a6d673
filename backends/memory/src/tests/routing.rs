//! Fan-out, competing consumers, per-key routing across consumers, nack requeue.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use courier_core::{Broker, Message};

use super::support::*;
use crate::Overflow;

#[tokio::test]
async fn every_group_gets_every_message_and_members_share_them() {
    let broker = broker(100, Overflow::Block);
    let mut billing = consumer(&broker, "t", "billing", 100).await;
    let mut audit_a = consumer(&broker, "t", "audit", 100).await;
    let mut audit_b = consumer(&broker, "t", "audit", 1).await;
    let producer = broker.producer().await.unwrap();
    let sent: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    producer
        .send_batch("t", sent.iter().map(|b| Message::new(b.clone())).collect())
        .await
        .unwrap();

    let all = take(&mut billing, 100).await;
    assert_eq!(
        bodies(&all),
        sent,
        "one group receives everything, in order"
    );

    let one = take(&mut audit_b, 100).await;
    assert_eq!(one.len(), 1, "prefetch 1 bounds the batch");
    let rest = take(&mut audit_a, 100).await;
    let mut shared: Vec<&str> = bodies(&one).into_iter().chain(bodies(&rest)).collect();
    shared.sort_unstable();
    let mut expected: Vec<&str> = sent.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(
        shared, expected,
        "competing consumers split the group's messages, no duplicates"
    );
    broker.check_invariants();
}

#[tokio::test]
async fn a_key_held_by_one_consumer_is_routed_to_it_only() {
    let broker = broker(100, Overflow::Block);
    let mut a = consumer(&broker, "t", "g", 10).await;
    let mut b = consumer(&broker, "t", "g", 10).await;
    let producer = broker.producer().await.unwrap();
    let batch = vec![
        keyed("k1", "k1-1"),
        keyed("k2", "k2-1"),
        keyed("k1", "k1-2"),
        keyed("k2", "k2-2"),
        keyed("k1", "k1-3"),
        Message::new("free"),
    ];
    producer.send_batch("t", batch).await.unwrap();

    let first = take(&mut a, 1).await;
    assert_eq!(bodies(&first), ["k1-1"]);
    // B takes the rest of the shared queue; k1's messages move to A, which holds k1.
    let to_b = take(&mut b, 10).await;
    assert_eq!(bodies(&to_b), ["k2-1", "k2-2", "free"]);
    let stats = broker.group_stats("t", "g").unwrap();
    assert_eq!((stats.ready, stats.pending, stats.unacked), (0, 2, 4));

    // A message of k1 sent now also goes to A, behind the routed ones.
    producer.send("t", keyed("k1", "k1-4")).await.unwrap();
    assert_nothing(&mut b).await;
    let to_a = take(&mut a, 10).await;
    assert_eq!(bodies(&to_a), ["k1-2", "k1-3", "k1-4"]);
    broker.check_invariants();

    // Once A settles all of k1, the key is free for any consumer.
    ack_all(first).await;
    ack_all(to_a).await;
    producer.send("t", keyed("k1", "k1-5")).await.unwrap();
    // B still holds k2, so k2 stays on B even though A asks first.
    producer.send("t", keyed("k2", "k2-3")).await.unwrap();
    let next_a = take(&mut a, 10).await;
    assert_eq!(bodies(&next_a), ["k1-5"]);
    let next_b = take(&mut b, 10).await;
    assert_eq!(bodies(&next_b), ["k2-3"]);
    ack_all(to_b).await;
    ack_all(next_a).await;
    ack_all(next_b).await;
    let stats = broker.group_stats("t", "g").unwrap();
    assert_eq!((stats.ready, stats.pending, stats.unacked), (0, 0, 0));
    broker.check_invariants();
}

#[tokio::test]
async fn routed_messages_stay_with_the_owner_after_it_acks_the_held_one() {
    let broker = broker(100, Overflow::Block);
    let mut a = consumer(&broker, "t", "g", 1).await;
    let mut b = consumer(&broker, "t", "g", 10).await;
    let producer = broker.producer().await.unwrap();
    producer
        .send_batch("t", vec![keyed("k", "1"), keyed("k", "2")])
        .await
        .unwrap();
    let first = take(&mut a, 1).await;
    // B finds "2" in the shared queue and moves it to A, which holds k.
    assert_nothing(&mut b).await;
    ack_all(first).await;
    // A no longer holds an unacked k but still has "2" routed to it: "3" must follow it.
    producer.send("t", keyed("k", "3")).await.unwrap();
    assert_nothing(&mut b).await;
    let second = take(&mut a, 1).await;
    assert_eq!(bodies(&second), ["2"]);
    ack_all(second).await;
    let third = take(&mut a, 1).await;
    assert_eq!(bodies(&third), ["3"]);
    ack_all(third).await;
    broker.check_invariants();
}

/// Two consumers handle 40 keys concurrently with random handling times; each key's messages
/// must be handled strictly in send order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_handled_in_send_order_across_concurrent_consumers() {
    const KEYS: usize = 40;
    const PER_KEY: usize = 100;
    let broker = broker(500, Overflow::Block);
    broker.declare_group("t", "g").await.unwrap();
    let handled: Arc<Mutex<Vec<(usize, usize, usize)>>> = Arc::default();
    let mut workers = Vec::new();
    for worker in 0..2 {
        let mut consumer = consumer(&broker, "t", "g", 8).await;
        let handled = handled.clone();
        workers.push(tokio::spawn(async move {
            let mut count = 0;
            while count < KEYS * PER_KEY {
                let Ok(Ok(batch)) =
                    tokio::time::timeout(Duration::from_millis(500), consumer.recv_batch(8)).await
                else {
                    break;
                };
                for mut delivery in batch {
                    let (key, seq) = body(&delivery).split_once('/').unwrap();
                    let (key, seq): (usize, usize) = (key.parse().unwrap(), seq.parse().unwrap());
                    if rand::random_range(0..4) == 0 {
                        tokio::task::yield_now().await;
                    }
                    handled.lock().unwrap().push((key, seq, worker));
                    delivery.ack().await.unwrap();
                    count += 1;
                }
            }
        }));
    }
    let producer = broker.producer().await.unwrap();
    for round in 0..PER_KEY {
        let batch = (0..KEYS)
            .map(|key| keyed(&key.to_string(), &format!("{key}/{round}")))
            .collect();
        producer.send_batch("t", batch).await.unwrap();
    }
    for w in workers {
        w.await.unwrap();
    }
    let handled = handled.lock().unwrap();
    assert_eq!(handled.len(), KEYS * PER_KEY, "every message handled once");
    let mut next: HashMap<usize, usize> = HashMap::new();
    let mut workers_used = HashSet::new();
    for &(key, seq, worker) in handled.iter() {
        let expected = next.entry(key).or_insert(0);
        assert_eq!(seq, *expected, "key {key} handled out of order");
        *expected += 1;
        workers_used.insert(worker);
    }
    assert_eq!(workers_used.len(), 2, "both consumers took part");
    broker.check_invariants();
}

#[tokio::test]
async fn nack_requeue_puts_the_message_first_with_a_higher_attempt() {
    let broker = broker(100, Overflow::Block);
    let mut c = consumer(&broker, "t", "g", 1).await;
    let producer = broker.producer().await.unwrap();
    producer
        .send_batch("t", vec![Message::new("a"), Message::new("b")])
        .await
        .unwrap();
    let mut first = take(&mut c, 1).await.pop().unwrap();
    assert_eq!(
        (body(&first), first.attempt, first.redelivered),
        ("a", 1, false)
    );
    first.nack(true).await.unwrap();
    let mut again = take(&mut c, 1).await.pop().unwrap();
    assert_eq!(
        (body(&again), again.attempt, again.redelivered),
        ("a", 2, true)
    );
    again.nack(true).await.unwrap();
    let mut third = take(&mut c, 1).await.pop().unwrap();
    assert_eq!((body(&third), third.attempt), ("a", 3));
    third.nack(false).await.unwrap();
    let mut b = take(&mut c, 1).await.pop().unwrap();
    assert_eq!((body(&b), b.attempt), ("b", 1));
    b.ack().await.unwrap();
    assert_nothing(&mut c).await;
    let stats = broker.group_stats("t", "g").unwrap();
    assert_eq!(
        stats.ready + stats.pending + stats.unacked,
        0,
        "rejected is gone"
    );
    broker.check_invariants();
}

#[tokio::test]
async fn nack_requeue_keeps_a_key_on_the_consumer_that_holds_its_later_messages() {
    let broker = broker(100, Overflow::Block);
    let mut a = consumer(&broker, "t", "g", 10).await;
    let mut b = consumer(&broker, "t", "g", 10).await;
    let producer = broker.producer().await.unwrap();
    producer
        .send_batch("t", vec![keyed("k", "1"), keyed("k", "2")])
        .await
        .unwrap();
    let mut held = take(&mut a, 10).await;
    assert_eq!(bodies(&held), ["1", "2"]);
    let mut second = held.pop().unwrap();
    let mut first = held.pop().unwrap();
    first.nack(true).await.unwrap();
    assert_nothing(&mut b).await;
    let again = take(&mut a, 10).await;
    assert_eq!(bodies(&again), ["1"]);
    assert_eq!(again[0].attempt, 2);
    second.ack().await.unwrap();
    ack_all(again).await;
    broker.check_invariants();
}
