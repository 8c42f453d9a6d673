//! # courier-outbox
//!
//! State and messages that change together: a transactional outbox and inbox for courier
//! services, on SQLite (embedded, a file per service) and PostgreSQL (shared by several
//! instances).
//!
//! * A [`Store`] is a service's database. Its tables, the outbox and the inbox are prefixed
//!   with the service's name, and migrations ([`Migration`]) are applied at start-up.
//! * A [`Tx`] is one transaction: the service changes state through [`Tx::conn`] and
//!   enqueues messages with [`Tx::send`]; both commit together or not at all.
//! * A [`TxHandler`], registered with [`TxRuntime::handle_tx`], runs each delivery in a
//!   transaction that first claims `(group, message id)` in the inbox, so a duplicate
//!   delivery changes nothing; the delivery is acked only after the commit.
//! * A [`Relay`] sends committed outbox rows through any producer, in order per key, marks
//!   them sent after the broker confirmed, and prunes old rows.
//!
//! The guarantee: effects happen once per group; messages are sent at least once, each with
//! the id fixed when it was enqueued.

mod dialect;
mod error;
mod handler;
mod relay;
mod schema;
pub mod scratch;
mod settings;
mod store;
mod tx;

pub use dialect::Dialect;
pub use error::{Result, StoreError};
pub use handler::{Decode, Json, Transactional, TxHandler, TxRuntime};
pub use relay::{Relay, RelayLatency, RelayMetrics, Round};
pub use schema::Migration;
pub use settings::StoreSettings;
pub use sqlx::{AnyConnection, Row, any::AnyRow, query};
pub use store::{Store, dialect_of};
pub use tx::Tx;

/// Microseconds since the Unix epoch, the unit of every time column.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
