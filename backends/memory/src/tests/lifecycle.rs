//! Consumers closing and dropping, prefetch, cancel safety, closing producers and the broker,
//! configuration.

use courier_core::InvalidSetting;
use std::time::Duration;

use courier_core::{Broker, Capability, ErrorKind, Message};

use super::support::*;
use crate::{MemoryBroker, MemoryConfig, Overflow};

#[tokio::test]
async fn a_dropped_consumer_gives_everything_back_in_original_order() {
    let broker = broker(100, Overflow::Block);
    let mut a = consumer(&broker, "t", "g", 2).await;
    let mut b = consumer(&broker, "t", "g", 1).await;
    let producer = broker.producer().await.unwrap();
    producer
        .send_batch(
            "t",
            vec![
                keyed("k", "k1"),
                Message::new("free1"),
                keyed("k", "k2"),
                keyed("k", "k3"),
                Message::new("free2"),
            ],
        )
        .await
        .unwrap();
    let held = take(&mut a, 2).await;
    assert_eq!(bodies(&held), ["k1", "free1"]);
    // B moves k2 and k3 to A (which holds k) and takes free2.
    let other = take(&mut b, 1).await;
    assert_eq!(bodies(&other), ["free2"]);
    ack_all(other).await;
    drop(a);
    // Unacked first (attempt 2), then what was routed to A (attempt 1), all in order.
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let mut d = take(&mut b, 1).await.pop().unwrap();
        seen.push((body(&d).to_owned(), d.attempt, d.redelivered));
        d.ack().await.unwrap();
    }
    assert_eq!(
        seen,
        [
            ("k1".to_owned(), 2, true),
            ("free1".to_owned(), 2, true),
            ("k2".to_owned(), 1, false),
            ("k3".to_owned(), 1, false),
        ]
    );
    // The deliveries of the dropped consumer cannot be acked any more.
    for mut d in held {
        let err = d.ack().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Ack);
        assert!(err.to_string().contains("closed"), "{err}");
    }
    broker.check_invariants();
}

#[tokio::test]
async fn acks_after_close_fail_and_the_messages_reach_the_group_again() {
    let broker = broker(100, Overflow::Block);
    let mut a = consumer(&broker, "t", "g", 10).await;
    let producer = broker.producer().await.unwrap();
    producer.send("t", Message::new("x")).await.unwrap();
    let mut held = take(&mut a, 10).await.pop().unwrap();
    a.close().await.unwrap();
    assert!(
        a.recv().await.unwrap().is_none(),
        "a closed consumer returns None"
    );
    assert!(a.recv_batch(5).await.unwrap().is_empty());
    let err = held.nack(true).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Ack);
    assert!(!err.is_retryable());
    // Settling twice is refused by the delivery itself.
    assert_eq!(
        held.ack().await.unwrap_err().kind(),
        ErrorKind::AlreadySettled
    );

    let mut b = consumer(&broker, "t", "g", 10).await;
    let mut again = take(&mut b, 10).await.pop().unwrap();
    assert_eq!((body(&again), again.attempt), ("x", 2));
    again.ack().await.unwrap();
    broker.check_invariants();
}

#[tokio::test]
async fn prefetch_bounds_unacked_deliveries() {
    let broker = broker(100, Overflow::Block);
    let mut c = consumer(&broker, "t", "g", 2).await;
    let producer = broker.producer().await.unwrap();
    producer
        .send_batch("t", (0..5).map(|i| Message::new(i.to_string())).collect())
        .await
        .unwrap();
    let mut held = take(&mut c, 10).await;
    assert_eq!(bodies(&held), ["0", "1"]);
    assert_nothing(&mut c).await;
    // A waiting recv is woken by the ack that frees room.
    let first = held.remove(0);
    let acker = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        ack_all(vec![first]).await;
    });
    let next = take(&mut c, 10).await;
    assert_eq!(bodies(&next), ["2"]);
    acker.await.unwrap();
    // Dropping a delivery unsettled keeps it counted against prefetch.
    drop(next);
    assert_nothing(&mut c).await;
    broker.check_invariants();
}

