//! The tokio runtimes the trials run on, and the panic hook that keeps the panics cases
//! provoke on purpose out of the output.

use std::{future::Future, panic, sync::Once, time::Duration};

use tokio::runtime::{Builder, Runtime};

use crate::harness::DELIBERATE_PANIC;

/// A multi-threaded runtime with two workers, as
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` gives each test.
pub(crate) fn new_runtime() -> Runtime {
    static HOOK: Once = Once::new();
    HOOK.call_once(quiet_deliberate_panics);
    Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("trial-worker")
        .enable_all()
        .build()
        .expect("a tokio runtime for the trials")
}

/// Runs `future` to completion on a runtime of its own, driving it on the calling trial's
/// thread (its panics reach the harness, which reports the trial failed), then shuts the
/// runtime down (waiting at most 10 s for its tasks).
pub(crate) fn block_on_own<F: Future>(future: F) -> F::Output {
    let runtime = new_runtime();
    let output = runtime.block_on(future);
    runtime.shutdown_timeout(Duration::from_secs(10));
    output
}

/// Installs a panic hook that prints every panic as before, except those whose message
/// carries [`DELIBERATE_PANIC`]: a case that makes a handler panic checks the effects itself,
/// and libtest-mimic, unlike libtest, captures no output to hide the message in.
fn quiet_deliberate_panics() {
    let print = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if !message.is_some_and(|m| m.contains(DELIBERATE_PANIC)) {
            print(info);
        }
    }));
}
