//! The `courier` tool's scenarios, run on every backend by tests/cli.rs: dead letters made
//! by a real runtime (list, show, redrive, purge), and send/tail through a temporary group.
//!
//! Each scenario takes two brokers: `service`, where the runtime and the services' groups
//! live, and `tool`, the connection the tool uses (the same broker in memory, a second
//! connection on RabbitMQ and Kafka, a process connecting to the binding side on ZeroMQ).

#![allow(dead_code)]

pub mod dlq;
pub mod output;
pub mod tail;

use std::{future::Future, time::Duration};

/// Waits until `done` says yes, checking every 50 ms, for at most `limit`.
///
/// # Panics
/// When `limit` passes first, naming `what`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
