//! The storage slots: ferrovs' one layout of flow fields
//! ([`dataplane::key`]), each field where the datapath key has it, seen
//! as bytes. Two slots differ from the datapath's value: `in_port` holds
//! the OpenFlow port, and `vlan_tci` OVS's form of the outer tag (TCI
//! with the CFI bit meaning "tagged"); [`crate::xlate::to_flow`] converts.
//! `conj_id` and `actset_output` exist in translation only and come
//! first, before the datapath key.

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
