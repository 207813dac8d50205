//! Actions on packets built by etherparse, checked by re-parsing with it.

use super::*;
use crate::key::{FieldAccess, TUN_F_KEY, TUN_F_OAM};
use crate::testpkt::*;
use crate::tunnel::{TunnelError, TunnelSpec};
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use proptest::prelude::*;

#[derive(Default)]
struct Recorder {
    out: Vec<(u32, Vec<u8>)>,
    slow: Vec<(Vec<u8>, Vec<u8>)>,
    recirc: Vec<(Vec<u8>, PacketMeta)>,
    drops: Vec<DropReason>,
}

impl Datapath<Vec<u8>> for Recorder {
    fn output(&mut self, port: u32, packet: Vec<u8>) {
        self.out.push((port, packet));
    }
    fn userspace(&mut self, packet: Vec<u8>, _meta: &PacketMeta, userdata: &[u8]) {
        self.slow.push((packet, userdata.to_vec()));
    }
    fn recirculate(&mut self, packet: Vec<u8>, meta: PacketMeta) {
        self.recirc.push((packet, meta));
    }
    fn dropped(&mut self, reason: DropReason) {
        self.drops.push(reason);
    }
}

/// Runs `actions` then output to port 1; returns the output bytes.
fn run(packet: Vec<u8>, actions: &[Action]) -> Vec<u8> {
    let mut dp = Recorder::default();
    let mut all = actions.to_vec();
    all.push(Action::Output(1));
    execute(&mut dp, packet, &PacketMeta::new(9), 0, &all);
    assert_eq!(dp.drops, vec![]);
    assert_eq!(dp.out.len(), 1);
    dp.out.remove(0).1
}

/// Checks every checksum of an IPv4 or IPv6 TCP/UDP packet with etherparse.
fn assert_checksums(p: &[u8]) {
    let s = SlicedPacket::from_ethernet(p).unwrap();
    let payload = match &s.transport {
        Some(TransportSlice::Udp(u)) => u.payload(),
        Some(TransportSlice::Tcp(t)) => t.payload(),
        other => panic!("no transport: {other:?}"),
    };
    match (s.net.unwrap(), s.transport.unwrap()) {
        (NetSlice::Ipv4(ip), t) => {
            let h = ip.header().to_header();
            assert_eq!(h.header_checksum, h.calc_header_checksum(), "IPv4 header checksum");
            match t {
                TransportSlice::Udp(u) => assert_eq!(u.checksum(), u.to_header().calc_checksum_ipv4(&h, payload).unwrap()),
                TransportSlice::Tcp(t) => assert_eq!(t.checksum(), t.to_header().calc_checksum_ipv4(&h, payload).unwrap()),
                _ => unreachable!(),
            }
        }
        (NetSlice::Ipv6(ip), t) => {
            let h = ip.header().to_header();
            match t {
                TransportSlice::Udp(u) => assert_eq!(u.checksum(), u.to_header().calc_checksum_ipv6(&h, payload).unwrap()),
                TransportSlice::Tcp(t) => assert_eq!(t.checksum(), t.to_header().calc_checksum_ipv6(&h, payload).unwrap()),
                _ => unreachable!(),
            }
        }
    }
}

fn ipv4(p: &[u8]) -> etherparse::Ipv4Header {
    match SlicedPacket::from_ethernet(p).unwrap().net.unwrap() {
        NetSlice::Ipv4(ip) => ip.header().to_header(),
        NetSlice::Ipv6(_) => panic!("not IPv4"),
    }
}

fn ports(p: &[u8]) -> (u16, u16) {
    match SlicedPacket::from_ethernet(p).unwrap().transport.unwrap() {
        TransportSlice::Udp(u) => (u.source_port(), u.destination_port()),
        TransportSlice::Tcp(t) => (t.source_port(), t.destination_port()),
        _ => panic!("no ports"),
    }
}

