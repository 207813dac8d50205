//! The megaflow classifier: tuple-space search, as OVS's `dpcls`.
//!
//! # Structure
//!
//! Megaflows with the same mask live in one [`Subtable`]: a
//! `hashbrown::HashTable` keyed by the CRC32-C of the masked key words.
//! A lookup visits subtables in rank order, hashing the packet's key under
//! each subtable's mask, until one holds a live megaflow equal to the
//! masked key. Megaflows never overlap (the upcall path installs a
//! megaflow only for a packet that missed), so the first hit is the
//! answer; the order only decides how fast it is found. Subtables are
//! ranked by hits and re-sorted at most once per [`RANK_INTERVAL_MS`].
//!
//! # Batches, and why a hit is verified last
//!
//! Lookups are batched (up to [`BATCH`] keys). Each key's words that any
//! mask uses are gathered once per batch. Each subtable then hashes every
//! pending key and probes its table, comparing only the 32-bit hash stored
//! in the table slot beside the megaflow pointer; it does not follow the
//! pointer, only prefetches its first cache line. Only after all
//! subtables has every hit its megaflow read: masked key compared and dead
//! flag checked. With a million megaflows those reads miss the caches;
//! prefetched early and read last they overlap, where reading each
//! megaflow inside its probe put one full memory latency (and a
//! mispredicted branch waiting on it) per packet on the critical path.
//! Keys that the partition (below) sends to a single subtable are hashed
//! first and then probed back to back, so that their table misses overlap
//! too. A megaflow is aligned to a cache line, and what verification reads
//! (dead flag, hash, the first masked words) is in its first line. A hit
//! that fails verification (a 32-bit
//! hash collision, or a megaflow killed since) is looked up again the
//! slow, exact way. Each subtable also keeps a small Bloom filter
//! (`Filter`) so that a key it does not hold rarely touches its table.
//! The crate README has the measured effect of each step.
//!
//! # Partitions: probing only the subtables that can match
//!
//! With many subtables most of a lookup's time is spent probing subtables
//! that cannot hold the key. OVS's userspace datapath avoids part of that
//! by keeping one classifier per input port. ferrovs generalises the idea.
//! Of the fields that every subtable's mask matches on (in practice
//! `in_port`, `eth_type`, often an address prefix or the recirculation
//! id), those whose values are few form the *partition mask*
//! (`partition_mask`: at most `PARTITION_VALUES` values in a sample of
//! the megaflows, so that the index stays in cache; an address every
//! megaflow matches exactly would make it as large as the subtables). A
//! small table maps each value a megaflow has under that mask to the set
//! of subtables holding such a megaflow. A lookup hashes the key once
//! under the partition mask and then probes only those subtables, and a
//! key with a single candidate skips that subtable's Bloom filter.
//!
//! The set is a 64-bit map of subtable *slots*; it may hold stale bits (a
//! superset is still correct), never miss one, because each slotted
//! subtable counts its megaflows per partition value and a bit is cleared
//! only when that count reaches zero. A subtable without a slot (the
//! 65th, or one whose mask does not cover the partition mask) is always
//! probed.
//!
//! The partition is rebuilt from scratch when a subtable arrives that
//! does not fit it, or when it holds many more values than when its mask
//! was chosen (the sample was too small). A rebuild reads every megaflow —
//! about 140 ns each, 144 ms for a million — a stall a PMD thread must not
//! take, so it happens only while the classifier holds at most
//! `REPARTITION_NOW` megaflows (about 2 ms); past that the partition
//! stays as it is and a subtable that does not fit is always probed. The
//! partition is used from [`PARTITION_MIN`] subtables on: below that,
//! hashing the key once more costs about what it saves.
//!
//! # Threads: one classifier per PMD thread
//!
//! DESIGN.md asks for readers that never lock. Two designs give that:
//! publishing immutable snapshots (`arc-swap`) that the writer replaces, or
//! giving each PMD thread its own classifier, which only that thread
//! touches, fed by its own upcalls and by commands the control thread
//! queues. ferrovs takes the second, as OVS's userspace datapath does
//! (megaflows are per PMD there too), because:
//!
//! - the writer of almost every change is the PMD thread itself: a miss is
//!   translated and installed on the PMD (DESIGN.md, step 5). With
//!   snapshots, each install would copy a subtable (or need a persistent
//!   map); `cargo bench -p dataplane --bench flow -- install` measures the
//!   copy-on-write install of one megaflow into a 64 k-entry subtable at
//!   1.68 ms, against 146 ns in place, and a flood of new flows is exactly
//!   when installs must be cheap;
//! - lookups need no atomic load, no reference count and no epoch: the
//!   classifier is `Send` but not `Sync`, so the type system says who may
//!   touch it;
//! - what the control thread must do at once — make a deleted megaflow
//!   stop matching before a barrier reply — is the megaflow's atomic dead
//!   flag ([`Megaflow::kill`]); lookups skip dead megaflows and the PMD
//!   unlinks them when it drains its command queue between bursts.
//!
//! The cost is that a flow seen by two PMD threads is installed twice, as
//! in OVS.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use hashbrown::HashTable;

