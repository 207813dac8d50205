//! The ids of the groups and meters that actions use (OVN's
//! `ovn_extend_table`): a group or meter is known by its text (the
//! `ovs-ofctl` description of its buckets or bands); the first flow that
//! needs it gets the lowest free id from 1, the flows after it that need
//! the same text share it, and the id is freed when no flow uses it any
//! more.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The highest id a table hands out (OVN's `MAX_EXT_TABLE_ID`).
pub const MAX_ID: u32 = 65535;

/// One table of ids: groups or meters.
#[derive(Debug, Default, Clone)]
pub struct IdTable {
    /// Each id's text and the flows (UUIDs) that use it.
    by_id: BTreeMap<u32, (String, BTreeSet<u128>)>,
    by_text: HashMap<String, u32>,
    /// The ids below `next` that are free.
    free: BTreeSet<u32>,
    /// The lowest id never handed out (0: none handed out yet, 1).
    next: u32,
    /// How many times a text found no free id (its action was left out
    /// of its flow); the agent reports it.
    pub refused: u64,
}

impl IdTable {
    /// The id of `text` for `flow`: its id if some flow uses it already,
    /// else the lowest free one; `None` when every id is taken.
    pub fn assign(&mut self, text: &str, flow: u128) -> Option<u32> {
        if let Some(&id) = self.by_text.get(text) {
            self.by_id.entry(id).or_default().1.insert(flow);
            return Some(id);
        }
        let id = match self.free.pop_first() {
            Some(id) => id,
            None => {
                let id = self.next.max(1);
                if id > MAX_ID {
                    self.refused += 1;
                    return None;
                }
                self.next = id + 1;
                id
            }
        };
        self.by_text.insert(text.to_owned(), id);
        self.by_id.insert(id, (text.to_owned(), BTreeSet::from([flow])));
        Some(id)
    }

    /// Forgets that `flow` uses anything; returns the ids no flow uses
    /// any more (now free).
    pub fn release(&mut self, flow: u128) -> Vec<u32> {
        let mut freed = Vec::new();
        self.by_id.retain(|&id, (text, flows)| {
            flows.remove(&flow);
            if flows.is_empty() {
                self.by_text.remove(text.as_str());
                self.free.insert(id);
                freed.push(id);
            }
            !flows.is_empty()
        });
        freed
    }

    /// The ids in use and their texts, lowest id first.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        self.by_id.iter().map(|(&id, (text, _))| (id, text.as_str()))
    }
}

/// The group and meter tables encoding fills in.
#[derive(Debug, Default, Clone)]
pub struct IdTables {
    /// Groups (`ct_lb`, `select`, `fwd_group`).
    pub groups: IdTable,
    /// Meters (`set_meter`, `log(meter=…)`).
    pub meters: IdTable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_lowest_free_and_shared_by_text() {
        let mut t = IdTable::default();
        assert_eq!(t.assign("a", 1), Some(1));
        assert_eq!(t.assign("b", 1), Some(2));
        assert_eq!(t.assign("a", 2), Some(1));
        assert_eq!(t.assign("c", 2), Some(3));
        // "b" is flow 1's alone; "a" is flow 2's too.
        assert_eq!(t.release(1), vec![2]);
        assert_eq!(t.assign("d", 3), Some(2));
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![(1, "a"), (2, "d"), (3, "c")]);
        assert_eq!(t.release(2), vec![1, 3]);
        assert_eq!(t.assign("a", 4), Some(1));
    }

    #[test]
    fn a_full_table_gives_no_id() {
        let mut t = IdTable::default();
        for i in 1..=MAX_ID {
            assert_eq!(t.assign(&i.to_string(), 0), Some(i));
        }
        assert_eq!(t.assign("one more", 0), None);
        assert_eq!(t.refused, 1);
        assert_eq!(t.assign("7", 1), Some(7));
    }
}
