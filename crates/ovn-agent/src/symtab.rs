//! The symbol table: the names a logical flow may use, as OVN 23.03's
//! `ovn_init_symtab` (`lib/logical-fields.c`) defines them.
//!
//! A symbol is one of:
//! - a **field**, an OpenFlow field under OVN's name (`ip4.src` is
//!   `ip_src`); registers are logical: `reg0..9`, `xreg0..4`, `xxreg0..1`,
//!   with each smaller register defined as a subfield of a larger one so
//!   that the compiler sees their overlap;
//! - a **string** field, whose values are logical port names that become
//!   tunnel keys (`inport` on `reg14`, `outport` on `reg15`);
//! - a **subfield**, bits of another symbol (`vlan.vid` is
//!   `vlan.tci[0..11]`, `ct.trk` is `ct_state[5]`);
//! - a **predicate**, a name for an expression (`tcp` is `ip.proto == 6`);
//! - an **OVN field**, known only to OVN's actions (`icmp4.frag_mtu`).
//!
//! Each has a width in bits (0 for strings, 1 for predicates), a level of
//! measurement — nominal (only `==`, only positively), Boolean (`==` and
//! `!=`) or ordinal (any relation, bitwise masks) — prerequisites (an
//! expression that must hold wherever it is used, `ip4` for `ip4.src`),
//! and the contexts where actions may write it.
//!
//! The table is built once, in an order where a subfield or predicate
//! names only symbols defined before it; a predicate's level is that of
//! its expansion, which is parsed with the table as built so far.

use std::collections::HashMap;
use std::sync::LazyLock;

use ofproto::flowmatch::Mff;

use crate::expr::{self, Expr};

/// A symbol's index in its [`Symtab`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymbolId(pub u16);

/// A level of measurement: what relations a symbol may be tested with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Only equality, only positively (`eth.type == 0x800`).
    Nominal,
    /// Equality and inequality (`vlan.present`, `!vlan.present`).
    Boolean,
    /// Any relation, and bitwise masks (`tcp.dst >= 1024`).
    Ordinal,
}

impl Level {
    /// Its name in OVN's messages.
    pub fn name(self) -> &'static str {
        match self {
            Level::Nominal => "nominal",
            Level::Boolean => "Boolean",
            Level::Ordinal => "ordinal",
        }
    }
}

/// Writable at the top level of an action list.
pub const WR_DEFAULT: u8 = 1;
/// Writable inside `ct_commit { }`.
pub const WR_CT_COMMIT: u8 = 2;

/// An OpenFlow field as the symbol table sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfField {
    /// Which field.
    pub mff: Mff,
    /// Its name in OpenFlow 1.5 (`nx_format_field_name`).
    pub oxm_name: &'static str,
    /// Its width in bits.
    pub bits: usize,
    /// Whether OpenFlow matches it with any bitwise mask.
    pub maskable: bool,
    /// Whether actions may set it.
    pub writable: bool,
}

/// An OVN field (only OVN's actions know it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OvnField {
    /// `icmp4.frag_mtu`: the MTU of an ICMPv4 "fragmentation needed".
    Icmp4FragMtu,
    /// `icmp6.frag_mtu`: the MTU of an ICMPv6 "packet too big".
    Icmp6FragMtu,
}

/// What a symbol stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A whole OpenFlow field.
    Field(OfField),
    /// Logical port names held in an OpenFlow field as tunnel keys.
    Str(OfField),
    /// Bits `ofs..ofs + width` of another symbol.
    Subfield {
        /// The symbol they are bits of.
        parent: SymbolId,
        /// The first bit.
        ofs: usize,
    },
    /// A name for an expression.
    Predicate(String),
    /// A field only OVN's actions know.
    Ovn(OvnField),
}

/// A symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct Symbol {
    /// Its name.
    pub name: String,
    /// Its width in bits (0 for a string, 1 for a predicate).
    pub width: usize,
    /// What it stands for.
    pub kind: Kind,
    /// What it may be tested with.
    pub level: Level,
    /// What must hold wherever it is used.
    pub prereqs: Option<String>,
    /// Never a dimension of a conjunctive match.
    pub must_crossproduct: bool,
    /// Where actions may write it ([`WR_DEFAULT`], [`WR_CT_COMMIT`]).
    pub rw: u8,
}

