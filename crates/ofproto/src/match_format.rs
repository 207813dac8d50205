//! A match in the text of OVS's `match_format` (`lib/match.c`), field for
//! field in its order: what `ovs-ofctl dump-flows` prints for a flow and
//! OVN's `test-ovn expr-to-flows` for a match. ([`crate::text`] writes the
//! shorter form `ofproto/trace` reads back.)
//!
//! The order: `pkt_mark`, `recirc_id`, `conj_id`, the connection-tracking
//! fields, the Ethernet type as a shorthand (`ip`, `tcp6`, `arp`, …), the
//! registers, the tunnel, `metadata`, `in_port`, the VLAN, the Ethernet
//! addresses, then the network and transport fields under the names the
//! Ethernet type gives them (`arp_spa` or `nw_src`, `icmp_type` or
//! `tp_src`).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::flowmatch::{full, slot, Match, Slot};
use crate::text::port_text;

const ETH_TYPE_IP: u128 = 0x0800;
const ETH_TYPE_IPV6: u128 = 0x86dd;
const ETH_TYPE_ARP: u128 = 0x0806;
const ETH_TYPE_RARP: u128 = 0x8035;

/// Connection-tracking state bits by number.
const CT_STATE_NAMES: [&str; 8] = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"];
/// TCP flag bits by number.
const TCP_FLAG_NAMES: [&str; 12] = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns", "[200]", "[400]", "[800]"];

struct Out {
    text: String,
}

impl Out {
    fn put(&mut self, item: impl AsRef<str>) {
        self.text.push_str(item.as_ref());
        self.text.push(',');
    }

    /// `name=0x…` (`%#x`), with `/0x…` unless the mask is `full`.
    fn hex_masked(&mut self, name: &str, v: u128, m: u128, full: u128) {
        if m == 0 {
            return;
        }
        let mut s = format!("{name}={}", hex(v));
        if m != full {
            let _ = write!(s, "/{}", hex(m));
        }
        self.put(s);
    }

    /// `name=N` in decimal under a full mask, else `name=0x…/0x…`.
    fn dec_masked(&mut self, name: &str, v: u128, m: u128, full: u128) {
        if m == 0 {
            return;
        }
        if m == full {
            self.put(format!("{name}={v}"));
        } else {
            self.put(format!("{name}={v:#x}/{m:#x}"));
        }
    }

    fn ip4(&mut self, name: &str, v: u128, m: u128) {
        if m == 0 {
            return;
        }
        let addr = |x: u128| Ipv4Addr::from(x as u32);
        let m32 = m as u32;
        if m32 == u32::MAX {
            self.put(format!("{name}={}", addr(v)));
        } else if m32.leading_ones() + m32.trailing_zeros() == 32 {
            self.put(format!("{name}={}/{}", addr(v), m32.leading_ones()));
        } else {
            self.put(format!("{name}={}/{}", addr(v), addr(m)));
        }
    }

    fn ip6(&mut self, name: &str, v: u128, m: u128) {
        if m == 0 {
            return;
        }
        if m == u128::MAX {
            self.put(format!("{name}={}", Ipv6Addr::from(v)));
        } else if m.leading_ones() + m.trailing_zeros() == 128 {
            self.put(format!("{name}={}/{}", Ipv6Addr::from(v), m.leading_ones()));
        } else {
            self.put(format!("{name}={}/{}", Ipv6Addr::from(v), Ipv6Addr::from(m)));
        }
    }

    fn mac(&mut self, name: &str, v: u128, m: u128) {
        if m == 0 {
            return;
        }
        let text = |x: u128| {
            let b = (x as u64).to_be_bytes();
            format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[2], b[3], b[4], b[5], b[6], b[7])
        };
        if m == full(6) {
            self.put(format!("{name}={}", text(v)));
        } else {
            self.put(format!("{name}={}/{}", text(v), text(m)));
        }
    }

    /// `+name-name…` for the bits of `m`, or the set bits joined by
    /// `sep` when `m` is all of them.
    fn flags(&mut self, name: &str, v: u128, m: u128, all: u128, names: &[&str], sep: char) {
        if m == 0 {
            return;
        }
        let bit_name = |i: usize| names.get(i).copied().unwrap_or("[Unknown]");
        let text = if m & all == all {
            if v == 0 {
                "0".to_owned()
            } else {
                let set: Vec<&str> = (0..names.len()).filter(|&i| v >> i & 1 == 1).map(bit_name).collect();
                set.join(&sep.to_string())
            }
        } else {
            (0..128usize)
                .filter(|&i| m >> i & 1 == 1)
                .map(|i| format!("{}{}", if v >> i & 1 == 1 { '+' } else { '-' }, bit_name(i)))
                .collect()
        };
        self.put(format!("{name}={text}"));
    }
}

/// Every bit of a slot.
fn whole(s: Slot) -> u128 {
    full(s.range().len() as u8)
}

/// OVS's hexadecimal form of a value (C's `%#x`, `ds_put_hex`): `0x…`
/// without leading zeros, or `0`.
pub fn hex(v: u128) -> String {
    if v == 0 {
        "0".to_owned()
    } else {
        format!("{v:#x}")
    }
}

