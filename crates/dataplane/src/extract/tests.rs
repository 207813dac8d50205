use super::*;
use crate::key::{mac_to_u64, Field, FieldAccess, FlowKey, KEY_WORDS};
use crate::testpkt::*;
use proptest::prelude::*;

fn key_of(packet: &[u8]) -> (FlowKey, Option<Malformed>) {
    let (k, m) = extract(packet, &PacketMeta::new(7));
    (k.expand(), m)
}

#[test]
fn udp_over_ipv4() {
    let (k, m) = key_of(&udp4([10, 0, 0, 1], [10, 0, 0, 2], 1234, 53, b"query"));
    assert_eq!(m, None);
    assert_eq!(k.get(Field::IN_PORT), 7);
    assert_eq!(k.get(Field::ETH_SRC), u128::from(mac_to_u64(MAC_A)));
    assert_eq!(k.get(Field::ETH_DST), u128::from(mac_to_u64(MAC_B)));
    assert_eq!(k.get(Field::ETH_TYPE), 0x0800);
    assert_eq!(k.get(Field::NW_SRC), 0x0a00_0001);
    assert_eq!(k.get(Field::NW_DST), 0x0a00_0002);
    assert_eq!(k.get(Field::NW_PROTO), 17);
    assert_eq!(k.get(Field::NW_TTL), 64);
    assert_eq!(k.get(Field::NW_FRAG), 0);
    assert_eq!(k.get(Field::TP_SRC), 1234);
    assert_eq!(k.get(Field::TP_DST), 53);
    assert_eq!(k.get(Field::VLAN0_TPID), 0);
}

#[test]
fn tcp_flags_over_ipv4_and_ipv6() {
    let (k, _) = key_of(&tcp4([1, 1, 1, 1], [2, 2, 2, 2], 80, 443));
    assert_eq!(k.get(Field::TCP_FLAGS), 0x012); // SYN|ACK
    let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let (k, m) = key_of(&tcp6(src, dst, 5000, 22));
    assert_eq!(m, None);
    assert_eq!(k.get(Field::ETH_TYPE), 0x86dd);
    assert_eq!(k.get(Field::IPV6_SRC), u128::from_be_bytes(src));
    assert_eq!(k.get(Field::IPV6_DST), u128::from_be_bytes(dst));
    assert_eq!(k.get(Field::NW_PROTO), 6);
    assert_eq!(k.get(Field::NW_TTL), 32);
    assert_eq!(k.get(Field::TCP_FLAGS), 0x001); // FIN
    assert_eq!((k.get(Field::TP_SRC), k.get(Field::TP_DST)), (5000, 22));
}

#[test]
fn one_and_two_vlan_tags() {
    let (k, _) = key_of(&vlan_udp4(100, None));
    assert_eq!(k.get(Field::VLAN0_TPID), 0x8100);
    assert_eq!(k.get(Field::VLAN0_TCI), 100);
    assert_eq!(k.get(Field::VLAN1_TPID), 0);
    assert_eq!(k.get(Field::ETH_TYPE), 0x0800);
    assert_eq!(k.get(Field::TP_DST), 2);
    let (k, _) = key_of(&vlan_udp4(10, Some(20)));
    assert_eq!(k.get(Field::VLAN0_TPID), 0x88a8);
    assert_eq!(k.get(Field::VLAN0_TCI), 10);
    assert_eq!(k.get(Field::VLAN1_TPID), 0x8100);
    assert_eq!(k.get(Field::VLAN1_TCI), 20);
    assert_eq!(k.get(Field::NW_SRC), 0x0101_0101);
}

#[test]
fn the_top_mpls_label_stack_entry_and_nothing_past_the_stack() {
    let mut packet = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1234, 53, b"query");
    // Ethertype 0x8847, then one entry: label 0x12345, TC 5, bottom of
    // stack, TTL 64; the IPv4 packet after it stays unparsed.
    packet[12..14].copy_from_slice(&[0x88, 0x47]);
    let lse = 0x12345u32 << 12 | 5 << 9 | 1 << 8 | 64;
    packet.splice(14..14, lse.to_be_bytes());
    let (k, m) = key_of(&packet);
    assert_eq!(m, None);
    assert_eq!(k.get(Field::ETH_TYPE), 0x8847);
    assert_eq!(k.get(Field::MPLS_LSE), u128::from(lse));
    assert_eq!(k.get(Field::NW_SRC), 0);
    // A cut-off entry is absent, not an error (as OVS).
    let (k, m) = key_of(&packet[..16]);
    assert_eq!((m, k.get(Field::MPLS_LSE)), (None, 0));
}

