//! The three service binaries as separate processes on Kafka (tansu at
//! `COURIER_KAFKA_BROKERS`, default 127.0.0.1:9092): orders posted over HTTP settle as
//! expected, and a service killed with SIGKILL and started again leaves no order unsettled and
//! charges none twice.

mod kafka_support;

use courier_tests::{
    saga::processes::{ProcessOptions, ProcessReport, Service, run_processes},
    support::broker_absent,
};

/// The `[broker]` section of the runs. A killed member is noticed after
/// `session_timeout_ms`; `stall_timeout_ms` makes a survivor rejoin when the coordinator keeps
/// the dead member's partitions (tansu 0.6).
fn kafka_section(brokers: &str) -> String {
    format!(
        "[broker]\nkind = \"kafka\"\nstrict = true\n\n[broker.kafka]\nbrokers = \"{brokers}\"\n\
         session_timeout_ms = 6000\nstall_timeout_ms = 12000\n"
    )
}

/// The section for the broker under test, or `None` (a skip, or a failure in CI) when
/// nothing answers.
fn section_or_skip() -> Option<String> {
    let brokers = kafka_support::brokers();
    if kafka_support::answers(&brokers) {
        return Some(kafka_section(&brokers));
    }
    broker_absent(
        "kafka",
        &format!("nothing answers at {brokers} (scripts/kafka.sh start; COURIER_KAFKA_BROKERS)"),
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_posted_over_http_settle_across_processes_on_kafka() {
    let Some(section) = section_or_skip() else {
        return;
    };
    let report = run_processes(&section, ProcessOptions::default()).await;
    eprintln!("{report:?}");
    assert_eq!(report.orders, 120);
    report.assert_every_outcome();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_order_process_restarts_on_kafka() {
    if let Some(report) = run_with_kill(Service::Order, 5).await {
        assert!(report.charges_before_kill > 0, "{report:?}");
        report.assert_reconciled();
    }
}

/// 200 orders with `victim` killed with SIGKILL once `after_charges` orders are charged,
/// and started again; `None` when the broker is absent.
async fn run_with_kill(victim: Service, after_charges: usize) -> Option<ProcessReport> {
    let section = section_or_skip()?;
    let options = ProcessOptions {
        orders: 200,
        kill: Some(victim),
        kill_after_charges: after_charges,
        ..ProcessOptions::default()
    };
    let report = run_processes(&section, options).await;
    eprintln!("{report:?}");
    Some(report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_inventory_process_restarts_on_kafka() {
    // Killed as posting begins: the orders placed meanwhile wait in Kafka for the restarted
    // process.
    if let Some(report) = run_with_kill(Service::Inventory, 0).await {
        assert!(
            report.charges > report.charges_before_kill,
            "nothing reached payment after the inventory process restarted: {report:?}"
        );
        report.assert_reconciled();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_payment_process_restarts_without_charging_twice_on_kafka() {
    if let Some(report) = run_with_kill(Service::Payment, 5).await {
        report.assert_payment_restarted();
    }
}
