//! The producer: enqueues into every group of a topic.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use courier_core::{Error, Message, Producer, Result};

use crate::{
    BACKEND,
    config::Overflow,
    group::Group,
    registry::Shared,
    state::{Body, Entry, Wakes},
};

/// Sends by enqueueing: `Ok` means every group of the topic holds the message.
pub(crate) struct MemoryProducer {
    shared: Arc<Shared>,
    closed: AtomicBool,
}

impl MemoryProducer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            closed: AtomicBool::new(false),
        }
    }

    async fn enqueue(
        &self,
        topic: &str,
        messages: Vec<Message>,
        due: Option<Instant>,
    ) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed(BACKEND, "the producer"));
        }
        self.shared.check_open()?;
        let Some(groups) = self.shared.groups(topic) else {
            tracing::trace!(
                topic,
                count = messages.len(),
                "no group on the topic; messages dropped"
            );
            return Ok(());
        };
        if messages.is_empty() {
            return Ok(());
        }
        let refused = match enqueue_everywhere(&groups, messages, due, |k| self.shared.hash_key(k))?
        {
            None => return Ok(()),
            Some(refused) => refused,
        };
        match self.shared.config.overflow {
            Overflow::Fail => {
                let fullest = groups
                    .iter()
                    .map(|g| {
                        let state = g.lock();
                        (g, state.room(), state.capacity())
                    })
                    .min_by_key(|(_, room, _)| *room);
                match fullest {
                    Some((group, room, capacity)) => {
                        Err(group.full_error(refused.len(), room, capacity))
                    }
                    None => Ok(()),
                }
            }
            Overflow::Block => {
                let entries = entries_for(&groups, refused, due, |k| self.shared.hash_key(k));
                let last = groups.len() - 1;
                let mut entries = Some(entries);
                for (i, group) in groups.iter().enumerate() {
                    let batch = if i == last {
                        entries.take().unwrap_or_default()
                    } else {
                        entries.clone().unwrap_or_default()
                    };
                    group.push_waiting(batch).await?;
                }
                Ok(())
            }
        }
    }
}

/// The entries of `messages` for `groups`: with several groups each message is shared by
/// them; with one, it moves in as is.
fn entries_for(
    groups: &[Arc<Group>],
    messages: Vec<Message>,
    due: Option<Instant>,
    hash_key: impl Fn(&str) -> u64,
) -> Vec<Entry> {
    let fan_out = groups.len() > 1;
    messages
        .into_iter()
        .map(|message| entry(message, fan_out, due, &hash_key))
        .collect()
}

/// The entry of `message`: shared when several groups hold it (`fan_out`), else as is.
fn entry(
    message: Message,
    fan_out: bool,
    due: Option<Instant>,
    hash_key: impl Fn(&str) -> u64,
) -> Entry {
    let key = message.key.as_deref().map(hash_key);
    let body = if fan_out {
        Body::Shared(Arc::new(message))
    } else {
        Body::Owned(message)
    };
    Entry::new(body, key, due)
}

/// Enqueues `messages` into every group at once when all have room for all of them, holding
/// each group's lock (taken in the topic's fixed group order) for the whole batch. Returns
/// the messages untouched when some group lacks room.
///
/// # Errors
/// [`ErrorKind::Closed`](courier_core::ErrorKind::Closed) when the broker is closed.
fn enqueue_everywhere(
    groups: &[Arc<Group>],
    messages: Vec<Message>,
    due: Option<Instant>,
    hash_key: impl Fn(&str) -> u64,
) -> Result<Option<Vec<Message>>> {
    if groups.is_empty() {
        return Ok(None);
    }
    if let [group] = groups {
        // The common case: one group, each message moved straight in, no lists of guards.
        let mut wakes = Wakes::default();
        {
            let mut state = group.lock();
            if state.is_closed() {
                return Err(group.closed_error());
            }
            if state.room() < messages.len() {
                return Ok(Some(messages));
            }
            for message in messages {
                state.push(entry(message, false, due, &hash_key), &mut wakes);
            }
        }
        group.wake(wakes);
        return Ok(None);
    }
    let mut states = Vec::with_capacity(groups.len());
    for group in groups {
        let state = group.lock();
        if state.is_closed() {
            return Err(group.closed_error());
        }
        if state.room() < messages.len() {
            return Ok(Some(messages));
        }
        states.push(state);
    }
    let entries = entries_for(groups, messages, due, hash_key);
    let mut wakes = Vec::with_capacity(groups.len());
    let last = states.len() - 1;
    let mut entries = Some(entries);
    for (i, state) in states.iter_mut().enumerate() {
        let batch = if i == last {
            entries.take().unwrap_or_default()
        } else {
            entries.clone().unwrap_or_default()
        };
        let mut wake = Wakes::default();
        for entry in batch {
            state.push(entry, &mut wake);
        }
        wakes.push(wake);
    }
    drop(states);
    for (group, wake) in groups.iter().zip(wakes) {
        group.wake(wake);
    }
    Ok(None)
}

#[async_trait]
impl Producer for MemoryProducer {
    async fn send(&self, topic: &str, message: Message) -> Result<()> {
        self.enqueue(topic, vec![message], None).await
    }

    async fn send_batch(&self, topic: &str, messages: Vec<Message>) -> Result<()> {
        self.enqueue(topic, messages, None).await
    }

    /// Enqueues the message now (it counts against each group's capacity) to be handed out
    /// once `delay` has passed.
    async fn send_after(&self, topic: &str, message: Message, delay: Duration) -> Result<()> {
        let due = (!delay.is_zero()).then(|| Instant::now() + delay);
        self.enqueue(topic, vec![message], due).await
    }

    async fn flush(&self) -> Result<()> {
        // A send returns once enqueued: nothing is ever outstanding.
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}
