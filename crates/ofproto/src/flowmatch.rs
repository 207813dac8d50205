//! A flow match as Open vSwitch understands it, and its NXM and OXM
//! encodings (Nicira's `nx_match` and the OXM of OpenFlow 1.2 and later).
//!
//! The match is stored as OVS stores it: a value and a mask over a fixed
//! set of storage slots (`in_port`, `vlan_tci`, `nw_tos`, `tp_src`, …),
//! with several wire fields sharing a slot (`TCP_SRC`, `UDP_SRC`,
//! `ICMPV4_TYPE` all live in `tp_src`; `ARP_SPA` in `nw_src`; `IP_DSCP`
//! and `IP_ECN` in parts of `nw_tos`). Two matches are equal exactly when
//! OVS would consider them the same rule, and encoding a match for a
//! version writes the fields OVS writes, in OVS's order, with the header
//! OVS picks for that version — so a flow added in one version is listed
//! the same way in every other, as `ovs-ofctl dump-flows` expects.
//!
//! Decoding enforces what OVS enforces: a known header (BAD_FIELD), a
//! payload of the field's size (BAD_LEN), a mask only where the field
//! takes one (BAD_MASK), no value bits outside the mask (BAD_WILDCARDS),
//! a valid value (BAD_VALUE), prerequisites already matched by earlier
//! fields (BAD_PREREQ), and no field twice (DUP_FIELD).
//!
//! Not decoded yet: `tun_metadata0`–`63` (their length comes from the
//! TLV table, which ferrovs does not keep yet), the NSH, ERSPAN and GTP-U
//! fields, `dp_hash` and `packet_type`; they are refused with BAD_FIELD.

use std::sync::LazyLock;

use crate::wire::OfError;
pub use slot::FLOW_LEN;

/// BAD_MATCH error codes (OpenFlow 1.3 section 7.4.4).
pub mod bad_match {
    use crate::wire::OfError;
    /// BAD_TYPE: not an OXM match.
    pub const BAD_TYPE: OfError = OfError { ty: 4, code: 0 };
    /// BAD_LEN.
    pub const BAD_LEN: OfError = OfError { ty: 4, code: 1 };
    /// BAD_WILDCARDS: value bits set where the mask is zero.
    pub const BAD_WILDCARDS: OfError = OfError { ty: 4, code: 5 };
    /// BAD_FIELD.
    pub const BAD_FIELD: OfError = OfError { ty: 4, code: 6 };
    /// BAD_VALUE.
    pub const BAD_VALUE: OfError = OfError { ty: 4, code: 7 };
    /// BAD_MASK.
    pub const BAD_MASK: OfError = OfError { ty: 4, code: 8 };
    /// BAD_PREREQ.
    pub const BAD_PREREQ: OfError = OfError { ty: 4, code: 9 };
    /// DUP_FIELD.
    pub const DUP_FIELD: OfError = OfError { ty: 4, code: 10 };
}

/// A storage slot: where a value lives in [`Match`]'s byte arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    off: u16,
    len: u8,
}

impl Slot {
    /// The slot's bytes in [`Match::flow`] and [`Match::wc`].
    pub fn range(self) -> std::ops::Range<usize> {
        usize::from(self.off)..usize::from(self.off) + usize::from(self.len)
    }

    /// Where datapath field `f` lives: the tables store the datapath's
    /// flow key itself, each word as eight big-endian bytes, after the
    /// [`slot::XLATE_BYTES`] of fields only translation has.
    pub const fn of(f: dataplane::key::Field) -> Slot {
        let bits = f.bits as u16;
        let within = if bits > 64 { 0 } else { (64 - f.shift as u16 - bits) / 8 };
        Slot { off: slot::XLATE_BYTES as u16 + 8 * f.word as u16 + within, len: (bits / 8) as u8 }
    }

    /// The last `len` bytes of the slot.
    const fn low(self, len: u8) -> Slot {
        Slot { off: self.off + (self.len - len) as u16, len }
    }
}

/// The storage slots: ferrovs' one layout of flow fields
/// ([`dataplane::key`]), each field where the datapath key has it, seen
/// as bytes. Two slots differ from the datapath's value: `in_port` holds
/// the OpenFlow port, and `vlan_tci` OVS's form of the outer tag (TCI
/// with the CFI bit meaning "tagged"); [`crate::xlate::to_flow`] converts.
/// `conj_id` and `actset_output` exist in translation only and come
/// first, before the datapath key.
pub mod slot {
    use super::Slot;
    use dataplane::key::{word, Field as K, KEY_WORDS};

    /// Bytes of the fields only translation has (`conj_id`, `actset_output`).
    pub const XLATE_BYTES: usize = 8;
    /// Bytes of storage in a [`Match`](super::Match).
    pub const FLOW_LEN: usize = XLATE_BYTES + 8 * KEY_WORDS;

    /// Conjunction id (translation only).
    pub const CONJ_ID: Slot = Slot { off: 0, len: 4 };
    /// The action set's output port (translation only).
    pub const ACTSET_OUTPUT: Slot = Slot { off: 4, len: 2 };
    /// The OpenFlow ingress port: the low 16 bits of the datapath's.
    pub const IN_PORT: Slot = Slot::of(K::IN_PORT).low(2);
    /// OVS's `vlan_tci`, where the datapath has the outer tag's TCI.
    pub const VLAN_TCI: Slot = Slot::of(K::VLAN0_TCI);

