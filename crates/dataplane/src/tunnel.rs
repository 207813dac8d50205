//! VXLAN and Geneve encapsulation over IPv4/UDP.
//!
//! Push copies a prebuilt outer header (Ethernet, IPv4, UDP, tunnel header
//! with its options) in front of the packet and patches the lengths, the
//! IPv4 checksum and the UDP source port (taken from the flow hash, so one
//! flow keeps one path through ECMP fabrics, as RFC 7348 recommends). The
//! outer UDP checksum is zero, as OVS sends by default for IPv4.
//!
//! Pop checks the outer headers, fills the tunnel metadata of the key
//! (`tun_id`, `tun_src`, `tun_dst`, `tun_tos`, `tun_ttl`, `tun_tp_src`,
//! `tun_tp_dst`, `tun_flags`, Geneve options) and strips them. IPv6 outer
//! headers are not supported yet: pop refuses them and no header template
//! builds them.

use std::fmt;

use crate::key::{Field, PacketMeta, TUN_F_CSUM, TUN_F_DONT_FRAGMENT, TUN_F_KEY, TUN_F_OAM};
use crate::packet::{DropReason, Layers, PacketBuf};
use crate::wire::{ethertype, proto, Ipv4, Udp, ETH_LEN};

/// IANA UDP port of VXLAN.
pub const VXLAN_PORT: u16 = 4789;
/// IANA UDP port of Geneve.
pub const GENEVE_PORT: u16 = 6081;

const VXLAN_LEN: usize = 8;
const GENEVE_LEN: usize = 8;
const IPV4_LEN: usize = 20;
const OUTER_FIXED: usize = ETH_LEN + IPV4_LEN + Udp::LEN;
/// Geneve's protocol type for an Ethernet payload.
const TRANSPARENT_ETHERNET: u16 = 0x6558;
/// Longest Geneve option list the header's 6-bit length field allows.
pub const MAX_GENEVE_OPTIONS: usize = 63 * 4;

/// The encapsulation of a tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// VXLAN (RFC 7348).
    Vxlan,
    /// Geneve (RFC 8926).
    Geneve,
}

/// What an outer header is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelSpec {
    /// Encapsulation.
    pub kind: TunnelKind,
    /// Outer Ethernet source.
    pub eth_src: [u8; 6],
    /// Outer Ethernet destination (the next hop's MAC).
    pub eth_dst: [u8; 6],
    /// Outer IPv4 source.
    pub ip_src: u32,
    /// Outer IPv4 destination.
    pub ip_dst: u32,
    /// Outer TOS.
    pub tos: u8,
    /// Outer TTL.
    pub ttl: u8,
    /// Set the IPv4 "don't fragment" bit.
    pub dont_fragment: bool,
    /// Outer UDP destination port.
    pub udp_dst: u16,
    /// VXLAN or Geneve network identifier (24 bits).
    pub vni: u32,
    /// Geneve options, already encoded (a multiple of 4 bytes, at most
    /// [`MAX_GENEVE_OPTIONS`]); must be empty for VXLAN.
    pub geneve_options: Vec<u8>,
}

impl TunnelSpec {
    /// A specification with OVS's defaults: TOS 0, TTL 64, "don't
    /// fragment" set, the IANA port of `kind`, no Geneve options.
    pub fn new(kind: TunnelKind, eth: ([u8; 6], [u8; 6]), ip: (u32, u32), vni: u32) -> Self {
        let udp_dst = match kind {
            TunnelKind::Vxlan => VXLAN_PORT,
            TunnelKind::Geneve => GENEVE_PORT,
        };
        TunnelSpec {
            kind,
            eth_src: eth.0,
            eth_dst: eth.1,
            ip_src: ip.0,
            ip_dst: ip.1,
            tos: 0,
            ttl: 64,
            dont_fragment: true,
            udp_dst,
            vni,
            geneve_options: Vec::new(),
        }
    }
}

/// A tunnel specification that cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TunnelError {
    /// The VNI does not fit in 24 bits.
    #[error("VNI {0} does not fit in 24 bits")]
    Vni(u32),
    /// The options are not a multiple of 4 bytes, too long, or given for VXLAN.
    #[error("{0} bytes of tunnel options cannot be encoded")]
    Options(usize),
}

/// A prebuilt outer header, ready to be copied in front of packets.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TunnelHeader {
    kind: TunnelKind,
    bytes: Vec<u8>,
}

impl fmt::Debug for TunnelHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?},header={:02x?}", self.kind, self.bytes)
    }
}

impl TunnelHeader {
    /// Builds the template for `spec`.
    pub fn new(spec: &TunnelSpec) -> Result<Self, TunnelError> {
        if spec.vni >= 1 << 24 {
            return Err(TunnelError::Vni(spec.vni));
        }
        let opts = spec.geneve_options.len();
        if opts % 4 != 0 || opts > MAX_GENEVE_OPTIONS || (spec.kind == TunnelKind::Vxlan && opts != 0) {
            return Err(TunnelError::Options(opts));
        }
        let mut b = Vec::with_capacity(OUTER_FIXED + GENEVE_LEN + opts);
        b.extend_from_slice(&spec.eth_dst);
        b.extend_from_slice(&spec.eth_src);
        b.extend_from_slice(&ethertype::IPV4.to_be_bytes());
        let frag: u16 = if spec.dont_fragment { 0x4000 } else { 0 };
        b.extend_from_slice(&[0x45, spec.tos, 0, 0, 0, 0]);
        b.extend_from_slice(&frag.to_be_bytes());
        b.extend_from_slice(&[spec.ttl, proto::UDP, 0, 0]);
        b.extend_from_slice(&spec.ip_src.to_be_bytes());
        b.extend_from_slice(&spec.ip_dst.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&spec.udp_dst.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]);
        match spec.kind {
            TunnelKind::Vxlan => {
                b.extend_from_slice(&[0x08, 0, 0, 0]);
                b.extend_from_slice(&(spec.vni << 8).to_be_bytes());
            }
            TunnelKind::Geneve => {
                b.extend_from_slice(&[(opts / 4) as u8, 0]);
                b.extend_from_slice(&TRANSPARENT_ETHERNET.to_be_bytes());
                b.extend_from_slice(&(spec.vni << 8).to_be_bytes());
                b.extend_from_slice(&spec.geneve_options);
            }
        }
        Ok(TunnelHeader { kind: spec.kind, bytes: b })
    }

    /// The encapsulation.
    pub fn kind(&self) -> TunnelKind {
        self.kind
    }

    /// Length of the outer header.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a header has at least its fixed part.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Encapsulates `packet` with `header`; `hash` picks the UDP source port.
