//! # courier-service
//!
//! What a service binary does around its handlers, written once. [`Service`] is the whole of
//! it for a service of handlers: read `--config`, load the configuration, log to standard
//! error and listen for SIGINT/SIGTERM from the first moment, open the store if any, connect
//! the configured broker with the service's needs checked, declare the handlers' groups and
//! their dead-letter groups, run until a signal and shut down within the deadline
//! (the repository's `examples/shipping` and `docs/writing-a-service.md`).
//!
//! The steps are public on their own for binaries that do more (the order service also
//! serves HTTP): [`boot`], [`open_store`], [`connect`], [`run_handlers`], [`run_service`].
//!
//! Service libraries depend on `courier-core` alone; their binaries depend on this crate,
//! which brings the config loader and every compiled-in backend.
//!
//! ```no_run
//! use std::process::ExitCode;
//! use courier_core::Capability;
//!
//! const NEEDS: &[Capability] = &[Capability::AtLeastOnce];
//!
//! # async fn run() -> ExitCode {
//! let (config, stop) = courier_service::boot("shipping", "Ships confirmed orders.");
//! let store = courier_service::open_store(&config, "shipping", "shipping", &[], &stop).await;
//! let groups = [("orders.placed".to_owned(), "shipping".to_owned())];
//! let broker = courier_service::connect(&config, "shipping", NEEDS, &groups, &stop).await;
//! courier_service::run_handlers("shipping", &config, broker, store, stop, None, |runtime| {
//!     // runtime.subscribe(...) for each handler
//!     let _ = runtime;
//! })
//! .await
//! # }
//! ```

mod command_line;
mod connect;
mod metrics_server;
mod run;
mod service;
mod stop;
mod tracing_setup;

pub use command_line::{Args, boot};
pub use connect::{connect, open_store};
pub use metrics_server::serve_metrics;
pub use run::{run_handlers, run_service, run_until_stopped, start};
pub use service::{Parts, Service};
pub use stop::Stop;
pub use tracing_setup::{
    flush_traces, init_tracing, init_tracing_at, init_tracing_for, init_tracing_for_at,
};
