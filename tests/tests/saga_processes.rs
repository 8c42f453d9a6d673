//! The three service binaries as separate processes on RabbitMQ (127.0.0.1:5672): orders
//! posted over HTTP settle as expected, a payment process killed with SIGKILL and started
//! again charges no order twice, and an order sent by a plain Python client (pika) on the
//! intake topic is taken like any other.

use std::{process::Command, time::Duration};

use courier_tests::{
    saga::processes::{Cluster, ProcessOptions, Service, run_processes},
    support::broker_absent,
};

const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The `[broker]` section of the runs: RabbitMQ, with queues that expire once unused so the
/// fresh topics of each run do not pile up on the broker.
fn rabbitmq_section() -> String {
    format!(
        "[broker]\nkind = \"rabbitmq\"\nstrict = true\n\n[broker.rabbitmq]\nurl = \"{URL}\"\n\
         queue_expires_ms = 300000\n"
    )
}

fn rabbitmq_up() -> bool {
    if std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5672".parse().expect("an address"),
        Duration::from_secs(2),
    )
    .is_ok()
    {
        return true;
    }
    broker_absent("rabbitmq", "nothing listens on 127.0.0.1:5672");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_posted_over_http_settle_across_processes() {
    if !rabbitmq_up() {
        return;
    }
    let report = run_processes(&rabbitmq_section(), ProcessOptions::default()).await;
    eprintln!("{report:?}");
    assert_eq!(report.orders, 120);
    report.assert_every_outcome();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_payment_process_restarts_without_charging_twice() {
    if !rabbitmq_up() {
        return;
    }
    let options = ProcessOptions {
        orders: 200,
        kill: Some(Service::Payment),
        ..ProcessOptions::default()
    };
    let report = run_processes(&rabbitmq_section(), options).await;
    eprintln!("{report:?}");
    report.assert_payment_restarted();
}

/// 200 orders with `victim` killed with SIGKILL after 5 charges and restarted on its SQLite
/// file; every order settles as expected, stock moved equals the confirmed lines, and no
/// order is charged twice.
async fn restart(victim: Service) {
    if !rabbitmq_up() {
        return;
    }
    let options = ProcessOptions {
        orders: 200,
        kill: Some(victim),
        ..ProcessOptions::default()
    };
    let report = run_processes(&rabbitmq_section(), options).await;
    eprintln!("{victim:?} killed: {report:?}");
    assert!(report.charges_before_kill > 0, "{report:?}");
    report.assert_reconciled();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_order_process_restarts_and_answers_for_orders_placed_before() {
    restart(Service::Order).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_inventory_process_restarts_on_its_stock() {
    restart(Service::Inventory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_from_a_python_pika_client_is_taken() {
    if !rabbitmq_up() {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/order_pika.py");
    let has_pika = Command::new("python3")
        .args(["-c", "import pika"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_pika {
        // Not a broker: python3 with pika is a tool of this test, installed by `pip install pika`.
        eprintln!(
            "SKIP pika interop: python3 with the pika module is not installed (pip install pika)"
        );
        return;
    }
    let topics = courier_tests::saga::fresh_topics();
    let cluster = Cluster::start(&rabbitmq_section(), topics, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let order_id = courier_tests::support::unique_name("py");
    let out = Command::new("python3")
        .arg(script)
        .args(["--url", URL, "--exchange", &cluster.topics.order_intake])
        .args([
            "--order-id",
            &order_id,
            "--product-id",
            "plenty",
            "--quantity",
            "2",
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "order_pika.py failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let views = cluster
        .wait_settled(std::slice::from_ref(&order_id), Duration::from_secs(30))
        .await;
    let view = views
        .get(&order_id)
        .unwrap_or_else(|| panic!("order {order_id} never arrived\n{}", cluster.logs()));
    assert_eq!(view["status"], "confirmed", "{view}");
    assert_eq!(
        view["total_minor"], 1400,
        "two units of plenty at 7.00: {view}"
    );
    // The same order sent again is the same order, not a new one.
    let again = Command::new("python3")
        .arg(script)
        .args(["--url", URL, "--exchange", &cluster.topics.order_intake])
        .args([
            "--order-id",
            &order_id,
            "--product-id",
            "plenty",
            "--quantity",
            "5",
        ])
        .status()
        .expect("python3 runs");
    assert!(again.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = cluster
        .get(&format!("/orders/{order_id}"))
        .await
        .expect("GET works");
    assert_eq!(status, 200);
    let view: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        view["total_minor"], 1400,
        "a repeated order id must not change the order: {view}"
    );
    cluster.stop().await.unwrap_or_else(|e| panic!("{e}"));
}
