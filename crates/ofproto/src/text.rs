//! Matches and actions in `ovs-ofctl`'s text, and flows parsed from it:
//! what `ofproto/trace` reads and prints.
//!
//! Matches are written with OVS's classic names (`dl_src`, `nw_dst`,
//! `tp_src`, `reg0`, …), Ethernet type and IP protocol folded into the
//! shorthands (`ip`, `udp`, `arp`, `tcp6`, …) and prefixes of addresses as
//! `/len`. The parser takes the same names, plus the `ovs-fields(7)` names
//! of the same fields (`eth_src`, `ip_dst`, `udp_src`, …).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::actions::{Action, Subfield};
use crate::flowmatch::{be, field, put_be, slot, Match, Slot};
use crate::port;

pub use dataplane::text::Kind;

/// Slots with their classic names, in the order OVS prints them: these,
/// the registers, then [`NAMED_TAIL`].
const NAMED_HEAD: [(&str, Slot, Kind); 12] = [
    ("recirc_id", slot::RECIRC_ID, Kind::Hex),
    ("conj_id", slot::CONJ_ID, Kind::Dec),
    ("ct_state", slot::CT_STATE, Kind::Hex),
    ("ct_zone", slot::CT_ZONE, Kind::Dec),
    ("ct_mark", slot::CT_MARK, Kind::Hex),
    ("ct_label", slot::CT_LABEL, Kind::Hex),
    ("tun_id", slot::TUN_ID, Kind::Hex),
    ("tun_src", slot::TUN_SRC, Kind::Ip4),
    ("tun_dst", slot::TUN_DST, Kind::Ip4),
    ("metadata", slot::METADATA, Kind::Hex),
    ("pkt_mark", slot::PKT_MARK, Kind::Hex),
    ("in_port", slot::IN_PORT, Kind::Port),
];

/// The slots named after the registers.
const NAMED_TAIL: [(&str, Slot, Kind); 17] = [
    ("vlan_tci", slot::VLAN_TCI, Kind::Hex),
    ("dl_src", slot::DL_SRC, Kind::Mac),
    ("dl_dst", slot::DL_DST, Kind::Mac),
    ("nw_src", slot::NW_SRC, Kind::Ip4),
    ("nw_dst", slot::NW_DST, Kind::Ip4),
    ("ipv6_src", slot::IPV6_SRC, Kind::Ip6),
    ("ipv6_dst", slot::IPV6_DST, Kind::Ip6),
    ("ipv6_label", slot::IPV6_LABEL, Kind::Hex),
    ("nw_tos", slot::NW_TOS, Kind::Dec),
    ("nw_ttl", slot::NW_TTL, Kind::Dec),
    ("nw_frag", slot::NW_FRAG, Kind::Frag),
    ("arp_sha", slot::ARP_SHA, Kind::Mac),
    ("arp_tha", slot::ARP_THA, Kind::Mac),
    ("tp_src", slot::TP_SRC, Kind::Dec),
    ("tp_dst", slot::TP_DST, Kind::Dec),
    ("tcp_flags", slot::TCP_FLAGS, Kind::Hex),
    ("nd_target", slot::ND_TARGET, Kind::Ip6),
];

/// Every named slot, in order.
fn named_slots() -> Vec<(String, Slot, Kind)> {
    let own = |&(n, s, k): &(&str, Slot, Kind)| (n.to_owned(), s, k);
    let regs = (0..16u8).map(|i| (format!("reg{i}"), slot::reg(i), Kind::Hex));
    NAMED_HEAD.iter().map(own).chain(regs).chain(NAMED_TAIL.iter().map(own)).collect()
}

/// Other names the parser accepts for those slots.
const SYNONYMS: [(&str, &str); 14] = [
    ("eth_src", "dl_src"),
    ("eth_dst", "dl_dst"),
    ("ip_src", "nw_src"),
    ("ip_dst", "nw_dst"),
    ("arp_spa", "nw_src"),
    ("arp_tpa", "nw_dst"),
    ("ip_ttl", "nw_ttl"),
    ("ip_frag", "nw_frag"),
    ("tcp_src", "tp_src"),
    ("tcp_dst", "tp_dst"),
    ("udp_src", "tp_src"),
    ("udp_dst", "tp_dst"),
    ("sctp_src", "tp_src"),
    ("sctp_dst", "tp_dst"),
];

