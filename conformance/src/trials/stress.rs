//! The stress trial: several copies of the whole suite at once on one broker of a
//! configuration, each copy on its own fresh names.

use std::collections::BTreeSet;

use libtest_mimic::{Failed, Trial};

use super::{configuration::Configuration, runtime::block_on_own};
use crate::{SuiteOptions, report::Report, run::run_stress_quietly};

/// A trial named `name` that runs `copies` copies of the suite at once on a broker of
/// `config`'s own (not the one its case trials share) on a runtime of its own, then closes
/// it. It fails when any case
/// failed, when none passed, or when a copy skipped other cases than `config` expects.
pub(crate) fn trial(name: &str, copies: usize, config: &Configuration) -> Trial {
    let config = config.clone();
    Trial::test(name, move || {
        block_on_own(async {
            let fixture = (config.connect)().await;
            let report =
                run_stress_quietly(fixture.broker().clone(), copies, SuiteOptions::from_env())
                    .await;
            let closed = fixture.close().await;
            check(&report, copies, &config)?;
            closed.map_err(Failed::from)
        })
    })
}

fn check(report: &Report, copies: usize, config: &Configuration) -> Result<(), Failed> {
    let failures = report.failures();
    if !failures.is_empty() {
        return Err(format!("{} case run(s) failed\n{report}", failures.len()).into());
    }
    if report.passed().is_empty() {
        return Err(format!("no case passed: the run proves nothing\n{report}").into());
    }
    // Entries are named `#<copy> <case>`.
    let skipped = report.skipped();
    let cases: BTreeSet<&str> = skipped
        .iter()
        .map(|e| {
            e.name
                .split_once(' ')
                .map_or(e.name.as_str(), |(_, case)| case)
        })
        .collect();
    let expected: BTreeSet<&str> = config.expected_skips.iter().copied().collect();
    if cases != expected || skipped.len() != copies * expected.len() {
        return Err(format!(
            "the skipped cases differ from those {} expects ({})\n{report}",
            config.name,
            config.expected_text()
        )
        .into());
    }
    Ok(())
}
