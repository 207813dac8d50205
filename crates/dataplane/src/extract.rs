//! Flow key extraction: one forward pass over a packet's bytes into a
//! [`MiniKey`].
//!
//! The parser follows OVS's `miniflow_extract`: Ethernet, up to two VLAN
//! tags, 802.3/SNAP, then IPv4 (options skipped, fragments flagged, no L4
//! for later fragments), IPv6 (extension headers walked: hop-by-hop,
//! routing, destination options, fragment, authentication), ARP, then TCP,
//! UDP, SCTP, ICMP, ICMPv6 and IPv6 neighbour discovery.
//!
//! # Never panics
//!
//! Every read is bounds-checked. A packet that is truncated or whose headers
//! disagree with its length yields a key with the layers that did parse, and
//! a [`Malformed`] reason for the caller to count (see [`MalformedCounters`]).
//! A property test and the `extract` fuzz target feed arbitrary bytes.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::key::{word, MiniKey, PacketMeta, FRAG_ANY, FRAG_LATER};
use crate::wire::{ethertype, proto, read_be128, read_be16, read_be32, read_mac, Arp, Ipv4, Ipv6, Tcp, ETH_LEN, VLAN_LEN};

/// Why a packet's key is incomplete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[repr(u8)]
pub enum Malformed {
    /// Shorter than an Ethernet header.
    #[error("truncated Ethernet header")]
    Ethernet,
    /// A VLAN tag was cut off.
    #[error("truncated VLAN tag")]
    Vlan,
    /// IPv4 header truncated, or its lengths disagree with the packet.
    #[error("bad IPv4 header")]
    Ipv4,
    /// IPv6 header truncated, or its payload length exceeds the packet.
    #[error("bad IPv6 header")]
    Ipv6,
    /// An IPv6 extension header was cut off.
    #[error("bad IPv6 extension header")]
    Ipv6Extension,
    /// ARP packet truncated or not Ethernet/IPv4.
    #[error("bad ARP packet")]
    Arp,
    /// TCP, UDP, SCTP or ICMP header cut off, or a bad TCP data offset.
    #[error("truncated transport header")]
    Transport,
    /// Neighbour discovery message or option malformed.
    #[error("bad neighbour discovery message")]
    NeighbourDiscovery,
}

impl Malformed {
    /// Number of reasons.
    pub const COUNT: usize = 8;
    /// Every reason, in counter order.
    pub const ALL: [Malformed; Self::COUNT] = [
        Malformed::Ethernet,
        Malformed::Vlan,
        Malformed::Ipv4,
        Malformed::Ipv6,
        Malformed::Ipv6Extension,
        Malformed::Arp,
        Malformed::Transport,
        Malformed::NeighbourDiscovery,
    ];
}

/// Per-reason counts of malformed packets (one per PMD thread; the control
/// thread sums them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MalformedCounters {
    counts: [u64; Malformed::COUNT],
}

impl MalformedCounters {
    /// Counts one packet.
    pub fn count(&mut self, reason: Malformed) {
        self.counts[reason as usize] += 1;
    }

    /// The count for `reason`.
    pub fn get(&self, reason: Malformed) -> u64 {
        self.counts[reason as usize]
    }

    /// All malformed packets.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds another thread's counts.
    pub fn add(&mut self, other: &MalformedCounters) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }
}

/// Where the headers start, for actions that rewrite them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offsets {
    /// Offset of the L3 header (after VLAN tags), if there is an Ethernet header.
    pub l3: Option<u16>,
    /// Offset of the L4 header, if L3 parsed and is not a later fragment.
    pub l4: Option<u16>,
}

/// The most VLAN tags parsed (as OVS's `flow_limit_vlans`): 1 or 2.
static VLAN_LIMIT: AtomicUsize = AtomicUsize::new(MAX_VLANS);

/// The most VLAN tags the key holds.
pub const MAX_VLANS: usize = 2;

/// Parses at most `limit` VLAN tags from now on (`other_config:vlan-limit`;
/// 0 means as many as the key holds, [`MAX_VLANS`]). Past the limit the
/// next tag's TPID is the packet's Ethernet type and nothing beyond it is
/// parsed, as in OVS, so that with the default limit of 1 a QinQ packet
/// (0x88a8 then 0x8100) does not match `ip`. Caches built under another
/// limit must be emptied by the caller.
pub fn set_vlan_limit(limit: usize) {
    VLAN_LIMIT.store(vlan_limit_for(limit), Ordering::Relaxed);
}

/// The tags parsed under `other_config:vlan-limit=limit`: 0 is as many as
/// the key holds, more than that is that many.
pub fn vlan_limit_for(limit: usize) -> usize {
    if limit == 0 {
        MAX_VLANS
    } else {
        limit.min(MAX_VLANS)
    }
}

