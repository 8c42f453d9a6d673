//! [`StoreSettings`]: how a store connects, relays and prunes.

use courier_core::InvalidSetting;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a store connects, relays and prunes (the `[store]` table of the config file, less the
/// URL).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// The database: `sqlite://PATH`, `sqlite::memory:` or
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DB` (libpq parameters such as `sslmode` pass
    /// through). `{service}` is replaced by the service's name. Default
    /// `sqlite://data/{service}.db`: a file per service, created on first start.
    pub url: String,
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
            url: Self::DEFAULT_URL.to_owned(),
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
    /// The default URL: a SQLite file per service.
    pub const DEFAULT_URL: &'static str = "sqlite://data/{service}.db";

    /// [`url`](Self::url) for `service`, or `url_override` when given.
    pub fn url_for(&self, service: &str, url_override: Option<&str>) -> String {
        url_override
            .unwrap_or(&self.url)
            .replace("{service}", service)
    }

    /// The first setting out of range, as an [`InvalidSetting`].
    ///
    /// # Errors
    /// A zero where at least one is needed.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let positive = [
            ("max_connections", u64::from(self.max_connections)),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("relay_batch", self.relay_batch as u64),
            ("relay_poll_ms", self.relay_poll_ms),
            ("prune_every_s", self.prune_every_s),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(InvalidSetting::new(key, "must be at least 1"));
            }
        }
        if let Err(e) = crate::dialect_of(&self.url) {
            return Err(InvalidSetting::new("url", e.to_string()));
        }
        if self.relay_batch > 10_000 {
            return Err(InvalidSetting::new("relay_batch", "must be at most 10000"));
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

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("url", &courier_core::redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("relay_batch", &self.relay_batch)
            .field("relay_poll_ms", &self.relay_poll_ms)
            .field("outbox_retention_s", &self.outbox_retention_s)
            .field("inbox_retention_s", &self.inbox_retention_s)
            .finish_non_exhaustive()
    }
}
