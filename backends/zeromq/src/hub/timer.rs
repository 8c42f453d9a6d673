//! The hub's one timer for delayed messages: set to the time the earliest of them is due
//! (see [`Outbox::next_due`](super::outbox::Outbox::next_due)), it wakes the hub's loop
//! then, and never otherwise.

use std::pin::Pin;
use std::time::Instant;

use tokio::time::{Sleep, sleep_until};

/// A timer that is either unset or set to one time.
pub(super) struct DueTimer {
    sleep: Pin<Box<Sleep>>,
    set: Option<Instant>,
}

impl DueTimer {
    /// An unset timer.
    pub(super) fn new() -> Self {
        Self {
            sleep: Box::pin(sleep_until(tokio::time::Instant::now())),
            set: None,
        }
    }

    /// Sets the timer to `due`, or unsets it with `None`; nothing changes when it is
    /// already set so.
    pub(super) fn set(&mut self, due: Option<Instant>) {
        if due == self.set {
            return;
        }
        self.set = due;
        if let Some(due) = due {
            self.sleep
                .as_mut()
                .reset(tokio::time::Instant::from_std(due));
        }
    }

    /// Resolves once the time it is set to has come, and unsets it; never while unset.
    ///
    /// # Cancel safety
    /// Cancel safe: dropped before it resolves, the timer stays set.
    pub(super) async fn fired(&mut self) {
        if self.set.is_none() {
            return std::future::pending().await;
        }
        self.sleep.as_mut().await;
        self.set = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn it_fires_at_the_time_set_and_not_while_unset() {
        let mut timer = DueTimer::new();
        let unset = tokio::time::timeout(Duration::from_millis(50), timer.fired()).await;
        assert!(unset.is_err(), "an unset timer never fires");

        let start = Instant::now();
        timer.set(Some(start + Duration::from_secs(60)));
        timer.set(Some(start + Duration::from_millis(40)));
        tokio::time::timeout(Duration::from_secs(10), timer.fired())
            .await
            .expect("reset to the earlier time");
        assert!(start.elapsed() >= Duration::from_millis(40));

        let again = tokio::time::timeout(Duration::from_millis(50), timer.fired()).await;
        assert!(again.is_err(), "a fired timer is unset");
        timer.set(Some(start));
        timer.fired().await;
        timer.set(None);
        let unset = tokio::time::timeout(Duration::from_millis(50), timer.fired()).await;
        assert!(unset.is_err());
    }
}
