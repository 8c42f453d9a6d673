//! The trials of one [`Configuration`]: one per case (`<configuration>::<case>`), and one that
//! checks that the broker's capabilities rule out exactly the cases expected to be skipped.

use std::sync::Arc;

use libtest_mimic::{Failed, Trial};

use super::{configuration::Configuration, fixture::Shared};
use crate::{
    SuiteOptions,
    cases::{CASES, TestCase, needs_text, ruled_out},
    report::{Entry, Outcome},
    run::run_case,
};

/// The name of the trial that checks the skipped cases, after the configuration's name.
pub(crate) const SKIP_CHECK: &str = "skips_exactly_the_expected_cases";

/// Every trial of `config`, its cases in catalogue order, then the skip check; all share the
/// broker of `shared`.
pub(crate) fn trials(config: &Configuration, shared: &Arc<Shared>) -> Vec<Trial> {
    let mut trials: Vec<Trial> = CASES
        .iter()
        .map(|case| case_trial(config, case, shared.clone()))
        .collect();
    trials.push(skip_check(config, shared.clone()));
    trials
}

/// The trial of `case`, ignored when `config` expects to skip it.
fn case_trial(config: &Configuration, case: &'static TestCase, shared: Arc<Shared>) -> Trial {
    let expected_skip = config.skips(case.name);
    let config = config.clone();
    Trial::test(format!("{}::{}", config.name, case.name), move || {
        shared.block_on(async {
            let broker = shared.broker().await;
            let entry = run_case(broker, case, SuiteOptions::from_env()).await;
            verdict(entry, &config, expected_skip)
        })
    })
    .with_ignored_flag(expected_skip)
}

/// What the harness reports for a case that ended as `entry`.
fn verdict(entry: Entry, config: &Configuration, expected_skip: bool) -> Result<(), Failed> {
    let notes = if entry.notes.is_empty() {
        String::new()
    } else {
        format!(" [{}]", entry.notes.join("; "))
    };
    match entry.outcome {
        Outcome::Passed(_) => Ok(()),
        Outcome::Failed(message) => Err(format!("{message}{notes}").into()),
        Outcome::Skipped(reason) if expected_skip => Err(format!(
            "cannot run on {}: {reason} (it is expected to be skipped there)",
            config.name
        )
        .into()),
        Outcome::Skipped(reason) => Err(format!(
            "skipped ({reason}), but {} is not expected to skip it (expected skips: {}): did \
             the backend lose a capability?",
            config.name,
            config.expected_text()
        )
        .into()),
    }
}

/// The trial that fails unless the broker's capabilities rule out exactly the cases `config`
/// expects to skip (and not every case).
fn skip_check(config: &Configuration, shared: Arc<Shared>) -> Trial {
    let config = config.clone();
    Trial::test(format!("{}::{SKIP_CHECK}", config.name), move || {
        shared.block_on(async {
            let caps = shared.broker().await.capabilities();
            let ruled_out = ruled_out(&caps);
            let mut skipped: Vec<&str> = ruled_out.iter().map(|(name, _)| *name).collect();
            let mut expected = config.expected_skips.clone();
            skipped.sort_unstable();
            expected.sort_unstable();
            if skipped != expected {
                let why: Vec<String> = ruled_out
                    .iter()
                    .map(|(name, missing)| format!("{name} ({})", needs_text(missing)))
                    .collect();
                return Err(format!(
                    "the cases {}'s capabilities rule out differ from those expected\n  ruled \
                     out: {}\n  expected:  {}",
                    config.name,
                    if why.is_empty() {
                        "none".to_owned()
                    } else {
                        why.join(", ")
                    },
                    config.expected_text()
                )
                .into());
            }
            if skipped.len() == CASES.len() {
                return Err(format!(
                    "{} rules out every case: the run proves nothing",
                    config.name
                )
                .into());
            }
            Ok(())
        })
    })
}

/// One line per case of `config` that is expected to be skipped and that `caps` rules out,
/// saying why: `suite_on_rabbitmq::per_key_order_across_consumers ignored: needs ...`.
pub(crate) fn ignored_lines(
    config: &Configuration,
    caps: &courier_core::Capabilities,
) -> Vec<(String, String)> {
    ruled_out(caps)
        .into_iter()
        .filter(|(name, _)| config.skips(name))
        .map(|(name, missing)| {
            let trial = format!("{}::{name}", config.name);
            let line = format!("{trial} ignored: {}", needs_text(&missing));
            (trial, line)
        })
        .collect()
}
