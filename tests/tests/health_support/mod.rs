//! What the readiness tests share: a runtime served by the services' health server
//! (`courier_service::serve_metrics`) and polling `/readyz` with a deadline.

#![allow(dead_code)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use courier_core::{Broker, HandlerError, Running, Runtime, RuntimeSettings};
use prometheus_parse::{Scrape, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A runtime with one handler, its health server, and a client for it.
pub struct Served {
    pub base: String,
    pub client: reqwest::Client,
    pub running: Option<Running>,
    stop: CancellationToken,
}

impl Served {
    /// Registers an acking handler on `topic` as `group` on `broker`, serves `/metrics`,
    /// `/healthz` and `/readyz` on a free local port, then starts the runtime.
    pub async fn start(broker: Arc<dyn Broker>, topic: &str, group: &str) -> Self {
        let (_, open) = watch::channel(true);
        Self::start_gated(broker, topic, group, RuntimeSettings::default(), open).await
    }

    /// As [`start`](Self::start) with `settings`, and a handler that waits until `gate`
    /// says `true` before it acks.
    pub async fn start_gated(
        broker: Arc<dyn Broker>,
        topic: &str,
        group: &str,
        settings: RuntimeSettings,
        gate: watch::Receiver<bool>,
    ) -> Self {
        let mut runtime = Runtime::new(broker, settings);
        runtime.handle_fn(topic, group, move |_, _| {
            let mut gate = gate.clone();
            async move {
                let _ = gate.wait_for(|open| *open).await;
                Ok::<(), HandlerError>(())
            }
        });
        let port = courier_tests::ports::free_port().expect("a free port");
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stop = CancellationToken::new();
        courier_service::serve_metrics(
            listen,
            runtime.metrics().clone(),
            runtime.health(),
            stop.clone(),
        )
        .await
        .expect("serves");
        let base = format!("http://{listen}");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("client");
        // Not ready before the runtime has subscribed.
        let (status, body) = readyz(&client, &base).await.expect("answers before start");
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body["subscriptions"][format!("{topic}/{group}")],
            "starting"
        );
        let running = runtime.start().await.expect("the runtime starts");
        Self {
            base,
            client,
            running: Some(running),
            stop,
        }
    }

    /// Polls `/readyz` every 50 ms until it answers `status`, within `limit`; returns how
    /// long that took and the body. Fails the test with the last answer otherwise.
    pub async fn wait_for(&self, status: u16, limit: Duration) -> (Duration, serde_json::Value) {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < limit {
            match readyz(&self.client, &self.base).await {
                Ok((got, body)) if got == status => return (started.elapsed(), body),
                Ok(answer) => last = Some(format!("{answer:?}")),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("/readyz did not answer {status} within {limit:?}; last answer: {last:?}");
    }

    /// `GET /metrics`, parsed.
    pub async fn scrape(&self) -> Scrape {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("/metrics answers")
            .text()
            .await
            .expect("a body");
        assert!(text.ends_with("# EOF\n"), "{text}");
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("the metrics parse")
    }

    /// Scrapes `/metrics` every 200 ms until `check` accepts the gauges `name` (labels and
    /// value of each), within `limit`; returns them.
    pub async fn wait_for_gauges(
        &self,
        name: &str,
        limit: Duration,
        check: impl Fn(&[(std::collections::HashMap<String, String>, f64)]) -> bool,
    ) -> Vec<(std::collections::HashMap<String, String>, f64)> {
        let started = Instant::now();
        loop {
            let gauges = gauges(&self.scrape().await, name);
            if check(&gauges) {
                return gauges;
            }
            assert!(
                started.elapsed() < limit,
                "{name} did not reach the expected values within {limit:?}: {gauges:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `/healthz` answers 200.
    pub async fn assert_live(&self) {
        let answer = self
            .client
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .expect("/healthz answers");
        assert_eq!(answer.status().as_u16(), 200);
    }

    /// Shuts the runtime down, then the server.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), running.shutdown()).await;
        }
        self.stop.cancel();
    }
}

/// One `/readyz` answer: status and JSON body.
pub async fn readyz(
    client: &reqwest::Client,
    base: &str,
) -> Result<(u16, serde_json::Value), String> {
    let answer = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status().as_u16();
    let body = answer.text().await.map_err(|e| e.to_string())?;
    let json = serde_json::from_str(&body).map_err(|e| format!("not JSON ({e}): {body}"))?;
    Ok((status, json))
}

/// Checks a ready body: `ready` true, broker up, `name` consuming.
pub fn assert_ready_body(body: &serde_json::Value, name: &str) {
    assert_eq!(body["ready"], true, "{body}");
    assert_eq!(body["broker"], "up", "{body}");
    assert_eq!(body["subscriptions"][name], "consuming", "{body}");
}

/// Every sample of gauge `name`: its labels and value.
pub fn gauges(
    scrape: &Scrape,
    name: &str,
) -> Vec<(std::collections::HashMap<String, String>, f64)> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter_map(|s| match s.value {
            Value::Gauge(v) | Value::Untyped(v) => Some((
                s.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                v,
            )),
            _ => None,
        })
        .collect()
}
