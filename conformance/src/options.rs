//! The settings of a conformance run: [`SuiteOptions`], from the environment or in code.

use std::time::Duration;

/// Timing settings of a conformance run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuiteOptions {
    /// The longest one test may take; a test still running then fails (a hung broker never
    /// hangs the run). Default 60 s; `COURIER_SUITE_TIMEOUT_SECS` overrides it.
    pub timeout: Duration,
    /// How long a test keeps listening after what it expects arrived, to catch duplicates and
    /// strays. Default 200 ms; `COURIER_SUITE_SETTLE_MS` overrides it.
    pub settle: Duration,
}

impl Default for SuiteOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            settle: Duration::from_millis(200),
        }
    }
}

impl SuiteOptions {
    /// The defaults, overridden by `COURIER_SUITE_TIMEOUT_SECS` and `COURIER_SUITE_SETTLE_MS`;
    /// a malformed value is ignored with a warning.
    pub fn from_env() -> Self {
        let defaults = Self::default();
        Self {
            timeout: Duration::from_secs(env_number(
                "COURIER_SUITE_TIMEOUT_SECS",
                defaults.timeout.as_secs(),
            )),
            settle: Duration::from_millis(env_number(
                "COURIER_SUITE_SETTLE_MS",
                defaults.settle.as_millis() as u64,
            )),
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Err(_) => default,
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!(
                    "conformance: ignoring {name}={v:?} (not a positive integer); using {default}"
                );
                default
            }
        },
    }
}