/// `m` as OVS's `match_format` writes it (without a priority).
pub fn match_format(m: &Match) -> String {
    let val = |s: Slot| m.slot_value(s);
    let mask = |s: Slot| m.slot_mask(s);
    let mut out = Out { text: String::new() };
    out.hex_masked("pkt_mark", val(slot::PKT_MARK), mask(slot::PKT_MARK), whole(slot::PKT_MARK));
    out.hex_masked("recirc_id", val(slot::RECIRC_ID), mask(slot::RECIRC_ID), u128::MAX);
    if mask(slot::CONJ_ID) != 0 {
        out.put(format!("conj_id={}", val(slot::CONJ_ID)));
    }
    let ct = mask(slot::CT_STATE) & 0xff;
    if ct == 0xff {
        let v = val(slot::CT_STATE);
        let text = if v == 0 {
            "0".to_owned()
        } else {
            (0..8).filter(|&i| v >> i & 1 == 1).map(|i| CT_STATE_NAMES[i]).collect::<Vec<_>>().join("|")
        };
        out.put(format!("ct_state={text}"));
    } else {
        out.flags("ct_state", val(slot::CT_STATE), ct, 0xff, &CT_STATE_NAMES, '/');
    }
    out.dec_masked("ct_zone", val(slot::CT_ZONE), mask(slot::CT_ZONE), whole(slot::CT_ZONE));
    out.hex_masked("ct_mark", val(slot::CT_MARK), mask(slot::CT_MARK), whole(slot::CT_MARK));
    out.hex_masked("ct_label", val(slot::CT_LABEL), mask(slot::CT_LABEL), u128::MAX);
    out.ip4("ct_nw_src", val(slot::CT_NW_SRC), mask(slot::CT_NW_SRC));
    out.ip6("ct_ipv6_src", val(slot::CT_IPV6_SRC), mask(slot::CT_IPV6_SRC));
    out.ip4("ct_nw_dst", val(slot::CT_NW_DST), mask(slot::CT_NW_DST));
    out.ip6("ct_ipv6_dst", val(slot::CT_IPV6_DST), mask(slot::CT_IPV6_DST));
    if mask(slot::CT_NW_PROTO) != 0 {
        out.put(format!("ct_nw_proto={}", val(slot::CT_NW_PROTO)));
        out.dec_masked("ct_tp_src", val(slot::CT_TP_SRC), mask(slot::CT_TP_SRC), 0xffff);
        out.dec_masked("ct_tp_dst", val(slot::CT_TP_DST), mask(slot::CT_TP_DST), 0xffff);
    }

    let dl_type = if mask(slot::DL_TYPE) != 0 { val(slot::DL_TYPE) } else { 0 };
    let proto_known = mask(slot::NW_PROTO) != 0;
    let proto = val(slot::NW_PROTO);
    let (mut skip_type, mut skip_proto) = (false, false);
    if mask(slot::DL_TYPE) != 0 {
        skip_type = true;
        let named = |v4: &'static str, v6: &'static str| if dl_type == ETH_TYPE_IP { v4 } else { v6 };
        match dl_type {
            ETH_TYPE_IP | ETH_TYPE_IPV6 => {
                let short = match (proto_known, proto) {
                    (true, 1) if dl_type == ETH_TYPE_IP => Some("icmp"),
                    (true, 58) if dl_type == ETH_TYPE_IPV6 => Some("icmp6"),
                    (true, 6) => Some(named("tcp", "tcp6")),
                    (true, 17) => Some(named("udp", "udp6")),
                    (true, 132) => Some(named("sctp", "sctp6")),
                    _ => None,
                };
                skip_proto = short.is_some();
                out.put(short.unwrap_or(named("ip", "ipv6")));
            }
            ETH_TYPE_ARP => out.put("arp"),
            ETH_TYPE_RARP => out.put("rarp"),
            0x8847 => out.put("mpls"),
            0x8848 => out.put("mplsm"),
            _ => skip_type = false,
        }
    }
    for i in 0..16u8 {
        out.hex_masked(&format!("reg{i}"), val(slot::reg(i)), mask(slot::reg(i)), full(4));
    }
    out.hex_masked("tun_id", val(slot::TUN_ID), mask(slot::TUN_ID), u128::MAX >> 64);
    out.ip4("tun_src", val(slot::TUN_SRC), mask(slot::TUN_SRC));
    out.ip4("tun_dst", val(slot::TUN_DST), mask(slot::TUN_DST));
    out.hex_masked("metadata", val(slot::METADATA), mask(slot::METADATA), u128::MAX >> 64);
    if mask(slot::IN_PORT) != 0 {
        out.put(format!("in_port={}", port_text(val(slot::IN_PORT) as u16)));
    }
    vlan(&mut out, val(slot::VLAN_TCI), mask(slot::VLAN_TCI));
    out.mac("dl_src", val(slot::DL_SRC), mask(slot::DL_SRC));
    out.mac("dl_dst", val(slot::DL_DST), mask(slot::DL_DST));
    if !skip_type && mask(slot::DL_TYPE) != 0 {
        out.put(format!("dl_type=0x{dl_type:04x}"));
    }
    let arp = matches!(dl_type, ETH_TYPE_ARP | ETH_TYPE_RARP);
    if dl_type == ETH_TYPE_IPV6 {
        out.ip6("ipv6_src", val(slot::IPV6_SRC), mask(slot::IPV6_SRC));
        out.ip6("ipv6_dst", val(slot::IPV6_DST), mask(slot::IPV6_DST));
        let (v, m) = (val(slot::IPV6_LABEL), mask(slot::IPV6_LABEL));
        if m != 0 {
            if m == whole(slot::IPV6_LABEL) {
                out.put(format!("ipv6_label=0x{v:05x}"));
            } else {
                out.put(format!("ipv6_label=0x{v:05x}/0x{m:05x}"));
            }
        }
    } else if arp {
        out.ip4("arp_spa", val(slot::NW_SRC), mask(slot::NW_SRC));
        out.ip4("arp_tpa", val(slot::NW_DST), mask(slot::NW_DST));
    } else {
        out.ip4("nw_src", val(slot::NW_SRC), mask(slot::NW_SRC));
        out.ip4("nw_dst", val(slot::NW_DST), mask(slot::NW_DST));
    }
    if !skip_proto && proto_known {
        out.put(format!("{}={proto}", if arp { "arp_op" } else { "nw_proto" }));
    }
    if arp {
        out.mac("arp_sha", val(slot::ARP_SHA), mask(slot::ARP_SHA));
        out.mac("arp_tha", val(slot::ARP_THA), mask(slot::ARP_THA));
    }
    let (tos, tos_mask) = (val(slot::NW_TOS), mask(slot::NW_TOS));
    if tos_mask & 0xfc != 0 {
        out.put(format!("nw_tos={}", tos & 0xfc));
    }
    if tos_mask & 0x03 != 0 {
        out.put(format!("nw_ecn={}", tos & 0x03));
    }
    if mask(slot::NW_TTL) != 0 {
        out.put(format!("nw_ttl={}", val(slot::NW_TTL)));
    }
    let (frag, frag_mask) = (val(slot::NW_FRAG), mask(slot::NW_FRAG) & 3);
    match frag_mask {
        3 => out.put(format!(
            "nw_frag={}",
            match frag & 3 {
                3 => "later",
                1 => "first",
                2 => "<error>",
                _ => "no",
            }
        )),
        1 => out.put(format!("nw_frag={}", if frag & 1 != 0 { "yes" } else { "no" })),
        2 => out.put(format!("nw_frag={}", if frag & 2 != 0 { "later" } else { "not_later" })),
        _ => {}
    }
    let (tp_src, tp_src_mask, tp_dst, tp_dst_mask) = (val(slot::TP_SRC), mask(slot::TP_SRC), val(slot::TP_DST), mask(slot::TP_DST));
    if (dl_type == ETH_TYPE_IP && proto == 1) || (dl_type == ETH_TYPE_IPV6 && proto == 58) {
        out.dec_masked("icmp_type", tp_src, tp_src_mask, 0xffff);
        out.dec_masked("icmp_code", tp_dst, tp_dst_mask, 0xffff);
        if dl_type == ETH_TYPE_IPV6 {
            out.ip6("nd_target", val(slot::ND_TARGET), mask(slot::ND_TARGET));
            out.mac("nd_sll", val(slot::ARP_SHA), mask(slot::ARP_SHA));
            out.mac("nd_tll", val(slot::ARP_THA), mask(slot::ARP_THA));
        }
    } else {
        out.dec_masked("tp_src", tp_src, tp_src_mask, 0xffff);
        out.dec_masked("tp_dst", tp_dst, tp_dst_mask, 0xffff);
    }
    if matches!(dl_type, ETH_TYPE_IP | ETH_TYPE_IPV6) && proto == 6 {
        out.flags("tcp_flags", val(slot::TCP_FLAGS), mask(slot::TCP_FLAGS) & 0xfff, 0xfff, &TCP_FLAG_NAMES, '/');
    }
    if out.text.ends_with(',') {
        out.text.pop();
    }
    out.text
}

/// The VLAN fields: `dl_vlan`/`dl_vlan_pcp` for a tagged match on whole
/// fields, else `vlan_tci`.
fn vlan(out: &mut Out, tci: u128, m: u128) {
    if m == 0 {
        return;
    }
    let (vid, pcp, cfi) = (m & 0x0fff, m & 0xe000, m & 0x1000);
    if cfi != 0 && tci & 0x1000 != 0 && (vid == 0 || vid == 0x0fff) && (pcp == 0 || pcp == 0xe000) && (vid != 0 || pcp != 0) {
        if vid != 0 {
            out.put(format!("dl_vlan={}", tci & 0x0fff));
        }
        if pcp != 0 {
            out.put(format!("dl_vlan_pcp={}", tci >> 13 & 7));
        }
    } else if m == 0xffff {
        out.put(format!("vlan_tci=0x{tci:04x}"));
    } else {
        out.put(format!("vlan_tci=0x{tci:04x}/0x{m:04x}"));
    }
}
