//! Test packets built with `etherparse`, an independent implementation.

use etherparse::{PacketBuilder, VlanId};

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

pub fn vlan(id: u16) -> VlanId {
    VlanId::try_new(id).unwrap()
}

pub fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B).ipv4(src, dst, 64).udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

pub fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B).ipv4(src, dst, 64).tcp(sport, dport, 1000, 512).syn().ack(7);
    let mut v = Vec::new();
    b.write(&mut v, b"hello").unwrap();
    v
}

pub fn tcp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B).ipv6(src, dst, 32).tcp(sport, dport, 1, 100).fin();
    let mut v = Vec::new();
    b.write(&mut v, b"payload").unwrap();
    v
}

pub fn udp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B).ipv6(src, dst, 32).udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, b"payload").unwrap();
    v
}

pub fn vlan_udp4(outer: u16, inner: Option<u16>) -> Vec<u8> {
    let mut v = Vec::new();
    match inner {
        None => PacketBuilder::ethernet2(MAC_A, MAC_B)
            .single_vlan(vlan(outer))
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9)
            .udp(1, 2)
            .write(&mut v, b"x"),
        Some(i) => PacketBuilder::ethernet2(MAC_A, MAC_B)
            .double_vlan(vlan(outer), vlan(i))
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9)
            .udp(1, 2)
            .write(&mut v, b"x"),
    }
    .unwrap();
    v
}

pub fn icmp4(ty: u8, code: u8) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B).ipv4([1, 2, 3, 4], [5, 6, 7, 8], 64).icmpv4_raw(ty, code, [0; 4]);
    let mut v = Vec::new();
    b.write(&mut v, b"ping").unwrap();
    v
}

/// Neighbour solicitation for `target` with a source link-layer address option.
pub fn nd_solicit(target: [u8; 16], sll: [u8; 6]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&target);
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(&sll);
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], target, 255)
        .icmpv6_raw(135, 0, [0; 4]);
    let mut v = Vec::new();
    b.write(&mut v, &body).unwrap();
    v
}

/// An Ethernet/IPv4 ARP packet.
pub fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&[0xff; 6]);
    v.extend_from_slice(&sha);
    v.extend_from_slice(&0x0806u16.to_be_bytes());
    v.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&sha);
    v.extend_from_slice(&spa);
    v.extend_from_slice(&tha);
    v.extend_from_slice(&tpa);
    v
}
