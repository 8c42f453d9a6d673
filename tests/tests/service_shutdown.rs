//! Each service binary stops within its shutdown deadline (3 s here, plus a little) when its
//! broker is gone or failing: RabbitMQ behind a proxy that refuses connections or fails every
//! one, and a Kafka broker (a tansu of this test's own) killed with SIGKILL. Orders posted
//! before the broker went away are committed in the store and wait there.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use courier_tests::{
    proxy::{Mode, Proxy},
    saga::processes::ServiceBinaries,
    support::broker_absent,
};
use tokio::process::{Child, Command};

mod kafka_support;

use kafka_support::Tansu;

const DEADLINE_MS: u64 = 3_000;
/// What the exit may take beyond the deadline: the last second of the service's own budget
/// and the process's teardown.
const SLACK: Duration = Duration::from_millis(2_500);

fn free_port() -> u16 {
    courier_tests::ports::free_port().expect("a free port")
}

struct Running {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Starts the three binaries on `broker_section` and waits until each says it runs.
async fn start_all(dir: &Path, broker_section: &str) -> (Vec<Running>, u16) {
    let bins = ServiceBinaries::locate_or_build()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = free_port();
    let prefix = courier_tests::support::unique_name("shutdown");
    let config = dir.join("courier.toml");
    let text = format!(
        "{broker_section}\n[store]\nurl = \"sqlite://{}/{{service}}.db\"\n\n[runtime]\n\
         shutdown_deadline_ms = {DEADLINE_MS}\n\n[services.order]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [topics]\norder_intake = \"{prefix}-intake\"\norder_placed = \"{prefix}-placed\"\n\
         stock_reserved = \"{prefix}-reserved\"\nstock_rejected = \"{prefix}-rejected\"\n\
         payment_succeeded = \"{prefix}-paid\"\npayment_failed = \"{prefix}-failed\"\n",
        dir.display()
    );
    std::fs::write(&config, text).expect("writes the config");
    let mut running = Vec::new();
    for (name, bin) in [
        ("inventory-service", &bins.inventory),
        ("payment-service", &bins.payment),
        ("order-service", &bins.order),
    ] {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .env_remove("COURIER_CONFIG")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("clones"))
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .expect("the service starts");
        running.push(Running { name, child, log });
    }
    let give_up = Instant::now() + Duration::from_secs(60);
    for service in &running {
        while !service.log().contains(&format!("{} running", service.name)) {
            assert!(
                Instant::now() < give_up,
                "{} did not start:\n{}",
                service.name,
                service.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    (running, port)
}

/// Posts a few orders; each must be accepted (committed in the store).
async fn post_orders(port: u16) {
    let http = reqwest::Client::new();
    for i in 0..3 {
        let answer = http
            .post(format!("http://127.0.0.1:{port}/orders"))
            .json(&serde_json::json!({"order_id": format!("before-{i}"), "product_id": "1001", "quantity": 1}))
            .send()
            .await
            .expect("POST /orders");
        assert_eq!(answer.status().as_u16(), 202);
    }
}

/// Sends SIGTERM to every service and checks that each exits with status 0 within the
/// deadline and the slack.
async fn stop_all(running: Vec<Running>, what: &str) {
    for service in &running {
        let pid = service.child.id().expect("a pid").to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
    }
    let signalled = Instant::now();
    let limit = Duration::from_millis(DEADLINE_MS) + SLACK;
    for mut service in running {
        let waited =
            tokio::time::timeout(limit + Duration::from_secs(5), service.child.wait()).await;
        let took = signalled.elapsed();
        let log = service.log();
        let status = waited.unwrap_or_else(|_| {
            panic!(
                "{} ({what}) still runs {took:?} after SIGTERM:\n{log}",
                service.name
            )
        });
        let status = status.expect("wait");
        assert!(
            status.success(),
            "{} ({what}) exited with {status}:\n{log}",
            service.name
        );
        assert!(
            took <= limit,
            "{} ({what}) took {took:?} to stop, more than {limit:?}:\n{log}",
            service.name
        );
        eprintln!("{} ({what}) stopped {took:?} after SIGTERM", service.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_stop_in_time_when_rabbitmq_is_gone_or_failing() {
    if std::net::TcpStream::connect("127.0.0.1:5672").is_err() {
        broker_absent("rabbitmq", "nothing listens on 127.0.0.1:5672");
        return;
    }
    for mode in [Mode::Stop, Mode::Fail] {
        let proxy = Proxy::start("127.0.0.1:5672".parse().expect("an address"))
            .await
            .expect("a proxy");
        let dir = tempfile::tempdir().expect("a temp dir");
        let section = format!(
            "[broker]\nkind = \"rabbitmq\"\n\n[broker.rabbitmq]\n\
             url = \"amqp://guest:guest@127.0.0.1:{}/%2f\"\nqueue_expires_ms = 60000\n",
            proxy.port()
        );
        let (running, port) = start_all(dir.path(), &section).await;
        post_orders(port).await;
        proxy.set(mode);
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop_all(running, &format!("RabbitMQ {mode:?}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_stop_in_time_when_kafka_is_killed() {
    let data = tempfile::tempdir().expect("a temp dir");
    let tansu = Tansu {
        port: free_port().to_string(),
        data: data.path().join("tansu"),
    };
    if !tansu.start() {
        broker_absent(
            "kafka",
            "could not start a tansu of this test's own (scripts/kafka.sh)",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let section = format!(
        "[broker]\nkind = \"kafka\"\n\n[broker.kafka]\nbrokers = \"127.0.0.1:{}\"\npartitions = 1\n",
        tansu.port
    );
    let (running, port) = start_all(dir.path(), &section).await;
    post_orders(port).await;
    tansu.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_all(running, "Kafka killed").await;
}
