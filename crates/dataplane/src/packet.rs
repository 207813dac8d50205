//! A packet as the datapath's actions and tunnels rewrite it: the buffer
//! ([`PacketBuf`]), where its headers are (`Layers`), and why executing
//! actions may drop it ([`DropReason`]).

use crate::extract::walk_ipv6_extensions;
use crate::key::FRAG_LATER;
use crate::wire::{ethertype, read_be16, Ipv4, Ipv6, ETH_LEN, VLAN_LEN};

/// A packet buffer the actions can rewrite.
pub trait PacketBuf: Sized {
    /// The packet's bytes.
    fn data(&self) -> &[u8];
    /// The packet's bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the packet by `n` bytes at the front (contents unspecified);
    /// false when the buffer has no room.
    fn push_front(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the front; false when shorter than `n`.
    fn pull_front(&mut self, n: usize) -> bool;
    /// A copy of the packet; `None` when no buffer is available.
    fn duplicate(&self) -> Option<Self>;
}

impl PacketBuf for Vec<u8> {
    fn data(&self) -> &[u8] {
        self
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self
    }
    fn push_front(&mut self, n: usize) -> bool {
        self.splice(0..0, std::iter::repeat_n(0, n));
        true
    }
    fn pull_front(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.drain(..n);
        true
    }
    fn duplicate(&self) -> Option<Self> {
        Some(self.clone())
    }
}

/// Why executing actions dropped a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The actions were empty or an explicit `Drop`.
    Actions,
    /// `DecTtl` on a packet whose TTL or hop limit was 0 or 1.
    TtlExpired,
    /// No headroom to push a header.
    NoHeadroom,
    /// No buffer for a copy.
    NoBuffer,
    /// `TunnelPop` on a packet that is not a well-formed tunnel packet of
    /// its kind, or whose Geneve options exceed the key's 64 bytes.
    NotTunnel,
    /// A meter's band dropped it.
    Meter,
    /// The packet's translation failed (actions the datapath cannot carry
    /// out yet, such as conntrack or `learn`; a resubmit loop): the
    /// megaflow's `DropXlateError`, OVS's `xlate_error` drop reason.
    XlateError,
}

/// Offsets and kinds of a packet's L3 and L4 headers, found without
/// building a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layers {
    pub(crate) l3: usize,
    pub(crate) ethertype: u16,
    /// L4 offset and IP protocol, absent for non-IP or later fragments.
    pub(crate) l4: Option<(usize, u8)>,
    /// End of the IP datagram (before any Ethernet padding).
    pub(crate) end: usize,
}

impl Layers {
    /// Finds the layers; a packet with an IP ethertype but a bad IP header
    /// gets ethertype 0, so that no action touches it.
    pub(crate) fn parse(data: &[u8]) -> Option<Layers> {
        let mut at = ETH_LEN - 2;
        let mut ty = read_be16(data, at)?;
        while ty == ethertype::VLAN || ty == ethertype::QINQ {
            at += VLAN_LEN;
            ty = read_be16(data, at)?;
        }
        let l3 = at + 2;
        let ip = data.get(l3..)?;
        let unknown = Layers { l3, ethertype: 0, l4: None, end: data.len() };
        match ty {
            ethertype::IPV4 => {
                let Ok(v) = Ipv4::new_checked(ip) else {
                    return Some(unknown);
                };
                let l4 = (v.frag() & 0x1fff == 0).then(|| (l3 + v.header_len(), v.proto()));
                Some(Layers { l3, ethertype: ty, l4, end: l3 + usize::from(v.total_len()) })
            }
            ethertype::IPV6 => {
                let Some(payload) = read_be16(ip, Ipv6::PAYLOAD_LEN.start).map(usize::from).filter(|&p| ip.len() >= Ipv6::LEN + p) else {
                    return Some(unknown);
                };
                let after = &ip[Ipv6::LEN..Ipv6::LEN + payload];
                let l4 = match walk_ipv6_extensions(ip[Ipv6::NEXT], after) {
                    Ok((p, skip, frag)) if frag & FRAG_LATER == 0 => Some((l3 + Ipv6::LEN + skip, p)),
                    _ => None,
                };
                Some(Layers { l3, ethertype: ty, l4, end: l3 + Ipv6::LEN + payload })
            }
            _ => Some(Layers { ethertype: ty, ..unknown }),
        }
    }
}
