//! What a backend guarantees: [`Capability`] and the set [`Capabilities`].

use std::fmt;

/// One guarantee a backend may give.
///
/// The conformance suite picks its tests from these, and services state the ones they need
/// (see [`Capabilities::missing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Capability {
    /// Sent messages survive a broker restart.
    Persistence,
    /// A group keeps the messages sent while none of its consumers runs, once the group exists.
    DetachedRetention,
    /// Every group subscribed to a topic receives every message.
    FanOut,
    /// Consumers of one group share its messages, each message going to one of them.
    CompetingConsumers,
    /// Messages with one key reach a consumer in the order they were sent.
    PerKeyOrder,
    /// Per-key order holds even with several consumers in one group.
    PerKeyOrderAcrossConsumers,
    /// `nack(requeue = true)` delivers the message again to the group.
    RedeliveryOnNack,
    /// Unacked deliveries of a consumer that is gone are delivered again to its group.
    RedeliveryOnDisconnect,
    /// The redelivery of a message carries an attempt number greater than the last.
    AttemptCount,
    /// A message is delivered at least once: nothing acked by `send` is lost while the
    /// backend lives.
    AtLeastOnce,
    /// `send` returns `Ok` only once the backend has taken responsibility for the message.
    ConfirmedSend,
    /// A consumer never holds more than `prefetch` unacked deliveries.
    Prefetch,
    /// A delivery can be given back to its group to come again after a delay
    /// ([`Delivery::retry_after`](crate::Delivery::retry_after)), and a message can be sent
    /// to be delivered after a delay ([`Producer::send_after`](crate::Producer::send_after)),
    /// without holding a consumer or a prefetch slot meanwhile.
    DelayedDelivery,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 13] = [
        Self::Persistence,
        Self::DetachedRetention,
        Self::FanOut,
        Self::CompetingConsumers,
        Self::PerKeyOrder,
        Self::PerKeyOrderAcrossConsumers,
        Self::RedeliveryOnNack,
        Self::RedeliveryOnDisconnect,
        Self::AttemptCount,
        Self::AtLeastOnce,
        Self::ConfirmedSend,
        Self::Prefetch,
        Self::DelayedDelivery,
    ];

    /// A short human name, such as `per-key order`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Persistence => "persistence",
            Self::DetachedRetention => "retention while no consumer runs",
            Self::FanOut => "fan-out to groups",
            Self::CompetingConsumers => "competing consumers",
            Self::PerKeyOrder => "per-key order",
            Self::PerKeyOrderAcrossConsumers => "per-key order across consumers",
            Self::RedeliveryOnNack => "redelivery on nack",
            Self::RedeliveryOnDisconnect => "redelivery on disconnect",
            Self::AttemptCount => "attempt count",
            Self::AtLeastOnce => "at-least-once delivery",
            Self::ConfirmedSend => "confirmed send",
            Self::Prefetch => "prefetch bound",
            Self::DelayedDelivery => "delayed delivery",
        }
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of guarantees a backend gives, plus its limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    bits: u32,
    /// Largest payload the backend accepts, when it has a limit.
    pub max_payload: Option<usize>,
}

impl Capabilities {
    /// The empty set.
    pub const fn none() -> Self {
        Self {
            bits: 0,
            max_payload: None,
        }
    }

    /// The set of the given capabilities.
    pub fn of(caps: &[Capability]) -> Self {
        caps.iter().fold(Self::none(), |set, &c| set.with(c))
    }

    /// This set plus `cap`.
    #[must_use]
    pub const fn with(mut self, cap: Capability) -> Self {
        self.bits |= cap.bit();
        self
    }

    /// This set without `cap`.
    #[must_use]
    pub const fn without(mut self, cap: Capability) -> Self {
        self.bits &= !cap.bit();
        self
    }

    /// Whether `cap` is in the set.
    pub const fn has(&self, cap: Capability) -> bool {
        self.bits & cap.bit() != 0
    }

    /// The capabilities of `needed` that this set lacks.
    pub fn missing(&self, needed: &[Capability]) -> Vec<Capability> {
        needed.iter().copied().filter(|&c| !self.has(c)).collect()
    }

    /// The capabilities in the set.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        Capability::ALL.into_iter().filter(|&c| self.has(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let caps = Capabilities::of(&[Capability::FanOut, Capability::Prefetch]);
        assert!(caps.has(Capability::FanOut));
        assert!(!caps.has(Capability::Persistence));
        assert_eq!(
            caps.missing(&[Capability::Prefetch, Capability::PerKeyOrder]),
            vec![Capability::PerKeyOrder]
        );
        assert_eq!(caps.iter().count(), 2);
        assert!(!caps.without(Capability::FanOut).has(Capability::FanOut));
    }
}
