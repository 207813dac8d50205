//! Typed views over header bytes.
//!
//! # Panic contract
//!
//! Each view wraps `T: AsRef<[u8]>`. `new_checked` verifies that the buffer
//! is long enough for every fixed field (and, where the header says how long
//! it is, for that length); after it returns `Ok`, no accessor panics.
//! `new_unchecked` skips the check and its accessors may then panic: it is
//! only for buffers the caller has just built or checked. Field offsets are
//! named `Range`s so that the layout is read in one place.

use core::ops::Range;

/// The buffer is shorter than the header it should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("header truncated or inconsistent")]
pub struct Truncated;

#[inline(always)]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline(always)]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a big-endian `u16` at `at`, or `None` past the end.
#[inline(always)]
pub fn read_be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Reads a big-endian `u32` at `at`, or `None` past the end.
#[inline(always)]
pub fn read_be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a big-endian `u128` at `at`, or `None` past the end.
#[inline(always)]
pub fn read_be128(b: &[u8], at: usize) -> Option<u128> {
    Some(u128::from_be_bytes(b.get(at..at + 16)?.try_into().ok()?))
}

/// Reads a 6-byte MAC address at `at` as a 48-bit number.
#[inline(always)]
pub fn read_mac(b: &[u8], at: usize) -> Option<u64> {
    let m = b.get(at..at + 6)?;
    Some(u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]]))
}

/// Ethernet header length without VLAN tags.
pub const ETH_LEN: usize = 14;
/// VLAN tag length.
pub const VLAN_LEN: usize = 4;
/// Ethertypes.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service VLAN tag.
    pub const QINQ: u16 = 0x88a8;
    /// MPLS unicast.
    pub const MPLS: u16 = 0x8847;
    /// MPLS multicast.
    pub const MPLS_MCAST: u16 = 0x8848;
    /// OVS's value for 802.3 frames without SNAP (length field < 0x600).
    pub const NONE: u16 = 0x05ff;
}

/// IP protocol numbers.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// IPv4 header view.
#[derive(Debug)]
pub struct Ipv4<T>(T);

impl Ipv4<()> {
    /// Minimum header length.
    pub const MIN_LEN: usize = 20;
    /// Type of service byte.
    pub const TOS: usize = 1;
    /// Total length.
    pub const TOTAL_LEN: Range<usize> = 2..4;
    /// Flags and fragment offset.
    pub const FRAG: Range<usize> = 6..8;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Protocol.
    pub const PROTO: usize = 9;
    /// Header checksum.
    pub const CHECKSUM: Range<usize> = 10..12;
    /// Source address.
    pub const SRC: Range<usize> = 12..16;
    /// Destination address.
    pub const DST: Range<usize> = 16..20;
}

type Ip4 = Ipv4<()>;

impl<T: AsRef<[u8]>> Ipv4<T> {
    /// Checks version, header length and total length against the buffer.
    pub fn new_checked(buf: T) -> Result<Self, Truncated> {
        let b = buf.as_ref();
        if b.len() < Ip4::MIN_LEN || b[0] >> 4 != 4 {
            return Err(Truncated);
        }
        let hl = usize::from(b[0] & 0x0f) * 4;
        let total = usize::from(be16(b, Ip4::TOTAL_LEN.start));
        if hl < Ip4::MIN_LEN || hl > b.len() || total < hl || total > b.len() {
            return Err(Truncated);
        }
        Ok(Ipv4(buf))
    }

