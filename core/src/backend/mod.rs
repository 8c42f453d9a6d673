//! Building blocks for backends that route messages to competing consumers themselves (the
//! in-memory queue, the ZeroMQ binding side), free of locks, sockets and tasks: the backend
//! keeps only its wake-up and transport code around them.
//!
//! - [`group`]: one group's messages and members — the shared queue, per-key pinning,
//!   prefetch, unacked deliveries, requeue with the next attempt number;
//! - [`crate::key_routing`]: which member a key is pinned to, and the one key hasher.

pub mod group;