/// The VLAN tags parsed at most (see [`set_vlan_limit`]).
pub fn vlan_limit() -> usize {
    VLAN_LIMIT.load(Ordering::Relaxed)
}

/// Extracts the key of `packet` received with `meta`.
///
/// Returns the key of the layers that parsed and, for a malformed packet,
/// the reason the rest did not.
pub fn extract(packet: &[u8], meta: &PacketMeta) -> (MiniKey, Option<Malformed>) {
    let mut key = MiniKey::default();
    let malformed = extract_into(packet, meta, &mut key).err();
    (key, malformed)
}

/// How deep to extract: the key up to and including a layer.
///
/// Extraction is one forward pass, so a key extracted to a depth holds
/// exactly the words the whole key holds up to that depth. A classifier
/// whose masks use no word past a depth can look packets up with keys of
/// that depth ([`crate::Classifier::depth`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Depth {
    /// The metadata words only (`in_port`, …): the packet is not read.
    Meta,
    /// Up to the Ethernet and VLAN words.
    L2,
    /// Up to the IP words (addresses, protocol, TOS, TTL, fragment bits).
    L3,
    /// Everything.
    All,
}

impl Depth {
    /// The depth that covers every word of `map` (a bitmap of key words).
    pub fn covering(map: u64) -> Depth {
        if map >> (word::NW_MISC + 1) != 0 {
            Depth::All
        } else if map >> word::NW_ADDRS != 0 {
            Depth::L3
        } else if map >> crate::key::META_WORDS != 0 {
            Depth::L2
        } else {
            Depth::Meta
        }
    }
}

/// Extracts into `key` (overwriting it), returning the header offsets.
#[inline]
pub fn extract_into(packet: &[u8], meta: &PacketMeta, key: &mut MiniKey) -> Result<Offsets, Malformed> {
    extract_to(packet, meta, key, Depth::All)
}

