//! The commands in this process on the memory backend: what each reads, prints and
//! changes, and what it refuses. (The runtime scenario on every backend is in
//! courier-tests, tests/cli.rs.)

mod support;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use courier_cli::{
    args::{ListArgs, PurgeArgs, RedriveArgs, Selection, SendArgs, ShowArgs, TailArgs},
    confirm::{Answer, Nobody},
    dlq, error, send, tail,
};
use courier_core::{Broker, Capabilities, Consumer, Message, Producer, Result, Subscription};
use courier_memory::MemoryBroker;
use support::{SharedOutput, dead_letter, put_dead_letters, quick};

fn memory() -> (MemoryBroker, Arc<dyn Broker>) {
    let broker = MemoryBroker::default();
    (broker.clone(), Arc::new(broker))
}

fn list_args(topic: &str) -> ListArgs {
    ListArgs {
        topic: topic.into(),
        read: quick(),
        json: false,
    }
}

fn ids(letters: &[courier_cli::letter::DeadLetter]) -> Vec<String> {
    letters.iter().map(|l| l.id.clone()).collect()
}

#[tokio::test]
async fn list_shows_every_field_and_removes_nothing() {
    let (_, broker) = memory();
    put_dead_letters(
        &broker,
        "orders",
        vec![
            dead_letter("orders", "a", "poison pill"),
            dead_letter("orders", "b", "no such sku"),
        ],
    )
    .await;
    let mut out = Vec::new();
    let letters = dlq::list(&broker, &list_args("orders"), &mut out)
        .await
        .unwrap();
    assert_eq!(ids(&letters), ["a", "b"]);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("ID  KEY    REASON       KIND       ATTEMPTS  GROUP    TIME\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "a   key-a  poison pill  permanent  1         billing  2025-12-03T10:40:00.123Z\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("2 dead letters on orders.dlq\n"), "{text}");

    let mut out = Vec::new();
    let json = ListArgs {
        json: true,
        ..list_args("orders")
    };
    let again = dlq::list(&broker, &json, &mut out).await.unwrap();
    assert_eq!(again, letters, "a second list shows the same letters");
    let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(parsed[1]["reason"], "no such sku");
    assert_eq!(parsed[1]["topic"], "orders");
    assert_eq!(parsed[1]["time"], "2025-12-03T10:40:00.123Z");
}

#[tokio::test]
async fn list_stops_at_the_limit_and_says_so() {
    let (_, broker) = memory();
    let letters = (0..5)
        .map(|i| dead_letter("t", &format!("m{i}"), "r"))
        .collect();
    put_dead_letters(&broker, "t", letters).await;
    let args = ListArgs {
        read: courier_cli::args::ReadArgs {
            limit: 3,
            ..quick()
        },
        ..list_args("t")
    };
    let mut out = Vec::new();
    let first = dlq::list(&broker, &args, &mut out).await.unwrap();
    assert_eq!(ids(&first), ["m0", "m1", "m2"]);
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("(the limit: more may be waiting")
    );
    let all = dlq::list(&broker, &list_args("t"), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(all.len(), 5, "nothing was removed, the order kept");
    assert_eq!(ids(&all)[..3], ids(&first)[..]);
}

