//! The microflow cache: an exact-match cache from a packet's whole key to
//! its megaflow, one per PMD thread (OVS's EMC).
//!
//! # Structure and invariants
//!
//! A power-of-two array of entries. A key's hash gives two candidate slots
//! (the low bits, and the bits above them), as OVS's two hash segments; a
//! lookup compares the stored hash, then the key's word map, then its
//! words. An entry whose megaflow is dead is a miss and is overwritten by
//! the next insertion there.
//!
//! Insertion is probabilistic: with the default `insert_inv_prob` of 100
//! only about one megaflow hit in 100 is copied into the cache, so that
//! traffic with more flows than entries (which would only thrash the cache)
//! leaves the useful entries in place, while a long-lived flow gets in
//! after a hundred packets or so. `0` disables the cache and `1` inserts on
//! every miss, as `other_config:emc-insert-inv-prob`.
//!
//! The cache is owned by one thread (`&mut self` to insert); it holds
//! `Arc`s to megaflows, so a megaflow's memory lives while any entry points
//! at it.
//!
//! The key is a [`MiniKey`] by default; a PMD thread also keeps one keyed
//! on [`crate::HeaderKey`]s, whose entries carry the flow key's hash as
//! their value (`V`), for plain packets that then need no extraction.

use std::sync::Arc;

use crate::key::MiniKey;
use crate::megaflow::Megaflow;

/// Default number of entries.
pub const DEFAULT_ENTRIES: usize = 8192;
/// Default inverse insertion probability (`emc-insert-inv-prob`).
pub const DEFAULT_INSERT_INV_PROB: u32 = 100;

/// Configuration errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MicroflowError {
    /// The size must be a power of two from 2 to 2^20.
    #[error("microflow cache size {0} is not a power of two between 2 and 1048576")]
    Size(usize),
}

/// One slot, in a cache line of its own (a header-key entry fits one).
#[repr(C, align(64))]
struct Entry<K, V> {
    hash: u32,
    value: V,
    flow: Option<Arc<Megaflow>>,
    key: K,
}

/// Per-PMD exact-match cache from keys `K` to megaflows, with a value `V`
/// kept beside each.
pub struct MicroflowCache<K = MiniKey, V = ()> {
    entries: Box<[Entry<K, V>]>,
    index_mask: u32,
    index_shift: u32,
    /// Insert when a random `u32` is at most this (`u32::MAX / inv_prob`).
    threshold: Option<u32>,
    rng: u32,
    /// Where [`MicroflowCache::release_dead`] goes on.
    cursor: usize,
}

impl<K: CacheKey, V: Copy + Default> std::fmt::Debug for MicroflowCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicroflowCache").field("entries", &self.entries.len()).field("occupied", &self.occupied()).finish()
    }
}

impl<K: CacheKey, V: Copy + Default> Default for MicroflowCache<K, V> {
    fn default() -> Self {
        match Self::new(DEFAULT_ENTRIES, DEFAULT_INSERT_INV_PROB) {
            Ok(c) => c,
            Err(_) => unreachable!("the default size is a power of two"),
        }
    }
}

/// What a cache may be keyed on.
pub trait CacheKey: Copy + Default + PartialEq {}

impl CacheKey for MiniKey {}
impl CacheKey for crate::HeaderKey {}

impl<K: CacheKey, V: Copy + Default> MicroflowCache<K, V> {
    /// A cache of `entries` slots (a power of two) inserting one megaflow
    /// hit in `insert_inv_prob` (0: never).
    pub fn new(entries: usize, insert_inv_prob: u32) -> Result<Self, MicroflowError> {
        if !entries.is_power_of_two() || !(2..=1 << 20).contains(&entries) {
            return Err(MicroflowError::Size(entries));
        }
        let slots = (0..entries).map(|_| Entry { hash: 0, value: V::default(), flow: None, key: K::default() }).collect();
        let bits = entries.trailing_zeros();
        let mut cache = MicroflowCache {
            entries: slots,
            index_mask: entries as u32 - 1,
            index_shift: bits,
            threshold: None,
            rng: 0x2545_F491,
            cursor: 0,
        };
        cache.set_insert_inv_prob(insert_inv_prob);
        Ok(cache)
    }

    /// Changes the insertion probability (live, as OVS).
    pub fn set_insert_inv_prob(&mut self, inv_prob: u32) {
        self.threshold = (inv_prob != 0).then(|| u32::MAX / inv_prob);
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Number of slots holding a live megaflow.
    pub fn occupied(&self) -> usize {
        self.entries.iter().filter(|e| e.flow.as_ref().is_some_and(|f| !f.is_dead())).count()
    }

    #[inline(always)]
    fn slots(&self, hash: u32) -> [usize; 2] {
        [(hash & self.index_mask) as usize, ((hash >> self.index_shift) & self.index_mask) as usize]
    }

    /// Hints that `hash`'s two slots will be looked at soon.
    #[inline(always)]
    pub fn prefetch(&self, hash: u32) {
        for slot in self.slots(hash) {
            crate::prefetch::prefetch::<_, 1>(&self.entries[slot]);
        }
    }

    /// The live megaflow cached for `key` (whose hash is `hash`), with
    /// the value kept beside it.
    #[inline(always)]
    pub fn lookup(&self, key: &K, hash: u32) -> Option<(&Arc<Megaflow>, V)> {
        for slot in self.slots(hash) {
            let e = &self.entries[slot];
            if e.hash == hash && e.key == *key {
                return e.flow.as_ref().filter(|f| !f.is_dead()).map(|f| (f, e.value));
            }
        }
        None
    }

    /// Offers `key → flow` (with `value`) after a megaflow hit; inserted
    /// with the configured probability.
    #[inline]
    pub fn offer(&mut self, key: &K, hash: u32, flow: &Arc<Megaflow>, value: V) {
        let Some(threshold) = self.threshold else {
            return;
        };
        // xorshift32: cheap, and only decides whether to insert.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        if x <= threshold {
            self.insert(key, hash, flow, value);
        }
    }

