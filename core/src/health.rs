//! Readiness: whether the broker connection is up ([`Broker::connection_state`]) and every
//! subscription of a runtime is consuming ([`SubscriptionStatus`]), put together by
//! [`Health`] into a [`Readiness`] that a service answers `GET /readyz` with.
//!
//! States are written when they change (a connection lost, a subscription consuming again),
//! never per message: writers store an atomic, readers load it.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
};

use crate::Broker;

/// Whether a broker connection is up, as [`Broker::connection_state`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Connected.
    Up,
    /// Not connected (the backend reconnects by itself); why, in words without credentials.
    Down(String),
}

impl ConnectionState {
    /// Whether it is [`Up`](Self::Up).
    pub fn is_up(&self) -> bool {
        matches!(self, Self::Up)
    }
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Up => f.write_str("up"),
            Self::Down(why) => write!(f, "down: {why}"),
        }
    }
}

/// Where one subscription is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum SubscriptionState {
    /// Registered, not yet subscribed.
    Starting = 0,
    /// Subscribed: deliveries come as the broker has them.
    Consuming = 1,
    /// The connection or the subscription was lost; subscribing again.
    Reconnecting = 2,
    /// Shut down, or ended for good.
    Stopped = 3,
}

impl SubscriptionState {
    /// Its name in a readiness body: `starting`, `consuming`, `reconnecting`, `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Consuming => "consuming",
            Self::Reconnecting => "reconnecting",
            Self::Stopped => "stopped",
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Starting,
            1 => Self::Consuming,
            2 => Self::Reconnecting,
            _ => Self::Stopped,
        }
    }
}

/// No queue depth known.
const DEPTH_UNKNOWN: u64 = u64::MAX;

#[derive(Debug)]
struct StatusInner {
    state: AtomicU8,
    /// Messages waiting in the group's queue, where the backend samples it.
    depth: AtomicU64,
    /// Per partition, the high watermark minus the group's position, where the backend
    /// samples it.
    lag: Mutex<Vec<(i32, i64)>>,
}

/// The state of one subscription, shared by whoever updates it (the runtime's receive loop,
/// a backend's reconnecting task) and whoever reads it ([`Health`], the metrics). Cheap to
/// clone; reading and writing the state are atomic operations, without locks.
///
/// A backend that reconnects by itself (so that `recv` never fails meanwhile) returns one
/// from [`Consumer::status`](crate::Consumer::status) and keeps it up to date; it may also
/// record the backlog it can tell cheaply ([`set_queue_depth`](Self::set_queue_depth),
/// [`set_partition_lag`](Self::set_partition_lag)), sampled on a timer.
#[derive(Clone, Debug)]
pub struct SubscriptionStatus(Arc<StatusInner>);

impl Default for SubscriptionStatus {
    fn default() -> Self {
        Self::new(SubscriptionState::Starting)
    }
}

impl SubscriptionStatus {
    /// A status starting at `state`.
    pub fn new(state: SubscriptionState) -> Self {
        Self(Arc::new(StatusInner {
            state: AtomicU8::new(state as u8),
            depth: AtomicU64::new(DEPTH_UNKNOWN),
            lag: Mutex::new(Vec::new()),
        }))
    }

    /// The current state.
    pub fn state(&self) -> SubscriptionState {
        SubscriptionState::from_u8(self.0.state.load(Ordering::Acquire))
    }

    /// Moves to `state`; returns the state it was in. [`Stopped`](SubscriptionState::Stopped)
    /// is final: once there, it stays.
    pub fn set(&self, state: SubscriptionState) -> SubscriptionState {
        let stopped = SubscriptionState::Stopped as u8;
        let previous = self
            .0
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current != stopped).then_some(state as u8)
            })
            .unwrap_or(stopped);
        SubscriptionState::from_u8(previous)
    }

    /// Records how many messages wait in the group's queue (sampled, not per message).
    pub fn set_queue_depth(&self, depth: u64) {
        self.0
            .depth
            .store(depth.min(DEPTH_UNKNOWN - 1), Ordering::Relaxed);
    }

    /// The last queue depth recorded, if any.
    pub fn queue_depth(&self) -> Option<u64> {
        match self.0.depth.load(Ordering::Relaxed) {
            DEPTH_UNKNOWN => None,
            depth => Some(depth),
        }
    }

    /// Records the lag of each partition this consumer owns, (partition, high watermark
    /// minus the group's position), replacing the previous sample (sampled, not per
    /// message).
    pub fn set_partition_lag(&self, lag: Vec<(i32, i64)>) {
        *self.0.lag.lock().unwrap_or_else(PoisonError::into_inner) = lag;
    }

    /// The last partition lags recorded.
    pub fn partition_lag(&self) -> Vec<(i32, i64)> {
        self.0
            .lag
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One subscription as the runtime watches it.
#[derive(Clone, Debug)]
pub(crate) struct Watched {
    pub(crate) topic: String,
    pub(crate) group: String,
    /// The runtime's receive loop: consuming, or retrying after failed receives.
    pub(crate) runtime: SubscriptionStatus,
    /// The backend's own view, when its consumer keeps one.
    pub(crate) backend: Option<SubscriptionStatus>,
}

impl Watched {
    /// The worse of the runtime's and the backend's state.
    fn state(&self) -> SubscriptionState {
        let runtime = self.runtime.state();
        match (&self.backend, runtime) {
            (Some(backend), SubscriptionState::Consuming) => backend.state(),
            _ => runtime,
        }
    }
}

/// The readiness of a runtime's broker and subscriptions. Cheap to clone; get it from
/// [`Runtime::health`](crate::Runtime::health) before starting, and ask it
/// [`readiness`](Self::readiness) whenever a probe comes.
#[derive(Clone)]
pub struct Health {
    broker: Arc<dyn Broker>,
    subscriptions: Arc<Mutex<Vec<Watched>>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("broker", &self.broker.name())
            .finish_non_exhaustive()
    }
}

