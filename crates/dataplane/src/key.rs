//! The flow key: every header field and piece of packet metadata a flow can
//! match on, laid out as [`KEY_WORDS`] 64-bit words.
//!
//! # Layout
//!
//! The key is the equivalent of Open vSwitch's `struct flow`. Every field
//! lives at a fixed bit range of one word (128-bit fields span two words, the
//! high half first), so that masking, hashing and comparing keys are loops
//! over `u64` words and a mask is simply another key. Multi-byte fields hold
//! their numeric value (a MAC address `aa:bb:cc:dd:ee:ff` is the 48-bit
//! number `0xaabbccddeeff`), never raw memory, so the layout does not depend
//! on the host's byte order.
//!
//! | word | contents (high bits first) |
//! | --- | --- |
//! | 0 | `in_port` (32) · `recirc_id` (32) |
//! | 1 | `metadata` (64) |
//! | 2–9 | `reg0`…`reg15`, two per word: `reg(2n)` high, `reg(2n+1)` low (so word `2+n` is `xreg(n)`) |
//! | 10 | `ct_nw_proto` (8) · `ct_state` (8) · `ct_zone` (16) · `ct_mark` (32) |
//! | 11–12 | `ct_label` (128) |
//! | 13 | `pkt_mark` (32) · `ct_tp_src` (16) · `ct_tp_dst` (16) |
//! | 14 | `ct_nw_src` (32) · `ct_nw_dst` (32) |
//! | 15–16 | `ct_ipv6_src` (128) |
//! | 17–18 | `ct_ipv6_dst` (128) |
//! | 19 | `tun_id` (64) |
//! | 20 | `tun_src` (32) · `tun_dst` (32) |
//! | 21 | `tun_flags` (8) · `tun_opt_len` (8, bytes) · `tun_tp_src` (16) · `tun_tp_dst` (16) · `tun_tos` (8) · `tun_ttl` (8) |
//! | 22 | `tun_gbp_id` (16) · `tun_gbp_flags` (8) · pad (40) |
//! | 23–24 | `tun_ipv6_src` (128) |
//! | 25–26 | `tun_ipv6_dst` (128) |
//! | 27–34 | Geneve options as received, up to 64 bytes, zero padded |
//! | 35 | `eth_dst` (48) · `eth_type` (16, after any VLAN tags) |
//! | 36 | `eth_src` (48) · pad (16) |
//! | 37 | outer VLAN TPID (16) · TCI (16) · inner VLAN TPID (16) · TCI (16) |
//! | 38 | `mpls_lse` (32, the top label stack entry) · pad (32) |
//! | 39 | `nw_src` (32) · `nw_dst` (32): IPv4 addresses, or ARP SPA/TPA |
//! | 40–41 | `ipv6_src` (128) |
//! | 42–43 | `ipv6_dst` (128) |
//! | 44 | `ipv6_label` (32) · `nw_proto` (8, ARP opcode for ARP) · `nw_tos` (8) · `nw_ttl` (8) · `nw_frag` (8) |
//! | 45 | `tp_src` (16) · `tp_dst` (16) · `tcp_flags` (16) · pad (16); ICMP type and code in `tp_src`/`tp_dst` |
//! | 46 | `arp_sha` or `nd_sll` (48) · pad |
//! | 47 | `arp_tha` or `nd_tll` (48) · pad |
//! | 48–49 | `nd_target` (128) |
//!
//! This is ferrovs' one layout of flow fields: the OpenFlow tables
//! (`ofproto`) store and match the same fields, named by these [`Field`]s,
//! and convert between the two forms with loops over [`Field::ALL`]; a
//! field added here reaches the tables, the megaflow masks and the text
//! formats without another table to keep.
//!
//! The order follows the packet: metadata, then L2, L3, L4, so that
//! extraction writes the sparse form ([`MiniKey`]) in one forward pass.
//!
//! # Dense and sparse forms
//!
//! [`FlowKey`] and [`FlowMask`] are dense (all words). A packet fills only a
//! handful of words (about eight for TCP over IPv4), so extraction produces
//! a [`MiniKey`]: a bitmap of the words present plus their values, packed,
//! as OVS's miniflow. Hashing and comparing a `MiniKey` touch only the words
//! present; a word absent from the map is zero.

use std::fmt;

/// Number of 64-bit words in a flow key.
pub const KEY_WORDS: usize = 50;

