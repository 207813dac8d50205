//! Actions in the text of OVS's `ofpacts_format`: what `ovs-ofctl
//! dump-flows` prints and OVN's `test-ovn parse-actions` shows as
//! "encodes as". Fields in `move`, `push`, `pop` and `ct(zone=…)` go by
//! their NXM/OXM names (`NXM_NX_XXREG0[96..98]`), in `set_field` by their
//! `ovs-fields(7)` names with values in the field's own format
//! (`set_field:80->tcp_dst`, `set_field:0x4000/0xe000->vlan_tci`).
//!
//! The actions the OVN agent emits are written as OVS writes them; the
//! others as [`crate::text`] writes them for `ofproto/trace`.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::actions::{Action, Learn, Subfield};
use crate::flowmatch::{field, Mff};
use crate::match_format::hex;
use crate::port;
use crate::text::{action_text, port_text};

/// The NXM or OXM name OVS gives a field (`mf_field`'s `nxm_name`).
pub fn nxm_name(f: Mff) -> String {
    use Mff::*;
    let s = match f {
        Reg(i) => return format!("NXM_NX_REG{i}"),
        Xreg(i) => return format!("OXM_OF_PKT_REG{i}"),
        Xxreg(i) => return format!("NXM_NX_XXREG{i}"),
        TunMetadata(i) => return format!("NXM_NX_TUN_METADATA{i}"),
        RecircId => "NXM_NX_RECIRC_ID",
        ConjId => "NXM_NX_CONJ_ID",
        TunId => "NXM_NX_TUN_ID",
        TunSrc => "NXM_NX_TUN_IPV4_SRC",
        TunDst => "NXM_NX_TUN_IPV4_DST",
        TunIpv6Src => "NXM_NX_TUN_IPV6_SRC",
        TunIpv6Dst => "NXM_NX_TUN_IPV6_DST",
        TunFlags => "NXM_NX_TUN_FLAGS",
        TunGbpId => "NXM_NX_TUN_GBP_ID",
        TunGbpFlags => "NXM_NX_TUN_GBP_FLAGS",
        Metadata => "OXM_OF_METADATA",
        InPort => "NXM_OF_IN_PORT",
        InPortOxm => "OXM_OF_IN_PORT",
        ActsetOutput => "ONFOXM_ET_ACTSET_OUTPUT",
        PktMark => "NXM_NX_PKT_MARK",
        CtState => "NXM_NX_CT_STATE",
        CtZone => "NXM_NX_CT_ZONE",
        CtMark => "NXM_NX_CT_MARK",
        CtLabel => "NXM_NX_CT_LABEL",
        CtNwProto => "NXM_NX_CT_NW_PROTO",
        CtNwSrc => "NXM_NX_CT_NW_SRC",
        CtNwDst => "NXM_NX_CT_NW_DST",
        CtIpv6Src => "NXM_NX_CT_IPV6_SRC",
        CtIpv6Dst => "NXM_NX_CT_IPV6_DST",
        CtTpSrc => "NXM_NX_CT_TP_SRC",
        CtTpDst => "NXM_NX_CT_TP_DST",
        EthSrc => "NXM_OF_ETH_SRC",
        EthDst => "NXM_OF_ETH_DST",
        EthType => "NXM_OF_ETH_TYPE",
        VlanTci => "NXM_OF_VLAN_TCI",
        VlanVid => "OXM_OF_VLAN_VID",
        VlanPcp => "OXM_OF_VLAN_PCP",
        MplsLabel => "OXM_OF_MPLS_LABEL",
        MplsTc => "OXM_OF_MPLS_TC",
        MplsBos => "OXM_OF_MPLS_BOS",
        MplsTtl => "NXM_NX_MPLS_TTL",
        Ipv4Src => "NXM_OF_IP_SRC",
        Ipv4Dst => "NXM_OF_IP_DST",
        Ipv6Src => "NXM_NX_IPV6_SRC",
        Ipv6Dst => "NXM_NX_IPV6_DST",
        Ipv6Label => "NXM_NX_IPV6_LABEL",
        IpProto => "NXM_OF_IP_PROTO",
        IpDscp => "NXM_OF_IP_TOS",
        IpDscpShifted => "OXM_OF_IP_DSCP",
        IpEcn => "NXM_NX_IP_ECN",
        IpTtl => "NXM_NX_IP_TTL",
        IpFrag => "NXM_NX_IP_FRAG",
        ArpOp => "NXM_OF_ARP_OP",
        ArpSpa => "NXM_OF_ARP_SPA",
        ArpTpa => "NXM_OF_ARP_TPA",
        ArpSha => "NXM_NX_ARP_SHA",
        ArpTha => "NXM_NX_ARP_THA",
        TcpSrc => "NXM_OF_TCP_SRC",
        TcpDst => "NXM_OF_TCP_DST",
        TcpFlags => "NXM_NX_TCP_FLAGS",
        UdpSrc => "NXM_OF_UDP_SRC",
        UdpDst => "NXM_OF_UDP_DST",
        SctpSrc => "OXM_OF_SCTP_SRC",
        SctpDst => "OXM_OF_SCTP_DST",
        Icmpv4Type => "NXM_OF_ICMP_TYPE",
        Icmpv4Code => "NXM_OF_ICMP_CODE",
        Icmpv6Type => "NXM_NX_ICMPV6_TYPE",
        Icmpv6Code => "NXM_NX_ICMPV6_CODE",
        NdTarget => "NXM_NX_ND_TARGET",
        NdSll => "NXM_NX_ND_SLL",
        NdTll => "NXM_NX_ND_TLL",
    };
    s.to_owned()
}