#[test]
fn arp_fields() {
    let (k, m) = key_of(&arp(1, MAC_A, [10, 0, 0, 1], [0; 6], [10, 0, 0, 9]));
    assert_eq!(m, None);
    assert_eq!(k.get(Field::ETH_TYPE), 0x0806);
    assert_eq!(k.get(Field::NW_PROTO), 1);
    assert_eq!(k.get(Field::NW_SRC), 0x0a00_0001);
    assert_eq!(k.get(Field::NW_DST), 0x0a00_0009);
    assert_eq!(k.get(Field::ARP_SHA), u128::from(mac_to_u64(MAC_A)));
    assert_eq!(k.get(Field::ARP_THA), 0);
    let mut bad = arp(1, MAC_A, [10, 0, 0, 1], [0; 6], [10, 0, 0, 9]);
    bad[14 + 4] = 8; // hardware address length 8
    assert_eq!(key_of(&bad).1, Some(Malformed::Arp));
}

#[test]
fn icmp_type_and_code_and_neighbour_discovery() {
    let (k, _) = key_of(&icmp4(8, 0));
    assert_eq!((k.get(Field::TP_SRC), k.get(Field::TP_DST)), (8, 0));
    let target = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99];
    let (k, m) = key_of(&nd_solicit(target, MAC_A));
    assert_eq!(m, None);
    assert_eq!(k.get(Field::NW_PROTO), 58);
    assert_eq!(k.get(Field::TP_SRC), 135);
    assert_eq!(k.get(Field::ND_TARGET), u128::from_be_bytes(target));
    assert_eq!(k.get(Field::ARP_SHA), u128::from(mac_to_u64(MAC_A)));
    // An option of length zero is malformed; the ND fields stay zero.
    let mut bad = nd_solicit(target, MAC_A);
    let opt_len_at = bad.len() - 7;
    bad[opt_len_at] = 0;
    let (k, m) = key_of(&bad);
    assert_eq!(m, Some(Malformed::NeighbourDiscovery));
    assert_eq!(k.get(Field::ND_TARGET), 0);
    assert_eq!(k.get(Field::TP_SRC), 135);
}

/// Sets the IPv4 header's fragment field and fixes the checksum.
fn set_frag(p: &mut [u8], frag: u16) {
    p[20..22].copy_from_slice(&frag.to_be_bytes());
    crate::wire::Ipv4::new_unchecked(&mut p[14..34]).fill_checksum();
}

#[test]
fn ipv4_fragments() {
    let mut p = udp4([1, 1, 1, 1], [2, 2, 2, 2], 7, 8, b"abc");
    set_frag(&mut p, 0x2000); // first fragment: MF set, offset 0
    let (k, _) = key_of(&p);
    assert_eq!(k.get(Field::NW_FRAG), u128::from(FRAG_ANY));
    assert_eq!(k.get(Field::TP_DST), 8);
    set_frag(&mut p, 0x0010); // later fragment: no L4
    let (k, m) = key_of(&p);
    assert_eq!(m, None);
    assert_eq!(k.get(Field::NW_FRAG), u128::from(FRAG_ANY | FRAG_LATER));
    assert_eq!(k.get(Field::TP_DST), 0);
}

#[test]
fn ipv4_options_are_skipped() {
    let p = udp4([1, 1, 1, 1], [2, 2, 2, 2], 7, 8, b"abc");
    // Insert 4 bytes of options (NOP NOP NOP EOL) and fix lengths.
    let mut q = p[..34].to_vec();
    q.extend_from_slice(&[1, 1, 1, 0]);
    q.extend_from_slice(&p[34..]);
    q[14] = 0x46;
    let total = u16::from_be_bytes([q[16], q[17]]) + 4;
    q[16..18].copy_from_slice(&total.to_be_bytes());
    crate::wire::Ipv4::new_unchecked(&mut q[14..38]).fill_checksum();
    let (k, m) = key_of(&q);
    assert_eq!(m, None);
    assert_eq!((k.get(Field::TP_SRC), k.get(Field::TP_DST)), (7, 8));
}

