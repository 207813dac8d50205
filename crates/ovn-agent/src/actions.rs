//! Logical-flow actions: a `Logical_Flow` row's `actions` column, parsed
//! into [`Ovnact`]s, printed back in OVN's canonical text, and encoded
//! into the `ofproto` actions `ovn-controller` 23.03 installs
//! (`lib/actions.c`).
//!
//! Parsing also gathers the *prerequisites* the actions put on the flow's
//! match (`ip.ttl--` needs `ip`; assigning `tcp.dst` needs `tcp`), which
//! the caller adds to the match before compiling it.
//!
//! Encoding needs the tables of the OpenFlow pipeline
//! ([`EncodeParams`]): `next` resubmits to the first table of the logical
//! pipeline plus the logical table; `output` to the output table; the
//! connection-tracking zone is a register.
//!
//! Written so far: `drop`, `next`, `output`, assignments (`=`, `<->`),
//! `ip.ttl--`, `push`/`pop`, `ct_next`, `ct_clear`, `ct_commit` (both
//! forms), and the nested actions for pinctrl (`arp`, `nd_ns`, `nd_na`,
//! `nd_na_router`, `icmp4`, `icmp4_error`, `icmp6`, `icmp6_error`,
//! `tcp_reset`, `sctp_abort`, `reject`). An action OVN knows
//! and ferrovs does not yet is refused with an error saying so, never
//! mistaken for a syntax error.

use ofproto::actions::{Action, Subfield};
use ofproto::flowmatch::Mff;

use crate::expr::{format_field, Constant, Field};
use crate::symtab::{Kind, OvnField, Symtab};

mod parse;

pub use parse::parse;

/// A logical pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipeline {
    /// The ingress pipeline.
    Ingress,
    /// The egress pipeline.
    Egress,
}

impl Pipeline {
    fn name(self) -> &'static str {
        match self {
            Pipeline::Ingress => "ingress",
            Pipeline::Egress => "egress",
        }
    }
}

/// A parsed action.
#[derive(Debug, Clone, PartialEq)]
pub enum Ovnact {
    /// `output;`
    Output,
    /// `next;`, `next(N);`, `next(pipeline=P, table=N);`
    Next {
        /// The pipeline continued in.
        pipeline: Pipeline,
        /// Its logical table.
        ltable: u8,
        /// The pipeline the flow is in.
        src_pipeline: Pipeline,
        /// The flow's logical table.
        src_ltable: u8,
    },
    /// `field = constant;`
    Load {
        /// The destination.
        dst: Field,
        /// The value.
        imm: Constant,
    },
    /// `icmp4.frag_mtu = constant;` and the like: a field only pinctrl
    /// knows, set by a paused controller action.
    OvnFieldLoad {
        /// The field.
        dst: Field,
        /// The value.
        imm: Constant,
    },
    /// `field = field;`
    Move {
        /// The destination.
        lhs: Field,
        /// The source.
        rhs: Field,
    },
    /// `field <-> field;`
    Exchange {
        /// One side.
        lhs: Field,
        /// The other.
        rhs: Field,
    },
    /// `ip.ttl--;`
    DecTtl,
    /// `push(field);`
    Push(Field),
    /// `pop(field);`
    Pop(Field),
    /// `ct_next;`: through conntrack, on to the next logical table.
    CtNext {
        /// The logical table continued in.
        ltable: u8,
    },
    /// `ct_clear;`
    CtClear,
    /// `ct_dnat`, `ct_snat` (their `_in_czone` forms) and `ct_commit_nat`:
    /// through conntrack with NAT, on to the next logical table.
    CtNat {
        /// Which.
        kind: NatKind,
        /// The logical table continued in.
        ltable: u8,
        /// An address to translate to (which commits the connection).
        addr: Option<std::net::IpAddr>,
        /// A port, or a range of them, to translate to (0: no upper end).
        ports: Option<(u16, u16)>,
    },
    /// `ct_commit(ct_mark=…, ct_label=…);`, OVN's older form: the values
    /// and masks set.
    CtCommitV1 {
        /// `ct_mark` and its mask, if set.
        mark: Option<(u32, u32)>,
        /// `ct_label` and its mask, if set.
        label: Option<(u128, u128)>,
    },
    /// `name { actions };`: actions run inside another (`ct_commit`), or
    /// sent to pinctrl to run on the packet it makes (`arp`, `icmp4`, …).
    Nested {
        /// Which.
        kind: Nest,
        /// The actions inside.
        acts: Vec<Ovnact>,
    },
}

