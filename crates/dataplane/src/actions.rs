//! Datapath actions and their execution on a packet buffer.
//!
//! A megaflow's actions are a list executed in order on one packet.
//! Actions that hand the packet on (`Output`, `Userspace`, `Recirculate`,
//! `TunnelPop`) take it when they are the last action, and a copy
//! otherwise; a list that ends without handing the packet on drops it.
//! Nothing here allocates except copies (`Clone`, non-final outputs) and
//! the growth of a `Vec<u8>` buffer; an mbuf buffer prepends into its
//! headroom.
//!
//! Set actions rewrite header fields and update every checksum that covers
//! them incrementally (IPv4 header, TCP, UDP unless its checksum is zero,
//! ICMPv6 pseudo-header); SCTP's CRC32-C is recomputed. A set action whose
//! header the packet lacks does nothing, as in OVS.
//!
//! # Extension point: connection tracking
//!
//! Conntrack is not implemented (a later issue). It will be a `Ct` variant
//! of [`Action`] executed through a [`Datapath`] method that owns the
//! connection table and returns the new `ct_state`/`ct_zone`/`ct_mark`/
//! `ct_label` metadata, followed by `Recirculate`. Until then no `ct`
//! action exists, and translation must refuse flows that need one rather
//! than pretend.

use std::fmt;
use std::sync::Arc;

use crate::checksum::{crc32c, update128, update16, update32};
use crate::key::{Field, PacketMeta};
use crate::packet::Layers;
pub use crate::packet::{DropReason, PacketBuf};
use crate::tunnel::{self, TunnelHeader, TunnelKind};
use crate::wire::{ethertype, proto, read_be16, Icmp, Ipv4, Ipv6, Sctp, Tcp, Udp, ETH_LEN, VLAN_LEN};

/// Where executed packets go: implemented by the PMD thread (ports,
/// upcall queue, recirculation) and by tests.
pub trait Datapath<P: PacketBuf> {
    /// Sends `packet` to datapath port `port`.
    fn output(&mut self, port: u32, packet: P);
    /// Passes `packet` to the slow path with `userdata`.
    fn userspace(&mut self, packet: P, meta: &PacketMeta, userdata: &[u8]);
    /// Feeds `packet` through the datapath again with `meta`.
    fn recirculate(&mut self, packet: P, meta: PacketMeta);
    /// Counts a packet dropped for `reason` (the packet itself is freed by
    /// dropping it).
    fn dropped(&mut self, reason: DropReason);
}

/// A masked rewrite of header fields: `field = (field & !mask) | (value & mask)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetField {
    /// Ethernet addresses.
    Ethernet {
        /// Source address.
        src: [u8; 6],
        /// Bits of the source to write.
        src_mask: [u8; 6],
        /// Destination address.
        dst: [u8; 6],
        /// Bits of the destination to write.
        dst_mask: [u8; 6],
    },
    /// IPv4 header fields.
    Ipv4 {
        /// Source address.
        src: u32,
        /// Bits of the source to write.
        src_mask: u32,
        /// Destination address.
        dst: u32,
        /// Bits of the destination to write.
        dst_mask: u32,
        /// TOS byte.
        tos: u8,
        /// Bits of the TOS to write.
        tos_mask: u8,
        /// TTL.
        ttl: u8,
        /// Bits of the TTL to write.
        ttl_mask: u8,
    },
    /// IPv6 header fields.
    Ipv6 {
        /// Source address.
        src: u128,
        /// Bits of the source to write.
        src_mask: u128,
        /// Destination address.
        dst: u128,
        /// Bits of the destination to write.
        dst_mask: u128,
        /// Traffic class.
        tclass: u8,
        /// Bits of the traffic class to write.
        tclass_mask: u8,
        /// Flow label (20 bits).
        label: u32,
        /// Bits of the label to write.
        label_mask: u32,
        /// Hop limit.
        hop_limit: u8,
        /// Bits of the hop limit to write.
        hop_limit_mask: u8,
    },
    /// TCP, UDP or SCTP ports (whichever the packet carries).
    Transport {
        /// Source port.
        src: u16,
        /// Bits of the source port to write.
        src_mask: u16,
        /// Destination port.
        dst: u16,
        /// Bits of the destination port to write.
        dst_mask: u16,
    },
}

