//! A hasher for `u64` keys that are sequence numbers or already hashes: one multiplication.

use std::hash::{BuildHasherDefault, Hasher};

/// Builds [`U64Hasher`]s.
pub(crate) type BuildU64Hasher = BuildHasherDefault<U64Hasher>;

/// Hashes a `u64` by multiplying it with a large odd constant (Fibonacci hashing): sequential
/// numbers spread over every bit, and distinct inputs never collide.
#[derive(Default)]
pub(crate) struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