#[tokio::test]
async fn a_cancelled_recv_loses_nothing() {
    let broker = broker(1_000, Overflow::Block);
    let mut c = consumer(&broker, "t", "g", 1_000).await;
    let producer = broker.producer().await.unwrap();
    let mut received = 0;
    for i in 0..200 {
        // A receive that times out is dropped while waiting.
        let cancelled = tokio::time::timeout(Duration::from_micros(50), c.recv()).await;
        if let Ok(got) = cancelled {
            got.unwrap().unwrap().ack().await.unwrap();
            received += 1;
        }
        producer
            .send("t", Message::new(i.to_string()))
            .await
            .unwrap();
    }
    while received < 200 {
        for mut d in take(&mut c, 1_000).await {
            d.ack().await.unwrap();
            received += 1;
        }
    }
    assert_eq!(received, 200);
    assert_nothing(&mut c).await;
    broker.check_invariants();
}

/// Every consumer waiting with room is woken when messages arrive from concurrent senders.
/// With prefetch 1 and nothing acked, four messages need all four consumers of the group, so
/// a wake-up lost anywhere leaves one of them waiting. Fifty rounds, for the races.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_waiting_consumer_is_woken_by_concurrent_senders() {
    let broker = broker(100, Overflow::Block);
    for round in 0..50 {
        let topic = format!("t{round}");
        let mut waiting = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let mut member = consumer(&broker, &topic, "g", 1).await;
            waiting.spawn(async move {
                let got = take(&mut member, 4).await;
                // Kept open with its delivery unacked until every member has one.
                (member, got)
            });
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        let sends = (0..4).map(|i| {
            let (broker, topic) = (broker.clone(), topic.clone());
            tokio::spawn(async move {
                let producer = broker.producer().await.expect("producer");
                producer
                    .send(&topic, Message::new(format!("{i}")))
                    .await
                    .expect("send");
            })
        });
        for send in futures::future::join_all(sends).await {
            send.expect("send task");
        }
        let mut held = Vec::new();
        while let Some(joined) = tokio::time::timeout(PATIENCE, waiting.join_next())
            .await
            .unwrap_or_else(|_| panic!("round {round}: a waiting consumer was not woken"))
        {
            held.push(joined.expect("member task"));
        }
        let mut got: Vec<&str> = held.iter().flat_map(|(_, got)| bodies(got)).collect();
        got.sort_unstable();
        assert_eq!(got, ["0", "1", "2", "3"], "round {round}: one each");
    }
    broker.check_invariants();
}

/// A consumer woken for the shared queue whose receive is then dropped passes the wake-up on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_up_for_a_dropped_receive_reaches_another_consumer() {
    let broker = broker(100, Overflow::Block);
    let mut a = consumer(&broker, "t", "g", 10).await;
    let mut b = consumer(&broker, "t", "g", 10).await;
    let producer = broker.producer().await.unwrap();
    let b_waits = tokio::spawn(async move {
        let got = take(&mut b, 10).await;
        (b, got)
    });
    // A waits too, then gives up (its future is dropped) right as the message arrives.
    let a_gives_up = tokio::time::timeout(Duration::from_millis(50), a.recv());
    let send = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        producer.send("t", Message::new("x")).await.unwrap();
    };
    let (a_got, ()) = tokio::join!(a_gives_up, send);
    let (_b, b_got) = match a_got {
        Ok(got) => {
            // A won the race; the message is A's and B should see nothing.
            assert_eq!(body(&got.unwrap().unwrap()), "x");
            return;
        }
        Err(_) => tokio::time::timeout(PATIENCE, b_waits)
            .await
            .expect("B is woken")
            .unwrap(),
    };
    assert_eq!(bodies(&b_got), ["x"]);
}