#[test]
fn set_ethernet_addresses() {
    let p = run(udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"x"), &[Action::set_eth([2, 0, 0, 0, 0, 0x11], [2, 0, 0, 0, 0, 0x22])]);
    let e = SlicedPacket::from_ethernet(&p).unwrap().link.unwrap().to_header().unwrap().ethernet2().unwrap();
    assert_eq!(e.source, [2, 0, 0, 0, 0, 0x11]);
    assert_eq!(e.destination, [2, 0, 0, 0, 0, 0x22]);
    assert_checksums(&p);
}

#[test]
fn set_ipv4_addresses_updates_ip_and_l4_checksums() {
    for orig in [udp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, b"some payload"), tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 80)] {
        let p = run(orig, &[Action::set_ipv4_src(0xc0a8_0001), Action::set_ipv4_dst(0xc0a8_0002)]);
        let h = ipv4(&p);
        assert_eq!(h.source, [192, 168, 0, 1]);
        assert_eq!(h.destination, [192, 168, 0, 2]);
        assert_checksums(&p);
    }
}

#[test]
fn masked_set_of_tos_ttl_and_address_prefix() {
    let set =
        SetField::Ipv4 { src: 0xac10_0000, src_mask: 0xffff_0000, dst: 0, dst_mask: 0, tos: 0xb8, tos_mask: 0xfc, ttl: 5, ttl_mask: 0xff };
    let p = run(udp4([10, 0, 7, 9], [10, 0, 0, 2], 1, 2, b"x"), &[Action::Set(set)]);
    let h = ipv4(&p);
    assert_eq!(h.source, [172, 16, 7, 9]);
    assert_eq!(h.dscp.value(), 0xb8 >> 2);
    assert_eq!(h.time_to_live, 5);
    assert_checksums(&p);
}

#[test]
fn set_ipv6_addresses_label_and_class() {
    let src = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let new_dst = 0xfd00_0000_0000_0000_0000_0000_0000_0042u128;
    let set = SetField::Ipv6 {
        src: 0,
        src_mask: 0,
        dst: new_dst,
        dst_mask: u128::MAX,
        tclass: 0x28,
        tclass_mask: 0xff,
        label: 0x12345,
        label_mask: 0xfffff,
        hop_limit: 3,
        hop_limit_mask: 0xff,
    };
    for orig in [tcp6(src, [2; 16], 5, 6), udp6(src, [2; 16], 5, 6)] {
        let p = run(orig, &[Action::Set(set)]);
        let NetSlice::Ipv6(ip) = SlicedPacket::from_ethernet(&p).unwrap().net.unwrap() else { panic!() };
        let h = ip.header().to_header();
        assert_eq!(u128::from_be_bytes(h.destination), new_dst);
        assert_eq!(h.source, src);
        assert_eq!(h.traffic_class, 0x28);
        assert_eq!(h.flow_label.value(), 0x12345);
        assert_eq!(h.hop_limit, 3);
        assert_checksums(&p);
    }
}

#[test]
fn set_ports_tcp_udp_and_zero_udp_checksum_stays_zero() {
    for orig in [udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"abc"), tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2), tcp6([1; 16], [2; 16], 1, 2)] {
        let p = run(orig, &[Action::set_ports(40000, 8080)]);
        assert_eq!(ports(&p), (40000, 8080));
        assert_checksums(&p);
    }
    let mut nocsum = udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"abc");
    nocsum[40..42].fill(0);
    let p = run(nocsum, &[Action::set_ports(7, 8)]);
    assert_eq!(&p[40..42], &[0, 0]);
}