/// Number of leading words that hold packet metadata rather than headers.
pub const META_WORDS: usize = 35;

/// Word indices of the layout in the module documentation.
pub mod word {
    /// `in_port` · `recirc_id`.
    pub const PORT_RECIRC: usize = 0;
    /// `metadata`.
    pub const METADATA: usize = 1;
    /// First of the eight register words.
    pub const REGS: usize = 2;
    /// `ct_nw_proto` · `ct_state` · `ct_zone` · `ct_mark`.
    pub const CT: usize = 10;
    /// First of the two `ct_label` words.
    pub const CT_LABEL: usize = 11;
    /// `pkt_mark` · `ct_tp_src` · `ct_tp_dst`.
    pub const MARK_CT_TP: usize = 13;
    /// `ct_nw_src` · `ct_nw_dst`.
    pub const CT_NW_ADDRS: usize = 14;
    /// First of the two `ct_ipv6_src` words.
    pub const CT_IPV6_SRC: usize = 15;
    /// First of the two `ct_ipv6_dst` words.
    pub const CT_IPV6_DST: usize = 17;
    /// `tun_id`.
    pub const TUN_ID: usize = 19;
    /// `tun_src` · `tun_dst`.
    pub const TUN_ADDRS: usize = 20;
    /// Tunnel flags, option length, ports, TOS and TTL.
    pub const TUN_MISC: usize = 21;
    /// `tun_gbp_id` · `tun_gbp_flags`.
    pub const TUN_GBP: usize = 22;
    /// First of the two `tun_ipv6_src` words.
    pub const TUN_IPV6_SRC: usize = 23;
    /// First of the two `tun_ipv6_dst` words.
    pub const TUN_IPV6_DST: usize = 25;
    /// First of the eight Geneve option words.
    pub const TUN_OPTS: usize = 27;
    /// Number of Geneve option words.
    pub const TUN_OPT_WORDS: usize = 8;
    /// `eth_dst` · `eth_type`.
    pub const ETH_DST_TYPE: usize = 35;
    /// `eth_src`.
    pub const ETH_SRC: usize = 36;
    /// The two VLAN tags.
    pub const VLANS: usize = 37;
    /// The top MPLS label stack entry.
    pub const MPLS: usize = 38;
    /// IPv4 source and destination, or ARP SPA and TPA.
    pub const NW_ADDRS: usize = 39;
    /// First of the two `ipv6_src` words.
    pub const IPV6_SRC: usize = 40;
    /// First of the two `ipv6_dst` words.
    pub const IPV6_DST: usize = 42;
    /// IPv6 label, protocol, TOS, TTL, fragment bits.
    pub const NW_MISC: usize = 44;
    /// Transport ports (ICMP type and code) and TCP flags.
    pub const TP: usize = 45;
    /// `arp_sha` / `nd_sll`.
    pub const ARP_SHA: usize = 46;
    /// `arp_tha` / `nd_tll`.
    pub const ARP_THA: usize = 47;
    /// First of the two `nd_target` words.
    pub const ND_TARGET: usize = 48;
}

/// `nw_frag` bit: the packet is a fragment (first or later).
pub const FRAG_ANY: u8 = 1;
/// `nw_frag` bit: the packet is a fragment other than the first.
pub const FRAG_LATER: u8 = 2;

/// `tun_flags` bit: Geneve's OAM bit was set. The one bit OpenFlow's
/// `tun_flags` shows (`oam`); the others are the datapath's own, as OVS's
/// `FLOW_TNL_F_*`.
pub const TUN_F_OAM: u8 = 1 << 0;
/// `tun_flags` bit: the outer IPv4 header had "don't fragment" set.
pub const TUN_F_DONT_FRAGMENT: u8 = 1 << 1;
/// `tun_flags` bit: the outer UDP header carried a checksum.
pub const TUN_F_CSUM: u8 = 1 << 2;
/// `tun_flags` bit: the tunnel header carried a key (VNI).
pub const TUN_F_KEY: u8 = 1 << 3;

/// A field of the flow key: where it lives and how wide it is.
///
/// 128-bit fields (IPv6 addresses, `ct_label`, `nd_target`) span two words
/// and have `bits == 128`, `shift == 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    /// Name as in `ovs-fields(7)`.
    pub name: &'static str,
    /// Word index (the high word for 128-bit fields).
    pub word: u8,
    /// Bit offset of the field's least significant bit within the word.
    pub shift: u8,
    /// Width in bits: 1–64, or 128.
    pub bits: u8,
}