impl fmt::Debug for SetField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetField::Ethernet { src, src_mask, dst, dst_mask } => {
                write!(f, "eth(src={src:02x?}/{src_mask:02x?},dst={dst:02x?}/{dst_mask:02x?})")
            }
            SetField::Ipv4 { src, src_mask, dst, dst_mask, tos, tos_mask, ttl, ttl_mask } => write!(
                f,
                "ipv4(src={}/{},dst={}/{},tos={tos:#x}/{tos_mask:#x},ttl={ttl}/{ttl_mask:#x})",
                std::net::Ipv4Addr::from(*src),
                std::net::Ipv4Addr::from(*src_mask),
                std::net::Ipv4Addr::from(*dst),
                std::net::Ipv4Addr::from(*dst_mask)
            ),
            SetField::Ipv6 { src, src_mask, dst, dst_mask, tclass, tclass_mask, label, label_mask, hop_limit, hop_limit_mask } => write!(
                f,
                "ipv6(src={}/{},dst={}/{},tclass={tclass:#x}/{tclass_mask:#x},label={label:#x}/{label_mask:#x},hlimit={hop_limit}/{hop_limit_mask:#x})",
                std::net::Ipv6Addr::from(*src),
                std::net::Ipv6Addr::from(*src_mask),
                std::net::Ipv6Addr::from(*dst),
                std::net::Ipv6Addr::from(*dst_mask)
            ),
            SetField::Transport { src, src_mask, dst, dst_mask } => write!(f, "l4(src={src}/{src_mask:#x},dst={dst}/{dst_mask:#x})"),
        }
    }
}

/// One datapath action.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send to a datapath port.
    Output(u32),
    /// Drop the packet (counted).
    Drop,
    /// Drop the packet because its translation failed (counted apart,
    /// under [`DropReason::XlateError`]).
    DropXlateError,
    /// Send to the slow path with opaque user data.
    Userspace(Arc<[u8]>),
    /// Rewrite header fields.
    Set(SetField),
    /// Push a VLAN tag.
    PushVlan {
        /// Tag protocol identifier (0x8100 or 0x88a8).
        tpid: u16,
        /// Tag control information.
        tci: u16,
    },
    /// Remove the outer VLAN tag (nothing when untagged).
    PopVlan,
    /// Decrement the IPv4 TTL / IPv6 hop limit; drop when it would reach 0.
    DecTtl,
    /// Feed the packet through the datapath again with this recirculation id.
    Recirculate(u32),
    /// Encapsulate with a prebuilt outer header.
    TunnelPush(Arc<TunnelHeader>),
    /// Decapsulate a tunnel packet and recirculate it as received on `in_port`.
    TunnelPop {
        /// The tunnel's encapsulation.
        kind: TunnelKind,
        /// The tunnel port the inner packet is received on.
        in_port: u32,
    },
    /// Execute the nested actions on a copy of the packet.
    Clone(Arc<[Action]>),
    /// Rate-limit through a meter: the packet goes on only if it passes.
    Meter(Arc<crate::meter::Meter>),
    /// Go on with `greater` if the packet is longer than `size` bytes
    /// (Ethernet header included), else with `less_equal`; the actions
    /// after this one never run (OVS's `check_pkt_len`).
    CheckPktLen {
        /// The length compared with.
        size: u16,
        /// Actions for a longer packet.
        greater: Arc<[Action]>,
        /// Actions for a packet of at most `size` bytes.
        less_equal: Arc<[Action]>,
    },
}

