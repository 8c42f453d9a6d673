//! `courier send` and `courier tail` on one topic: the tail prints what is sent, through a
//! temporary group that takes nothing from the services' groups and that does not keep
//! messages once the tail stopped; and `send --delay`.

use std::{sync::Arc, time::Duration};

use courier_cli::{
    args::{SendArgs, TailArgs},
    error::USAGE,
    send, tail,
};
use courier_core::{Broker, Message, Subscription};
use courier_tests::support::unique_name;
use futures::future::BoxFuture;
use tokio::{sync::oneshot, task::JoinHandle};

use super::{eventually, output::SharedOutput};

/// A tail running in a task until stopped.
pub struct Tailing {
    pub output: SharedOutput,
    pub group: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<usize, courier_cli::CliError>>,
}

impl Tailing {
    /// Starts `courier tail <topic> --json [--group group]` on `tool`.
    pub fn start(tool: &Arc<dyn Broker>, topic: &str, group: Option<&str>) -> Self {
        let args = TailArgs {
            topic: topic.to_owned(),
            group: group.map(str::to_owned),
            json: true,
            count: None,
        };
        let group = args.group_name();
        let output = SharedOutput::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = {
            let (tool, group, mut out) = (tool.clone(), group.clone(), output.clone());
            tokio::spawn(async move {
                tail::tail(&tool, &args, &group, &mut out, async {
                    let _ = stopped.await;
                })
                .await
            })
        };
        Self {
            output,
            group,
            stop,
            task,
        }
    }

    /// Sends probes to `topic` until the tail prints one: from then on it misses nothing.
    pub async fn wait_until_reading(&self, producer: &dyn courier_core::Producer, topic: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut n = 0;
        while !self.output.ids().iter().any(|id| id.starts_with("probe-")) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the tail printed no probe within 60 s: {}",
                self.output.text()
            );
            n += 1;
            producer
                .send(topic, Message::new("probe").with_id(format!("probe-{n}")))
                .await
                .expect("sends a probe");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Stops the tail; returns how many messages it printed.
    pub async fn stop(self) -> usize {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the tail stops")
            .expect("the tail task")
            .unwrap_or_else(|e| panic!("tail: {e}"))
    }
}

/// Asks the broker whether the group (topic, group) exists, where that can be seen.
pub type Exists = Box<dyn Fn(String, String) -> BoxFuture<'static, bool> + Send + Sync>;

