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
//! its transport ports.
//!
//! Prefix tracking keeps megaflows wide where a stage fails on an address
//! or a port (OVS's tries and ports trie): each subtable keeps the sorted
//! values its rules have in `nw_src`, `nw_dst`, `ipv6_src`, `ipv6_dst`,
//! `tp_src` and `tp_dst` (where its mask on the field is a prefix). When a
//! packet's value is not among them, the longest prefix it shares with any
//! of them — found from its two neighbours in sorted order — plus one bit
//! is all the packet needs to show that no rule of the subtable can match:
//! with rules on ports 1024…11023, a packet from port 40000 has one bit of
//! its source port examined, not sixteen.
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
/// (conjunction, recirculation, in_port, metadata, registers, connection
/// tracking, marks, tunnel), then L2, L3 and L4.
fn stages() -> [std::ops::Range<usize>; 4] {
    let s = slot::STAGE_STARTS;
    [s[0]..s[1], s[1]..s[2], s[2]..s[3], s[3]..FLOW_LEN]
}

/// A packet's fields, in [`Match`]'s storage layout.
pub type Flow = [u8; FLOW_LEN];

/// The bits a lookup examined, in the same layout (1: examined).
pub type Wildcards = [u8; FLOW_LEN];

/// A rule's entry: priority and the caller's id (ties: the lowest id).
type Entry = (Reverse<u16>, u64);

/// The fields tracked by prefix.
const PREFIX_SLOTS: [crate::flowmatch::Slot; 6] = [slot::NW_SRC, slot::NW_DST, slot::IPV6_SRC, slot::IPV6_DST, slot::TP_SRC, slot::TP_DST];

/// The values one subtable's rules have in a field its mask covers with a
/// prefix, left-aligned in a `u128`, with how many rules have each.
#[derive(Debug, Clone)]
struct Prefixes {
    range: std::ops::Range<usize>,
    /// The stage the field is checked in.
    stage: usize,
    /// The mask's prefix length, in bits.
    len: u32,
    values: imbl::OrdMap<u128, u32>,
}

impl Prefixes {
    /// For a field whose mask in `mask` is a non-empty prefix.
    fn new(mask: &Flow, range: std::ops::Range<usize>) -> Option<Prefixes> {
        let m = left_aligned(&mask[range.clone()]);
        let len = m.leading_ones();
        let stage = stages().iter().position(|s| s.contains(&range.start))?;
        (len > 0 && m.count_ones() == len).then_some(Prefixes { range, stage, len, values: imbl::OrdMap::new() })
    }

    fn value(&self, flow: &Flow) -> u128 {
        left_aligned(&flow[self.range.clone()]) & prefix_mask(self.len)
    }

    /// How many leading bits of the field a packet needs examined to show
    /// that no rule's value can match it; `None` if some rule's value is
    /// the packet's.
    fn excluding_bits(&self, flow: &Flow) -> Option<u32> {
        let v = self.value(flow);
        if self.values.contains_key(&v) {
            return None;
        }
        let below = self.values.range(..v).next_back().map(|(n, _)| (n ^ v).leading_zeros());
        let above = self.values.range(v..).next().map(|(n, _)| (n ^ v).leading_zeros());
        let shared = below.into_iter().chain(above).max().unwrap_or(0);
        Some((shared + 1).min(self.len))
    }

    fn count(&mut self, flow: &Flow, delta: i32) {
        let v = self.value(flow);
        let n = self.values.get(&v).copied().unwrap_or(0).saturating_add_signed(delta);
        if n == 0 {
            self.values.remove(&v);
        } else {
            self.values.insert(v, n);
        }
    }
}

/// Big-endian bytes (at most 16) as a `u128` with the first byte on top.
fn left_aligned(bytes: &[u8]) -> u128 {
    let v = bytes.iter().fold(0u128, |v, &b| v << 8 | u128::from(b));
    v << (128 - 8 * bytes.len() as u32)
}

