//! Encoding actions into `ofproto` actions, as OVN's `ovnacts_encode`.

use ofproto::actions::{Action, Subfield};
use ofproto::flowmatch::Mff;

use super::learn;
use super::{CheckKind, EncodeParams, IdTables, NatKind, Nest, OptsKind, Ovnact};
use crate::expr::{Constant, Field};
use crate::symtab::{Kind, OvnField, Symtab};

/// The logical connection-tracking zone's register (`MFF_LOG_CT_ZONE`).
pub(super) const LOG_CT_ZONE: u8 = 13;
/// The DNAT zone's register (`MFF_LOG_DNAT_ZONE`), a router's zone.
pub const LOG_DNAT_ZONE: u8 = 11;
/// The SNAT zone's register (`MFF_LOG_SNAT_ZONE`).
const LOG_SNAT_ZONE: u8 = 12;
/// `OFPP_IN_PORT`: a resubmit from the packet's own port.
const OFPP_IN_PORT: u16 = 0xfff8;

/// pinctrl's opcodes (OVN's `enum action_opcode`) that ferrovs encodes.
pub mod opcode {
    /// Send an ARP request.
    pub const ARP: u32 = 0;
    /// Learn an IPv4 MAC binding.
    pub const PUT_ARP: u32 = 1;
    /// Reply to DHCPv4 with these options.
    pub const PUT_DHCP_OPTS: u32 = 2;
    /// Learn an IPv6 MAC binding.
    pub const PUT_ND: u32 = 4;
    /// Reply to DHCPv6 with these options.
    pub const PUT_DHCPV6_OPTS: u32 = 5;
    /// Answer a DNS query.
    pub const DNS_LOOKUP: u32 = 6;
    /// Log an ACL's packet.
    pub const LOG: u32 = 7;
    /// Answer a router solicitation with this advertisement.
    pub const PUT_ND_RA_OPTS: u32 = 8;
    /// An event for the CMS.
    pub const EVENT: u32 = 15;
    /// Claim a virtual port.
    pub const BIND_VPORT: u32 = 17;
    /// A BFD message.
    pub const BFD_MSG: u32 = 23;
    /// IGMP snooping.
    pub const IGMP: u32 = 16;
    /// A load-balancer health check's reply.
    pub const HANDLE_SVC_CHECK: u32 = 18;
    /// The DHCPv6 server.
    pub const DHCP6_SERVER: u32 = 19;
    /// Learn an FDB entry.
    pub const PUT_FDB: u32 = 25;
    /// Send a neighbour advertisement.
    pub const ND_NA: u32 = 3;
    /// Send a neighbour solicitation.
    pub const ND_NS: u32 = 9;
    /// Send an ICMP reply.
    pub const ICMP: u32 = 10;
    /// Send a TCP RST.
    pub const TCP_RESET: u32 = 11;
    /// Send a router's neighbour advertisement.
    pub const ND_NA_ROUTER: u32 = 12;
    /// Set the MTU of an ICMPv4 "fragmentation needed".
    pub const PUT_ICMP4_FRAG_MTU: u32 = 13;
    /// Send an ICMPv4 error.
    pub const ICMP4_ERROR: u32 = 14;
    /// Send an ICMPv6 error.
    pub const ICMP6_ERROR: u32 = 20;
    /// Set the MTU of an ICMPv6 "packet too big".
    pub const PUT_ICMP6_FRAG_MTU: u32 = 21;
    /// Reject the packet.
    pub const REJECT: u32 = 22;
    /// Send an SCTP ABORT.
    pub const SCTP_ABORT: u32 = 24;
}

/// A controller action for pinctrl: `opcode`, 4 bytes of padding, then
/// the operation's own bytes, with the maximum packet length, paused or
/// not (OVN's `encode_start_controller_op` and `_finish_`).
pub fn controller_op(opcode: u32, pause: bool, payload: &[u8]) -> Action {
    let mut userdata = Vec::with_capacity(8 + payload.len());
    userdata.extend_from_slice(&opcode.to_be_bytes());
    userdata.extend_from_slice(&[0; 4]);
    userdata.extend_from_slice(payload);
    Action::Controller { max_len: u16::MAX, id: 0, reason: 1, userdata, pause, meter: 0, v2: true }
}