/// Ethernet type and IP protocol shorthands.
const SHORTHANDS: [(&str, u16, Option<u8>); 12] = [
    ("ip", 0x0800, None),
    ("ipv6", 0x86dd, None),
    ("arp", 0x0806, None),
    ("rarp", 0x8035, None),
    ("icmp", 0x0800, Some(1)),
    ("tcp", 0x0800, Some(6)),
    ("udp", 0x0800, Some(17)),
    ("sctp", 0x0800, Some(132)),
    ("icmp6", 0x86dd, Some(58)),
    ("tcp6", 0x86dd, Some(6)),
    ("udp6", 0x86dd, Some(17)),
    ("sctp6", 0x86dd, Some(132)),
];

/// A reserved port's name, or the number.
pub fn port_text(p: u16) -> String {
    match p {
        port::IN_PORT => "IN_PORT".into(),
        port::TABLE => "TABLE".into(),
        port::NORMAL => "NORMAL".into(),
        port::FLOOD => "FLOOD".into(),
        port::ALL => "ALL".into(),
        port::CONTROLLER => "CONTROLLER".into(),
        port::LOCAL => "LOCAL".into(),
        port::NONE => "NONE".into(),
        p => p.to_string(),
    }
}

/// A value as `ovs-ofctl` and `ovs-appctl dpctl/dump-flows` write it.
pub fn value_text(v: u128, kind: Kind) -> String {
    match kind {
        Kind::Port => port_text(v as u16),
        _ => dataplane::text::value_text(v, kind),
    }
}

/// `value` or `value/mask` (`/len` for an address prefix).
fn masked_text(v: u128, m: u128, bits: u32, kind: Kind) -> String {
    let full = u128::MAX >> (128 - bits);
    if m == full {
        return value_text(v, kind);
    }
    let len = (m << (128 - bits)).leading_ones();
    let prefix = m.count_ones() == len;
    match kind {
        Kind::Ip4 | Kind::Ip6 if prefix => format!("{}/{len}", value_text(v, kind)),
        Kind::Frag => match (v, m) {
            (1, 1) => "yes".into(),
            (0, 1) => "no".into(),
            (0, 2) => "not_later".into(),
            _ => "later".into(),
        },
        Kind::Dec | Kind::Port => format!("{v:#x}/{m:#x}"),
        _ => format!("{}/{}", value_text(v, kind), value_text(m, if kind == Kind::Ip4 || kind == Kind::Ip6 { kind } else { Kind::Hex })),
    }
}

/// A match as `ovs-ofctl dump-flows` writes it (`priority` not included).
pub fn match_text(m: &Match) -> String {
    let mut parts = Vec::new();
    // OVS writes the recirculation id first, the shorthands after it.
    if m.slot_mask(slot::RECIRC_ID) != 0 {
        parts.push(format!("recirc_id={}", masked_text(m.slot_value(slot::RECIRC_ID), m.slot_mask(slot::RECIRC_ID), 32, Kind::Hex)));
    }
    let dl_type = (m.slot_mask(slot::DL_TYPE) == 0xffff).then(|| m.slot_value(slot::DL_TYPE) as u16);
    let proto = (m.slot_mask(slot::NW_PROTO) == 0xff).then(|| m.slot_value(slot::NW_PROTO) as u8);
    let find = |p: Option<u8>| SHORTHANDS.iter().find(|(_, st, sp)| Some(*st) == dl_type && *sp == p).map(|(n, _, sp)| (*n, sp.is_some()));
    let short = proto.and_then(|p| find(Some(p))).or_else(|| find(None));
    if let Some((name, with_proto)) = short {
        parts.push(name.to_owned());
        if !with_proto {
            parts.extend(proto.map(|p| format!("nw_proto={p}")));
        }
    } else {
        parts.extend(dl_type.map(|t| format!("dl_type={t:#06x}")));
        parts.extend(proto.map(|p| format!("nw_proto={p}")));
    }
    for (name, s, kind) in named_slots().into_iter().filter(|(_, s, _)| *s != slot::RECIRC_ID) {
        let mask = m.slot_mask(s);
        if mask != 0 {
            let bits = 8 * s.range().len() as u32;
            let name = match (name.as_str(), dl_type) {
                ("nw_src", Some(0x0806 | 0x8035)) => "arp_spa",
                ("nw_dst", Some(0x0806 | 0x8035)) => "arp_tpa",
                (n, _) => n,
            };
            parts.push(format!("{name}={}", masked_text(m.slot_value(s), mask, bits, kind)));
        }
    }
    for md in &m.tun_md {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        parts.push(format!("tun_metadata{}=0x{}/0x{}", md.index, hex(&md.value), hex(&md.mask)));
    }
    parts.join(",")
}

