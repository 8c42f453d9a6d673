//! `courier dlq`: the dead letters of a topic, on `<topic>.dlq`, kept there by the group
//! [`DEAD_LETTER_GROUP`](courier_core::headers::DEAD_LETTER_GROUP) (`dead-letters`).
//!
//! Every command reads through that group and settles only what it means to remove: see
//! [`read`](mod@read).

mod list;
mod purge;
pub mod read;
mod redrive;
mod select;
mod show;
mod summary;

pub use list::list;
pub use purge::{Purged, purge};
pub use redrive::{Redriven, redrive};
pub use show::show;
