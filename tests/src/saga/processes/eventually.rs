//! [`eventually`]: a check retried until it passes or its time is up, for what the services
//! settle a moment after the orders do (a release after `PaymentFailed`, a metric's update).

use std::{future::Future, time::Duration};

/// Runs `check` every 200 ms until it returns `Ok` or `within` has passed, and returns its
/// last outcome.
///
/// # Errors
/// The last error of `check` once `within` has passed.
///
/// # Cancel safety
/// Cancel safe: it holds nothing but the check in progress.
pub(super) async fn eventually<F, Fut>(within: Duration, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!("not there yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            outcome => return outcome,
        }
    }
}
