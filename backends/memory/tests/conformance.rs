//! The conformance suite on the in-memory backend: directly, behind `Arc<dyn Broker>`, with a
//! small capacity that makes producers wait (backpressure), as a stress run, and broken on
//! purpose to prove that each case notices when its guarantee is missing.
//!
//! Every case is a test of its own: `cargo test -p courier-memory --test conformance -- --list`.

use std::{process::ExitCode, sync::Arc, time::Duration};

use courier_conformance::{
    Configuration, Fixture, SuiteOptions, Trials,
    faulty::{Fault, FaultyBroker},
    run_selected_quietly,
};
use courier_core::Broker;
use courier_memory::{MemoryBroker, MemoryConfig, Overflow};
use futures::future::join_all;

/// Memory gives every guarantee the suite checks, so nothing may be skipped.
const SKIPPED_ON_MEMORY: &[&str] = &[];

fn main() -> ExitCode {
    let default = Configuration::new("suite_on_memory", || async {
        Fixture::new(Arc::new(MemoryBroker::new(MemoryConfig::default())))
    })
    .expect_skipped(SKIPPED_ON_MEMORY);
    let as_dyn = Configuration::new("suite_on_memory_as_dyn_broker", || async {
        let broker = Arc::new(MemoryBroker::default()) as Arc<dyn Broker>;
        Fixture::new(broker)
    })
    .expect_skipped(SKIPPED_ON_MEMORY);
    // With 64 messages per group and `Overflow::Block`, every case that sends more than that
    // only passes if producers wait for consumers instead of failing or losing messages.
    let small_capacity = Configuration::new("suite_on_memory_with_small_capacity", || async {
        Fixture::new(Arc::new(MemoryBroker::new(MemoryConfig {
            capacity: 64,
            overflow: Overflow::Block,
        })))
    })
    .expect_skipped(SKIPPED_ON_MEMORY);

    let mut trials = Trials::new();
    // The long runs first, so the short ones fill the other thread meanwhile.
    trials
        // Four copies of the whole suite at once on one broker, each on its own topics.
        .stress("stress_on_memory", 4, &default)
        .test(
            "suite_catches_broken_guarantees",
            suite_catches_broken_guarantees,
        )
        .suite(&default)
        .suite(&as_dyn)
        .suite(&small_capacity);
    trials.run()
}

/// Each fault, injected into a memory broker that still claims every capability, must make
/// the tests of the guarantee it breaks fail.
async fn suite_catches_broken_guarantees() {
    let cases: &[(Fault, &[&str])] = &[
        (
            Fault::LoseEveryNth(7),
            &[
                "publish_subscribe",
                "fan_out",
                "concurrent_sends",
                "detached_retention",
            ],
        ),
        (
            Fault::DuplicateEveryNth(5),
            &[
                "publish_subscribe",
                "competing_consumers",
                "per_key_order",
                "subscribe_close_churn",
            ],
        ),
        (Fault::DropEmptyHeaders, &["publish_subscribe"]),
        (
            Fault::ReverseBatches,
            &[
                "per_key_order",
                "per_key_order_across_consumers",
                "runtime_per_key_order",
            ],
        ),
        (
            Fault::HangSends,
            &["publish_subscribe", "runtime_retry_then_success"],
        ),
        (Fault::SendAfterCloseSucceeds, &["send_after_close_fails"]),
        (
            Fault::RequeueActsAsAck,
            &["nack_requeue_redelivers", "nack_many_times"],
        ),
        (
            Fault::RejectRequeues,
            &["reject_is_not_redelivered", "ack_twice_fails"],
        ),
        (
            Fault::AttemptAlwaysOne,
            &["nack_requeue_redelivers", "nack_many_times"],
        ),
        (Fault::IgnorePrefetch, &["prefetch_bound"]),
        (
            Fault::ForgetUnackedOnClose,
            &[
                "dropped_consumer_redelivers",
                "closed_consumer_redelivers",
                "runtime_graceful_shutdown",
            ],
        ),
        (Fault::RecvAfterCloseFails, &["recv_after_close_is_none"]),
        (
            Fault::AckBatchAcksFirstOnly,
            &["ack_batch_settles_every_delivery"],
        ),
    ];
    let options = SuiteOptions {
        timeout: Duration::from_secs(4),
        settle: Duration::from_millis(100),
    };
    // One run per fault and test, all at once: most of them wait for their deadline.
    let runs = cases.iter().flat_map(|&(fault, names)| {
        names.iter().map(move |&name| async move {
            let broker = Arc::new(FaultyBroker::new(Arc::new(MemoryBroker::default()), fault));
            (fault, run_selected_quietly(broker, &[name], options).await)
        })
    });
    let mut unnoticed = Vec::new();
    for (fault, report) in join_all(runs).await {
        for entry in &report.entries {
            if !entry.failed() {
                unnoticed.push(format!("{fault:?}: {} {}", entry.name, entry.status()));
            } else if fault == Fault::HangSends {
                assert!(
                    entry.status().contains("timed out") || entry.status().contains("deadline"),
                    "a hung send must fail by the timeout: {}",
                    entry.status()
                );
            }
        }
    }
    assert!(
        unnoticed.is_empty(),
        "faults the suite did not notice:\n{}",
        unnoticed.join("\n")
    );
}
