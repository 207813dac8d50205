//! Header keys: the raw header bytes that decide the flow key of a plain
//! Ethernet + IPv4 + TCP/UDP packet, as a key for the microflow cache that
//! needs no extraction.
//!
//! Most of a switch's traffic is untagged IPv4 without options carrying
//! TCP or UDP. For such a packet, [`crate::extract_into`] reads fixed
//! offsets, and its key is a function of a few header bytes and the input
//! port. [`HeaderKey::of`] checks that a packet is one of those (the checks
//! are the ones extraction makes, so the packet also extracts without a
//! [`crate::Malformed`] reason) and copies the bytes that decide its key
//! into four words, leaving out the ones the key does not hold (IP
//! identification, checksums, lengths, TCP sequence numbers).
//!
//! # Invariant
//!
//! Two packets with equal header keys have equal flow keys at every
//! [`crate::Depth`]. The property tests below check it by changing every
//! byte a header key leaves out, and by looking for two packets with one
//! header key and different flow keys. A cache keyed on header keys may
//! therefore stand in for the microflow cache keyed on flow keys.

use crate::key::{word, MiniKey, PacketMeta};
use crate::wire::{ethertype, proto};

/// Bytes of an Ethernet header.
const ETH: usize = 14;
/// Bytes of an IPv4 header without options.
const IP: usize = 20;
/// Bytes of a UDP header.
const UDP: usize = 8;
/// Bytes of a TCP header without options.
const TCP: usize = 20;

/// The header bytes that decide a plain packet's flow key.
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct HeaderKey {
    /// The metadata word (input port), then the header words.
    words: [u64; 5],
}

impl PartialEq for HeaderKey {
    /// Word by word without branches (the derived comparison of the
    /// array calls `memcmp`).
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        self.words.iter().zip(other.words.iter()).fold(0, |d, (a, b)| d | (a ^ b)) == 0
    }
}

/// Reads 8 bytes at `at` (the caller has checked the length).
#[inline(always)]
fn load(packet: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&packet[at..at + 8]);
    u64::from_le_bytes(b)
}

impl HeaderKey {
    /// The header key of `packet` received with `meta`, if it is plain
    /// Ethernet + IPv4 (no options, not a fragment) + TCP or UDP and
    /// extracts whole, and `meta` holds nothing but its first word (input
    /// port, recirculation id).
    #[inline(always)]
    pub fn of(packet: &[u8], meta: &PacketMeta) -> Option<HeaderKey> {
        if !meta.port_only() || packet.len() < ETH + IP + UDP {
            return None;
        }
        // Ethertype IPv4, version 4 with a 20-byte header.
        if u16::from_be_bytes([packet[12], packet[13]]) != ethertype::IPV4 || packet[14] != 0x45 {
            return None;
        }
        let total = usize::from(u16::from_be_bytes([packet[16], packet[17]]));
        let frag = u16::from_be_bytes([packet[20], packet[21]]);
        // Fragments have other keys; the don't-fragment bit is not in it.
        if frag & 0x3fff != 0 || ETH + total > packet.len() {
            return None;
        }
        // The TCP flags take the place of the IP checksum (bytes 24–25),
        // which the key does not hold; UDP leaves them zero.
        let flags = match packet[23] {
            proto::UDP if total >= IP + UDP => 0,
            proto::TCP if total >= IP + TCP => {
                let off_flags = u16::from_be_bytes([packet[ETH + IP + 12], packet[ETH + IP + 13]]);
                let doff = usize::from(off_flags >> 12) * 4;
                if doff < TCP || doff > total - IP {
                    return None;
                }
                off_flags & 0x0fff
            }
            _ => return None,
        };
        // Bytes 0–7: destination MAC, start of the source; 8–15: the rest
        // of the source, ethertype, version, TOS; 22–29: TTL, protocol,
        // (checksum), source address; 30–37: destination address, ports.
        let ttl_proto_src = (load(packet, 22) & !0xffff_0000) | u64::from(flags) << 16;
        Some(HeaderKey { words: [meta.port_word(), load(packet, 0), load(packet, 8), ttl_proto_src, load(packet, 30)] })
    }