    /// Names for the slots of datapath fields OpenFlow matches, under the
    /// names OVS's `struct flow` gives them.
    macro_rules! named {
        ($($(#[$doc:meta])* $name:ident = $field:ident;)*) => {
            $($(#[$doc])* pub const $name: Slot = Slot::of(K::$field);)*
        };
    }

    named! {
        /// Recirculation id.
        RECIRC_ID = RECIRC_ID;
        /// OpenFlow metadata.
        METADATA = METADATA;
        /// Tunnel key.
        TUN_ID = TUN_ID;
        /// Tunnel flags (OpenFlow sees the OAM bit).
        TUN_FLAGS = TUN_FLAGS;
        /// Outer IPv4 source.
        TUN_SRC = TUN_SRC;
        /// Outer IPv4 destination.
        TUN_DST = TUN_DST;
        /// Outer IPv6 source.
        TUN_IPV6_SRC = TUN_IPV6_SRC;
        /// Outer IPv6 destination.
        TUN_IPV6_DST = TUN_IPV6_DST;
        /// VXLAN GBP id.
        TUN_GBP_ID = TUN_GBP_ID;
        /// VXLAN GBP flags.
        TUN_GBP_FLAGS = TUN_GBP_FLAGS;
        /// Packet mark.
        PKT_MARK = PKT_MARK;
        /// Connection tracking state.
        CT_STATE = CT_STATE;
        /// Connection tracking zone.
        CT_ZONE = CT_ZONE;
        /// Connection tracking mark.
        CT_MARK = CT_MARK;
        /// Connection tracking label.
        CT_LABEL = CT_LABEL;
        /// Connection tracking original protocol.
        CT_NW_PROTO = CT_NW_PROTO;
        /// Connection tracking original IPv4 source.
        CT_NW_SRC = CT_NW_SRC;
        /// Connection tracking original IPv4 destination.
        CT_NW_DST = CT_NW_DST;
        /// Connection tracking original IPv6 source.
        CT_IPV6_SRC = CT_IPV6_SRC;
        /// Connection tracking original IPv6 destination.
        CT_IPV6_DST = CT_IPV6_DST;
        /// Connection tracking original transport source port.
        CT_TP_SRC = CT_TP_SRC;
        /// Connection tracking original transport destination port.
        CT_TP_DST = CT_TP_DST;
        /// Ethernet source.
        DL_SRC = ETH_SRC;
        /// Ethernet destination.
        DL_DST = ETH_DST;
        /// Ethertype.
        DL_TYPE = ETH_TYPE;
        /// Top MPLS label stack entry.
        MPLS_LSE = MPLS_LSE;
        /// IPv4 source or ARP SPA.
        NW_SRC = NW_SRC;
        /// IPv4 destination or ARP TPA.
        NW_DST = NW_DST;
        /// IPv6 source.
        IPV6_SRC = IPV6_SRC;
        /// IPv6 destination.
        IPV6_DST = IPV6_DST;
        /// IPv6 flow label.
        IPV6_LABEL = IPV6_LABEL;
        /// IP protocol or ARP opcode.
        NW_PROTO = NW_PROTO;
        /// IP TOS.
        NW_TOS = NW_TOS;
        /// IP TTL.
        NW_TTL = NW_TTL;
        /// IP fragment bits.
        NW_FRAG = NW_FRAG;
        /// ARP SHA or ND SLL.
        ARP_SHA = ARP_SHA;
        /// ARP THA or ND TLL.
        ARP_THA = ARP_THA;
        /// Transport source port or ICMP type.
        TP_SRC = TP_SRC;
        /// Transport destination port or ICMP code.
        TP_DST = TP_DST;
        /// TCP flags.
        TCP_FLAGS = TCP_FLAGS;
        /// ND target.
        ND_TARGET = ND_TARGET;
    }

    /// The sixteen registers.
    pub const REGS: Slot = Slot { off: (XLATE_BYTES + 8 * word::REGS) as u16, len: 64 };
    /// Register `i` (32 bits).
    pub const fn reg(i: u8) -> Slot {
        Slot { off: REGS.off + 4 * i as u16, len: 4 }
    }
    /// 64-bit register `i` (`reg(2i)` and `reg(2i+1)`).
    pub const fn xreg(i: u8) -> Slot {
        Slot { off: REGS.off + 8 * i as u16, len: 8 }
    }
    /// 128-bit register `i` (`reg(4i)` … `reg(4i+3)`).
    pub const fn xxreg(i: u8) -> Slot {
        Slot { off: REGS.off + 16 * i as u16, len: 16 }
    }

    /// Where the classifier's stages start: the metadata, L2, L3 and L4
    /// words of the datapath layout.
    pub const STAGE_STARTS: [usize; 4] =
        [0, XLATE_BYTES + 8 * word::ETH_DST_TYPE, XLATE_BYTES + 8 * word::NW_ADDRS, XLATE_BYTES + 8 * word::TP];
}

/// What must already be matched before a field may be (OVS's `MFP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prereq {
    /// Nothing.
    None,
    /// ARP or RARP.
    Arp,
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// IPv4 or IPv6.
    IpAny,
    /// A VLAN header (`vlan_tci` with the CFI bit).
    VlanVid,
    /// MPLS.
    Mpls,
    /// TCP over IP.
    Tcp,
    /// UDP over IP.
    Udp,
    /// SCTP over IP.
    Sctp,
    /// ICMPv4.
    Icmpv4,
    /// ICMPv6.
    Icmpv6,
    /// IPv6 neighbour discovery.
    Nd,
    /// Neighbour solicitation.
    NdSolicit,
    /// Neighbour advertisement.
    NdAdvert,
    /// A valid connection-tracking state.
    CtValid,
}

/// OVS's field identifiers for the fields ferrovs decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Mff {
    RecircId,
    ConjId,
    TunId,
    TunSrc,
    TunDst,
    TunIpv6Src,
    TunIpv6Dst,
    TunFlags,
    TunGbpId,
    TunGbpFlags,
    Metadata,
    InPort,
    InPortOxm,
    ActsetOutput,
    PktMark,
    CtState,
    CtZone,
    CtMark,
    CtLabel,
    CtNwProto,
    CtNwSrc,
    CtNwDst,
    CtIpv6Src,
    CtIpv6Dst,
    CtTpSrc,
    CtTpDst,
    Reg(u8),
    Xreg(u8),
    Xxreg(u8),
    EthSrc,
    EthDst,
    EthType,
    VlanTci,
    VlanVid,
    VlanPcp,
    MplsLabel,
    MplsTc,
    MplsBos,
    MplsTtl,
    Ipv4Src,
    Ipv4Dst,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Label,
    IpProto,
    IpDscp,
    IpDscpShifted,
    IpEcn,
    IpTtl,
    IpFrag,
    ArpOp,
    ArpSpa,
    ArpTpa,
    ArpSha,
    ArpTha,
    TcpSrc,
    TcpDst,
    TcpFlags,
    UdpSrc,
    UdpDst,
    SctpSrc,
    SctpDst,
    Icmpv4Type,
    Icmpv4Code,
    Icmpv6Type,
    Icmpv6Code,
    NdTarget,
    NdSll,
    NdTll,
    /// `tun_metadata<n>`: as long as the TLV table maps it (up to 124
    /// bytes); its static header says 124.
    TunMetadata(u8),
}

/// A field header: NXM/OXM class, field number, experimenter id (for
/// class 0xffff), and the OpenFlow version that introduced it (0 for
/// Nicira's own NXM and extension headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Class.
    pub class: u16,
    /// Field number (7 bits).
    pub field: u8,
    /// Experimenter id, when `class` is 0xffff.
    pub exp: u32,
    /// Version since which this header is preferred.
    pub version: u8,
}

/// Nicira's NXM_OF class (fields inherited from OpenFlow 1.0).
pub const NXM_OF: u16 = 0x0000;
/// Nicira's NXM_NX class.
pub const NXM_NX: u16 = 0x0001;
/// The OpenFlow-basic OXM class.
pub const OXM_BASIC: u16 = 0x8000;
/// OXM packet-register class (`xreg`).
pub const OXM_PKT_REGS: u16 = 0x8001;
/// OXM experimenter class.
pub const OXM_EXPERIMENTER: u16 = 0xffff;
/// ONF's experimenter id.
pub const ONF_EXPERIMENTER: u32 = 0x4f4e_4600;

/// A field: its id, name, value size, maskability, prerequisite, headers
/// (lowest version first), and where it is stored.
#[derive(Clone, Debug)]
pub struct Field {
    /// Id.
    pub id: Mff,
    /// Name as `ovs-fields(7)` spells it.
    pub name: String,
    /// Value size in bytes.
    pub bytes: u8,
    /// Whether an arbitrary bitwise mask is allowed.
    pub maskable: bool,
    /// Prerequisite.
    pub prereq: Prereq,
    /// Headers, lowest version first.
    pub headers: Vec<Header>,
    /// Storage slot.
    pub slot: Slot,
    /// Left shift of the value within the slot.
    pub shift: u8,
    /// The slot bits this field covers (an exact match sets all of them).
    pub cover: u128,
    /// Width in bits (`ovs-fields(7)`: "be16 (low 12 bits)" is 12).
    pub bits: u16,
}

const ETH_TYPE_IP: u16 = 0x0800;
const ETH_TYPE_ARP: u16 = 0x0806;
const ETH_TYPE_RARP: u16 = 0x8035;
const ETH_TYPE_IPV6: u16 = 0x86dd;
const ETH_TYPE_MPLS: u16 = 0x8847;
const ETH_TYPE_MPLS_MCAST: u16 = 0x8848;
const VLAN_CFI: u128 = 0x1000;
const VLAN_PCP_MASK: u128 = 0xe000;

pub(crate) fn full(bytes: u8) -> u128 {
    if bytes >= 16 {
        u128::MAX
    } else {
        (1u128 << (8 * u32::from(bytes))) - 1
    }
}

static FIELDS: LazyLock<Vec<Field>> = LazyLock::new(build_fields);

fn build_fields() -> Vec<Field> {
    use Mff::*;
    use Prereq as P;
    let nxm = |class, field| Header { class, field, exp: 0, version: 0 };
    let oxm = |field, version| Header { class: OXM_BASIC, field, exp: 0, version };
    let mut v = Vec::new();
    let mut add = |id, name: &str, bytes: u8, maskable, prereq, headers: Vec<Header>, slot: Slot| {
        let cover = full(slot.len);
        let bits = 8 * u16::from(bytes);
        v.push(Field { id, name: name.to_owned(), bytes, maskable, prereq, headers, slot, shift: 0, cover, bits });
    };
    add(RecircId, "recirc_id", 4, false, P::None, vec![nxm(NXM_NX, 36)], slot::RECIRC_ID);
    add(ConjId, "conj_id", 4, false, P::None, vec![nxm(NXM_NX, 37)], slot::CONJ_ID);
    add(TunId, "tun_id", 8, true, P::None, vec![nxm(NXM_NX, 16), oxm(38, 4)], slot::TUN_ID);
    add(TunSrc, "tun_src", 4, true, P::None, vec![nxm(NXM_NX, 31)], slot::TUN_SRC);
    add(TunDst, "tun_dst", 4, true, P::None, vec![nxm(NXM_NX, 32)], slot::TUN_DST);
    add(TunIpv6Src, "tun_ipv6_src", 16, true, P::None, vec![nxm(NXM_NX, 109)], slot::TUN_IPV6_SRC);
    add(TunIpv6Dst, "tun_ipv6_dst", 16, true, P::None, vec![nxm(NXM_NX, 110)], slot::TUN_IPV6_DST);
    add(TunFlags, "tun_flags", 2, true, P::None, vec![nxm(NXM_NX, 104)], slot::TUN_FLAGS);
    add(TunGbpId, "tun_gbp_id", 2, true, P::None, vec![nxm(NXM_NX, 38)], slot::TUN_GBP_ID);
    add(TunGbpFlags, "tun_gbp_flags", 1, true, P::None, vec![nxm(NXM_NX, 39)], slot::TUN_GBP_FLAGS);
    add(Metadata, "metadata", 8, true, P::None, vec![oxm(2, 3)], slot::METADATA);
    add(InPort, "in_port", 2, false, P::None, vec![nxm(NXM_OF, 0)], slot::IN_PORT);
    add(InPortOxm, "in_port_oxm", 4, false, P::None, vec![oxm(0, 3)], slot::IN_PORT);
    add(
        ActsetOutput,
        "actset_output",
        4,
        false,
        P::None,
        vec![Header { class: OXM_EXPERIMENTER, field: 43, exp: ONF_EXPERIMENTER, version: 4 }, oxm(43, 6)],
        slot::ACTSET_OUTPUT,
    );
    add(PktMark, "pkt_mark", 4, true, P::None, vec![nxm(NXM_NX, 33)], slot::PKT_MARK);
    add(CtState, "ct_state", 4, true, P::None, vec![nxm(NXM_NX, 105)], slot::CT_STATE);
    add(CtZone, "ct_zone", 2, false, P::None, vec![nxm(NXM_NX, 106)], slot::CT_ZONE);
    add(CtMark, "ct_mark", 4, true, P::None, vec![nxm(NXM_NX, 107)], slot::CT_MARK);
    add(CtLabel, "ct_label", 16, true, P::None, vec![nxm(NXM_NX, 108)], slot::CT_LABEL);
    add(CtNwProto, "ct_nw_proto", 1, false, P::CtValid, vec![nxm(NXM_NX, 119)], slot::CT_NW_PROTO);
    add(CtNwSrc, "ct_nw_src", 4, true, P::CtValid, vec![nxm(NXM_NX, 120)], slot::CT_NW_SRC);
    add(CtNwDst, "ct_nw_dst", 4, true, P::CtValid, vec![nxm(NXM_NX, 121)], slot::CT_NW_DST);
    add(CtIpv6Src, "ct_ipv6_src", 16, true, P::CtValid, vec![nxm(NXM_NX, 122)], slot::CT_IPV6_SRC);
    add(CtIpv6Dst, "ct_ipv6_dst", 16, true, P::CtValid, vec![nxm(NXM_NX, 123)], slot::CT_IPV6_DST);
    add(CtTpSrc, "ct_tp_src", 2, true, P::CtValid, vec![nxm(NXM_NX, 124)], slot::CT_TP_SRC);
    add(CtTpDst, "ct_tp_dst", 2, true, P::CtValid, vec![nxm(NXM_NX, 125)], slot::CT_TP_DST);
    for i in 0..16u8 {
        add(Reg(i), &format!("reg{i}"), 4, true, P::None, vec![nxm(NXM_NX, i)], slot::reg(i));
    }
    for i in 0..8u8 {
        add(
            Xreg(i),
            &format!("xreg{i}"),
            8,
            true,
            P::None,
            vec![Header { class: OXM_PKT_REGS, field: i, exp: 0, version: 4 }],
            slot::xreg(i),
        );
    }
    for i in 0..4u8 {
        add(Xxreg(i), &format!("xxreg{i}"), 16, true, P::None, vec![nxm(NXM_NX, 111 + i)], slot::xxreg(i));
    }
    add(EthSrc, "eth_src", 6, true, P::None, vec![nxm(NXM_OF, 2), oxm(4, 3)], slot::DL_SRC);
    add(EthDst, "eth_dst", 6, true, P::None, vec![nxm(NXM_OF, 1), oxm(3, 3)], slot::DL_DST);
    add(EthType, "eth_type", 2, false, P::None, vec![nxm(NXM_OF, 3), oxm(5, 3)], slot::DL_TYPE);
    add(VlanTci, "vlan_tci", 2, true, P::None, vec![nxm(NXM_OF, 4)], slot::VLAN_TCI);
    add(VlanVid, "vlan_vid", 2, true, P::None, vec![oxm(6, 3)], slot::VLAN_TCI);
    add(VlanPcp, "vlan_pcp", 1, false, P::VlanVid, vec![oxm(7, 3)], slot::VLAN_TCI);
    add(MplsLabel, "mpls_label", 4, false, P::Mpls, vec![oxm(34, 3)], slot::MPLS_LSE);
    add(MplsTc, "mpls_tc", 1, false, P::Mpls, vec![oxm(35, 3)], slot::MPLS_LSE);
    add(MplsBos, "mpls_bos", 1, false, P::Mpls, vec![oxm(36, 4)], slot::MPLS_LSE);
    add(MplsTtl, "mpls_ttl", 1, false, P::Mpls, vec![nxm(NXM_NX, 30)], slot::MPLS_LSE);
    add(Ipv4Src, "ip_src", 4, true, P::Ipv4, vec![nxm(NXM_OF, 7), oxm(11, 3)], slot::NW_SRC);
    add(Ipv4Dst, "ip_dst", 4, true, P::Ipv4, vec![nxm(NXM_OF, 8), oxm(12, 3)], slot::NW_DST);
    add(Ipv6Src, "ipv6_src", 16, true, P::Ipv6, vec![nxm(NXM_NX, 19), oxm(26, 3)], slot::IPV6_SRC);
    add(Ipv6Dst, "ipv6_dst", 16, true, P::Ipv6, vec![nxm(NXM_NX, 20), oxm(27, 3)], slot::IPV6_DST);
    add(Ipv6Label, "ipv6_label", 4, true, P::Ipv6, vec![nxm(NXM_NX, 27), oxm(28, 3)], slot::IPV6_LABEL);
    add(IpProto, "nw_proto", 1, false, P::IpAny, vec![nxm(NXM_OF, 6), oxm(10, 3)], slot::NW_PROTO);
    add(IpDscp, "nw_tos", 1, false, P::IpAny, vec![nxm(NXM_OF, 5)], slot::NW_TOS);
    add(IpDscpShifted, "ip_dscp", 1, false, P::IpAny, vec![oxm(8, 3)], slot::NW_TOS);
    add(IpEcn, "nw_ecn", 1, false, P::IpAny, vec![nxm(NXM_NX, 28), oxm(9, 3)], slot::NW_TOS);
    add(IpTtl, "nw_ttl", 1, false, P::IpAny, vec![nxm(NXM_NX, 29)], slot::NW_TTL);
    add(IpFrag, "ip_frag", 1, true, P::IpAny, vec![nxm(NXM_NX, 26)], slot::NW_FRAG);
    add(ArpOp, "arp_op", 2, false, P::Arp, vec![nxm(NXM_OF, 15), oxm(21, 3)], slot::NW_PROTO);
    add(ArpSpa, "arp_spa", 4, true, P::Arp, vec![nxm(NXM_OF, 16), oxm(22, 3)], slot::NW_SRC);
    add(ArpTpa, "arp_tpa", 4, true, P::Arp, vec![nxm(NXM_OF, 17), oxm(23, 3)], slot::NW_DST);
    add(ArpSha, "arp_sha", 6, true, P::Arp, vec![nxm(NXM_NX, 17), oxm(24, 3)], slot::ARP_SHA);
    add(ArpTha, "arp_tha", 6, true, P::Arp, vec![nxm(NXM_NX, 18), oxm(25, 3)], slot::ARP_THA);
    add(TcpSrc, "tcp_src", 2, true, P::Tcp, vec![nxm(NXM_OF, 9), oxm(13, 3)], slot::TP_SRC);
    add(TcpDst, "tcp_dst", 2, true, P::Tcp, vec![nxm(NXM_OF, 10), oxm(14, 3)], slot::TP_DST);
    add(
        TcpFlags,
        "tcp_flags",
        2,
        true,
        P::Tcp,
        vec![nxm(NXM_NX, 34), Header { class: OXM_EXPERIMENTER, field: 42, exp: ONF_EXPERIMENTER, version: 4 }, oxm(42, 6)],
        slot::TCP_FLAGS,
    );
    add(UdpSrc, "udp_src", 2, true, P::Udp, vec![nxm(NXM_OF, 11), oxm(15, 3)], slot::TP_SRC);
    add(UdpDst, "udp_dst", 2, true, P::Udp, vec![nxm(NXM_OF, 12), oxm(16, 3)], slot::TP_DST);
    add(SctpSrc, "sctp_src", 2, true, P::Sctp, vec![oxm(17, 3)], slot::TP_SRC);
    add(SctpDst, "sctp_dst", 2, true, P::Sctp, vec![oxm(18, 3)], slot::TP_DST);
    add(Icmpv4Type, "icmp_type", 1, false, P::Icmpv4, vec![nxm(NXM_OF, 13), oxm(19, 3)], slot::TP_SRC);
    add(Icmpv4Code, "icmp_code", 1, false, P::Icmpv4, vec![nxm(NXM_OF, 14), oxm(20, 3)], slot::TP_DST);
    add(Icmpv6Type, "icmpv6_type", 1, false, P::Icmpv6, vec![nxm(NXM_NX, 21), oxm(29, 3)], slot::TP_SRC);
    add(Icmpv6Code, "icmpv6_code", 1, false, P::Icmpv6, vec![nxm(NXM_NX, 22), oxm(30, 3)], slot::TP_DST);
    add(NdTarget, "nd_target", 16, true, P::Nd, vec![nxm(NXM_NX, 23), oxm(31, 3)], slot::ND_TARGET);
    add(NdSll, "nd_sll", 6, true, P::NdSolicit, vec![nxm(NXM_NX, 24), oxm(32, 3)], slot::ARP_SHA);
    add(NdTll, "nd_tll", 6, true, P::NdAdvert, vec![nxm(NXM_NX, 25), oxm(33, 3)], slot::ARP_THA);
    // Tunnel metadata lives outside the slots (`Match::tun_md`).
    for i in 0..TUN_METADATA_FIELDS {
        add(TunMetadata(i), &format!("tun_metadata{i}"), 124, true, P::None, vec![nxm(NXM_NX, TUN_METADATA0 + i)], Slot { off: 0, len: 0 });
    }
    for f in &mut v {
        f.bits = match f.id {
            VlanVid | TcpFlags => 12,
            VlanPcp | MplsTc => 3,
            MplsLabel | Ipv6Label => 20,
            MplsBos | TunFlags => 1,
            IpDscpShifted => 6,
            IpEcn | IpFrag => 2,
            _ => f.bits,
        };
    }
    // Fields that cover part of their slot.
    for f in &mut v {
        let (shift, cover) = match f.id {
            VlanVid => (0, 0x1fff),
            VlanPcp => (13, VLAN_PCP_MASK),
            MplsLabel => (12, 0xffff_f000),
            MplsTc => (9, 0xe00),
            MplsBos => (8, 0x100),
            MplsTtl => (0, 0xff),
            // The datapath's other tunnel flags are not OpenFlow's.
            TunFlags => (0, 0x1),
            IpDscp => (0, 0xfc),
            IpDscpShifted => (2, 0xfc),
            IpEcn => (0, 0x03),
            _ => continue,
        };
        f.shift = shift;
        f.cover = cover;
    }
    v
}

/// Every field ferrovs decodes.
pub fn fields() -> &'static [Field] {
    &FIELDS
}