impl Symbol {
    /// The predicate's expansion, if it is one.
    pub fn predicate(&self) -> Option<&str> {
        match &self.kind {
            Kind::Predicate(e) => Some(e),
            _ => None,
        }
    }
}

/// A symbol table.
#[derive(Debug, Clone, Default)]
pub struct Symtab {
    symbols: Vec<Symbol>,
    by_name: HashMap<String, SymbolId>,
    /// Definitions that did not parse (none in OVN's table: a test checks).
    errors: Vec<String>,
}

/// The fields OVN's symbol table names, as OVS 3.1's `meta-flow` has them.
const fn of(mff: Mff, oxm_name: &'static str, bits: usize, maskable: bool, writable: bool) -> OfField {
    OfField { mff, oxm_name, bits, maskable, writable }
}

impl Symtab {
    /// OVN 23.03's logical fields.
    pub fn ovn() -> &'static Symtab {
        static OVN: LazyLock<Symtab> = LazyLock::new(build_ovn);
        &OVN
    }

    /// The table of OVN's `test-ovn`: OVN's fields and five symbols for
    /// negative tests (`bad_prereq`, `self_recurse`, `mutual_recurse_1`
    /// and `_2`, `big_string`).
    pub fn test_ovn() -> &'static Symtab {
        static TEST: LazyLock<Symtab> = LazyLock::new(|| {
            let mut t = build_ovn();
            let xreg0 = of(Mff::Xreg(0), "OXM_OF_PKT_REG0", 64, true, true);
            t.add_field("bad_prereq", xreg0, Some("xyzzy"), false, WR_DEFAULT);
            t.add_field("self_recurse", xreg0, Some("self_recurse != 0"), false, WR_DEFAULT);
            t.add_field("mutual_recurse_1", xreg0, Some("mutual_recurse_2 != 0"), false, WR_DEFAULT);
            t.add_field("mutual_recurse_2", xreg0, Some("mutual_recurse_1 != 0"), false, WR_DEFAULT);
            t.add_string("big_string", xreg0, None);
            t
        });
        &TEST
    }

    /// The definitions that could not be added, with why.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Adds a subfield or predicate whose definition must parse; one that
    /// does not is left out and its error kept.
    fn define(&mut self, added: Result<SymbolId, String>, name: &str) {
        if let Err(e) = added {
            self.errors.push(format!("{name}: {e}"));
        }
    }

    /// The symbol named `name`.
    pub fn lookup(&self, name: &str) -> Option<SymbolId> {
        self.by_name.get(name).copied()
    }

    /// The symbol `id`.
    pub fn get(&self, id: SymbolId) -> &Symbol {
        &self.symbols[usize::from(id.0)]
    }

    /// Every symbol, in the order they were defined.
    pub fn iter(&self) -> impl Iterator<Item = (SymbolId, &Symbol)> {
        self.symbols.iter().enumerate().map(|(i, s)| (SymbolId(i as u16), s))
    }

    fn add(&mut self, symbol: Symbol) -> SymbolId {
        let id = SymbolId(self.symbols.len() as u16);
        self.by_name.insert(symbol.name.clone(), id);
        self.symbols.push(symbol);
        id
    }

    /// Adds a whole OpenFlow field.
    pub fn add_field(&mut self, name: &str, field: OfField, prereqs: Option<&str>, must_crossproduct: bool, scope: u8) -> SymbolId {
        self.add(Symbol {
            name: name.to_owned(),
            width: field.bits,
            kind: Kind::Field(field),
            level: if field.maskable { Level::Ordinal } else { Level::Nominal },
            prereqs: prereqs.filter(|p| !p.is_empty()).map(String::from),
            must_crossproduct,
            rw: if field.writable { scope } else { 0 },
        })
    }

    /// Adds a string field.
    pub fn add_string(&mut self, name: &str, field: OfField, prereqs: Option<&str>) -> SymbolId {
        self.add(Symbol {
            name: name.to_owned(),
            width: 0,
            kind: Kind::Str(field),
            level: Level::Nominal,
            prereqs: prereqs.filter(|p| !p.is_empty()).map(String::from),
            must_crossproduct: false,
            rw: if field.writable { WR_DEFAULT } else { 0 },
        })
    }

    /// Adds `name` as the bits of an existing symbol that `subfield`
    /// names (`"vlan.tci[0..11]"`). A subfield that does not parse is a
    /// definition error: nothing is added.
    pub fn add_subfield(&mut self, name: &str, prereqs: Option<&str>, subfield: &str, scope: u8) -> Result<SymbolId, String> {
        let f = expr::parse_field_str(subfield, self)?;
        let parent = self.get(f.symbol);
        let symbol = Symbol {
            name: name.to_owned(),
            width: f.n_bits,
            kind: Kind::Subfield { parent: f.symbol, ofs: f.ofs },
            level: parent.level,
            prereqs: prereqs.filter(|p| !p.is_empty()).map(String::from),
            must_crossproduct: false,
            rw: if parent.rw != 0 { scope } else { 0 },
        };
        Ok(self.add(symbol))
    }

    /// Adds `name` for the expression `expansion`.
    pub fn add_predicate(&mut self, name: &str, expansion: &str) -> Result<SymbolId, String> {
        let e = expr::parse_str(expansion, self, &expr::Sets::default())?;
        let symbol = Symbol {
            name: name.to_owned(),
            width: 1,
            kind: Kind::Predicate(expansion.to_owned()),
            level: level_of(&e, self),
            prereqs: None,
            must_crossproduct: false,
            rw: 0,
        };
        Ok(self.add(symbol))
    }

    /// Adds an OVN field.
    pub fn add_ovn_field(&mut self, name: &str, field: OvnField, bits: usize) -> SymbolId {
        self.add(Symbol {
            name: name.to_owned(),
            width: bits,
            kind: Kind::Ovn(field),
            level: Level::Nominal,
            prereqs: None,
            must_crossproduct: false,
            rw: u8::MAX,
        })
    }

    /// `NAME = EXPANSION` for `id`, as `expr_symbol_format` prints it.
    pub fn format_symbol(&self, id: SymbolId) -> String {
        let s = self.get(id);
        let expansion = match &s.kind {
            Kind::Subfield { parent, ofs } => expr::format_field(self, *parent, *ofs, s.width),
            Kind::Predicate(e) => e.clone(),
            Kind::Ovn(_) => s.name.clone(),
            Kind::Field(f) | Kind::Str(f) => f.oxm_name.to_owned(),
        };
        format!("{} = {expansion}", s.name)
    }

    /// Every symbol as `dump-symtab` prints it: sorted by name.
    pub fn dump(&self) -> String {
        let mut ids: Vec<SymbolId> = self.iter().map(|(id, _)| id).collect();
        ids.sort_by(|a, b| self.get(*a).name.as_bytes().cmp(self.get(*b).name.as_bytes()));
        ids.iter().map(|&id| self.format_symbol(id) + "\n").collect()
    }
}

