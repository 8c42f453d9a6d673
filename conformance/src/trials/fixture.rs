//! The broker a configuration's trials share ([`Fixture`]): connected by the first trial that
//! needs it, closed once every trial has run.

use std::{
    future::Future,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use courier_core::Broker;
use futures::{FutureExt, future::BoxFuture};
use tokio::{runtime::Runtime, sync::OnceCell};

use super::runtime::new_runtime;
use crate::harness::lock;

/// A broker under test, and what must live as long as it (such as a RabbitMQ virtual host
/// deleted on drop).
pub struct Fixture {
    broker: Arc<dyn Broker>,
    guard: Mutex<Option<Box<dyn Send>>>,
}

impl Fixture {
    /// A fixture serving `broker`.
    pub fn new(broker: Arc<dyn Broker>) -> Self {
        Self {
            broker,
            guard: Mutex::new(None),
        }
    }

    /// Keeps `guard` until the broker has been closed, then drops it.
    #[must_use]
    pub fn keeping(self, guard: impl Send + 'static) -> Self {
        *lock(&self.guard) = Some(Box::new(guard));
        self
    }

    /// The broker.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// Closes the broker (within 30 s), then drops the guard; the error says why closing
    /// failed.
    pub async fn close(&self) -> Result<(), String> {
        let closed = match tokio::time::timeout(Duration::from_secs(30), self.broker.close()).await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("closing the {} broker: {e}", self.broker.name())),
            Err(_) => Err(format!(
                "closing the {} broker: timed out after 30s",
                self.broker.name()
            )),
        };
        let guard = lock(&self.guard).take();
        drop(guard);
        closed
    }
}

/// How a configuration connects a broker.
pub(crate) type Connect = Arc<dyn Fn() -> BoxFuture<'static, Fixture> + Send + Sync>;

/// Wraps `connect` as a [`Connect`].
pub(crate) fn connector<F, Fut>(connect: F) -> Connect
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Fixture> + Send + 'static,
{
    Arc::new(move || connect().boxed())
}

/// A [`Fixture`] connected on first use and shared by every trial that asks for it, and the
/// runtime those trials run on (the broker's tasks live there).
pub(crate) struct Shared {
    connect: Connect,
    fixture: OnceCell<Fixture>,
    runtime: OnceLock<Runtime>,
}

impl Shared {
    /// Not connected yet; `connect` runs when a trial first asks for the broker.
    pub(crate) fn new(connect: Connect) -> Self {
        Self {
            connect,
            fixture: OnceCell::new(),
            runtime: OnceLock::new(),
        }
    }

    /// Runs `future` to completion on this fixture's runtime (made on first use), driving it
    /// on the calling trial's thread.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.get_or_init(new_runtime).block_on(future)
    }

    /// The broker, connecting it first if no trial did yet. When connecting panics, this trial
    /// fails and the next one tries again.
    pub(crate) async fn broker(&self) -> Arc<dyn Broker> {
        self.fixture
            .get_or_init(|| (self.connect)())
            .await
            .broker()
            .clone()
    }

    /// The fixture, when a trial connected it.
    pub(crate) fn connected(&self) -> Option<&Fixture> {
        self.fixture.get()
    }
}