macro_rules! fields {
    ($($(#[$doc:meta])* $id:ident = $name:literal, $word:expr, $shift:expr, $bits:expr;)*) => {
        impl Field {
            $($(#[$doc])* pub const $id: Field = Field { name: $name, word: $word as u8, shift: $shift, bits: $bits };)*
            /// Every field, in layout order (registers apart: see [`Field::reg`]).
            pub const ALL: &'static [Field] = &[$(Field::$id),*];
        }
    };
}

fields! {
    /// Ingress port.
    IN_PORT = "in_port", word::PORT_RECIRC, 32, 32;
    /// Recirculation id; 0 for a packet fresh from a port.
    RECIRC_ID = "recirc_id", word::PORT_RECIRC, 0, 32;
    /// OpenFlow metadata.
    METADATA = "metadata", word::METADATA, 0, 64;
    /// Connection tracking: the original direction's IP protocol.
    CT_NW_PROTO = "ct_nw_proto", word::CT, 56, 8;
    /// Connection tracking state bits.
    CT_STATE = "ct_state", word::CT, 48, 8;
    /// Connection tracking zone.
    CT_ZONE = "ct_zone", word::CT, 32, 16;
    /// Connection tracking mark.
    CT_MARK = "ct_mark", word::CT, 0, 32;
    /// Connection tracking label.
    CT_LABEL = "ct_label", word::CT_LABEL, 0, 128;
    /// Packet mark (`pkt_mark`, the kernel's `skb_mark`).
    PKT_MARK = "pkt_mark", word::MARK_CT_TP, 32, 32;
    /// Connection tracking: the original direction's transport source port.
    CT_TP_SRC = "ct_tp_src", word::MARK_CT_TP, 16, 16;
    /// Connection tracking: the original direction's transport destination port.
    CT_TP_DST = "ct_tp_dst", word::MARK_CT_TP, 0, 16;
    /// Connection tracking: the original direction's IPv4 source.
    CT_NW_SRC = "ct_nw_src", word::CT_NW_ADDRS, 32, 32;
    /// Connection tracking: the original direction's IPv4 destination.
    CT_NW_DST = "ct_nw_dst", word::CT_NW_ADDRS, 0, 32;
    /// Connection tracking: the original direction's IPv6 source.
    CT_IPV6_SRC = "ct_ipv6_src", word::CT_IPV6_SRC, 0, 128;
    /// Connection tracking: the original direction's IPv6 destination.
    CT_IPV6_DST = "ct_ipv6_dst", word::CT_IPV6_DST, 0, 128;
    /// Tunnel key (VNI).
    TUN_ID = "tun_id", word::TUN_ID, 0, 64;
    /// Outer IPv4 source.
    TUN_SRC = "tun_src", word::TUN_ADDRS, 32, 32;
    /// Outer IPv4 destination.
    TUN_DST = "tun_dst", word::TUN_ADDRS, 0, 32;
    /// Tunnel flags (`TUN_F_*`).
    TUN_FLAGS = "tun_flags", word::TUN_MISC, 56, 8;
    /// Length in bytes of the Geneve options in words 27–34.
    TUN_OPT_LEN = "tun_opt_len", word::TUN_MISC, 48, 8;
    /// Outer UDP source port.
    TUN_TP_SRC = "tun_tp_src", word::TUN_MISC, 32, 16;
    /// Outer UDP destination port.
    TUN_TP_DST = "tun_tp_dst", word::TUN_MISC, 16, 16;
    /// Outer IP TOS.
    TUN_TOS = "tun_tos", word::TUN_MISC, 8, 8;
    /// Outer IP TTL.
    TUN_TTL = "tun_ttl", word::TUN_MISC, 0, 8;
    /// VXLAN group-based policy id.
    TUN_GBP_ID = "tun_gbp_id", word::TUN_GBP, 48, 16;
    /// VXLAN group-based policy flags.
    TUN_GBP_FLAGS = "tun_gbp_flags", word::TUN_GBP, 40, 8;
    /// Outer IPv6 source.
    TUN_IPV6_SRC = "tun_ipv6_src", word::TUN_IPV6_SRC, 0, 128;
    /// Outer IPv6 destination.
    TUN_IPV6_DST = "tun_ipv6_dst", word::TUN_IPV6_DST, 0, 128;
    /// Ethernet destination.
    ETH_DST = "eth_dst", word::ETH_DST_TYPE, 16, 48;
    /// Ethertype after any VLAN tags.
    ETH_TYPE = "eth_type", word::ETH_DST_TYPE, 0, 16;
    /// Ethernet source.
    ETH_SRC = "eth_src", word::ETH_SRC, 16, 48;
    /// Outer VLAN tag's TPID (0 when untagged).
    VLAN0_TPID = "vlan0_tpid", word::VLANS, 48, 16;
    /// Outer VLAN tag's TCI.
    VLAN0_TCI = "vlan0_tci", word::VLANS, 32, 16;
    /// Inner VLAN tag's TPID (0 when at most one tag).
    VLAN1_TPID = "vlan1_tpid", word::VLANS, 16, 16;
    /// Inner VLAN tag's TCI.
    VLAN1_TCI = "vlan1_tci", word::VLANS, 0, 16;
    /// The top MPLS label stack entry: label (20), traffic class (3),
    /// bottom of stack (1), TTL (8).
    MPLS_LSE = "mpls_lse", word::MPLS, 32, 32;
    /// IPv4 source, or ARP sender protocol address.
    NW_SRC = "nw_src", word::NW_ADDRS, 32, 32;
    /// IPv4 destination, or ARP target protocol address.
    NW_DST = "nw_dst", word::NW_ADDRS, 0, 32;
    /// IPv6 source.
    IPV6_SRC = "ipv6_src", word::IPV6_SRC, 0, 128;
    /// IPv6 destination.
    IPV6_DST = "ipv6_dst", word::IPV6_DST, 0, 128;
    /// IPv6 flow label (20 bits used).
    IPV6_LABEL = "ipv6_label", word::NW_MISC, 32, 32;
    /// IP protocol, or the low 8 bits of the ARP opcode.
    NW_PROTO = "nw_proto", word::NW_MISC, 24, 8;
    /// IPv4 TOS / IPv6 traffic class (DSCP and ECN).
    NW_TOS = "nw_tos", word::NW_MISC, 16, 8;
    /// IPv4 TTL / IPv6 hop limit.
    NW_TTL = "nw_ttl", word::NW_MISC, 8, 8;
    /// Fragment bits (`FRAG_ANY`, `FRAG_LATER`).
    NW_FRAG = "nw_frag", word::NW_MISC, 0, 8;
    /// TCP/UDP/SCTP source port, ICMP type.
    TP_SRC = "tp_src", word::TP, 48, 16;
    /// TCP/UDP/SCTP destination port, ICMP code.
    TP_DST = "tp_dst", word::TP, 32, 16;
    /// TCP flags (12 bits used).
    TCP_FLAGS = "tcp_flags", word::TP, 16, 16;
    /// ARP sender hardware address, or IPv6 ND source link-layer address.
    ARP_SHA = "arp_sha", word::ARP_SHA, 16, 48;
    /// ARP target hardware address, or IPv6 ND target link-layer address.
    ARP_THA = "arp_tha", word::ARP_THA, 16, 48;
    /// IPv6 neighbour discovery target.
    ND_TARGET = "nd_target", word::ND_TARGET, 0, 128;
}

impl Field {
    /// Register `reg0`…`reg15`; `None` for a larger index.
    pub const fn reg(n: usize) -> Option<Field> {
        if n >= 16 {
            return None;
        }
        const NAMES: [&str; 16] = [
            "reg0", "reg1", "reg2", "reg3", "reg4", "reg5", "reg6", "reg7", "reg8", "reg9", "reg10", "reg11", "reg12", "reg13", "reg14",
            "reg15",
        ];
        let shift = if n % 2 == 0 { 32 } else { 0 };
        Some(Field { name: NAMES[n], word: (word::REGS + n / 2) as u8, shift, bits: 32 })
    }

    /// The field's mask within its word (all ones for 128-bit fields).
    pub const fn word_mask(self) -> u64 {
        if self.bits >= 64 {
            u64::MAX
        } else {
            ((1u64 << self.bits) - 1) << self.shift
        }
    }

    /// The largest value the field holds.
    pub const fn max_value(self) -> u128 {
        if self.bits >= 128 {
            u128::MAX
        } else {
            (1u128 << self.bits) - 1
        }
    }

    fn words(self) -> usize {
        if self.bits > 64 {
            2
        } else {
            1
        }
    }
}

/// Reads and writes fields of any word array laid out as a flow key.
pub trait FieldAccess {
    /// The key's words.
    fn words(&self) -> &[u64; KEY_WORDS];
    /// The key's words, for writing.
    fn words_mut(&mut self) -> &mut [u64; KEY_WORDS];

    /// The value of `field`.
    fn get(&self, field: Field) -> u128 {
        read_field(self.words(), field)
    }

    /// Sets `field` to `value`, truncated to the field's width.
    fn set(&mut self, field: Field, value: u128) {
        write_field(self.words_mut(), field, value);
    }
}

/// The value of `field` in words laid out as a flow key (or its first
/// words); 0 when the field lies past the end of `w`.
pub fn read_field(w: &[u64], field: Field) -> u128 {
    let i = field.word as usize;
    match w.get(i..i + field.words()) {
        Some([hi, lo]) => (u128::from(*hi) << 64) | u128::from(*lo),
        Some([v]) => u128::from((v & field.word_mask()) >> field.shift),
        _ => 0,
    }
}

/// Sets `field` in words laid out as a flow key (or its first words);
/// false when the field lies past the end of `w`.
pub fn write_field(w: &mut [u64], field: Field, value: u128) -> bool {
    let i = field.word as usize;
    match w.get_mut(i..i + field.words()) {
        Some([hi, lo]) => {
            *hi = (value >> 64) as u64;
            *lo = value as u64;
        }
        Some([v]) => {
            let m = field.word_mask();
            *v = (*v & !m) | (((value as u64) << field.shift) & m);
        }
        _ => return false,
    }
    true
}

/// A dense flow key: every word, zero where the packet has no such field.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The words of the layout in the module documentation.
    pub words: [u64; KEY_WORDS],
}

impl Default for FlowKey {
    fn default() -> Self {
        FlowKey { words: [0; KEY_WORDS] }
    }
}

impl FieldAccess for FlowKey {
    fn words(&self) -> &[u64; KEY_WORDS] {
        &self.words
    }
    fn words_mut(&mut self) -> &mut [u64; KEY_WORDS] {
        &mut self.words
    }
}

impl FlowKey {
    /// The key with `mask` applied.
    pub fn masked(&self, mask: &FlowMask) -> FlowKey {
        let mut out = *self;
        for (w, m) in out.words.iter_mut().zip(mask.words.iter()) {
            *w &= m;
        }
        out
    }

    /// The sparse form: every non-zero word.
    pub fn to_mini(&self) -> MiniKey {
        let mut mini = MiniKey::default();
        for (i, &w) in self.words.iter().enumerate() {
            if w != 0 {
                mini.push(i, w);
            }
        }
        mini
    }
}

impl fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fields(f, &self.words, None)
    }
}

/// A wildcard mask over the flow key: a one bit means the bit is matched.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowMask {
    /// The mask's words, laid out as the key's.
    pub words: [u64; KEY_WORDS],
}

