//! [`fill_batch`]: `recv_batch` for a consumer that reads deliveries from a channel of its own.

use crate::Delivery;

/// A batch for [`Consumer::recv_batch`](crate::Consumer::recv_batch): `first`, then every
/// delivery `try_next` has ready at once, up to `max`, leaving out those `keep` refuses (a
/// delivery of a connection that is gone, which can no longer be settled). `consumer` is
/// passed to both, so each may borrow it.
pub fn fill_batch<C>(
    consumer: &mut C,
    first: Delivery,
    max: usize,
    mut try_next: impl FnMut(&mut C) -> Option<Delivery>,
    mut keep: impl FnMut(&C, &Delivery) -> bool,
) -> Vec<Delivery> {
    let mut batch = Vec::with_capacity(max.clamp(1, 1024));
    batch.push(first);
    while batch.len() < max {
        let Some(delivery) = try_next(consumer) else {
            break;
        };
        if keep(consumer, &delivery) {
            batch.push(delivery);
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use std::{collections::VecDeque, sync::Arc};

    use super::*;
    use crate::{Ack, Message, Origin, Result};

    #[derive(Debug)]
    struct NoAck;

    #[async_trait::async_trait]
    impl Ack for NoAck {
        async fn ack(&self, _token: u64) -> Result<()> {
            Ok(())
        }
        async fn nack(&self, _token: u64, _requeue: bool) -> Result<()> {
            Ok(())
        }
    }

    fn delivery(token: u64) -> Delivery {
        Delivery::new(
            Message::new("x"),
            Origin::new("t", Arc::new(NoAck)),
            1,
            token,
        )
    }

    #[test]
    fn takes_what_is_ready_up_to_max_and_leaves_out_what_keep_refuses() {
        let mut ready: VecDeque<Delivery> = (1..=6).map(delivery).collect();
        let batch = fill_batch(&mut ready, delivery(0), 4, VecDeque::pop_front, |_, d| {
            d.token() != 2
        });
        let tokens: Vec<u64> = batch.iter().map(Delivery::token).collect();
        assert_eq!(tokens, [0, 1, 3, 4]);
        assert_eq!(ready.len(), 2, "nothing beyond the batch is taken");
        let rest = fill_batch(&mut ready, delivery(9), 100, VecDeque::pop_front, |_, _| {
            true
        });
        assert_eq!(rest.len(), 3, "stops when nothing is ready");
    }
}
