//! The actions that remember a connection in a flow they learn:
//! `commit_ecmp_nh` (the ECMP route a connection took, so that replies
//! take it too) and `commit_lb_aff` (the backend a client's connection
//! to a load balancer went to, for its next connections). Their flows
//! are the `learn` actions `ovn-controller` 23.03 writes.

use std::net::IpAddr;

use ofproto::actions::{Action, Learn, LearnSpec, Subfield};
use ofproto::flowmatch::{field, Mff};

use super::encode::LOG_FLAGS;
use super::parse::Cx;
use super::{EncodeParams, Endpoint, Ovnact};
use crate::lex::Token;

/// The protocols these actions take, by name.
pub(super) const PROTOCOLS: [(&str, u8); 3] = [("tcp", 6), ("udp", 17), ("sctp", 132)];

/// `commit_ecmp_nh`'s table for the connection's MAC (`OFTABLE_ECMP_NH_MAC`).
pub(super) const ECMP_NH_MAC_TABLE: u8 = 76;
/// Its table for the connection (`OFTABLE_ECMP_NH`).
pub(super) const ECMP_NH_TABLE: u8 = 77;
/// `commit_lb_aff`'s table (`OFTABLE_CHK_LB_AFFINITY`).
pub(super) const LB_AFF_TABLE: u8 = 78;
/// The flag the learned ECMP flows set (`MLF_LOOKUP_COMMIT_ECMP_NH_BIT`).
pub(super) const COMMIT_ECMP_NH_BIT: u16 = 13;
/// The flag the learned affinity flows set (`MLF_USE_LB_AFF_SESSION_BIT`).
pub(super) const USE_LB_AFF_SESSION_BIT: u16 = 14;

/// A protocol's name (`tcp` for one not known, as OVN).
pub(super) fn proto_name(proto: u8) -> &'static str {
    PROTOCOLS.iter().find(|(_, p)| *p == proto).map_or("tcp", |(n, _)| n)
}

impl Cx<'_, '_> {
    /// `commit_ecmp_nh(ipv6 = B, proto = P)`, after its name.
    pub(super) fn commit_ecmp_nh(&mut self) {
        self.lexer.force_match(&Token::LParen);
        let param = |cx: &mut Self, name: &str| {
            if cx.lexer.match_id(name) && cx.lexer.force_match(&Token::Equals) {
                return true;
            }
            cx.lexer.syntax_error(Some("invalid parameter"));
            false
        };
        if !param(self, "ipv6") {
            return;
        }
        let Some(ipv6) = self.boolean() else { return };
        self.lexer.force_match(&Token::Comma);
        if !param(self, "proto") {
            return;
        }
        let Some(proto) = self.protocol() else { return };
        self.lexer.force_match(&Token::RParen);
        self.acts.push(Ovnact::CommitEcmpNh { ipv6, proto });
    }
}

/// All of `f`.
fn whole(f: Mff) -> Subfield {
    Subfield { field: f, ofs: 0, n_bits: field(f).bits }
}

/// Match `dst` on the packet's `src` (the source's bits are OVN's: none).
fn match_field(dst: Mff, src: Mff) -> LearnSpec {
    let dst = whole(dst);
    LearnSpec { n_bits: dst.n_bits, src: Ok(Subfield { field: src, ofs: 0, n_bits: 0 }), dst_type: 0, dst: Some(dst) }
}

/// `value`'s low bytes, as many as `sf` needs.
fn immediate(sf: Subfield, value: u128) -> Vec<u8> {
    let n = usize::from(sf.n_bits).div_ceil(8);
    value.to_be_bytes()[16 - n..].to_vec()
}

/// Match `dst` on `value`.
fn match_value(dst: Mff, value: u128) -> LearnSpec {
    let dst = whole(dst);
    LearnSpec { n_bits: dst.n_bits, src: Err(immediate(dst, value)), dst_type: 0, dst: Some(dst) }
}

/// Load `value` into `dst`.
fn load_value(dst: Subfield, value: u128) -> LearnSpec {
    LearnSpec { n_bits: dst.n_bits, src: Err(immediate(dst, value)), dst_type: 1, dst: Some(dst) }
}

/// Set logical flag `bit` in the learned flow.
fn set_flag(bit: u16) -> LearnSpec {
    load_value(Subfield { field: Mff::Reg(LOG_FLAGS), ofs: bit, n_bits: 1 }, 1)
}

