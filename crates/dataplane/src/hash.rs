//! CRC32-C over 64-bit words: the hash of flow keys and masked keys.
//!
//! CRC32-C is what OVS's userspace datapath uses: on x86-64 with SSE4.2 one
//! `crc32` instruction per word (3 cycles latency, one per cycle
//! throughput), and independent hashes of a batch overlap in the pipeline.
//! The workspace builds for `x86-64-v2` (`.cargo/config.toml`, the baseline
//! Debian's DPDK is built for), which has SSE4.2, so the instruction is
//! chosen at compile time. A build without it (another target, or
//! `RUSTFLAGS` overriding the baseline) uses the portable slicing-by-8
//! table below, which gives the same values.
//!
//! # Why this module holds the crate's only `unsafe`
//!
//! Calling `_mm_crc32_u64` is `unsafe` in Rust even when the build enables
//! SSE4.2. Measured with `cargo bench -p dataplane --bench flow -- hash`
//! (criterion, hashing an 8-word key): 2.3 ns with the instruction against
//! 17.4 ns with the portable table. The hash is on every packet's path,
//! once per subtable probed on a microflow miss, so the portable form
//! alone would take half the 40 ns budget of extraction and microflow hit.
//! The block is one line and its precondition is checked by `cfg`.

/// Slicing-by-8 tables for CRC32-C (reflected polynomial 0x82F63B78).
const TABLES: [[u32; 256]; 8] = tables();

const fn tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
            k += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

/// One step of CRC32-C over the little-endian bytes of `word`, without
/// the final inversion (the `crc32` instruction's semantics).
#[inline(always)]
pub fn crc32c_u64(crc: u32, word: u64) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse4.2"))]
    {
        // SAFETY: `_mm_crc32_u64` requires SSE4.2, and this block is
        // compiled only when the build's target features include SSE4.2,
        // so every CPU the binary runs on has it.
        #[allow(unsafe_code)]
        let r = unsafe { core::arch::x86_64::_mm_crc32_u64(u64::from(crc), word) } as u32;
        r
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse4.2")))]
    {
        crc32c_u64_portable(crc, word)
    }
}

/// The portable form of [`crc32c_u64`].
#[inline]
pub fn crc32c_u64_portable(crc: u32, word: u64) -> u32 {
    let x = word ^ u64::from(crc);
    let b = x.to_le_bytes();
    TABLES[7][b[0] as usize]
        ^ TABLES[6][b[1] as usize]
        ^ TABLES[5][b[2] as usize]
        ^ TABLES[4][b[3] as usize]
        ^ TABLES[3][b[4] as usize]
        ^ TABLES[2][b[5] as usize]
        ^ TABLES[1][b[6] as usize]
        ^ TABLES[0][b[7] as usize]
}

/// One step of CRC32-C over one byte, without the final inversion.
#[inline]
pub fn crc32c_u8(crc: u32, byte: u8) -> u32 {
    (crc >> 8) ^ TABLES[0][((crc ^ u32::from(byte)) & 0xff) as usize]
}

/// Hash of a sequence of words, starting from `basis`.
#[inline]
pub fn hash_words(words: &[u64], basis: u32) -> u32 {
    words.iter().fold(basis, |h, &w| crc32c_u64(h, w))
}

/// Spreads a 32-bit hash over 64 bits for `hashbrown`, which takes its
/// bucket index from the low bits and its 7-bit tag from the top bits.
#[inline(always)]
pub fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Standard CRC32-C check value: crc32c("123456789") = 0xE3069283.
    #[test]
    fn check_value() {
        // Bytewise reference over the same table, with the usual
        // inversions, so the table itself is checked against the standard.
        let mut crc = !0u32;
        for &b in b"123456789" {
            crc = (crc >> 8) ^ TABLES[0][((crc ^ u32::from(b)) & 0xff) as usize];
        }
        assert_eq!(!crc, 0xE306_9283);
    }

    proptest! {
        #[test]
        fn word_step_matches_bytewise(crc: u32, word: u64) {
            let mut c = crc;
            for b in word.to_le_bytes() {
                c = (c >> 8) ^ TABLES[0][((c ^ u32::from(b)) & 0xff) as usize];
            }
            prop_assert_eq!(crc32c_u64_portable(crc, word), c);
            prop_assert_eq!(crc32c_u64(crc, word), c);
        }
    }
}