pub(crate) fn push<P: PacketBuf>(packet: &mut P, header: &TunnelHeader, hash: u32) -> Result<(), DropReason> {
    let inner = packet.data().len();
    let n = header.bytes.len();
    let ip_len = n - ETH_LEN + inner;
    let Ok(ip_len16) = u16::try_from(ip_len) else {
        return Err(DropReason::NoHeadroom);
    };
    if !packet.push_front(n) {
        return Err(DropReason::NoHeadroom);
    }
    let d = packet.data_mut();
    d[..n].copy_from_slice(&header.bytes);
    let ip = ETH_LEN;
    d[ip + 2..ip + 4].copy_from_slice(&ip_len16.to_be_bytes());
    Ipv4::new_unchecked(&mut d[ip..ip + IPV4_LEN]).fill_checksum();
    let udp = ip + IPV4_LEN;
    // The ephemeral range 32768..61000, as Linux and OVS use.
    let sport = 32768 + ((u64::from(hash) * 28232) >> 32) as u16;
    d[udp..udp + 2].copy_from_slice(&sport.to_be_bytes());
    d[udp + 4..udp + 6].copy_from_slice(&((ip_len - IPV4_LEN) as u16).to_be_bytes());
    Ok(())
}

/// Decapsulates a `kind` tunnel packet, returning its tunnel metadata.
pub(crate) fn pop<P: PacketBuf>(packet: &mut P, kind: TunnelKind) -> Result<PacketMeta, DropReason> {
    let d = packet.data();
    let layers = Layers::parse(d).ok_or(DropReason::NotTunnel)?;
    let Some((udp, proto::UDP)) = layers.l4.filter(|_| layers.ethertype == ethertype::IPV4) else {
        return Err(DropReason::NotTunnel);
    };
    let ip = Ipv4::new_checked(&d[layers.l3..]).map_err(|_| DropReason::NotTunnel)?;
    if ip.frag() & 0x3fff != 0 {
        return Err(DropReason::NotTunnel);
    }
    let u = d.get(udp..udp + Udp::LEN).ok_or(DropReason::NotTunnel)?;
    let (sport, dport, csum) = (u16::from_be_bytes([u[0], u[1]]), u16::from_be_bytes([u[2], u[3]]), u16::from_be_bytes([u[6], u[7]]));
    let t = udp + Udp::LEN;
    let mut meta = PacketMeta::default();
    let (header_len, vni, mut flags) = match kind {
        TunnelKind::Vxlan => {
            let h = d.get(t..t + VXLAN_LEN).ok_or(DropReason::NotTunnel)?;
            if h[0] & 0x08 == 0 {
                return Err(DropReason::NotTunnel);
            }
            (VXLAN_LEN, u32::from_be_bytes([0, h[4], h[5], h[6]]), 0u8)
        }
        TunnelKind::Geneve => {
            let h = d.get(t..t + GENEVE_LEN).ok_or(DropReason::NotTunnel)?;
            let opt_len = usize::from(h[0] & 0x3f) * 4;
            if h[0] >> 6 != 0 || u16::from_be_bytes([h[2], h[3]]) != TRANSPARENT_ETHERNET {
                return Err(DropReason::NotTunnel);
            }
            let opts = d.get(t + GENEVE_LEN..t + GENEVE_LEN + opt_len).ok_or(DropReason::NotTunnel)?;
            if !meta.set_tunnel_options(opts) {
                return Err(DropReason::NotTunnel);
            }
            let oam = if h[1] & 0x80 != 0 { TUN_F_OAM } else { 0 };
            (GENEVE_LEN + opt_len, u32::from_be_bytes([0, h[4], h[5], h[6]]), oam)
        }
    };
    flags |= TUN_F_KEY;
    if ip.frag() & 0x4000 != 0 {
        flags |= TUN_F_DONT_FRAGMENT;
    }
    if csum != 0 {
        flags |= TUN_F_CSUM;
    }
    meta.set(Field::TUN_ID, u128::from(vni));
    meta.set(Field::TUN_SRC, u128::from(ip.src()));
    meta.set(Field::TUN_DST, u128::from(ip.dst()));
    meta.set(Field::TUN_TOS, u128::from(ip.tos()));
    meta.set(Field::TUN_TTL, u128::from(ip.ttl()));
    meta.set(Field::TUN_TP_SRC, u128::from(sport));
    meta.set(Field::TUN_TP_DST, u128::from(dport));
    meta.set(Field::TUN_FLAGS, u128::from(flags));
    let outer = t + header_len;
    // An outer frame (at least 50 bytes of headers and a 14-byte inner
    // Ethernet header) is never short enough to carry Ethernet padding.
    if layers.end < outer || !packet.pull_front(outer) {
        return Err(DropReason::NotTunnel);
    }
    Ok(meta)
}