/// The level of an expression: the lowest of its comparisons' (a
/// comparison of a nominal symbol is nominal, any other Boolean).
fn level_of(e: &Expr, symtab: &Symtab) -> Level {
    match e {
        Expr::Cmp(c) => {
            if symtab.get(c.symbol).level == Level::Nominal {
                Level::Nominal
            } else {
                Level::Boolean
            }
        }
        Expr::And(subs) | Expr::Or(subs) => subs.iter().map(|s| level_of(s, symtab)).min().unwrap_or(Level::Ordinal),
        Expr::Bool(_) | Expr::Chassis { .. } => Level::Boolean,
    }
}

/// Connection-tracking state bits, as OVS numbers them.
const CT_STATES: [(&str, usize); 8] = [("new", 0), ("est", 1), ("rel", 2), ("rpl", 3), ("inv", 4), ("trk", 5), ("snat", 6), ("dnat", 7)];

/// Bits of the logical flags register (`MLF_*_BIT`).
pub mod flags {
    /// Output back to the input port allowed.
    pub const ALLOW_LOOPBACK: usize = 0;
    /// Force SNAT after DNAT.
    pub const FORCE_SNAT_FOR_DNAT: usize = 2;
    /// Force SNAT after load balancing.
    pub const FORCE_SNAT_FOR_LB: usize = 3;
    /// Skip SNAT after load balancing.
    pub const SKIP_SNAT_FOR_LB: usize = 9;
    /// Use the SNAT zone.
    pub const USE_SNAT_ZONE: usize = 11;
}

