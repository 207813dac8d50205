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

use std::collections::HashMap;

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

/// Rules with one mask.
#[derive(Debug, Clone)]
struct Subtable {
    mask: Flow,
    /// For each stage, the masked prefixes (stages 0..=i) some rule has.
    stage_keys: [std::collections::HashSet<Vec<u8>>; 4],
    /// The rules by masked flow, highest priority first (ties: first added).
    rules: HashMap<Vec<u8>, Vec<(u16, usize)>>,
    max_priority: u16,
}

/// A classifier over a set of rules: `(priority, match, id)`.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    subtables: Vec<Subtable>,
    /// Rules with tunnel-metadata matches, checked one by one.
    others: Vec<(u16, Match, usize)>,
}

fn masked(flow: &Flow, mask: &Flow, upto: usize) -> Vec<u8> {
    flow[..upto].iter().zip(&mask[..upto]).map(|(f, m)| f & m).collect()
}

/// Whether `m` matches the packet (ignoring tunnel metadata).
fn hits(m: &Match, flow: &Flow) -> bool {
    m.flow.iter().zip(&m.wc).zip(flow).all(|((v, w), f)| f & w == *v)
}

impl Classifier {
    /// Builds a classifier over `rules` (`(priority, match, id)`).
    pub fn new<'a>(rules: impl IntoIterator<Item = (u16, &'a Match, usize)>) -> Classifier {
        let mut c = Classifier::default();
        let stages = stages();
        let mut by_mask: HashMap<Flow, usize> = HashMap::new();
        for (priority, m, id) in rules {
            if !m.tun_md.is_empty() {
                c.others.push((priority, m.clone(), id));
                continue;
            }
            let at = *by_mask.entry(m.wc).or_insert_with(|| {
                c.subtables.push(Subtable { mask: m.wc, stage_keys: Default::default(), rules: HashMap::new(), max_priority: 0 });
                c.subtables.len() - 1
            });
            let st = &mut c.subtables[at];
            for (i, r) in stages.iter().enumerate() {
                st.stage_keys[i].insert(masked(&m.flow, &st.mask, r.end));
            }
            let list = st.rules.entry(masked(&m.flow, &st.mask, FLOW_LEN)).or_default();
            list.push((priority, id));
            list.sort_by_key(|e| std::cmp::Reverse(e.0));
            st.max_priority = st.max_priority.max(priority);
        }
        c.subtables.sort_by_key(|s| std::cmp::Reverse(s.max_priority));
        c
    }

    /// The highest-priority rule the packet hits, as `(priority, id)`, and
    /// the bits of the packet the answer depended on.
    pub fn lookup(&self, flow: &Flow) -> (Option<(u16, usize)>, Wildcards) {
        let mut wc = [0u8; FLOW_LEN];
        let mut best: Option<(u16, usize)> = None;
        let stages = stages();
        for st in &self.subtables {
            if best.is_some_and(|(p, _)| p >= st.max_priority) {
                break;
            }
            let mut passed = true;
            for (i, r) in stages.iter().enumerate() {
                if !st.stage_keys[i].contains(&masked(flow, &st.mask, r.end)) {
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
            if let Some(&(p, id)) = st.rules.get(&masked(flow, &st.mask, FLOW_LEN)).and_then(|l| l.first()) {
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
        let c = Classifier::new(rules.iter().map(|(p, m, id)| (*p, m, *id)));
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

    proptest! {
        /// The classifier answers as a priority scan does, and every packet
        /// that agrees with the looked-up one on the examined bits gets the
        /// same answer (the property that makes megaflows correct).
        #[test]
        fn same_answer_as_a_scan_and_wildcards_are_sound(
            rules in prop::collection::vec((0u16..4, prop::collection::vec(small_field(), 0..3)), 0..12),
            pkts in prop::collection::vec(prop::collection::vec(small_field(), 3), 1..16),
        ) {
            let rules: Vec<(u16, Match)> = rules
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
                .collect();
            let c = Classifier::new(rules.iter().enumerate().map(|(i, (p, m))| (*p, m, i)));
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