/// The field `id`.
pub fn field(id: Mff) -> &'static Field {
    #[allow(clippy::expect_used)] // every Mff variant is in the table (checked by a test)
    FIELDS.iter().find(|f| f.id == id).expect("every field id has a definition")
}

/// The field a header names, whatever the version.
pub fn field_by_header(class: u16, field_no: u8, exp: u32) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.headers.iter().any(|h| h.class == class && h.field == field_no && h.exp == exp))
}

impl Field {
    /// The header OVS writes for this field in `version` (0 for NXM): the
    /// last one introduced at or before it, else the first.
    pub fn header_for(&self, version: u8) -> Header {
        let mut pick = self.headers[0];
        for h in &self.headers[1..] {
            if version >= h.version {
                pick = *h;
            }
        }
        pick
    }
}

pub(crate) fn be(b: &[u8]) -> u128 {
    b.iter().fold(0u128, |a, &x| a << 8 | u128::from(x))
}

pub(crate) fn put_be(out: &mut [u8], v: u128) {
    let n = out.len();
    for (i, b) in out.iter_mut().enumerate() {
        *b = (v >> (8 * (n - 1 - i))) as u8;
    }
}

/// A match: values and masks over the storage slots. Value bits outside
/// the mask are always zero, so equal matches are equal bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Match {
    /// Values.
    pub flow: [u8; FLOW_LEN],
    /// Masks.
    pub wc: [u8; FLOW_LEN],
    /// Tunnel metadata (`tun_metadata<n>`), by index, as the TLV table maps
    /// them: a present entry with an all-zero mask matches the option's
    /// presence, as in OVS.
    pub tun_md: Vec<TunMd>,
}

