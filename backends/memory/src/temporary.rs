//! Temporary groups ([`Subscription::temporary`](courier_core::Subscription::temporary)): a
//! consumer whose subscription created its group removes that group from the topic when it
//! closes, so the group keeps nothing once its reader is gone.

use std::sync::Arc;

use async_trait::async_trait;
use courier_core::{Consumer, Delivery, Result};

use crate::{consumer::MemoryConsumer, group::Group, registry::Shared};

/// A consumer of a group it created; closing or dropping it removes the group once no
/// consumer is left in it.
pub(crate) struct TemporaryConsumer {
    inner: Option<MemoryConsumer>,
    shared: Arc<Shared>,
    group: Arc<Group>,
}

impl TemporaryConsumer {
    /// Wraps `inner`, a consumer of `group`, which its subscription created.
    pub(crate) fn new(inner: MemoryConsumer, shared: Arc<Shared>, group: Arc<Group>) -> Self {
        Self {
            inner: Some(inner),
            shared,
            group,
        }
    }

    /// Detaches the consumer (what it held goes back to the group), then removes the group
    /// from its topic when nobody else consumes it: later sends skip it, and what it holds
    /// is dropped with it.
    fn end(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        drop(inner);
        let (consumers, room) = {
            let state = self.group.lock();
            (state.stats().consumers, state.room())
        };
        if consumers == 0 {
            self.shared.remove(&self.group);
            if room == 0 {
                // Full: a send may be waiting for room that no consumer will free; closing
                // ends its wait with an error instead of leaving it waiting for ever.
                self.group.close();
            }
        }
    }
}

#[async_trait]
impl Consumer for TemporaryConsumer {
    async fn recv(&mut self) -> Result<Option<Delivery>> {
        match &mut self.inner {
            Some(inner) => inner.recv().await,
            None => Ok(None),
        }
    }

    async fn recv_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        match &mut self.inner {
            Some(inner) => inner.recv_batch(max).await,
            None => Ok(Vec::new()),
        }
    }

    async fn close(&mut self) -> Result<()> {
        self.end();
        Ok(())
    }
}

impl Drop for TemporaryConsumer {
    fn drop(&mut self) {
        self.end();
    }
}
