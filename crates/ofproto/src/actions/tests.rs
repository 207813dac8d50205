use super::*;
use proptest::prelude::*;

use crate::error::{BadAction, BadInstruction};

fn round(actions: &[Action], version: u8) -> Vec<Action> {
    let mut b = Vec::new();
    if version == 1 {
        encode_actions(actions, version, Context::default(), &mut b);
        decode_actions(&b, version).unwrap()
    } else {
        encode_instructions(actions, version, Context::default(), &mut b);
        decode_instructions(&b, version).unwrap()
    }
}

#[test]
fn load_stays_a_load_and_set_field_becomes_legacy_in_of10() {
    let load = Action::SetField { field: Mff::Reg(1), value: 1, mask: 0xffff_ffff, reg_load: true };
    assert_eq!(round(std::slice::from_ref(&load), 4), vec![load.clone()]);
    let eth = Action::SetField { field: Mff::EthSrc, value: 0x0102_0304_0506, mask: full(6), reg_load: false };
    assert_eq!(round(std::slice::from_ref(&eth), 1), vec![Action::SetEthSrc([1, 2, 3, 4, 5, 6])]);
    assert_eq!(round(&[Action::SetEthSrc([1, 2, 3, 4, 5, 6])], 4), vec![eth]);
}

#[test]
fn partial_load_splits_into_runs_as_ovs() {
    let a = Action::SetField { field: Mff::Reg(0), value: 0x0f0f, mask: 0xff0f, reg_load: true };
    let mut b = Vec::new();
    encode_actions(std::slice::from_ref(&a), 1, Context::default(), &mut b);
    assert_eq!(b.len(), 48, "two REG_LOADs");
    let back = decode_actions(&b, 1).unwrap();
    assert_eq!(back.len(), 2);
}

#[test]
fn goto_table_is_resubmit_in_of10_and_an_instruction_in_of13() {
    let acts = vec![Action::Output { port: 1, max_len: 0 }, Action::GotoTable(5)];
    assert_eq!(round(&acts, 4), acts);
    assert_eq!(round(&acts, 1)[1], Action::Resubmit { in_port: 0xfff8, table: 5, with_table: true });
}

#[test]
fn errors_for_bad_actions() {
    assert_eq!(decode_actions(&[0, 0, 0, 4], 1), Err(OfError::BadAction(BadAction::BadLen)));
    assert_eq!(decode_actions(&[0, 99, 0, 8, 0, 0, 0, 0], 1), Err(OfError::BadAction(BadAction::BadType)));
    let mut nx = vec![0xff, 0xff, 0, 16, 0, 0, 0x23, 0x20, 0, 200];
    nx.resize(16, 0);
    assert_eq!(decode_actions(&nx, 1), Err(OfError::BadAction(BadAction::BadExpType)));
    nx[7] = 0x21;
    assert_eq!(decode_actions(&nx, 1), Err(OfError::BadAction(BadAction::BadExperimenter)));
    assert_eq!(decode_instructions(&[0, 9, 0, 8, 0, 0, 0, 0], 4), Err(OfError::BadInstruction(BadInstruction::UnknownInst)));
}

