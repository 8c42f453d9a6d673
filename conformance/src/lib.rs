//! # courier-conformance
//!
//! The conformance suite: one set of async cases every backend runs unchanged. A backend
//! crate runs it from its own tests with this crate as a dev-dependency (as
//! `backends/memory/tests/conformance.rs` does); [`support`] has the helpers the runs share
//! (broker presence, fresh names) and [`faulty`] a broker wrapper that breaks one guarantee on
//! purpose, to prove that the suite notices.
//!
//! Each case picks itself by the broker's [`Capabilities`](courier_core::Capabilities): a case
//! whose capability is missing is reported as skipped, naming it. Each case gets fresh topic
//! and group names, its own timeout (`COURIER_SUITE_TIMEOUT_SECS`, default 60 s) and closes
//! what it opened, so the suite can run against a shared broker, and several copies of it at
//! once ([`run_stress`]).
//!
//! A backend's test target runs the suite as libtest-mimic trials ([`Trials`]): one test per
//! case and configuration, which `cargo test` lists, filters and counts. Inside a
//! `#[tokio::test]`, [`run_all`] runs every case and returns a [`Report`]:
//!
//! ```no_run
//! # async fn demo(broker: std::sync::Arc<dyn courier_core::Broker>) {
//! let report = courier_conformance::run_all(broker).await;
//! report.assert_passed();
//! # }
//! ```

mod cases;
mod delayed;
mod delivery;
pub mod faulty;
mod groups;
mod harness;
mod load;
mod options;
mod ordering;
mod redelivery;
mod report;
mod run;
mod runtime;
pub mod support;
mod trials;

pub use self::{
    cases::{needs, ruled_out, test_names},
    options::SuiteOptions,
    report::{Entry, Outcome, Report},
    run::{
        run_all, run_selected, run_selected_quietly, run_selected_with, run_stress,
        run_stress_quietly,
    },
    trials::{Configuration, Fixture, Trials},
};
