//! What the librdkafka clients tell of their connections, for readiness: every client
//! (the shared producer, each consumer) emits statistics every [`STATS_INTERVAL_MS`] and
//! reports "all brokers down" at once; [`ClientLink`] keeps the last word of one client,
//! [`Links`] those of a broker's clients.

use std::sync::{
    Arc, Mutex, PoisonError, Weak,
    atomic::{AtomicU8, Ordering},
};

use courier_core::{ConnectionState, SubscriptionState, SubscriptionStatus};
use rdkafka::{Statistics, error::KafkaError, types::RDKafkaErrorCode};
use tracing::{info, warn};

/// How often each client emits its statistics (`statistics.interval.ms`): how soon a lost
/// or recovered connection shows in readiness, and how often the lag is sampled.
pub(crate) const STATS_INTERVAL_MS: u32 = 1_000;

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// The connection state one client last reported.
#[derive(Debug)]
pub(crate) struct ClientLink {
    state: AtomicU8,
    /// Why it is down; written on changes only.
    why: Mutex<String>,
}

impl ClientLink {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: AtomicU8::new(UNKNOWN),
            why: Mutex::new(String::new()),
        })
    }

    fn set(&self, up: bool, why: impl FnOnce() -> String) {
        let next = if up { UP } else { DOWN };
        let previous = self.state.swap(next, Ordering::AcqRel);
        if previous == next {
            return;
        }
        if up {
            if previous == DOWN {
                info!(backend = crate::BACKEND, "a broker connection is up again");
            }
        } else {
            let why = why();
            warn!(
                backend = crate::BACKEND,
                why, "no broker connection is up; librdkafka reconnects by itself"
            );
            *self.why.lock().unwrap_or_else(PoisonError::into_inner) = why;
        }
    }

    /// Takes in a statistics report: up when a connection to a broker is up.
    pub(crate) fn observe(&self, stats: &Statistics) {
        self.set(any_broker_up(stats), || broker_states(stats));
    }

    /// Takes in a global error: "all brokers down" makes it down at once.
    pub(crate) fn error(&self, error: &KafkaError) {
        if is_all_brokers_down(error) {
            self.set(false, || "all brokers are down".to_owned());
        }
    }

    fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }
}

/// Whether `error` says that no broker can be reached.
pub(crate) fn is_all_brokers_down(error: &KafkaError) -> bool {
    matches!(error, KafkaError::Global(RDKafkaErrorCode::AllBrokersDown))
}

/// Whether a connection to a real broker (not a logical one such as the group
/// coordinator's alias) is up.
fn any_broker_up(stats: &Statistics) -> bool {
    stats
        .brokers
        .values()
        .any(|b| b.source != "logical" && b.state == "UP")
}

/// `host:port STATE, ...`, for the log and the readiness body (no credentials: only
/// addresses and states).
fn broker_states(stats: &Statistics) -> String {
    let mut states: Vec<String> = stats
        .brokers
        .values()
        .filter(|b| b.source != "logical")
        .map(|b| format!("{} {}", b.nodename, b.state))
        .collect();
    states.sort();
    states.dedup();
    if states.is_empty() {
        "no broker known".to_owned()
    } else {
        format!("no broker connection is up ({})", states.join(", "))
    }
}

/// A subscription's state from its consumer's statistics: consuming when a broker
/// connection is up and the group is joined and steady; the lag of each partition it owns
/// (the last stable offset, else the high watermark, minus the group's committed offset,
/// else the partition's low watermark before the group's first commit).
pub(crate) fn observe_consumer(status: &SubscriptionStatus, topic: &str, stats: &Statistics) {
    let joined = stats
        .cgrp
        .as_ref()
        .is_some_and(|g| g.state == "up" && g.join_state == "steady");
    let consuming = joined && any_broker_up(stats);
    let now = status.state();
    let next = if consuming {
        SubscriptionState::Consuming
    } else {
        SubscriptionState::Reconnecting
    };
    // Starting until the first assignment, stopped once closed: those are not ours to move.
    if matches!(
        now,
        SubscriptionState::Consuming | SubscriptionState::Reconnecting
    ) && now != next
    {
        status.set(next);
    }
    if let Some(t) = stats.topics.get(topic) {
        let mut lag: Vec<(i32, i64)> = t
            .partitions
            .values()
            .filter(|p| p.partition >= 0 && p.fetch_state != "none")
            .filter_map(|p| {
                // The end a reader may reach (the last stable offset under read_committed),
                // minus where the group is: its committed offset, or before its first
                // commit the start of the partition.
                let end = if p.ls_offset >= 0 {
                    p.ls_offset
                } else {
                    p.hi_offset
                };
                let at = if p.committed_offset >= 0 {
                    p.committed_offset
                } else {
                    p.lo_offset
                };
                (end >= 0 && at >= 0).then(|| (p.partition, (end - at).max(0)))
            })
            .collect();
        lag.sort_unstable();
        status.set_partition_lag(lag);
    }
}

/// The links of a broker's clients.
#[derive(Debug, Default)]
pub(crate) struct Links {
    clients: Mutex<Vec<Weak<ClientLink>>>,
}

impl Links {
    /// Counts `link` in [`state`](Self::state) for as long as its client lives.
    pub(crate) fn add(&self, link: &Arc<ClientLink>) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients.retain(|c| c.strong_count() > 0);
        clients.push(Arc::downgrade(link));
    }

    /// Up when a client has a broker connection up, or none has reported yet (just
    /// connected); down when every client that reported has none.
    pub(crate) fn state(&self) -> ConnectionState {
        let clients: Vec<Arc<ClientLink>> = self
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let mut down = None;
        for client in &clients {
            match client.state() {
                UP => return ConnectionState::Up,
                DOWN => down = down.or(Some(client)),
                _ => {}
            }
        }
        match down {
            Some(client) => ConnectionState::Down(
                client
                    .why
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            ),
            None => ConnectionState::Up,
        }
    }
}
