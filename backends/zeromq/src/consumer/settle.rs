//! Settlements: the kinds a delivery can be settled with, and how the connection task writes
//! a batch of them to the binding side as `ACK`, `NACK`, `RETRY` and `REJECT` frames.

use courier_core::{Result, token};

use crate::session::Dealer;
use crate::wire::ToHub;

/// Settlements written in one go.
pub(super) const SETTLE_BATCH: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Ack,
    Nack,
    /// Requeue once this many milliseconds have passed (above 0).
    Retry(u64),
    Reject,
}

/// What the consumer queues to its connection task: one settlement, or the tokens of a
/// whole batch ack as one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Settlement {
    One(u64, Op),
    Acks(Vec<u64>),
}

/// Writes settlements of the current connection, grouped by kind (and retries by delay);
/// drops the rest (their deliveries went back to the group with the connection that carried
/// them).
pub(super) async fn write_settles(
    dealer: &mut Dealer,
    batch: &mut Vec<Settlement>,
    generation: u64,
) -> Result<()> {
    let (mut acks, mut nacks, mut rejects) = (Vec::new(), Vec::new(), Vec::new());
    // Few distinct delays per batch (a runtime retries with a handful of backoffs).
    let mut retries: Vec<(u64, Vec<u64>)> = Vec::new();
    let current = |token: u64| token::is_of(token, generation);
    for settlement in batch.drain(..) {
        let (token, op) = match settlement {
            Settlement::One(token, op) => (token, op),
            Settlement::Acks(tokens) => {
                acks.extend(tokens.into_iter().filter(|&t| current(t)).map(token::tag));
                continue;
            }
        };
        if !current(token) {
            continue;
        }
        let tag = token::tag(token);
        match op {
            Op::Ack => acks.push(tag),
            Op::Nack => nacks.push(tag),
            Op::Retry(delay_ms) => match retries.iter_mut().find(|(d, _)| *d == delay_ms) {
                Some((_, tags)) => tags.push(tag),
                None => retries.push((delay_ms, vec![tag])),
            },
            Op::Reject => rejects.push(tag),
        }
    }
    for (delay_ms, tags) in retries {
        dealer.send(ToHub::Retry { delay_ms, tags }).await?;
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