/// The NAT actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatKind {
    /// `ct_dnat`: in the DNAT zone.
    Dnat,
    /// `ct_snat`: in the SNAT zone.
    Snat,
    /// `ct_dnat_in_czone`: in the common NAT zone.
    DnatInCzone,
    /// `ct_snat_in_czone`: in the common NAT zone.
    SnatInCzone,
    /// `ct_commit_nat`: commit with the NAT of the connection it relates to.
    CommitNat,
}

impl NatKind {
    /// Every kind, by name.
    pub const ALL: [(&'static str, NatKind); 5] = [
        ("ct_dnat", NatKind::Dnat),
        ("ct_snat", NatKind::Snat),
        ("ct_dnat_in_czone", NatKind::DnatInCzone),
        ("ct_snat_in_czone", NatKind::SnatInCzone),
        ("ct_commit_nat", NatKind::CommitNat),
    ];

    fn name(self) -> &'static str {
        NatKind::ALL.iter().find(|(_, k)| *k == self).map_or("", |(n, _)| n)
    }

    /// NXAST_NAT's flags: src 1, dst 2.
    fn flags(self) -> u16 {
        match self {
            NatKind::Dnat | NatKind::DnatInCzone => 2,
            NatKind::Snat | NatKind::SnatInCzone => 1,
            NatKind::CommitNat => 0,
        }
    }
}

/// The actions that hold actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nest {
    /// `ct_commit { … }`: committed, with `ct_mark`/`ct_label` set inside.
    CtCommit,
    /// `arp { … }`: an ARP request for the packet's destination.
    Arp,
    /// `icmp4 { … }`: an ICMPv4 reply.
    Icmp4,
    /// `icmp4_error { … }`: an ICMPv4 error about the packet.
    Icmp4Error,
    /// `icmp6 { … }`: an ICMPv6 reply.
    Icmp6,
    /// `icmp6_error { … }`: an ICMPv6 error about the packet.
    Icmp6Error,
    /// `tcp_reset { … }`: a TCP RST.
    TcpReset,
    /// `sctp_abort { … }`: an SCTP ABORT.
    SctpAbort,
    /// `nd_na { … }`: a neighbour advertisement.
    NdNa,
    /// `nd_na_router { … }`: one with the router flag.
    NdNaRouter,
    /// `nd_ns { … }`: a neighbour solicitation.
    NdNs,
    /// `reject { … }`: an RST or an ICMP unreachable, as fits.
    Reject,
}

impl Nest {
    /// Every kind, by name.
    pub const ALL: [(&'static str, Nest); 12] = [
        ("ct_commit", Nest::CtCommit),
        ("arp", Nest::Arp),
        ("icmp4", Nest::Icmp4),
        ("icmp4_error", Nest::Icmp4Error),
        ("icmp6", Nest::Icmp6),
        ("icmp6_error", Nest::Icmp6Error),
        ("tcp_reset", Nest::TcpReset),
        ("sctp_abort", Nest::SctpAbort),
        ("nd_na", Nest::NdNa),
        ("nd_na_router", Nest::NdNaRouter),
        ("nd_ns", Nest::NdNs),
        ("reject", Nest::Reject),
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        Nest::ALL.iter().find(|(_, k)| *k == self).map_or("", |(n, _)| n)
    }

    /// What the flow's match must imply (the inner actions' own
    /// prerequisites are dropped, as OVN drops them); `None` for
    /// `reject`, whose inner prerequisites join the flow's.
    pub fn prereq(self) -> Option<&'static str> {
        Some(match self {
            Nest::CtCommit => "ip",
            Nest::Arp | Nest::Icmp4 | Nest::Icmp4Error => "ip4",
            Nest::Icmp6 | Nest::Icmp6Error | Nest::NdNs => "ip6",
            Nest::TcpReset => "tcp",
            Nest::SctpAbort => "sctp",
            Nest::NdNa | Nest::NdNaRouter => "nd_ns",
            Nest::Reject => return None,
        })
    }