/// The OpenFlow field and bits a symbol's bits are (OVN's
/// `expr_resolve_field`): subfields resolved to their fields; a string
/// field is all of its field.
pub fn resolve_field(f: &Field, symtab: &Symtab) -> Option<Subfield> {
    let mut ofs = f.ofs;
    let mut symbol = symtab.get(f.symbol);
    while let Kind::Subfield { parent, ofs: parent_ofs } = symbol.kind {
        ofs += parent_ofs;
        symbol = symtab.get(parent);
    }
    let of = match &symbol.kind {
        Kind::Field(of) | Kind::Str(of) => *of,
        _ => return None,
    };
    let n_bits = if symbol.width > 0 { f.n_bits } else { of.bits };
    Some(Subfield { field: of.mff, ofs: ofs as u16, n_bits: n_bits as u16 })
}

fn ones(n: u16) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

/// Encodes actions into `ofproto` actions; the groups and meters they
/// use get their ids in `ids`.
pub fn encode(acts: &[Ovnact], symtab: &Symtab, ep: &EncodeParams<'_>, ids: &mut IdTables) -> Vec<Action> {
    // The packets to pinctrl go through the flow's controller meter,
    // where the datapath has meters; `log` has a meter of its own.
    let meter = if ep.meters { ep.ctrl_meter_id.unwrap_or(0) } else { 0 };
    let mut out = Vec::new();
    for a in acts {
        let start = out.len();
        encode_one(a, symtab, ep, ids, &mut out);
        if matches!(a, Ovnact::Log(_)) {
            continue;
        }
        for action in &mut out[start..] {
            if let Action::Controller { meter: m, .. } = action {
                *m = meter;
            }
        }
    }
    out
}

/// The logical input port's register (`MFF_LOG_INPORT`).
const LOG_INPORT: u8 = 14;
/// The logical output port's register (`MFF_LOG_OUTPORT`).
pub(super) const LOG_OUTPORT: u8 = 15;
/// The logical flags' register (`MFF_LOG_FLAGS`).
pub(super) const LOG_FLAGS: u8 = 10;
/// The flag a MAC-binding lookup sets (`MLF_LOOKUP_MAC_BIT`).
const LOOKUP_MAC_BIT: u16 = 6;

/// The flag `chk_lb_hairpin` and its reply set (`MLF_LOOKUP_LB_HAIRPIN_BIT`).
const LOOKUP_LB_HAIRPIN_BIT: u16 = 7;
/// The flag `lookup_fdb` sets (`MLF_LOOKUP_FDB_BIT`).
const LOOKUP_FDB_BIT: u16 = 8;
/// The flag the port-security checks set (`MLF_CHECK_PORT_SEC_BIT`).
const CHECK_PORT_SEC_BIT: u16 = 12;

/// Clears flag `bit`, looks up `table` (whose flows set it), and copies
/// it to `dst` (OVN's `encode_result_action__`).
fn flag_check(out: &mut Vec<Action>, table: u8, bit: u16, dst: Subfield) {
    out.push(load(Mff::Reg(LOG_FLAGS), 0, bit, 1));
    out.push(resubmit(table));
    out.push(Action::RegMove { src: Subfield { field: Mff::Reg(LOG_FLAGS), ofs: bit, n_bits: 1 }, dst });
}

/// The register a MAC-binding action takes its address in.
fn ip_field(nd: bool) -> Mff {
    if nd {
        Mff::Xxreg(0)
    } else {
        Mff::Reg(0)
    }
}

/// `f`'s OpenFlow 1.5 header, unmasked (OVS's `nx_put_header`).
fn nx_header(f: Mff) -> Vec<u8> {
    let field = ofproto::flowmatch::field(f);
    let mut b = Vec::new();
    field.put_header(OFP15, usize::from(field.bytes), false, &mut b);
    b
}