/// `NAME[]`, `NAME[ofs]` or `NAME[ofs..last]` (`mf_format_subfield`).
pub fn subfield_format(sf: &Subfield) -> String {
    let name = nxm_name(sf.field);
    if sf.ofs == 0 && sf.n_bits == field(sf.field).bits {
        format!("{name}[]")
    } else if sf.n_bits == 1 {
        format!("{name}[{}]", sf.ofs)
    } else {
        // As OVS, an empty subfield prints as `[ofs..ofs-1]`.
        format!("{name}[{}..{}]", sf.ofs, i32::from(sf.ofs) + i32::from(sf.n_bits) - 1)
    }
}

/// Bytes in hexadecimal, leading zero bytes dropped (`0` for none), as
/// OVS's `ds_put_hex`.
fn bytes_hex(bytes: &[u8]) -> String {
    match bytes.iter().position(|b| *b != 0) {
        None => "0".into(),
        Some(i) => {
            let mut s = format!("{:#x}", bytes[i]);
            s.extend(bytes[i + 1..].iter().map(|b| format!("{b:02x}")));
            s
        }
    }
}

/// NXAST_LEARN as OVS writes it (`learn_format`).
pub fn learn_format(l: &Learn) -> String {
    let mut s = format!("learn(table={}", l.table);
    if l.idle_timeout != 0 {
        s.push_str(&format!(",idle_timeout={}", l.idle_timeout));
    }
    if l.hard_timeout != 0 {
        s.push_str(&format!(",hard_timeout={}", l.hard_timeout));
    }
    if l.fin_idle_timeout != 0 {
        s.push_str(&format!(",fin_idle_timeout={}", l.fin_idle_timeout));
    }
    if l.fin_hard_timeout != 0 {
        s.push_str(&format!(",fin_hard_timeout={}", l.fin_hard_timeout));
    }
    if l.priority != 0x8000 {
        s.push_str(&format!(",priority={}", l.priority));
    }
    if l.flags & 1 != 0 {
        s.push_str(",send_flow_rem");
    }
    if l.flags & 2 != 0 {
        s.push_str(",delete_learned");
    }
    if l.cookie != 0 {
        s.push_str(&format!(",cookie={:#x}", l.cookie));
    }
    if l.limit != 0 {
        s.push_str(&format!(",limit={}", l.limit));
    }
    if let Some(r) = &l.result_dst {
        s.push_str(&format!(",result_dst={}", subfield_format(r)));
    }
    for spec in &l.specs {
        s.push(',');
        match (&spec.src, spec.dst_type, &spec.dst) {
            (Err(imm), 0, Some(dst)) => {
                let whole = dst.ofs == 0 && dst.n_bits == field(dst.field).bits;
                if whole {
                    let value = imm.iter().fold(0u128, |v, b| v << 8 | u128::from(*b));
                    s.push_str(&format!("{}={}", field(dst.field).name, value_format(dst.field, value, u128::MAX)));
                } else {
                    s.push_str(&format!("{}={}", subfield_format(dst), bytes_hex(imm)));
                }
            }
            (Ok(src), 0, Some(dst)) => {
                s.push_str(&subfield_format(dst));
                if src.field != dst.field || src.ofs != dst.ofs {
                    s.push_str(&format!("={}", subfield_format(src)));
                }
            }
            (Err(imm), 1, Some(dst)) => s.push_str(&format!("load:{}->{}", bytes_hex(imm), subfield_format(dst))),
            (Ok(src), 1, Some(dst)) => s.push_str(&format!("load:{}->{}", subfield_format(src), subfield_format(dst))),
            (Ok(src), _, _) => s.push_str(&format!("output:{}", subfield_format(src))),
            (Err(_), _, _) => {}
        }
    }
    s + ")"
}

