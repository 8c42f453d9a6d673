//! [`Waiting`]: received records that are not due yet (a `courier-due-at` ahead), held by
//! the consumer until their time while the records behind them flow on.
//!
//! A waiting record is outstanding like a delivery: its offset stays uncommitted until it is
//! handed out and settled, so a crash or rebalance meanwhile reads it again. That holds the
//! partition's committed position back for as long as the delay (see the crate
//! documentation).

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::state::Ready;

/// Records waiting for their time, by due time and token.
#[derive(Default)]
pub(crate) struct Waiting {
    records: BTreeMap<(Instant, u64), Ready>,
}

impl Waiting {
    /// Holds `ready` until `due`.
    pub(crate) fn hold(&mut self, due: Instant, ready: Ready) {
        self.records.insert((due, ready.token), ready);
    }

    /// How many records wait.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// When the earliest record is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.records.keys().next().map(|(due, _)| *due)
    }

    /// Takes the records due by `now`, earliest first.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Ready> {
        let later = self.records.split_off(&(now, u64::MAX));
        let due = std::mem::replace(&mut self.records, later);
        due.into_values().collect()
    }

    /// Drops the records of `partitions` (revoked), returning their tokens.
    pub(crate) fn drop_partitions(&mut self, partitions: &[i32]) -> Vec<u64> {
        let mut tokens = Vec::new();
        self.records.retain(|_, ready| {
            let keep = !partitions.contains(&ready.partition);
            if !keep {
                tokens.push(ready.token);
            }
            keep
        });
        tokens
    }

    /// Drops every record.
    pub(crate) fn clear(&mut self) {
        self.records.clear();
    }
}