impl Default for FlowMask {
    /// The mask that matches nothing: every bit wildcarded.
    fn default() -> Self {
        FlowMask { words: [0; KEY_WORDS] }
    }
}

impl FieldAccess for FlowMask {
    fn words(&self) -> &[u64; KEY_WORDS] {
        &self.words
    }
    fn words_mut(&mut self) -> &mut [u64; KEY_WORDS] {
        &mut self.words
    }
}

impl FlowMask {
    /// Unwildcards every bit of `field`.
    pub fn exact(&mut self, field: Field) -> &mut Self {
        self.set(field, field.max_value());
        self
    }

    /// Unwildcards every bit that `other` unwildcards.
    pub fn union(&mut self, other: &FlowMask) {
        for (w, o) in self.words.iter_mut().zip(other.words.iter()) {
            *w |= o;
        }
    }

    /// Whether every bit this mask matches is also matched by `other`.
    pub fn is_subset_of(&self, other: &FlowMask) -> bool {
        self.words.iter().zip(other.words.iter()).all(|(a, b)| a & !b == 0)
    }
}

impl fmt::Debug for FlowMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fields(f, &self.words, None)
    }
}

/// Writes `name=value` for every field with a non-zero value (and, given a
/// mask, `name=value/mask` where the mask is not exact).
pub(crate) fn write_fields(f: &mut fmt::Formatter<'_>, words: &[u64; KEY_WORDS], mask: Option<&[u64; KEY_WORDS]>) -> fmt::Result {
    let regs = (0..16).filter_map(Field::reg);
    let mut first = true;
    for field in Field::ALL.iter().copied().chain(regs) {
        let m = mask.map_or(field.max_value(), |m| read_field(m, field));
        if m == 0 {
            continue;
        }
        let v = read_field(words, field);
        if mask.is_none() && v == 0 {
            continue;
        }
        if !first {
            f.write_str(",")?;
        }
        first = false;
        write!(f, "{}={:#x}", field.name, v)?;
        if m != field.max_value() {
            write!(f, "/{m:#x}")?;
        }
    }
    if first {
        f.write_str("<empty>")?;
    }
    Ok(())
}

