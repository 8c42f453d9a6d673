//! One group of one topic: its state behind a lock, and the signals that wake its consumers
//! and its blocked senders.

use std::{
    pin::pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use courier_core::{Error, ErrorKind, Result, backend::group::MemberId};
use tokio::sync::Notify;

use crate::{
    BACKEND,
    state::{Entry, GroupState, Settle, SettleError, Wakes},
};

/// A group: a queue every message of its topic reaches, shared by its consumers.
pub(crate) struct Group {
    pub(crate) topic: Arc<str>,
    pub(crate) name: String,
    state: Mutex<GroupState>,
    /// Consumers with prefetch room wait here for the shared queue (woken one at a time).
    pub(crate) ready: Notify,
    /// Senders wait here for room (all woken together).
    space: Notify,
}

impl Group {
    /// An empty group `name` of `topic`.
    pub(crate) fn new(topic: Arc<str>, name: &str, capacity: usize) -> Self {
        Self {
            topic,
            name: name.to_owned(),
            state: Mutex::new(GroupState::new(capacity)),
            ready: Notify::new(),
            space: Notify::new(),
        }
    }

    /// Locks the state. Nothing done under the lock panics on outside input, and every count
    /// it keeps is checked before use, so a lock poisoned by a panic elsewhere is still used.
    pub(crate) fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes whom `wakes` names, and starts the timer it asks for. Call without holding the
    /// lock.
    pub(crate) fn wake(self: &Arc<Self>, wakes: Wakes) {
        if wakes.ready {
            self.ready.notify_one();
        }
        if wakes.space {
            self.space.notify_waiters();
        }
        if let Some(due) = wakes.timer {
            let group = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(due.into()).await;
                group.release_due();
            });
        }
    }

    /// Moves the delayed messages that are due into the group.
    fn release_due(self: &Arc<Self>) {
        let mut wakes = Wakes::default();
        self.lock().release_due(Instant::now(), &mut wakes);
        self.wake(wakes);
    }

    /// Keeps the unsettled delivery `token` of consumer `id` aside for `delay`, then gives
    /// it back to the group with the next attempt.
    ///
    /// # Errors
    /// As for [`settle`](Self::settle).
    pub(crate) fn park(self: &Arc<Self>, id: MemberId, token: u64, delay: Duration) -> Result<()> {
        let mut wakes = Wakes::default();
        let parked = self
            .lock()
            .park(id, token, Instant::now() + delay, &mut wakes);
        self.wake(wakes);
        parked.map_err(|e| self.settle_error(e))
    }

    /// Marks the group closed and wakes everyone waiting on it.
    pub(crate) fn close(&self) {
        self.lock().close();
        self.ready.notify_waiters();
        self.space.notify_waiters();
    }

    /// Enqueues `entries`, waiting for room whenever the group is full. Progress is kept:
    /// what fits is enqueued before waiting for the rest.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the entries enqueued so far in the group.
    pub(crate) async fn push_waiting(self: &Arc<Self>, entries: Vec<Entry>) -> Result<()> {
        let mut rest = entries.into_iter();
        loop {
            let mut space = pin!(self.space.notified());
            space.as_mut().enable();
            let mut wakes = Wakes::default();
            {
                let mut state = self.lock();
                if state.is_closed() {
                    return Err(self.closed_error());
                }
                let fits = state.room().min(rest.len());
                for entry in rest.by_ref().take(fits) {
                    state.push(entry, &mut wakes);
                }
                if rest.len() > 0 {
                    // Wait for a useful amount of room, not for each single ack.
                    let need = rest.len().min((state.capacity() / 4).max(1));
                    state.wait_for_room(need);
                }
            }
            self.wake(wakes);
            if rest.len() == 0 {
                return Ok(());
            }
            space.await;
        }
    }

    /// Settles the deliveries `tokens` of consumer `id` under one lock, then wakes once.
    /// Known tokens are settled even when some are unknown.
    ///
    /// # Errors
    /// [`ErrorKind::Ack`] when the consumer has closed (nothing is settled) or a token is
    /// unknown.
    pub(crate) fn settle(
        self: &Arc<Self>,
        id: MemberId,
        tokens: &[u64],
        how: Settle,
    ) -> Result<()> {
        let mut wakes = Wakes::default();
        let settled = self.lock().settle(id, tokens, how, &mut wakes);
        self.wake(wakes);
        settled.map_err(|e| self.settle_error(e))
    }

    fn settle_error(&self, error: SettleError) -> Error {
        let why = match error {
            SettleError::MemberGone => {
                "the consumer has closed; the message went back to its group"
            }
            SettleError::UnknownToken => "no unsettled delivery has this token",
        };
        Error::new(
            BACKEND,
            ErrorKind::Ack,
            format!("group {} of topic {}: {why}", self.name, self.topic),
        )
    }

    /// The error of a send to a group whose broker is closed.
    pub(crate) fn closed_error(&self) -> Error {
        Error::closed(BACKEND, "the broker")
    }

    /// The error of a send that does not fit with [`Overflow::Fail`](crate::Overflow::Fail).
    pub(crate) fn full_error(&self, wanted: usize, room: usize, capacity: usize) -> Error {
        Error::new(
            BACKEND,
            ErrorKind::Full,
            format!(
                "group {} of topic {} is full: {wanted} message(s) sent, room for {room} \
                 (capacity {capacity}); nothing was enqueued",
                self.name, self.topic
            ),
        )
    }
}