    /// The key's hash (not the flow key's: the two differ).
    #[inline(always)]
    pub fn hash(&self) -> u32 {
        let [a, b, c, d, e] = self.words;
        let even = crate::hash::crc32c_u64(crate::hash::crc32c_u64(crate::hash::crc32c_u64(0, a), c), e);
        let odd = crate::hash::crc32c_u64(crate::hash::crc32c_u64(0x9e37_79b9, b), d);
        even ^ odd.rotate_left(16)
    }

    /// The TCP flags the flow key holds (0 for UDP).
    #[inline(always)]
    pub fn tcp_flags(&self) -> u16 {
        (self.words[3] >> 16) as u16
    }

    /// Writes the packet's whole flow key (what [`crate::extract_into`]
    /// gives) into `key`, from the header words alone.
    #[inline(always)]
    pub fn flow_key(&self, key: &mut MiniKey) {
        let [port, dst_src, src_type_tos, ttl_proto_src, dst_ports] = self.words;
        // The words were loaded little-endian; the key's are big-endian.
        let (front, back) = (dst_src.swap_bytes(), src_type_tos.swap_bytes());
        let tos = src_type_tos >> 56;
        let (ttl, proto) = (ttl_proto_src & 0xff, (ttl_proto_src >> 8) & 0xff);
        let src = u64::from(((ttl_proto_src >> 32) as u32).swap_bytes());
        let dst = u64::from((dst_ports as u32).swap_bytes());
        let ports = u64::from(((dst_ports >> 32) as u32).swap_bytes());
        key.map = 0;
        key.len = 0;
        key.push(word::PORT_RECIRC, port);
        key.push(word::ETH_DST_TYPE, front & !0xffff | u64::from(ethertype::IPV4));
        key.push(word::ETH_SRC, front << 48 | (back >> 32) << 16);
        key.push(word::NW_ADDRS, src << 32 | dst);
        key.push(word::NW_MISC, proto << 24 | tos << 16 | ttl << 8);
        key.push(word::TP, ports << 32 | u64::from(self.tcp_flags()) << 16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{Field, FieldAccess};
    use crate::{extract_to, Depth};
    use proptest::prelude::*;

    const DEPTHS: [Depth; 4] = [Depth::Meta, Depth::L2, Depth::L3, Depth::All];

    /// The fields of a plain packet, key fields first.
    #[derive(Clone, Debug)]
    struct Plain {
        dst: [u8; 6],
        src: [u8; 6],
        tos: u8,
        ttl: u8,
        proto: u8,
        addrs: ([u8; 4], [u8; 4]),
        ports: (u16, u16),
        flags: u16,
        doff: u8,
        id: u16,
        csum: u16,
        df: bool,
        payload: Vec<u8>,
        pad: usize,
    }

    /// Small value sets, so that packets often share fields.
    fn plain() -> impl Strategy<Value = Plain> {
        let mac = prop::sample::select(vec![[0u8, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 6], [0x80, 1, 2, 3, 4, 5]]);
        let addr = prop::sample::select(vec![[10u8, 0, 0, 1], [10, 0, 0, 2], [11, 0, 0, 1]]);
        (
            (mac.clone(), mac, 0u8..2, 0u8..3, prop::sample::select(vec![proto::UDP, proto::TCP])),
            ((addr.clone(), addr), (0u16..3, 0u16..3), 0u16..3, 5u8..8),
            (any::<u16>(), any::<u16>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..24), 0usize..8),
        )
            .prop_map(|((dst, src, tos, ttl, proto), (addrs, ports, flags, doff), (id, csum, df, payload, pad))| Plain {
                dst,
                src,
                tos,
                ttl,
                proto,
                addrs,
                ports,
                flags,
                doff,
                id,
                csum,
                df,
                payload,
                pad,
            })
    }

    /// Two plain packets that differ in few key fields (each with
    /// probability 1/8) and in every other byte.
    fn pair() -> impl Strategy<Value = (Plain, Plain)> {
        (plain(), plain(), prop::collection::vec(prop::bool::weighted(0.125), 9)).prop_map(|(a, mut b, change)| {
            // Field `i` of `b` is `a`'s unless `change[i]`.
            macro_rules! keep {
                ($($i:literal => $field:ident),*) => {
                    $(if !change[$i] {
                        b.$field = a.$field;
                    })*
                };
            }
            keep!(0 => dst, 1 => src, 2 => tos, 3 => ttl, 4 => proto, 5 => addrs, 6 => ports, 7 => flags, 8 => doff);
            (a, b)
        })
    }

    impl Plain {
        fn bytes(&self) -> Vec<u8> {
            let mut f = Vec::new();
            f.extend_from_slice(&self.dst);
            f.extend_from_slice(&self.src);
            f.extend_from_slice(&[0x08, 0x00]);
            let l4 = if self.proto == proto::TCP { usize::from(self.doff) * 4 } else { UDP };
            let total = (IP + l4 + self.payload.len()) as u16;
            f.extend_from_slice(&[0x45, self.tos]);
            f.extend_from_slice(&total.to_be_bytes());
            f.extend_from_slice(&self.id.to_be_bytes());
            f.extend_from_slice(&(if self.df { 0x4000u16 } else { 0 }).to_be_bytes());
            f.extend_from_slice(&[self.ttl, self.proto]);
            f.extend_from_slice(&self.csum.to_be_bytes());
            f.extend_from_slice(&self.addrs.0);
            f.extend_from_slice(&self.addrs.1);
            f.extend_from_slice(&self.ports.0.to_be_bytes());
            f.extend_from_slice(&self.ports.1.to_be_bytes());
            if self.proto == proto::TCP {
                f.extend_from_slice(&self.id.to_be_bytes());
                f.extend_from_slice(&[0; 6]);
                f.extend_from_slice(&(u16::from(self.doff) << 12 | self.flags).to_be_bytes());
                f.extend_from_slice(&self.csum.to_be_bytes());
                f.resize(ETH + IP + l4, 0xee);
            } else {
                f.extend_from_slice(&((UDP + self.payload.len()) as u16).to_be_bytes());
                f.extend_from_slice(&self.csum.to_be_bytes());
            }
            f.extend_from_slice(&self.payload);
            f.resize(f.len() + self.pad, 0);
            f
        }
    }

    fn key(packet: &[u8], meta: &PacketMeta, depth: Depth) -> MiniKey {
        let mut k = MiniKey::default();
        let _ = extract_to(packet, meta, &mut k, depth);
        k
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Equal header keys, equal flow keys, at every depth; and the
        /// flags a header key gives are the flow key's.
        #[test]
        fn equal_header_keys_mean_equal_flow_keys((a, b) in pair(), ports in (1u32..3, 1u32..3)) {
            let (a, b) = (a.bytes(), b.bytes());
            let (ma, mb) = (PacketMeta::new(ports.0), PacketMeta::new(ports.1));
            let (Some(ha), Some(hb)) = (HeaderKey::of(&a, &ma), HeaderKey::of(&b, &mb)) else {
                return Err(TestCaseError::fail("a plain packet has a header key"));
            };
            if ha == hb {
                for depth in DEPTHS {
                    prop_assert_eq!(key(&a, &ma, depth), key(&b, &mb, depth));
                }
            } else {
                // Exact, too: no more specific than the flow key.
                prop_assert_ne!(key(&a, &ma, Depth::All), key(&b, &mb, Depth::All));
            }
            let full = key(&a, &ma, Depth::All).expand();
            prop_assert_eq!(u64::from(ha.tcp_flags()), full.get(Field::TCP_FLAGS) as u64);
        }

        /// Changing any byte a header key leaves out leaves the flow key as
        /// it was; changing one it holds changes the flow key.
        #[test]
        fn the_bytes_left_out_do_not_change_the_flow_key(p in plain(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let p = p.bytes();
            let meta = PacketMeta::new(7);
            let before = HeaderKey::of(&p, &meta).expect("plain");
            let mut q = p.clone();
            let at = at.index(q.len());
            q[at] = byte;
            let after = HeaderKey::of(&q, &meta);
            let mut k = MiniKey::default();
            let extracted = extract_to(&q, &meta, &mut k, Depth::All);
            // Not plain any more (no header key): the cache keyed on flow
            // keys handles it.
            if let Some(h) = after {
                prop_assert!(extracted.is_ok(), "a header key, yet extraction failed: {:?}", extracted);
                prop_assert_eq!(h == before, k == key(&p, &meta, Depth::All));
            }
        }

        /// The flow key a header key gives is the one extraction gives.
        #[test]
        fn a_header_key_gives_the_extracted_flow_key(p in plain(), port in any::<u32>()) {
            let p = p.bytes();
            let meta = PacketMeta::new(port);
            let mut k = MiniKey::default();
            HeaderKey::of(&p, &meta).expect("plain").flow_key(&mut k);
            prop_assert_eq!(k.expand(), key(&p, &meta, Depth::All).expand());
            prop_assert!(k == key(&p, &meta, Depth::All));
        }

    }

    /// Whatever the bytes, a header key means the packet extracts whole.
    /// The packets are plain ones with up to three bytes changed anywhere
    /// and their length cut or padded, so that many still have a header
    /// key and many fall just outside (counted: both must be common).
    #[test]
    fn a_header_key_means_a_whole_extraction() {
        use proptest::test_runner::{Config, TestRunner};
        let damaged =
            (plain(), prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4), prop_oneof![Just(0isize), -30isize..30]);
        let (mut keyed, mut not) = (0usize, 0usize);
        let counts = std::cell::RefCell::new((&mut keyed, &mut not));
        let mut runner = TestRunner::new(Config { cases: 4000, failure_persistence: None, ..Config::default() });
        runner
            .run(&damaged, |(p, changes, resize)| {
                let mut p = p.bytes();
                for (at, byte) in changes {
                    let i = at.index(p.len());
                    p[i] = byte;
                }
                let len = (p.len() as isize + resize).max(0) as usize;
                p.resize(len, 0);
                let meta = PacketMeta::new(1);
                let mut c = counts.borrow_mut();
                if HeaderKey::of(&p, &meta).is_none() {
                    *c.1 += 1;
                    return Ok(());
                }
                *c.0 += 1;
                let mut k = MiniKey::default();
                prop_assert!(extract_to(&p, &meta, &mut k, Depth::All).is_ok(), "a header key, but {:02x?} does not extract whole", p);
                Ok(())
            })
            .unwrap();
        println!("{keyed} packets had a header key and extracted whole; {not} had none");
        assert!(keyed >= 400 && not >= 400, "the generator must reach both sides: {keyed} with a header key, {not} without");
    }

    #[test]
    fn only_plain_packets_have_header_keys() {
        let udp = crate::testpkt::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, b"payload");
        let meta = PacketMeta::new(1);
        assert!(HeaderKey::of(&udp, &meta).is_some());
        // Truncated, with IP options, fragmented, tagged, or with more
        // metadata than the port: none.
        assert!(HeaderKey::of(&udp[..41], &meta).is_none());
        let mut options = udp.clone();
        options[14] = 0x46;
        assert!(HeaderKey::of(&options, &meta).is_none());
        let mut fragment = udp.clone();
        fragment[21] = 1;
        assert!(HeaderKey::of(&fragment, &meta).is_none());
        let mut vlan = udp.clone();
        vlan[12..14].copy_from_slice(&[0x81, 0x00]);
        assert!(HeaderKey::of(&vlan, &meta).is_none());
        let mut tunnelled = meta;
        tunnelled.set(Field::TUN_ID, 3);
        assert!(HeaderKey::of(&udp, &tunnelled).is_none());
    }
}