/// Extracts into `key` (overwriting it) up to `depth`, returning the
/// header offsets found on the way.
#[inline]
pub fn extract_to(packet: &[u8], meta: &PacketMeta, key: &mut MiniKey, depth: Depth) -> Result<Offsets, Malformed> {
    key.map = 0;
    key.len = 0;
    meta.push_into(key);
    let mut off = Offsets::default();
    if depth == Depth::Meta {
        return Ok(off);
    }

    let Some(first) = packet.get(..ETH_LEN) else {
        return Err(Malformed::Ethernet);
    };
    let dst_src = u64::from_be_bytes([first[0], first[1], first[2], first[3], first[4], first[5], 0, 0]);
    let src = u64::from_be_bytes([0, 0, first[6], first[7], first[8], first[9], first[10], first[11]]);
    let mut ty = u16::from_be_bytes([first[12], first[13]]);
    let mut at = ETH_LEN;

    let mut vlans = 0u64;
    let mut vlan_err = None;
    for shift in [32u32, 0].into_iter().take(vlan_limit()) {
        if ty != ethertype::VLAN && ty != ethertype::QINQ {
            break;
        }
        let (Some(tci), Some(next)) = (read_be16(packet, at), read_be16(packet, at + 2)) else {
            vlan_err = Some(Malformed::Vlan);
            break;
        };
        vlans |= (u64::from(ty) << 16 | u64::from(tci)) << shift;
        ty = next;
        at += VLAN_LEN;
    }
    if ty < 0x600 && vlan_err.is_none() {
        ty = llc_snap_type(packet, at).map_or(ethertype::NONE, |(t, len)| {
            at += len;
            t
        });
    }
    key.push(word::ETH_DST_TYPE, dst_src | u64::from(ty));
    key.push(word::ETH_SRC, src << 16);
    if vlans != 0 {
        key.push(word::VLANS, vlans);
    }
    if ty == ethertype::MPLS || ty == ethertype::MPLS_MCAST {
        // The top label stack entry, as OVS keeps it; nothing past the
        // stack is parsed. A cut-off entry is simply absent, as in OVS.
        if let Some(lse) = packet.get(at..at + 4) {
            key.push(word::MPLS, u64::from(u32::from_be_bytes([lse[0], lse[1], lse[2], lse[3]])) << 32);
        }
    }
    if let Some(e) = vlan_err {
        return Err(e);
    }
    off.l3 = Some(at as u16);
    if depth == Depth::L2 {
        return Ok(off);
    }
    let l3 = &packet[at..];
    let l4_at = match ty {
        ethertype::IPV4 => {
            let ip = Ipv4::new_checked(l3).map_err(|_| Malformed::Ipv4)?;
            let frag_field = ip.frag();
            let mut frag = 0u8;
            if frag_field & 0x3fff != 0 {
                frag = FRAG_ANY;
                if frag_field & 0x1fff != 0 {
                    frag |= FRAG_LATER;
                }
            }
            key.push(word::NW_ADDRS, u64::from(ip.src()) << 32 | u64::from(ip.dst()));
            let proto = ip.proto();
            key.push(word::NW_MISC, nw_misc(0, proto, ip.tos(), ip.ttl(), frag));
            if frag & FRAG_LATER != 0 || depth == Depth::L3 {
                return Ok(off);
            }
            let l4 = &l3[ip.header_len()..usize::from(ip.total_len())];
            (proto, l4, at + ip.header_len())
        }
        ethertype::IPV6 => {
            let (Some(first), Some(src), Some(dst)) = (read_be32(l3, 0), read_be128(l3, Ipv6::SRC.start), read_be128(l3, Ipv6::DST.start))
            else {
                return Err(Malformed::Ipv6);
            };
            let payload = usize::from(u16::from_be_bytes([l3[4], l3[5]]));
            if first >> 28 != 6 || payload > l3.len() - Ipv6::LEN {
                return Err(Malformed::Ipv6);
            }
            key.push(word::IPV6_SRC, (src >> 64) as u64);
            key.push(word::IPV6_SRC + 1, src as u64);
            key.push(word::IPV6_DST, (dst >> 64) as u64);
            key.push(word::IPV6_DST + 1, dst as u64);
            let tclass = (first >> 20) as u8;
            let label = first & 0x000f_ffff;
            let hop_limit = l3[Ipv6::HOP_LIMIT];
            let l4 = &l3[Ipv6::LEN..Ipv6::LEN + payload];
            let walked = walk_ipv6_extensions(l3[Ipv6::NEXT], l4);
            let (proto, skip, frag) = match walked {
                Ok(w) => w,
                Err(()) => {
                    key.push(word::NW_MISC, nw_misc(label, l3[Ipv6::NEXT], tclass, hop_limit, 0));
                    return Err(Malformed::Ipv6Extension);
                }
            };
            key.push(word::NW_MISC, nw_misc(label, proto, tclass, hop_limit, frag));
            if frag & FRAG_LATER != 0 || depth == Depth::L3 {
                return Ok(off);
            }
            (proto, &l4[skip..], at + Ipv6::LEN + skip)
        }
        ethertype::ARP => {
            let arp = l3.get(..Arp::LEN).ok_or(Malformed::Arp)?;
            if arp[..6] != [0, 1, 8, 0, 6, 4] {
                return Err(Malformed::Arp);
            }
            let spa = u64::from(u32::from_be_bytes([arp[14], arp[15], arp[16], arp[17]]));
            let tpa = u64::from(u32::from_be_bytes([arp[24], arp[25], arp[26], arp[27]]));
            key.push(word::NW_ADDRS, spa << 32 | tpa);
            let op = u16::from_be_bytes([arp[6], arp[7]]);
            let op8 = if op <= 0xff { op as u8 } else { 0 };
            key.push(word::NW_MISC, u64::from(op8) << 24);
            if depth == Depth::L3 {
                return Ok(off);
            }
            key.push(word::ARP_SHA, read_mac(arp, Arp::SHA).unwrap_or(0) << 16);
            key.push(word::ARP_THA, read_mac(arp, Arp::THA).unwrap_or(0) << 16);
            return Ok(off);
        }
        _ => return Ok(off),
    };
    let (proto, l4, l4_off) = l4_at;
    off.l4 = Some(l4_off as u16);
    extract_l4(proto, l4, key)?;
    Ok(off)
}

#[inline(always)]
fn nw_misc(label: u32, proto: u8, tos: u8, ttl: u8, frag: u8) -> u64 {
    u64::from(label) << 32 | u64::from(proto) << 24 | u64::from(tos) << 16 | u64::from(ttl) << 8 | u64::from(frag)
}

/// The ethertype of an 802.2 LLC + SNAP header with a zero OUI, and the
/// header's length.
fn llc_snap_type(packet: &[u8], at: usize) -> Option<(u16, usize)> {
    let h = packet.get(at..at + 8)?;
    if h[..6] != [0xaa, 0xaa, 0x03, 0, 0, 0] {
        return None;
    }
    let ty = u16::from_be_bytes([h[6], h[7]]);
    (ty >= 0x600).then_some((ty, 8))
}