/// How OVS writes a field's values (`mf_format`).
enum Style {
    Decimal,
    Hex,
    Mac,
    Ipv4,
    Ipv6,
    Port,
}

fn style(f: Mff) -> Style {
    use Mff::*;
    match f {
        TcpSrc | TcpDst | UdpSrc | UdpDst | SctpSrc | SctpDst | Icmpv4Type | Icmpv4Code | Icmpv6Type | Icmpv6Code | IpTtl | IpProto
        | IpDscp | IpDscpShifted | IpEcn | ArpOp | VlanVid | VlanPcp | MplsLabel | MplsTc | MplsBos | MplsTtl | CtNwProto | CtTpSrc
        | CtTpDst => Style::Decimal,
        EthSrc | EthDst | ArpSha | ArpTha | NdSll | NdTll => Style::Mac,
        Ipv4Src | Ipv4Dst | ArpSpa | ArpTpa | TunSrc | TunDst | CtNwSrc | CtNwDst => Style::Ipv4,
        Ipv6Src | Ipv6Dst | NdTarget | TunIpv6Src | TunIpv6Dst | CtIpv6Src | CtIpv6Dst => Style::Ipv6,
        InPort | InPortOxm | ActsetOutput => Style::Port,
        _ => Style::Hex,
    }
}

/// A value of `f`, masked unless `mask` covers all of it.
fn value_format(f: Mff, value: u128, mask: u128) -> String {
    let bits = u32::from(field(f).bits);
    let full = if bits >= 128 { u128::MAX } else { (1u128 << bits) - 1 };
    let exact = mask & full == full;
    let mac = |v: u128| {
        let b = (v as u64).to_be_bytes();
        format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[2], b[3], b[4], b[5], b[6], b[7])
    };
    match (style(f), exact) {
        (Style::Decimal, true) => value.to_string(),
        (Style::Port, true) => port_text(value as u16),
        (Style::Mac, true) => mac(value),
        (Style::Mac, false) => format!("{}/{}", mac(value), mac(mask)),
        (Style::Ipv4, true) => Ipv4Addr::from(value as u32).to_string(),
        (Style::Ipv4, false) => format!("{}/{}", Ipv4Addr::from(value as u32), Ipv4Addr::from(mask as u32)),
        (Style::Ipv6, true) => Ipv6Addr::from(value).to_string(),
        (Style::Ipv6, false) => format!("{}/{}", Ipv6Addr::from(value), Ipv6Addr::from(mask)),
        (_, true) => hex(value),
        (_, false) => format!("{}/{}", hex(value), hex(mask)),
    }
}

/// NXAST_NAT as OVS writes it: `nat`, or `nat(src=ADDR[-ADDR][:PORT[-PORT]],
/// flags)`; `present` says which parts `range` holds, in wire order.
pub fn nat_format(flags: u16, present: u16, range: &[u8]) -> String {
    let mut at = 0;
    let mut take = |bit: u16, n: usize| -> Option<&[u8]> {
        if present & bit == 0 {
            return None;
        }
        let part = range.get(at..at + n);
        at += n;
        part
    };
    let v4 = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    let v6 = |b: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap_or([0; 16]));
    let (v4_min, v4_max) = (take(1, 4).map(v4), take(2, 4).map(v4));
    let (v6_min, v6_max) = (take(4, 16).map(v6), take(8, 16).map(v6));
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let (p_min, p_max) = (take(16, 2).map(port), take(32, 2).map(port));
    if flags & 3 == 0 {
        return "nat".into();
    }
    let mut s = String::from(if flags & 1 != 0 { "nat(src" } else { "nat(dst" });
    let bracket = p_min.is_some_and(|p| p != 0);
    if let Some(min) = v4_min {
        s.push_str(&format!("={min}"));
        if let Some(max) = v4_max.filter(|m| *m != min && !m.is_unspecified()) {
            s.push_str(&format!("-{max}"));
        }
    } else if let Some(min) = v6_min {
        s.push_str(&if bracket { format!("=[{min}]") } else { format!("={min}") });
        if let Some(max) = v6_max.filter(|m| *m != min && !m.is_unspecified()) {
            s.push_str(&if bracket { format!("-[{max}]") } else { format!("-{max}") });
        }
    }
    if v4_min.is_some() || v6_min.is_some() {
        if let Some(min) = p_min.filter(|p| *p != 0) {
            s.push_str(&format!(":{min}"));
            if let Some(max) = p_max.filter(|m| *m != 0 && *m != min) {
                s.push_str(&format!("-{max}"));
            }
        }
    }
    for (bit, name) in [(4, "persistent"), (8, "hash"), (16, "random")] {
        if flags & bit != 0 {
            s.push_str(&format!(",{name}"));
        }
    }
    s + ")"
}

