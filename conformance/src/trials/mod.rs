//! The conformance suite as [libtest-mimic](libtest_mimic) trials: each case a test of its own
//! per backend configuration, listed, filtered and counted by `cargo test` like any other.
//!
//! A test target with `harness = false` builds its [`Trials`] in `main`:
//!
//! ```no_run
//! use std::sync::Arc;
//! use courier_conformance::{Configuration, Fixture, Trials};
//! # fn connect() -> Arc<dyn courier_core::Broker> { unimplemented!() }
//!
//! fn main() -> std::process::ExitCode {
//!     let config = Configuration::new("suite_on_mine", || async { Fixture::new(connect()) })
//!         .expect_skipped(&["per_key_order_across_consumers"]);
//!     let mut trials = Trials::new();
//!     trials.suite(&config).stress("stress_on_mine", 2, &config);
//!     trials.test("my_own_test", || async { /* assert!(...) */ });
//!     trials.run()
//! }
//! ```
//!
//! `cargo test --test mine -- --list` then lists `suite_on_mine::publish_subscribe`, ...,
//! `suite_on_mine::skips_exactly_the_expected_cases`, `stress_on_mine` and `my_own_test`.
//! The trials of a configuration share one broker, connected by the first of them that runs
//! and closed after the last, and one tokio runtime (two workers); every other trial runs on
//! a runtime of its own, as `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]`
//! would.

mod configuration;
mod fixture;
mod runtime;
mod stress;
mod suite;

use std::{future::Future, process::ExitCode, sync::Arc};

use libtest_mimic::{Arguments, Trial};

pub use self::{configuration::Configuration, fixture::Fixture};
use self::{fixture::Shared, runtime::block_on_own};
use crate::support::brokers_required;

/// The trials of one test binary, run by [`run`](Self::run) with the command line's
/// arguments (`--list`, a filter, `--exact`, `--skip`, `--test-threads`, `--ignored`, ...).
pub struct Trials {
    args: Arguments,
    trials: Vec<Trial>,
    suites: Vec<(Configuration, Arc<Shared>)>,
    broker_absent: bool,
}

impl Default for Trials {
    fn default() -> Self {
        Self::new()
    }
}

impl Trials {
    /// No trials yet; reads the command line.
    pub fn new() -> Self {
        Self {
            args: Arguments::from_args(),
            trials: Vec::new(),
            suites: Vec::new(),
            broker_absent: false,
        }
    }

    /// States that the trials added from now on need the backend's broker. Unless brokers are
    /// required ([`brokers_required`]: CI) or the trials are only listed, `present` is asked
    /// once (it should print why when it says no, as [`broker_absent`] does); when the broker
    /// is absent, those trials are reported ignored. When brokers are required, the trials run
    /// and fail on their own if the broker is absent.
    ///
    /// [`broker_absent`]: crate::support::broker_absent
    pub fn needs_broker(&mut self, present: impl FnOnce() -> bool) -> &mut Self {
        if !self.args.list && !brokers_required() && !present() {
            self.broker_absent = true;
        }
        self
    }

    /// Adds the trials of `config`: `<name>::<case>` for every case (ignored when the
    /// configuration expects to skip it), and `<name>::skips_exactly_the_expected_cases`.
    /// They share one broker, connected when the first of them runs.
    pub fn suite(&mut self, config: &Configuration) -> &mut Self {
        let shared = Arc::new(Shared::new(config.connect.clone()));
        for trial in suite::trials(config, &shared) {
            self.push(trial);
        }
        self.suites.push((config.clone(), shared));
        self
    }

    /// Adds trial `name`: `copies` copies of the whole suite at once on a broker of `config`
    /// of its own, each on fresh names. It fails when any case fails, or when a copy skips
    /// other cases than `config` expects.
    pub fn stress(&mut self, name: &str, copies: usize, config: &Configuration) -> &mut Self {
        self.push(stress::trial(name, copies, config));
        self
    }

    /// Adds trial `name`, which runs `test()` on a runtime of its own and fails when it panics.
    pub fn test<F, Fut>(&mut self, name: &str, test: F) -> &mut Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        self.push(Trial::test(name, move || {
            block_on_own(test());
            Ok(())
        }));
        self
    }

    fn push(&mut self, trial: Trial) {
        let ignored = trial.has_ignored_flag() || self.broker_absent;
        self.trials.push(trial.with_ignored_flag(ignored));
    }

    /// Runs the trials the arguments select, prints why each ignored case of a configuration
    /// is skipped, closes the configurations' brokers, and returns the exit code: failure when
    /// a trial failed or a broker did not close cleanly.
    pub fn run(self) -> ExitCode {
        let Self {
            args,
            trials,
            suites,
            ..
        } = self;
        let conclusion = libtest_mimic::run(&args, trials);
        let connected: Vec<(&Configuration, &Shared, &Fixture)> = suites
            .iter()
            .filter_map(|(config, shared)| Some((config, &**shared, shared.connected()?)))
            .collect();
        if !args.ignored && !args.include_ignored {
            for (config, _, fixture) in &connected {
                let caps = fixture.broker().capabilities();
                for (trial, line) in suite::ignored_lines(config, &caps) {
                    if selected(&args, &trial) {
                        eprintln!("{line}");
                    }
                }
            }
        }
        // All at once: closing may take a while (deleting a RabbitMQ vhost takes seconds).
        let closed = std::thread::scope(|scope| {
            let closing: Vec<_> = connected
                .iter()
                .map(|(config, shared, fixture)| {
                    scope.spawn(move || {
                        shared
                            .block_on(fixture.close())
                            .map_err(|e| format!("{}: {e}", config.name))
                    })
                })
                .collect();
            closing
                .into_iter()
                .map(|handle| {
                    handle
                        .join()
                        .unwrap_or_else(|_| Err("closing panicked".into()))
                })
                .collect::<Vec<Result<(), String>>>()
        });
        let mut failed = conclusion.has_failed();
        for error in closed.into_iter().filter_map(Result::err) {
            eprintln!("{error}");
            failed = true;
        }
        if failed {
            ExitCode::from(101)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Adds each `async fn()` named as a trial of the same name to a [`Trials`]:
/// `async_tests!(&mut trials, first_test, second_test)`.
#[macro_export]
macro_rules! async_tests {
    ($trials:expr, $($test:ident),+ $(,)?) => {{
        let trials: &mut $crate::Trials = $trials;
        $( trials.test(stringify!($test), $test); )+
    }};
}

/// Whether the filter and `--skip` arguments select trial `name` (as libtest-mimic decides
/// for a trial without a kind).
fn selected(args: &Arguments, name: &str) -> bool {
    let matches = |pattern: &String| {
        if args.exact {
            name == pattern
        } else {
            name.contains(pattern.as_str())
        }
    };
    args.filter.as_ref().is_none_or(matches) && !args.skip.iter().any(matches)
}