#[test]
fn ipv6_extension_headers_and_fragments() {
    let p = udp6([1; 16], [2; 16], 10, 20);
    // Hop-by-hop (8 bytes) then a fragment header, then UDP.
    let mut q = p[..54].to_vec();
    q[20] = 0; // next header: hop-by-hop
    q.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // hbh: next=fragment, PadN
    q.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 1]); // fragment: offset 0, M=1
    q.extend_from_slice(&p[54..]);
    let plen = u16::from_be_bytes([q[18], q[19]]) + 16;
    q[18..20].copy_from_slice(&plen.to_be_bytes());
    let (k, m) = key_of(&q);
    assert_eq!(m, None);
    assert_eq!(k.get(Field::NW_PROTO), 17);
    assert_eq!(k.get(Field::NW_FRAG), u128::from(FRAG_ANY));
    assert_eq!((k.get(Field::TP_SRC), k.get(Field::TP_DST)), (10, 20));
    // A later fragment: no L4.
    q[62 + 2..62 + 4].copy_from_slice(&0x0008u16.to_be_bytes());
    let (k, _) = key_of(&q);
    assert_eq!(k.get(Field::NW_FRAG), u128::from(FRAG_ANY | FRAG_LATER));
    assert_eq!(k.get(Field::TP_SRC), 0);
    // An extension header running past the payload.
    q[55] = 200;
    assert_eq!(key_of(&q).1, Some(Malformed::Ipv6Extension));
}

#[test]
fn truncations_keep_what_parsed_and_say_why() {
    let p = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 80, 443);
    assert_eq!(key_of(&p[..10]).1, Some(Malformed::Ethernet));
    let (k, m) = key_of(&p[..20]);
    assert_eq!(m, Some(Malformed::Ipv4));
    assert_eq!(k.get(Field::ETH_TYPE), 0x0800);
    assert_eq!(k.get(Field::IN_PORT), 7);
    // Cut inside TCP: the IPv4 total length now exceeds the packet.
    assert_eq!(key_of(&p[..40]).1, Some(Malformed::Ipv4));
    let v = vlan_udp4(5, None);
    assert_eq!(key_of(&v[..16]).1, Some(Malformed::Vlan));
    // A UDP datagram whose IP length leaves no room for the UDP header.
    let mut u = udp4([1, 1, 1, 1], [2, 2, 2, 2], 7, 8, b"");
    u[16..18].copy_from_slice(&24u16.to_be_bytes());
    crate::wire::Ipv4::new_unchecked(&mut u[14..34]).fill_checksum();
    let (k, m) = key_of(&u);
    assert_eq!(m, Some(Malformed::Transport));
    assert_eq!(k.get(Field::NW_PROTO), 17);
}

#[test]
fn llc_snap_and_plain_802_3() {
    let mut p = vec![0u8; 12];
    p.extend_from_slice(&100u16.to_be_bytes());
    p.extend_from_slice(&[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]);
    assert_eq!(key_of(&p).0.get(Field::ETH_TYPE), u128::from(ethertype::NONE));
    p[14..22].copy_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06]);
    assert_eq!(key_of(&p).0.get(Field::ETH_TYPE), 0x0806);
}

#[test]
fn counters_add_up() {
    let mut c = MalformedCounters::default();
    for p in [&[0u8; 3][..], &[0u8; 5][..]] {
        if let (_, Some(m)) = extract(p, &PacketMeta::default()) {
            c.count(m);
        }
    }
    c.count(Malformed::Transport);
    assert_eq!(c.get(Malformed::Ethernet), 2);
    assert_eq!(c.total(), 3);
    let mut d = MalformedCounters::default();
    d.add(&c);
    assert_eq!(d, c);
}

#[test]
fn metadata_words_come_first_and_survive() {
    let mut meta = PacketMeta::new(3);
    meta.set(Field::TUN_ID, 42);
    meta.set(Field::reg(5).unwrap(), 9);
    let (k, _) = extract(&udp4([1, 1, 1, 1], [2, 2, 2, 2], 7, 8, b""), &meta);
    let k = k.expand();
    assert_eq!(k.get(Field::TUN_ID), 42);
    assert_eq!(k.get(Field::reg(5).unwrap()), 9);
    assert_eq!(k.get(Field::TP_DST), 8);
}

/// The key of a packet as an independent parser sees it (the fields
/// etherparse exposes).
fn reference(p: &[u8]) -> Option<(u128, u128, u8, u16, u16)> {
    let s = etherparse::SlicedPacket::from_ethernet(p).ok()?;
    let (src, dst, proto) = match s.net? {
        etherparse::NetSlice::Ipv4(ip) => {
            let h = ip.header();
            (u128::from(u32::from_be_bytes(h.source())), u128::from(u32::from_be_bytes(h.destination())), h.protocol().0)
        }
        etherparse::NetSlice::Ipv6(ip) => {
            let h = ip.header();
            (u128::from_be_bytes(h.source()), u128::from_be_bytes(h.destination()), ip.payload().ip_number.0)
        }
    };
    let (sp, dp) = match s.transport? {
        etherparse::TransportSlice::Udp(u) => (u.source_port(), u.destination_port()),
        etherparse::TransportSlice::Tcp(t) => (t.source_port(), t.destination_port()),
        _ => return None,
    };
    Some((src, dst, proto, sp, dp))
}

