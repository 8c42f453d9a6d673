//! UUIDv7 values made per thread: the Unix time in milliseconds, then 74 bits that are drawn
//! at random when a thread's millisecond changes and counted up within it (RFC 9562, 6.2,
//! method 2). One clock read per id, one random draw per thread and millisecond.
//!
//! On Linux the time comes from the kernel's coarse real-time clock, which moves once per
//! timer tick (1 to 10 ms) and costs a memory read, where the precise clock reads a hardware
//! counter: an id's time may be up to one tick early (RFC 9562, 6.1, lets an implementation
//! lower the timestamp's precision). Ids of one thread still sort in the order they were
//! made.

use std::cell::Cell;

/// The 74 bits after the time: 12 in `rand_a`, 62 in `rand_b`.
const RANDOM_BITS: u32 = 74;
const RANDOM_MASK: u128 = (1 << RANDOM_BITS) - 1;

thread_local! {
    /// The millisecond of the thread's last id and the 74 bits it used.
    static LAST: Cell<(u64, u128)> = const { Cell::new((0, 0)) };
}

/// A fresh UUIDv7 as a `u128`. Later values of one thread are greater, even when the wall
/// clock steps back; values of different threads order by clock tick.
pub(super) fn next() -> u128 {
    let now = unix_millis();
    LAST.with(|last| {
        let (mut millis, mut random) = last.get();
        if now > millis {
            millis = now;
            random = fresh();
        } else {
            random += 1;
            if random > RANDOM_MASK {
                // Counted through 2^73 ids in one millisecond: borrow the next one.
                millis += 1;
                random = fresh();
            }
        }
        last.set((millis, random));
        assemble(millis, random)
    })
}

/// Milliseconds since the Unix epoch, from the coarse real-time clock.
#[cfg(target_os = "linux")]
fn unix_millis() -> u64 {
    use rustix::time::{ClockId, clock_gettime};
    let now = clock_gettime(ClockId::RealtimeCoarse);
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let millis = u64::try_from(now.tv_nsec / 1_000_000).unwrap_or(0);
    secs.saturating_mul(1000).saturating_add(millis)
}

/// Milliseconds since the Unix epoch.
#[cfg(not(target_os = "linux"))]
fn unix_millis() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// 74 random bits with the highest clear, so that counting up within a millisecond has
/// room for 2^73 ids.
fn fresh() -> u128 {
    rand::random::<u128>() & (RANDOM_MASK >> 1)
}

/// The UUID of `millis` (48 bits kept) and `random` (74 bits), with version 7 and the RFC
/// variant.
fn assemble(millis: u64, random: u128) -> u128 {
    let millis = u128::from(millis & ((1 << 48) - 1));
    let rand_a = (random >> 62) & 0xfff;
    let rand_b = random & ((1 << 62) - 1);
    (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;

    /// How far the coarse clock may lag the precise one: one timer tick, at most 10 ms.
    const TICK_MS: u128 = 10;

    #[test]
    fn values_are_version_7_of_the_rfc_variant_with_the_time_in_front() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis();
        let uuid = uuid::Uuid::from_u128(next());
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
        let (secs, nanos) = uuid.get_timestamp().expect("v7 has a time").to_unix();
        let millis = u128::from(secs) * 1000 + u128::from(nanos / 1_000_000);
        assert!(
            millis + TICK_MS >= before && millis <= before + 1000,
            "{millis} vs {before}"
        );
    }

    #[test]
    fn counting_past_the_last_value_of_a_millisecond_moves_to_the_next() {
        LAST.with(|last| last.set((u64::MAX >> 16, RANDOM_MASK)));
        let value = next();
        let (millis, random) = LAST.with(Cell::get);
        assert_eq!(millis, (u64::MAX >> 16) + 1);
        assert!(random <= RANDOM_MASK >> 1);
        assert_eq!(value, assemble(millis, random));
    }

    #[test]
    fn the_fields_land_where_rfc_9562_puts_them() {
        let value = assemble(0x0123_4567_89ab, (0xabc << 62) | 0x1234);
        assert_eq!(
            uuid::Uuid::from_u128(value).hyphenated().to_string(),
            "01234567-89ab-7abc-8000-000000001234"
        );
    }
}
