//! The tables' view of a packet's key, and back: ferrovs has one layout
//! of flow fields ([`dataplane::key`]); the tables store it as bytes
//! ([`crate::flowmatch::slot`]), so converting is a change of byte order,
//! plus the two fields OpenFlow sees otherwise (`in_port` as an OpenFlow
//! port, `vlan_tci` in OVS's form).

use dataplane::key::{Field, FieldAccess};
use dataplane::{FlowKey, FlowMask};

use super::{port, Pipeline};
use crate::classifier::{Flow, Wildcards};
use crate::flowmatch::{be, put_be, slot, Slot, FLOW_LEN};

/// OVS's VLAN_CFI bit: in the `vlan_tci` slot it means "tagged".
pub(super) const VLAN_CFI: u128 = 0x1000;

/// The key's words in the tables' storage (each as eight big-endian
/// bytes, after the translation-only bytes): the one layout, seen as bytes.
fn words_to_bytes(words: &[u64; dataplane::KEY_WORDS]) -> Flow {
    let mut flow = [0u8; FLOW_LEN];
    for (chunk, w) in flow[slot::XLATE_BYTES..].chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    flow
}

/// The inverse of [`words_to_bytes`] (the translation-only bytes dropped).
fn bytes_to_words(flow: &Flow) -> [u64; dataplane::KEY_WORDS] {
    let mut words = [0u64; dataplane::KEY_WORDS];
    for (w, chunk) in words.iter_mut().zip(flow[slot::XLATE_BYTES..].chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_be_bytes(b);
    }
    words
}

/// The datapath's `in_port` field in the storage: the OpenFlow port is
/// its low 16 bits ([`slot::IN_PORT`]).
const DP_IN_PORT: Slot = Slot::of(Field::IN_PORT);

/// The key of a packet in the tables' layout: the same fields, with the
/// OpenFlow `in_port` and OVS's `vlan_tci`.
pub fn to_flow(key: &FlowKey, p: &Pipeline) -> Flow {
    let mut flow = words_to_bytes(&key.words);
    let in_port = p.ofport(key.get(Field::IN_PORT) as u32).unwrap_or(port::NONE);
    put_be(&mut flow[DP_IN_PORT.range()], u128::from(in_port));
    let tci = if key.get(Field::VLAN0_TPID) != 0 { key.get(Field::VLAN0_TCI) | VLAN_CFI } else { 0 };
    put_be(&mut flow[slot::VLAN_TCI.range()], tci);
    flow
}

/// A key with the fields of `flow` (in the tables' layout); its
/// `in_port` is the datapath port of the flow's, if the pipeline has one.
pub fn from_flow(flow: &Flow, p: &Pipeline) -> FlowKey {
    let mut key = FlowKey { words: bytes_to_words(flow) };
    let in_port = be(&flow[slot::IN_PORT.range()]) as u16;
    key.set(Field::IN_PORT, u128::from(p.odp(in_port).unwrap_or(u32::MAX)));
    let tci = be(&flow[slot::VLAN_TCI.range()]);
    let tagged = tci & VLAN_CFI != 0;
    key.set(Field::VLAN0_TPID, if tagged { 0x8100 } else { 0 });
    key.set(Field::VLAN0_TCI, if tagged { tci & !VLAN_CFI } else { 0 });
    key
}

/// The examined bits (in the tables' layout) of a key mask: the inverse
/// of [`to_mask`].
pub fn from_mask(mask: &FlowMask) -> Wildcards {
    let mut wc = words_to_bytes(&mask.words);
    let in_port = if mask.get(Field::IN_PORT) != 0 { 0xffff } else { 0 };
    put_be(&mut wc[DP_IN_PORT.range()], in_port);
    let vlan = if mask.get(Field::VLAN0_TPID) != 0 { mask.get(Field::VLAN0_TCI) | VLAN_CFI } else { 0 };
    put_be(&mut wc[slot::VLAN_TCI.range()], vlan);
    put_be(&mut wc[Slot::of(Field::VLAN0_TPID).range()], 0);
    wc
}