fn ours(p: &[u8]) -> (u128, u128, u8, u16, u16) {
    let (k, m) = key_of(p);
    assert_eq!(m, None);
    let (src, dst) = if k.get(Field::ETH_TYPE) == 0x0800 {
        (k.get(Field::NW_SRC), k.get(Field::NW_DST))
    } else {
        (k.get(Field::IPV6_SRC), k.get(Field::IPV6_DST))
    };
    (src, dst, k.get(Field::NW_PROTO) as u8, k.get(Field::TP_SRC) as u16, k.get(Field::TP_DST) as u16)
}

/// One of six well-formed packets of different kinds.
fn sample(kind: u8) -> Vec<u8> {
    match kind {
        0 => tcp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2),
        1 => tcp6([1; 16], [2; 16], 3, 4),
        2 => vlan_udp4(3, Some(4)),
        3 => nd_solicit([7; 16], MAC_A),
        4 => arp(2, MAC_A, [1, 1, 1, 1], MAC_B, [2, 2, 2, 2]),
        _ => icmp4(3, 1),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes, with arbitrary metadata, never panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), port: u32, reg: u32) {
        let mut meta = PacketMeta::new(port);
        meta.set(Field::reg(0).unwrap(), reg.into());
        let (k, _) = extract(&bytes, &meta);
        prop_assert_eq!(k.get(Field::IN_PORT), u128::from(port));
    }

    /// Valid packets with a random byte corrupted, or cut short, never panic.
    #[test]
    fn corrupted_packets_never_panic(kind in 0..6u8, at: prop::sample::Index, value: u8, cut: prop::sample::Index) {
        let mut p = sample(kind);
        let i = at.index(p.len());
        p[i] = value;
        let n = cut.index(p.len() + 1);
        let _ = extract(&p[..n], &PacketMeta::default());
    }

    /// A key extracted to a depth holds exactly the whole key's words up
    /// to that depth, for valid and corrupted packets alike.
    #[test]
    fn shallow_keys_are_prefixes_of_the_whole_key(kind in 0..6u8, at: prop::sample::Index, value: u8, corrupt: bool) {
        let mut p = sample(kind);
        if corrupt {
            let i = at.index(p.len());
            p[i] = value;
        }
        let meta = PacketMeta::new(7);
        let (whole, _) = extract(&p, &meta);
        for depth in [Depth::Meta, Depth::L2, Depth::L3, Depth::All] {
            let mut k = MiniKey::default();
            let _ = extract_to(&p, &meta, &mut k, depth);
            for w in 0..KEY_WORDS {
                let bit = 1u64 << w;
                if Depth::covering(bit) <= depth {
                    prop_assert_eq!(k.map() & bit, whole.map() & bit, "word {} at {:?}", w, depth);
                    prop_assert_eq!(k.word(w), whole.word(w));
                } else {
                    prop_assert_eq!(k.map() & bit, 0, "word {} past {:?}", w, depth);
                }
            }
        }
    }

    /// Our key agrees with etherparse on addresses, protocol and ports.
    #[test]
    fn agrees_with_etherparse(v6: bool, tcp: bool, a: [u8; 16], b: [u8; 16], sp: u16, dp: u16) {
        let p = match (v6, tcp) {
            (false, false) => udp4([a[0], a[1], a[2], a[3]], [b[0], b[1], b[2], b[3]], sp, dp, b"x"),
            (false, true) => tcp4([a[0], a[1], a[2], a[3]], [b[0], b[1], b[2], b[3]], sp, dp),
            (true, false) => udp6(a, b, sp, dp),
            (true, true) => tcp6(a, b, sp, dp),
        };
        prop_assert_eq!(Some(ours(&p)), reference(&p));
    }
}

/// The fuzz corpus holds real, well-formed packets (after the four bytes
/// of port): each extracts without a malformation and with L3 parsed.
#[test]
fn fuzz_seeds_are_well_formed_packets() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/extract");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let (key, m) = extract(&bytes[4..], &PacketMeta::new(1));
        assert_eq!(m, None, "{}", path.display());
        assert_ne!(key.expand().get(Field::ETH_TYPE), 0, "{}", path.display());
        n += 1;
    }
    assert!(n >= 10, "only {n} seeds in {}", dir.display());
}