/// All of field `f`.
fn whole(f: Mff) -> Subfield {
    Subfield { field: f, ofs: 0, n_bits: ofproto::flowmatch::field(f).bits }
}

/// `n_bits` of `value` into `f` at bit `ofs` (OVN's `put_load`).
fn load(f: Mff, value: u128, ofs: u16, n_bits: u16) -> Action {
    Action::SetField { field: f, value: (value & ones(n_bits)) << ofs, mask: ones(n_bits) << ofs, reg_load: false }
}

/// Runs `body` with each source's bits in its destination field, the
/// destinations saved before and restored after (OVN's
/// `encode_setup_args` and `encode_restore_args`). A source already in
/// its destination stays.
fn with_args(args: &[(Subfield, Mff)], out: &mut Vec<Action>, body: impl FnOnce(&mut Vec<Action>)) {
    let moved: Vec<&(Subfield, Mff)> = args.iter().filter(|(src, dst)| src.field != *dst).collect();
    out.extend(moved.iter().map(|(_, dst)| Action::StackPush(whole(*dst))));
    out.extend(moved.iter().rev().map(|(src, _)| Action::StackPush(*src)));
    out.extend(moved.iter().map(|(_, dst)| Action::StackPop(whole(*dst))));
    body(out);
    out.extend(moved.iter().rev().map(|(_, dst)| Action::StackPop(whole(*dst))));
}

/// `ct(commit, zone=REG[0..15], exec(inner))`; with `nat(src)` first
/// where the datapath has all-zero SNAT, so that a connection committed
/// without NAT cannot collide with a NATed one.
fn commit(zone: u8, ct_zero_snat: bool, mut inner: Vec<Action>) -> Action {
    if ct_zero_snat {
        inner.insert(0, Action::Nat { flags: 1, present: 0, range: Vec::new() });
    }
    Action::Ct {
        flags: 1,
        zone_src: Some(Subfield { field: Mff::Reg(zone), ofs: 0, n_bits: 16 }),
        zone_imm: 0,
        table: 255,
        alg: 0,
        actions: inner,
    }
}

/// OpenFlow 1.5's version number.
const OFP15: u8 = 6;

fn resubmit(table: u8) -> Action {
    Action::Resubmit { in_port: OFPP_IN_PORT, table, with_table: true }
}

