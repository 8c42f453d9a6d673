//! A fast, non-cryptographic hasher for message keys and the outbox's maps, whose keys
//! (delivery tags the hub counts itself, random peer identities the ROUTER assigns) cannot
//! be chosen by a peer to collide.
//!
//! It is the multiply-rotate scheme of the Firefox/rustc `FxHasher`.

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// The routing hash of a message key; `None` for a message without key.
pub(crate) fn key_hash(key: &[u8]) -> Option<u64> {
    (!key.is_empty()).then(|| BuildHasherDefault::<FxHasher>::default().hash_one(key))
}

/// `HashMap` with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// See the module documentation.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_neighbours_differ() {
        let build = BuildHasherDefault::<FxHasher>::default();
        assert_eq!(
            build.hash_one(b"peer-1".as_slice()),
            build.hash_one(b"peer-1".as_slice())
        );
        assert_ne!(build.hash_one(1u64), build.hash_one(2u64));
        assert_ne!(
            build.hash_one(b"peer-1".as_slice()),
            build.hash_one(b"peer-2".as_slice())
        );
    }
}