#[tokio::test]
async fn closed_producers_and_brokers_refuse_work() {
    let broker = broker(100, Overflow::Block);
    let mut c = consumer(&broker, "t", "g", 10).await;
    let producer = broker.producer().await.unwrap();
    let other = broker.producer().await.unwrap();
    producer.close().await.unwrap();
    producer.flush().await.unwrap();
    let err = producer.send("t", Message::new("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    other.send("t", Message::new("y")).await.unwrap();

    let waiting = tokio::spawn(async move {
        let first = c.recv().await;
        let second = c.recv().await;
        (
            first.map(|d| d.map(|d| d.message.payload)),
            second.map(|d| d.is_none()),
        )
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    broker.close().await.unwrap();
    let (first, second) = tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&first.unwrap().unwrap()[..], b"y");
    assert!(
        second.unwrap(),
        "recv returns None once the broker is closed"
    );
    assert_eq!(
        other.send("t", Message::new("z")).await.unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert!(broker.producer().await.is_err());
    assert!(broker.declare_group("t", "h").await.is_err());
}

#[tokio::test]
async fn groups_keep_messages_without_consumers_and_topics_without_groups_drop_them() {
    let broker = broker(100, Overflow::Block);
    let producer = broker.producer().await.unwrap();
    producer.send("t", Message::new("lost")).await.unwrap();
    broker.declare_group("t", "g").await.unwrap();
    broker.declare_group("t", "g").await.unwrap();
    producer.send("t", Message::new("kept")).await.unwrap();
    let mut c = consumer(&broker, "t", "g", 10).await;
    let got = take(&mut c, 10).await;
    assert_eq!(bodies(&got), ["kept"]);
    assert_eq!(got[0].topic().as_ref(), "t");
    // The clone shares the topics.
    let clone = broker.clone();
    assert_eq!(clone.group_stats("t", "g").unwrap().unacked, 1);
    assert!(clone.group_stats("t", "nope").is_none());
}

#[test]
fn reports_its_name_and_every_capability_but_persistence() {
    let broker = MemoryBroker::default();
    assert_eq!(broker.name(), "memory");
    let caps = broker.capabilities();
    for cap in Capability::ALL {
        let expected = cap != Capability::Persistence;
        assert_eq!(caps.has(cap), expected, "{cap}");
    }
    assert!(format!("{broker:?}").contains("MemoryBroker"));
}

#[test]
fn config_parses_validates_and_defaults() {
    let default = MemoryConfig::default();
    assert_eq!(default.capacity, 100_000);
    assert_eq!(default.overflow, Overflow::Block);
    assert!(default.validate().is_ok());

    let parsed: MemoryConfig = toml::from_str("capacity = 5\noverflow = \"fail\"").unwrap();
    assert_eq!(
        parsed,
        MemoryConfig {
            capacity: 5,
            overflow: Overflow::Fail
        }
    );
    let partial: MemoryConfig = toml::from_str("overflow = \"block\"").unwrap();
    assert_eq!(partial.capacity, 100_000);
    assert!(
        toml::from_str::<MemoryConfig>("capacty = 5").is_err(),
        "unknown keys are errors"
    );
    assert!(toml::from_str::<MemoryConfig>("overflow = \"drop\"").is_err());

    let zero = MemoryConfig {
        capacity: 0,
        ..MemoryConfig::default()
    };
    let InvalidSetting { key, problem } = zero.validate().unwrap_err();
    assert_eq!(key, "capacity");
    assert!(problem.contains("from 1 to 67108864, not 0"), "{problem}");
    let huge = MemoryConfig {
        capacity: courier_core::backend::group::MAX_HELD + 1,
        ..MemoryConfig::default()
    };
    assert_eq!(huge.validate().unwrap_err().key, "capacity");
    assert_eq!(serde_json::to_string(&Overflow::Fail).unwrap(), "\"fail\"");
}