fn learn(table: u8, idle_timeout: u16, hard_timeout: u16, specs: Vec<LearnSpec>) -> Action {
    Action::Learn(Box::new(Learn {
        idle_timeout,
        hard_timeout,
        priority: 0x8000,
        cookie: 0,
        // delete_learned
        flags: 2,
        table,
        fin_idle_timeout: 0,
        fin_hard_timeout: 0,
        limit: 0,
        result_dst: None,
        v2: false,
        specs,
    }))
}

/// The transport ports' fields of `proto`.
fn ports(proto: u8) -> (Mff, Mff) {
    match proto {
        17 => (Mff::UdpSrc, Mff::UdpDst),
        132 => (Mff::SctpSrc, Mff::SctpDst),
        _ => (Mff::TcpSrc, Mff::TcpDst),
    }
}

fn ip_fields(ipv6: bool) -> (Mff, Mff) {
    if ipv6 {
        (Mff::Ipv6Src, Mff::Ipv6Dst)
    } else {
        (Mff::Ipv4Src, Mff::Ipv4Dst)
    }
}

fn eth_type(ipv6: bool) -> u128 {
    if ipv6 {
        0x86dd
    } else {
        0x0800
    }
}

/// `commit_ecmp_nh`'s flow: in the MAC table the connection as it
/// came (with its source MAC), in the other its replies (addresses and
/// ports swapped).
fn ecmp_learn(nw_conn: bool, ipv6: bool, proto: u8) -> Action {
    let (ip_src, ip_dst) = ip_fields(ipv6);
    let (tp_src, tp_dst) = ports(proto);
    let swap = |a: Mff, b: Mff| if nw_conn { (a, b) } else { (b, a) };
    let mut specs = vec![match_field(Mff::Metadata, Mff::Metadata)];
    if nw_conn {
        specs.push(match_field(Mff::EthSrc, Mff::EthSrc));
    }
    let (s, d) = swap(ip_src, ip_dst);
    let (ts, td) = swap(tp_src, tp_dst);
    specs.extend([
        match_value(Mff::EthType, eth_type(ipv6)),
        match_field(ip_src, s),
        match_field(ip_dst, d),
        match_value(Mff::IpProto, u128::from(proto)),
        match_field(tp_src, ts),
        match_field(tp_dst, td),
        set_flag(COMMIT_ECMP_NH_BIT),
    ]);
    learn(if nw_conn { ECMP_NH_MAC_TABLE } else { ECMP_NH_TABLE }, 20, 30, specs)
}

fn ip_value(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// `commit_lb_aff`'s flow: the client's packets to the VIP (and port)
/// get the flag and the backend's address (and port) in registers.
fn lb_aff_learn(vip: &Endpoint, backend: &Endpoint, proto: u8, timeout: u16, is_switch: bool) -> Action {
    let ipv6 = vip.ip.is_ipv6();
    let (ip_src, ip_dst) = ip_fields(ipv6);
    let mut specs = vec![
        match_field(Mff::Metadata, Mff::Metadata),
        match_value(Mff::EthType, eth_type(ipv6)),
        match_field(ip_src, ip_src),
        match_value(ip_dst, ip_value(vip.ip)),
    ];
    if proto != 0 {
        specs.push(match_value(Mff::IpProto, u128::from(proto)));
        specs.push(match_value(ports(proto).1, u128::from(vip.port)));
    }
    specs.push(set_flag(USE_LB_AFF_SESSION_BIT));
    // The backend's address: reg4, or for IPv6 xxreg0 on a switch and
    // xxreg1 on a router (`MFF_LOG_LB_AFF_MATCH_*`).
    let addr = match (ipv6, is_switch) {
        (false, _) => Mff::Reg(4),
        (true, true) => Mff::Xxreg(0),
        (true, false) => Mff::Xxreg(1),
    };
    specs.push(load_value(whole(addr), ip_value(backend.ip)));
    if backend.port != 0 {
        specs.push(load_value(Subfield { field: Mff::Reg(8), ofs: 0, n_bits: 16 }, u128::from(backend.port)));
    }
    learn(LB_AFF_TABLE, timeout, 0, specs)
}

/// Encodes the actions this module reads.
pub(super) fn encode(a: &Ovnact, ep: &EncodeParams<'_>, out: &mut Vec<Action>) {
    match a {
        Ovnact::CommitEcmpNh { ipv6, proto } => {
            out.push(ecmp_learn(true, *ipv6, *proto));
            out.push(ecmp_learn(false, *ipv6, *proto));
        }
        Ovnact::CommitLbAff { vip, backend, proto, timeout } => out.push(lb_aff_learn(vip, backend, *proto, *timeout, ep.is_switch)),
        _ => {}
    }
}
