//! Megaflows: a masked key, its actions, its statistics and its dead flag.
//!
//! A megaflow is shared (`Arc`) between the classifier that owns it (one
//! PMD thread's), that thread's microflow cache, and the control thread
//! that dumps, revalidates and deletes it. The fields the control thread
//! writes are atomics: `dead` (set once; every lookup ignores a dead
//! megaflow from then on, so a deletion takes effect at once, before the
//! owning thread gets round to unlinking it) and nothing else. Statistics
//! are written only by the owning PMD thread and read by anyone.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

use crate::actions::Action;
use crate::hash::crc32c_u64;
use crate::key::{write_fields, FlowKey, FlowMask, MiniKey, KEY_WORDS};

/// A mask in the form subtables use: the bitmap of words it matches on,
/// those words' mask values packed, and the dense form.
#[derive(Clone, PartialEq, Eq)]
pub struct Mask {
    pub(crate) map: u64,
    pub(crate) len: u8,
    pub(crate) values: [u64; KEY_WORDS],
    dense: FlowMask,
}

impl Mask {
    /// The packed form of `mask`.
    pub fn new(mask: &FlowMask) -> Self {
        let mini = FlowKey { words: mask.words }.to_mini();
        Mask { map: mini.map, len: mini.len, values: mini.values, dense: *mask }
    }

    /// The dense mask.
    pub fn dense(&self) -> &FlowMask {
        &self.dense
    }

    /// Hash of `key` under this mask, and the masked words packed into `out`.
    #[inline(always)]
    pub(crate) fn hash_masked(&self, key: &MiniKey, basis: u32) -> u32 {
        let mut h = basis;
        let mut m = self.map;
        let mut j = 0;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            h = crc32c_u64(h, key_word(key, i) & self.values[j]);
            j += 1;
            m &= m - 1;
        }
        h
    }

    /// Whether `key` under this mask equals the packed masked words `masked`.
    #[inline(always)]
    pub(crate) fn matches(&self, key: &MiniKey, masked: &[u64; KEY_WORDS]) -> bool {
        let mut m = self.map;
        let mut j = 0;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            if key_word(key, i) & self.values[j] != masked[j] {
                return false;
            }
            j += 1;
            m &= m - 1;
        }
        true
    }
}

/// Word `i` (< 64) of a sparse key, zero when absent; branch-free.
#[inline(always)]
pub(crate) fn key_word(key: &MiniKey, i: usize) -> u64 {
    let bit = 1u64 << i;
    let rank = (key.map & (bit - 1)).count_ones() as usize;
    let present = 0u64.wrapping_sub((key.map >> i) & 1);
    // `rank` <= `i` < KEY_WORDS for every word index a mask holds; `min`
    // keeps the read in bounds for any input without a panic path.
    key.values[rank.min(KEY_WORDS - 1)] & present
}

impl fmt::Debug for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.dense, f)
    }
}

/// A megaflow's counters.
#[derive(Debug, Default)]
pub struct MegaflowStats {
    packets: AtomicU64,
    bytes: AtomicU64,
    used: AtomicU64,
    tcp_flags: AtomicU16,
}

/// A snapshot of [`MegaflowStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Packets matched.
    pub packets: u64,
    /// Bytes matched.
    pub bytes: u64,
    /// When last matched, in the caller's clock (milliseconds); 0 = never.
    pub used: u64,
    /// Union of the TCP flags seen.
    pub tcp_flags: u16,
}

impl MegaflowStats {
    /// Adds a batch of packets. Only the owning PMD thread calls this, so
    /// plain loads and stores suffice (a second writer would lose counts,
    /// never corrupt memory).
    #[inline]
    pub fn add(&self, packets: u64, bytes: u64, now: u64, tcp_flags: u16) {
        let r = Ordering::Relaxed;
        self.packets.store(self.packets.load(r) + packets, r);
        self.bytes.store(self.bytes.load(r) + bytes, r);
        self.used.store(now, r);
        if tcp_flags != 0 {
            self.tcp_flags.store(self.tcp_flags.load(r) | tcp_flags, r);
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = Ordering::Relaxed;
        StatsSnapshot {
            packets: self.packets.load(r),
            bytes: self.bytes.load(r),
            used: self.used.load(r),
            tcp_flags: self.tcp_flags.load(r),
        }
    }
}

/// The clock of megaflow statistics: milliseconds since `epoch()`, the
/// first time anyone asked. Every thread of the process shares it.
pub fn clock_ms() -> u64 {
    epoch().elapsed().as_millis() as u64
}

/// The instant [`clock_ms`] counts from.
pub fn epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

/// Counters that megaflows credit with their traffic: an OpenFlow rule's
/// packets, bytes and last use, fed by every megaflow translated through
/// it (on any PMD thread, hence atomic adds).
#[derive(Debug, Default)]
pub struct Credit {
    packets: AtomicU64,
    bytes: AtomicU64,
    used: AtomicU64,
}

impl Credit {
    /// Adds traffic last seen at `used` (milliseconds, the caller's clock).
    pub fn add(&self, packets: u64, bytes: u64, used: u64) {
        let r = Ordering::Relaxed;
        self.packets.fetch_add(packets, r);
        self.bytes.fetch_add(bytes, r);
        self.used.fetch_max(used, r);
    }