#[test]
fn set_sctp_ports_recomputes_crc32c() {
    let mut p = udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"0123456789abcdef");
    p[23] = 132; // protocol SCTP; the "UDP" bytes become the SCTP common header
    crate::wire::Ipv4::new_unchecked(&mut p[14..34]).fill_checksum();
    let p = run(p, &[Action::set_ports(5000, 6000)]);
    assert_eq!((u16::from_be_bytes([p[34], p[35]]), u16::from_be_bytes([p[36], p[37]])), (5000, 6000));
    let stored = u32::from_le_bytes([p[42], p[43], p[44], p[45]]);
    let mut zeroed = p[34..].to_vec();
    zeroed[8..12].fill(0);
    assert_eq!(stored, crate::checksum::crc32c(&zeroed));
    assert_eq!(ipv4(&p).header_checksum, ipv4(&p).calc_header_checksum());
}

#[test]
fn set_on_a_packet_without_the_header_does_nothing() {
    let a = arp(1, MAC_A, [1, 1, 1, 1], [0; 6], [2, 2, 2, 2]);
    assert_eq!(run(a.clone(), &[Action::set_ipv4_src(7), Action::set_ports(1, 1), Action::DecTtl]), a);
}

#[test]
fn push_and_pop_vlan() {
    let orig = udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"abc");
    let tagged = run(orig.clone(), &[Action::PushVlan { tpid: 0x8100, tci: 0x2005 }]);
    let s = SlicedPacket::from_ethernet(&tagged).unwrap();
    let vlan = s.vlan.unwrap();
    let etherparse::VlanSlice::SingleVlan(v) = vlan else { panic!("{vlan:?}") };
    assert_eq!(v.vlan_identifier().value(), 5);
    assert_eq!(v.priority_code_point().value(), 1);
    assert_eq!(ports(&tagged), (1, 2));
    assert_eq!(run(tagged, &[Action::PopVlan]), orig);
    assert_eq!(run(orig.clone(), &[Action::PopVlan]), orig, "pop on untagged is a no-op");
}

#[test]
fn dec_ttl_and_expiry() {
    let p = run(udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"x"), &[Action::DecTtl]);
    assert_eq!(ipv4(&p).time_to_live, 63);
    assert_checksums(&p);
    let p6 = run(udp6([1; 16], [2; 16], 1, 2), &[Action::DecTtl]);
    assert_eq!(p6[14 + 7], 31);
    let mut dying = udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"x");
    dying[22] = 1;
    let mut dp = Recorder::default();
    execute(&mut dp, dying, &PacketMeta::default(), 0, &[Action::DecTtl, Action::Output(1)]);
    assert_eq!(dp.drops, vec![DropReason::TtlExpired]);
    assert!(dp.out.is_empty());
}

#[test]
fn outputs_copy_until_the_last_and_clone_isolates() {
    let orig = udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"x");
    let mut dp = Recorder::default();
    let nested: Arc<[Action]> = Arc::from(vec![Action::set_ipv4_dst(0x0909_0909), Action::Output(3)]);
    let actions = [Action::Output(1), Action::Clone(nested), Action::Output(2)];
    execute(&mut dp, orig.clone(), &PacketMeta::default(), 0, &actions);
    assert_eq!(dp.out.len(), 3);
    assert_eq!(dp.out[0], (1, orig.clone()));
    assert_eq!(dp.out[1].0, 3);
    assert_eq!(ipv4(&dp.out[1].1).destination, [9, 9, 9, 9]);
    assert_eq!(dp.out[2], (2, orig));
}

#[test]
fn drop_userspace_and_recirculate() {
    let p = udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"x");
    let mut dp = Recorder::default();
    execute(&mut dp, p.clone(), &PacketMeta::default(), 0, &[]);
    execute(&mut dp, p.clone(), &PacketMeta::default(), 0, &[Action::Output(1), Action::Drop]);
    assert_eq!(dp.drops, vec![DropReason::Actions, DropReason::Actions]);
    assert_eq!(dp.out.len(), 1);
    execute(&mut dp, p.clone(), &PacketMeta::new(4), 0, &[Action::Userspace(Arc::from(&b"cookie"[..])), Action::Recirculate(77)]);
    assert_eq!(dp.slow, vec![(p.clone(), b"cookie".to_vec())]);
    assert_eq!(dp.recirc.len(), 1);
    assert_eq!(dp.recirc[0].1.get(Field::RECIRC_ID), 77);
    assert_eq!(dp.recirc[0].1.in_port(), 4);
}