/// Builds OVN's table (`ovn_init_symtab`). Its definitions are fixed: a
/// failure to parse one of them is a bug, caught by the tests.
fn build_ovn() -> Symtab {
    let mut t = Symtab::default();
    let reg = |i: u8| of(Mff::Reg(i), REG_NAMES[usize::from(i)], 32, true, true);
    t.add_string("inport", reg(14), None);
    t.add_string("outport", reg(15), None);
    // Logical registers: xxreg0..1 are fields, xreg0..3 their halves,
    // xreg4 a field; reg0..7 quarters of the xxregs, reg8..9 halves of
    // xreg4.
    for i in 0..2u8 {
        t.add_field(
            &format!("xxreg{i}"),
            of(Mff::Xxreg(i), ["NXM_NX_XXREG0", "NXM_NX_XXREG1"][usize::from(i)], 128, true, true),
            None,
            false,
            WR_DEFAULT,
        );
    }
    let subreg = |t: &mut Symtab, name: String, expansion: String| {
        let added = t.add_subfield(&name, None, &expansion, WR_DEFAULT);
        t.define(added, &name);
    };
    for xi in 0..5usize {
        if xi / 2 < 2 {
            let lsb = 64 * (1 - xi % 2);
            subreg(&mut t, format!("xreg{xi}"), format!("xxreg{}[{}..{}]", xi / 2, lsb, lsb + 63));
        } else {
            t.add_field(&format!("xreg{xi}"), of(Mff::Xreg(xi as u8), "OXM_OF_PKT_REG4", 64, true, true), None, false, WR_DEFAULT);
        }
    }
    for i in 0..10usize {
        if i / 4 < 2 {
            let lsb = 32 * (3 - i % 4);
            subreg(&mut t, format!("reg{i}"), format!("xxreg{}[{}..{}]", i / 4, lsb, lsb + 31));
        } else {
            let lsb = 32 * (1 - i % 2);
            subreg(&mut t, format!("reg{i}"), format!("xreg{}[{}..{}]", i / 2, lsb, lsb + 31));
        }
    }
    t.add_field("flags", reg(10), None, false, WR_DEFAULT);
    for (name, bit) in [
        ("loopback", flags::ALLOW_LOOPBACK),
        ("force_snat_for_dnat", flags::FORCE_SNAT_FOR_DNAT),
        ("force_snat_for_lb", flags::FORCE_SNAT_FOR_LB),
        ("skip_snat_for_lb", flags::SKIP_SNAT_FOR_LB),
        ("use_snat_zone", flags::USE_SNAT_ZONE),
    ] {
        subreg(&mut t, format!("flags.{name}"), format!("flags[{bit}]"));
    }

    // Connection tracking.
    t.add_field("ct_mark", of(Mff::CtMark, "NXM_NX_CT_MARK", 32, true, true), None, false, WR_CT_COMMIT);
    let ct_sub = |t: &mut Symtab, name: &str, bits: &str| {
        let parent = name.split('.').next().unwrap_or("");
        let added = t.add_subfield(name, None, &format!("{parent}[{bits}]"), WR_CT_COMMIT);
        t.define(added, name);
    };
    for (name, bits) in [("blocked", "0"), ("natted", "1"), ("ecmp_reply_port", "16..31"), ("skip_snat", "2"), ("force_snat", "3")] {
        ct_sub(&mut t, &format!("ct_mark.{name}"), bits);
    }
    t.add_field("ct_label", of(Mff::CtLabel, "NXM_NX_CT_LABEL", 128, true, true), None, false, WR_CT_COMMIT);
    for (name, bits) in [
        ("blocked", "0"),
        ("natted", "1"),
        ("ecmp_reply_eth", "32..79"),
        ("ecmp_reply_port", "80..95"),
        ("label", "96..127"),
        ("skip_snat", "2"),
        ("force_snat", "3"),
    ] {
        ct_sub(&mut t, &format!("ct_label.{name}"), bits);
    }
    t.add_field("ct_state", of(Mff::CtState, "NXM_NX_CT_STATE", 32, true, false), None, false, WR_DEFAULT);
    for (name, bit) in CT_STATES {
        let prereqs = if name == "trk" { None } else { Some("ct.trk") };
        let added = t.add_subfield(&format!("ct.{name}"), prereqs, &format!("ct_state[{bit}]"), WR_DEFAULT);
        t.define(added, name);
    }

    // Data fields.
    let field = |t: &mut Symtab, name: &str, f: OfField, prereqs: Option<&str>, cross: bool| {
        t.add_field(name, f, prereqs, cross, WR_DEFAULT);
    };
    let pred = |t: &mut Symtab, name: &str, expansion: &str| {
        let added = t.add_predicate(name, expansion);
        t.define(added, name);
    };
    let sub = |t: &mut Symtab, name: &str, prereqs: Option<&str>, expansion: &str| {
        let added = t.add_subfield(name, prereqs, expansion, WR_DEFAULT);
        t.define(added, name);
    };
    field(&mut t, "eth.src", of(Mff::EthSrc, "OXM_OF_ETH_SRC", 48, true, true), None, false);
    field(&mut t, "eth.dst", of(Mff::EthDst, "OXM_OF_ETH_DST", 48, true, true), None, false);
    field(&mut t, "eth.type", of(Mff::EthType, "OXM_OF_ETH_TYPE", 16, false, false), None, true);
    pred(&mut t, "eth.bcast", "eth.dst == ff:ff:ff:ff:ff:ff");
    sub(&mut t, "eth.mcast", None, "eth.dst[40]");
    pred(&mut t, "eth.mcastv6", "eth.dst[32..47] == 0x3333");

    field(&mut t, "vlan.tci", of(Mff::VlanTci, "NXM_OF_VLAN_TCI", 16, true, true), None, false);
    pred(&mut t, "vlan.present", "vlan.tci[12]");
    sub(&mut t, "vlan.pcp", Some("vlan.present"), "vlan.tci[13..15]");
    sub(&mut t, "vlan.vid", Some("vlan.present"), "vlan.tci[0..11]");

    pred(&mut t, "ip4", "eth.type == 0x800");
    pred(&mut t, "ip6", "eth.type == 0x86dd");
    pred(&mut t, "ip", "ip4 || ip6");
    field(&mut t, "ip.proto", of(Mff::IpProto, "OXM_OF_IP_PROTO", 8, false, false), Some("ip"), true);
    field(&mut t, "ip.dscp", of(Mff::IpDscpShifted, "OXM_OF_IP_DSCP", 6, false, true), Some("ip"), false);
    field(&mut t, "ip.ecn", of(Mff::IpEcn, "OXM_OF_IP_ECN", 2, false, true), Some("ip"), false);
    field(&mut t, "ip.ttl", of(Mff::IpTtl, "NXM_NX_IP_TTL", 8, false, true), Some("ip"), false);

    field(&mut t, "ip4.src", of(Mff::Ipv4Src, "OXM_OF_IPV4_SRC", 32, true, true), Some("ip4"), false);
    field(&mut t, "ip4.dst", of(Mff::Ipv4Dst, "OXM_OF_IPV4_DST", 32, true, true), Some("ip4"), false);
    pred(&mut t, "ip4.src_mcast", "ip4.src[28..31] == 0xe");
    pred(&mut t, "ip4.mcast", "eth.mcast && ip4.dst[28..31] == 0xe");

    pred(&mut t, "icmp4", "ip4 && ip.proto == 1");
    field(&mut t, "icmp4.type", of(Mff::Icmpv4Type, "OXM_OF_ICMPV4_TYPE", 8, false, true), Some("icmp4"), false);
    field(&mut t, "icmp4.code", of(Mff::Icmpv4Code, "OXM_OF_ICMPV4_CODE", 8, false, true), Some("icmp4"), false);

    pred(&mut t, "igmp", "ip4 && ip.proto == 2");

    field(&mut t, "ip6.src", of(Mff::Ipv6Src, "OXM_OF_IPV6_SRC", 128, true, true), Some("ip6"), false);
    field(&mut t, "ip6.dst", of(Mff::Ipv6Dst, "OXM_OF_IPV6_DST", 128, true, true), Some("ip6"), false);
    field(&mut t, "ip6.label", of(Mff::Ipv6Label, "OXM_OF_IPV6_FLABEL", 20, true, true), Some("ip6"), false);

    pred(&mut t, "ip6.mcast_rsvd", "ip6.dst[116..127] == 0xff0 && ip6.dst[0..111] == 0x0");
    pred(&mut t, "ip6.mcast_all_nodes", "ip6.dst == ff01::1 || ip6.dst == ff02::1");
    pred(&mut t, "ip6.mcast_all_rtrs", "ip6.dst == ff01::2 || ip6.dst == ff02::2 || ip6.dst == ff05::2");
    pred(&mut t, "ip6.mcast_sol_node", "ip6.dst == ff02::1:ff00:0000/104");
    pred(&mut t, "ip6.mcast_flood", "eth.mcastv6 && (ip6.mcast_rsvd || ip6.mcast_all_nodes || ip6.mcast_all_rtrs || ip6.mcast_sol_node)");
    pred(&mut t, "ip6.mcast", "eth.mcastv6 && ip6.dst[120..127] == 0xff");

    pred(&mut t, "icmp6", "ip6 && ip.proto == 58");
    field(&mut t, "icmp6.type", of(Mff::Icmpv6Type, "OXM_OF_ICMPV6_TYPE", 8, false, true), Some("icmp6"), true);
    field(&mut t, "icmp6.code", of(Mff::Icmpv6Code, "OXM_OF_ICMPV6_CODE", 8, false, true), Some("icmp6"), true);

    pred(&mut t, "icmp", "icmp4 || icmp6");

    field(&mut t, "ip.frag", of(Mff::IpFrag, "NXM_NX_IP_FRAG", 2, true, false), Some("ip"), false);
    pred(&mut t, "ip.is_frag", "ip.frag[0]");
    pred(&mut t, "ip.later_frag", "ip.frag[1]");
    pred(&mut t, "ip.first_frag", "ip.is_frag && !ip.later_frag");

    for proto in ["arp", "rarp"] {
        pred(&mut t, proto, if proto == "arp" { "eth.type == 0x806" } else { "eth.type == 0x8035" });
        let p = Some(proto);
        field(&mut t, &format!("{proto}.op"), of(Mff::ArpOp, "OXM_OF_ARP_OP", 16, false, true), p, false);
        field(&mut t, &format!("{proto}.spa"), of(Mff::ArpSpa, "OXM_OF_ARP_SPA", 32, true, true), p, false);
        field(&mut t, &format!("{proto}.sha"), of(Mff::ArpSha, "OXM_OF_ARP_SHA", 48, true, true), p, false);
        field(&mut t, &format!("{proto}.tpa"), of(Mff::ArpTpa, "OXM_OF_ARP_TPA", 32, true, true), p, false);
        field(&mut t, &format!("{proto}.tha"), of(Mff::ArpTha, "OXM_OF_ARP_THA", 48, true, true), p, false);
    }

    pred(&mut t, "nd", "icmp6.type == {135, 136} && icmp6.code == 0 && ip.ttl == 255");
    pred(&mut t, "nd_ns", "icmp6.type == 135 && icmp6.code == 0 && ip.ttl == 255");
    pred(&mut t, "nd_na", "icmp6.type == 136 && icmp6.code == 0 && ip.ttl == 255");
    pred(&mut t, "nd_rs", "icmp6.type == 133 && icmp6.code == 0 && ip.ttl == 255");
    pred(&mut t, "nd_ra", "icmp6.type == 134 && icmp6.code == 0 && ip.ttl == 255");
    field(&mut t, "nd.target", of(Mff::NdTarget, "OXM_OF_IPV6_ND_TARGET", 128, true, true), Some("nd"), false);
    field(&mut t, "nd.sll", of(Mff::NdSll, "OXM_OF_IPV6_ND_SLL", 48, true, true), Some("nd_ns"), false);
    field(&mut t, "nd.tll", of(Mff::NdTll, "OXM_OF_IPV6_ND_TLL", 48, true, true), Some("nd_na"), false);

    pred(&mut t, "mldv1", "ip6.src == fe80::/10 && icmp6.type == {130, 131, 132}");
    pred(&mut t, "mldv2", "ip6.dst == ff02::16 && icmp6.type == 143");

    pred(&mut t, "tcp", "ip.proto == 6");
    field(&mut t, "tcp.src", of(Mff::TcpSrc, "OXM_OF_TCP_SRC", 16, true, true), Some("tcp"), false);
    field(&mut t, "tcp.dst", of(Mff::TcpDst, "OXM_OF_TCP_DST", 16, true, true), Some("tcp"), false);
    field(&mut t, "tcp.flags", of(Mff::TcpFlags, "OXM_OF_TCP_FLAGS", 12, true, false), Some("tcp"), false);

    pred(&mut t, "udp", "ip.proto == 17");
    field(&mut t, "udp.src", of(Mff::UdpSrc, "OXM_OF_UDP_SRC", 16, true, true), Some("udp"), false);
    field(&mut t, "udp.dst", of(Mff::UdpDst, "OXM_OF_UDP_DST", 16, true, true), Some("udp"), false);

    pred(&mut t, "sctp", "ip.proto == 132");
    field(&mut t, "sctp.src", of(Mff::SctpSrc, "OXM_OF_SCTP_SRC", 16, true, true), Some("sctp"), false);
    field(&mut t, "sctp.dst", of(Mff::SctpDst, "OXM_OF_SCTP_DST", 16, true, true), Some("sctp"), false);

    field(&mut t, "pkt.mark", of(Mff::PktMark, "NXM_NX_PKT_MARK", 32, true, true), None, false);

    t.add_ovn_field("icmp4.frag_mtu", OvnField::Icmp4FragMtu, 16);
    t.add_ovn_field("icmp6.frag_mtu", OvnField::Icmp6FragMtu, 32);
    t
}

