//! The conformance suite: one set of async tests every backend runs unchanged.
//!
//! Each test picks itself by the broker's [`Capabilities`](courier_core::Capabilities): a test
//! whose capability is missing is reported as skipped, naming it. Each test gets fresh topic
//! and group names, its own timeout (`COURIER_SUITE_TIMEOUT_SECS`, default 60 s) and closes
//! what it opened, so the suite can run against a shared broker, and several copies of it at
//! once ([`run_stress`]).
//!
//! ```no_run
//! # async fn demo(broker: std::sync::Arc<dyn courier_core::Broker>) {
//! let report = courier_tests::conformance::run_all(broker).await;
//! report.assert_passed();
//! # }
//! ```

mod delivery;
mod groups;
mod harness;
mod load;
mod ordering;
mod redelivery;
mod report;
mod runtime;

use std::{sync::Arc, time::Instant};

use courier_core::{Broker, Capability};
use futures::future::{BoxFuture, join_all};

pub use self::harness::SuiteOptions;
use self::harness::{Ctx, Leftovers, TestResult, lock};
pub use self::report::{Entry, Outcome, Report};

type TestFn = fn(Ctx) -> BoxFuture<'static, TestResult>;

/// One test of the suite.
struct TestCase {
    name: &'static str,
    needs: &'static [Capability],
    run: TestFn,
}

macro_rules! case {
    ($module:ident :: $name:ident, [$($cap:ident),*]) => {
        TestCase {
            name: stringify!($name),
            needs: &[$(Capability::$cap),*],
            run: |ctx| Box::pin($module::$name(ctx)),
        }
    };
}

/// Every test, in the order [`run_all`] runs them.
static TESTS: &[TestCase] = &[
    case!(delivery::publish_subscribe, []),
    case!(delivery::key_without_headers, []),
    case!(delivery::topics_isolated, []),
    case!(delivery::send_after_close_fails, []),
    case!(delivery::ack_twice_fails, []),
    case!(delivery::ack_batch_settles_every_delivery, []),
    case!(delivery::reject_is_not_redelivered, []),
    case!(delivery::recv_after_close_is_none, []),
    case!(groups::fan_out, [FanOut]),
    case!(groups::competing_consumers, [CompetingConsumers]),
    case!(groups::detached_retention, [DetachedRetention]),
    case!(
        redelivery::nack_requeue_redelivers,
        [RedeliveryOnNack, AttemptCount]
    ),
    case!(
        redelivery::dropped_consumer_redelivers,
        [RedeliveryOnDisconnect]
    ),
    case!(
        redelivery::closed_consumer_redelivers,
        [RedeliveryOnDisconnect]
    ),
    case!(redelivery::nack_many_times, [RedeliveryOnNack]),
    case!(ordering::per_key_order, [PerKeyOrder]),
    case!(
        ordering::per_key_order_across_consumers,
        [PerKeyOrder, PerKeyOrderAcrossConsumers, CompetingConsumers]
    ),
    case!(load::concurrent_sends, [AtLeastOnce]),
    case!(load::subscribe_close_churn, []),
    case!(load::prefetch_bound, [Prefetch]),
    case!(runtime::runtime_retry_then_success, []),
    case!(runtime::runtime_dead_letter_exhausted, []),
    case!(runtime::runtime_undecodable_json, []),
    case!(runtime::runtime_handler_panic, []),
    case!(runtime::runtime_outside_attempt_header, []),
    case!(runtime::runtime_per_key_order, [PerKeyOrder]),
    case!(runtime::runtime_graceful_shutdown, []),
];

/// The names of every test, in the order [`run_all`] runs them.
pub fn test_names() -> Vec<&'static str> {
    TESTS.iter().map(|t| t.name).collect()
}

/// The capabilities test `name` needs, or `None` for an unknown name.
pub fn needs(name: &str) -> Option<&'static [Capability]> {
    TESTS.iter().find(|t| t.name == name).map(|t| t.needs)
}

/// Runs every test on `broker`, one after the other, printing one line per test:
/// `conformance memory publish_subscribe ... ok (0.12s)`.
pub async fn run_all(broker: Arc<dyn Broker>) -> Report {
    let label = broker.name().to_owned();
    run_cases(
        broker,
        TESTS.iter().collect(),
        &label,
        SuiteOptions::from_env(),
    )
    .await
}

