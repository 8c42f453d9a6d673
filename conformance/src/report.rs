//! The result of a conformance run: [`Report`], one [`Entry`] per test.

use std::{fmt, time::Duration};

/// How one test ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It passed, in this long.
    Passed(Duration),
    /// It did not run: the reason names the capability the backend lacks.
    Skipped(String),
    /// It failed: what went wrong.
    Failed(String),
}

/// One test of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The test's name, such as `publish_subscribe` (prefixed with `#<copy> ` in a stress run).
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Remarks, such as a part left out because the backend limits payload size.
    pub notes: Vec<String>,
}

impl Entry {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed(_))
    }

    /// Whether it was skipped.
    pub fn skipped(&self) -> bool {
        matches!(self.outcome, Outcome::Skipped(_))
    }

    /// Whether it failed.
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }

    /// The line printed for it: `ok (0.12s)`, `skipped: needs ...`, `FAILED: ...`.
    pub fn status(&self) -> String {
        let status = match &self.outcome {
            Outcome::Passed(d) => format!("ok ({:.2}s)", d.as_secs_f64()),
            Outcome::Skipped(reason) => format!("skipped: {reason}"),
            Outcome::Failed(message) => format!("FAILED: {message}"),
        };
        if self.notes.is_empty() {
            status
        } else {
            format!("{status} [{}]", self.notes.join("; "))
        }
    }
}

/// The results of a conformance run on one backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The backend's name.
    pub backend: String,
    /// One entry per test, in the order they ran.
    pub entries: Vec<Entry>,
}

impl Report {
    /// An empty report for `backend`.
    pub fn new(backend: impl Into<String>) -> Self {
        Self {
            backend: backend.into(),
            entries: Vec::new(),
        }
    }

    /// The tests that failed.
    pub fn failures(&self) -> Vec<&Entry> {
        self.entries.iter().filter(|e| e.failed()).collect()
    }

    /// The tests that were skipped.
    pub fn skipped(&self) -> Vec<&Entry> {
        self.entries.iter().filter(|e| e.skipped()).collect()
    }

    /// The tests that passed.
    pub fn passed(&self) -> Vec<&Entry> {
        self.entries.iter().filter(|e| e.passed()).collect()
    }

    /// The entry of test `name`.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Panics, printing the report, when any test failed or when none passed (so a run
    /// cannot go green by skipping everything). Skipped tests are printed either way.
    ///
    /// # Panics
    /// As described.
    pub fn assert_passed(&self) {
        eprintln!("{self}");
        let failures = self.failures();
        if !failures.is_empty() {
            let names: Vec<&str> = failures.iter().map(|e| e.name.as_str()).collect();
            panic!(
                "conformance {}: {} test(s) failed: {}",
                self.backend,
                failures.len(),
                names.join(", ")
            );
        }
        assert!(
            !self.passed().is_empty(),
            "conformance {}: no test passed ({} skipped): the run proves nothing",
            self.backend,
            self.skipped().len()
        );
    }

    /// Panics unless exactly the tests named in `expected` were skipped: a backend states the
    /// tests it knows it cannot run, so a capability lost by mistake fails its run instead of
    /// quietly skipping more.
    ///
    /// # Panics
    /// When the skipped set differs from `expected`.
    pub fn assert_skipped_exactly(&self, expected: &[&str]) {
        let mut skipped: Vec<&str> = self.skipped().iter().map(|e| e.name.as_str()).collect();
        let mut expected = expected.to_vec();
        skipped.sort_unstable();
        expected.sort_unstable();
        assert_eq!(
            skipped, expected,
            "conformance {}: the skipped tests differ from those expected\n{self}",
            self.backend
        );
    }

    /// Appends the entries of `other`.
    pub fn extend(&mut self, other: Report) {
        self.entries.extend(other.entries);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: Duration = self
            .entries
            .iter()
            .filter_map(|e| match e.outcome {
                Outcome::Passed(d) => Some(d),
                _ => None,
            })
            .sum();
        writeln!(
            f,
            "conformance {}: {} passed, {} skipped, {} failed ({:.2}s in passing tests)",
            self.backend,
            self.passed().len(),
            self.skipped().len(),
            self.failures().len(),
            total.as_secs_f64()
        )?;
        for e in self.skipped() {
            writeln!(f, "  skipped {}: {}", e.name, e.status())?;
        }
        for e in self.failures() {
            writeln!(f, "  failed {}: {}", e.name, e.status())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, outcome: Outcome) -> Entry {
        Entry {
            name: name.into(),
            outcome,
            notes: Vec::new(),
        }
    }

    #[test]
    #[should_panic(expected = "no test passed")]
    fn all_skipped_is_not_a_pass() {
        let mut r = Report::new("x");
        r.entries.push(entry(
            "a",
            Outcome::Skipped("needs fan-out to groups".into()),
        ));
        r.assert_passed();
    }

    #[test]
    #[should_panic(expected = "1 test(s) failed: b")]
    fn a_failure_fails() {
        let mut r = Report::new("x");
        r.entries.push(entry("a", Outcome::Passed(Duration::ZERO)));
        r.entries.push(entry("b", Outcome::Failed("lost 3".into())));
        r.assert_passed();
    }

    #[test]
    fn skipped_set_is_checked() {
        let mut r = Report::new("x");
        r.entries.push(entry("a", Outcome::Passed(Duration::ZERO)));
        r.entries
            .push(entry("b", Outcome::Skipped("needs x".into())));
        r.assert_passed();
        r.assert_skipped_exactly(&["b"]);
        let unexpected = std::panic::catch_unwind(|| r.assert_skipped_exactly(&[]));
        assert!(unexpected.is_err());
        assert_eq!(r.skipped().len(), 1);
        assert!(r.entry("b").is_some_and(Entry::skipped));
    }
}