    /// Wraps a buffer already checked.
    pub fn new_unchecked(buf: T) -> Self {
        Ipv4(buf)
    }

    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.0.as_ref()[0] & 0x0f) * 4
    }
    /// Total length field.
    pub fn total_len(&self) -> u16 {
        be16(self.0.as_ref(), Ip4::TOTAL_LEN.start)
    }
    /// Flags and fragment offset field.
    pub fn frag(&self) -> u16 {
        be16(self.0.as_ref(), Ip4::FRAG.start)
    }
    /// TOS byte.
    pub fn tos(&self) -> u8 {
        self.0.as_ref()[Ip4::TOS]
    }
    /// TTL.
    pub fn ttl(&self) -> u8 {
        self.0.as_ref()[Ip4::TTL]
    }
    /// Protocol.
    pub fn proto(&self) -> u8 {
        self.0.as_ref()[Ip4::PROTO]
    }
    /// Source address.
    pub fn src(&self) -> u32 {
        be32(self.0.as_ref(), Ip4::SRC.start)
    }
    /// Destination address.
    pub fn dst(&self) -> u32 {
        be32(self.0.as_ref(), Ip4::DST.start)
    }
    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.0.as_ref(), Ip4::CHECKSUM.start)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4<T> {
    /// Writes the header checksum computed over the header.
    pub fn fill_checksum(&mut self) {
        let hl = self.header_len();
        let b = self.0.as_mut();
        b[Ip4::CHECKSUM].fill(0);
        let c = !crate::checksum::fold(crate::checksum::sum(&b[..hl], 0));
        b[Ip4::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

/// IPv6 fixed header layout.
#[derive(Debug)]
pub struct Ipv6;

impl Ipv6 {
    /// Fixed header length.
    pub const LEN: usize = 40;
    /// Payload length.
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    /// Next header.
    pub const NEXT: usize = 6;
    /// Hop limit.
    pub const HOP_LIMIT: usize = 7;
    /// Source address.
    pub const SRC: Range<usize> = 8..24;
    /// Destination address.
    pub const DST: Range<usize> = 24..40;
}

/// UDP header layout.
#[derive(Debug)]
pub struct Udp;

impl Udp {
    /// Header length.
    pub const LEN: usize = 8;
    /// Length field.
    pub const LENGTH: Range<usize> = 4..6;
    /// Checksum field.
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// TCP header layout.
#[derive(Debug)]
pub struct Tcp;

impl Tcp {
    /// Minimum header length.
    pub const MIN_LEN: usize = 20;
    /// Data offset and flags.
    pub const OFFSET_FLAGS: Range<usize> = 12..14;
    /// Checksum field.
    pub const CHECKSUM: Range<usize> = 16..18;
}

/// SCTP common header layout.
#[derive(Debug)]
pub struct Sctp;

impl Sctp {
    /// Common header length.
    pub const LEN: usize = 12;
    /// CRC32-C checksum field (little-endian on the wire, as RFC 4960 Appendix B computes it).
    pub const CHECKSUM: Range<usize> = 8..12;
}

/// ICMP and ICMPv6 header layout.
#[derive(Debug)]
pub struct Icmp;

impl Icmp {
    /// Type, code and checksum.
    pub const LEN: usize = 4;
    /// Checksum field.
    pub const CHECKSUM: Range<usize> = 2..4;
}

/// ARP for IPv4 over Ethernet.
#[derive(Debug)]
pub struct Arp;

impl Arp {
    /// Length of an Ethernet/IPv4 ARP packet.
    pub const LEN: usize = 28;
    /// Opcode.
    pub const OP: Range<usize> = 6..8;
    /// Sender hardware address.
    pub const SHA: usize = 8;
    /// Sender protocol address.
    pub const SPA: usize = 14;
    /// Target hardware address.
    pub const THA: usize = 18;
    /// Target protocol address.
    pub const TPA: usize = 24;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_checked_refuses_inconsistent_lengths() {
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&20u16.to_be_bytes());
        assert!(Ipv4::new_checked(&h[..]).is_ok());
        assert_eq!(Ipv4::new_checked(&h[..19]).err(), Some(Truncated));
        h[0] = 0x44;
        assert!(Ipv4::new_checked(&h[..]).is_err());
        h[0] = 0x46;
        assert!(Ipv4::new_checked(&h[..]).is_err());
        h[0] = 0x45;
        h[2..4].copy_from_slice(&21u16.to_be_bytes());
        assert!(Ipv4::new_checked(&h[..]).is_err());
    }

    #[test]
    fn reads_past_end_are_none() {
        assert_eq!(read_be16(&[1], 0), None);
        assert_eq!(read_be32(&[1, 2, 3, 4], 1), None);
        assert_eq!(read_mac(&[0; 6], 0), Some(0));
        assert_eq!(read_be128(&[0; 15], 0), None);
    }
}