mod partition;
use partition::*;

use crate::actions::Action;
use crate::hash::{crc32c_u64, spread};
use crate::key::{Field, FieldAccess, FlowMask, MiniKey, KEY_WORDS};
use crate::megaflow::{key_word, Credits, Mask, Megaflow};

/// The most keys one batch lookup takes.
pub const BATCH: usize = 32;

/// Subtables are re-ranked at most this often.
pub const RANK_INTERVAL_MS: u64 = 1000;

/// Partitions are used from this many subtables on (module docs).
pub const PARTITION_MIN: usize = 4;

/// The partition is rebuilt at once (rather than at the next ranking) while
/// the classifier holds at most this many megaflows.
const REPARTITION_NOW: usize = 16 * 1024;

/// The `slot` of a subtable outside the partition: always probed.
const UNSLOTTED: u8 = u8::MAX;

/// Hash basis of partition values.
const PARTITION_BASIS: u32 = 0x5bd1_e995;

/// A table slot: the masked key's hash, beside the megaflow, so that a
/// probe compares hashes without reading the megaflow; and the hash of the
/// megaflow's value under the partition mask (in what was padding).
struct Slot {
    hash: u32,
    part: u32,
    flow: Arc<Megaflow>,
}

/// Megaflows sharing one mask.
pub struct Subtable {
    mask: Arc<Mask>,
    /// Hash basis: differs per subtable so one key's hashes under two masks
    /// are unrelated.
    basis: u32,
    /// For each of the mask's words, its position in the keys as
    /// [`gather`] lays them out for the current union of masks.
    pos: [u8; KEY_WORDS],
    table: HashTable<Slot>,
    filter: Filter,
    hits: Cell<u64>,
    /// This subtable's bit in [`Partition`] cells, or [`UNSLOTTED`].
    slot: u8,
    /// Megaflows per partition value (by hash), while slotted.
    counts: HashTable<(u32, u32)>,
}

/// A blocked Bloom filter over a subtable's masked-key hashes: sixteen
/// bits per megaflow, two bits per key within one 64-bit word. A probe
/// for a key the subtable does not hold reads one word (the filters of all
/// subtables together are small enough to stay in cache) instead of the
/// hash table's control bytes and slots, and goes on to the table about
/// one time in fifty.
///
/// Bits are only set; removals leave stale bits (false positives, never
/// false negatives) until the filter is rebuilt, when it grows or when
/// stale bits reach half the megaflows.
#[derive(Default)]
struct Filter {
    words: Vec<u64>,
    /// Number of words minus one (a power of two minus one).
    mask: u32,
    stale: usize,
}

impl Filter {
    /// The word index and the two bits of `hash`. The bits come from the
    /// low twelve bits of the hash, the word from the bits above them.
    #[inline(always)]
    fn locate(&self, hash: u32) -> (usize, u64) {
        let bits = (1u64 << (hash & 63)) | (1u64 << ((hash >> 6) & 63));
        (((hash >> 12) & self.mask) as usize, bits)
    }

    #[inline(always)]
    fn may_contain(&self, hash: u32) -> bool {
        let (w, bits) = self.locate(hash);
        self.words.get(w).is_some_and(|word| word & bits == bits)
    }