/// Runs the tests named in `names`, in that order; an unknown name is reported as failed.
pub async fn run_selected(broker: Arc<dyn Broker>, names: &[&str]) -> Report {
    run_selected_with(broker, names, SuiteOptions::from_env()).await
}

/// Like [`run_selected`], with explicit timing `options` instead of the environment's.
pub async fn run_selected_with(
    broker: Arc<dyn Broker>,
    names: &[&str],
    options: SuiteOptions,
) -> Report {
    let label = broker.name().to_owned();
    let mut report = Report::new(label.clone());
    let mut cases = Vec::new();
    for name in names {
        match TESTS.iter().find(|t| t.name == *name) {
            Some(case) => cases.push(case),
            None => report.entries.push(Entry {
                name: (*name).to_owned(),
                outcome: Outcome::Failed(format!(
                    "no such conformance test; known: {}",
                    test_names().join(", ")
                )),
                notes: Vec::new(),
            }),
        }
    }
    report.extend(run_cases(broker, cases, &label, options).await);
    report
}

/// Runs `copies` copies of the whole suite at once on `broker`, each on its own fresh names,
/// and returns one report whose entries are named `#<copy> <test>`.
pub async fn run_stress(broker: Arc<dyn Broker>, copies: usize) -> Report {
    let name = broker.name();
    let runs = (1..=copies).map(|copy| {
        let broker = broker.clone();
        async move {
            let label = format!("{name}#{copy}");
            let options = SuiteOptions::from_env();
            let mut report = run_cases(broker, TESTS.iter().collect(), &label, options).await;
            for e in &mut report.entries {
                e.name = format!("#{copy} {}", e.name);
            }
            report
        }
    });
    let mut report = Report::new(format!("{name} (stress x{copies})"));
    for r in join_all(runs).await {
        report.extend(r);
    }
    report
}

async fn run_cases(
    broker: Arc<dyn Broker>,
    cases: Vec<&'static TestCase>,
    label: &str,
    options: SuiteOptions,
) -> Report {
    let mut report = Report::new(broker.name());
    for case in cases {
        let entry = run_case(broker.clone(), case, options).await;
        println!("conformance {label} {} ... {}", entry.name, entry.status());
        report.entries.push(entry);
    }
    report
}

async fn run_case(
    broker: Arc<dyn Broker>,
    case: &'static TestCase,
    options: SuiteOptions,
) -> Entry {
    let missing = broker.capabilities().missing(case.needs);
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|c| c.name()).collect();
        return Entry {
            name: case.name.to_owned(),
            outcome: Outcome::Skipped(format!("needs {}", names.join(", "))),
            notes: Vec::new(),
        };
    }
    let (ctx, Leftovers { notes, producers }) = Ctx::new(broker, case.name, options);
    let started = Instant::now();
    let mut task = tokio::spawn((case.run)(ctx));
    let outcome = match tokio::time::timeout(options.timeout, &mut task).await {
        Ok(Ok(Ok(()))) => Outcome::Passed(started.elapsed()),
        Ok(Ok(Err(failure))) => Outcome::Failed(failure.0),
        Ok(Err(e)) if e.is_panic() => Outcome::Failed(format!("panicked: {}", panic_message(e))),
        Ok(Err(e)) => Outcome::Failed(format!("task ended: {e}")),
        Err(_) => {
            task.abort();
            let _ = task.await;
            Outcome::Failed(format!(
                "timed out after {}s (a hung broker?); COURIER_SUITE_TIMEOUT_SECS changes the limit",
                options.timeout.as_secs()
            ))
        }
    };
    // Whatever the outcome, close the producers the test opened (bounded: a hung broker must
    // not hang the run).
    let producers = std::mem::take(&mut *lock(&producers));
    let closes = producers
        .iter()
        .map(|p| tokio::time::timeout(std::time::Duration::from_secs(5), p.close()));
    join_all(closes).await;
    let notes = std::mem::take(&mut *lock(&notes));
    Entry {
        name: case.name.to_owned(),
        outcome,
        notes,
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    let payload = e.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-text panic payload".to_owned()
    }
}
