//! Other messaging libraries measured on courier's workload, each driven the way its own
//! documentation recommends at its best settings (built only with the `peers` feature).

pub mod ruststream;
pub mod ruststream_zeromq;

use futures::{FutureExt, Stream, StreamExt};

use courier_core::BoxError;

use crate::driver::Outcome;

/// Waits for the first item of `stream`, then takes whatever else is ready, into `batch` up
/// to `max` items; `false` when the stream has ended before a first item.
///
/// # Errors
/// The stream's first error.
///
/// # Cancel safety
/// As cancel safe as the stream: an item taken before the cancellation stays in `batch`.
pub async fn take_ready<T, E>(
    stream: impl Stream<Item = Result<T, E>>,
    batch: &mut Vec<T>,
    max: usize,
) -> Outcome<bool>
where
    E: Into<BoxError>,
{
    let mut stream = std::pin::pin!(stream);
    let Some(first) = stream.next().await else {
        return Ok(false);
    };
    batch.push(first.map_err(Into::into)?);
    while batch.len() < max {
        match stream.next().now_or_never() {
            Some(Some(next)) => batch.push(next.map_err(Into::into)?),
            _ => break,
        }
    }
    Ok(true)
}