    fn add(&mut self, hash: u32) {
        let (w, bits) = self.locate(hash);
        if let Some(word) = self.words.get_mut(w) {
            *word |= bits;
        }
    }

    /// Rebuilds for `table` if it outgrew the filter or stale bits piled up.
    fn refresh(&mut self, table: &HashTable<Slot>) {
        let words = (table.len() * 16 / 64).next_power_of_two().max(8);
        if words <= self.words.len() && self.stale <= table.len() / 2 {
            return;
        }
        self.words.clear();
        self.words.resize(words, 0);
        self.mask = (words - 1) as u32;
        self.stale = 0;
        for s in table.iter() {
            self.add(s.hash);
        }
    }
}

/// A key's words that some subtable's mask uses, packed in word order:
/// the union of the masks' maps (`GATHER` slots, indexed `& 63` so that no
/// bounds check is needed).
type Gathered = [u64; GATHER];
const GATHER: usize = 64;

/// Packs the words of `key` named by `map` into `out`.
#[inline(always)]
fn gather(key: &MiniKey, map: u64, out: &mut Gathered) {
    let mut m = map;
    let mut k = 0;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        out[k & (GATHER - 1)] = key_word(key, i);
        k += 1;
        m &= m - 1;
    }
}

impl std::fmt::Debug for Subtable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subtable").field("mask", &self.mask).field("megaflows", &self.table.len()).field("hits", &self.hits.get()).finish()
    }
}

/// The positions of `mask`'s words in keys gathered for the union map
/// `union` (which covers `mask`).
fn place(mask: &Mask, union: u64) -> [u8; KEY_WORDS] {
    let mut pos = [0; KEY_WORDS];
    let mut m = mask.map;
    let mut j = 0;
    while m != 0 {
        let i = m.trailing_zeros();
        pos[j % KEY_WORDS] = (union & ((1u64 << i) - 1)).count_ones() as u8;
        j += 1;
        m &= m - 1;
    }
    pos
}

/// Hash of a gathered key under `mask`, whose words are at `pos`.
#[inline(always)]
fn hash_gathered(mask: &Mask, pos: &[u8; KEY_WORDS], basis: u32, g: &Gathered) -> u32 {
    let n = usize::from(mask.len).min(KEY_WORDS);
    let mut h = basis;
    for (p, v) in pos[..n].iter().zip(&mask.values[..n]) {
        h = crc32c_u64(h, g[usize::from(*p) & (GATHER - 1)] & v);
    }
    h
}

impl Subtable {
    fn new(mask: Arc<Mask>, basis: u32) -> Self {
        Subtable {
            mask,
            basis,
            pos: [0; KEY_WORDS],
            table: HashTable::new(),
            filter: Filter::default(),
            hits: Cell::new(0),
            slot: UNSLOTTED,
            counts: HashTable::new(),
        }
    }

    /// Hash of a gathered key under this subtable's mask.
    #[inline(always)]
    fn hash(&self, g: &Gathered) -> u32 {
        hash_gathered(&self.mask, &self.pos, self.basis, g)
    }

    /// Whether the gathered key under this mask equals `masked`.
    #[inline(always)]
    fn matches(&self, g: &Gathered, masked: &[u64; KEY_WORDS]) -> bool {
        let n = usize::from(self.mask.len).min(KEY_WORDS);
        self.pos[..n].iter().zip(&self.mask.values[..n]).zip(&masked[..n]).all(|((p, v), m)| g[usize::from(*p) & (GATHER - 1)] & v == *m)
    }

    /// The megaflow whose masked key has hash `hash`, not yet verified.
    #[inline(always)]
    fn candidate(&self, hash: u32) -> Option<&Arc<Megaflow>> {
        self.table.find(spread(hash), |s| s.hash == hash).map(|s| &s.flow)
    }

    /// The live megaflow matching `key` exactly.
    fn find_exact(&self, key: &MiniKey) -> Option<&Arc<Megaflow>> {
        let hash = self.mask.hash_masked(key, self.basis);
        self.table.find(spread(hash), |s| s.hash == hash && !s.flow.is_dead() && s.flow.matches(key)).map(|s| &s.flow)
    }

