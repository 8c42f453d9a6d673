//! [`StoreSettings`]: how a store connects, relays and prunes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a store connects, relays and prunes (the `[store]` table of the config file, less the
/// URL).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// Connections to PostgreSQL per process (SQLite always uses one). Default 8.
    pub max_connections: u32,
    /// How long to wait for the database when connecting, in milliseconds. Default 10000.
    pub connect_timeout_ms: u64,
    /// Outbox rows the relay sends per round. Default 256.
    pub relay_batch: usize,
    /// How often the relay looks for rows without being woken, in milliseconds (a fallback:
    /// a commit wakes it at once). Default 1000.
    pub relay_poll_ms: u64,
    /// How long sent outbox rows are kept, in seconds. Default 3600.
    pub outbox_retention_s: u64,
    /// How long inbox entries are kept, in seconds: a duplicate arriving later than this is
    /// handled again. Default 604800 (7 days).
    pub inbox_retention_s: u64,
    /// How often old rows are pruned, in seconds. Default 60.
    pub prune_every_s: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            max_connections: 8,
            connect_timeout_ms: 10_000,
            relay_batch: 256,
            relay_poll_ms: 1_000,
            outbox_retention_s: 3_600,
            inbox_retention_s: 604_800,
            prune_every_s: 60,
        }
    }
}

impl StoreSettings {
    /// The first setting out of range, as `(key, problem)`.
    ///
    /// # Errors
    /// A zero where at least one is needed.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let positive = [
            ("max_connections", u64::from(self.max_connections)),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("relay_batch", self.relay_batch as u64),
            ("relay_poll_ms", self.relay_poll_ms),
            ("prune_every_s", self.prune_every_s),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err((key, "must be at least 1".into()));
            }
        }
        if self.relay_batch > 10_000 {
            return Err(("relay_batch", "must be at most 10000".into()));
        }
        Ok(())
    }

    pub(crate) fn relay_poll(&self) -> Duration {
        Duration::from_millis(self.relay_poll_ms)
    }

    pub(crate) fn prune_every(&self) -> Duration {
        Duration::from_secs(self.prune_every_s)
    }
}
