//! [`Overflow`]: what a send does when a bounded in-process queue is full.

use serde::{Deserialize, Serialize};

/// What `send` does when a group already holds its capacity (the memory backend's groups,
/// the ZeroMQ binding side's outboxes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overflow {
    /// Wait until acks free room (backpressure on the producer).
    #[default]
    Block,
    /// Return a retryable [`ErrorKind::Full`](crate::ErrorKind::Full) error at once.
    Fail,
}