/// A packet-in reason's name (`ofputil_packet_in_reason_to_string`).
fn reason_name(r: u8) -> String {
    match r {
        0 => "no_match".into(),
        1 => "action".into(),
        2 => "invalid_ttl".into(),
        3 => "action_set".into(),
        4 => "group".into(),
        5 => "packet_out".into(),
        n => n.to_string(),
    }
}

/// An action list as OVS writes it (`drop` for none).
pub fn actions_format(actions: &[Action]) -> String {
    crate::text::action_list(actions, action_format)
}

/// One action as OVS writes it.
pub fn action_format(a: &Action) -> String {
    match a {
        Action::Resubmit { in_port, table, .. } => {
            let p = if *in_port == port::IN_PORT { String::new() } else { port_text(*in_port) };
            if *table == 255 {
                format!("resubmit:{p}")
            } else {
                format!("resubmit({p},{table})")
            }
        }
        Action::SetField { field: f, value, mask, reg_load: false } => {
            format!("set_field:{}->{}", value_format(*f, *value, *mask), field(*f).name)
        }
        Action::RegMove { src, dst } => format!("move:{}->{}", subfield_format(src), subfield_format(dst)),
        Action::Clone(inner) => format!("clone({})", actions_format(inner)),
        Action::Learn(l) => learn_format(l),
        Action::StackPush(sf) => format!("push:{}", subfield_format(sf)),
        Action::CheckPktLarger { pkt_len, dst } => format!("check_pkt_larger({pkt_len})->{}", subfield_format(dst)),
        Action::StackPop(sf) => format!("pop:{}", subfield_format(sf)),
        Action::Ct { flags, zone_src, zone_imm, table, alg, actions } => {
            let mut parts = Vec::new();
            if flags & 1 != 0 {
                parts.push("commit".to_owned());
            }
            if flags & 2 != 0 {
                parts.push("force".to_owned());
            }
            if *table != 255 {
                parts.push(format!("table={table}"));
            }
            match zone_src {
                Some(sf) => parts.push(format!("zone={}", subfield_format(sf))),
                None if *zone_imm != 0 => parts.push(format!("zone={zone_imm}")),
                None => {}
            }
            let mut nested = actions.as_slice();
            if let Some((Action::Nat { flags, present, range }, rest)) = nested.split_first() {
                parts.push(nat_format(*flags, *present, range));
                nested = rest;
            }
            if !nested.is_empty() {
                parts.push(format!("exec({})", actions_format(nested)));
            }
            match alg {
                0 => {}
                21 => parts.push("alg=ftp".to_owned()),
                69 => parts.push("alg=tftp".to_owned()),
                n => parts.push(format!("alg={n}")),
            }
            format!("ct({})", parts.join(","))
        }
        Action::Controller { max_len, id, reason, userdata, pause, meter, .. } => {
            let plain = *reason == 1 && *id == 0 && userdata.is_empty() && !pause && *meter == 0;
            if plain {
                return format!("CONTROLLER:{max_len}");
            }
            let mut parts = Vec::new();
            if *max_len != u16::MAX {
                parts.push(format!("max_len={max_len}"));
            }
            if *reason != 1 {
                parts.push(format!("reason={}", reason_name(*reason)));
            }
            if *id != 0 {
                parts.push(format!("id={id}"));
            }
            if !userdata.is_empty() {
                parts.push(format!("userdata={}", userdata.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(".")));
            }
            if *pause {
                parts.push("pause".to_owned());
            }
            if *meter != 0 {
                parts.push(format!("meter_id={meter}"));
            }
            format!("controller({})", parts.join(","))
        }
        other => action_text(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_go_by_their_nxm_names_and_values_by_their_formats() {
        let sf = Subfield { field: Mff::Xxreg(0), ofs: 96, n_bits: 3 };
        let dst = Subfield { field: Mff::VlanTci, ofs: 13, n_bits: 3 };
        assert_eq!(action_format(&Action::RegMove { src: sf, dst }), "move:NXM_NX_XXREG0[96..98]->NXM_OF_VLAN_TCI[13..15]");
        let set = |f, value, mask| Action::SetField { field: f, value, mask, reg_load: false };
        assert_eq!(action_format(&set(Mff::TcpDst, 80, 0xffff)), "set_field:80->tcp_dst");
        assert_eq!(action_format(&set(Mff::VlanTci, 0x4000, 0xe000)), "set_field:0x4000/0xe000->vlan_tci");
        assert_eq!(action_format(&set(Mff::Reg(14), 0, 0xffff_ffff)), "set_field:0->reg14");
        assert_eq!(actions_format(&[]), "drop");
    }
}
