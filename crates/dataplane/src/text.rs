//! The datapath's text formats, as `ovs-appctl dpctl/dump-flows` and
//! `ofproto/trace` write them (OVS's `odp-util`): megaflows and their
//! actions, beside the types they print.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::key::{read_field, Field};
use crate::{Action, Megaflow};

/// How a field's value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Decimal.
    Dec,
    /// Hexadecimal, as C's `%#x`.
    Hex,
    /// An Ethernet address (the low 48 bits).
    Mac,
    /// An IPv4 address.
    Ip4,
    /// An IPv6 address.
    Ip6,
    /// `nw_frag`: no, first or later.
    Frag,
    /// A port number (in decimal here; OpenFlow's text names its
    /// reserved ports).
    Port,
}

/// A value as OVS writes it.
pub fn value_text(v: u128, kind: Kind) -> String {
    match kind {
        Kind::Dec | Kind::Port => v.to_string(),
        // As C's `%#x`: zero without the prefix.
        Kind::Hex if v == 0 => "0".into(),
        Kind::Hex => format!("{v:#x}"),
        Kind::Mac => v.to_be_bytes()[10..].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
        Kind::Ip4 => Ipv4Addr::from(v as u32).to_string(),
        Kind::Ip6 => Ipv6Addr::from(v).to_string(),
        Kind::Frag => match v {
            0 => "no",
            1 => "first",
            _ => "later",
        }
        .into(),
    }
}

/// `name(a=1,b=2/0xff)` for the fields of a group that the mask matches
/// on; `None` when it matches on none. Exact fields omit the mask.
fn group(key: &[u64], mask: &[u64], name: &str, fields: &[(&str, Field, Kind)]) -> Option<String> {
    let parts: Vec<String> = fields
        .iter()
        .filter_map(|&(label, f, kind)| {
            let m = read_field(mask, f);
            if m == 0 {
                return None;
            }
            let v = value_text(read_field(key, f), kind);
            let exact = m == f.max_value() || matches!(kind, Kind::Frag);
            Some(if exact { format!("{label}={v}") } else { format!("{label}={v}/{}", value_text(m, kind)) })
        })
        .collect();
    (!parts.is_empty()).then(|| format!("{name}({})", parts.join(",")))
}

/// One megaflow as `ovs-appctl dpctl/dump-flows` prints it.
pub fn megaflow_text(f: &Megaflow, now: u64, verbose: bool) -> String {
    let (key, mask) = (f.key().words, f.mask().words);
    let (k, m) = (&key[..], &mask[..]);
    let mut parts = vec![
        format!("recirc_id({})", read_field(k, Field::RECIRC_ID)),
        format!("in_port({})", read_field(k, Field::IN_PORT)),
        "packet_type(ns=0,id=0)".to_owned(),
    ];
    parts.extend(group(k, m, "eth", &[("src", Field::ETH_SRC, Kind::Mac), ("dst", Field::ETH_DST, Kind::Mac)]));
    if read_field(m, Field::VLAN0_TPID) != 0 {
        let tci = read_field(k, Field::VLAN0_TCI);
        if read_field(k, Field::VLAN0_TPID) == 0 {
            parts.push("vlan(none)".to_owned());
        } else if read_field(m, Field::VLAN0_TCI) != 0 {
            parts.push(format!("vlan(vid={},pcp={})", tci & 0xfff, tci >> 13));
        }
    }
    if read_field(m, Field::ETH_TYPE) != 0 {
        parts.push(format!("eth_type({:#06x})", read_field(k, Field::ETH_TYPE)));
    }
    let eth_type = read_field(k, Field::ETH_TYPE);
    let l3 = match eth_type {
        0x0800 => group(
            k,
            m,
            "ipv4",
            &[
                ("src", Field::NW_SRC, Kind::Ip4),
                ("dst", Field::NW_DST, Kind::Ip4),
                ("proto", Field::NW_PROTO, Kind::Dec),
                ("tos", Field::NW_TOS, Kind::Hex),
                ("ttl", Field::NW_TTL, Kind::Dec),
                ("frag", Field::NW_FRAG, Kind::Frag),
            ],
        ),
        0x86dd => group(
            k,
            m,
            "ipv6",
            &[
                ("src", Field::IPV6_SRC, Kind::Ip6),
                ("dst", Field::IPV6_DST, Kind::Ip6),
                ("label", Field::IPV6_LABEL, Kind::Hex),
                ("proto", Field::NW_PROTO, Kind::Dec),
                ("tclass", Field::NW_TOS, Kind::Hex),
                ("hlimit", Field::NW_TTL, Kind::Dec),
                ("frag", Field::NW_FRAG, Kind::Frag),
            ],
        ),
        0x0806 => group(
            k,
            m,
            "arp",
            &[
                ("sip", Field::NW_SRC, Kind::Ip4),
                ("tip", Field::NW_DST, Kind::Ip4),
                ("op", Field::NW_PROTO, Kind::Dec),
                ("sha", Field::ARP_SHA, Kind::Mac),
                ("tha", Field::ARP_THA, Kind::Mac),
            ],
        ),
        _ => None,
    };
    parts.extend(l3);
    let l4 = match read_field(k, Field::NW_PROTO) {
        6 => "tcp",
        17 => "udp",
        132 => "sctp",
        1 => "icmp",
        58 => "icmpv6",
        _ => "l4",
    };
    let (a, b) = if l4.starts_with("icmp") { ("type", "code") } else { ("src", "dst") };
    parts.extend(group(k, m, l4, &[(a, Field::TP_SRC, Kind::Dec), (b, Field::TP_DST, Kind::Dec)]));
    parts.extend(group(k, m, "tcp_flags", &[("", Field::TCP_FLAGS, Kind::Hex)]).map(|g| g.replace("(=", "(")));
    let s = f.stats().snapshot();
    let used = if s.used == 0 { "never".to_owned() } else { format!("{:.3}s", now.saturating_sub(s.used) as f64 / 1000.0) };
    let mut line = String::new();
    if verbose {
        line.push_str("flow-dump from pmd: ");
    }
    let _ =
        write!(line, "{}, packets:{}, bytes:{}, used:{used}, actions:{}", parts.join(","), s.packets, s.bytes, actions_text(f.actions()));
    line
}

/// Datapath actions as OVS writes them.
pub fn actions_text(actions: &[Action]) -> String {
    if actions.is_empty() {
        return "drop".to_owned();
    }
    actions
        .iter()
        .map(|a| match a {
            Action::Output(p) => p.to_string(),
            Action::PushVlan { tpid, tci } => {
                let tpid = if *tpid == 0x8100 { String::new() } else { format!("tpid={tpid:#x},") };
                format!("push_vlan({tpid}vid={},pcp={})", tci & 0xfff, tci >> 13)
            }
            Action::Clone(inner) => format!("clone({})", actions_text(inner)),
            Action::CheckPktLen { size, greater, less_equal } => {
                format!("check_pkt_len(size={size},gt({}),le({}))", actions_text(greater), actions_text(less_equal))
            }
            Action::Userspace(_) => "userspace(pid=0,controller)".to_owned(),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}
