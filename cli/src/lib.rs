//! # courier-cli
//!
//! The `courier` command-line tool, on whichever broker the services use (the same config
//! file and `COURIER_*` environment):
//!
//! * `courier dlq list|show|redrive|purge <topic>`: the dead letters the runtime put on
//!   `<topic>.dlq`, read through the group `dead-letters` without removing them, sent back
//!   to their topic, or removed;
//! * `courier send <topic>`: one message from standard input, at once or after a delay;
//! * `courier tail <topic>`: messages as they arrive, through a temporary group.
//!
//! Each command is a function of a connected `Arc<dyn Broker>` and a writer, so it runs in
//! a test on the memory backend as it does in the binary:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), courier_cli::CliError> {
//! use std::{sync::Arc, time::Duration};
//!
//! use courier_cli::{args::{ListArgs, ReadArgs}, dlq};
//! use courier_core::Broker;
//!
//! let broker: Arc<dyn Broker> = Arc::new(courier_memory::MemoryBroker::default());
//! let args = ListArgs {
//!     topic: "orders".into(),
//!     read: ReadArgs { limit: 1000, idle: Duration::from_millis(100) },
//!     json: false,
//! };
//! let mut out = Vec::new();
//! let letters = dlq::list(&broker, &args, &mut out).await?;
//! assert!(letters.is_empty());
//! assert_eq!(String::from_utf8_lossy(&out), "0 dead letters on orders.dlq\n");
//! # Ok(())
//! # }
//! ```
//!
//! The binary exits with 0 when done, 1 when an operation failed under way, and 2 for a bad
//! command line or configuration, an unreachable broker, or a backend that cannot do what
//! was asked, with one line on standard error.

pub mod args;
pub mod confirm;
pub mod connect;
pub mod dlq;
pub mod error;
pub mod letter;
pub mod payload;
pub mod progress;
pub mod render;
mod run;
pub mod send;
pub mod tail;

pub use error::CliError;
pub use run::{Io, run};
