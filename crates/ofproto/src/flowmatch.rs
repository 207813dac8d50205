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
//! `tun_metadata0`–`63` are decoded as the bridge's TLV table maps them
//! (an unmapped one is refused with INVALID_TLV_FIELD, as OVS does). Not
//! decoded yet: the NSH, ERSPAN and GTP-U fields, `dp_hash` and
//! `packet_type`; they are refused with BAD_FIELD.

use std::sync::LazyLock;

use crate::wire::OfError;
pub use slot::FLOW_LEN;

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

pub mod slot;

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
    /// Appends the field's NXM/OXM header for `version`, for a value of
    /// `value_len` bytes (and as many of mask, when `masked`).
    pub fn put_header(&self, version: u8, value_len: usize, masked: bool, out: &mut Vec<u8>) {
        let h = self.header_for(version);
        out.extend_from_slice(&h.class.to_be_bytes());
        out.push(h.field << 1 | u8::from(masked));
        let payload = value_len * if masked { 2 } else { 1 };
        if h.class == OXM_EXPERIMENTER {
            out.push((payload + 4) as u8);
            out.extend_from_slice(&h.exp.to_be_bytes());
        } else {
            out.push(payload as u8);
        }
    }

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

mod codec;
pub use codec::*;

pub mod ofp10;

#[cfg(test)]
mod tests;