/// One `tun_metadata<index>` match: value (masked) and mask, as long as
/// the TLV table's option.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TunMd {
    /// Index (0–63).
    pub index: u8,
    /// Value, zero outside the mask.
    pub value: Vec<u8>,
    /// Mask.
    pub mask: Vec<u8>,
}

/// The TLV table: which Geneve option (class, type, length) each
/// `tun_metadata<index>` field stands for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlvMap {
    /// Mappings by index: (option class, option type, option length).
    pub maps: std::collections::BTreeMap<u8, (u16, u8, u8)>,
}

/// `tun_metadata0`'s NXM field number; `tun_metadata<n>` is `40 + n`.
pub const TUN_METADATA0: u8 = 40;
/// How many `tun_metadata` fields there are.
pub const TUN_METADATA_FIELDS: u8 = 64;

impl Default for Match {
    fn default() -> Self {
        Match { flow: [0; FLOW_LEN], wc: [0; FLOW_LEN], tun_md: Vec::new() }
    }
}

impl std::fmt::Debug for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for fd in fields() {
            let m = self.field_mask(fd);
            if m != 0 && fd.shift == 0 && fd.cover == full(fd.slot.len) {
                l.entry(&format_args!("{}={:#x}/{:#x}", fd.name, self.slot_value(fd.slot), m));
            }
        }
        l.finish()
    }
}

/// OpenFlow 1.1+ port numbers of the reserved ports map to OVS's 16-bit ones.
pub fn port_from_ofp11(p: u32) -> Option<u16> {
    match p {
        0..0xff00 => Some(p as u16),
        0xffff_ff00.. => Some((p - 0xffff_0000) as u16),
        _ => None,
    }
}

/// OVS's 16-bit port number as OpenFlow 1.1+ writes it.
pub fn port_to_ofp11(p: u16) -> u32 {
    if p >= 0xff00 {
        u32::from(p) + 0xffff_0000
    } else {
        u32::from(p)
    }
}

impl Match {
    /// The match-everything match.
    pub fn catchall() -> Match {
        Match::default()
    }

    /// A match on exact values of `fields` (set in order, as a decoder would).
    pub fn exact(fields: &[(Mff, &[u8])]) -> Match {
        let mut m = Match::catchall();
        for (f, v) in fields {
            m.set(field(*f), v, None);
        }
        m
    }

    /// A slot's value as an integer.
    pub fn slot_value(&self, s: Slot) -> u128 {
        be(&self.flow[s.range()])
    }

    /// A slot's mask as an integer.
    pub fn slot_mask(&self, s: Slot) -> u128 {
        be(&self.wc[s.range()])
    }

    fn set_slot(&mut self, s: Slot, value: u128, mask: u128) {
        put_be(&mut self.flow[s.range()], value & mask);
        put_be(&mut self.wc[s.range()], mask);
    }

    /// Wildcards a whole slot.
    pub fn clear(&mut self, s: Slot) {
        self.set_slot(s, 0, 0);
    }

    /// The mask bits of `f`'s part of its slot.
    pub fn field_mask(&self, f: &Field) -> u128 {
        self.slot_mask(f.slot) & f.cover
    }

    fn dl_type(&self) -> u16 {
        self.slot_value(slot::DL_TYPE) as u16
    }

    fn nw_proto(&self) -> u8 {
        self.slot_value(slot::NW_PROTO) as u8
    }

    fn is_ip_any(&self) -> bool {
        matches!(self.dl_type(), ETH_TYPE_IP | ETH_TYPE_IPV6)
    }

    fn is_nd(&self) -> bool {
        self.dl_type() == ETH_TYPE_IPV6
            && self.nw_proto() == 58
            && self.slot_value(slot::TP_DST) == 0
            && matches!(self.slot_value(slot::TP_SRC), 135 | 136)
    }

    /// Whether `f`'s prerequisites hold in what is matched so far.
    pub fn prereqs_ok(&self, f: &Field) -> bool {
        let dl_type = self.dl_type();
        let ip = self.is_ip_any();
        let later_frag = self.slot_value(slot::NW_FRAG) & 2 != 0;
        match f.prereq {
            Prereq::None => true,
            Prereq::Arp => matches!(dl_type, ETH_TYPE_ARP | ETH_TYPE_RARP),
            Prereq::Ipv4 => dl_type == ETH_TYPE_IP,
            Prereq::Ipv6 => dl_type == ETH_TYPE_IPV6,
            Prereq::IpAny => ip,
            Prereq::VlanVid => self.slot_value(slot::VLAN_TCI) & VLAN_CFI != 0,
            Prereq::Mpls => matches!(dl_type, ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST),
            Prereq::Tcp => ip && self.nw_proto() == 6 && !later_frag,
            Prereq::Udp => ip && self.nw_proto() == 17 && !later_frag,
            Prereq::Sctp => ip && self.nw_proto() == 132 && !later_frag,
            Prereq::Icmpv4 => dl_type == ETH_TYPE_IP && self.nw_proto() == 1,
            Prereq::Icmpv6 => dl_type == ETH_TYPE_IPV6 && self.nw_proto() == 58,
            Prereq::Nd => self.is_nd(),
            Prereq::NdSolicit => self.is_nd() && self.slot_value(slot::TP_SRC) == 135,
            Prereq::NdAdvert => self.is_nd() && self.slot_value(slot::TP_SRC) == 136,
            Prereq::CtValid => {
                // A bit that implies a valid entry, or tracked and
                // explicitly not invalid (OVS's is_ct_valid).
                let (state, mask) = (self.slot_value(slot::CT_STATE), self.slot_mask(slot::CT_STATE));
                state & 0xcf != 0 || (state & 0x20 != 0 && mask & 0x10 != 0 && state & 0x10 == 0)
            }
        }
    }

    /// Sets `f` to `value` under `mask` (`None`: exact), as OVS's `mf_set`:
    /// an all-zero mask wildcards the field.
    pub fn set(&mut self, f: &Field, value: &[u8], mask: Option<&[u8]>) {
        let value = be(value);
        let mask = mask.map(be).unwrap_or(full(f.bytes));
        let (slot_value, slot_mask) = (self.slot_value(f.slot), self.slot_mask(f.slot));
        let (mut value, mut mask) = match f.id {
            Mff::InPortOxm | Mff::ActsetOutput => (u128::from(port_from_ofp11(value as u32).unwrap_or(0)), full(2)),
            Mff::Icmpv4Type | Mff::Icmpv4Code | Mff::Icmpv6Type | Mff::Icmpv6Code | Mff::ArpOp => (value, f.cover),
            _ if mask == full(f.bytes) => (value << f.shift, f.cover),
            _ => (value << f.shift, (mask << f.shift) & f.cover),
        };
        if f.id == Mff::VlanPcp {
            value |= VLAN_CFI;
            mask |= VLAN_CFI;
        }
        let keep = !f.cover & !(if f.id == Mff::VlanPcp { VLAN_CFI } else { 0 });
        self.set_slot(f.slot, (slot_value & keep) | (value & mask), (slot_mask & keep) | mask);
    }