    /// Packets, bytes and last use credited so far.
    pub fn get(&self) -> (u64, u64, u64) {
        let r = Ordering::Relaxed;
        (self.packets.load(r), self.bytes.load(r), self.used.load(r))
    }
}

/// What a megaflow credits: the counters of the rules it came from.
pub type Credits = Arc<[Arc<Credit>]>;

/// A cached flow: every packet whose key, masked, equals `key` gets `actions`.
///
/// `repr(C)` with cache-line alignment keeps what a hit reads and writes
/// in two cache lines: the dead flag, actions and counters in the first,
/// the first eight masked words (what the lookup verifies) in the second;
/// a lookup prefetches both. (Without the
/// alignment they straddle three lines about half the time, and a lookup
/// over a million megaflows measured 10% slower.)
#[repr(C, align(64))]
pub struct Megaflow {
    dead: AtomicBool,
    pub(crate) hash: u32,
    pub(crate) mask: Arc<Mask>,
    actions: Arc<[Action]>,
    stats: MegaflowStats,
    pub(crate) masked: [u64; KEY_WORDS],
    credits: Credits,
    /// When installed ([`clock_ms`]).
    created: u64,
    /// Packets and bytes already passed on to `credits`.
    pushed: (AtomicU64, AtomicU64),
}

impl Megaflow {
    /// A megaflow matching `key` under `mask`.
    pub(crate) fn new(key: &MiniKey, mask: Arc<Mask>, hash: u32, actions: Arc<[Action]>, credits: Credits) -> Self {
        let mut masked = [0u64; KEY_WORDS];
        let mut m = mask.map;
        let mut j = 0;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            masked[j] = key_word(key, i) & mask.values[j];
            j += 1;
            m &= m - 1;
        }
        Megaflow {
            dead: AtomicBool::new(false),
            hash,
            masked,
            mask,
            actions,
            stats: MegaflowStats::default(),
            credits,
            created: clock_ms(),
            pushed: Default::default(),
        }
    }

    /// The actions.
    pub fn actions(&self) -> &Arc<[Action]> {
        &self.actions
    }

    /// The counters.
    pub fn stats(&self) -> &MegaflowStats {
        &self.stats
    }

    /// Passes the traffic counted since the last push on to the rules the
    /// megaflow came from; returns the packets passed on. Called by one
    /// thread at a time (the owning PMD's revalidation).
    pub fn push_credits(&self) -> u64 {
        let now = self.stats.snapshot();
        let r = Ordering::Relaxed;
        let packets = now.packets.wrapping_sub(self.pushed.0.swap(now.packets, r));
        let bytes = now.bytes.wrapping_sub(self.pushed.1.swap(now.bytes, r));
        if packets != 0 {
            for c in self.credits.iter() {
                c.add(packets, bytes, now.used);
            }
        }
        packets
    }

    /// When it was installed ([`clock_ms`]).
    pub fn created(&self) -> u64 {
        self.created
    }

    /// Hints that a hit will read the megaflow's first two lines: the
    /// counters and actions, then the masked key.
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        crate::prefetch::prefetch::<Self, 2>(self);
    }

    /// Whether some packet this megaflow matches also matches the rule of
    /// key `value` under `mask`: no bit both look at differs. (Over the
    /// megaflow's packed words only.)
    pub fn may_match(&self, value: &FlowKey, mask: &FlowMask) -> bool {
        let mut m = self.mask.map;
        let mut j = 0;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            let (Some(v), Some(b)) = (value.words.get(i), mask.words.get(i)) else {
                return true;
            };
            if (self.masked[j] ^ v) & self.mask.values[j] & b != 0 {
                return false;
            }
            j += 1;
            m &= m - 1;
        }
        true
    }

    /// Whether the megaflow was deleted.
    #[inline(always)]
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Deletes the megaflow: from now on every lookup ignores it. The
    /// owning classifier unlinks it later ([`crate::Classifier::remove`]).
    pub fn kill(&self) {
        self.dead.store(true, Ordering::Release);
    }

    /// The mask.
    pub fn mask(&self) -> &FlowMask {
        self.mask.dense()
    }

    /// The matched key, masked, in dense form.
    pub fn key(&self) -> FlowKey {
        let mut key = FlowKey::default();
        let mut m = self.mask.map;
        let mut j = 0;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            key.words[i] = self.masked[j];
            j += 1;
            m &= m - 1;
        }
        key
    }

    /// Whether `key` matches this megaflow (ignoring the dead flag).
    pub fn matches(&self, key: &MiniKey) -> bool {
        self.mask.matches(key, &self.masked)
    }
}

impl fmt::Debug for Megaflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fields(f, &self.key().words, Some(&self.mask.dense().words))?;
        write!(f, ", {:?}, actions:{:?}", self.stats.snapshot(), self.actions)?;
        if self.is_dead() {
            f.write_str(" (dead)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn a_hit_reads_two_cache_lines() {
        assert!(offset_of!(Megaflow, actions) + size_of::<Arc<[Action]>>() <= 64);
        assert!(offset_of!(Megaflow, stats) + size_of::<MegaflowStats>() <= 64);
        assert_eq!(offset_of!(Megaflow, masked), 64);
    }
}