impl Action {
    /// A plain (unmasked) set of Ethernet addresses.
    pub fn set_eth(src: [u8; 6], dst: [u8; 6]) -> Action {
        Action::Set(SetField::Ethernet { src, src_mask: [0xff; 6], dst, dst_mask: [0xff; 6] })
    }

    /// A set of the IPv4 source address.
    pub fn set_ipv4_src(src: u32) -> Action {
        Action::Set(SetField::Ipv4 { src, src_mask: u32::MAX, dst: 0, dst_mask: 0, tos: 0, tos_mask: 0, ttl: 0, ttl_mask: 0 })
    }

    /// A set of the IPv4 destination address.
    pub fn set_ipv4_dst(dst: u32) -> Action {
        Action::Set(SetField::Ipv4 { src: 0, src_mask: 0, dst, dst_mask: u32::MAX, tos: 0, tos_mask: 0, ttl: 0, ttl_mask: 0 })
    }

    /// A set of the transport ports.
    pub fn set_ports(src: u16, dst: u16) -> Action {
        Action::Set(SetField::Transport { src, src_mask: u16::MAX, dst, dst_mask: u16::MAX })
    }

    fn hands_on(&self) -> bool {
        matches!(self, Action::Output(_) | Action::Userspace(_) | Action::Recirculate(_) | Action::TunnelPop { .. })
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Output(p) => write!(f, "{p}"),
            Action::Drop => f.write_str("drop"),
            Action::DropXlateError => f.write_str("drop(xlate_error)"),
            Action::Userspace(u) => write!(f, "userspace(userdata={u:02x?})"),
            Action::Set(s) => write!(f, "set({s:?})"),
            Action::PushVlan { tpid, tci } => write!(f, "push_vlan(tpid={tpid:#x},tci={tci:#x})"),
            Action::PopVlan => f.write_str("pop_vlan"),
            Action::DecTtl => f.write_str("dec_ttl"),
            Action::Recirculate(id) => write!(f, "recirc({id:#x})"),
            Action::TunnelPush(h) => write!(f, "tnl_push({h:?})"),
            Action::TunnelPop { kind, in_port } => write!(f, "tnl_pop({kind:?},{in_port})"),
            Action::Clone(a) => write!(f, "clone({a:?})"),
            Action::Meter(m) => write!(f, "meter({})", m.id()),
            Action::CheckPktLen { size, greater, less_equal } => write!(f, "check_pkt_len(size={size},gt({greater:?}),le({less_equal:?}))"),
        }
    }
}

/// Executes `actions` on `packet` (received with `meta`; `hash` is its
/// flow hash, used for tunnel source ports).
pub fn execute<P: PacketBuf, D: Datapath<P>>(dp: &mut D, mut packet: P, meta: &PacketMeta, hash: u32, actions: &[Action]) {
    if actions.is_empty() {
        dp.dropped(DropReason::Actions);
        return;
    }
    let last = actions.len() - 1;
    // Header offsets, found once and kept until an action moves headers
    // (set actions and TTL changes never do).
    let mut layers: Option<Option<Layers>> = None;
    for (i, action) in actions.iter().enumerate() {
        if let Action::CheckPktLen { size, greater, less_equal } = action {
            let branch = if packet.data().len() > usize::from(*size) { greater } else { less_equal };
            execute(dp, packet, meta, hash, branch);
            return;
        }
        if i == last && action.hands_on() {
            hand_on(dp, packet, meta, action);
            return;
        }
        if action.hands_on() {
            match packet.duplicate() {
                Some(copy) => hand_on(dp, copy, meta, action),
                None => dp.dropped(DropReason::NoBuffer),
            }
            continue;
        }
        let result = match action {
            Action::Drop => Err(DropReason::Actions),
            Action::DropXlateError => Err(DropReason::XlateError),
            Action::Set(set) => {
                let l = *layers.get_or_insert_with(|| Layers::parse(packet.data()));
                set_field(packet.data_mut(), set, l);
                Ok(())
            }
            Action::PushVlan { tpid, tci } => {
                layers = None;
                push_vlan(&mut packet, *tpid, *tci)
            }
            Action::PopVlan => {
                layers = None;
                pop_vlan(&mut packet);
                Ok(())
            }
            Action::DecTtl => {
                let l = *layers.get_or_insert_with(|| Layers::parse(packet.data()));
                dec_ttl(packet.data_mut(), l)
            }
            Action::TunnelPush(header) => {
                layers = None;
                tunnel::push(&mut packet, header, hash)
            }
            Action::Clone(nested) => {
                match packet.duplicate() {
                    Some(copy) => execute(dp, copy, meta, hash, nested),
                    None => dp.dropped(DropReason::NoBuffer),
                }
                Ok(())
            }
            Action::Meter(m) => {
                if m.admit(packet.data().len()) {
                    Ok(())
                } else {
                    Err(DropReason::Meter)
                }
            }
            Action::Output(_) | Action::Userspace(_) | Action::Recirculate(_) | Action::TunnelPop { .. } | Action::CheckPktLen { .. } => {
                Ok(())
            }
        };
        if let Err(reason) = result {
            dp.dropped(reason);
            return;
        }
    }
}

