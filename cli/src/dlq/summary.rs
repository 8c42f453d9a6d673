//! Wording shared by the commands that change the DLQ: counts, topics, ids not found.

use std::collections::BTreeMap;

use crate::CliError;

/// `n` and `noun`, plural when `n` is not 1: `1 dead letter`, `3 dead letters`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// ` to orders (2), payments (1)`, or nothing when `topics` is empty.
pub(crate) fn topics(topics: &BTreeMap<String, usize>) -> String {
    if topics.is_empty() {
        return String::new();
    }
    let listed: Vec<String> = topics.iter().map(|(t, n)| format!("{t} ({n})")).collect();
    format!(" to {}", listed.join(", "))
}

/// The ids as owned strings.
pub(crate) fn owned(ids: Vec<&str>) -> Vec<String> {
    ids.into_iter().map(str::to_owned).collect()
}

/// Trait of the reports that name ids not found.
pub(crate) trait Missing {
    fn missing(&self) -> &[String];
}

impl Missing for super::Redriven {
    fn missing(&self) -> &[String] {
        &self.missing
    }
}

impl Missing for super::Purged {
    fn missing(&self) -> &[String] {
        &self.missing
    }
}

/// `report`, or an error naming the ids asked for that `dlq` did not hold.
pub(crate) fn finish<R: Missing>(report: R, dlq: &str) -> Result<R, CliError> {
    if report.missing().is_empty() {
        return Ok(report);
    }
    Err(CliError::failed(format!(
        "not found on {dlq}: {}",
        report.missing().join(", ")
    )))
}
