//! The saga with the three real binaries as separate processes, on a broker named by its
//! `[broker]` config section: [`run_processes`], and the [`Cluster`] it drives.
//!
//! The binaries are found in `COURIER_BIN_DIR` when set; otherwise they are built with
//! `cargo build` into the target directory of the running test, for its profile.
//!
//! One file per part: `binaries` (the services and their executables), `config` (the config
//! file they share), `cluster` (starting, killing and stopping the processes), `stores` and
//! `http` (what a cluster's stores hold and its order API answers), `expected` (what each
//! order must come to), `run` and `report` ([`run_processes`] and what it reports), and
//! `scale_out` ([`run_scale_out`]).

mod binaries;
mod cluster;
mod config;
mod eventually;
mod expected;
mod http;
mod metrics;
mod report;
mod run;
mod scale_out;
mod stores;

pub use binaries::{Service, ServiceBinaries, locate_or_build_binary};
pub use cluster::Cluster;
pub use expected::{expected_status, process_catalog};
pub use report::ProcessReport;
pub use run::{ProcessOptions, run_processes};
pub use scale_out::{ScaleOutReport, run_scale_out};