    /// pinctrl's opcode for it (`None` for `ct_commit`).
    fn opcode(self) -> Option<u32> {
        Some(match self {
            Nest::CtCommit => return None,
            Nest::Arp => opcode::ARP,
            Nest::Icmp4 | Nest::Icmp6 => opcode::ICMP,
            Nest::Icmp4Error => opcode::ICMP4_ERROR,
            Nest::Icmp6Error => opcode::ICMP6_ERROR,
            Nest::TcpReset => opcode::TCP_RESET,
            Nest::SctpAbort => opcode::SCTP_ABORT,
            Nest::NdNa => opcode::ND_NA,
            Nest::NdNaRouter => opcode::ND_NA_ROUTER,
            Nest::NdNs => opcode::ND_NS,
            Nest::Reject => opcode::REJECT,
        })
    }
}

/// What parsing needs to know of where the flow is.
#[derive(Debug, Clone, Copy)]
pub struct ParseParams<'a> {
    /// The symbol table.
    pub symtab: &'a Symtab,
    /// Logical tables in the pipeline (0: `next` not allowed).
    pub n_tables: u8,
    /// The flow's logical table.
    pub cur_ltable: u8,
    /// The flow's pipeline.
    pub pipeline: Pipeline,
}

/// What encoding needs to know of the OpenFlow pipeline.
pub struct EncodeParams<'a> {
    /// A logical port's tunnel key.
    pub lookup_port: &'a dyn Fn(&str) -> Option<u32>,
    /// The flow is on a logical switch (else a router).
    pub is_switch: bool,
    /// The flow's pipeline.
    pub pipeline: Pipeline,
    /// The first OpenFlow table of the ingress pipeline.
    pub ingress_ptable: u8,
    /// The first OpenFlow table of the egress pipeline.
    pub egress_ptable: u8,
    /// Where `output` goes.
    pub output_ptable: u8,
    /// The register of the zone `_in_czone` NAT uses.
    pub common_nat_ct_zone: u8,
}

impl std::fmt::Debug for EncodeParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodeParams")
            .field("is_switch", &self.is_switch)
            .field("pipeline", &self.pipeline)
            .field("ingress_ptable", &self.ingress_ptable)
            .field("egress_ptable", &self.egress_ptable)
            .field("output_ptable", &self.output_ptable)
            .finish_non_exhaustive()
    }
}

impl EncodeParams<'_> {
    fn first_ptable(&self, p: Pipeline) -> u8 {
        match p {
            Pipeline::Ingress => self.ingress_ptable,
            Pipeline::Egress => self.egress_ptable,
        }
    }
}

/// The logical connection-tracking zone's register (`MFF_LOG_CT_ZONE`).
const LOG_CT_ZONE: u8 = 13;
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

/// Actions as OVN prints them (`drop;` for none).
pub fn format(acts: &[Ovnact], symtab: &Symtab) -> String {
    if acts.is_empty() {
        return "drop;".into();
    }
    acts.iter().map(|a| format_one(a, symtab)).collect::<Vec<_>>().join(" ")
}

fn field_text(f: &Field, symtab: &Symtab) -> String {
    format_field(symtab, f.symbol, f.ofs, f.n_bits)
}

