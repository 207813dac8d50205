//! The classifier against a linear reference over random rule sets.

use super::*;
use crate::key::{word, Field, FieldAccess, FlowKey, KEY_WORDS};
use proptest::prelude::*;

/// Fields the random rules match on, with small value domains so that rules
/// overlap and packets hit them.
const FIELDS: [Field; 8] =
    [Field::IN_PORT, Field::ETH_TYPE, Field::VLAN0_TCI, Field::NW_SRC, Field::NW_DST, Field::NW_PROTO, Field::TP_SRC, Field::TP_DST];

/// Words every packet carries (present even when zero), as extraction does.
const PRESENT: [usize; 7] = [word::PORT_RECIRC, word::ETH_DST_TYPE, word::ETH_SRC, word::VLANS, word::NW_ADDRS, word::NW_MISC, word::TP];

fn value(field: Field, r: u32) -> u128 {
    match field {
        Field::ETH_TYPE => [0x0800, 0x86dd][(r % 2) as usize],
        Field::NW_PROTO => [6, 17][(r % 2) as usize],
        Field::NW_SRC | Field::NW_DST => u128::from(0x0a00_0000 | ((r % 8) << 8) | ((r >> 8) % 4)),
        _ => u128::from(r % 4),
    }
}

fn packet(r: &[u32; 8]) -> MiniKey {
    let mut k = FlowKey::default();
    for (f, &v) in FIELDS.iter().zip(r) {
        k.set(*f, value(*f, v));
    }
    let mut mini = MiniKey::default();
    for w in PRESENT {
        mini.push(w, k.words[w]);
    }
    mini
}

#[derive(Debug, Clone)]
struct Rule {
    priority: u16,
    key: FlowKey,
    mask: FlowMask,
}

fn rule(priority: u16, select: u32, r: &[u32; 8]) -> Rule {
    let mut key = FlowKey::default();
    let mut mask = FlowMask::default();
    for (i, (f, &v)) in FIELDS.iter().zip(r).enumerate() {
        if select & (1 << i) == 0 {
            continue;
        }
        let m = match *f {
            // Address prefixes of /8, /24 or /32.
            Field::NW_SRC | Field::NW_DST => [0xff00_0000u128, 0xffff_ff00, 0xffff_ffff][(select >> (8 + i)) as usize % 3],
            _ => f.max_value(),
        };
        key.set(*f, value(*f, v) & m);
        mask.set(*f, m);
    }
    Rule { priority, key, mask }
}

/// The linear reference: the highest-priority matching rule (ties go to
/// the earlier rule), and the mask that proves it: the union of the masks
/// of every rule at or above it, the ones that did not match included.
fn reference(rules: &[Rule], key: &FlowKey) -> (Option<usize>, FlowMask) {
    let mut order: Vec<usize> = (0..rules.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(rules[i].priority));
    let mut mask = FlowMask::default();
    for i in order {
        mask.union(&rules[i].mask);
        if key.masked(&rules[i].mask) == rules[i].key {
            return (Some(i), mask);
        }
    }
    (None, mask)
}

