//! Settlements: the three kinds a delivery can be settled with, and how the connection task
//! writes a batch of them to the binding side as `ACK`, `NACK` and `REJECT` frames.

use courier_core::{Result, token};

use crate::session::Dealer;
use crate::wire::ToHub;

/// Settlements written in one go.
pub(super) const SETTLE_BATCH: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Ack,
    Nack,
    Reject,
}

/// Writes settlements of the current connection, grouped by kind; drops the rest (their
/// deliveries went back to the group with the connection that carried them).
pub(super) async fn write_settles(
    dealer: &mut Dealer,
    batch: &mut Vec<(u64, Op)>,
    generation: u64,
) -> Result<()> {
    let (mut acks, mut nacks, mut rejects) = (Vec::new(), Vec::new(), Vec::new());
    for (token, op) in batch.drain(..) {
        if !token::is_of(token, generation) {
            continue;
        }
        let tag = token::tag(token);
        match op {
            Op::Ack => acks.push(tag),
            Op::Nack => nacks.push(tag),
            Op::Reject => rejects.push(tag),
        }
    }
    if !acks.is_empty() {
        dealer.send(ToHub::Ack(acks)).await?;
    }
    if !nacks.is_empty() {
        dealer.send(ToHub::Nack(nacks)).await?;
    }
    if !rejects.is_empty() {
        dealer.send(ToHub::Reject(rejects)).await?;
    }
    Ok(())
}