fn format_one(a: &Ovnact, symtab: &Symtab) -> String {
    match a {
        Ovnact::Output => "output;".into(),
        Ovnact::Next { pipeline, ltable, src_pipeline, src_ltable } => {
            if pipeline != src_pipeline {
                format!("next(pipeline={}, table={ltable});", pipeline.name())
            } else if u16::from(*ltable) != u16::from(*src_ltable) + 1 {
                format!("next({ltable});")
            } else {
                "next;".into()
            }
        }
        Ovnact::Load { dst, imm } | Ovnact::OvnFieldLoad { dst, imm } => format!("{} = {};", field_text(dst, symtab), imm.format()),
        Ovnact::Move { lhs, rhs } => format!("{} = {};", field_text(lhs, symtab), field_text(rhs, symtab)),
        Ovnact::Exchange { lhs, rhs } => format!("{} <-> {};", field_text(lhs, symtab), field_text(rhs, symtab)),
        Ovnact::DecTtl => "ip.ttl--;".into(),
        Ovnact::Push(f) => format!("push({});", field_text(f, symtab)),
        Ovnact::Pop(f) => format!("pop({});", field_text(f, symtab)),
        Ovnact::CtNext { .. } => "ct_next;".into(),
        Ovnact::CtClear => "ct_clear;".into(),
        Ovnact::CtNat { kind: NatKind::CommitNat, .. } => "ct_commit_nat;".into(),
        Ovnact::CtNat { kind, addr, ports, .. } => {
            let mut s = kind.name().to_owned();
            let inner: Vec<String> = addr
                .map(|a| {
                    let mut t = vec![a.to_string()];
                    if let Some((lo, hi)) = ports {
                        t.push(if *hi != 0 { format!("{lo}-{hi}") } else { lo.to_string() });
                    }
                    t
                })
                .unwrap_or_default();
            if !inner.is_empty() {
                s.push_str(&format!("({})", inner.join(",")));
            }
            s + ";"
        }
        Ovnact::CtCommitV1 { mark, label } => {
            let mut parts = Vec::new();
            if let Some((v, m)) = mark {
                let mut s = format!("ct_mark={}", crate::expr::hex(u128::from(*v)));
                if *m != u32::MAX {
                    s.push_str(&format!("/{}", crate::expr::hex(u128::from(*m))));
                }
                parts.push(s);
            }
            if let Some((v, m)) = label {
                let mut s = format!("ct_label={}", crate::expr::hex(*v));
                if *m != u128::MAX {
                    s.push_str(&format!("/{}", crate::expr::hex(*m)));
                }
                parts.push(s);
            }
            if parts.is_empty() {
                "ct_commit;".into()
            } else {
                format!("ct_commit({});", parts.join(", "))
            }
        }
        Ovnact::Nested { kind: Nest::CtCommit, acts } if acts.is_empty() => "ct_commit;".into(),
        Ovnact::Nested { kind, acts } => format!("{} {{ {} }};", kind.name(), format(acts, symtab)),
    }
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

/// Encodes actions into `ofproto` actions.
pub fn encode(acts: &[Ovnact], symtab: &Symtab, ep: &EncodeParams<'_>) -> Vec<Action> {
    let mut out = Vec::new();
    for a in acts {
        encode_one(a, symtab, ep, &mut out);
    }
    out
}

/// `ct(commit, zone=REG[0..15], exec(inner))`.
fn commit(zone: u8, inner: Vec<Action>) -> Action {
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

fn encode_one(a: &Ovnact, symtab: &Symtab, ep: &EncodeParams<'_>, out: &mut Vec<Action>) {
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
        Ovnact::CtCommitV1 { mark, label } => {
            let mut inner = Vec::new();
            if let Some((v, m)) = mark {
                inner.push(Action::SetField { field: Mff::CtMark, value: u128::from(*v), mask: u128::from(*m), reg_load: false });
            }
            if let Some((v, m)) = label {
                inner.push(Action::SetField { field: Mff::CtLabel, value: *v, mask: *m, reg_load: false });
            }
            out.push(commit(LOG_CT_ZONE, inner));
        }
        Ovnact::Nested { kind, acts } => {
            let inner = encode(acts, symtab, ep);
            match kind.opcode() {
                None => out.push(commit(if ep.is_switch { LOG_CT_ZONE } else { LOG_DNAT_ZONE }, inner)),
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