    /// Whether a value is acceptable for `f` (OVS's `mf_is_value_valid`).
    pub fn value_valid(f: &Field, value: &[u8]) -> bool {
        let v = be(value);
        match f.id {
            Mff::InPortOxm | Mff::ActsetOutput => port_from_ofp11(v as u32).is_some(),
            Mff::IpDscp => v & !0xfc == 0,
            Mff::IpDscpShifted => v & !0x3f == 0,
            Mff::IpEcn => v & !3 == 0,
            Mff::IpFrag => v & !3 == 0,
            Mff::TcpFlags => v & !0x0fff == 0,
            Mff::ArpOp => v & 0xff00 == 0,
            Mff::VlanVid => v & 0xe000 == 0,
            Mff::VlanPcp | Mff::MplsTc => v & !7 == 0,
            Mff::Ipv6Label | Mff::MplsLabel => v & !0xfffff == 0,
            Mff::MplsBos => v & !1 == 0,
            Mff::TunFlags => v & !1 == 0,
            Mff::CtState => v & !0xff == 0,
            _ => true,
        }
    }
}

/// Reads one NXM/OXM entry's header: the field (if known), whether it has
/// a mask, the payload length, and the header length.
fn pull_header(b: &[u8]) -> Result<(Option<&'static Field>, bool, usize, usize), OfError> {
    let h = b.get(..4).ok_or(bad_match::BAD_LEN)?;
    let class = u16::from_be_bytes([h[0], h[1]]);
    let (field_no, has_mask, len) = (h[2] >> 1, h[2] & 1 == 1, usize::from(h[3]));
    if class == OXM_EXPERIMENTER {
        let e = b.get(4..8).ok_or(bad_match::BAD_LEN)?;
        let exp = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        if len < 4 {
            return Err(bad_match::BAD_LEN);
        }
        return Ok((field_by_header(class, field_no, exp), has_mask, len - 4, 8));
    }
    Ok((field_by_header(class, field_no, 0), has_mask, len, 4))
}

/// Decodes a run of NXM/OXM entries (the body of an `nx_match` or of an
/// OXM `ofp_match`) into a match, with OVS's checks.
pub fn decode_entries(b: &[u8]) -> Result<Match, OfError> {
    decode_nx_match(b, false).map(|(m, _)| m)
}

/// As [`decode_entries`], with `tun_metadata` fields as `tlv` maps them.
pub fn decode_entries_tlv(b: &[u8], tlv: &TlvMap) -> Result<Match, OfError> {
    decode_nx_match_tlv(b, false, tlv).map(|(m, _)| m)
}

/// NXFMFC_INVALID_TLV_FIELD: a `tun_metadata` field the TLV table does not
/// map, or of another length.
pub const INVALID_TLV_FIELD: OfError = OfError::nx(37);

/// Nicira's cookie pseudo-field, allowed in the `nx_match` of flow mods
/// and flow statistics requests.
const NXM_NX_COOKIE: (u16, u8) = (NXM_NX, 30);

/// Decodes `nx_match` entries; with `allow_cookie`, also Nicira's cookie
/// pseudo-field, returned as (cookie, mask) — (0, 0) when absent.
pub fn decode_nx_match(b: &[u8], allow_cookie: bool) -> Result<(Match, (u64, u64)), OfError> {
    decode_nx_match_tlv(b, allow_cookie, &TlvMap::default())
}

/// As [`decode_nx_match`], with `tun_metadata` fields as `tlv` maps them.
pub fn decode_nx_match_tlv(mut b: &[u8], allow_cookie: bool, tlv: &TlvMap) -> Result<(Match, (u64, u64)), OfError> {
    let mut m = Match::catchall();
    let mut cookie: Option<(u64, u64)> = None;
    while !b.is_empty() {
        let (f, has_mask, len, hlen) = pull_header(b)?;
        let payload = b.get(hlen..hlen + len).ok_or(bad_match::BAD_LEN)?;
        if allow_cookie && (u16::from_be_bytes([b[0], b[1]]), b[2] >> 1) == NXM_NX_COOKIE {
            if len != if has_mask { 16 } else { 8 } {
                return Err(bad_match::BAD_LEN);
            }
            if cookie.is_some() {
                return Err(bad_match::DUP_FIELD);
            }
            let value = be(&payload[..8]) as u64;
            let mask = if has_mask { be(&payload[8..]) as u64 } else { u64::MAX };
            cookie = Some((value & mask, mask));
            b = &b[hlen + len..];
            continue;
        }
        let (class, no) = (u16::from_be_bytes([b[0], b[1]]), b[2] >> 1);
        if class == NXM_NX && (TUN_METADATA0..TUN_METADATA0 + TUN_METADATA_FIELDS).contains(&no) {
            let index = no - TUN_METADATA0;
            let mapped = tlv.maps.get(&index).map(|&(_, _, len)| usize::from(len)).ok_or(INVALID_TLV_FIELD)?;
            // The value may come shorter than the option (leading zeros
            // dropped, as OVS writes variable-length fields).
            let width = if has_mask { len / 2 } else { len };
            if width == 0 || width > mapped || (has_mask && len % 2 != 0) {
                return Err(INVALID_TLV_FIELD);
            }
            let widen = |b: &[u8]| [vec![0; mapped - b.len()], b.to_vec()].concat();
            let (value, mask) = payload.split_at(width);
            let mask = if has_mask { widen(mask) } else { vec![0xff; mapped] };
            let value = widen(value);
            if value.iter().zip(&mask).any(|(v, m)| v & !m != 0) {
                return Err(bad_match::BAD_WILDCARDS);
            }
            if m.tun_md.iter().any(|t| t.index == index) {
                return Err(bad_match::DUP_FIELD);
            }
            m.tun_md.push(TunMd { index, value, mask });
            m.tun_md.sort_by_key(|t| t.index);
            b = &b[hlen + len..];
            continue;
        }
        let f = f.ok_or(bad_match::BAD_FIELD)?;
        let width = usize::from(f.bytes);
        if len != width * if has_mask { 2 } else { 1 } {
            return Err(bad_match::BAD_LEN);
        }
        let (value, mask) = payload.split_at(width);
        let mask = has_mask.then_some(mask);
        if let Some(mask) = mask {
            if value.iter().zip(mask).any(|(v, m)| v & !m != 0) {
                return Err(bad_match::BAD_WILDCARDS);
            }
            if !f.maskable && be(mask) != 0 && be(mask) != full(f.bytes) {
                return Err(bad_match::BAD_MASK);
            }
        }
        if !Match::value_valid(f, value) {
            return Err(bad_match::BAD_VALUE);
        }
        if !m.prereqs_ok(f) {
            return Err(bad_match::BAD_PREREQ);
        }
        if m.field_mask(f) != 0 {
            return Err(bad_match::DUP_FIELD);
        }
        m.set(f, value, mask);
        b = &b[hlen + len..];
    }
    Ok((m, cookie.unwrap_or((0, 0))))
}

/// Writes NXM/OXM entries for a match, as OVS's `nx_put_raw`.
struct Put<'a> {
    out: &'a mut Vec<u8>,
    version: u8,
}

impl Put<'_> {
    /// One entry: exact if `mask` is all ones, nothing if it is zero.
    fn masked(&mut self, id: Mff, value: u128, mask: u128) {
        let f = field(id);
        if mask == 0 {
            return;
        }
        let masked = mask != full(f.bytes);
        self.entry(f, value, masked.then_some(mask));
    }

    fn exact(&mut self, id: Mff, value: u128) {
        self.entry(field(id), value, None);
    }

    fn slot(&mut self, id: Mff, m: &Match) {
        let f = field(id);
        self.masked(id, m.slot_value(f.slot), m.slot_mask(f.slot));
    }

    fn entry(&mut self, f: &Field, value: u128, mask: Option<u128>) {
        let h = f.header_for(self.version);
        let n = usize::from(f.bytes);
        let payload = n * if mask.is_some() { 2 } else { 1 };
        self.out.extend_from_slice(&h.class.to_be_bytes());
        self.out.push(h.field << 1 | u8::from(mask.is_some()));
        if h.class == OXM_EXPERIMENTER {
            self.out.push((payload + 4) as u8);
            self.out.extend_from_slice(&h.exp.to_be_bytes());
        } else {
            self.out.push(payload as u8);
        }
        let at = self.out.len();
        self.out.resize(at + payload, 0);
        put_be(&mut self.out[at..at + n], value);
        if let Some(mask) = mask {
            put_be(&mut self.out[at + n..], mask);
        }
    }
}