fn spec(kind: TunnelKind, options: Vec<u8>) -> TunnelSpec {
    let spec = TunnelSpec::new(kind, ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]), (0xc0a8_0101, 0xc0a8_0102), 0x1234);
    TunnelSpec { geneve_options: options, ..spec }
}

#[test]
fn tunnel_push_builds_valid_outer_headers_and_pop_restores() {
    // OVN's Geneve option: class 0x0102, type 0x80, 4 bytes of data.
    let ovn_option = vec![0x01, 0x02, 0x80, 0x01, 0, 0x01, 0, 0x02];
    for (kind, options) in [(TunnelKind::Vxlan, vec![]), (TunnelKind::Geneve, vec![]), (TunnelKind::Geneve, ovn_option.clone())] {
        let inner = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1111, 80);
        let header = Arc::new(TunnelHeader::new(&spec(kind, options.clone())).unwrap());
        let outer = run(inner.clone(), &[Action::TunnelPush(header)]);
        let h = ipv4(&outer);
        assert_eq!(h.header_checksum, h.calc_header_checksum());
        assert_eq!(usize::from(h.total_len), outer.len() - 14);
        assert!(h.dont_fragment);
        let s = SlicedPacket::from_ethernet(&outer).unwrap();
        let Some(TransportSlice::Udp(u)) = s.transport else { panic!("outer is not UDP") };
        assert_eq!(u.destination_port(), if kind == TunnelKind::Vxlan { 4789 } else { 6081 });
        assert!(u.source_port() >= 32768);
        assert_eq!(usize::from(u.length()), outer.len() - 34);
        assert_eq!(&outer[outer.len() - inner.len()..], &inner[..]);

        let mut dp = Recorder::default();
        execute(&mut dp, outer, &PacketMeta::new(1), 0, &[Action::TunnelPop { kind, in_port: 5 }]);
        assert_eq!(dp.drops, vec![]);
        let (popped, meta) = dp.recirc.remove(0);
        assert_eq!(popped, inner);
        assert_eq!(meta.in_port(), 5);
        assert_eq!(meta.get(Field::TUN_ID), 0x1234);
        assert_eq!(meta.get(Field::TUN_SRC), 0xc0a8_0101);
        assert_eq!(meta.get(Field::TUN_DST), 0xc0a8_0102);
        assert_eq!(meta.get(Field::TUN_TTL), 64);
        assert_eq!(meta.get(Field::TUN_FLAGS) as u8 & TUN_F_KEY, TUN_F_KEY);
        assert_eq!(meta.tunnel_options(), options);
        // The tunnel metadata reaches the inner packet's key.
        let (key, m) = crate::extract(&popped, &meta);
        assert_eq!(m, None);
        let key = key.expand();
        assert_eq!(key.get(Field::TUN_ID), 0x1234);
        assert_eq!(key.get(Field::TP_DST), 80);
    }
}

#[test]
fn tunnel_pop_refuses_what_is_not_its_tunnel() {
    let mut dp = Recorder::default();
    let plain = udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 4789, b"short");
    execute(&mut dp, plain, &PacketMeta::default(), 0, &[Action::TunnelPop { kind: TunnelKind::Vxlan, in_port: 5 }]);
    let header = Arc::new(TunnelHeader::new(&spec(TunnelKind::Geneve, vec![])).unwrap());
    let mut geneve = run(tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2), &[Action::TunnelPush(header)]);
    geneve[42] = 0x40; // version 1
    execute(&mut dp, geneve, &PacketMeta::default(), 0, &[Action::TunnelPop { kind: TunnelKind::Geneve, in_port: 5 }]);
    assert_eq!(dp.drops, vec![DropReason::NotTunnel, DropReason::NotTunnel]);
    assert!(dp.recirc.is_empty());
}