/// The sparse form of a flow key: a bitmap of the words present and their
/// values, packed in word order (OVS's miniflow).
///
/// Two packets with the same headers produce the same `MiniKey`. A word in
/// the map may still be zero (extraction records whole headers), so two
/// `MiniKey`s that differ may expand to the same [`FlowKey`]; they then
/// simply occupy two microflow cache entries.
#[derive(Clone, Copy)]
pub struct MiniKey {
    /// Bit `i` set when word `i` is present.
    pub(crate) map: u64,
    /// Number of words present (the population count of `map`).
    pub(crate) len: u8,
    /// The present words' values; `values[len..]` are unused.
    pub(crate) values: [u64; KEY_WORDS],
}

impl Default for MiniKey {
    fn default() -> Self {
        MiniKey { map: 0, len: 0, values: [0; KEY_WORDS] }
    }
}

impl MiniKey {
    /// Appends word `index` with `value`.
    ///
    /// Words must be pushed in increasing index order; a word out of order
    /// or out of range is ignored (and trips a debug assertion).
    #[inline(always)]
    pub(crate) fn push(&mut self, index: usize, value: u64) {
        let in_order = index < KEY_WORDS && (self.map >> index) == 0;
        debug_assert!(in_order, "word {index} pushed out of order");
        if !in_order {
            return;
        }
        if let Some(slot) = self.values.get_mut(self.len as usize) {
            *slot = value;
            self.map |= 1 << index;
            self.len += 1;
        }
    }

