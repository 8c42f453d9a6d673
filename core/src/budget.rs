//! [`ByteBudget`]: a bound, in bytes, on what a consumer buffers ahead of `recv`.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Bytes a consumer may hold in its buffer between the broker client and `recv`. The task
/// that fills the buffer [`reserve`](Self::reserve)s before it adds a delivery and waits
/// while the budget is spent; `recv` [`release`](Self::release)s what it takes out. One
/// delivery larger than the whole budget passes alone, so a large message never blocks the
/// stream for good. One atomic operation per delivery, no lock.
#[derive(Debug)]
pub struct ByteBudget {
    max: usize,
    used: AtomicUsize,
    freed: Notify,
}

impl ByteBudget {
    /// What one delivery is counted as beyond its payload (id, key, headers, bookkeeping).
    pub const OVERHEAD: usize = 256;

    /// A budget of `max` bytes (at least 1).
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            used: AtomicUsize::new(0),
            freed: Notify::new(),
        }
    }

    /// The bytes a delivery with a payload of `payload` bytes is counted as.
    pub fn cost(payload: usize) -> usize {
        payload.saturating_add(Self::OVERHEAD)
    }

    /// The bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Waits until `bytes` fit (or nothing is held), then counts them as held.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is counted unless it returns.
    pub async fn reserve(&self, bytes: usize) {
        loop {
            let freed = self.freed.notified();
            let used = self.used.load(Ordering::Acquire);
            if used == 0 || used.saturating_add(bytes) <= self.max {
                let taken = self.used.compare_exchange(
                    used,
                    used.saturating_add(bytes),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                if taken.is_ok() {
                    return;
                }
                continue;
            }
            freed.await;
        }
    }

    /// Counts `bytes` as no longer held, waking a waiting [`reserve`](Self::reserve).
    pub fn release(&self, bytes: usize) {
        let before = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(bytes))
            })
            .unwrap_or(0);
        if before > 0 {
            self.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn waits_while_spent_and_lets_a_large_delivery_pass_alone() {
        let budget = Arc::new(ByteBudget::new(1000));
        budget.reserve(600).await;
        budget.reserve(400).await;
        assert_eq!(budget.used(), 1000);
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.reserve(10).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "reserved beyond the budget");
        budget.release(600);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("woken once bytes are released")
            .expect("the task");
        assert_eq!(budget.used(), 410);
        budget.release(410);
        // Larger than the whole budget: passes when nothing is held.
        tokio::time::timeout(Duration::from_secs(1), budget.reserve(5000))
            .await
            .expect("a large delivery passes alone");
        assert_eq!(budget.used(), 5000);
    }
}