/// Appends the entries expressing `m` in `version`'s encoding (0: NXM;
/// 3 and later: OXM), in OVS's order; returns the bytes written.
pub fn encode_entries(m: &Match, version: u8, out: &mut Vec<u8>) -> usize {
    use Mff::*;
    let start = out.len();
    let mut p = Put { out, version };
    let v = |s: Slot| m.slot_value(s);
    let w = |s: Slot| m.slot_mask(s);
    if w(slot::RECIRC_ID) != 0 {
        p.exact(RecircId, v(slot::RECIRC_ID));
    }
    if w(slot::CONJ_ID) != 0 {
        p.exact(ConjId, v(slot::CONJ_ID));
    }
    if w(slot::IN_PORT) != 0 {
        if version != 0 {
            p.exact(InPortOxm, u128::from(port_to_ofp11(v(slot::IN_PORT) as u16)));
        } else {
            p.exact(InPort, v(slot::IN_PORT));
        }
    }
    if w(slot::ACTSET_OUTPUT) != 0 {
        p.exact(ActsetOutput, u128::from(port_to_ofp11(v(slot::ACTSET_OUTPUT) as u16)));
    }
    p.slot(EthSrc, m);
    p.slot(EthDst, m);
    p.slot(EthType, m);
    if version != 0 {
        let (vid, mask) = (v(slot::VLAN_TCI) & 0x1fff, w(slot::VLAN_TCI) & 0x1fff);
        if mask == 0x1fff {
            p.exact(VlanVid, vid);
        } else if mask != 0 {
            p.masked(VlanVid, vid, mask);
        }
        // OVS writes VLAN_PCP whenever the VID is nonzero; without the
        // CFI ("present") bit that PCP fails its own prerequisite when read
        // back, so ferrovs writes it only with a present VLAN.
        if vid & VLAN_CFI != 0 && w(slot::VLAN_TCI) & VLAN_PCP_MASK != 0 {
            p.exact(VlanPcp, v(slot::VLAN_TCI) >> 13);
        }
    } else {
        p.slot(VlanTci, m);
    }
    let dl_type = m.dl_type();
    if matches!(dl_type, ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST) {
        let (lse, lse_mask) = (v(slot::MPLS_LSE), w(slot::MPLS_LSE));
        if lse_mask & 0xe00 != 0 {
            p.exact(MplsTc, (lse >> 9) & 7);
        }
        if lse_mask & 0x100 != 0 {
            p.exact(MplsBos, (lse >> 8) & 1);
        }
        if lse_mask & 0xff != 0 {
            p.exact(MplsTtl, lse & 0xff);
        }
        if lse_mask & 0xffff_f000 != 0 {
            p.exact(MplsLabel, lse >> 12);
        }
    }
    if m.is_ip_any() {
        put_ip(&mut p, m);
    } else if matches!(dl_type, ETH_TYPE_ARP | ETH_TYPE_RARP) {
        if w(slot::NW_PROTO) != 0 {
            p.exact(ArpOp, v(slot::NW_PROTO));
        }
        p.slot(ArpSpa, m);
        p.slot(ArpTpa, m);
        p.slot(ArpSha, m);
        p.slot(ArpTha, m);
    }
    for id in [TunId, TunFlags, TunSrc, TunDst, TunIpv6Src, TunIpv6Dst, TunGbpId, TunGbpFlags] {
        p.slot(id, m);
    }
    // Tunnel metadata: Nicira's headers in every version, with the TLV
    // table's length; present even when wholly wildcarded.
    for t in &m.tun_md {
        let masked = t.mask.iter().any(|&b| b != 0xff);
        let n = t.value.len() * if masked { 2 } else { 1 };
        p.out.extend_from_slice(&NXM_NX.to_be_bytes());
        p.out.push((TUN_METADATA0 + t.index) << 1 | u8::from(masked));
        p.out.push(n as u8);
        p.out.extend_from_slice(&t.value);
        if masked {
            p.out.extend_from_slice(&t.mask);
        }
    }
    if version < 6 {
        for i in 0..16 {
            p.slot(Reg(i), m);
        }
    } else {
        for i in 0..8 {
            p.slot(Xreg(i), m);
        }
    }
    for id in [PktMark, CtState, CtZone, CtMark, CtLabel, CtNwSrc, CtIpv6Src, CtNwDst, CtIpv6Dst] {
        p.slot(id, m);
    }
    if v(slot::CT_NW_PROTO) != 0 {
        for id in [CtNwProto, CtTpSrc, CtTpDst] {
            p.slot(id, m);
        }
    }
    p.slot(Metadata, m);
    out.len() - start
}

fn put_ip(p: &mut Put<'_>, m: &Match) {
    use Mff::*;
    let v = |s: Slot| m.slot_value(s);
    let w = |s: Slot| m.slot_mask(s);
    if m.dl_type() == ETH_TYPE_IP {
        p.slot(Ipv4Src, m);
        p.slot(Ipv4Dst, m);
    } else {
        p.slot(Ipv6Src, m);
        p.slot(Ipv6Dst, m);
    }
    let frag_mask = w(slot::NW_FRAG) & 3;
    p.masked(IpFrag, v(slot::NW_FRAG) & 3, if frag_mask == 3 { 0xff } else { frag_mask });
    let (tos, tos_mask) = (v(slot::NW_TOS), w(slot::NW_TOS));
    if tos_mask & 0xfc != 0 {
        if p.version != 0 {
            p.exact(IpDscpShifted, tos >> 2);
        } else {
            p.exact(IpDscp, tos & 0xfc);
        }
    }
    if tos_mask & 3 != 0 {
        p.exact(IpEcn, tos & 3);
    }
    if w(slot::NW_TTL) != 0 {
        p.exact(IpTtl, v(slot::NW_TTL));
    }
    p.slot(Ipv6Label, m);
    if w(slot::NW_PROTO) == 0 {
        return;
    }
    let proto = m.nw_proto();
    p.exact(IpProto, u128::from(proto));
    let (src, dst) = match proto {
        6 => (TcpSrc, TcpDst),
        17 => (UdpSrc, UdpDst),
        132 => (SctpSrc, SctpDst),
        1 if m.dl_type() == ETH_TYPE_IP => (Icmpv4Type, Icmpv4Code),
        58 if m.dl_type() == ETH_TYPE_IPV6 => (Icmpv6Type, Icmpv6Code),
        _ => return,
    };
    if matches!(proto, 6 | 17 | 132) {
        p.slot(src, m);
        p.slot(dst, m);
        if proto == 6 {
            p.slot(TcpFlags, m);
        }
        return;
    }
    if w(slot::TP_SRC) != 0 {
        p.exact(src, v(slot::TP_SRC) & 0xff);
    }
    if w(slot::TP_DST) != 0 {
        p.exact(dst, v(slot::TP_DST) & 0xff);
    }
    if m.is_nd() {
        p.slot(NdTarget, m);
        if v(slot::TP_SRC) == 135 {
            p.slot(NdSll, m);
        }
        if v(slot::TP_SRC) == 136 {
            p.slot(NdTll, m);
        }
    }
}

/// `ofp_match` type for OXM.
const OFPMT_OXM: u16 = 1;

/// Encodes an OXM `ofp_match` (OpenFlow 1.2+) for `version`, padded to 8.
pub fn encode_oxm_match(m: &Match, version: u8, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&OFPMT_OXM.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    let n = encode_entries(m, version, out);
    out[start + 2..start + 4].copy_from_slice(&((4 + n) as u16).to_be_bytes());
    out.resize(start + (4 + n).div_ceil(8) * 8, 0);
}

/// Decodes an OXM `ofp_match` at the start of `b`; returns the match and
/// the bytes it took, padding included.
pub fn decode_oxm_match(b: &[u8]) -> Result<(Match, usize), OfError> {
    decode_oxm_match_tlv(b, &TlvMap::default())
}

/// As [`decode_oxm_match`], with `tun_metadata` fields as `tlv` maps them.
pub fn decode_oxm_match_tlv(b: &[u8], tlv: &TlvMap) -> Result<(Match, usize), OfError> {
    let (entries, used) = oxm_match_entries(b)?;
    Ok((decode_entries_tlv(entries, tlv)?, used))
}

/// The entries of an OXM `ofp_match` at the start of `b`, and the bytes
/// the match takes, padding included.
pub fn oxm_match_entries(b: &[u8]) -> Result<(&[u8], usize), OfError> {
    let h = b.get(..4).ok_or(bad_match::BAD_LEN)?;
    if u16::from_be_bytes([h[0], h[1]]) != OFPMT_OXM {
        return Err(bad_match::BAD_TYPE);
    }
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let padded = len.div_ceil(8) * 8;
    if len < 4 || padded > b.len() {
        return Err(bad_match::BAD_LEN);
    }
    Ok((&b[4..len], padded))
}

/// OpenFlow 1.0's fixed `ofp_match` (40 bytes).
pub mod ofp10 {
    use super::*;

