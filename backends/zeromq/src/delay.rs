//! Delays on the wire: a delay travels as whole milliseconds (the `delay_ms` frame of
//! `RETRY` and of a delayed `PUBLISH`), rounded up so that nothing comes early, and the
//! binding side turns it into the time the message is due, held to `max_delay_ms`.

use std::time::{Duration, Instant};

use courier_core::{Error, ErrorKind};

use crate::BACKEND;

/// The start of the reason of an `ERROR` about a delay, and of the error a producer gets.
pub(crate) const REASON: &str = "delay:";

/// `delay` as whole milliseconds, rounded up (a sub-millisecond delay is 1 ms).
pub(crate) fn to_ms(delay: Duration) -> u64 {
    u64::try_from(delay.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// When a delayed `PUBLISH` of `delay_ms` received at `now` is due: `None` for 0 (at once).
///
/// # Errors
/// The reason of the `ERROR` answer when `delay_ms` is longer than `max`.
pub(crate) fn publish_due(
    now: Instant,
    delay_ms: u64,
    max: Duration,
) -> Result<Option<Instant>, String> {
    if delay_ms == 0 {
        return Ok(None);
    }
    let delay = Duration::from_millis(delay_ms);
    if delay > max {
        return Err(too_long(delay_ms, max));
    }
    now.checked_add(delay)
        .map(Some)
        .ok_or_else(|| too_long(delay_ms, max))
}

/// When a `RETRY` of `delay_ms` received at `now` is due, with the delay held to `max`: a
/// retry is a settlement, with no answer to refuse it in, so a longer one waits `max`.
/// `None` for 0: an ordinary requeue.
pub(crate) fn retry_due(now: Instant, delay_ms: u64, max: Duration) -> Option<Instant> {
    if delay_ms == 0 {
        return None;
    }
    let delay = Duration::from_millis(delay_ms).min(max);
    // `max` is at most a year (validated): the sum fits; at worst the retry is due now.
    Some(now.checked_add(delay).unwrap_or(now))
}

fn too_long(delay_ms: u64, max: Duration) -> String {
    format!(
        "{REASON} {delay_ms} ms is longer than this binding side's max_delay_ms ({} ms)",
        max.as_millis()
    )
}

/// The error of a delay longer than `max`, refused before anything is sent.
pub(crate) fn refused(delay: Duration, max: Duration) -> Error {
    Error::new(
        BACKEND,
        ErrorKind::Config,
        format!(
            "{REASON} {delay:?} is longer than max_delay_ms ({} ms)",
            max.as_millis()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(60);

    #[test]
    fn milliseconds_round_up() {
        assert_eq!(to_ms(Duration::ZERO), 0);
        assert_eq!(to_ms(Duration::from_nanos(1)), 1);
        assert_eq!(to_ms(Duration::from_micros(1_500)), 2);
        assert_eq!(to_ms(Duration::from_millis(1_500)), 1_500);
        assert_eq!(to_ms(Duration::MAX), u64::MAX);
    }

    #[test]
    fn a_publish_delay_past_the_limit_is_refused() {
        let now = Instant::now();
        assert_eq!(publish_due(now, 0, MAX), Ok(None));
        assert_eq!(
            publish_due(now, 1_500, MAX),
            Ok(Some(now + Duration::from_millis(1_500)))
        );
        assert_eq!(publish_due(now, 60_000, MAX), Ok(Some(now + MAX)));
        for ms in [60_001, u64::MAX] {
            let reason = publish_due(now, ms, MAX).unwrap_err();
            assert!(reason.starts_with(REASON), "{reason}");
        }
    }

    #[test]
    fn a_retry_delay_past_the_limit_waits_the_limit() {
        let now = Instant::now();
        assert_eq!(retry_due(now, 0, MAX), None);
        assert_eq!(
            retry_due(now, 10, MAX),
            Some(now + Duration::from_millis(10))
        );
        assert_eq!(retry_due(now, u64::MAX, MAX), Some(now + MAX));
    }
}