    /// The bitmap of words present.
    pub fn map(&self) -> u64 {
        self.map
    }

    /// The present words' values, in word order.
    pub fn values(&self) -> &[u64] {
        &self.values[..self.len as usize]
    }

    /// The value of word `index` (zero when absent).
    #[inline(always)]
    pub fn word(&self, index: usize) -> u64 {
        let bit = 1u64 << (index & 63);
        if index >= KEY_WORDS || self.map & bit == 0 {
            return 0;
        }
        let rank = (self.map & (bit - 1)).count_ones() as usize;
        self.values[rank]
    }

    /// The hash of the whole key (CRC32-C over the map and the words), for
    /// the microflow cache when the NIC gives no RSS hash.
    #[inline(always)]
    pub fn hash(&self, basis: u32) -> u32 {
        // Two independent CRC chains over the even and the odd words, so
        // that their latencies overlap, joined at the end.
        let (mut even, mut odd) = (crate::hash::crc32c_u64(basis, self.map), basis ^ 0x9e37_79b9);
        let mut pairs = self.values().chunks_exact(2);
        for pair in &mut pairs {
            even = crate::hash::crc32c_u64(even, pair[0]);
            odd = crate::hash::crc32c_u64(odd, pair[1]);
        }
        if let [last] = pairs.remainder() {
            even = crate::hash::crc32c_u64(even, *last);
        }
        crate::hash::crc32c_u64(even, u64::from(odd))
    }

    /// The dense form.
    pub fn expand(&self) -> FlowKey {
        let mut key = FlowKey::default();
        let mut map = self.map;
        for &v in self.values() {
            let i = map.trailing_zeros() as usize;
            key.words[i] = v;
            map &= map - 1;
        }
        key
    }

    /// The value of `field` (zero when its word is absent).
    pub fn get(&self, field: Field) -> u128 {
        let i = field.word as usize;
        read_field(&[self.word(i), self.word(i + 1)], Field { word: 0, ..field })
    }
}

impl PartialEq for MiniKey {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        if self.map != other.map {
            return false;
        }
        // Same map, same length: compare the words without a call into
        // memcmp, and without a branch per word.
        let n = usize::from(self.len).min(KEY_WORDS);
        let mut diff = 0;
        for (a, b) in self.values[..n].iter().zip(&other.values[..n]) {
            diff |= a ^ b;
        }
        diff == 0
    }
}

