//! [`Stop`]: the signals that end a service, listened for from its first moment.

use std::future::Future;

use courier_core::shutdown_signal;
use tokio::sync::watch;

/// SIGINT or SIGTERM, listened for from the start, so that a signal while the service is
/// still connecting or joining its groups stops it cleanly instead of killing it.
#[derive(Clone, Debug)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Starts listening for the signals. Call it first thing in `main`, inside the runtime.
    pub fn listen() -> Self {
        let (requested, stop) = watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = requested.send(true);
        });
        Self(stop)
    }

    /// Completes once a signal has arrived.
    pub async fn requested(self) {
        let mut stop = self.0;
        let _ = stop.wait_for(|requested| *requested).await;
    }

    /// `work`'s output, or `None` when a signal arrives first (`work` is then dropped).
    pub async fn before<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            out = work => Some(out),
            () = self.clone().requested() => None,
        }
    }
}
