//! Building blocks for backends, free of locks, sockets and tasks:
//!
//! - [`BackendConfig`]: what a backend's configuration table offers the config crate, and
//!   [`InvalidSetting`], the error of a bad value;
//! - [`group`]: one group's messages and members — the shared queue, per-key pinning,
//!   prefetch, unacked deliveries, requeue with the next attempt number — for backends that
//!   route messages to competing consumers themselves (the in-memory queue, the ZeroMQ
//!   binding side), which keep only their wake-up and transport code around it;
//! - [`crate::key_routing`]: which member a key is pinned to, and the one key hasher;
//! - [`fill_batch`]: `recv_batch` for a consumer that reads its deliveries from a channel.

mod batch;
mod config;
pub mod group;

pub use batch::fill_batch;
pub use config::{BackendConfig, InvalidSetting};