fn hand_on<P: PacketBuf, D: Datapath<P>>(dp: &mut D, mut packet: P, meta: &PacketMeta, action: &Action) {
    match action {
        Action::Output(port) => dp.output(*port, packet),
        Action::Userspace(data) => dp.userspace(packet, meta, data),
        Action::Recirculate(id) => {
            let mut m = *meta;
            m.set(Field::RECIRC_ID, u128::from(*id));
            dp.recirculate(packet, m);
        }
        Action::TunnelPop { kind, in_port } => match tunnel::pop(&mut packet, *kind) {
            Ok(mut m) => {
                m.set(Field::IN_PORT, u128::from(*in_port));
                dp.recirculate(packet, m);
            }
            Err(reason) => dp.dropped(reason),
        },
        _ => {}
    }
}

fn masked<T>(old: T, value: T, mask: T) -> T
where
    T: Copy + std::ops::BitAnd<Output = T> + std::ops::BitOr<Output = T> + std::ops::Not<Output = T>,
{
    (old & !mask) | (value & mask)
}

/// Applies `set` to the packet in `data`, whose headers are at `layers`.
/// Fields the packet does not have are left alone.
pub(crate) fn set_field(data: &mut [u8], set: &SetField, layers: Option<Layers>) {
    if let SetField::Ethernet { src, src_mask, dst, dst_mask } = set {
        if data.len() >= 12 {
            for k in 0..6 {
                data[k] = masked(data[k], dst[k], dst_mask[k]);
                data[6 + k] = masked(data[6 + k], src[k], src_mask[k]);
            }
        }
        return;
    }
    let Some(layers) = layers else {
        return;
    };
    match *set {
        SetField::Ipv4 { src, src_mask, dst, dst_mask, tos, tos_mask, ttl, ttl_mask } if layers.ethertype == ethertype::IPV4 => {
            set_ipv4(data, layers, [src, src_mask, dst, dst_mask], [tos, tos_mask, ttl, ttl_mask]);
        }
        SetField::Ipv6 { src, src_mask, dst, dst_mask, tclass, tclass_mask, label, label_mask, hop_limit, hop_limit_mask }
            if layers.ethertype == ethertype::IPV6 =>
        {
            set_ipv6(data, layers, [src, src_mask, dst, dst_mask], [u32::from(tclass), u32::from(tclass_mask), label, label_mask]);
            let h = layers.l3 + Ipv6::HOP_LIMIT;
            data[h] = masked(data[h], hop_limit, hop_limit_mask);
        }
        SetField::Transport { src, src_mask, dst, dst_mask } => set_ports(data, layers, src, src_mask, dst, dst_mask),
        _ => {}
    }
}

