//! The catalogue of the suite: every case, the capabilities it needs and the function that
//! runs it.

use courier_core::{Capabilities, Capability};
use futures::future::BoxFuture;

use super::{
    delayed, delivery, groups,
    harness::{Ctx, TestResult},
    load, ordering, redelivery, runtime,
};

/// What runs one case.
type CaseFn = fn(Ctx) -> BoxFuture<'static, TestResult>;

/// One case of the suite.
pub(crate) struct TestCase {
    /// Its name, such as `publish_subscribe`.
    pub(crate) name: &'static str,
    /// What the backend must guarantee for it to run.
    pub(crate) needs: &'static [Capability],
    /// Runs it.
    pub(crate) run: CaseFn,
}

impl TestCase {
    /// The capabilities of [`needs`](Self::needs) that `caps` lacks: empty when it can run.
    pub(crate) fn missing(&self, caps: &Capabilities) -> Vec<Capability> {
        caps.missing(self.needs)
    }
}

macro_rules! case {
    ($module:ident :: $name:ident, [$($cap:ident),*]) => {
        TestCase {
            name: stringify!($name),
            needs: &[$(Capability::$cap),*],
            run: |ctx| Box::pin($module::$name(ctx)),
        }
    };
}

/// Every case, in the order a whole run takes them.
pub(crate) static CASES: &[TestCase] = &[
    case!(delivery::publish_subscribe, []),
    case!(delivery::key_without_headers, []),
    case!(delivery::topics_isolated, []),
    case!(delivery::send_after_close_fails, []),
    case!(delivery::ack_twice_fails, []),
    case!(delivery::ack_batch_settles_every_delivery, []),
    case!(delivery::reject_is_not_redelivered, []),
    case!(delivery::recv_after_close_is_none, []),
    case!(groups::fan_out, [FanOut]),
    case!(groups::competing_consumers, [CompetingConsumers]),
    case!(groups::detached_retention, [DetachedRetention]),
    case!(
        groups::nack_stays_in_its_group,
        [FanOut, RedeliveryOnNack, AttemptCount]
    ),
    case!(
        redelivery::nack_requeue_redelivers,
        [RedeliveryOnNack, AttemptCount]
    ),
    case!(
        redelivery::dropped_consumer_redelivers,
        [RedeliveryOnDisconnect]
    ),
    case!(
        redelivery::closed_consumer_redelivers,
        [RedeliveryOnDisconnect]
    ),
    case!(redelivery::nack_many_times, [RedeliveryOnNack]),
    case!(ordering::per_key_order, [PerKeyOrder]),
    case!(
        ordering::per_key_order_across_consumers,
        [PerKeyOrder, PerKeyOrderAcrossConsumers, CompetingConsumers]
    ),
    case!(
        delayed::retry_after_delays_the_redelivery,
        [DelayedDelivery, AttemptCount, FanOut]
    ),
    case!(delayed::send_after_delays_the_message, [DelayedDelivery]),
    case!(
        delayed::runtime_retry_does_not_block_the_lane,
        [DelayedDelivery, AttemptCount]
    ),
    case!(load::concurrent_sends, [AtLeastOnce]),
    case!(load::subscribe_close_churn, []),
    case!(load::prefetch_bound, [Prefetch]),
    case!(runtime::runtime_retry_then_success, []),
    case!(runtime::runtime_dead_letter_exhausted, []),
    case!(runtime::runtime_undecodable_json, []),
    case!(runtime::runtime_handler_panic, []),
    case!(runtime::runtime_outside_attempt_header, []),
    case!(runtime::runtime_per_key_order, [PerKeyOrder]),
    case!(runtime::runtime_graceful_shutdown, []),
];

/// The case named `name`.
pub(crate) fn find(name: &str) -> Option<&'static TestCase> {
    CASES.iter().find(|c| c.name == name)
}

/// The names of every case, in the order [`run_all`](super::run_all) runs them.
pub fn test_names() -> Vec<&'static str> {
    CASES.iter().map(|c| c.name).collect()
}

/// The capabilities case `name` needs, or `None` for an unknown name.
pub fn needs(name: &str) -> Option<&'static [Capability]> {
    find(name).map(|c| c.needs)
}

/// The cases a backend with `caps` cannot run, each with the capabilities it lacks for it, in
/// catalogue order.
pub fn ruled_out(caps: &Capabilities) -> Vec<(&'static str, Vec<Capability>)> {
    CASES
        .iter()
        .map(|c| (c.name, c.missing(caps)))
        .filter(|(_, missing)| !missing.is_empty())
        .collect()
}

/// `needs fan-out to groups, prefetch bound`: why a case does not run.
pub(crate) fn needs_text(missing: &[Capability]) -> String {
    let names: Vec<&str> = missing.iter().map(|c| c.name()).collect();
    format!("needs {}", names.join(", "))
}
