//! Running cases on a broker and collecting a [`Report`]: one case ([`run_case`]), a list of
//! them, or several copies of the whole suite at once.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use courier_core::Broker;
use futures::future::join_all;

use super::{
    SuiteOptions,
    cases::{CASES, TestCase, find, needs_text, test_names},
    harness::{Ctx, Leftovers, lock},
    report::{Entry, Outcome, Report},
};

/// Whether a run prints one line per case as it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Echo {
    /// `conformance memory publish_subscribe ... ok (0.12s)`, for runs inside `#[tokio::test]`
    /// (captured unless a case fails).
    Lines,
    /// Nothing: the caller reports through its own test harness.
    Quiet,
}

/// Runs every case on `broker`, one after the other, printing one line per case:
/// `conformance memory publish_subscribe ... ok (0.12s)`.
pub async fn run_all(broker: Arc<dyn Broker>) -> Report {
    let label = broker.name().to_owned();
    let cases = CASES.iter().collect();
    run_cases(broker, cases, &label, SuiteOptions::from_env(), Echo::Lines).await
}

/// Runs the cases named in `names`, in that order; an unknown name is reported as failed.
pub async fn run_selected(broker: Arc<dyn Broker>, names: &[&str]) -> Report {
    run_selected_with(broker, names, SuiteOptions::from_env()).await
}

/// Like [`run_selected`], with explicit timing `options` instead of the environment's.
pub async fn run_selected_with(
    broker: Arc<dyn Broker>,
    names: &[&str],
    options: SuiteOptions,
) -> Report {
    selected(broker, names, options, Echo::Lines).await
}

/// Like [`run_selected_with`], printing nothing: for callers that report through their own
/// test harness (libtest-mimic captures no output).
pub async fn run_selected_quietly(
    broker: Arc<dyn Broker>,
    names: &[&str],
    options: SuiteOptions,
) -> Report {
    selected(broker, names, options, Echo::Quiet).await
}

/// Runs `copies` copies of the whole suite at once on `broker`, each on its own fresh names,
/// and returns one report whose entries are named `#<copy> <case>`.
pub async fn run_stress(broker: Arc<dyn Broker>, copies: usize) -> Report {
    stress(broker, copies, SuiteOptions::from_env(), Echo::Lines).await
}

/// Like [`run_stress`], with explicit `options` and printing nothing.
pub async fn run_stress_quietly(
    broker: Arc<dyn Broker>,
    copies: usize,
    options: SuiteOptions,
) -> Report {
    stress(broker, copies, options, Echo::Quiet).await
}

async fn selected(
    broker: Arc<dyn Broker>,
    names: &[&str],
    options: SuiteOptions,
    echo: Echo,
) -> Report {
    let label = broker.name().to_owned();
    let mut report = Report::new(label.clone());
    let mut cases = Vec::new();
    for name in names {
        match find(name) {
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
    report.extend(run_cases(broker, cases, &label, options, echo).await);
    report
}

async fn stress(
    broker: Arc<dyn Broker>,
    copies: usize,
    options: SuiteOptions,
    echo: Echo,
) -> Report {
    let name = broker.name();
    let runs = (1..=copies).map(|copy| {
        let broker = broker.clone();
        async move {
            let label = format!("{name}#{copy}");
            let cases = CASES.iter().collect();
            let mut report = run_cases(broker, cases, &label, options, echo).await;
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
    echo: Echo,
) -> Report {
    let mut report = Report::new(broker.name());
    for case in cases {
        let entry = run_case(broker.clone(), case, options).await;
        if echo == Echo::Lines {
            println!("conformance {label} {} ... {}", entry.name, entry.status());
        }
        report.entries.push(entry);
    }
    report
}

/// Runs `case` on `broker`: skipped when the broker lacks a capability it needs, failed when
/// it fails, panics or outlives `options.timeout`. The producers it opened are closed
/// whatever the outcome.
pub(crate) async fn run_case(
    broker: Arc<dyn Broker>,
    case: &'static TestCase,
    options: SuiteOptions,
) -> Entry {
    let missing = case.missing(&broker.capabilities());
    if !missing.is_empty() {
        return Entry {
            name: case.name.to_owned(),
            outcome: Outcome::Skipped(needs_text(&missing)),
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
        .map(|p| tokio::time::timeout(Duration::from_secs(5), p.close()));
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