#[tokio::test]
async fn show_prints_headers_and_payload_or_fails_for_an_unknown_id() {
    let (_, broker) = memory();
    let binary = dead_letter("t", "bin", "r").with_id("bin");
    let binary = Message {
        payload: vec![0xff, 0x01].into(),
        ..binary
    };
    put_dead_letters(
        &broker,
        "t",
        vec![dead_letter("t", "a", "why\nnot"), binary],
    )
    .await;
    let args = |id: &str, json| ShowArgs {
        topic: "t".into(),
        id: id.into(),
        read: quick(),
        json,
    };
    let mut out = Vec::new();
    let shown = dlq::show(&broker, &args("a", false), &mut out)
        .await
        .unwrap();
    assert_eq!(shown.headers.get("trace").map(String::as_str), Some("t-1"));
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("reason    why\\nnot\n"), "{text}");
    assert!(text.contains("  courier-dlq-group: billing\n"), "{text}");
    assert!(
        text.ends_with("payload (12 bytes, utf8):\npayload of a\n"),
        "{text}"
    );

    let mut out = Vec::new();
    dlq::show(&broker, &args("bin", true), &mut out)
        .await
        .unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(parsed["payload"]["encoding"], "hex");
    assert_eq!(parsed["payload"]["data"], "ff01");
    assert_eq!(parsed["key"], "key-bin");

    let missing = dlq::show(&broker, &args("nope", false), &mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(missing.exit_code(), error::FAILED);
    assert!(
        missing
            .message()
            .contains("no dead letter with id \"nope\""),
        "{missing}"
    );
    let after = dlq::list(&broker, &list_args("t"), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(after.len(), 2);
}

#[tokio::test]
async fn redrive_sends_back_what_matches_clean_and_keeps_the_rest() {
    let (_, broker) = memory();
    broker.declare_group("orders", "svc").await.unwrap();
    broker.declare_group("other", "svc").await.unwrap();
    let moved = dead_letter("other", "c", "poison pill");
    put_dead_letters(
        &broker,
        "orders",
        vec![
            dead_letter("orders", "a", "poison pill"),
            dead_letter("orders", "b", "no such sku"),
            moved,
            Message::new("bare").with_id("d"),
        ],
    )
    .await;
    let args = |select: Selection, dry_run| RedriveArgs {
        topic: "orders".into(),
        select,
        dry_run,
        read: quick(),
    };
    let poison = Selection {
        ids: Vec::new(),
        reason_contains: Some("poison".into()),
    };

    let mut out = Vec::new();
    let dry = dlq::redrive(&broker, &args(poison.clone(), true), &mut out, false)
        .await
        .unwrap();
    assert_eq!((dry.matched, dry.sent), (2, 0));
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.ends_with("would send 2 dead letters back to orders (1), other (1); nothing removed from orders.dlq\n"),
        "{text}"
    );
    assert_eq!(
        dlq::list(&broker, &list_args("orders"), &mut Vec::new())
            .await
            .unwrap()
            .len(),
        4
    );

    let mut out = Vec::new();
    let done = dlq::redrive(&broker, &args(poison, false), &mut out, false)
        .await
        .unwrap();
    assert_eq!((done.matched, done.sent), (2, 2));
    assert!(String::from_utf8(out).unwrap().ends_with(
        "sent 2 dead letters back to orders (1), other (1) and removed them from orders.dlq\n"
    ));
    let left = dlq::list(&broker, &list_args("orders"), &mut Vec::new())
        .await
        .unwrap();
    let mut left = ids(&left);
    left.sort();
    assert_eq!(left, ["b", "d"], "what did not match stays");

    let mut orders = broker
        .subscribe(Subscription::new("orders", "svc"))
        .await
        .unwrap();
    let back = orders.recv().await.unwrap().unwrap();
    assert_eq!((back.message.id.text().as_str(), back.attempt), ("a", 1));
    assert_eq!(back.message.key.as_deref(), Some("key-a"));
    assert_eq!(&back.message.payload[..], b"payload of a");
    assert_eq!(
        back.message.headers.keys().collect::<Vec<_>>(),
        ["trace"],
        "the dead-letter headers are gone"
    );
    let mut other = broker
        .subscribe(Subscription::new("other", "svc"))
        .await
        .unwrap();
    assert_eq!(other.recv().await.unwrap().unwrap().message.id, "c");

    // A letter without a topic header goes to the topic named; an unknown id fails after
    // the others are done.
    let by_id = Selection {
        ids: vec!["d".into(), "zzz".into()],
        reason_contains: None,
    };
    let missing = dlq::redrive(&broker, &args(by_id, false), &mut Vec::new(), false)
        .await
        .unwrap_err();
    assert_eq!(missing.exit_code(), error::FAILED);
    assert!(
        missing.message().contains("not found on orders.dlq: zzz"),
        "{missing}"
    );
    assert_eq!(orders.recv().await.unwrap().unwrap().message.id, "d");
    let left = dlq::list(&broker, &list_args("orders"), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(ids(&left), ["b"]);
}

#[tokio::test]
async fn purge_asks_and_removes_only_with_a_yes() {
    let (_, broker) = memory();
    put_dead_letters(
        &broker,
        "t",
        vec![dead_letter("t", "a", "r"), dead_letter("t", "b", "r")],
    )
    .await;
    let args = |ids: &[&str], yes| PurgeArgs {
        topic: "t".into(),
        select: Selection {
            ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            reason_contains: None,
        },
        yes,
        read: quick(),
    };
    let refused = dlq::purge(
        &broker,
        &args(&[], false),
        &mut Vec::new(),
        &mut Nobody,
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.exit_code(), error::USAGE);
    assert!(refused.message().contains("pass --yes"), "{refused}");

    let mut out = Vec::new();
    let no = dlq::purge(
        &broker,
        &args(&["a"], false),
        &mut out,
        &mut Answer(false),
        false,
    )
    .await
    .unwrap();
    assert_eq!((no.matched, no.removed), (1, 0));
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "nothing removed from t.dlq\n"
    );

    let yes = dlq::purge(
        &broker,
        &args(&["a"], false),
        &mut Vec::new(),
        &mut Answer(true),
        false,
    )
    .await
    .unwrap();
    assert_eq!(yes.removed, 1);
    let left = dlq::list(&broker, &list_args("t"), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(ids(&left), ["b"]);

    let mut out = Vec::new();
    let all = dlq::purge(&broker, &args(&[], true), &mut out, &mut Nobody, false)
        .await
        .unwrap();
    assert_eq!(all.removed, 1);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "removed 1 dead letter from t.dlq\n"
    );
    assert!(
        dlq::list(&broker, &list_args("t"), &mut Vec::new())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn send_and_tail_round_trip_and_the_tail_group_goes() {
    let (memory, broker) = memory();
    broker.declare_group("t", "svc").await.unwrap();
    let output = SharedOutput::default();
    let args = TailArgs {
        topic: "t".into(),
        group: None,
        json: true,
        count: Some(2),
    };
    let group = args.group_name();
    let tailing = {
        let (broker, args, group, mut out) =
            (broker.clone(), args.clone(), group.clone(), output.clone());
        tokio::spawn(async move {
            tail::tail(&broker, &args, &group, &mut out, std::future::pending()).await
        })
    };
    // The group exists once the tail subscribed.
    while memory.group_stats("t", &group).is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let send_args = SendArgs {
        topic: "t".into(),
        key: Some("k1".into()),
        headers: vec![("origin".into(), "cli".into())],
        id: Some("first".into()),
        delay: None,
    };
    let mut out = Vec::new();
    let id = send::send(&broker, &send_args, b"hello".to_vec(), &mut out)
        .await
        .unwrap();
    assert_eq!(id, "first");
    assert_eq!(String::from_utf8(out).unwrap(), "sent first to t\n");
    let second = SendArgs {
        id: None,
        key: None,
        headers: Vec::new(),
        ..send_args
    };
    let id2 = send::send(&broker, &second, vec![0xff], &mut Vec::new())
        .await
        .unwrap();
    let printed = tokio::time::timeout(Duration::from_secs(5), tailing)
        .await
        .expect("the tail stops after --count")
        .unwrap()
        .unwrap();
    assert_eq!(printed, 2);
    let lines: Vec<serde_json::Value> = output
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["id"], "first");
    assert_eq!(lines[0]["key"], "k1");
    assert_eq!(lines[0]["headers"]["origin"], "cli");
    assert_eq!(lines[0]["payload"]["data"], "hello");
    assert_eq!(lines[1]["id"], id2.to_string());
    assert_eq!(lines[1]["payload"]["encoding"], "hex");

    assert!(
        memory.group_stats("t", &group).is_none(),
        "the tail's group is gone"
    );
    let svc = memory.group_stats("t", "svc").unwrap();
    assert_eq!(svc.ready, 2, "the service's group still holds both");
}

#[tokio::test]
async fn tail_prints_one_line_per_message_in_text() {
    let (_, broker) = memory();
    let output = SharedOutput::default();
    let args = TailArgs {
        topic: "t".into(),
        group: Some("watch".into()),
        json: false,
        count: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let tailing = {
        let (broker, args, mut out) = (broker.clone(), args.clone(), output.clone());
        tokio::spawn(async move {
            tail::tail(&broker, &args, "watch", &mut out, async {
                let _ = stopped.await;
            })
            .await
        })
    };
    let producer = broker.producer().await.unwrap();
    while output.text().is_empty() {
        producer
            .send(
                "t",
                Message::new("two\nlines")
                    .with_id("m")
                    .with_key("k")
                    .with_header("h", "v"),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    let printed = tailing.await.unwrap().unwrap();
    assert!(printed >= 1);
    let first = output.text().lines().next().unwrap().to_owned();
    assert_eq!(first, "t id=m key=k headers={h=v} payload=two\\nlines");
}

/// A broker whose producer has no delayed delivery (the trait's default `send_after`).
struct WithoutDelay(MemoryBroker);

struct PlainProducer(Arc<dyn Producer>);

#[async_trait]
impl Producer for PlainProducer {
    async fn send(&self, topic: &str, message: Message) -> Result<()> {
        self.0.send(topic, message).await
    }
    async fn flush(&self) -> Result<()> {
        self.0.flush().await
    }
    async fn close(&self) -> Result<()> {
        self.0.close().await
    }
}

#[async_trait]
impl Broker for WithoutDelay {
    fn name(&self) -> &'static str {
        "plain"
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn producer(&self) -> Result<Arc<dyn Producer>> {
        Ok(Arc::new(PlainProducer(self.0.producer().await?)))
    }
    async fn declare_group(&self, topic: &str, group: &str) -> Result<()> {
        self.0.declare_group(topic, group).await
    }
    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>> {
        self.0.subscribe(subscription).await
    }
}

#[tokio::test]
async fn a_delay_on_a_backend_without_delayed_delivery_is_refused_in_one_line() {
    let broker: Arc<dyn Broker> = Arc::new(WithoutDelay(MemoryBroker::default()));
    let args = SendArgs {
        topic: "t".into(),
        key: None,
        headers: Vec::new(),
        id: None,
        delay: Some(Duration::from_secs(30)),
    };
    let error = send::send(&broker, &args, b"x".to_vec(), &mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(error.exit_code(), error::USAGE);
    assert_eq!(
        error.message(),
        "the plain backend cannot delay a message (--delay needs delayed delivery)"
    );
}

#[tokio::test]
async fn reading_the_dlq_is_refused_where_unacked_letters_would_be_lost() {
    struct Forgetful(MemoryBroker);
    #[async_trait]
    impl Broker for Forgetful {
        fn name(&self) -> &'static str {
            "forgetful"
        }
        fn capabilities(&self) -> Capabilities {
            self.0
                .capabilities()
                .without(courier_core::Capability::RedeliveryOnDisconnect)
        }
        async fn producer(&self) -> Result<Arc<dyn Producer>> {
            self.0.producer().await
        }
        async fn declare_group(&self, topic: &str, group: &str) -> Result<()> {
            self.0.declare_group(topic, group).await
        }
        async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>> {
            self.0.subscribe(subscription).await
        }
    }
    let broker: Arc<dyn Broker> = Arc::new(Forgetful(MemoryBroker::default()));
    let error = dlq::list(&broker, &list_args("t"), &mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(error.exit_code(), error::USAGE);
    assert!(error.message().contains("forgetful backend"), "{error}");
}
