//! The partition index of the classifier (see the module docs above):
//! which subtables may hold a key, by the value of the fields every
//! slotted subtable matches, and how the partition's fields are chosen.

#![allow(clippy::wildcard_imports)]

use super::*;

/// The partition index (module docs).
pub(super) struct Partition {
    /// A subtable without a slot wants a rebuild.
    pub(super) dirty: bool,
    /// The partition mask, within what every slotted subtable matches on;
    /// `None`: no partition, every subtable is probed.
    pub(super) mask: Option<Mask>,
    /// `mask`'s words' positions in gathered keys.
    pub(super) pos: [u8; KEY_WORDS],
    /// Partition value hash → slots of the subtables holding it.
    pub(super) cells: HashTable<(u32, u64)>,
    /// Slots in use.
    pub(super) used: u64,
    /// More values than this mark the partition dirty: its mask was chosen
    /// on too few megaflows.
    pub(super) values_limit: usize,
}

impl Default for Partition {
    fn default() -> Self {
        Partition { dirty: false, mask: None, pos: [0; KEY_WORDS], cells: HashTable::new(), used: 0, values_limit: 0 }
    }
}

impl Partition {
    /// Whether lookups use the partition: it has a mask.
    pub(super) fn active(&self) -> bool {
        self.mask.is_some()
    }

    /// Slots of the subtables that may hold a key with partition hash `hash`.
    #[inline(always)]
    pub(super) fn candidates(&self, hash: u32) -> u64 {
        self.cells.find(spread(hash), |c| c.0 == hash).map_or(0, |c| c.1)
    }

    /// Counts one more megaflow of `hash` in `st`.
    pub(super) fn count(&mut self, st: &mut Subtable, hash: u32) {
        if st.slot == UNSLOTTED {
            return;
        }
        match st.counts.find_mut(spread(hash), |c| c.0 == hash) {
            Some(c) => c.1 += 1,
            None => {
                st.counts.insert_unique(spread(hash), (hash, 1), |c| spread(c.0));
                let bit = 1u64 << (st.slot & 63);
                match self.cells.find_mut(spread(hash), |c| c.0 == hash) {
                    Some(c) => c.1 |= bit,
                    None => {
                        self.cells.insert_unique(spread(hash), (hash, bit), |c| spread(c.0));
                        self.dirty |= self.cells.len() > self.values_limit;
                    }
                }
            }
        }
    }

    /// Counts one megaflow of `hash` in `st` fewer.
    pub(super) fn uncount(&mut self, st: &mut Subtable, hash: u32) {
        if st.slot == UNSLOTTED {
            return;
        }
        let Ok(mut entry) = st.counts.find_entry(spread(hash), |c| c.0 == hash) else {
            return;
        };
        entry.get_mut().1 -= 1;
        if entry.get().1 > 0 {
            return;
        }
        entry.remove();
        if let Ok(mut cell) = self.cells.find_entry(spread(hash), |c| c.0 == hash) {
            cell.get_mut().1 &= !(1u64 << (st.slot & 63));
            if cell.get().1 == 0 {
                cell.remove();
            }
        }
    }

    /// The partition hash of a megaflow of `st`, from its masked words.
    pub(super) fn hash_of(&self, st: &Subtable, masked: &[u64; KEY_WORDS]) -> u32 {
        self.hash_of_packed(&st.mask, masked)
    }

    /// The partition hash of words `masked` packed under `own` (which
    /// covers the partition mask).
    pub(super) fn hash_of_packed(&self, own: &Mask, masked: &[u64; KEY_WORDS]) -> u32 {
        let Some(mask) = &self.mask else { return 0 };
        let mut h = PARTITION_BASIS;
        let mut m = mask.map;
        let mut j = 0;
        while m != 0 {
            let i = m.trailing_zeros();
            let rank = (own.map & ((1u64 << i) - 1)).count_ones() as usize;
            h = crc32c_u64(h, masked[rank.min(KEY_WORDS - 1)] & mask.values[j.min(KEY_WORDS - 1)]);
            j += 1;
            m &= m - 1;
        }
        h
    }
}

/// The partition mask is chosen so that it has at most about this many
/// values (its table stays in cache).
pub(super) const PARTITION_VALUES: usize = 1024;

/// Megaflows sampled to choose the partition mask.
pub(super) const PARTITION_SAMPLE: usize = 4096;

/// The partition mask for `subtables`, whose masks all cover `common`: the
/// fields of `common` taken in order of how few values they have in a
/// sample of the megaflows, as long as their values together stay at most
/// [`PARTITION_VALUES`]. A field with many values (an address every
/// megaflow matches exactly) would make the partition table as large and
/// as slow to read as the subtables themselves.
pub(super) fn partition_mask(subtables: &[Subtable], common: &FlowMask) -> FlowMask {
    let per = PARTITION_SAMPLE.div_ceil(subtables.len().max(1));
    let sample: Vec<crate::key::FlowKey> = subtables.iter().flat_map(|st| st.table.iter().take(per)).map(|s| s.flow.key()).collect();
    let distinct = |mask: &FlowMask| -> usize {
        let mut seen = std::collections::HashSet::new();
        for key in &sample {
            seen.insert(key.masked(mask).words);
            if seen.len() > PARTITION_VALUES {
                break;
            }
        }
        seen.len()
    };
    let mut fields: Vec<(usize, FlowMask)> = Field::ALL
        .iter()
        .filter_map(|&f| {
            let bits = common.get(f);
            (bits != 0).then(|| {
                let mut m = FlowMask::default();
                m.set(f, bits);
                (distinct(&m), m)
            })
        })
        .collect();
    fields.sort_by_key(|f| f.0);
    let mut chosen = FlowMask::default();
    for (_, m) in fields {
        let mut trial = chosen;
        trial.union(&m);
        if distinct(&trial) <= PARTITION_VALUES {
            chosen = trial;
        }
    }
    chosen
}