/// The key mask of the examined bits `wc` (in the tables' layout).
pub fn to_mask(wc: &Wildcards) -> FlowMask {
    let mut mask = FlowMask { words: bytes_to_words(wc) };
    mask.set(Field::IN_PORT, 0);
    if be(&wc[slot::IN_PORT.range()]) != 0 {
        mask.exact(Field::IN_PORT);
    }
    let vlan = be(&wc[slot::VLAN_TCI.range()]);
    mask.set(Field::VLAN0_TCI, vlan & !VLAN_CFI);
    mask.set(Field::VLAN0_TPID, 0);
    if vlan != 0 {
        mask.exact(Field::VLAN0_TPID);
    }
    mask
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;
    use crate::flowmatch::{fields, Field as OfField, Mff};
    use crate::table::Tables;
    use crate::xlate::XPort;

    /// OpenFlow port n is datapath port 100 + n.
    fn pipeline() -> Pipeline {
        let ports = (1..=4).map(|p| XPort { ofport: p, odp: 100 + u32::from(p), no_flood: false, no_fwd: false }).collect();
        Pipeline::new(&Tables::default(), ports, false, None)
    }

    /// The OpenFlow fields a packet's key carries: all but those only
    /// translation has and `tun_metadata`, which is kept apart.
    fn carried() -> Vec<&'static OfField> {
        fields().iter().filter(|f| !matches!(f.id, Mff::ConjId | Mff::ActsetOutput | Mff::TunMetadata(_))).collect()
    }

    /// A value and a mask of `f` as a rule or a packet can hold them.
    fn valid(f: &OfField, value: u128, mask: u128) -> (u128, u128) {
        let (mut value, mut mask) = (value & f.cover, (mask & f.cover) | (f.cover & f.cover.wrapping_neg()));
        if f.slot == slot::IN_PORT {
            // A port the pipeline has; matched whole, as the datapath does.
            (value, mask) = (1 + value % 4, 0xffff);
        }
        if f.slot == slot::VLAN_TCI {
            // OVS's vlan_tci: no tag is all zeros, and a match on the tag
            // always says whether there is one.
            value = if value & VLAN_CFI != 0 { value } else { 0 };
            mask |= VLAN_CFI;
        }
        (value, mask)
    }

    /// OpenFlow view → datapath key → OpenFlow view, and the same for a
    /// mask through the megaflow's; the megaflow's masked key keeps the
    /// field's matched bits.
    fn survives(p: &Pipeline, f: &OfField, value: u128, mask: u128) -> Result<(), TestCaseError> {
        let (value, mask) = valid(f, value, mask);
        let mut flow = [0u8; FLOW_LEN];
        put_be(&mut flow[f.slot.range()], value);
        let key = from_flow(&flow, p);
        prop_assert_eq!(be(&to_flow(&key, p)[f.slot.range()]), value, "{}: value through the datapath key", f.name);
        let mut wc = [0u8; FLOW_LEN];
        put_be(&mut wc[f.slot.range()], mask);
        let megaflow = to_mask(&wc);
        prop_assert!(megaflow != FlowMask::default(), "{}: no datapath bit in the megaflow mask", f.name);
        prop_assert_eq!(be(&from_mask(&megaflow)[f.slot.range()]), mask, "{}: mask through the megaflow mask", f.name);
        let seen = to_flow(&key.masked(&megaflow), p);
        prop_assert_eq!(be(&seen[f.slot.range()]) & mask, value & mask, "{}: the megaflow's masked key", f.name);
        Ok(())
    }

    #[test]
    fn every_field_openflow_matches_survives_the_datapath_key_and_the_megaflow_mask() {
        let p = pipeline();
        let reached: Mutex<HashMap<Mff, u32>> = Mutex::new(HashMap::new());
        let mut runner = TestRunner::new(Config { cases: 256, ..Config::default() });
        runner
            .run(&any::<(u128, u128)>(), |(value, mask)| {
                for f in carried() {
                    survives(&p, f, value, mask)?;
                    *reached.lock().unwrap().entry(f.id).or_default() += 1;
                }
                Ok(())
            })
            .unwrap();
        let reached = reached.into_inner().unwrap();
        for f in carried() {
            assert_eq!(reached.get(&f.id), Some(&256), "{}: cases that reached every check", f.name);
        }
        eprintln!("{} OpenFlow fields, 256 cases each reached every check", reached.len());
    }
}
