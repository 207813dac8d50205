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
//! Encoding also names the groups and meters the actions use
//! ([`IdTables`]): a load balancer's `ct_lb` becomes `group:N`, where
//! group N's buckets are given as `ovs-ofctl` text, as `ovn-controller`
//! gives them.

use crate::expr::{format_field, Constant, Field};
use crate::symtab::Symtab;

mod dhcp;
mod encode;
mod ids;
mod lb;
mod learn;
mod nd_ra;
mod parse;
mod telemetry;

pub use encode::{controller_op, encode, opcode, resolve_field, LOG_DNAT_ZONE};
pub use ids::{IdTable, IdTables};
pub use parse::parse;
pub use telemetry::{Event, Log, Verdict};

named! {
    /// A logical pipeline.
    pub enum Pipeline {
        /// The ingress pipeline.
        Ingress = "ingress",
        /// The egress pipeline.
        Egress = "egress",
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
    /// `get_arp(port, ip);` / `get_nd(port, ip);`: `eth.dst` from the MAC
    /// binding of `ip` on `port` (the MAC-binding table).
    GetMacBind {
        /// IPv6 (`get_nd`).
        nd: bool,
        /// The logical port.
        port: Field,
        /// The address.
        ip: Field,
    },
    /// `put_arp(port, ip, mac);` / `put_nd(…)`: learn a MAC binding
    /// (through pinctrl).
    PutMacBind {
        /// IPv6 (`put_nd`).
        nd: bool,
        /// The logical port.
        port: Field,
        /// The address.
        ip: Field,
        /// Its MAC.
        mac: Field,
    },
    /// `dst = lookup_arp(port, ip, mac);` / `lookup_nd`: whether the
    /// binding is known as it is; `dst = lookup_arp_ip(port, ip);` /
    /// `lookup_nd_ip`: whether any binding is (`mac: None`).
    LookupMacBind {
        /// IPv6.
        nd: bool,
        /// The bit set.
        dst: Field,
        /// The logical port.
        port: Field,
        /// The address.
        ip: Field,
        /// The MAC, for `lookup_arp`/`lookup_nd`.
        mac: Option<Field>,
    },
    /// `dst = chk_lb_hairpin();` and the other checks that set a bit from
    /// a lookup in a table of their own.
    Check {
        /// Which.
        kind: CheckKind,
        /// The bit set.
        dst: Field,
    },
    /// `dst = check_pkt_larger(len);`
    CheckPktLarger {
        /// The bit set.
        dst: Field,
        /// The length compared with.
        pkt_len: u16,
    },
    /// `set_queue(id);`
    SetQueue(u16),
    /// `ct_snat_to_vip;`: to the table that SNATs hairpinned traffic to
    /// the load balancer's VIP.
    CtSnatToVip,
    /// `igmp;`: the packet to pinctrl's IGMP snooping.
    Igmp,
    /// `handle_dhcpv6_reply;`: the packet to pinctrl's DHCPv6 server.
    Dhcp6Reply,
    /// `dst = get_fdb(mac);`: the port the FDB has for `mac`.
    GetFdb {
        /// Where the port goes.
        dst: Field,
        /// The MAC.
        mac: Field,
    },
    /// `dst = lookup_fdb(port, mac);`: whether the FDB has `mac` on `port`.
    LookupFdb {
        /// The bit set.
        dst: Field,
        /// The logical port.
        port: Field,
        /// The MAC.
        mac: Field,
    },
    /// `dst = dns_lookup();`: pinctrl answers the DNS query if it can.
    DnsLookup(Field),
    /// `bind_vport("vport", parent);`: claim a virtual port through the
    /// port it arrived on.
    BindVport {
        /// The virtual port.
        vport: String,
        /// The field holding the parent port.
        parent: Field,
    },
    /// `handle_bfd_msg();`: a BFD packet to pinctrl.
    BfdMsg,
    /// `handle_svc_check(port);`: a load-balancer health check's reply
    /// to pinctrl.
    HandleSvcCheck(Field),
    /// `put_fdb(port, mac);`: learn `mac` on `port` (through pinctrl).
    PutFdb {
        /// The logical port.
        port: Field,
        /// The MAC.
        mac: Field,
    },
    /// `dst = put_dhcp_opts(…);`, `put_dhcpv6_opts(…)`,
    /// `put_nd_ra_opts(…)`: the options of the reply pinctrl makes (DHCP,
    /// a router advertisement), and a bit set when it makes one.
    PutOpts {
        /// Which.
        kind: OptsKind,
        /// The bit set.
        dst: Field,
        /// The options, in order.
        opts: Vec<OptValue>,
    },
    /// `ct_commit(ct_mark=…, ct_label=…);`, OVN's older form: the values
    /// and masks set.
    CtCommitV1 {
        /// `ct_mark` and its mask, if set.
        mark: Option<(u32, u32)>,
        /// `ct_label` and its mask, if set.
        label: Option<(u128, u128)>,
    },
    /// `ct_lb;`, `ct_lb(backends=…; hash_fields="…"; skip_snat);` and
    /// the `ct_lb_mark` forms: to a backend, through a group of the NATs
    /// to each (none: the connection's own NAT).
    CtLb {
        /// `ct_lb_mark` (the flags in `ct_mark`, not `ct_label`).
        mark: bool,
        /// The logical table continued in.
        ltable: u8,
        /// The backends.
        backends: Vec<Endpoint>,
        /// The fields hashed to choose one (else the datapath's hash).
        hash_fields: Option<String>,
        /// `skip_snat` or `force_snat`.
        snat: SnatFlag,
    },
    /// `dst = select(id=weight, …);`: one of the ids, by weight, into
    /// `dst`, then on to the next table.
    Select {
        /// Where the id goes.
        dst: Field,
        /// The logical table continued in.
        ltable: u8,
        /// The ids and their weights.
        members: Vec<(u16, u16)>,
    },
    /// `fwd_group(liveness=…, childports="p", …);`: out of one of the
    /// ports (those whose tunnel is up, with `liveness`).
    FwdGroup {
        /// Watch the tunnels' liveness.
        liveness: bool,
        /// The logical ports.
        ports: Vec<String>,
    },
    /// `set_meter(rate[, burst]);`: through a meter of its own (kbps).
    SetMeter {
        /// The rate.
        rate: u64,
        /// The burst size (0: none).
        burst: u64,
    },
    /// `log(…);`: the packet to pinctrl's ACL log.
    Log(Log),
    /// `sample(…);`: the packet to an IPFIX collector set.
    Sample {
        /// Packets sampled of 65535.
        probability: u16,
        /// The collector set.
        collector_set: u32,
        /// The observation domain (8 bits; the datapath's key below it).
        obs_domain: u8,
        /// The observation point (`None`: `$cookie`, the flow's own).
        obs_point: Option<u32>,
    },
    /// `trigger_event(event = "…", …);`: an event to pinctrl.
    TriggerEvent {
        /// The event.
        event: Event,
        /// Its options.
        opts: Vec<OptValue>,
    },
    /// `commit_ecmp_nh(ipv6 = …, proto = …);`: remember the ECMP route a
    /// connection took (two learned flows).
    CommitEcmpNh {
        /// IPv6.
        ipv6: bool,
        /// The IP protocol.
        proto: u8,
    },
    /// `commit_lb_aff(vip = "…", backend = "…", proto = …, timeout = …);`:
    /// remember the backend a client's load-balanced connection took.
    CommitLbAff {
        /// The load balancer's address and port.
        vip: Endpoint,
        /// The backend's.
        backend: Endpoint,
        /// The IP protocol (0: none, without a port).
        proto: u8,
        /// Seconds the affinity lasts.
        timeout: u16,
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

named! {
    /// The checks that set a bit after a lookup in their table.
    pub enum CheckKind {
        /// `chk_lb_hairpin()`: the packet hairpins through a load balancer.
        LbHairpin = "chk_lb_hairpin",
        /// `chk_lb_hairpin_reply()`: it is the reply of one that did.
        LbHairpinReply = "chk_lb_hairpin_reply",
        /// `check_in_port_sec()`: the input port's security allows it.
        InPortSec = "check_in_port_sec",
        /// `check_out_port_sec()`: the output port's security allows it.
        OutPortSec = "check_out_port_sec",
        /// `chk_ecmp_nh_mac()`: the ECMP next hop's MAC is committed.
        EcmpNhMac = "chk_ecmp_nh_mac",
        /// `chk_ecmp_nh()`: the ECMP next hop is committed.
        EcmpNh = "chk_ecmp_nh",
        /// `chk_lb_aff()`: the client has an affinity to a backend.
        LbAff = "chk_lb_aff",
    }
}

named! {
    /// The replies pinctrl builds from options.
    pub enum OptsKind {
        /// `put_dhcp_opts`.
        Dhcp4 = "put_dhcp_opts",
        /// `put_dhcpv6_opts`.
        Dhcp6 = "put_dhcpv6_opts",
        /// `put_nd_ra_opts`.
        NdRa = "put_nd_ra_opts",
    }
}

named! {
    /// What `ct_lb` marks a connection for, besides NAT.
    pub enum SnatFlag {
        /// Nothing.
        None = "",
        /// `skip_snat`.
        Skip = "skip_snat",
        /// `force_snat`.
        Force = "force_snat",
    }
}

/// An address and a port (0: none), as `ct_lb` and `commit_lb_aff` take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The address.
    pub ip: std::net::IpAddr,
    /// The port (0: none).
    pub port: u16,
}

impl Endpoint {
    /// `1.2.3.4:80`, `[::1]:80`, `::1`: an IPv6 address in brackets when
    /// a port follows.
    fn format(&self) -> String {
        match (self.ip, self.port) {
            (ip, 0) => ip.to_string(),
            (std::net::IpAddr::V4(a), p) => format!("{a}:{p}"),
            (std::net::IpAddr::V6(a), p) => format!("[{a}]:{p}"),
        }
    }
}

named! {
    /// The NAT actions.
    pub enum NatKind {
        /// `ct_dnat`: in the DNAT zone.
        Dnat = "ct_dnat",
        /// `ct_snat`: in the SNAT zone.
        Snat = "ct_snat",
        /// `ct_dnat_in_czone`: in the common NAT zone.
        DnatInCzone = "ct_dnat_in_czone",
        /// `ct_snat_in_czone`: in the common NAT zone.
        SnatInCzone = "ct_snat_in_czone",
        /// `ct_commit_nat`: commit with the NAT of the connection it relates to.
        CommitNat = "ct_commit_nat",
    }
}

impl NatKind {
    /// NXAST_NAT's flags: src 1, dst 2.
    fn flags(self) -> u16 {
        match self {
            NatKind::Dnat | NatKind::DnatInCzone => 2,
            NatKind::Snat | NatKind::SnatInCzone => 1,
            NatKind::CommitNat => 0,
        }
    }
}

named! {
    /// The actions that hold actions.
    pub enum Nest {
        /// `ct_commit { … }`: committed, with `ct_mark`/`ct_label` set inside.
        CtCommit = "ct_commit",
        /// `arp { … }`: an ARP request for the packet's destination.
        Arp = "arp",
        /// `icmp4 { … }`: an ICMPv4 reply.
        Icmp4 = "icmp4",
        /// `icmp4_error { … }`: an ICMPv4 error about the packet.
        Icmp4Error = "icmp4_error",
        /// `icmp6 { … }`: an ICMPv6 reply.
        Icmp6 = "icmp6",
        /// `icmp6_error { … }`: an ICMPv6 error about the packet.
        Icmp6Error = "icmp6_error",
        /// `tcp_reset { … }`: a TCP RST.
        TcpReset = "tcp_reset",
        /// `sctp_abort { … }`: an SCTP ABORT.
        SctpAbort = "sctp_abort",
        /// `nd_na { … }`: a neighbour advertisement.
        NdNa = "nd_na",
        /// `nd_na_router { … }`: one with the router flag.
        NdNaRouter = "nd_na_router",
        /// `nd_ns { … }`: a neighbour solicitation.
        NdNs = "nd_ns",
        /// `clone { … }`: run on a copy of the packet.
        Clone = "clone",
        /// `reject { … }`: an RST or an ICMP unreachable, as fits.
        Reject = "reject",
    }
}

impl Nest {
    /// What the flow's match must imply (the inner actions' own
    /// prerequisites are dropped, as OVN drops them); `None` for
    /// `reject` and `clone`, whose inner prerequisites join the flow's.
    pub fn prereq(self) -> Option<&'static str> {
        Some(match self {
            Nest::CtCommit => "ip",
            Nest::Arp | Nest::Icmp4 | Nest::Icmp4Error => "ip4",
            Nest::Icmp6 | Nest::Icmp6Error | Nest::NdNs => "ip6",
            Nest::TcpReset => "tcp",
            Nest::SctpAbort => "sctp",
            Nest::NdNa | Nest::NdNaRouter => "nd_ns",
            Nest::Reject | Nest::Clone => return None,
        })
    }

    /// pinctrl's opcode for it (`None` for `ct_commit` and `clone`).
    fn opcode(self) -> Option<u32> {
        Some(match self {
            Nest::CtCommit | Nest::Clone => return None,
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
    /// The DHCPv4 options `put_dhcp_opts` may give (Southbound
    /// `DHCP_Options`).
    pub dhcp_opts: &'a [GenOpt],
    /// The DHCPv6 options `put_dhcpv6_opts` may give (`DHCPv6_Options`).
    pub dhcpv6_opts: &'a [GenOpt],
    /// The router-advertisement options `put_nd_ra_opts` may give.
    pub nd_ra_opts: &'a [GenOpt],
    /// The options of `trigger_event`'s `empty_lb_backends`.
    pub event_opts: &'a [GenOpt],
}

/// An option a generating action may set: its name, code and type
/// (`ipv4`, `str`, `bool`, `uint8`, `uint16`, `uint32`, `host_id`,
/// `domains`, `static_routes`, `ipv6`, `mac`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOpt {
    /// Its name.
    pub name: String,
    /// Its code.
    pub code: u16,
    /// Its type.
    pub kind: String,
}

/// The options of `put_nd_ra_opts`: name, code, type (OVN's
/// `nd_ra_opts_init`).
pub const ND_RA_OPTS: [(&str, u16, &str); 8] = [
    ("addr_mode", 0, "str"),
    ("router_preference", 255, "str"),
    ("slla", 1, "mac"),
    ("prefix", 3, "ipv6"),
    ("mtu", 5, "uint32"),
    ("rdnss", 25, "ipv6"),
    ("dnssl", 31, "str"),
    ("route_info", 24, "str"),
];

/// The options of `trigger_event`'s `empty_lb_backends` (OVN's
/// `controller_event_opts_init`).
pub const EVENT_OPTS: [(&str, u16, &str); 3] = [("vip", 1, "str"), ("protocol", 2, "str"), ("load_balancer", 3, "str")];

/// An option set, with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct OptValue {
    /// The option.
    pub opt: GenOpt,
    /// Its value(s).
    pub value: crate::expr::ConstantSet,
}

/// The OpenFlow tables of the actions that look something up, each a
/// table whose flows the agent installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupTables {
    /// The MAC-binding table (`get_arp`, `lookup_arp_ip`).
    pub mac_bind: u8,
    /// The MAC-binding check table (`lookup_arp`).
    pub mac_lookup: u8,
    /// `chk_lb_hairpin`'s table.
    pub lb_hairpin: u8,
    /// `chk_lb_hairpin_reply`'s table.
    pub lb_hairpin_reply: u8,
    /// `ct_snat_to_vip`'s table.
    pub ct_snat_vip: u8,
    /// `get_fdb`'s table.
    pub fdb: u8,
    /// `lookup_fdb`'s table.
    pub fdb_lookup: u8,
    /// `check_in_port_sec`'s table.
    pub in_port_sec: u8,
    /// `check_out_port_sec`'s table.
    pub out_port_sec: u8,
}

impl LookupTables {
    /// OVN 23.03's (`controller/lflow.h`: `OFTABLE_MAC_BINDING` …
    /// `OFTABLE_CHK_OUT_PORT_SEC`).
    pub const OVN: LookupTables = LookupTables {
        mac_bind: 66,
        mac_lookup: 67,
        lb_hairpin: 68,
        lb_hairpin_reply: 69,
        ct_snat_vip: 70,
        fdb: 71,
        fdb_lookup: 72,
        in_port_sec: 73,
        out_port_sec: 75,
    };
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
    /// The tables of the actions that look something up.
    pub tables: LookupTables,
    /// The OpenFlow port of the tunnel to a logical port's chassis
    /// (`fwd_group`'s liveness).
    pub tunnel_ofport: &'a dyn Fn(&str) -> Option<u16>,
    /// The logical flow's UUID (who uses a group or meter; `$cookie`).
    pub lflow_uuid: u128,
    /// The datapath's tunnel key (`sample`'s observation domain).
    pub dp_key: u32,
    /// The IPFIX collector sets configured (`sample` to another does
    /// nothing).
    pub collector_ids: &'a [u32],
    /// The meter of the logical flow's packets to pinctrl, if any.
    pub ctrl_meter_id: Option<u32>,
    /// The datapath has meters (else controller actions go unmetered).
    pub meters: bool,
    /// The datapath hashes L4 symmetrically for `dp_hash` (`select`).
    pub dp_hash_l4_sym: bool,
    /// The datapath's conntrack can SNAT to all-zero (`ct_commit`).
    pub ct_zero_snat: bool,
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

/// Actions as OVN prints them (`drop;` for none).
pub fn format(acts: &[Ovnact], symtab: &Symtab) -> String {
    if acts.is_empty() {
        return "drop;".into();
    }
    acts.iter().map(|a| format_one(a, symtab)).collect::<Vec<_>>().join(" ")
}

/// `name = value, …`.
fn format_opts(opts: &[OptValue]) -> String {
    opts.iter().map(|o| format!("{} = {}", o.opt.name, o.value.format())).collect::<Vec<_>>().join(", ")
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
        Ovnact::PutOpts { kind, dst, opts } => format!("{} = {}({});", field_text(dst, symtab), kind.name(), format_opts(opts)),
        Ovnact::CtLb { .. } | Ovnact::Select { .. } | Ovnact::FwdGroup { .. } | Ovnact::CommitLbAff { .. } => lb::format(a, symtab),
        Ovnact::SetMeter { .. } | Ovnact::Log(_) | Ovnact::Sample { .. } | Ovnact::TriggerEvent { .. } => telemetry::format(a),
        Ovnact::CommitEcmpNh { ipv6, proto } => format!("commit_ecmp_nh(ipv6 = {ipv6}, proto = {});", learn::proto_name(*proto)),
        Ovnact::Check { kind, dst } => format!("{} = {}();", field_text(dst, symtab), kind.name()),
        Ovnact::CheckPktLarger { dst, pkt_len } => format!("{} = check_pkt_larger({pkt_len});", field_text(dst, symtab)),
        Ovnact::SetQueue(q) => format!("set_queue({q});"),
        Ovnact::DnsLookup(dst) => format!("{} = dns_lookup();", field_text(dst, symtab)),
        Ovnact::BindVport { vport, parent } => format!("bind_vport(\"{vport}\", {});", field_text(parent, symtab)),
        Ovnact::BfdMsg => "handle_bfd_msg();".into(),
        Ovnact::HandleSvcCheck(port) => format!("handle_svc_check({});", field_text(port, symtab)),
        Ovnact::CtSnatToVip => "ct_snat_to_vip;".into(),
        Ovnact::Igmp => "igmp;".into(),
        Ovnact::Dhcp6Reply => "handle_dhcpv6_reply;".into(),
        Ovnact::GetFdb { dst, mac } => format!("{} = get_fdb({});", field_text(dst, symtab), field_text(mac, symtab)),
        Ovnact::LookupFdb { dst, port, mac } => {
            format!("{} = lookup_fdb({}, {});", field_text(dst, symtab), field_text(port, symtab), field_text(mac, symtab))
        }
        Ovnact::PutFdb { port, mac } => format!("put_fdb({}, {});", field_text(port, symtab), field_text(mac, symtab)),
        Ovnact::GetMacBind { nd, port, ip } => {
            format!("{}({}, {});", if *nd { "get_nd" } else { "get_arp" }, field_text(port, symtab), field_text(ip, symtab))
        }
        Ovnact::PutMacBind { nd, port, ip, mac } => format!(
            "{}({}, {}, {});",
            if *nd { "put_nd" } else { "put_arp" },
            field_text(port, symtab),
            field_text(ip, symtab),
            field_text(mac, symtab)
        ),
        Ovnact::LookupMacBind { nd, dst, port, ip, mac } => {
            let name = match (nd, mac.is_some()) {
                (false, true) => "lookup_arp",
                (true, true) => "lookup_nd",
                (false, false) => "lookup_arp_ip",
                (true, false) => "lookup_nd_ip",
            };
            let mut args = vec![field_text(port, symtab), field_text(ip, symtab)];
            args.extend(mac.as_ref().map(|m| field_text(m, symtab)));
            format!("{} = {name}({});", field_text(dst, symtab), args.join(", "))
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
