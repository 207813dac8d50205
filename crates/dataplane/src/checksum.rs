//! Internet checksums (RFC 1071) and their incremental update (RFC 1624).
//!
//! Setting a header field rewrites the checksums that cover it without
//! summing the packet again: `HC' = ~(~HC + ~m + m')` for each changed
//! 16-bit word `m → m'`.

/// One's complement sum of `bytes` as big-endian 16-bit words (an odd last
/// byte is padded with zero), added to `initial`. Not folded.
pub fn sum(bytes: &[u8], initial: u32) -> u32 {
    let mut acc = u64::from(initial);
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    while acc > 0xffff_ffff {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    acc as u32
}

/// Folds a 32-bit sum into 16 bits (not inverted).
pub fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The checksum `csum` after one 16-bit word it covers changed from `old`
/// to `new`.
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!csum) + u32::from(!old) + u32::from(new))
}

/// The checksum after a 32-bit field it covers changed.
pub fn update32(csum: u16, old: u32, new: u32) -> u16 {
    let c = update16(csum, (old >> 16) as u16, (new >> 16) as u16);
    update16(c, old as u16, new as u16)
}

/// The checksum after a 128-bit field it covers changed.
pub fn update128(csum: u16, old: u128, new: u128) -> u16 {
    (0..8).rev().fold(csum, |c, k| update16(c, (old >> (16 * k)) as u16, (new >> (16 * k)) as u16))
}

/// CRC32-C of a byte string with the usual pre- and post-inversion (SCTP's
/// checksum, RFC 4960 Appendix B).
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        crc = crate::hash::crc32c_u64(crc, u64::from_le_bytes(b));
    }
    for &b in words.remainder() {
        crc = crate::hash::crc32c_u8(crc, b);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2.
        assert_eq!(fold(sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0)), 0xddf2);
    }

    #[test]
    fn sctp_crc_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    proptest! {
        #[test]
        fn incremental_update_equals_recompute(mut data in proptest::collection::vec(any::<u8>(), 8..64), at in 0usize..3, new: u32) {
            let at = at * 2;
            let csum = !fold(sum(&data, 0));
            let old = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
            data[at..at + 4].copy_from_slice(&new.to_be_bytes());
            let want = !fold(sum(&data, 0));
            let got = update32(csum, old, new);
            // 0x0000 and 0xffff are the same number in one's complement.
            prop_assert!(got == want || (got | want) == 0xffff && (got & want) == 0, "{got:#x} vs {want:#x}");
        }
    }
}