    /// The subtable's mask.
    pub fn mask(&self) -> &FlowMask {
        self.mask.dense()
    }

    /// Number of megaflows.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the subtable is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// A per-PMD megaflow classifier (see the module docs).
pub struct Classifier {
    subtables: Vec<Subtable>,
    /// Union of the subtables' word maps.
    union: u64,
    /// Per-batch space for the gathered keys.
    scratch: RefCell<Vec<Gathered>>,
    next_basis: u32,
    flows: usize,
    last_rank: u64,
    part: Partition,
    /// Partitions are used from this many subtables on.
    partition_min: usize,
    /// Rebuild the partition at once up to this many megaflows.
    repartition_now: usize,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier").field("megaflows", &self.flows).field("subtables", &self.subtables).finish()
    }
}

impl Default for Classifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Classifier {
    /// An empty classifier.
    pub fn new() -> Self {
        Self::with_partition_min(PARTITION_MIN)
    }

    /// An empty classifier that partitions from `min` subtables on
    /// (`usize::MAX`: never); for tests and measurements.
    pub fn with_partition_min(min: usize) -> Self {
        Classifier {
            subtables: Vec::new(),
            union: 0,
            scratch: RefCell::default(),
            next_basis: 0,
            flows: 0,
            last_rank: 0,
            part: Partition::default(),
            partition_min: min,
            repartition_now: REPARTITION_NOW,
        }
    }

    /// Number of megaflows installed (dead ones not yet removed included).
    pub fn len(&self) -> usize {
        self.flows
    }

    /// Whether no megaflow is installed.
    pub fn is_empty(&self) -> bool {
        self.flows == 0
    }

    /// How deep packets must be extracted for lookups here: no mask uses
    /// a word past it.
    #[inline]
    pub fn depth(&self) -> crate::extract::Depth {
        crate::extract::Depth::covering(self.union)
    }

    /// The subtables in their current rank order.
    pub fn subtables(&self) -> &[Subtable] {
        &self.subtables
    }