impl Eq for MiniKey {}

impl fmt::Debug for MiniKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fields(f, &self.expand().words, None)
    }
}

/// Packet metadata that comes with a packet rather than from its bytes: the
/// ingress port, and after recirculation or tunnel decapsulation the
/// registers, connection tracking state and tunnel fields (words
/// `0..META_WORDS` of the key).
///
/// Only the words that were set are copied into the key, so a packet fresh
/// from a port costs one word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    map: u64,
    words: [u64; META_WORDS],
}

impl Default for PacketMeta {
    fn default() -> Self {
        PacketMeta { map: 1, words: [0; META_WORDS] }
    }
}

impl PacketMeta {
    /// Metadata of a packet received on `in_port`.
    pub fn new(in_port: u32) -> Self {
        let mut meta = PacketMeta::default();
        meta.set(Field::IN_PORT, u128::from(in_port));
        meta
    }

    /// The metadata words of `key` (what recirculation carries over).
    pub fn from_key(key: &FlowKey) -> Self {
        let mut meta = PacketMeta::default();
        meta.words.copy_from_slice(&key.words[..META_WORDS]);
        for (i, &w) in meta.words.iter().enumerate() {
            if w != 0 {
                meta.map |= 1 << i;
            }
        }
        meta.map |= 1;
        meta
    }

    /// Ingress port.
    pub fn in_port(&self) -> u32 {
        self.get(Field::IN_PORT) as u32
    }

    /// The value of a metadata field; 0 for header fields.
    pub fn get(&self, field: Field) -> u128 {
        read_field(&self.words, field)
    }

    /// Sets a metadata field; header fields are ignored (returns false).
    pub fn set(&mut self, field: Field, value: u128) -> bool {
        if !write_field(&mut self.words, field, value) {
            return false;
        }
        self.map |= ((1u64 << field.words()) - 1) << field.word;
        true
    }

    /// Stores raw Geneve options (at most 64 bytes; longer options are cut
    /// and the cut is reported by returning false).
    pub fn set_tunnel_options(&mut self, options: &[u8]) -> bool {
        let n = options.len().min(word::TUN_OPT_WORDS * 8);
        for (k, chunk) in options[..n].chunks(8).enumerate() {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            self.words[word::TUN_OPTS + k] = u64::from_be_bytes(bytes);
            self.map |= 1 << (word::TUN_OPTS + k);
        }
        self.set(Field::TUN_OPT_LEN, n as u128);
        n == options.len()
    }

    /// The raw Geneve options.
    pub fn tunnel_options(&self) -> Vec<u8> {
        let n = (self.get(Field::TUN_OPT_LEN) as usize).min(word::TUN_OPT_WORDS * 8);
        let mut out: Vec<u8> =
            self.words[word::TUN_OPTS..word::TUN_OPTS + word::TUN_OPT_WORDS].iter().flat_map(|w| w.to_be_bytes()).collect();
        out.truncate(n);
        out
    }

    /// Whether only the first word (input port, recirculation id) is set.
    #[inline(always)]
    pub(crate) fn port_only(&self) -> bool {
        self.map == 1
    }

    /// The first word: input port and recirculation id.
    #[inline(always)]
    pub(crate) fn port_word(&self) -> u64 {
        self.words[0]
    }

    /// Pushes the metadata words into a key under construction.
    #[inline(always)]
    pub(crate) fn push_into(&self, key: &mut MiniKey) {
        let mut map = self.map | 1;
        while map != 0 {
            let i = map.trailing_zeros() as usize;
            key.push(i, self.words[i]);
            map &= map - 1;
        }
    }
}

impl fmt::Debug for PacketMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = FlowKey::default();
        key.words[..META_WORDS].copy_from_slice(&self.words);
        write_fields(f, &key.words, None)
    }
}

/// A 48-bit MAC address as the key stores it.
pub fn mac_to_u64(mac: [u8; 6]) -> u64 {
    let mut b = [0u8; 8];
    b[2..].copy_from_slice(&mac);
    u64::from_be_bytes(b)
}

/// The MAC address bytes of a key value.
pub fn mac_from_u64(v: u64) -> [u8; 6] {
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

#[cfg(test)]
mod tests;
