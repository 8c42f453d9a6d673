//! Settings of the in-memory backend: [`MemoryConfig`] and [`Overflow`].

use courier_core::{InvalidSetting, backend::group::MAX_HELD};
use serde::{Deserialize, Serialize};

pub use courier_core::Overflow;

/// Settings of the in-memory backend, the `[broker.memory]` table.
///
/// ```toml
/// [broker.memory]
/// capacity = 100000   # messages a group may hold: ready + routed + unacked
/// overflow = "block"  # or "fail"
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// The most messages one group may hold at once, counting those waiting to be delivered,
    /// those routed to a consumer by key and not yet taken, and those delivered but not yet
    /// acked. Default 100 000.
    pub capacity: usize,
    /// What `send` does when a group is full. Default [`Overflow::Block`].
    pub overflow: Overflow,
}

impl MemoryConfig {
    /// The default capacity of a group.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// Checks the settings.
    ///
    /// # Errors
    /// [`InvalidSetting`] for the first bad value: `capacity` when it is 0 or above
    /// [`MAX_HELD`] (2^26).
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.capacity == 0 || self.capacity > MAX_HELD {
            return Err(InvalidSetting::new(
                "capacity",
                format!(
                    "must be from 1 to {MAX_HELD}, not {} (it is the most messages a group may hold)",
                    self.capacity
                ),
            ));
        }
        Ok(())
    }
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            capacity: Self::DEFAULT_CAPACITY,
            overflow: Overflow::Block,
        }
    }
}