/// Walks IPv6 extension headers from `next` over `payload`: the upper
/// protocol, the bytes skipped and the fragment bits.
pub(crate) fn walk_ipv6_extensions(mut next: u8, payload: &[u8]) -> Result<(u8, usize, u8), ()> {
    const HOP_BY_HOP: u8 = 0;
    const ROUTING: u8 = 43;
    const FRAGMENT: u8 = 44;
    const AUTH: u8 = 51;
    const DEST_OPTS: u8 = 60;
    let mut at = 0usize;
    let mut frag = 0u8;
    // Bounded by the payload length too; the count bounds pathological chains.
    for _ in 0..16 {
        match next {
            HOP_BY_HOP | ROUTING | DEST_OPTS | AUTH => {
                let h = payload.get(at..at + 2).ok_or(())?;
                let len = if next == AUTH { (usize::from(h[1]) + 2) * 4 } else { (usize::from(h[1]) + 1) * 8 };
                if at + len > payload.len() {
                    return Err(());
                }
                next = h[0];
                at += len;
            }
            FRAGMENT => {
                let h = payload.get(at..at + 8).ok_or(())?;
                let offset_m = u16::from_be_bytes([h[2], h[3]]);
                next = h[0];
                at += 8;
                frag = FRAG_ANY;
                if offset_m & 0xfff8 != 0 {
                    frag |= FRAG_LATER;
                    return Ok((next, at, frag));
                }
            }
            _ => return Ok((next, at, frag)),
        }
    }
    Err(())
}

#[inline(always)]
fn extract_l4(proto: u8, l4: &[u8], key: &mut MiniKey) -> Result<(), Malformed> {
    match proto {
        proto::TCP => {
            let (Some(ports), Some(off_flags)) = (read_be32(l4, 0), read_be16(l4, Tcp::OFFSET_FLAGS.start)) else {
                return Err(Malformed::Transport);
            };
            let doff = usize::from(off_flags >> 12) * 4;
            if doff < Tcp::MIN_LEN || doff > l4.len() {
                return Err(Malformed::Transport);
            }
            key.push(word::TP, u64::from(ports) << 32 | u64::from(off_flags & 0x0fff) << 16);
        }
        proto::UDP | proto::SCTP => {
            let need = if proto == proto::UDP { 8 } else { 12 };
            let ports = read_be32(l4, 0).filter(|_| l4.len() >= need).ok_or(Malformed::Transport)?;
            key.push(word::TP, u64::from(ports) << 32);
        }
        proto::ICMP => {
            let tc = read_be16(l4, 0).filter(|_| l4.len() >= 4).ok_or(Malformed::Transport)?;
            key.push(word::TP, icmp_word(tc));
        }
        proto::ICMPV6 => {
            let tc = read_be16(l4, 0).filter(|_| l4.len() >= 4).ok_or(Malformed::Transport)?;
            key.push(word::TP, icmp_word(tc));
            let (ty, code) = ((tc >> 8) as u8, tc as u8);
            if code == 0 && (ty == 135 || ty == 136) {
                return extract_nd(ty, l4, key);
            }
        }
        _ => {}
    }
    Ok(())
}

#[inline(always)]
fn icmp_word(type_code: u16) -> u64 {
    u64::from(type_code >> 8) << 48 | u64::from(type_code & 0xff) << 32
}

/// Neighbour solicitation (135) / advertisement (136): target and the
/// source / target link-layer address options.
fn extract_nd(ty: u8, l4: &[u8], key: &mut MiniKey) -> Result<(), Malformed> {
    let Some(target) = read_be128(l4, 8) else {
        return Err(Malformed::NeighbourDiscovery);
    };
    let (mut sll, mut tll) = (0u64, 0u64);
    let mut at = 24;
    let mut bad = false;
    while at < l4.len() {
        let (Some(&opt), Some(&len)) = (l4.get(at), l4.get(at + 1)) else {
            bad = true;
            break;
        };
        let len = usize::from(len) * 8;
        if len == 0 || at + len > l4.len() {
            bad = true;
            break;
        }
        match (opt, len, ty) {
            (1, 8, 135) if sll == 0 => sll = read_mac(l4, at + 2).unwrap_or(0),
            (2, 8, 136) if tll == 0 => tll = read_mac(l4, at + 2).unwrap_or(0),
            (1, 8, 135) | (2, 8, 136) => {
                bad = true;
                break;
            }
            _ => {}
        }
        at += len;
    }
    if bad {
        // As OVS: a malformed option list leaves the ND fields zero.
        return Err(Malformed::NeighbourDiscovery);
    }
    key.push(word::ARP_SHA, sll << 16);
    key.push(word::ARP_THA, tll << 16);
    key.push(word::ND_TARGET, (target >> 64) as u64);
    key.push(word::ND_TARGET + 1, target as u64);
    Ok(())
}

#[cfg(test)]
mod tests;
