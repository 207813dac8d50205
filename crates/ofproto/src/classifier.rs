//! The OpenFlow classifier: which rule of a table a packet's fields hit,
//! and which bits of the packet that answer depended on — the wildcards a
//! megaflow may keep (OVS's `lib/classifier.c`, simplified).
//!
//! Rules are grouped by mask into subtables (tuple space search), visited
//! in decreasing order of their highest priority, and the search stops as
//! soon as no remaining subtable can beat the best hit. Each subtable
//! checks its mask in stages — metadata, L2, L3, L4, as OVS orders them —
//! and a packet that fails a stage has only the stages tried so far
//! examined: with a rule on `ip,nw_dst=10.1.0.1`, a packet of another
//! address has its Ethernet type and destination address examined, not
//! its transport ports. Prefix tracking (tries over IP addresses) is not
//! written yet: address masks are examined whole.
//!
//! Packets are given in the storage layout of [`Match`]: the `flow` bytes
//! with every field the packet has filled in. Rules matching tunnel
//! metadata (`tun_md`) are not indexed: they are checked one by one after
//! the search, and a lookup that meets one examines everything (correct,
//! not minimal).

use std::cmp::Reverse;
use std::sync::Arc;

use crate::flowmatch::{slot, Match, FLOW_LEN};

/// The stages as byte ranges of the storage: the pipeline's metadata
/// (recirculation, conjunction, in_port, metadata, tunnel, marks,
/// connection tracking, registers), then L2, L3 and L4.
fn stages() -> [std::ops::Range<usize>; 4] {
    let span = |a: crate::flowmatch::Slot, b: crate::flowmatch::Slot| a.range().start..b.range().end;
    [
        span(slot::RECIRC_ID, slot::REGS),
        span(slot::DL_SRC, slot::MPLS_LSE),
        span(slot::NW_SRC, slot::NW_FRAG),
        span(slot::ARP_SHA, slot::ND_TARGET),
    ]
}

/// A packet's fields, in [`Match`]'s storage layout.
pub type Flow = [u8; FLOW_LEN];

/// The bits a lookup examined, in the same layout (1: examined).
pub type Wildcards = [u8; FLOW_LEN];

/// A rule's entry: priority and the caller's id (ties: the lowest id).
type Entry = (Reverse<u16>, u64);

/// Rules with one mask. Its maps are persistent (`imbl`): a copy shares
/// everything with the original, so a snapshot of a classifier costs as
/// many pointer copies as it has subtables.
#[derive(Debug, Clone)]
struct Subtable {
    mask: Flow,
    /// The bytes the mask covers: keys are those bytes of a masked flow,
    /// in order, and stage `i`'s key is the first `stage_ends[i]` of them.
    positions: Vec<u16>,
    stage_ends: [usize; 4],
    /// For each stage, the masked prefixes (stages 0..=i) some rule has,
    /// with how many rules have each.
    stage_keys: [imbl::HashMap<Vec<u8>, u32>; 4],
    /// The rules by masked flow, best first.
    rules: imbl::HashMap<Vec<u8>, Vec<Entry>>,
    /// How many rules have each priority.
    priorities: imbl::OrdMap<u16, u32>,
    len: usize,
}

impl Subtable {
    fn new(mask: Flow) -> Subtable {
        let positions: Vec<u16> = (0..FLOW_LEN).filter(|&i| mask[i] != 0).map(|i| i as u16).collect();
        let stage_ends = stages().map(|r| positions.iter().filter(|&&p| usize::from(p) < r.end).count());
        Subtable {
            mask,
            positions,
            stage_ends,
            stage_keys: Default::default(),
            rules: imbl::HashMap::new(),
            priorities: imbl::OrdMap::new(),
            len: 0,
        }
    }

    fn max_priority(&self) -> u16 {
        self.priorities.get_max().map_or(0, |(p, _)| *p)
    }