fn actions_for(winner: Option<usize>) -> Arc<[Action]> {
    match winner {
        Some(i) => Arc::from(vec![Action::Output(i as u32)]),
        None => Arc::from(vec![Action::Drop]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// Megaflows installed on misses (as the upcall path does) always give
    /// the reference's answer, single and batched, and no installed mask
    /// makes a megaflow match a packet whose answer differs.
    #[test]
    fn classifier_agrees_with_linear_reference(
        rules in prop::collection::vec((0u16..8, any::<u32>(), any::<[u32; 8]>()), 0..16),
        packets in prop::collection::vec(any::<[u32; 8]>(), 1..48),
        kill in any::<u64>(),
        partition_min in prop_oneof![Just(1), Just(2), Just(PARTITION_MIN), Just(usize::MAX)],
        repartition_now in 0usize..8,
    ) {
        let rules: Vec<Rule> = rules.iter().map(|(p, s, r)| rule(*p, *s, r)).collect();
        let keys: Vec<MiniKey> = packets.iter().map(packet).collect();
        let mut cls = Classifier::with_partition_min(partition_min);
        cls.repartition_now = repartition_now;
        for (n, key) in keys.iter().enumerate() {
            let (winner, mask) = reference(&rules, &key.expand());
            match cls.lookup(key) {
                Some(f) => prop_assert_eq!(f.actions(), &actions_for(winner)),
                None => {
                    cls.insert(key, &mask, actions_for(winner));
                }
            }
            // A deferred repartition now and then, as the PMD's ranking does.
            if n % 8 == 7 {
                cls.last_rank = 0;
                cls.rank(RANK_INTERVAL_MS);
            }
        }
        // Every installed megaflow is right for every packet it matches.
        for flow in cls.iter() {
            for key in &keys {
                if flow.matches(key) {
                    prop_assert_eq!(flow.actions(), &actions_for(reference(&rules, &key.expand()).0));
                }
            }
        }
        // Batch lookup agrees with single lookups, with some flows dead.
        for (i, flow) in cls.iter().enumerate() {
            if kill >> (i % 64) & 1 == 1 {
                flow.kill();
            }
        }
        for chunk in keys.chunks(BATCH) {
            let mut out = [None; BATCH];
            let found = cls.lookup_batch(chunk, u32::MAX, &mut out);
            for (i, key) in chunk.iter().enumerate() {
                let single = cls.lookup(key);
                prop_assert_eq!(found >> i & 1 == 1, single.is_some());
                prop_assert_eq!(out[i].map(Arc::as_ptr), single.map(Arc::as_ptr));
                prop_assert!(single.is_none_or(|f| !f.is_dead()));
            }
        }
        let dead = cls.iter().filter(|f| f.is_dead()).count();
        let before = cls.len();
        prop_assert_eq!(cls.remove_dead(), dead);
        prop_assert_eq!(cls.len(), before - dead);
        prop_assert!(cls.subtables().iter().all(|s| !s.is_empty()));
        // After removals (whole subtables among them) the partition still
        // leads every key to its megaflow: single and batched lookups
        // agree with the exhaustive search.
        let live: Vec<Arc<Megaflow>> = cls.iter().cloned().collect();
        for (i, flow) in live.iter().enumerate() {
            if kill >> ((i + 7) % 64) & 1 == 1 {
                prop_assert!(cls.remove(flow));
            }
        }
        for chunk in keys.chunks(BATCH) {
            let mut out = [None; BATCH];
            cls.lookup_batch(chunk, u32::MAX, &mut out);
            for (i, key) in chunk.iter().enumerate() {
                let exact = cls.lookup_exact(key).map(Arc::as_ptr);
                prop_assert_eq!(cls.lookup(key).map(Arc::as_ptr), exact);
                prop_assert_eq!(out[i].map(Arc::as_ptr), exact);
            }
        }
    }
}

fn exact(fields: &[Field]) -> FlowMask {
    let mut m = FlowMask::default();
    for f in fields {
        m.exact(*f);
    }
    m
}

#[test]
fn same_masked_key_returns_the_live_flow_and_replaces_a_dead_one() {
    let mut cls = Classifier::new();
    let mask = exact(&[Field::IN_PORT]);
    let a = packet(&[1, 0, 0, 0, 0, 0, 0, 0]);
    let b = packet(&[1, 1, 1, 1, 1, 1, 1, 1]);
    let f1 = cls.insert(&a, &mask, Arc::from(vec![Action::Output(1)]));
    let f2 = cls.insert(&b, &mask, Arc::from(vec![Action::Output(2)]));
    assert!(Arc::ptr_eq(&f1, &f2));
    assert_eq!(cls.len(), 1);
    f1.kill();
    assert!(cls.lookup(&b).is_none());
    let f3 = cls.insert(&b, &mask, Arc::from(vec![Action::Output(3)]));
    assert!(!Arc::ptr_eq(&f1, &f3));
    assert_eq!(cls.len(), 1);
    assert_eq!(cls.lookup(&a).map(|f| f.actions().clone()), Some(Arc::from(vec![Action::Output(3)])));
}

#[test]
fn remove_unlinks_and_drops_empty_subtables() {
    let mut cls = Classifier::new();
    let f1 = cls.insert(&packet(&[1; 8]), &exact(&[Field::IN_PORT]), Arc::from(vec![]));
    let f2 = cls.insert(&packet(&[2; 8]), &exact(&[Field::IN_PORT, Field::TP_DST]), Arc::from(vec![]));
    assert_eq!(cls.subtables().len(), 2);
    assert!(cls.remove(&f1));
    assert!(!cls.remove(&f1));
    assert_eq!(cls.subtables().len(), 1);
    assert_eq!(cls.len(), 1);
    let mut other = Classifier::new();
    assert!(!other.remove(&f2));
}

#[test]
fn ranking_puts_the_busiest_subtable_first() {
    let mut cls = Classifier::new();
    let k = packet(&[1; 8]);
    let cold = exact(&[Field::IN_PORT, Field::TP_SRC]);
    let hot = exact(&[Field::IN_PORT, Field::TP_DST]);
    cls.insert(&packet(&[2; 8]), &cold, Arc::from(vec![]));
    cls.insert(&k, &hot, Arc::from(vec![]));
    assert_eq!(cls.subtables()[0].mask(), &cold);
    for _ in 0..10 {
        assert!(cls.lookup(&k).is_some());
    }
    assert!(!cls.rank(RANK_INTERVAL_MS - 1));
    assert!(cls.rank(RANK_INTERVAL_MS));
    assert_eq!(cls.subtables()[0].mask(), &hot);
}

#[test]
fn megaflow_reports_its_masked_key() {
    let mut cls = Classifier::new();
    let k = packet(&[3, 1, 2, 5, 6, 1, 2, 3]);
    let mask = exact(&[Field::NW_DST, Field::TP_DST]);
    let f = cls.insert(&k, &mask, Arc::from(vec![Action::Output(4)]));
    assert_eq!(f.key(), k.expand().masked(&mask));
    assert_eq!(f.mask(), &mask);
    assert!(format!("{f:?}").contains("nw_dst="));
    assert!(f.key().words.iter().zip(mask.words.iter()).all(|(k, m)| k & !m == 0));
    let _ = KEY_WORDS;
}
