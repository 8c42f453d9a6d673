//! What one run does: the workload shapes, the settings both sides share, the payload layout
//! and fresh names per run.

use std::{sync::OnceLock, time::Instant};

use bytes::{BufMut, Bytes, BytesMut};

/// A shape after the OpenMessaging Benchmark: how many producers and consumers (one group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Short name used in the report, e.g. `1p1c`.
    pub name: &'static str,
    /// Concurrent producers.
    pub producers: usize,
    /// Consumers in the one group.
    pub consumers: usize,
}

/// The two workloads every backend runs.
pub const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "1p1c",
        producers: 1,
        consumers: 1,
    },
    Workload {
        name: "4p4c",
        producers: 4,
        consumers: 4,
    },
];

/// Settings identical on the courier side and the raw side.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Measured messages per run (all producers together).
    pub messages: u64,
    /// Payload size in bytes.
    pub size: usize,
    /// Messages per `send_batch` call.
    pub batch: usize,
    /// Batches each producer keeps in flight at once: `batch * depth` is its confirm window.
    pub depth: usize,
    /// Unacked deliveries a consumer may hold, and the most it takes per receive.
    pub prefetch: usize,
}

/// Messages per send batch.
pub const BATCH: usize = 128;
/// Batches in flight per producer (a confirm window of 256).
pub const DEPTH: usize = 2;
/// Consumer prefetch.
pub const PREFETCH: usize = 256;
/// Smallest payload: the 8-byte timestamp and the phase byte.
pub const MIN_SIZE: usize = 9;

/// Whether a message counts towards the measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Sent until every consumer has one, before the clock starts.
    Warmup = 0,
    /// Counted.
    Measured = 1,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the process's benchmark epoch (producers and consumers share one
/// process, so one monotonic clock serves both ends).
pub fn now_nanos() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A payload of `size` bytes: the send time (nanoseconds since the epoch, little endian, 0
/// when not timed), the phase byte, then filler.
pub fn payload(size: usize, phase: Phase, sent_at: u64) -> Bytes {
    let size = size.max(MIN_SIZE);
    let mut buf = BytesMut::with_capacity(size);
    buf.put_u64_le(sent_at);
    buf.put_u8(phase as u8);
    buf.resize(size, b'x');
    buf.freeze()
}

/// The phase of a received payload; short or unknown payloads count as warm-up.
pub fn phase_of(payload: &[u8]) -> Phase {
    match payload.get(8) {
        Some(1) => Phase::Measured,
        _ => Phase::Warmup,
    }
}

/// The send time carried by a payload.
pub fn sent_at(payload: &[u8]) -> Option<u64> {
    let stamp: [u8; 8] = payload.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(stamp))
}

/// Fresh topic and group names for one run.
#[derive(Clone, Debug)]
pub struct Names {
    /// The topic (exchange, Kafka topic, ...).
    pub topic: String,
    /// The consumer group.
    pub group: String,
}

impl Names {
    /// Names unique to this run, e.g. `compare-memory-courier-<uuid>`.
    pub fn fresh(backend: &str, side: &str) -> Self {
        let topic = courier_tests::support::unique_name(&format!("compare-{backend}-{side}"));
        Self {
            group: format!("{topic}-g"),
            topic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_stamp_and_phase() {
        let p = payload(1024, Phase::Measured, 42);
        assert_eq!(p.len(), 1024);
        assert_eq!(phase_of(&p), Phase::Measured);
        assert_eq!(sent_at(&p), Some(42));
        assert_eq!(phase_of(b"short"), Phase::Warmup);
        assert_eq!(sent_at(b"short"), None);
        assert_eq!(payload(1, Phase::Warmup, 0).len(), MIN_SIZE);
    }
}