    /// Every installed megaflow.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Megaflow>> {
        self.subtables.iter().flat_map(|s| s.table.iter().map(|slot| &slot.flow))
    }

    /// Looks up one key.
    #[inline]
    pub fn lookup(&self, key: &MiniKey) -> Option<&Arc<Megaflow>> {
        let mut g = [0u64; GATHER];
        gather(key, self.union, &mut g);
        let slots = self.candidate_slots(&g);
        for st in &self.subtables {
            if st.slot != UNSLOTTED && slots >> (st.slot & 63) & 1 == 0 {
                continue;
            }
            let hash = st.hash(&g);
            if !st.filter.may_contain(hash) {
                continue;
            }
            if let Some(f) = st.candidate(hash) {
                st.hits.set(st.hits.get() + 1);
                if !f.is_dead() && st.matches(&g, &f.masked) {
                    return Some(f);
                }
                return self.lookup_exact(key);
            }
        }
        None
    }

    /// The slots of the subtables a gathered key may match in: all of them
    /// without a partition.
    #[inline(always)]
    fn candidate_slots(&self, g: &Gathered) -> u64 {
        match &self.part.mask {
            Some(mask) => self.part.candidates(hash_gathered(mask, &self.part.pos, PARTITION_BASIS, g)),
            None => u64::MAX,
        }
    }

    /// The slow, exact search: every candidate read and verified.
    pub(crate) fn lookup_exact(&self, key: &MiniKey) -> Option<&Arc<Megaflow>> {
        self.subtables.iter().find_map(|st| st.find_exact(key))
    }

    /// Looks up the keys `keys[i]` for every bit `i` of `pending` (at most
    /// [`BATCH`] keys), writing hits to `out[i]`. Returns the bitmap of hits.
    #[inline]
    pub fn lookup_batch<'a>(&'a self, keys: &[MiniKey], pending: u32, out: &mut [Option<&'a Arc<Megaflow>>]) -> u32 {
        let n = keys.len().min(out.len()).min(BATCH);
        let mut pending = pending & if n == BATCH { u32::MAX } else { (1u32 << n) - 1 };
        let mut scratch = self.scratch.borrow_mut();
        scratch.resize(BATCH, [0; GATHER]);
        let g = &mut scratch[..BATCH];
        let mut p = pending;
        while p != 0 {
            let i = p.trailing_zeros() as usize;
            gather(&keys[i], self.union, &mut g[i]);
            p &= p - 1;
        }
        // The keys each slot may hold (all pending keys without a partition).
        // Keys with one candidate subtable skip its Bloom filter: the
        // partition already said the key is likely there.
        let mut by_slot = [pending; 64];
        let mut single = 0u32;
        let mut only = [0u8; BATCH];
        if self.part.active() {
            by_slot = [0; 64];
            let all_slotted = self.subtables.iter().all(|st| st.slot != UNSLOTTED);
            let mut p = pending;
            while p != 0 {
                let i = p.trailing_zeros() as usize;
                p &= p - 1;
                let mut slots = self.candidate_slots(&g[i]);
                single |= u32::from(all_slotted && slots.count_ones() == 1) << i;
                only[i] = slots.trailing_zeros() as u8;
                while slots != 0 {
                    by_slot[slots.trailing_zeros() as usize] |= 1 << i;
                    slots &= slots - 1;
                }
            }
        }
        let mut found = 0u32;
        let mut hashes = [0u32; BATCH];
        let mut which = [0u16; BATCH];
        if single != 0 {
            let mut index = [0u16; 64];
            for (k, st) in self.subtables.iter().enumerate() {
                index[usize::from(st.slot & 63)] = k as u16;
            }
            let len = self.subtables.len();
            let mut p = single;
            while p != 0 {
                let i = p.trailing_zeros() as usize;
                p &= p - 1;
                which[i] = index[usize::from(only[i] & 63)];
                hashes[i] = self.subtables[usize::from(which[i]) % len].hash(&g[i]);
            }
            let mut p = single;
            while p != 0 {
                let i = p.trailing_zeros() as usize;
                p &= p - 1;
                let st = &self.subtables[usize::from(which[i]) % len];
                if let Some(f) = st.candidate(hashes[i]) {
                    f.prefetch();
                    out[i] = Some(f);
                    found |= 1 << i;
                    st.hits.set(st.hits.get() + 1);
                }
            }
            pending &= !single;
        }
        for (k, st) in self.subtables.iter().enumerate() {
            if pending == 0 {
                break;
            }
            let mut p = if st.slot == UNSLOTTED { pending } else { pending & by_slot[usize::from(st.slot & 63)] };
            let mut maybe = 0u32;
            while p != 0 {
                let i = p.trailing_zeros() as usize;
                let hash = st.hash(&g[i]);
                hashes[i] = hash;
                maybe |= u32::from(st.filter.may_contain(hash)) << i;
                p &= p - 1;
            }
            let mut p = maybe;
            let mut hits = 0u64;
            while p != 0 {
                let i = p.trailing_zeros() as usize;
                p &= p - 1;
                if let Some(f) = st.candidate(hashes[i]) {
                    f.prefetch();
                    out[i] = Some(f);
                    which[i] = k as u16;
                    pending &= !(1 << i);
                    found |= 1 << i;
                    hits += 1;
                }
            }
            st.hits.set(st.hits.get() + hits);
        }
        // Verify every hit now that all are known: each megaflow's line was
        // prefetched when its slot was found, so the misses overlapped.
        let mut p = found;
        while p != 0 {
            let i = p.trailing_zeros() as usize;
            p &= p - 1;
            let st = &self.subtables[usize::from(which[i]) % self.subtables.len().max(1)];
            if out[i].is_some_and(|f| f.is_dead() || !st.matches(&g[i], &f.masked)) {
                out[i] = self.lookup_exact(&keys[i]);
                if out[i].is_none() {
                    found &= !(1 << i);
                }
            }
        }
        found
    }

    /// Installs a megaflow for `key` under `mask` with `actions`.
    ///
    /// If a live megaflow with the same masked key exists (two packets of
    /// one flow both missed), it is returned unchanged; a dead one is
    /// replaced.
    pub fn insert(&mut self, key: &MiniKey, mask: &FlowMask, actions: Arc<[Action]>) -> Arc<Megaflow> {
        self.insert_crediting(key, mask, actions, Arc::new([]))
    }

    /// [`insert`](Classifier::insert), with the rule counters the megaflow's
    /// traffic is credited to ([`Megaflow::push_credits`]).
    pub fn insert_crediting(&mut self, key: &MiniKey, mask: &FlowMask, actions: Arc<[Action]>, credits: Credits) -> Arc<Megaflow> {
        let index = match self.subtables.iter().position(|s| s.mask.dense() == mask) {
            Some(i) => i,
            None => {
                self.next_basis = self.next_basis.wrapping_add(0x9E37_79B9);
                self.subtables.push(Subtable::new(Arc::new(Mask::new(mask)), self.next_basis));
                self.replace_subtables();
                self.subtable_added();
                self.subtables.len() - 1
            }
        };
        let st = &mut self.subtables[index];
        let hash = st.mask.hash_masked(key, st.basis);
        let flow = Arc::new(Megaflow::new(key, Arc::clone(&st.mask), hash, actions, credits));
        let part = self.part.hash_of(st, &flow.masked);
        let entry = st.table.find_entry(spread(hash), |s| s.hash == hash && s.flow.masked == flow.masked);
        if let Ok(entry) = entry {
            if !entry.get().flow.is_dead() {
                return Arc::clone(&entry.get().flow);
            }
            let (old, _) = entry.remove();
            self.part.uncount(st, old.part);
            st.filter.stale += 1;
            self.flows -= 1;
        }
        self.part.count(st, part);
        st.table.insert_unique(spread(hash), Slot { hash, part, flow: Arc::clone(&flow) }, |s| spread(s.hash));
        st.filter.refresh(&st.table);
        st.filter.add(hash);
        self.flows += 1;
        self.maybe_repartition();
        flow
    }

    /// Unlinks `flow`; false if it is not installed here. An emptied
    /// subtable is dropped.
    pub fn remove(&mut self, flow: &Arc<Megaflow>) -> bool {
        let Some(index) = self.subtables.iter().position(|s| Arc::ptr_eq(&s.mask, &flow.mask)) else {
            return false;
        };
        let st = &mut self.subtables[index];
        let Ok(entry) = st.table.find_entry(spread(flow.hash), |s| Arc::ptr_eq(&s.flow, flow)) else {
            return false;
        };
        let (old, _) = entry.remove();
        self.part.uncount(st, old.part);
        st.filter.stale += 1;
        st.filter.refresh(&st.table);
        self.flows -= 1;
        if st.table.is_empty() {
            let gone = self.subtables.remove(index);
            self.subtable_removed(&gone);
            self.replace_subtables();
        }
        true
    }

    /// Unlinks every dead megaflow; returns how many.
    pub fn remove_dead(&mut self) -> usize {
        let before = self.flows;
        let part = &mut self.part;
        for st in &mut self.subtables {
            let len = st.table.len();
            let mut gone = Vec::new();
            st.table.retain(|s| {
                let dead = s.flow.is_dead();
                if dead {
                    gone.push(s.part);
                }
                !dead
            });
            for hash in gone {
                part.uncount(st, hash);
            }
            st.filter.stale += len - st.table.len();
            st.filter.refresh(&st.table);
        }
        let (kept, emptied): (Vec<Subtable>, Vec<Subtable>) =
            std::mem::take(&mut self.subtables).into_iter().partition(|s| !s.table.is_empty());
        self.subtables = kept;
        for st in &emptied {
            self.subtable_removed(st);
        }
        self.replace_subtables();
        self.flows = self.subtables.iter().map(Subtable::len).sum();
        before - self.flows
    }

    /// Recomputes the union of the masks and each subtable's positions in it.
    fn replace_subtables(&mut self) {
        self.union = self.subtables.iter().fold(0, |u, s| u | s.mask.map);
        for st in &mut self.subtables {
            st.pos = place(&st.mask, self.union);
        }
        if let Some(mask) = &self.part.mask {
            self.part.pos = place(mask, self.union);
        }
    }

    /// Fits the newest subtable into the partition: a free slot if its mask
    /// covers the partition mask, else a rebuild if the classifier is small
    /// enough; until then the subtable has no slot and is always probed.
    fn subtable_added(&mut self) {
        let n = self.subtables.len();
        let free = !self.part.used;
        let fits = free != 0 && self.part.mask.as_ref().is_some_and(|m| m.dense().is_subset_of(self.subtables[n - 1].mask()));
        if fits {
            let slot = free.trailing_zeros() as u8;
            self.part.used |= 1 << slot;
            self.subtables[n - 1].slot = slot;
        } else if n >= self.partition_min {
            self.part.dirty = true;
            self.maybe_repartition();
        }
    }

    /// Rebuilds a dirty partition while that is cheap (module docs).
    fn maybe_repartition(&mut self) {
        if self.part.dirty && self.flows <= self.repartition_now {
            self.repartition();
        }
    }

    /// Frees a removed subtable's slot; below [`PARTITION_MIN`] subtables
    /// the partition is dropped.
    fn subtable_removed(&mut self, st: &Subtable) {
        if st.slot != UNSLOTTED {
            self.part.used &= !(1u64 << (st.slot & 63));
        }
        if self.part.active() && self.subtables.len() < self.partition_min {
            self.repartition();
        }
    }

    /// Rebuilds the partition from scratch: slots for the first 64
    /// subtables in rank order, their common mask, every megaflow counted.
    fn repartition(&mut self) {
        let part = &mut self.part;
        part.cells.clear();
        part.used = 0;
        part.dirty = false;
        let slotted = self.subtables.len().min(64);
        let mut common = FlowMask { words: [u64::MAX; KEY_WORDS] };
        for st in &self.subtables[..slotted] {
            for (c, w) in common.words.iter_mut().zip(&st.mask().words) {
                *c &= w;
            }
        }
        let chosen = if self.subtables.len() >= self.partition_min {
            partition_mask(&self.subtables[..slotted], &common)
        } else {
            FlowMask::default()
        };
        part.mask = chosen.words.iter().any(|&w| w != 0).then(|| Mask::new(&chosen));
        if let Some(mask) = &part.mask {
            part.pos = place(mask, self.union);
        }
        for (i, st) in self.subtables.iter_mut().enumerate() {
            st.counts.clear();
            st.slot = UNSLOTTED;
            if !part.active() || i >= slotted {
                continue;
            }
            st.slot = i as u8;
            part.used |= 1 << i;
            let mut hashes = Vec::with_capacity(st.table.len());
            for s in st.table.iter_mut() {
                s.part = part.hash_of_packed(&st.mask, &s.flow.masked);
                hashes.push(s.part);
            }
            for h in hashes {
                part.count(st, h);
            }
        }
        part.values_limit = (part.cells.len() * 2).max(4 * PARTITION_VALUES);
        // A partition that sends keys to (nearly) every subtable only costs.
        let cells = part.cells.len().max(1);
        let spread: usize = part.cells.iter().map(|c| c.1.count_ones() as usize).sum();
        if part.active() && spread * 4 > cells * slotted * 3 {
            self.drop_partition();
        }
    }

    /// Drops a partition that does not narrow lookups.
    fn drop_partition(&mut self) {
        self.part = Partition::default();
        for st in &mut self.subtables {
            st.counts.clear();
            st.slot = UNSLOTTED;
        }
    }

    /// Re-sorts subtables by hits since the last ranking, if
    /// [`RANK_INTERVAL_MS`] passed since then (`now` in milliseconds).
    /// Returns whether it ranked.
    pub fn rank(&mut self, now: u64) -> bool {
        if now.saturating_sub(self.last_rank) < RANK_INTERVAL_MS {
            return false;
        }
        self.last_rank = now;
        self.maybe_repartition();
        self.subtables.sort_by_key(|s| std::cmp::Reverse(s.hits.get()));
        for s in &self.subtables {
            s.hits.set(0);
        }
        true
    }
}

#[cfg(test)]
mod tests;