/// OpenFlow 1.5's names of the 16 registers.
const REG_NAMES: [&str; 16] = [
    "NXM_NX_REG0",
    "NXM_NX_REG1",
    "NXM_NX_REG2",
    "NXM_NX_REG3",
    "NXM_NX_REG4",
    "NXM_NX_REG5",
    "NXM_NX_REG6",
    "NXM_NX_REG7",
    "NXM_NX_REG8",
    "NXM_NX_REG9",
    "NXM_NX_REG10",
    "NXM_NX_REG11",
    "NXM_NX_REG12",
    "NXM_NX_REG13",
    "NXM_NX_REG14",
    "NXM_NX_REG15",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_definition_of_ovns_table_is_taken() {
        assert_eq!(Symtab::ovn().errors(), &[] as &[String]);
        assert_eq!(Symtab::test_ovn().iter().count(), Symtab::ovn().iter().count() + 5);
    }

    #[test]
    fn levels_follow_the_fields_and_expansions() {
        let t = Symtab::ovn();
        let level = |n: &str| t.get(t.lookup(n).unwrap()).level;
        assert_eq!(level("eth.type"), Level::Nominal);
        assert_eq!(level("ip4"), Level::Nominal);
        assert_eq!(level("ip"), Level::Nominal);
        assert_eq!(level("vlan.present"), Level::Boolean);
        assert_eq!(level("eth.bcast"), Level::Boolean);
        assert_eq!(level("ct.trk"), Level::Ordinal);
        assert_eq!(level("inport"), Level::Nominal);
    }

    #[test]
    fn subregisters_name_their_parents() {
        let t = Symtab::ovn();
        let line = |n: &str| t.format_symbol(t.lookup(n).unwrap());
        assert_eq!(line("reg3"), "reg3 = xxreg0[0..31]");
        assert_eq!(line("reg9"), "reg9 = xreg4[0..31]");
        assert_eq!(line("xreg1"), "xreg1 = xxreg0[0..63]");
        assert_eq!(line("ct.trk"), "ct.trk = ct_state[5]");
        assert_eq!(line("eth.mcast"), "eth.mcast = eth.dst[40]");
        assert_eq!(line("inport"), "inport = NXM_NX_REG14");
    }
}