/// Parses a flow such as `in_port=1,udp,nw_dst=10.1.0.1,tp_src=1024`
/// into a match (masks where given, exact otherwise).
pub fn parse_match(text: &str) -> Result<Match, String> {
    let slots = named_slots();
    let mut m = Match::catchall();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (item, None),
        };
        if let Some((_, t, p)) = SHORTHANDS.iter().find(|(n, _, _)| *n == name) {
            put_slot(&mut m, slot::DL_TYPE, u128::from(*t), 0xffff);
            if let Some(p) = p {
                put_slot(&mut m, slot::NW_PROTO, u128::from(*p), 0xff);
            }
            continue;
        }
        let value = value.ok_or_else(|| format!("{name}: a field needs a value"))?;
        let name = SYNONYMS.iter().find(|(s, _)| *s == name).map_or(name, |(_, n)| n);
        let (s, v, mask) = match name {
            "dl_type" | "eth_type" => (slot::DL_TYPE, parse_number(value)?, None),
            "nw_proto" | "ip_proto" => (slot::NW_PROTO, parse_number(value)?, None),
            "dl_vlan" | "vlan_vid" => (slot::VLAN_TCI, parse_number(value)? | 0x1000, Some(0x1fff)),
            // The DSCP bits of the TOS byte, as OVS matches nw_tos (the
            // ECN bits are nw_ecn's).
            "nw_tos" => (slot::NW_TOS, parse_number(value)? & 0xfc, Some(0xfc)),
            _ => {
                let (_, s, kind) = slots.iter().find(|(n, _, _)| n == name).ok_or_else(|| format!("{name}: unknown field"))?;
                let (v, mask) = parse_masked(value, *kind, 8 * s.range().len() as u32)?;
                (*s, v, mask)
            }
        };
        let bits = 8 * s.range().len() as u32;
        let full = u128::MAX >> (128 - bits);
        if v > full {
            return Err(format!("{name}={value}: too large for the field"));
        }
        put_slot(&mut m, s, v, mask.unwrap_or(full));
    }
    Ok(m)
}

fn put_slot(m: &mut Match, s: Slot, v: u128, mask: u128) {
    put_be(&mut m.flow[s.range()], v & mask);
    put_be(&mut m.wc[s.range()], mask);
}

fn parse_number(s: &str) -> Result<u128, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u128::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("{s}: not a number"))
}

fn parse_value(s: &str, kind: Kind) -> Result<u128, String> {
    match kind {
        Kind::Mac => {
            let parts: Vec<&str> = s.split(':').collect();
            if parts.len() != 6 {
                return Err(format!("{s}: not an Ethernet address"));
            }
            parts.iter().try_fold(0u128, |v, p| {
                Ok(v << 8 | u128::from(u8::from_str_radix(p, 16).map_err(|_| format!("{s}: not an Ethernet address"))?))
            })
        }
        Kind::Ip4 => s.parse::<Ipv4Addr>().map(|a| u128::from(u32::from(a))).map_err(|_| format!("{s}: not an IPv4 address")),
        Kind::Ip6 => s.parse::<Ipv6Addr>().map(u128::from).map_err(|_| format!("{s}: not an IPv6 address")),
        Kind::Port => match s {
            "LOCAL" => Ok(u128::from(port::LOCAL)),
            "CONTROLLER" => Ok(u128::from(port::CONTROLLER)),
            _ => parse_number(s),
        },
        Kind::Frag => match s {
            "no" => Ok(0),
            "first" => Ok(1),
            "later" => Ok(3),
            _ => Err(format!("{s}: nw_frag is no, first or later")),
        },
        Kind::Dec | Kind::Hex => parse_number(s),
    }
}

/// `value`, `value/mask` or, for addresses, `value/len`.
fn parse_masked(s: &str, kind: Kind, bits: u32) -> Result<(u128, Option<u128>), String> {
    let Some((v, m)) = s.split_once('/') else {
        return Ok((parse_value(s, kind)?, None));
    };
    let v = parse_value(v, kind)?;
    let m = match (kind, m.parse::<u32>()) {
        (Kind::Ip4 | Kind::Ip6, Ok(len)) if len <= bits => {
            (u128::MAX >> (128 - bits)) & !(u128::MAX >> (128 - bits)).checked_shr(len).unwrap_or(0)
        }
        (Kind::Ip4 | Kind::Ip6 | Kind::Mac, _) => parse_value(m, kind)?,
        _ => parse_number(m)?,
    };
    Ok((v, Some(m)))
}

