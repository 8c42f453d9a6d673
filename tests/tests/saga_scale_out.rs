//! Two instances of every service binary on RabbitMQ and on Kafka, sharing one PostgreSQL
//! database: orders posted to both order instances settle, stock is never oversold, and no
//! order is charged twice.

use courier_outbox::scratch::ScratchDatabase;
use courier_tests::{
    saga::processes::run_scale_out,
    support::{broker_absent, brokers_required},
};

mod kafka_support;

async fn database() -> Option<ScratchDatabase> {
    match ScratchDatabase::create().await {
        Ok(db) => Some(db),
        Err(e) if brokers_required() => panic!("PostgreSQL required (CI) but absent: {e}"),
        Err(e) => {
            eprintln!("SKIP scale-out: PostgreSQL absent ({e})");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_of_each_service_on_rabbitmq_and_postgres() {
    if std::net::TcpStream::connect("127.0.0.1:5672").is_err() {
        broker_absent("rabbitmq", "nothing listens on 127.0.0.1:5672");
        return;
    }
    let Some(db) = database().await else { return };
    let section = "[broker]\nkind = \"rabbitmq\"\nstrict = true\n\n[broker.rabbitmq]\n\
                   url = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\nqueue_expires_ms = 300000\n";
    let report = run_scale_out(section, &db.url(), 500).await;
    eprintln!("{report:?}");
    assert_eq!(report.confirmed + report.cancelled, 500);
    assert!(report.scarce_confirmed <= report.scarce_stock, "{report:?}");
    assert!(report.confirmed > 0 && report.cancelled > 0, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_of_each_service_on_kafka_and_postgres() {
    let brokers = kafka_support::brokers();
    if !kafka_support::answers(&brokers) {
        broker_absent("kafka", &format!("nothing answers at {brokers}"));
        return;
    }
    let Some(db) = database().await else { return };
    let section = format!(
        "[broker]\nkind = \"kafka\"\nstrict = true\n\n[broker.kafka]\nbrokers = \"{brokers}\"\n\
         session_timeout_ms = 6000\nstall_timeout_ms = 12000\n"
    );
    let report = run_scale_out(&section, &db.url(), 500).await;
    eprintln!("{report:?}");
    assert_eq!(report.confirmed + report.cancelled, 500);
    assert!(report.scarce_confirmed <= report.scarce_stock, "{report:?}");
}