    /// Inserts `key → flow` (with `value`) unconditionally.
    pub fn insert(&mut self, key: &K, hash: u32, flow: &Arc<Megaflow>, value: V) {
        let [a, b] = self.slots(hash);
        let usable = |e: &Entry<K, V>| e.flow.as_ref().is_none_or(|f| f.is_dead());
        let slot = if self.entries[a].hash == hash && self.entries[a].key == *key {
            a
        } else if self.entries[b].hash == hash && self.entries[b].key == *key {
            b
        } else if usable(&self.entries[a]) {
            a
        } else if usable(&self.entries[b]) {
            b
        } else if self.entries[a].hash <= self.entries[b].hash {
            // Both live: replace one chosen by the stored hashes, as OVS.
            a
        } else {
            b
        };
        let e = &mut self.entries[slot];
        e.hash = hash;
        e.key = *key;
        e.value = value;
        e.flow = Some(Arc::clone(flow));
    }

    /// Releases the dead megaflows of the next `count` slots (going round):
    /// a dead megaflow's memory lives while an entry points at it, and a
    /// large cache would otherwise keep many after a flush. Returns how
    /// many were released.
    pub fn release_dead(&mut self, count: usize) -> usize {
        let len = self.entries.len();
        let mut released = 0;
        for _ in 0..count.min(len) {
            let e = &mut self.entries[self.cursor];
            if e.flow.as_ref().is_some_and(|f| f.is_dead()) {
                e.flow = None;
                released += 1;
            }
            self.cursor = (self.cursor + 1) & (len - 1);
        }
        released
    }

    /// Empties every slot (for example when the PMD's megaflows are flushed).
    pub fn clear(&mut self) {
        for e in self.entries.iter_mut() {
            e.flow = None;
            e.hash = 0;
            e.key = K::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{Field, FieldAccess, FlowKey, FlowMask};
    use crate::Classifier;

    fn key(port: u32) -> MiniKey {
        let mut k = FlowKey::default();
        k.set(Field::IN_PORT, port.into());
        k.set(Field::ETH_TYPE, 0x0800);
        k.to_mini()
    }

    #[test]
    fn sizes_must_be_powers_of_two() {
        assert_eq!(<MicroflowCache>::new(1000, 1).err(), Some(MicroflowError::Size(1000)));
        assert_eq!(<MicroflowCache>::new(1, 1).err(), Some(MicroflowError::Size(1)));
        assert_eq!(<MicroflowCache>::new(16, 1).map(|c| c.capacity()).ok(), Some(16));
    }

    #[test]
    fn hit_after_insert_and_dead_flows_are_misses() {
        let mut cls = Classifier::new();
        let mut mask = FlowMask::default();
        mask.exact(Field::IN_PORT);
        let k = key(1);
        let flow = cls.insert(&k, &mask, Arc::from(vec![]));
        let mut cache: MicroflowCache = MicroflowCache::new(16, 1).unwrap();
        let h = k.hash(0);
        assert!(cache.lookup(&k, h).is_none());
        cache.offer(&k, h, &flow, ());
        assert!(Arc::ptr_eq(cache.lookup(&k, h).unwrap().0, &flow));
        assert!(cache.lookup(&key(2), key(2).hash(0)).is_none());
        flow.kill();
        assert!(cache.lookup(&k, h).is_none());
        assert_eq!(cache.occupied(), 0);
        // The entry still holds the dead megaflow until released.
        assert_eq!(Arc::strong_count(&flow), 3);
        assert_eq!(cache.release_dead(8) + cache.release_dead(8), 1);
        assert_eq!(Arc::strong_count(&flow), 2);
    }

    #[test]
    fn insertion_probability_is_honoured() {
        let mut cls = Classifier::new();
        let mut mask = FlowMask::default();
        mask.exact(Field::IN_PORT);
        let mut never: MicroflowCache = MicroflowCache::new(1024, 0).unwrap();
        let mut sometimes: MicroflowCache = MicroflowCache::new(1024, 100).unwrap();
        for port in 0..10_000 {
            let k = key(port);
            let flow = cls.insert(&k, &mask, Arc::from(vec![]));
            never.offer(&k, k.hash(0), &flow, ());
            sometimes.offer(&k, k.hash(0), &flow, ());
        }
        assert_eq!(never.occupied(), 0);
        // About 100 insertions expected out of 10 000 offers.
        let n = sometimes.occupied();
        assert!((40..=160).contains(&n), "{n} entries");
    }

    #[test]
    fn colliding_keys_keep_both_candidates() {
        let mut cls = Classifier::new();
        let mut mask = FlowMask::default();
        mask.exact(Field::IN_PORT);
        let mut cache: MicroflowCache = MicroflowCache::new(2, 1).unwrap();
        let (k1, k2) = (key(1), key(2));
        let f1 = cls.insert(&k1, &mask, Arc::from(vec![]));
        let f2 = cls.insert(&k2, &mask, Arc::from(vec![]));
        // Same hash for both: two candidate slots hold both.
        cache.insert(&k1, 0b10, &f1, ());
        cache.insert(&k2, 0b10, &f2, ());
        assert!(Arc::ptr_eq(cache.lookup(&k1, 0b10).unwrap().0, &f1));
        assert!(Arc::ptr_eq(cache.lookup(&k2, 0b10).unwrap().0, &f2));
    }
}