/// The top `len` bits of a `u128`.
fn prefix_mask(len: u32) -> u128 {
    u128::MAX.checked_shl(128 - len).unwrap_or(0)
}

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
    prefixes: Vec<Prefixes>,
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
            prefixes: PREFIX_SLOTS.iter().filter_map(|s| Prefixes::new(&mask, s.range())).collect(),
            rules: imbl::HashMap::new(),
            priorities: imbl::OrdMap::new(),
            len: 0,
        }
    }

    fn max_priority(&self) -> u16 {
        self.priorities.get_max().map_or(0, |(p, _)| *p)
    }

    /// The staged lookup of `flow`: its masked key if every stage passes
    /// (the whole mask then counts as looked at), else `None` with only
    /// what the failing stage needed added to `wc`.
    fn probe(&self, flow: &Flow, wc: &mut Wildcards) -> Option<Vec<u8>> {
        let key = self.key(flow);
        for i in 0..stages().len() {
            if !self.stage_keys[i].contains_key(&key[..self.stage_ends[i]]) {
                // Only the stages tried were looked at.
                self.fold_failure(flow, i, wc);
                return None;
            }
        }
        for (w, m) in wc.iter_mut().zip(&self.mask) {
            *w |= m;
        }
        Some(key)
    }

    /// The bytes of `flow` this subtable's mask covers, masked.
    fn key(&self, flow: &Flow) -> Vec<u8> {
        self.positions.iter().map(|&i| flow[usize::from(i)] & self.mask[usize::from(i)]).collect()
    }

    /// Adds the bits a packet that failed stage `stage` had examined to
    /// `wc`: the earlier stages and, where a tracked field of this stage
    /// rules out every rule, only that field's leading bits; otherwise the
    /// whole stage.
    fn fold_failure(&self, flow: &Flow, stage: usize, wc: &mut Wildcards) {
        let r = stages()[stage].clone();
        let narrowest = self
            .prefixes
            .iter()
            .filter(|p| p.stage == stage)
            .filter_map(|p| Some((p.excluding_bits(flow)?, p)))
            .min_by_key(|(bits, _)| *bits);
        let end = if narrowest.is_some() { r.start } else { r.end };
        for (w, m) in wc[..end].iter_mut().zip(&self.mask[..end]) {
            *w |= m;
        }
        if let Some((bits, p)) = narrowest {
            let examined = prefix_mask(bits).to_be_bytes();
            for (w, e) in wc[p.range.clone()].iter_mut().zip(examined) {
                *w |= e;
            }
        }
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
        for p in &mut st.prefixes {
            p.count(&m.flow, 1);
        }
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
        for p in &mut st.prefixes {
            p.count(&m.flow, -1);
        }
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
        self.lookup_below(flow, None)
    }

    /// [`Classifier::lookup`] among the rules of priority below `cap`
    /// (all rules when `None`).
    pub fn lookup_below(&self, flow: &Flow, cap: Option<u16>) -> (Option<(u16, u64)>, Wildcards) {
        let mut wc = [0u8; FLOW_LEN];
        let mut best: Option<(u16, u64)> = None;
        let below = |p: u16| cap.is_none_or(|c| p < c);
        for st in &self.subtables {
            if best.is_some_and(|(p, _)| p >= st.max_priority()) {
                break;
            }
            let Some(key) = st.probe(flow, &mut wc) else { continue };
            if let Some(&(Reverse(p), id)) = st.rules.get(&key).and_then(|l| l.iter().find(|(Reverse(p), _)| below(*p))) {
                if best.is_none_or(|(bp, _)| p > bp) {
                    best = Some((p, id));
                }
            }
        }
        for (p, m, id) in &self.others {
            if best.is_some_and(|(bp, _)| bp >= *p) || !below(*p) {
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

    /// Every rule of exactly `priority` the packet hits; the bits looked at
    /// are added to `wc`.
    pub fn hits_at(&self, flow: &Flow, priority: u16, wc: &mut Wildcards) -> Vec<u64> {
        let mut ids = Vec::new();
        for st in &self.subtables {
            if st.max_priority() < priority {
                break;
            }
            let Some(key) = st.probe(flow, wc) else { continue };
            if let Some(list) = st.rules.get(&key) {
                ids.extend(list.iter().filter(|(Reverse(p), _)| *p == priority).map(|(_, id)| *id));
            }
        }
        for (p, m, id) in &self.others {
            if *p == priority {
                *wc = [0xff; FLOW_LEN];
                if hits(m, flow) {
                    ids.push(*id);
                }
            }
        }
        ids
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

    #[test]
    fn a_port_no_rule_has_is_examined_only_as_far_as_it_differs() {
        let rules: Vec<Match> =
            (1024u16..1100).map(|p| m(&[(Mff::EthType, &[8, 0]), (Mff::IpProto, &[17]), (Mff::UdpSrc, &p.to_be_bytes())])).collect();
        let c = Classifier::new(rules.iter().enumerate().map(|(i, m)| (10, m, i as u64)));
        let pkt = |port: u16| {
            packet(&[(Mff::EthType, &[8, 0]), (Mff::IpProto, &[17]), (Mff::UdpSrc, &port.to_be_bytes()), (Mff::Ipv4Src, &[10, 0, 0, 1])])
        };
        let (hit, wc) = c.lookup(&pkt(40000));
        assert_eq!(hit, None);
        assert_eq!(wc[slot::TP_SRC.range()], [0x80, 0], "one bit tells 40000 from 1024…1099");
        assert_eq!(wc[slot::NW_PROTO.range()], [0xff], "the earlier stages stay examined");
        let (_, wc) = c.lookup(&pkt(1100));
        // 1100 = 0x044c, 1099 = 0x044b: they share 13 bits.
        assert_eq!(wc[slot::TP_SRC.range()], [0xff, 0xfc]);
        let (hit, wc) = c.lookup(&pkt(1050));
        assert_eq!(hit, Some((10, 26)));
        assert_eq!(wc[slot::TP_SRC.range()], [0xff, 0xff]);
    }

    #[test]
    fn an_address_prefix_is_tracked_by_its_length() {
        let mut r = Match::catchall();
        r.set(field(Mff::EthType), &[8, 0], None);
        r.set(field(Mff::Ipv4Dst), &[10, 1, 0, 0], Some(&[255, 255, 0, 0]));
        let c = Classifier::new([(5, &r, 1)]);
        let (hit, wc) = c.lookup(&packet(&[(Mff::EthType, &[8, 0]), (Mff::Ipv4Dst, &[192, 168, 0, 1])]));
        assert_eq!(hit, None);
        assert_eq!(wc[slot::NW_DST.range()], [0x80, 0, 0, 0]);
        let (_, wc) = c.lookup(&packet(&[(Mff::EthType, &[8, 0]), (Mff::Ipv4Dst, &[10, 3, 0, 1])]));
        assert_eq!(wc[slot::NW_DST.range()], [0xff, 0xfe, 0, 0], "10.1/16 and 10.3 share 14 bits");
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

    /// Rules on addresses (as prefixes) and ports, and packets near them.
    fn prefix_field() -> impl Strategy<Value = (Mff, Vec<u8>, Option<Vec<u8>>)> {
        prop_oneof![
            (0u8..16, 28u32..=32).prop_map(|(v, len)| (
                Mff::Ipv4Dst,
                vec![10, 1, 0, v],
                Some((u32::MAX << (32 - len)).to_be_bytes().to_vec())
            )),
            (0u8..16, 0u8..2).prop_map(|(v, hi)| (Mff::Ipv4Src, vec![10 + hi, 0, 0, v], None)),
            (0u16..16).prop_map(|v| (Mff::TcpSrc, (1000 + v).to_be_bytes().to_vec(), None)),
            (0u16..4).prop_map(|v| (Mff::TcpDst, (80 * v).to_be_bytes().to_vec(), Some(vec![0xff, 0xf0]))),
            (0u8..2).prop_map(|v| (Mff::IpProto, vec![6 + v], None)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// With prefix tracking, a packet that differs from a looked-up one
        /// only in bits the lookup did not examine gets the same answer.
        #[test]
        fn prefix_tracked_wildcards_are_sound(
            rules in prop::collection::vec((0u16..4, prop::collection::vec(prefix_field(), 1..4)), 1..16),
            pkts in prop::collection::vec(prop::collection::vec(prefix_field(), 5), 1..8),
            noise in prop::collection::vec(prop::collection::vec(any::<u8>(), FLOW_LEN), 8),
        ) {
            let rules: Vec<(u16, Match)> = rules.into_iter().map(|(p, fs)| {
                let mut mm = Match::catchall();
                mm.set(field(Mff::EthType), &[8, 0], None);
                for (f, v, mask) in fs {
                    if mm.field_mask(field(f)) == 0 {
                        mm.set(field(f), &v, mask.as_deref());
                    }
                }
                (p, mm)
            }).collect();
            let c = Classifier::new(rules.iter().enumerate().map(|(i, (p, m))| (*p, m, i as u64)));
            let scan = |flow: &Flow| rules.iter().filter(|(_, m)| hits(m, flow)).map(|(p, _)| *p).max();
            for fs in &pkts {
                let mut fields: Vec<(Mff, &[u8])> = vec![(Mff::EthType, &[8, 0])];
                fields.extend(fs.iter().map(|(f, v, _)| (*f, v.as_slice())));
                let flow = packet(&fields);
                let (hit, wc) = c.lookup(&flow);
                prop_assert_eq!(hit.map(|(p, _)| p), scan(&flow));
                for n in &noise {
                    let mut other = flow;
                    for ((o, n), w) in other.iter_mut().zip(n).zip(&wc) {
                        *o ^= n & !w;
                    }
                    prop_assert_eq!(scan(&other), hit.map(|(p, _)| p), "a change outside the examined bits changed the answer");
                }
            }
        }
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
