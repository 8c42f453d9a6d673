//! [`Settle`]: how a backend that keeps its groups itself settles a delivery.

/// How a delivery is settled, for backends that hold their groups' messages themselves (the
/// memory backend, the ZeroMQ binding side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    /// Done: the message leaves the group.
    Ack,
    /// Back to the front of the group for another attempt, its attempt number raised.
    Requeue,
    /// Rejected: the message leaves the group (the runtime dead-lettered it).
    Reject,
}
