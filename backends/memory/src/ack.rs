//! Settling deliveries: one [`MemoryAck`] per consumer, a sequence number per delivery.

use std::sync::Arc;

use async_trait::async_trait;
use courier_core::{Ack, Result};

use crate::{group::Group, state::Settle};

/// Settles the deliveries of one consumer in its group: one short lock per call.
pub(crate) struct MemoryAck {
    pub(crate) group: Arc<Group>,
    pub(crate) slot: usize,
    pub(crate) uid: u64,
}

#[async_trait]
impl Ack for MemoryAck {
    async fn ack(&self, token: u64) -> Result<()> {
        self.group.settle(self.slot, self.uid, token, Settle::Ack)
    }

    async fn nack(&self, token: u64, requeue: bool) -> Result<()> {
        let how = if requeue {
            Settle::Requeue
        } else {
            Settle::Reject
        };
        self.group.settle(self.slot, self.uid, token, how)
    }
}
