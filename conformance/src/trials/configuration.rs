//! [`Configuration`]: one backend configuration the suite runs on.

use std::future::Future;

use super::fixture::{Connect, Fixture, connector};

/// One backend configuration the suite runs on: the name its trials are listed under
/// (`<name>::<case>`), how to connect its broker, and the cases it is expected to skip.
#[derive(Clone)]
pub struct Configuration {
    pub(crate) name: String,
    pub(crate) connect: Connect,
    pub(crate) expected_skips: Vec<&'static str>,
}

impl Configuration {
    /// A configuration named `name` whose broker `connect` makes (it may panic when it cannot
    /// connect: the trial that asked fails). It is expected to skip nothing.
    pub fn new<F, Fut>(name: impl Into<String>, connect: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Fixture> + Send + 'static,
    {
        Self {
            name: name.into(),
            connect: connector(connect),
            expected_skips: Vec::new(),
        }
    }

    /// Declares the cases the backend knows it cannot run. They are listed as ignored; a
    /// trial of their own checks that the broker's capabilities rule out exactly these, so a
    /// capability lost by mistake fails the run instead of quietly skipping more. Run anyway
    /// (`--include-ignored`), such a case fails when the broker lacks what it needs.
    #[must_use]
    pub fn expect_skipped(mut self, cases: &[&'static str]) -> Self {
        self.expected_skips = cases.to_vec();
        self
    }

    /// The name its trials are listed under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether case `name` is expected to be skipped.
    pub(crate) fn skips(&self, name: &str) -> bool {
        self.expected_skips.contains(&name)
    }

    /// The expected skips, sorted, for messages.
    pub(crate) fn expected_text(&self) -> String {
        let mut names = self.expected_skips.clone();
        names.sort_unstable();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}