/// Reads the 16-bit checksum at `at`, lets `f` update it, writes it back.
fn patch_checksum(data: &mut [u8], at: usize, f: impl FnOnce(u16) -> u16) {
    if let Some(c) = data.get_mut(at..at + 2) {
        let new = f(u16::from_be_bytes([c[0], c[1]]));
        c.copy_from_slice(&new.to_be_bytes());
    }
}

/// Where the L4 checksum that covers the IP pseudo-header lives, and
/// whether zero means "none" (UDP over IPv4).
fn pseudo_header_checksum(layers: Layers) -> Option<(usize, bool)> {
    let (l4, p) = layers.l4?;
    match p {
        proto::TCP => Some((l4 + Tcp::CHECKSUM.start, false)),
        proto::UDP => Some((l4 + Udp::CHECKSUM.start, layers.ethertype == ethertype::IPV4)),
        proto::ICMPV6 => Some((l4 + Icmp::CHECKSUM.start, false)),
        _ => None,
    }
}

/// Updates an L4 checksum covering a changed pseudo-header field.
fn update_l4<T: Copy>(data: &mut [u8], layers: Layers, old: T, new: T, update: fn(u16, T, T) -> u16) {
    let Some((at, zero_is_none)) = pseudo_header_checksum(layers) else {
        return;
    };
    if data.len() < at + 2 {
        return;
    }
    let current = u16::from_be_bytes([data[at], data[at + 1]]);
    if zero_is_none && current == 0 {
        return;
    }
    let mut c = update(current, old, new);
    if zero_is_none && c == 0 {
        c = 0xffff;
    }
    data[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

fn set_ipv4(data: &mut [u8], layers: Layers, [src, src_mask, dst, dst_mask]: [u32; 4], [tos, tos_mask, ttl, ttl_mask]: [u8; 4]) {
    let l3 = layers.l3;
    let csum_at = l3 + Ipv4::<()>::CHECKSUM.start;
    for (range, value, mask) in [(Ipv4::<()>::SRC, src, src_mask), (Ipv4::<()>::DST, dst, dst_mask)] {
        if mask == 0 {
            continue;
        }
        let at = l3 + range.start;
        let old = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        let new = masked(old, value, mask);
        data[at..at + 4].copy_from_slice(&new.to_be_bytes());
        patch_checksum(data, csum_at, |c| update32(c, old, new));
        update_l4(data, layers, old, new, update32);
    }
    for (at, value, mask) in [(l3 + Ipv4::<()>::TOS, tos, tos_mask), (l3 + Ipv4::<()>::TTL, ttl, ttl_mask)] {
        if mask == 0 {
            continue;
        }
        // The checksum covers the byte as part of an aligned 16-bit word.
        let word_at = at & !1;
        let old = u16::from_be_bytes([data[word_at], data[word_at + 1]]);
        data[at] = masked(data[at], value, mask);
        let new = u16::from_be_bytes([data[word_at], data[word_at + 1]]);
        patch_checksum(data, csum_at, |c| update16(c, old, new));
    }
}

fn set_ipv6(
    data: &mut [u8],
    layers: Layers,
    [src, src_mask, dst, dst_mask]: [u128; 4],
    [tclass, tclass_mask, label, label_mask]: [u32; 4],
) {
    let l3 = layers.l3;
    for (range, value, mask) in [(Ipv6::SRC, src, src_mask), (Ipv6::DST, dst, dst_mask)] {
        if mask == 0 {
            continue;
        }
        let at = l3 + range.start;
        let mut b = [0u8; 16];
        b.copy_from_slice(&data[at..at + 16]);
        let old = u128::from_be_bytes(b);
        let new = masked(old, value, mask);
        data[at..at + 16].copy_from_slice(&new.to_be_bytes());
        update_l4(data, layers, old, new, update128);
    }
    let first = u32::from_be_bytes([data[l3], data[l3 + 1], data[l3 + 2], data[l3 + 3]]);
    let mask = (tclass_mask & 0xff) << 20 | (label_mask & 0x000f_ffff);
    let value = (tclass & 0xff) << 20 | (label & 0x000f_ffff);
    data[l3..l3 + 4].copy_from_slice(&masked(first, value, mask).to_be_bytes());
}

fn set_ports(data: &mut [u8], layers: Layers, src: u16, src_mask: u16, dst: u16, dst_mask: u16) {
    let Some((l4, p)) = layers.l4 else {
        return;
    };
    let need = match p {
        proto::TCP => Tcp::MIN_LEN,
        proto::UDP => Udp::LEN,
        proto::SCTP => Sctp::LEN,
        _ => return,
    };
    if data.len() < l4 + need {
        return;
    }
    for (at, value, mask) in [(l4, src, src_mask), (l4 + 2, dst, dst_mask)] {
        if mask == 0 {
            continue;
        }
        let old = u16::from_be_bytes([data[at], data[at + 1]]);
        let new = masked(old, value, mask);
        data[at..at + 2].copy_from_slice(&new.to_be_bytes());
        match p {
            proto::TCP => patch_checksum(data, l4 + Tcp::CHECKSUM.start, |c| update16(c, old, new)),
            proto::UDP => patch_checksum(data, l4 + Udp::CHECKSUM.start, |c| match c {
                0 if layers.ethertype == ethertype::IPV4 => 0,
                c => match update16(c, old, new) {
                    0 => 0xffff,
                    n => n,
                },
            }),
            _ => {}
        }
    }
    if p == proto::SCTP {
        let ck = l4 + Sctp::CHECKSUM.start;
        data[ck..ck + 4].fill(0);
        let crc = crc32c(&data[l4..layers.end]);
        data[ck..ck + 4].copy_from_slice(&crc.to_le_bytes());
    }
}

fn push_vlan<P: PacketBuf>(packet: &mut P, tpid: u16, tci: u16) -> Result<(), DropReason> {
    if packet.data().len() < ETH_LEN {
        return Ok(());
    }
    if !packet.push_front(VLAN_LEN) {
        return Err(DropReason::NoHeadroom);
    }
    let d = packet.data_mut();
    d.copy_within(VLAN_LEN..VLAN_LEN + 12, 0);
    d[12..14].copy_from_slice(&tpid.to_be_bytes());
    d[14..16].copy_from_slice(&tci.to_be_bytes());
    Ok(())
}

fn pop_vlan<P: PacketBuf>(packet: &mut P) {
    let d = packet.data_mut();
    let Some(ty) = read_be16(d, 12) else {
        return;
    };
    if (ty != ethertype::VLAN && ty != ethertype::QINQ) || d.len() < ETH_LEN + VLAN_LEN {
        return;
    }
    d.copy_within(0..12, VLAN_LEN);
    packet.pull_front(VLAN_LEN);
}

fn dec_ttl(data: &mut [u8], layers: Option<Layers>) -> Result<(), DropReason> {
    let Some(layers) = layers else {
        return Ok(());
    };
    match layers.ethertype {
        ethertype::IPV4 if Ipv4::new_checked(&data[layers.l3..]).is_ok() => {
            let at = layers.l3 + Ipv4::<()>::TTL;
            if data[at] <= 1 {
                return Err(DropReason::TtlExpired);
            }
            let old = u16::from_be_bytes([data[at], data[at + 1]]);
            data[at] -= 1;
            let new = u16::from_be_bytes([data[at], data[at + 1]]);
            patch_checksum(data, layers.l3 + Ipv4::<()>::CHECKSUM.start, |c| update16(c, old, new));
        }
        ethertype::IPV6 => {
            let at = layers.l3 + Ipv6::HOP_LIMIT;
            if data[at] <= 1 {
                return Err(DropReason::TtlExpired);
            }
            data[at] -= 1;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