fn encode_one(a: &Ovnact, symtab: &Symtab, ep: &EncodeParams<'_>, ids: &mut IdTables, out: &mut Vec<Action>) {
    let resolve = |f: &Field| resolve_field(f, symtab);
    match a {
        Ovnact::Output => out.push(resubmit(ep.output_ptable)),
        Ovnact::Next { pipeline, ltable, .. } => out.push(resubmit(ep.first_ptable(*pipeline).wrapping_add(*ltable))),
        Ovnact::Load { dst, imm } => {
            let Some(sf) = resolve(dst) else { return };
            let (value, mask) = match imm {
                Constant::Int { value, mask, .. } => {
                    let bits = ones(sf.n_bits);
                    let m = mask.map_or(bits, |m| m.low_u128() & bits);
                    ((value.low_u128() & bits) << sf.ofs, m << sf.ofs)
                }
                Constant::Str(name) => (u128::from((ep.lookup_port)(name).unwrap_or(0)), ones(sf.n_bits)),
            };
            out.push(Action::SetField { field: sf.field, value, mask, reg_load: false });
        }
        Ovnact::OvnFieldLoad { dst, imm } => {
            let Constant::Int { value, .. } = imm else { return };
            let v = value.low_u64();
            match symtab.get(dst.symbol).kind {
                Kind::Ovn(OvnField::Icmp4FragMtu) => out.push(controller_op(opcode::PUT_ICMP4_FRAG_MTU, true, &(v as u16).to_be_bytes())),
                Kind::Ovn(OvnField::Icmp6FragMtu) => out.push(controller_op(opcode::PUT_ICMP6_FRAG_MTU, true, &(v as u32).to_be_bytes())),
                _ => {}
            }
        }
        Ovnact::Move { lhs, rhs } => {
            if let (Some(src), Some(dst)) = (resolve(rhs), resolve(lhs)) {
                out.push(Action::RegMove { src, dst });
            }
        }
        Ovnact::Exchange { lhs, rhs } => {
            if let (Some(r), Some(l)) = (resolve(rhs), resolve(lhs)) {
                out.extend([Action::StackPush(r), Action::StackPush(l), Action::StackPop(r), Action::StackPop(l)]);
            }
        }
        Ovnact::DecTtl => out.push(Action::DecTtl { ids: Vec::new(), cnt_ids: false }),
        Ovnact::Push(f) => out.extend(resolve(f).map(Action::StackPush)),
        Ovnact::Pop(f) => out.extend(resolve(f).map(Action::StackPop)),
        Ovnact::CtNext { ltable } => {
            let zone = if ep.is_switch { LOG_CT_ZONE } else { LOG_DNAT_ZONE };
            out.push(Action::Ct {
                flags: 0,
                zone_src: Some(Subfield { field: Mff::Reg(zone), ofs: 0, n_bits: 16 }),
                zone_imm: 0,
                table: ep.first_ptable(ep.pipeline).wrapping_add(*ltable),
                alg: 0,
                actions: Vec::new(),
            });
        }
        Ovnact::CtClear => out.push(Action::CtClear),
        Ovnact::CtNat { kind, ltable, addr, ports } => {
            let zone = match kind {
                NatKind::Dnat => LOG_DNAT_ZONE,
                NatKind::Snat => LOG_SNAT_ZONE,
                NatKind::DnatInCzone | NatKind::SnatInCzone => ep.common_nat_ct_zone,
                NatKind::CommitNat if ep.is_switch => LOG_CT_ZONE,
                NatKind::CommitNat => LOG_DNAT_ZONE,
            };
            // NXAST_NAT's range: the parts present, in wire order.
            let (mut present, mut range) = (0u16, Vec::new());
            match addr {
                Some(std::net::IpAddr::V4(a)) => {
                    present |= 1;
                    range.extend_from_slice(&a.octets());
                }
                Some(std::net::IpAddr::V6(a)) => {
                    present |= 4;
                    range.extend_from_slice(&a.octets());
                }
                None => {}
            }
            if let Some((lo, hi)) = ports {
                present |= 16;
                range.extend_from_slice(&lo.to_be_bytes());
                if *hi != 0 {
                    present |= 32;
                    range.extend_from_slice(&hi.to_be_bytes());
                }
            }
            let flags = if addr.is_some() { kind.flags() } else { 0 };
            out.push(Action::Ct {
                flags: u16::from(addr.is_some() || *kind == NatKind::CommitNat),
                zone_src: Some(Subfield { field: Mff::Reg(zone), ofs: 0, n_bits: 16 }),
                zone_imm: 0,
                table: ep.first_ptable(ep.pipeline).wrapping_add(*ltable),
                alg: 0,
                actions: vec![Action::Nat { flags, present, range }],
            });
        }
        Ovnact::PutOpts { kind, dst, opts } => {
            let Some(dst) = resolve(dst) else { return };
            let mut payload = nx_header(dst.field);
            payload.extend_from_slice(&u32::from(dst.ofs).to_be_bytes());
            let op = match kind {
                OptsKind::Dhcp4 => {
                    super::dhcp::v4_options(opts, &mut payload);
                    opcode::PUT_DHCP_OPTS
                }
                OptsKind::Dhcp6 => {
                    super::dhcp::v6_options(opts, &mut payload);
                    opcode::PUT_DHCPV6_OPTS
                }
                OptsKind::NdRa => {
                    super::nd_ra::encode(opts, &mut payload);
                    opcode::PUT_ND_RA_OPTS
                }
            };
            out.push(controller_op(op, true, &payload));
        }
        Ovnact::CtLb { .. } | Ovnact::FwdGroup { .. } => super::lb::encode(a, None, ep, ids, out),
        Ovnact::Select { dst, .. } => super::lb::encode(a, resolve(dst), ep, ids, out),
        Ovnact::CommitEcmpNh { .. } | Ovnact::CommitLbAff { .. } => super::learn::encode(a, ep, out),
        Ovnact::SetMeter { .. } | Ovnact::Log(_) | Ovnact::Sample { .. } | Ovnact::TriggerEvent { .. } => {
            super::telemetry::encode(a, ep, ids, out)
        }
        Ovnact::Check { kind, dst } => {
            let Some(dst) = resolve(dst) else { return };
            let (table, bit) = match kind {
                CheckKind::LbHairpin => (ep.tables.lb_hairpin, LOOKUP_LB_HAIRPIN_BIT),
                CheckKind::LbHairpinReply => (ep.tables.lb_hairpin_reply, LOOKUP_LB_HAIRPIN_BIT),
                CheckKind::InPortSec => (ep.tables.in_port_sec, CHECK_PORT_SEC_BIT),
                CheckKind::OutPortSec => (ep.tables.out_port_sec, CHECK_PORT_SEC_BIT),
                CheckKind::EcmpNhMac => (learn::ECMP_NH_MAC_TABLE, learn::COMMIT_ECMP_NH_BIT),
                CheckKind::EcmpNh => (learn::ECMP_NH_TABLE, learn::COMMIT_ECMP_NH_BIT),
                CheckKind::LbAff => (learn::LB_AFF_TABLE, learn::USE_LB_AFF_SESSION_BIT),
            };
            flag_check(out, table, bit, dst);
        }
        Ovnact::CheckPktLarger { dst, pkt_len } => out.extend(resolve(dst).map(|dst| Action::CheckPktLarger { pkt_len: *pkt_len, dst })),
        Ovnact::SetQueue(q) => out.push(Action::SetQueue(u32::from(*q))),
        Ovnact::CtSnatToVip => out.push(resubmit(ep.tables.ct_snat_vip)),
        Ovnact::Igmp => out.push(controller_op(opcode::IGMP, false, &[])),
        Ovnact::Dhcp6Reply => out.push(controller_op(opcode::DHCP6_SERVER, false, &[])),
        Ovnact::GetFdb { dst, mac } => {
            let (Some(dst), Some(mac)) = (resolve(dst), resolve(mac)) else { return };
            with_args(&[(mac, Mff::EthDst)], out, |out| {
                out.push(load(Mff::Reg(LOG_OUTPORT), 0, 0, 32));
                out.push(resubmit(ep.tables.fdb));
            });
            if dst.field != Mff::Reg(LOG_OUTPORT) {
                out.push(Action::RegMove { src: whole(Mff::Reg(LOG_OUTPORT)), dst });
            }
        }
        Ovnact::LookupFdb { dst, port, mac } => {
            let (Some(dst), Some(port), Some(mac)) = (resolve(dst), resolve(port), resolve(mac)) else { return };
            with_args(&[(port, Mff::Reg(LOG_INPORT)), (mac, Mff::EthSrc)], out, |out| {
                out.push(load(Mff::Reg(LOG_FLAGS), 0, LOOKUP_FDB_BIT, 1));
                out.push(resubmit(ep.tables.fdb_lookup));
            });
            out.push(Action::RegMove { src: Subfield { field: Mff::Reg(LOG_FLAGS), ofs: LOOKUP_FDB_BIT, n_bits: 1 }, dst });
        }
        Ovnact::DnsLookup(dst) => {
            let Some(dst) = resolve(dst) else { return };
            let mut payload = nx_header(dst.field);
            payload.extend_from_slice(&u32::from(dst.ofs).to_be_bytes());
            out.push(controller_op(opcode::DNS_LOOKUP, true, &payload));
        }
        Ovnact::BindVport { vport, parent } => {
            // A virtual port this chassis does not know binds nothing.
            let (Some(key), Some(parent)) = ((ep.lookup_port)(vport), resolve(parent)) else { return };
            with_args(&[(parent, Mff::Reg(LOG_INPORT))], out, |out| out.push(controller_op(opcode::BIND_VPORT, false, &key.to_be_bytes())));
        }
        Ovnact::BfdMsg => out.push(controller_op(opcode::BFD_MSG, false, &[])),
        Ovnact::HandleSvcCheck(port) => {
            let Some(port) = resolve(port) else { return };
            with_args(&[(port, Mff::Reg(LOG_INPORT))], out, |out| out.push(controller_op(opcode::HANDLE_SVC_CHECK, false, &[])));
        }
        Ovnact::PutFdb { port, mac } => {
            let (Some(port), Some(mac)) = (resolve(port), resolve(mac)) else { return };
            with_args(&[(port, Mff::Reg(LOG_INPORT)), (mac, Mff::EthSrc)], out, |out| out.push(controller_op(opcode::PUT_FDB, false, &[])));
        }
        Ovnact::GetMacBind { nd, port, ip } => {
            let (Some(port), Some(ip)) = (resolve(port), resolve(ip)) else { return };
            let args = [(port, Mff::Reg(LOG_OUTPORT)), (ip, ip_field(*nd))];
            with_args(&args, out, |out| {
                out.push(load(Mff::EthDst, 0, 0, 48));
                out.push(resubmit(ep.tables.mac_bind));
            });
        }
        Ovnact::PutMacBind { nd, port, ip, mac } => {
            let (Some(port), Some(ip), Some(mac)) = (resolve(port), resolve(ip), resolve(mac)) else { return };
            let args = [(port, Mff::Reg(LOG_INPORT)), (ip, ip_field(*nd)), (mac, Mff::EthSrc)];
            let op = if *nd { opcode::PUT_ND } else { opcode::PUT_ARP };
            with_args(&args, out, |out| out.push(controller_op(op, false, &[])));
        }
        Ovnact::LookupMacBind { nd, dst, port, ip, mac } => {
            let (Some(dst), Some(port), Some(ip)) = (resolve(dst), resolve(port), resolve(ip)) else { return };
            let check = |out: &mut Vec<Action>, table| flag_check(out, table, LOOKUP_MAC_BIT, dst);
            match mac.as_ref().and_then(resolve) {
                Some(mac) => {
                    let args = [(port, Mff::Reg(LOG_INPORT)), (ip, ip_field(*nd)), (mac, Mff::EthSrc)];
                    with_args(&args, out, |out| check(out, ep.tables.mac_lookup));
                }
                None => {
                    let args = [(port, Mff::Reg(LOG_OUTPORT)), (ip, ip_field(*nd))];
                    let eth_dst = whole(Mff::EthDst);
                    with_args(&args, out, |out| {
                        out.push(Action::StackPush(eth_dst));
                        check(out, ep.tables.mac_bind);
                        out.push(Action::StackPop(eth_dst));
                    });
                }
            }
        }
        Ovnact::CtCommitV1 { mark, label } => {
            let mut inner = Vec::new();
            if let Some((v, m)) = mark {
                inner.push(Action::SetField { field: Mff::CtMark, value: u128::from(*v), mask: u128::from(*m), reg_load: false });
            }
            if let Some((v, m)) = label {
                inner.push(Action::SetField { field: Mff::CtLabel, value: *v, mask: *m, reg_load: false });
            }
            out.push(commit(LOG_CT_ZONE, ep.ct_zero_snat, inner));
        }
        Ovnact::Nested { kind, acts } => {
            let inner = encode(acts, symtab, ep, ids);
            if *kind == Nest::Clone {
                out.push(Action::Clone(inner));
                return;
            }
            match kind.opcode() {
                None => out.push(commit(if ep.is_switch { LOG_CT_ZONE } else { LOG_DNAT_ZONE }, ep.ct_zero_snat, inner)),
                Some(op) => {
                    // The inner actions travel to pinctrl as OpenFlow 1.5
                    // actions, to run on the packet it builds.
                    let mut bytes = Vec::new();
                    ofproto::actions::encode_actions(&inner, OFP15, ofproto::actions::Context::default(), &mut bytes);
                    out.push(controller_op(op, false, &bytes));
                }
            }
        }
    }
}
