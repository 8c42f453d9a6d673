//! The tokio runtime every trial of a test binary runs on, and the panic hook that keeps the
//! panics cases provoke on purpose out of the output.

use std::{future::Future, panic, sync::OnceLock};

use tokio::runtime::{Builder, Runtime};

use crate::conformance::harness::DELIBERATE_PANIC;

/// The runtime of this process's trials: multi-threaded with two workers (as
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` gave each test), but one for
/// the whole binary, so that a broker connected by one trial serves the next.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        quiet_deliberate_panics();
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("trial-worker")
            .enable_all()
            .build()
            .expect("a tokio runtime for the trials")
    })
}

/// Runs `future` to completion on the shared runtime, driving it on the calling trial's
/// thread (its panics reach the harness, which reports the trial failed).
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
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