impl Health {
    /// The health of `broker` with no subscription yet.
    pub fn new(broker: Arc<dyn Broker>) -> Self {
        Self {
            broker,
            subscriptions: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Watched>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches a subscription of `topic` and `group`; returns the status the runtime's
    /// receive loop updates (starting).
    pub(crate) fn watch(&self, topic: &str, group: &str) -> SubscriptionStatus {
        let status = SubscriptionStatus::default();
        self.lock().push(Watched {
            topic: topic.to_owned(),
            group: group.to_owned(),
            runtime: status.clone(),
            backend: None,
        });
        status
    }

    /// Adds the backend's own status to the subscription whose runtime status is `runtime`.
    pub(crate) fn attach(&self, runtime: &SubscriptionStatus, backend: Option<SubscriptionStatus>) {
        if let Some(watched) = self
            .lock()
            .iter_mut()
            .find(|w| Arc::ptr_eq(&w.runtime.0, &runtime.0))
        {
            watched.backend = backend;
        }
    }

    /// The subscriptions watched, for the metrics.
    /// The name of the broker's backend (`messaging.system`).
    pub(crate) fn system(&self) -> &'static str {
        self.broker.name()
    }

    pub(crate) fn watched(&self) -> Vec<Watched> {
        self.lock().clone()
    }

    /// Whether the broker connection is up and every subscription consuming, and what is
    /// not. A runtime without subscriptions is ready when its broker connection is up.
    pub fn readiness(&self) -> Readiness {
        let broker = self.broker.connection_state();
        let mut subscriptions = BTreeMap::new();
        for watched in self.lock().iter() {
            let name = format!("{}/{}", watched.topic, watched.group);
            let state = watched.state();
            // Two handlers of one group on one topic: the worse state shows.
            let entry = subscriptions.entry(name).or_insert(state);
            if state != SubscriptionState::Consuming && *entry == SubscriptionState::Consuming {
                *entry = state;
            }
        }
        Readiness {
            broker,
            subscriptions,
        }
    }
}

/// What [`Health::readiness`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// The broker connection.
    pub broker: ConnectionState,
    /// Each subscription, named `<topic>/<group>`.
    pub subscriptions: BTreeMap<String, SubscriptionState>,
}

impl Readiness {
    /// Whether the broker connection is up and every subscription consuming.
    pub fn is_ready(&self) -> bool {
        self.broker.is_up()
            && self
                .subscriptions
                .values()
                .all(|s| *s == SubscriptionState::Consuming)
    }

    /// The HTTP status of a readiness probe: 200 when ready, 503 when not.
    pub fn http_status(&self) -> u16 {
        if self.is_ready() { 200 } else { 503 }
    }

    /// The body of a readiness probe: `{"ready":true,"broker":"up","subscriptions":{...}}`
    /// when ready; when not, `ready` is `false`, `broker` says `down: <why>` when it is, and
    /// `subscriptions` lists only those not consuming, with their state.
    pub fn to_json(&self) -> serde_json::Value {
        let ready = self.is_ready();
        let subscriptions: serde_json::Map<String, serde_json::Value> = self
            .subscriptions
            .iter()
            .filter(|(_, state)| ready || **state != SubscriptionState::Consuming)
            .map(|(name, state)| (name.clone(), state.as_str().into()))
            .collect();
        serde_json::json!({
            "ready": ready,
            "broker": self.broker.to_string(),
            "subscriptions": subscriptions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopped_is_final_and_the_worse_state_shows() {
        let status = SubscriptionStatus::default();
        assert_eq!(status.state(), SubscriptionState::Starting);
        assert_eq!(
            status.set(SubscriptionState::Consuming),
            SubscriptionState::Starting
        );
        let backend = SubscriptionStatus::new(SubscriptionState::Reconnecting);
        let watched = Watched {
            topic: "t".into(),
            group: "g".into(),
            runtime: status.clone(),
            backend: Some(backend.clone()),
        };
        assert_eq!(watched.state(), SubscriptionState::Reconnecting);
        backend.set(SubscriptionState::Consuming);
        assert_eq!(watched.state(), SubscriptionState::Consuming);
        status.set(SubscriptionState::Stopped);
        assert_eq!(
            status.set(SubscriptionState::Consuming),
            SubscriptionState::Stopped
        );
        assert_eq!(watched.state(), SubscriptionState::Stopped);
        assert_eq!(status.queue_depth(), None);
        status.set_queue_depth(7);
        assert_eq!(status.queue_depth(), Some(7));
    }

    #[test]
    fn the_body_names_what_is_not_ready() {
        let mut readiness = Readiness {
            broker: ConnectionState::Up,
            subscriptions: BTreeMap::from([
                ("a/x".to_owned(), SubscriptionState::Consuming),
                ("b/y".to_owned(), SubscriptionState::Consuming),
            ]),
        };
        assert_eq!(readiness.http_status(), 200);
        assert_eq!(
            readiness.to_json(),
            serde_json::json!({"ready": true, "broker": "up",
                "subscriptions": {"a/x": "consuming", "b/y": "consuming"}})
        );
        readiness.broker = ConnectionState::Down("connection closed".into());
        readiness
            .subscriptions
            .insert("b/y".into(), SubscriptionState::Reconnecting);
        assert_eq!(readiness.http_status(), 503);
        assert_eq!(
            readiness.to_json(),
            serde_json::json!({"ready": false, "broker": "down: connection closed",
                "subscriptions": {"b/y": "reconnecting"}})
        );
    }
}