fn any_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0u16..0xff00, any::<u16>()).prop_map(|(port, max_len)| Action::Output { port, max_len }),
        (0u16..0x1000).prop_map(|vid| Action::SetField {
            field: Mff::VlanVid,
            value: u128::from(vid | 0x1000),
            mask: 0xffff,
            reg_load: false
        }),
        any::<u64>().prop_map(|mac| Action::SetField {
            field: Mff::EthDst,
            value: u128::from(mac & 0xffff_ffff_ffff),
            mask: full(6),
            reg_load: false
        }),
        any::<u8>().prop_map(Action::SetIpTtl),
        (0u8..16, any::<u32>()).prop_map(|(r, v)| Action::SetField {
            field: Mff::Reg(r),
            value: u128::from(v),
            mask: 0xffff_ffff,
            reg_load: true
        }),
        (any::<u16>(), any::<u8>()).prop_map(|(in_port, table)| Action::Resubmit { in_port, table, with_table: true }),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(|mut n| {
            n.resize((n.len() + 10).div_ceil(8) * 8 - 10, 0);
            Action::Note(n)
        }),
        any::<u32>().prop_map(Action::Group),
        (any::<u16>(), any::<[u32; 3]>(), prop_oneof![Just(0xffffu16), any::<u16>()], 0u8..3).prop_map(
            |(probability, [collector_set_id, obs_domain_id, obs_point_id], sampling_port, direction)| {
                Action::Sample(Sample { probability, collector_set_id, obs_domain_id, obs_point_id, sampling_port, direction })
            }
        ),
        Just(Action::CtClear),
        (any::<u32>(), 2u8..64).prop_map(|(id, n)| Action::Conjunction { id, clause: n - 1, n_clauses: n }),
        (any::<u16>(), any::<u16>(), 0u8..8, prop::collection::vec(any::<u8>(), 0..12), any::<bool>(), any::<u32>()).prop_map(
            |(max_len, id, reason, userdata, pause, meter)| Action::Controller { max_len, id, reason, userdata, pause, meter, v2: true }
        ),
        (any::<bool>(), any::<u16>(), any::<u8>(), any::<u16>(), 0u32..4, any::<bool>()).prop_map(
            |(commit, zone_imm, table, alg, mark, nat)| {
                let mut actions = Vec::new();
                if commit {
                    actions.push(Action::SetField { field: Mff::CtMark, value: u128::from(mark), mask: 0xffff_ffff, reg_load: true });
                }
                if nat {
                    actions.push(Action::Nat { flags: 1, present: 1, range: vec![10, 0, 0, 1] });
                }
                Action::Ct {
                    flags: u16::from(commit),
                    zone_src: None,
                    zone_imm,
                    table,
                    alg,
                    actions: if commit { actions } else { Vec::new() },
                }
            }
        ),
        (any::<u16>(), any::<u64>(), 0u8..255, prop::collection::vec((1u16..33, any::<bool>(), 0u16..3, any::<[u8; 5]>()), 0..4)).prop_map(
            |(priority, cookie, table, specs)| {
                let specs = specs
                    .into_iter()
                    .map(|(n_bits, imm, dst_type, v)| {
                        let bytes = usize::from(n_bits).div_ceil(8);
                        let src = if imm && dst_type != 2 {
                            Err(v[..bytes].to_vec())
                        } else {
                            Ok(Subfield { field: Mff::Reg(1), ofs: 32 - n_bits, n_bits })
                        };
                        let dst = (dst_type < 2).then_some(Subfield { field: Mff::Reg(2), ofs: 0, n_bits });
                        LearnSpec { n_bits, src, dst_type, dst }
                    })
                    .collect();
                Action::Learn(Box::new(Learn {
                    idle_timeout: 1,
                    hard_timeout: 2,
                    priority,
                    cookie,
                    flags: 1,
                    table,
                    fin_idle_timeout: 0,
                    fin_hard_timeout: 0,
                    limit: 0,
                    result_dst: None,
                    v2: false,
                    specs,
                }))
            }
        ),
        (any::<u16>(), 0u16..32)
            .prop_map(|(pkt_len, ofs)| Action::CheckPktLarger { pkt_len, dst: Subfield { field: Mff::Reg(0), ofs, n_bits: 1 } }),
        (0u8..16, 0u8..16, 1u16..32).prop_map(|(a, b, n)| Action::RegMove {
            src: Subfield { field: Mff::Reg(a), ofs: 0, n_bits: n },
            dst: Subfield { field: Mff::Reg(b), ofs: 32 - n, n_bits: n },
        }),
        (1u16..100).prop_map(|p| Action::Clone(vec![Action::Output { port: p, max_len: 0 }, Action::PopQueue])),
        (0u8..4, 0u16..96, 1u16..32, any::<bool>()).prop_map(|(x, ofs, n, push)| {
            let sf = Subfield { field: Mff::Xxreg(x), ofs, n_bits: n };
            if push {
                Action::StackPush(sf)
            } else {
                Action::StackPop(sf)
            }
        }),
    ]
}

proptest! {
    /// Actions that every version expresses the same way decode to
    /// themselves.
    #[test]
    fn round_trip_in_of13(actions in prop::collection::vec(any_action(), 0..8)) {
        prop_assert_eq!(round(&actions, 4), actions);
    }

    /// Legacy and version-specific forms (`mod_dl_src`, `mod_vlan_vid`,
    /// `goto_table` in 1.0, …) may change form once, as in OVS; after
    /// that the encoding is fixed, in every version.
    #[test]
    fn encoding_is_stable_in_every_version(actions in prop::collection::vec(any_action(), 0..8), legacy in prop::collection::vec(prop_oneof![
        (0u16..0x1000).prop_map(|vid| Action::SetVlanVid { vid, push: true }),
        any::<[u8; 6]>().prop_map(Action::SetEthSrc),
        any::<u32>().prop_map(Action::SetIpv4Dst),
        (0u8..64).prop_map(|d| Action::SetIpDscp(d << 2)),
        any::<u16>().prop_map(Action::SetL4Src),
        Just(Action::StripVlan { of10: true }),
        Just(Action::DecTtl { ids: vec![0], cnt_ids: false }),
        Just(Action::GotoTable(9)),
        (any::<u64>(), any::<u64>()).prop_map(|(value, mask)| Action::WriteMetadata { value: value & mask, mask }),
    ], 0..4)) {
        // Instructions in OVS's order, each at most once, as a decoded list has them.
        let (mut all, inst): (Vec<Action>, Vec<Action>) = actions.into_iter().chain(legacy).partition(|a| !is_instruction(a, 4));
        for kind in [Action::GotoTable(0), Action::WriteMetadata { value: 0, mask: 0 }] {
            if let Some(i) = inst.iter().find(|i| std::mem::discriminant(*i) == std::mem::discriminant(&kind)) {
                all.push(i.clone());
            }
        }
        all.sort_by_key(|a| matches!(a, Action::GotoTable(_)));
        for v in [1, 4, 6] {
            let once = round(&all, v);
            prop_assert_eq!(round(&once, v), once.clone(), "version {}", v);
        }
    }

    /// Arbitrary bytes decode or give an error, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..96)) {
        for v in [1, 4, 6] {
            let _ = decode_actions(&b, v);
            let _ = decode_instructions(&b, v);
        }
    }
}
