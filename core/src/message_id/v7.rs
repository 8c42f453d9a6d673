//! UUIDv7 values made per thread: the Unix time in milliseconds, then 74 bits that are drawn
//! at random when a thread's millisecond changes and counted up within it (RFC 9562, 6.2,
//! method 2). One clock read per id, one random draw per thread and millisecond.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// The 74 bits after the time: 12 in `rand_a`, 62 in `rand_b`.
const RANDOM_BITS: u32 = 74;
const RANDOM_MASK: u128 = (1 << RANDOM_BITS) - 1;

thread_local! {
    /// The millisecond of the thread's last id and the 74 bits it used.
    static LAST: Cell<(u64, u128)> = const { Cell::new((0, 0)) };
}

/// A fresh UUIDv7 as a `u128`. Later values of one thread are greater, even when the wall
/// clock steps back; values of different threads order by millisecond.
pub(super) fn next() -> u128 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
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
    use super::*;

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
            millis >= before && millis <= before + 1000,
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
