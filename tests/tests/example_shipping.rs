//! The example service `examples/shipping` as a process: on the memory backend it starts,
//! says it runs and stops cleanly on SIGTERM; on RabbitMQ it turns a payment published by
//! another process into one shipment request with the order's key, an id derived from the
//! payment's and the payment's correlation header, then stops cleanly.

use std::{
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use courier_core::{Message, Subscription, codec};
use courier_tests::{saga::processes::locate_or_build_binary, support};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::mpsc,
};

/// The running example, with its standard error collected.
struct Running {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Running {
    /// Starts `shipping-service --config <path>` and waits until it logs that it runs.
    async fn start(config: &Path) -> Self {
        let bin = locate_or_build_binary("shipping", "shipping-service")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .env_remove("COURIER_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the example starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (running_tx, mut running) = mpsc::unbounded_channel();
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("shipping-service running") {
                    let _ = running_tx.send(());
                }
                let mut log = kept.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let started = tokio::time::timeout(Duration::from_secs(30), running.recv()).await;
        let this = Self { child, log };
        assert!(
            matches!(started, Ok(Some(()))),
            "shipping-service did not say it runs within 30 s\n{}",
            this.log()
        );
        this
    }

    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends SIGTERM and expects exit status 0 within 15 s.
    async fn stop(mut self) {
        let pid = self.child.id().expect("a pid").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit 15 s after SIGTERM\n{}", self.log()))
            .expect("waits");
        assert!(
            status.success(),
            "exit status {status} after SIGTERM\n{}",
            self.log()
        );
    }
}

fn write_config(dir: &Path, toml: &str) -> std::path::PathBuf {
    let path = dir.join("shipping.toml");
    std::fs::write(&path, toml).expect("writes the config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_runs_on_memory_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = write_config(dir.path(), "[broker]\nkind = \"memory\"\n");
    let running = Running::start(&config).await;
    let log = running.log();
    assert!(
        log.contains("subscribed") && log.contains("payments.succeeded"),
        "the example subscribes to payments.succeeded\n{log}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_requests_a_shipment_for_a_payment_over_rabbitmq() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // Queues without a consumer for a minute go, so runs leave nothing behind.
    let toml = "[broker]\nkind = \"rabbitmq\"\n\n[broker.rabbitmq]\nqueue_expires_ms = 60000\n";
    let config_path = write_config(dir.path(), toml);
    let config = courier_config::load_from_str(toml, "shipping.toml").expect("a valid config");
    let broker = match courier_config::connect(&config).await {
        Ok(broker) => broker,
        Err(e) => return support::broker_absent("rabbitmq", &e.to_string()),
    };
    let mut shipments = broker
        .subscribe(Subscription::new(
            shipping::SHIPMENTS,
            support::unique_name("check"),
        ))
        .await
        .expect("subscribes to the shipments");
    let running = Running::start(&config_path).await;

    let order = support::unique_name("order");
    let paid = Message::new(format!(
        r#"{{"version":1,"order_id":"{order}","payment_id":"p1","amount_minor":500}}"#
    ))
    .with_key(order.clone())
    .with_header("correlation-id", "req-7");
    let producer = broker.producer().await.expect("a producer");
    producer
        .send(shipping::PAID, paid.clone())
        .await
        .expect("publishes the payment");
    let shipment = loop {
        let mut delivery = tokio::time::timeout(Duration::from_secs(20), shipments.recv())
            .await
            .unwrap_or_else(|_| panic!("no shipment within 20 s\n{}", running.log()))
            .expect("recv")
            .expect("open");
        delivery.ack().await.expect("acks");
        if delivery.message.key.as_deref() == Some(order.as_str()) {
            break delivery.message;
        }
    };
    let event: shipping::ShipmentRequested = codec::from_json(&shipment).expect("decodes");
    assert_eq!(event.order_id, order);
    assert_eq!(shipment.id, format!("shipment-{}", paid.id));
    assert_eq!(
        shipment.headers.get("correlation-id").map(String::as_str),
        Some("req-7")
    );
    running.stop().await;
    producer.close().await.expect("closes");
    broker.close().await.expect("closes");
}