/// A subfield as `ovs-ofctl` writes it: `reg0[]`, `reg0[0..15]`.
fn subfield_text(sf: &Subfield) -> String {
    let f = field(sf.field);
    if sf.ofs == 0 && sf.n_bits == f.bits {
        format!("{}[]", f.name)
    } else if sf.n_bits == 1 {
        format!("{}[{}]", f.name, sf.ofs)
    } else {
        format!("{}[{}..{}]", f.name, sf.ofs, sf.ofs + sf.n_bits - 1)
    }
}

/// An action list as `ovs-ofctl` writes it.
pub fn actions_text(actions: &[Action]) -> String {
    action_list(actions, action_text)
}

/// An action list with `one` writing each: `drop` for none, else the
/// actions separated by commas.
pub(crate) fn action_list(actions: &[Action], one: fn(&Action) -> String) -> String {
    if actions.is_empty() {
        return "drop".into();
    }
    actions.iter().map(one).collect::<Vec<_>>().join(",")
}

/// One action as `ovs-ofctl` writes it.
pub fn action_text(a: &Action) -> String {
    use Action as A;
    match a {
        A::Output { port: p, .. } if *p < port::MAX || *p == port::LOCAL => format!("output:{}", port_text(*p)),
        A::Output { port: port::CONTROLLER, max_len } => format!("CONTROLLER:{max_len}"),
        A::Output { port: p, .. } => port_text(*p),
        A::Controller { max_len, id, reason, userdata, pause, .. } => {
            let mut s = format!("controller(max_len={max_len}");
            if *id != 0 {
                let _ = write!(s, ",id={id}");
            }
            if *reason != 1 {
                let _ = write!(s, ",reason={reason}");
            }
            if !userdata.is_empty() {
                let _ = write!(s, ",userdata={}", userdata.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join("."));
            }
            if *pause {
                s.push_str(",pause");
            }
            s + ")"
        }
        A::Ct { flags, table, actions, .. } => {
            let mut parts = Vec::new();
            if flags & 1 != 0 {
                parts.push("commit".to_owned());
            }
            if *table != 255 {
                parts.push(format!("table={table}"));
            }
            if !actions.is_empty() {
                parts.push(format!("exec({})", actions_text(actions)));
            }
            format!("ct({})", parts.join(","))
        }
        A::Nat { .. } => "nat".into(),
        A::CheckPktLarger { pkt_len, dst } => format!("check_pkt_larger({pkt_len})->{}", subfield_text(dst)),
        A::Learn(l) => format!("learn(table={},priority={})", l.table, l.priority),
        A::Enqueue { port: p, queue } => format!("enqueue:{}:{queue}", port_text(*p)),
        A::SetVlanVid { vid, .. } => format!("mod_vlan_vid:{vid}"),
        A::SetVlanPcp { pcp, .. } => format!("mod_vlan_pcp:{pcp}"),
        A::StripVlan { of10: true } => "strip_vlan".into(),
        A::StripVlan { of10: false } => "pop_vlan".into(),
        A::PushVlan { ethertype } => format!("push_vlan:{ethertype:#06x}"),
        A::SetEthSrc(m) => format!("mod_dl_src:{}", value_text(be(m), Kind::Mac)),
        A::SetEthDst(m) => format!("mod_dl_dst:{}", value_text(be(m), Kind::Mac)),
        A::SetIpv4Src(a) => format!("mod_nw_src:{}", Ipv4Addr::from(*a)),
        A::SetIpv4Dst(a) => format!("mod_nw_dst:{}", Ipv4Addr::from(*a)),
        A::SetIpDscp(d) => format!("mod_nw_tos:{d}"),
        A::SetIpEcn(e) => format!("mod_nw_ecn:{e}"),
        A::SetIpTtl(t) => format!("mod_nw_ttl:{t}"),
        A::SetL4Src(p) => format!("mod_tp_src:{p}"),
        A::SetL4Dst(p) => format!("mod_tp_dst:{p}"),
        // As OVS, NXAST_DEC_TTL_CNT_IDS prints its ids, even none.
        A::DecTtl { ids, cnt_ids: false } if ids.is_empty() || ids == &[0] => "dec_ttl".into(),
        A::DecTtl { ids, .. } => format!("dec_ttl({})", ids.iter().map(u16::to_string).collect::<Vec<_>>().join(",")),
        A::SetField { field: f, value, mask, reg_load } => {
            let f = field(*f);
            let full = u128::MAX >> (128 - u32::from(f.bits).max(1));
            match reg_load {
                true if *mask != 0 => {
                    let ofs = mask.trailing_zeros() as u16;
                    let n_bits = (128 - mask.leading_zeros()) as u16 - ofs;
                    let sf = Subfield { field: f.id, ofs, n_bits };
                    format!("load:{:#x}->{}", value >> ofs, subfield_text(&sf))
                }
                _ if *mask == full => format!("set_field:{value:#x}->{}", f.name),
                _ => format!("set_field:{value:#x}/{mask:#x}->{}", f.name),
            }
        }
        A::RegMove { src, dst } => format!("move:{}->{}", subfield_text(src), subfield_text(dst)),
        A::OutputReg { src, .. } => format!("output:{}", subfield_text(src)),
        A::Clone(inner) => format!("clone({})", actions_text(inner)),
        A::StackPush(sf) => format!("push:{}", subfield_text(sf)),
        A::StackPop(sf) => format!("pop:{}", subfield_text(sf)),
        A::Resubmit { in_port, table, .. } => {
            let p = if *in_port == port::IN_PORT { String::new() } else { port_text(*in_port) };
            if *table == 255 {
                format!("resubmit:{p}")
            } else {
                format!("resubmit({p},{table})")
            }
        }
        A::SetTunnel { id, .. } => format!("set_tunnel:{id:#x}"),
        A::SetQueue(q) => format!("set_queue:{q}"),
        A::PopQueue => "pop_queue".into(),
        A::Note(b) => format!("note:{}", b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(".")),
        A::Group(g) => format!("group:{g}"),
        A::Sample(sm) => {
            let mut t = format!(
                "sample(probability={},collector_set_id={},obs_domain_id={},obs_point_id={}",
                sm.probability, sm.collector_set_id, sm.obs_domain_id, sm.obs_point_id
            );
            if sm.sampling_port != 0xffff {
                t.push_str(&format!(",sampling_port={}", port_text(sm.sampling_port)));
            }
            t.push_str(match sm.direction {
                1 => ",ingress)",
                2 => ",egress)",
                _ => ")",
            });
            t
        }
        A::Meter(m) => format!("meter:{m}"),
        A::GotoTable(t) => format!("goto_table:{t}"),
        A::WriteMetadata { value, mask } if *mask == u64::MAX => format!("write_metadata:{value:#x}"),
        A::WriteMetadata { value, mask } => format!("write_metadata:{value:#x}/{mask:#x}"),
        A::ClearActions => "clear_actions".into(),
        A::WriteActions(list) => format!("write_actions({})", actions_text(list)),
        A::CtClear => "ct_clear".into(),
        A::Exit => "exit".into(),
        A::Conjunction { id, clause, n_clauses } => format!("conjunction({id},{}/{n_clauses})", clause + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowmatch::Mff;

    #[test]
    fn a_parsed_flow_prints_back_the_same() {
        for text in [
            "udp,in_port=1,nw_dst=10.1.0.0/16,tp_src=1024",
            "arp,dl_src=02:00:00:00:00:01,arp_tpa=10.0.0.1",
            "tcp6,ipv6_dst=2001:db8::/32,tp_dst=80",
            "ip,metadata=0x1,reg0=0x400,nw_ttl=64",
            "dl_type=0x88cc,in_port=LOCAL",
        ] {
            let m = parse_match(text).unwrap();
            assert_eq!(match_text(&m), text);
        }
    }

    #[test]
    fn synonyms_and_errors() {
        let m = parse_match("udp,udp_src=53,ip_dst=10.0.0.1").unwrap();
        assert_eq!(match_text(&m), "udp,nw_dst=10.0.0.1,tp_src=53");
        for bad in ["nw_dst=10.0.0", "tp_src=70000", "bogus=1", "dl_src=1:2:3", "nw_src"] {
            assert!(parse_match(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn actions_print_as_ovs_ofctl_writes_them() {
        let acts = [
            Action::SetField { field: Mff::Reg(0), value: 1024, mask: 0xffff_ffff, reg_load: true },
            Action::Resubmit { in_port: port::IN_PORT, table: 2, with_table: true },
            Action::Output { port: 2, max_len: 0 },
            Action::Output { port: port::NORMAL, max_len: 0 },
        ];
        assert_eq!(actions_text(&acts), "load:0x400->reg0[],resubmit(,2),output:2,NORMAL");
        assert_eq!(actions_text(&[]), "drop");
    }
}
