//! Delivery tokens of backends that reconnect: a 16-bit connection generation above a 48-bit
//! tag, so that a settlement meant for a connection that is gone is recognised as stale
//! instead of settling an unrelated delivery of the new connection.

/// The bits of the tag.
pub const TAG_BITS: u32 = 48;
/// The largest tag a token holds.
pub const MAX_TAG: u64 = (1 << TAG_BITS) - 1;
const GENERATION_MASK: u64 = 0xFFFF;

/// The token of `tag` on connection `generation` (both cut to their bits).
pub fn pack(generation: u64, tag: u64) -> u64 {
    ((generation & GENERATION_MASK) << TAG_BITS) | (tag & MAX_TAG)
}

/// The connection generation of `token`.
pub fn generation(token: u64) -> u64 {
    token >> TAG_BITS
}

/// The tag of `token`.
pub fn tag(token: u64) -> u64 {
    token & MAX_TAG
}

/// Whether `token` belongs to connection `generation`.
pub fn is_of(token: u64, generation: u64) -> bool {
    self::generation(token) == generation & GENERATION_MASK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks() {
        let token = pack(3, 42);
        assert_eq!((generation(token), tag(token)), (3, 42));
        assert!(is_of(token, 3) && !is_of(token, 4));
        assert!(is_of(pack(0x1_0003, 1), 3), "generations wrap at 16 bits");
        assert_eq!(tag(pack(1, MAX_TAG + 5)), 4, "tags are cut to 48 bits");
    }
}
