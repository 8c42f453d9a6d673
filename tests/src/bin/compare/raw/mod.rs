//! The raw clients, each doing the benchmark's workload the way a user of that client would,
//! with the settings courier's backend uses. Each backend has two raw sides: the bare client
//! (in its simplest form) and the client doing the same work as courier (the baseline the
//! targets use).

pub mod kafka;
pub mod memory;
pub mod memory_acked;
pub mod rabbitmq;
pub mod zeromq;
pub mod zeromq_acked;

/// How much of courier's work a raw side does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Only what the broker needs to move the messages, in the client's simplest form.
    Bare,
    /// The same work as courier for every message (ids, headers, acks, tracking).
    Equal,
}

impl Work {
    /// The side's label in reports and run names: `raw` for equal work, `bare` for bare.
    pub fn label(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::Equal => "raw",
        }
    }
}