    /// The bytes of `flow` this subtable's mask covers, masked.
    fn key(&self, flow: &Flow) -> Vec<u8> {
        self.positions.iter().map(|&i| flow[usize::from(i)] & self.mask[usize::from(i)]).collect()
    }
}

/// A classifier over a set of rules `(priority, match, id)`, updated in
/// place as rules come and go, and cheap to copy (a snapshot for the
/// packet path shares its maps with the original).
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    /// Highest maximum priority first.
    subtables: Vec<Arc<Subtable>>,
    /// Rules with tunnel-metadata matches, checked one by one.
    others: Vec<(u16, Match, u64)>,
}

/// Whether `m` matches the packet (ignoring tunnel metadata).
fn hits(m: &Match, flow: &Flow) -> bool {
    m.flow.iter().zip(&m.wc).zip(flow).all(|((v, w), f)| f & w == *v)
}

impl Classifier {
    /// Builds a classifier over `rules` (`(priority, match, id)`).
    pub fn new<'a>(rules: impl IntoIterator<Item = (u16, &'a Match, u64)>) -> Classifier {
        let mut c = Classifier::default();
        for (priority, m, id) in rules {
            c.insert(priority, m, id);
        }
        c
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.subtables.iter().map(|s| s.len).sum::<usize>() + self.others.len()
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a rule. Ids must be unique.
    pub fn insert(&mut self, priority: u16, m: &Match, id: u64) {
        if !m.tun_md.is_empty() {
            self.others.push((priority, m.clone(), id));
            return;
        }
        let at = match self.subtables.iter().position(|s| s.mask == m.wc) {
            Some(i) => i,
            None => {
                self.subtables.push(Arc::new(Subtable::new(m.wc)));
                self.subtables.len() - 1
            }
        };
        let st = Arc::make_mut(&mut self.subtables[at]);
        let key = st.key(&m.flow);
        for i in 0..4 {
            *st.stage_keys[i].entry(key[..st.stage_ends[i]].to_vec()).or_insert(0) += 1;
        }
        let list = st.rules.entry(key).or_default();
        list.push((Reverse(priority), id));
        list.sort();
        *st.priorities.entry(priority).or_insert(0) += 1;
        st.len += 1;
        self.sort();
    }

    /// Removes a rule added with these arguments; false if absent.
    pub fn remove(&mut self, priority: u16, m: &Match, id: u64) -> bool {
        if !m.tun_md.is_empty() {
            let before = self.others.len();
            self.others.retain(|(_, _, i)| *i != id);
            return self.others.len() != before;
        }
        let Some(at) = self.subtables.iter().position(|s| s.mask == m.wc) else {
            return false;
        };
        let st = Arc::make_mut(&mut self.subtables[at]);
        let key = st.key(&m.flow);
        let Some(list) = st.rules.get_mut(&key) else {
            return false;
        };
        let Some(pos) = list.iter().position(|e| *e == (Reverse(priority), id)) else {
            return false;
        };
        list.remove(pos);
        if list.is_empty() {
            st.rules.remove(&key);
        }
        for i in 0..4 {
            let k = &key[..st.stage_ends[i]];
            if let Some(n) = st.stage_keys[i].get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    st.stage_keys[i].remove(k);
                }
            }
        }
        if let Some(n) = st.priorities.get_mut(&priority) {
            *n -= 1;
            if *n == 0 {
                st.priorities.remove(&priority);
            }
        }
        st.len -= 1;
        if st.len == 0 {
            self.subtables.remove(at);
        }
        self.sort();
        true
    }

    fn sort(&mut self) {
        self.subtables.sort_by_key(|s| Reverse(s.max_priority()));
    }

    /// The highest-priority rule the packet hits, as `(priority, id)`, and
    /// the bits of the packet the answer depended on.
    pub fn lookup(&self, flow: &Flow) -> (Option<(u16, u64)>, Wildcards) {
        let mut wc = [0u8; FLOW_LEN];
        let mut best: Option<(u16, u64)> = None;
        let stages = stages();
        for st in &self.subtables {
            if best.is_some_and(|(p, _)| p >= st.max_priority()) {
                break;
            }
            let key = st.key(flow);
            let mut passed = true;
            for (i, r) in stages.iter().enumerate() {
                if !st.stage_keys[i].contains_key(&key[..st.stage_ends[i]]) {
                    // Only the stages tried were looked at.
                    for (w, m) in wc[..r.end].iter_mut().zip(&st.mask[..r.end]) {
                        *w |= m;
                    }
                    passed = false;
                    break;
                }
            }
            if !passed {
                continue;
            }
            for (w, m) in wc.iter_mut().zip(&st.mask) {
                *w |= m;
            }
            if let Some(&(Reverse(p), id)) = st.rules.get(&key).and_then(|l| l.first()) {
                if best.is_none_or(|(bp, _)| p > bp) {
                    best = Some((p, id));
                }
            }
        }
        for (p, m, id) in &self.others {
            if best.is_some_and(|(bp, _)| bp >= *p) {
                continue;
            }
            // Tunnel metadata is outside the packet layout: a rule that
            // needs it cannot be judged here, so everything counts as
            // examined and the rule is taken only if the rest hits (the
            // caller checks the metadata).
            wc = [0xff; FLOW_LEN];
            if hits(m, flow) {
                best = Some((*p, *id));
            }
        }
        (best, wc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowmatch::{field, Mff};
    use proptest::prelude::*;

    use Match as M;

    fn m(fields: &[(Mff, &[u8])]) -> Match {
        M::exact(fields)
    }

    fn packet(fields: &[(Mff, &[u8])]) -> Flow {
        M::exact(fields).flow
    }

    #[test]
    fn a_miss_on_the_address_does_not_examine_the_ports() {
        let rules = [
            (10, m(&[(Mff::EthType, &[8, 0]), (Mff::Ipv4Dst, &[10, 1, 0, 1])]), 1),
            (5, m(&[(Mff::EthType, &[8, 0]), (Mff::IpProto, &[6]), (Mff::TcpDst, &[0, 80])]), 2),
        ];
        let c = Classifier::new(rules.iter().map(|(p, m, id)| (*p, m, *id as u64)));
        let pkt = packet(&[(Mff::EthType, &[8, 0]), (Mff::Ipv4Dst, &[10, 1, 0, 2]), (Mff::IpProto, &[17]), (Mff::UdpDst, &[0, 53])]);
        let (hit, wc) = c.lookup(&pkt);
        assert_eq!(hit, None);
        let examined = |s: crate::flowmatch::Slot| wc[s.range()].iter().any(|&b| b != 0);
        assert!(examined(slot::DL_TYPE) && examined(slot::NW_DST));
        assert!(examined(slot::NW_PROTO), "the TCP rule's L3 stage");
        assert!(!examined(slot::TP_DST) && !examined(slot::TP_SRC) && !examined(slot::NW_SRC));
        let web = packet(&[(Mff::EthType, &[8, 0]), (Mff::Ipv4Dst, &[10, 9, 9, 9]), (Mff::IpProto, &[6]), (Mff::TcpDst, &[0, 80])]);
        assert_eq!(c.lookup(&web).0, Some((5, 2)));
        let dst = packet(&[(Mff::EthType, &[8, 0]), (Mff::Ipv4Dst, &[10, 1, 0, 1]), (Mff::IpProto, &[6]), (Mff::TcpDst, &[0, 80])]);
        let (hit, wc) = c.lookup(&dst);
        assert_eq!(hit, Some((10, 1)));
        assert!(wc[slot::TP_DST.range()].iter().all(|&b| b == 0), "the higher-priority hit ends the search");
    }

    /// Random rules over a few fields and random packets over the same.
    fn small_field() -> impl Strategy<Value = (Mff, Vec<u8>)> {
        prop_oneof![
            (0u8..3).prop_map(|v| (Mff::Reg(0), vec![0, 0, 0, v])),
            (0u8..2).prop_map(|v| (Mff::EthDst, vec![0, 0, 0, 0, 0, v])),
            (0u8..3).prop_map(|v| (Mff::Reg(1), vec![0, 0, 0, v])),
        ]
    }

    /// A rule as the strategies make it: priority and fields.
    type Spec = (u16, Vec<(Mff, Vec<u8>)>);

    /// Rules from their specs: each field set once.
    fn matches(rules: Vec<Spec>) -> Vec<(u16, Match)> {
        rules
            .into_iter()
            .map(|(p, fs)| {
                let mut mm = Match::catchall();
                for (f, v) in fs {
                    if mm.field_mask(field(f)) == 0 {
                        mm.set(field(f), &v, None);
                    }
                }
                (p, mm)
            })
            .collect()
    }

    proptest! {
        /// Rules inserted and removed one by one, with snapshots taken on
        /// the way, leave a classifier that answers as one built from the
        /// rules that remain, and leave the snapshots as they were.
        #[test]
        fn incremental_changes_match_a_rebuild(
            rules in prop::collection::vec((0u16..4, prop::collection::vec(small_field(), 0..3)), 1..12),
            gone in prop::collection::vec(any::<bool>(), 12),
            pkts in prop::collection::vec(prop::collection::vec(small_field(), 3), 1..8),
        ) {
            let rules = matches(rules);
            let mut c = Classifier::new(rules.iter().enumerate().map(|(i, (p, m))| (*p, m, i as u64)));
            let before = c.clone();
            for (i, (p, m)) in rules.iter().enumerate() {
                if gone[i] {
                    prop_assert!(c.remove(*p, m, i as u64));
                }
            }
            let kept = rules.iter().enumerate().filter(|(i, _)| !gone[*i]).map(|(i, (p, m))| (*p, m, i as u64));
            let rebuilt = Classifier::new(kept);
            let fresh = Classifier::new(rules.iter().enumerate().map(|(i, (p, m))| (*p, m, i as u64)));
            prop_assert_eq!(c.len(), rebuilt.len());
            for fs in &pkts {
                let flow = packet(&fs.iter().map(|(f, v)| (*f, v.as_slice())).collect::<Vec<_>>());
                // Among overlapping rules of one priority either may win
                // (as in OVS): compare priorities.
                let prio = |c: &Classifier| c.lookup(&flow).0.map(|(p, _)| p);
                prop_assert_eq!(prio(&c), prio(&rebuilt));
                prop_assert_eq!(prio(&before), prio(&fresh));
            }
        }

        /// The classifier answers as a priority scan does, and every packet
        /// that agrees with the looked-up one on the examined bits gets the
        /// same answer (the property that makes megaflows correct).
        #[test]
        fn same_answer_as_a_scan_and_wildcards_are_sound(
            rules in prop::collection::vec((0u16..4, prop::collection::vec(small_field(), 0..3)), 0..12),
            pkts in prop::collection::vec(prop::collection::vec(small_field(), 3), 1..16),
        ) {
            let rules = matches(rules);
            let c = Classifier::new(rules.iter().enumerate().map(|(i, (p, m))| (*p, m, i as u64)));
            let scan = |flow: &Flow| -> Option<u16> {
                rules.iter().filter(|(_, m)| hits(m, flow)).map(|(p, _)| *p).max()
            };
            let flows: Vec<Flow> = pkts.iter().map(|fs| packet(&fs.iter().map(|(f, v)| (*f, v.as_slice())).collect::<Vec<_>>())).collect();
            for flow in &flows {
                let (hit, wc) = c.lookup(flow);
                prop_assert_eq!(hit.map(|(p, _)| p), scan(flow));
                for other in &flows {
                    let agrees = flow.iter().zip(other).zip(&wc).all(|((a, b), w)| (a ^ b) & w == 0);
                    if agrees {
                        prop_assert_eq!(c.lookup(other).0.map(|(p, _)| p), hit.map(|(p, _)| p));
                    }
                }
            }
        }
    }
}