#[test]
fn geneve_oam_bit_and_spec_errors() {
    let header = Arc::new(TunnelHeader::new(&spec(TunnelKind::Geneve, vec![])).unwrap());
    let mut outer = run(udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"x"), &[Action::TunnelPush(header)]);
    outer[43] |= 0x80;
    let mut dp = Recorder::default();
    execute(&mut dp, outer, &PacketMeta::default(), 0, &[Action::TunnelPop { kind: TunnelKind::Geneve, in_port: 1 }]);
    assert_eq!(dp.recirc[0].1.get(Field::TUN_FLAGS) as u8 & TUN_F_OAM, TUN_F_OAM);

    let mut s = spec(TunnelKind::Vxlan, vec![]);
    s.vni = 1 << 24;
    assert_eq!(TunnelHeader::new(&s), Err(TunnelError::Vni(1 << 24)));
    assert_eq!(TunnelHeader::new(&spec(TunnelKind::Vxlan, vec![0; 4])), Err(TunnelError::Options(4)));
    assert_eq!(TunnelHeader::new(&spec(TunnelKind::Geneve, vec![0; 6])), Err(TunnelError::Options(6)));
}

fn any_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        any::<u32>().prop_map(Action::Output),
        Just(Action::Drop),
        (any::<[u8; 6]>(), any::<[u8; 6]>()).prop_map(|(a, b)| Action::set_eth(a, b)),
        any::<u32>().prop_map(Action::set_ipv4_src),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Action::set_ports(a, b)),
        (any::<u128>(), any::<u32>()).prop_map(|(a, l)| Action::Set(SetField::Ipv6 {
            src: a,
            src_mask: u128::MAX,
            dst: 0,
            dst_mask: 0,
            tclass: 0,
            tclass_mask: 0,
            label: l,
            label_mask: l,
            hop_limit: 1,
            hop_limit_mask: 1
        })),
        any::<u16>().prop_map(|tci| Action::PushVlan { tpid: 0x8100, tci }),
        Just(Action::PopVlan),
        Just(Action::DecTtl),
        Just(Action::TunnelPop { kind: TunnelKind::Geneve, in_port: 1 }),
        Just(Action::TunnelPop { kind: TunnelKind::Vxlan, in_port: 1 }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any action list on any bytes (raw, or a real packet with a corrupted
    /// byte) never panics.
    #[test]
    fn actions_never_panic_on_any_bytes(
        raw in prop::collection::vec(any::<u8>(), 0..120),
        kind in 0..4u8,
        at: prop::sample::Index,
        value: u8,
        actions in prop::collection::vec(any_action(), 0..6),
    ) {
        let mut packet = match kind {
            0 => raw,
            1 => tcp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2),
            2 => tcp6([1; 16], [2; 16], 3, 4),
            _ => vlan_udp4(1, Some(2)),
        };
        if !packet.is_empty() {
            let i = at.index(packet.len());
            packet[i] = value;
        }
        let mut dp = Recorder::default();
        execute(&mut dp, packet, &PacketMeta::default(), 0, &actions);
    }
}

#[test]
fn check_pkt_len_takes_one_branch_by_length_and_nothing_after_it() {
    let branch = |size| Action::CheckPktLen {
        size,
        greater: Arc::from(vec![Action::PopVlan, Action::Output(2)]),
        less_equal: Arc::from(vec![Action::Output(3)]),
    };
    for (len, size, port) in [(100usize, 99u16, 2u32), (100, 100, 3), (100, 101, 3), (60, 0, 2)] {
        let mut dp = Recorder::default();
        execute(&mut dp, vec![0u8; len], &PacketMeta::new(1), 0, &[Action::Output(7), branch(size), Action::Output(4)]);
        let ports: Vec<u32> = dp.out.iter().map(|o| o.0).collect();
        assert_eq!(ports, vec![7, port], "a {len}-byte packet against size={size}");
    }
}