    /// Its size.
    pub const LEN: usize = 40;
    const FW_IN_PORT: u32 = 1 << 0;
    const FW_DL_VLAN: u32 = 1 << 1;
    const FW_DL_SRC: u32 = 1 << 2;
    const FW_DL_DST: u32 = 1 << 3;
    const FW_DL_TYPE: u32 = 1 << 4;
    const FW_NW_PROTO: u32 = 1 << 5;
    const FW_TP_SRC: u32 = 1 << 6;
    const FW_TP_DST: u32 = 1 << 7;
    const FW_NW_SRC_SHIFT: u32 = 8;
    const FW_NW_DST_SHIFT: u32 = 14;
    const FW_DL_VLAN_PCP: u32 = 1 << 20;
    const FW_NW_TOS: u32 = 1 << 21;
    const VLAN_NONE: u16 = 0xffff;

    fn netmask(wcbits: u32) -> u128 {
        let bits = wcbits & 0x3f;
        if bits >= 32 {
            0
        } else {
            u128::from(u32::MAX << bits)
        }
    }

    /// Decodes the fixed match as OVS's `ofputil_match_from_ofp10_match`.
    pub fn decode(b: &[u8]) -> Result<Match, OfError> {
        let b = b.get(..LEN).ok_or(bad_match::BAD_LEN)?;
        let u16_at = |i: usize| u128::from(u16::from_be_bytes([b[i], b[i + 1]]));
        let u32_at = |i: usize| u128::from(u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
        let fw = u32_at(0) as u32;
        let mut m = Match::catchall();
        let exact = |bit: u32, bytes: u8| if fw & bit == 0 { full(bytes) } else { 0 };
        m.set_slot(slot::IN_PORT, u16_at(4), exact(FW_IN_PORT, 2));
        m.set_slot(slot::DL_SRC, be(&b[6..12]), exact(FW_DL_SRC, 6));
        m.set_slot(slot::DL_DST, be(&b[12..18]), exact(FW_DL_DST, 6));
        let dl_type = u16_at(22);
        // 0x05ff means "not Ethernet II" in OpenFlow 1.0; OVS's 802.2 type.
        let dl_type = if dl_type == 0x05ff { 0x05ff } else { dl_type };
        m.set_slot(slot::DL_TYPE, dl_type, exact(FW_DL_TYPE, 2));
        m.set_slot(slot::NW_TOS, u128::from(b[24]) & 0xfc, if fw & FW_NW_TOS == 0 { 0xfc } else { 0 });
        m.set_slot(slot::NW_PROTO, u128::from(b[25]), exact(FW_NW_PROTO, 1));
        m.set_slot(slot::NW_SRC, u32_at(28), netmask(fw >> FW_NW_SRC_SHIFT));
        m.set_slot(slot::NW_DST, u32_at(32), netmask(fw >> FW_NW_DST_SHIFT));
        m.set_slot(slot::TP_SRC, u16_at(36), exact(FW_TP_SRC, 2));
        m.set_slot(slot::TP_DST, u16_at(38), exact(FW_TP_DST, 2));
        let dl_vlan = u16_at(18) as u16;
        if fw & FW_DL_VLAN == 0 && dl_vlan == VLAN_NONE {
            m.set_slot(slot::VLAN_TCI, 0, 0xffff);
        } else {
            let mut mask = 0;
            if fw & FW_DL_VLAN_PCP == 0 {
                mask |= VLAN_PCP_MASK | VLAN_CFI;
            }
            if fw & FW_DL_VLAN == 0 {
                mask |= 0x0fff | VLAN_CFI;
            }
            let tci = u128::from(dl_vlan & 0x0fff) | (u128::from(b[20]) << 13 & VLAN_PCP_MASK) | VLAN_CFI;
            m.set_slot(slot::VLAN_TCI, tci, mask);
        }
        Ok(m)
    }

    /// Encodes a match as 1.0's fixed match, as OVS's
    /// `ofputil_match_to_ofp10_match`: what 1.0 cannot say (registers,
    /// IPv6, arbitrary masks…) is left out, so the result may match more.
    pub fn encode(m: &Match) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        let mut fw: u32 = FW_DL_VLAN_PCP | FW_NW_TOS;
        let exact = |s: Slot| m.slot_mask(s) == full(s.len);
        let mut put = |at: usize, s: Slot, bit: u32, fw: &mut u32| {
            if exact(s) {
                put_be(&mut b[at..at + usize::from(s.len)], m.slot_value(s));
            } else {
                *fw |= bit;
            }
        };
        put(4, slot::IN_PORT, FW_IN_PORT, &mut fw);
        put(6, slot::DL_SRC, FW_DL_SRC, &mut fw);
        put(12, slot::DL_DST, FW_DL_DST, &mut fw);
        put(22, slot::DL_TYPE, FW_DL_TYPE, &mut fw);
        put(25, slot::NW_PROTO, FW_NW_PROTO, &mut fw);
        put(36, slot::TP_SRC, FW_TP_SRC, &mut fw);
        put(38, slot::TP_DST, FW_TP_DST, &mut fw);
        let (tci, tci_mask) = (m.slot_value(slot::VLAN_TCI), m.slot_mask(slot::VLAN_TCI));
        if tci_mask == 0xffff && tci == 0 {
            b[18..20].copy_from_slice(&VLAN_NONE.to_be_bytes());
        } else {
            if tci_mask & 0x1fff == 0x1fff {
                b[18..20].copy_from_slice(&((tci & 0xfff) as u16).to_be_bytes());
            } else {
                fw |= FW_DL_VLAN;
            }
            if tci_mask & VLAN_PCP_MASK == VLAN_PCP_MASK {
                b[20] = (tci >> 13) as u8;
                fw &= !FW_DL_VLAN_PCP;
            }
        }
        if m.slot_mask(slot::NW_TOS) & 0xfc == 0xfc {
            b[24] = m.slot_value(slot::NW_TOS) as u8 & 0xfc;
            fw &= !FW_NW_TOS;
        }
        for (at, s, shift) in [(28, slot::NW_SRC, FW_NW_SRC_SHIFT), (32, slot::NW_DST, FW_NW_DST_SHIFT)] {
            let mask = m.slot_mask(s) as u32;
            let wild = if mask.leading_ones() + mask.trailing_zeros() == 32 { mask.trailing_zeros() } else { 32 };
            fw |= wild << shift;
            put_be(&mut b[at..at + 4], m.slot_value(s) & u128::from(mask));
        }
        b[..4].copy_from_slice(&fw.to_be_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(f: Mff, value: &[u8], mask: Option<&[u8]>, version: u8) -> Vec<u8> {
        let f = field(f);
        let mut out = Vec::new();
        let mut p = Put { out: &mut out, version };
        p.entry(f, be(value), mask.map(be));
        out
    }

    #[test]
    fn every_id_has_one_definition_and_headers_are_unique() {
        let all = fields();
        for f in all {
            assert_eq!(all.iter().filter(|g| g.id == f.id).count(), 1, "{:?}", f.id);
            for h in &f.headers {
                assert_eq!(field_by_header(h.class, h.field, h.exp).map(|g| g.id), Some(f.id), "{:?}", f.id);
            }
        }
    }

    #[test]
    fn headers_by_version_as_ovs_picks_them() {
        let tcp_flags = field(Mff::TcpFlags);
        assert_eq!(tcp_flags.header_for(0).class, NXM_NX);
        assert_eq!(tcp_flags.header_for(4).class, OXM_EXPERIMENTER);
        assert_eq!(tcp_flags.header_for(6).class, OXM_BASIC);
        assert_eq!(field(Mff::Metadata).header_for(0).class, OXM_BASIC, "only an OXM header");
        assert_eq!(field(Mff::Reg(3)).header_for(4), Header { class: NXM_NX, field: 3, exp: 0, version: 0 });
    }

    #[test]
    fn prerequisites_order_and_duplicates() {
        let mut b = entry(Mff::EthType, &[8, 0], None, 0);
        b.extend(entry(Mff::IpProto, &[6], None, 0));
        b.extend(entry(Mff::TcpDst, &[0, 80], None, 0));
        let m = decode_entries(&b).unwrap();
        assert_eq!(m.slot_value(slot::TP_DST), 80);
        let mut out = Vec::new();
        encode_entries(&m, 0, &mut out);
        assert_eq!(out, b);
        assert_eq!(decode_entries(&entry(Mff::TcpDst, &[0, 80], None, 0)), Err(bad_match::BAD_PREREQ));
        let mut dup = b.clone();
        dup.extend(entry(Mff::UdpDst, &[0, 53], None, 0));
        assert_eq!(decode_entries(&dup), Err(bad_match::BAD_PREREQ), "udp_dst needs nw_proto=17");
        let mut dup = entry(Mff::Reg(0), &[0, 0, 0, 1], None, 0);
        dup.extend(entry(Mff::Reg(0), &[0, 0, 0, 2], None, 0));
        assert_eq!(decode_entries(&dup), Err(bad_match::DUP_FIELD));
        assert_eq!(decode_entries(&entry(Mff::Reg(0), &[0, 0, 0, 3], Some(&[0, 0, 0, 1]), 0)), Err(bad_match::BAD_WILDCARDS));
        assert_eq!(decode_entries(&entry(Mff::InPort, &[0, 1], Some(&[0, 1]), 0)), Err(bad_match::BAD_MASK));
        assert_eq!(decode_entries(&[0x00, 0x01, 0x7f << 1, 4, 0, 0, 0, 0]), Err(bad_match::BAD_FIELD));
    }

    #[test]
    fn vlan_vid_and_pcp_share_the_tci_as_in_ovs() {
        let mut b = entry(Mff::VlanVid, &[0x10, 0x05], None, 4);
        b.extend(entry(Mff::VlanPcp, &[3], None, 4));
        let m = decode_entries(&b).unwrap();
        assert_eq!((m.slot_value(slot::VLAN_TCI), m.slot_mask(slot::VLAN_TCI)), (0x7005, 0xffff));
        let mut nxm = Vec::new();
        encode_entries(&m, 0, &mut nxm);
        assert_eq!(nxm, entry(Mff::VlanTci, &[0x70, 0x05], None, 0));
        let mut oxm = Vec::new();
        encode_entries(&m, 4, &mut oxm);
        assert_eq!(oxm, b);
    }

    #[test]
    fn dscp_is_shifted_in_oxm_and_not_in_nxm() {
        let mut b = entry(Mff::EthType, &[8, 0], None, 4);
        b.extend(entry(Mff::IpDscpShifted, &[0x2e], None, 4));
        let m = decode_entries(&b).unwrap();
        assert_eq!(m.slot_value(slot::NW_TOS), 0xb8);
        let mut nxm = Vec::new();
        encode_entries(&m, 0, &mut nxm);
        assert_eq!(&nxm[6..], &entry(Mff::IpDscp, &[0xb8], None, 0)[..]);
    }

    #[test]
    fn tunnel_metadata_as_the_tlv_table_maps_it() {
        let mut tlv = TlvMap::default();
        tlv.maps.insert(0, (0xffff, 0, 4));
        // tun_metadata0=0x1234 as ovs-ofctl writes it: two bytes.
        let short = [0x00, 0x01, TUN_METADATA0 << 1, 2, 0x12, 0x34];
        assert_eq!(decode_entries(&short), Err(INVALID_TLV_FIELD), "unmapped without the table");
        let m = decode_entries_tlv(&short, &tlv).unwrap();
        assert_eq!(m.tun_md, vec![TunMd { index: 0, value: vec![0, 0, 0x12, 0x34], mask: vec![0xff; 4] }]);
        let mut out = Vec::new();
        encode_entries(&m, 0, &mut out);
        assert_eq!(out, [0x00, 0x01, TUN_METADATA0 << 1, 4, 0, 0, 0x12, 0x34], "written at the option's length");
        assert_eq!(decode_entries_tlv(&[0x00, 0x01, (TUN_METADATA0 + 1) << 1, 2, 0, 1], &tlv), Err(INVALID_TLV_FIELD));
        let long = [0x00, 0x01, TUN_METADATA0 << 1, 5, 1, 2, 3, 4, 5];
        assert_eq!(decode_entries_tlv(&long, &tlv), Err(INVALID_TLV_FIELD), "longer than the option");
    }

    #[test]
    fn ofp10_match_wildcards() {
        let mut b = [0u8; 40];
        // Everything wildcarded except dl_type and nw_dst/24.
        let fw: u32 = 0x3fffff & !(1 << 4) & !(0x3f << 14) | (8 << 14);
        b[..4].copy_from_slice(&fw.to_be_bytes());
        b[22..24].copy_from_slice(&[8, 0]);
        b[32..36].copy_from_slice(&[10, 1, 2, 0]);
        let m = ofp10::decode(&b).unwrap();
        assert_eq!((m.slot_value(slot::NW_DST), m.slot_mask(slot::NW_DST)), (0x0a010200, 0xffffff00));
        assert_eq!(m.slot_mask(slot::DL_TYPE), 0xffff);
        assert_eq!(m.slot_mask(slot::VLAN_TCI), 0);
    }

    /// The entries a field's prerequisites need before it, in `version`
    /// (`ip` picks IPv4 or IPv6 where either does).
    fn prereq_entries(p: Prereq, ip: bool, version: u8) -> Vec<u8> {
        let eth = |t: u16| entry(Mff::EthType, &t.to_be_bytes(), None, version);
        let l3 = if ip { 0x0800u16 } else { 0x86dd };
        let over = |t: u16, proto: u8| [eth(t), entry(Mff::IpProto, &[proto], None, version)].concat();
        let nd = |ty: u8| [over(0x86dd, 58), entry(Mff::Icmpv6Type, &[ty], None, version)].concat();
        match p {
            Prereq::None => Vec::new(),
            Prereq::Arp => eth(0x0806),
            Prereq::Ipv4 => eth(0x0800),
            Prereq::Ipv6 => eth(0x86dd),
            Prereq::IpAny => eth(l3),
            Prereq::VlanVid => entry(Mff::VlanTci, &0x1005u16.to_be_bytes(), None, version),
            Prereq::Mpls => eth(0x8847),
            Prereq::Tcp => over(l3, 6),
            Prereq::Udp => over(l3, 17),
            Prereq::Sctp => over(l3, 132),
            Prereq::Icmpv4 => over(0x0800, 1),
            Prereq::Icmpv6 => over(0x86dd, 58),
            Prereq::Nd | Prereq::NdSolicit => nd(135),
            Prereq::NdAdvert => nd(136),
            // Tracked and new: a valid connection.
            Prereq::CtValid => entry(Mff::CtState, &0x21u32.to_be_bytes(), None, version),
        }
    }

    /// A field's entry with what its prerequisites need before it, so
    /// that L3 and L4 fields decode too (random bytes rarely name an
    /// Ethernet type exactly).
    fn entry_with_prereqs() -> impl Strategy<Value = (Vec<u8>, bool)> {
        (any_entry_parts(), any::<bool>()).prop_map(|((i, masked, v, m, version), ip)| {
            let f = &fields()[i];
            let n = usize::from(f.bytes);
            let mask = (masked && f.maskable).then(|| m[..n].to_vec());
            let value: Vec<u8> = match &mask {
                Some(mask) => v[..n].iter().zip(mask).map(|(a, b)| a & b).collect(),
                None => v[..n].to_vec(),
            };
            let with = [prereq_entries(f.prereq, ip, version), entry(f.id, &value, mask.as_deref(), version)].concat();
            (with, f.prereq != Prereq::None)
        })
    }

    fn any_entry_parts() -> impl Strategy<Value = (usize, bool, [u8; 16], [u8; 16], u8)> {
        let fixed = fields().iter().filter(|f| !matches!(f.id, Mff::TunMetadata(_))).count();
        (0..fixed, any::<bool>(), any::<[u8; 16]>(), any::<[u8; 16]>(), prop_oneof![Just(0u8), Just(4u8), Just(6u8)])
    }

    /// Whatever decodes re-encodes in every version, and what that
    /// decodes to encodes the same again (OVS's encoding drops a few
    /// things a version cannot say, such as a PCP match without a VID in
    /// OXM, so the first round may narrow; later rounds are fixed). The
    /// entries come with their prerequisites; the test counts how many
    /// matches decoded, and how many of those held a field with a
    /// prerequisite, and fails if either is rare.
    #[test]
    fn decode_encode_is_stable() {
        use proptest::test_runner::{Config, TestRunner};
        let (mut decoded, mut with_prereqs, mut refused) = (0usize, 0usize, 0usize);
        let counts = std::cell::RefCell::new((&mut decoded, &mut with_prereqs, &mut refused));
        let mut runner = TestRunner::new(Config { cases: 3000, failure_persistence: None, ..Config::default() });
        runner
            .run(&prop::collection::vec(entry_with_prereqs(), 0..4), |entries| {
                let b: Vec<u8> = entries.iter().flat_map(|(e, _)| e.clone()).collect();
                let mut c = counts.borrow_mut();
                let Ok(m) = decode_entries(&b) else {
                    *c.2 += 1;
                    return Ok(());
                };
                *c.0 += 1;
                *c.1 += usize::from(entries.iter().any(|(_, needs)| *needs));
                for version in [0, 4, 6] {
                    let mut once = Vec::new();
                    encode_entries(&m, version, &mut once);
                    let again = decode_entries(&once);
                    prop_assert!(again.is_ok(), "version {}: {:?}", version, again);
                    let mut twice = Vec::new();
                    encode_entries(&again.unwrap(), version, &mut twice);
                    prop_assert_eq!(&twice, &once, "version {}", version);
                }
                Ok(())
            })
            .unwrap();
        println!("{decoded} matches decoded ({with_prereqs} with a field that has a prerequisite), {refused} refused");
        assert!(
            decoded >= 1000 && with_prereqs >= 500,
            "the generator rarely reaches the check: {decoded} decoded, {with_prereqs} with prerequisites"
        );
    }

    proptest! {
        /// Whatever 1.0's fixed match says, encoding it back says the same.
        #[test]
        fn ofp10_encode_decode(b in prop::collection::vec(any::<u8>(), 40)) {
            let m = ofp10::decode(&b).unwrap();
            prop_assert_eq!(ofp10::decode(&ofp10::encode(&m)).unwrap(), m);
        }

        /// Arbitrary bytes give a match or an error, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..96)) {
            let _ = decode_entries(&b);
            let _ = decode_oxm_match(&b);
            let _ = ofp10::decode(&b);
        }
    }
}
