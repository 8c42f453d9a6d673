//! The conformance suite on the Kafka backend, against the broker at `COURIER_KAFKA_BROKERS`
//! (default `127.0.0.1:9092`; `scripts/kafka.sh start` runs tansu there): once on one shared
//! connection, and two copies at once on a connection of their own.
//!
//! Every case is a test of its own: `cargo test -p courier-tests --test kafka -- --list`.
//! Without the broker the trials are ignored with a notice, or fail in CI.

mod kafka_support;

use std::{process::ExitCode, sync::Arc};

use courier_tests::{
    conformance::{Configuration, Fixture, Trials},
    support::broker_absent,
};

/// Kafka gives every guarantee the suite checks, so nothing may be skipped.
const SKIPPED_ON_KAFKA: &[&str] = &[];

fn main() -> ExitCode {
    kafka_support::init_logs();
    let kafka = Configuration::new("suite_on_kafka", || async {
        let broker = kafka_support::connect_default_or_skip()
            .await
            .expect("the Kafka broker is absent");
        Fixture::new(Arc::new(broker))
    })
    .expect_skipped(SKIPPED_ON_KAFKA);
    let mut trials = Trials::new();
    trials
        .needs_broker(broker_present)
        .stress("stress_on_kafka", 2, &kafka)
        .suite(&kafka);
    trials.run()
}

/// Whether the broker answers; prints why not (a skip notice, or a failure in CI).
fn broker_present() -> bool {
    let brokers = kafka_support::brokers();
    let present = kafka_support::answers(&brokers);
    if !present {
        broker_absent(
            "kafka",
            &format!(
                "nothing answers at {brokers} (scripts/kafka.sh start; COURIER_KAFKA_BROKERS)"
            ),
        );
    }
    present
}