/// `send` three messages while a tail runs: it prints them in order, the service's group
/// still gets them, and the tail's group keeps nothing once the tail stopped. `exists`, when
/// given, checks on the broker that the group is there while the tail runs and gone
/// afterwards. `same_group_after`: a second tail with the same group name must not see what
/// was sent in between (where the backend removes the group); otherwise (Kafka, where the
/// group's offsets stay) a new tail starts at the end.
pub async fn round_trip(
    service: Arc<dyn Broker>,
    tool: Arc<dyn Broker>,
    exists: Option<Exists>,
    same_group_after: bool,
) {
    let topic = unique_name("cli-tail");
    service
        .declare_group(&topic, "svc")
        .await
        .expect("declares the service's group");
    let producer = tool.producer().await.expect("a producer");

    let tailing = Tailing::start(&tool, &topic, None);
    assert!(
        tailing.group.starts_with("courier-tail-"),
        "{}",
        tailing.group
    );
    tailing.wait_until_reading(producer.as_ref(), &topic).await;
    let sent = ["real-1", "real-2", "real-3"];
    for id in sent {
        let args = SendArgs {
            topic: topic.clone(),
            key: Some("one-key".into()),
            headers: vec![("h".into(), id.into())],
            id: Some(id.into()),
            delay: None,
        };
        send::send(
            &tool,
            &args,
            format!("payload {id}").into_bytes(),
            &mut Vec::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("send {id}: {e}"));
    }
    eventually(
        "the tail prints what was sent",
        Duration::from_secs(30),
        || async {
            let printed = tailing.output.ids();
            sent.iter().all(|id| printed.iter().any(|p| p == id))
        },
    )
    .await;
    let printed: Vec<String> = tailing
        .output
        .ids()
        .into_iter()
        .filter(|id| id.starts_with("real-"))
        .collect();
    assert_eq!(printed, sent, "in order, once each");
    let line = tailing
        .output
        .text()
        .lines()
        .find(|l| l.contains("\"real-2\""))
        .map(str::to_owned)
        .expect("a line for real-2");
    let json: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(json["key"], "one-key");
    assert_eq!(json["headers"]["h"], "real-2");
    assert_eq!(json["payload"]["data"], "payload real-2");
    assert_eq!(json["topic"], topic.as_str());

    let group = tailing.group.clone();
    if let Some(exists) = &exists {
        assert!(
            exists(topic.clone(), group.clone()).await,
            "the tail's group {group} exists while it runs"
        );
    }
    let count = tailing.stop().await;
    assert!(count >= 3, "{count}");
    if let Some(exists) = &exists {
        eventually(
            "the tail's group gone from the broker",
            Duration::from_secs(10),
            || {
                let there = exists(topic.clone(), group.clone());
                async move { !there.await }
            },
        )
        .await;
    }

    // Sent while no tail runs: a new tail never shows it.
    producer
        .send(&topic, Message::new("between").with_id("between"))
        .await
        .expect("sends");
    let second = Tailing::start(&tool, &topic, same_group_after.then_some(group.as_str()));
    second.wait_until_reading(producer.as_ref(), &topic).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !second.output.ids().iter().any(|id| id == "between"),
        "the tail's group kept a message after it stopped: {}",
        second.output.text()
    );
    second.stop().await;

    // The service's group lost nothing to the tails.
    let mut svc = service
        .subscribe(Subscription::new(&topic, "svc").with_prefetch(512))
        .await
        .expect("subscribes");
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !["real-1", "real-2", "real-3", "between"]
        .iter()
        .all(|id| seen.iter().any(|s: &String| s == id))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the service's group misses messages: {seen:?}"
        );
        if let Ok(Ok(batch)) =
            tokio::time::timeout(Duration::from_millis(500), svc.recv_batch(256)).await
        {
            for mut d in batch {
                seen.push(d.message.id.to_string());
                d.ack().await.expect("acks");
            }
        }
    }
    svc.close().await.expect("closes");
    producer.close().await.expect("closes");
}

/// `send --delay 1s`: delivered no sooner than a second later where the backend has delayed
/// delivery, else refused with exit code 2 and one clear line.
pub async fn delayed_send(service: Arc<dyn Broker>, tool: Arc<dyn Broker>) {
    let topic = unique_name("cli-delay");
    service
        .declare_group(&topic, "svc")
        .await
        .expect("declares");
    let args = SendArgs {
        topic: topic.clone(),
        key: None,
        headers: Vec::new(),
        id: Some("later".into()),
        delay: Some(Duration::from_secs(1)),
    };
    let started = std::time::Instant::now();
    match send::send(&tool, &args, b"later".to_vec(), &mut Vec::new()).await {
        Ok(id) => {
            let mut svc = service
                .subscribe(Subscription::new(&topic, "svc"))
                .await
                .expect("subscribes");
            let mut got = tokio::time::timeout(Duration::from_secs(30), svc.recv())
                .await
                .expect("delivered within 30 s")
                .expect("receives")
                .expect("a delivery");
            assert_eq!(got.message.id, id);
            assert!(
                started.elapsed() >= Duration::from_millis(900),
                "delivered after {:?}",
                started.elapsed()
            );
            got.ack().await.expect("acks");
            svc.close().await.expect("closes");
        }
        Err(e) => {
            assert_eq!(e.exit_code(), USAGE, "{e}");
            assert_eq!(
                e.message(),
                format!(
                    "the {} backend cannot delay a message (--delay needs delayed delivery)",
                    tool.name()
                )
            );
        }
    }
}
