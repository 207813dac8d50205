//! The NXM and OXM encodings of a match (Nicira's `nx_match`, the OXM
//! of OpenFlow 1.2+), decoded with OVS's checks and encoded as OVS
//! writes them for each version.

#![allow(clippy::wildcard_imports)]

use super::*;

use crate::error::{BadMatch, Nicira};

/// Reads one NXM/OXM entry's header: the field (if known), whether it has
/// a mask, the payload length, and the header length.
pub(super) fn pull_header(b: &[u8]) -> Result<(Option<&'static Field>, bool, usize, usize), OfError> {
    let h = b.get(..4).ok_or(OfError::BadMatch(BadMatch::BadLen))?;
    let class = u16::from_be_bytes([h[0], h[1]]);
    let (field_no, has_mask, len) = (h[2] >> 1, h[2] & 1 == 1, usize::from(h[3]));
    if class == OXM_EXPERIMENTER {
        let e = b.get(4..8).ok_or(OfError::BadMatch(BadMatch::BadLen))?;
        let exp = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        if len < 4 {
            return Err(OfError::BadMatch(BadMatch::BadLen));
        }
        return Ok((field_by_header(class, field_no, exp), has_mask, len - 4, 8));
    }
    Ok((field_by_header(class, field_no, 0), has_mask, len, 4))
}

/// Decodes a run of NXM/OXM entries (the body of an `nx_match` or of an
/// OXM `ofp_match`) into a match, with OVS's checks.
pub fn decode_entries(b: &[u8]) -> Result<Match, OfError> {
    decode_nx_match(b, false).map(|(m, _)| m)
}

/// As [`decode_entries`], with `tun_metadata` fields as `tlv` maps them.
pub fn decode_entries_tlv(b: &[u8], tlv: &TlvMap) -> Result<Match, OfError> {
    decode_nx_match_tlv(b, false, tlv).map(|(m, _)| m)
}

/// Nicira's cookie pseudo-field, allowed in the `nx_match` of flow mods
/// and flow statistics requests.
pub(super) const NXM_NX_COOKIE: (u16, u8) = (NXM_NX, 30);

/// Decodes `nx_match` entries; with `allow_cookie`, also Nicira's cookie
/// pseudo-field, returned as (cookie, mask) — (0, 0) when absent.
pub fn decode_nx_match(b: &[u8], allow_cookie: bool) -> Result<(Match, (u64, u64)), OfError> {
    decode_nx_match_tlv(b, allow_cookie, &TlvMap::default())
}

/// As [`decode_nx_match`], with `tun_metadata` fields as `tlv` maps them.
pub fn decode_nx_match_tlv(mut b: &[u8], allow_cookie: bool, tlv: &TlvMap) -> Result<(Match, (u64, u64)), OfError> {
    let mut m = Match::catchall();
    let mut cookie: Option<(u64, u64)> = None;
    while !b.is_empty() {
        let (f, has_mask, len, hlen) = pull_header(b)?;
        let payload = b.get(hlen..hlen + len).ok_or(OfError::BadMatch(BadMatch::BadLen))?;
        if allow_cookie && (u16::from_be_bytes([b[0], b[1]]), b[2] >> 1) == NXM_NX_COOKIE {
            if len != if has_mask { 16 } else { 8 } {
                return Err(OfError::BadMatch(BadMatch::BadLen));
            }
            if cookie.is_some() {
                return Err(OfError::BadMatch(BadMatch::DupField));
            }
            let value = be(&payload[..8]) as u64;
            let mask = if has_mask { be(&payload[8..]) as u64 } else { u64::MAX };
            cookie = Some((value & mask, mask));
            b = &b[hlen + len..];
            continue;
        }
        let (class, no) = (u16::from_be_bytes([b[0], b[1]]), b[2] >> 1);
        if class == NXM_NX && (TUN_METADATA0..TUN_METADATA0 + TUN_METADATA_FIELDS).contains(&no) {
            let index = no - TUN_METADATA0;
            let mapped = tlv.maps.get(&index).map(|&(_, _, len)| usize::from(len)).ok_or(OfError::Nicira(Nicira::InvalidTlvField))?;
            // The value may come shorter than the option (leading zeros
            // dropped, as OVS writes variable-length fields).
            let width = if has_mask { len / 2 } else { len };
            if width == 0 || width > mapped || (has_mask && len % 2 != 0) {
                return Err(OfError::Nicira(Nicira::InvalidTlvField));
            }
            let widen = |b: &[u8]| [vec![0; mapped - b.len()], b.to_vec()].concat();
            let (value, mask) = payload.split_at(width);
            let mask = if has_mask { widen(mask) } else { vec![0xff; mapped] };
            let value = widen(value);
            if value.iter().zip(&mask).any(|(v, m)| v & !m != 0) {
                return Err(OfError::BadMatch(BadMatch::BadWildcards));
            }
            if m.tun_md.iter().any(|t| t.index == index) {
                return Err(OfError::BadMatch(BadMatch::DupField));
            }
            m.tun_md.push(TunMd { index, value, mask });
            m.tun_md.sort_by_key(|t| t.index);
            b = &b[hlen + len..];
            continue;
        }
        let f = f.ok_or(OfError::BadMatch(BadMatch::BadField))?;
        let width = usize::from(f.bytes);
        if len != width * if has_mask { 2 } else { 1 } {
            return Err(OfError::BadMatch(BadMatch::BadLen));
        }
        let (value, mask) = payload.split_at(width);
        let mask = has_mask.then_some(mask);
        if let Some(mask) = mask {
            if value.iter().zip(mask).any(|(v, m)| v & !m != 0) {
                return Err(OfError::BadMatch(BadMatch::BadWildcards));
            }
            if !f.maskable && be(mask) != 0 && be(mask) != full(f.bytes) {
                return Err(OfError::BadMatch(BadMatch::BadMask));
            }
        }
        if !Match::value_valid(f, value) {
            return Err(OfError::BadMatch(BadMatch::BadValue));
        }
        if !m.prereqs_ok(f) {
            return Err(OfError::BadMatch(BadMatch::BadPrereq));
        }
        if m.field_mask(f) != 0 {
            return Err(OfError::BadMatch(BadMatch::DupField));
        }
        m.set(f, value, mask);
        b = &b[hlen + len..];
    }
    Ok((m, cookie.unwrap_or((0, 0))))
}

/// Writes NXM/OXM entries for a match, as OVS's `nx_put_raw`.
pub(super) struct Put<'a> {
    pub(super) out: &'a mut Vec<u8>,
    pub(super) version: u8,
}

impl Put<'_> {
    /// One entry: exact if `mask` is all ones, nothing if it is zero.
    pub(super) fn masked(&mut self, id: Mff, value: u128, mask: u128) {
        let f = field(id);
        if mask == 0 {
            return;
        }
        let masked = mask != full(f.bytes);
        self.entry(f, value, masked.then_some(mask));
    }

    pub(super) fn exact(&mut self, id: Mff, value: u128) {
        self.entry(field(id), value, None);
    }

    pub(super) fn slot(&mut self, id: Mff, m: &Match) {
        let f = field(id);
        self.masked(id, m.slot_value(f.slot), m.slot_mask(f.slot));
    }

    pub(super) fn entry(&mut self, f: &Field, value: u128, mask: Option<u128>) {
        let h = f.header_for(self.version);
        let n = usize::from(f.bytes);
        let payload = n * if mask.is_some() { 2 } else { 1 };
        self.out.extend_from_slice(&h.class.to_be_bytes());
        self.out.push(h.field << 1 | u8::from(mask.is_some()));
        if h.class == OXM_EXPERIMENTER {
            self.out.push((payload + 4) as u8);
            self.out.extend_from_slice(&h.exp.to_be_bytes());
        } else {
            self.out.push(payload as u8);
        }
        let at = self.out.len();
        self.out.resize(at + payload, 0);
        put_be(&mut self.out[at..at + n], value);
        if let Some(mask) = mask {
            put_be(&mut self.out[at + n..], mask);
        }
    }
}

/// Appends the entries expressing `m` in `version`'s encoding (0: NXM;
/// 3 and later: OXM), in OVS's order; returns the bytes written.
pub fn encode_entries(m: &Match, version: u8, out: &mut Vec<u8>) -> usize {
    use Mff::*;
    let start = out.len();
    let mut p = Put { out, version };
    let v = |s: Slot| m.slot_value(s);
    let w = |s: Slot| m.slot_mask(s);
    if w(slot::RECIRC_ID) != 0 {
        p.exact(RecircId, v(slot::RECIRC_ID));
    }
    if w(slot::CONJ_ID) != 0 {
        p.exact(ConjId, v(slot::CONJ_ID));
    }
    if w(slot::IN_PORT) != 0 {
        if version != 0 {
            p.exact(InPortOxm, u128::from(port_to_ofp11(v(slot::IN_PORT) as u16)));
        } else {
            p.exact(InPort, v(slot::IN_PORT));
        }
    }
    if w(slot::ACTSET_OUTPUT) != 0 {
        p.exact(ActsetOutput, u128::from(port_to_ofp11(v(slot::ACTSET_OUTPUT) as u16)));
    }
    p.slot(EthSrc, m);
    p.slot(EthDst, m);
    p.slot(EthType, m);
    if version != 0 {
        let (vid, mask) = (v(slot::VLAN_TCI) & 0x1fff, w(slot::VLAN_TCI) & 0x1fff);
        if mask == 0x1fff {
            p.exact(VlanVid, vid);
        } else if mask != 0 {
            p.masked(VlanVid, vid, mask);
        }
        // OVS writes VLAN_PCP whenever the VID is nonzero; without the
        // CFI ("present") bit that PCP fails its own prerequisite when read
        // back, so ferrovs writes it only with a present VLAN.
        if vid & VLAN_CFI != 0 && w(slot::VLAN_TCI) & VLAN_PCP_MASK != 0 {
            p.exact(VlanPcp, v(slot::VLAN_TCI) >> 13);
        }
    } else {
        p.slot(VlanTci, m);
    }
    let dl_type = m.dl_type();
    if matches!(dl_type, ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST) {
        let (lse, lse_mask) = (v(slot::MPLS_LSE), w(slot::MPLS_LSE));
        if lse_mask & 0xe00 != 0 {
            p.exact(MplsTc, (lse >> 9) & 7);
        }
        if lse_mask & 0x100 != 0 {
            p.exact(MplsBos, (lse >> 8) & 1);
        }
        if lse_mask & 0xff != 0 {
            p.exact(MplsTtl, lse & 0xff);
        }
        if lse_mask & 0xffff_f000 != 0 {
            p.exact(MplsLabel, lse >> 12);
        }
    }
    if m.is_ip_any() {
        put_ip(&mut p, m);
    } else if matches!(dl_type, ETH_TYPE_ARP | ETH_TYPE_RARP) {
        if w(slot::NW_PROTO) != 0 {
            p.exact(ArpOp, v(slot::NW_PROTO));
        }
        p.slot(ArpSpa, m);
        p.slot(ArpTpa, m);
        p.slot(ArpSha, m);
        p.slot(ArpTha, m);
    }
    for id in [TunId, TunFlags, TunSrc, TunDst, TunIpv6Src, TunIpv6Dst, TunGbpId, TunGbpFlags] {
        p.slot(id, m);
    }
    // Tunnel metadata: Nicira's headers in every version, with the TLV
    // table's length; present even when wholly wildcarded.
    for t in &m.tun_md {
        let masked = t.mask.iter().any(|&b| b != 0xff);
        let n = t.value.len() * if masked { 2 } else { 1 };
        p.out.extend_from_slice(&NXM_NX.to_be_bytes());
        p.out.push((TUN_METADATA0 + t.index) << 1 | u8::from(masked));
        p.out.push(n as u8);
        p.out.extend_from_slice(&t.value);
        if masked {
            p.out.extend_from_slice(&t.mask);
        }
    }
    if version < 6 {
        for i in 0..16 {
            p.slot(Reg(i), m);
        }
    } else {
        for i in 0..8 {
            p.slot(Xreg(i), m);
        }
    }
    for id in [PktMark, CtState, CtZone, CtMark, CtLabel, CtNwSrc, CtIpv6Src, CtNwDst, CtIpv6Dst] {
        p.slot(id, m);
    }
    if v(slot::CT_NW_PROTO) != 0 {
        for id in [CtNwProto, CtTpSrc, CtTpDst] {
            p.slot(id, m);
        }
    }
    p.slot(Metadata, m);
    out.len() - start
}

pub(super) fn put_ip(p: &mut Put<'_>, m: &Match) {
    use Mff::*;
    let v = |s: Slot| m.slot_value(s);
    let w = |s: Slot| m.slot_mask(s);
    if m.dl_type() == ETH_TYPE_IP {
        p.slot(Ipv4Src, m);
        p.slot(Ipv4Dst, m);
    } else {
        p.slot(Ipv6Src, m);
        p.slot(Ipv6Dst, m);
    }
    let frag_mask = w(slot::NW_FRAG) & 3;
    p.masked(IpFrag, v(slot::NW_FRAG) & 3, if frag_mask == 3 { 0xff } else { frag_mask });
    let (tos, tos_mask) = (v(slot::NW_TOS), w(slot::NW_TOS));
    if tos_mask & 0xfc != 0 {
        if p.version != 0 {
            p.exact(IpDscpShifted, tos >> 2);
        } else {
            p.exact(IpDscp, tos & 0xfc);
        }
    }
    if tos_mask & 3 != 0 {
        p.exact(IpEcn, tos & 3);
    }
    if w(slot::NW_TTL) != 0 {
        p.exact(IpTtl, v(slot::NW_TTL));
    }
    p.slot(Ipv6Label, m);
    if w(slot::NW_PROTO) == 0 {
        return;
    }
    let proto = m.nw_proto();
    p.exact(IpProto, u128::from(proto));
    let (src, dst) = match proto {
        6 => (TcpSrc, TcpDst),
        17 => (UdpSrc, UdpDst),
        132 => (SctpSrc, SctpDst),
        1 if m.dl_type() == ETH_TYPE_IP => (Icmpv4Type, Icmpv4Code),
        58 if m.dl_type() == ETH_TYPE_IPV6 => (Icmpv6Type, Icmpv6Code),
        _ => return,
    };
    if matches!(proto, 6 | 17 | 132) {
        p.slot(src, m);
        p.slot(dst, m);
        if proto == 6 {
            p.slot(TcpFlags, m);
        }
        return;
    }
    if w(slot::TP_SRC) != 0 {
        p.exact(src, v(slot::TP_SRC) & 0xff);
    }
    if w(slot::TP_DST) != 0 {
        p.exact(dst, v(slot::TP_DST) & 0xff);
    }
    if m.is_nd() {
        p.slot(NdTarget, m);
        if v(slot::TP_SRC) == 135 {
            p.slot(NdSll, m);
        }
        if v(slot::TP_SRC) == 136 {
            p.slot(NdTll, m);
        }
    }
}

/// `ofp_match` type for OXM.
pub(super) const OFPMT_OXM: u16 = 1;

/// Encodes an OXM `ofp_match` (OpenFlow 1.2+) for `version`, padded to 8.
pub fn encode_oxm_match(m: &Match, version: u8, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&OFPMT_OXM.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    let n = encode_entries(m, version, out);
    out[start + 2..start + 4].copy_from_slice(&((4 + n) as u16).to_be_bytes());
    out.resize(start + (4 + n).div_ceil(8) * 8, 0);
}

/// Decodes an OXM `ofp_match` at the start of `b`; returns the match and
/// the bytes it took, padding included.
pub fn decode_oxm_match(b: &[u8]) -> Result<(Match, usize), OfError> {
    decode_oxm_match_tlv(b, &TlvMap::default())
}

/// As [`decode_oxm_match`], with `tun_metadata` fields as `tlv` maps them.
pub fn decode_oxm_match_tlv(b: &[u8], tlv: &TlvMap) -> Result<(Match, usize), OfError> {
    let (entries, used) = oxm_match_entries(b)?;
    Ok((decode_entries_tlv(entries, tlv)?, used))
}

/// The entries of an OXM `ofp_match` at the start of `b`, and the bytes
/// the match takes, padding included.
pub fn oxm_match_entries(b: &[u8]) -> Result<(&[u8], usize), OfError> {
    let h = b.get(..4).ok_or(OfError::BadMatch(BadMatch::BadLen))?;
    if u16::from_be_bytes([h[0], h[1]]) != OFPMT_OXM {
        return Err(OfError::BadMatch(BadMatch::BadType));
    }
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let padded = len.div_ceil(8) * 8;
    if len < 4 || padded > b.len() {
        return Err(OfError::BadMatch(BadMatch::BadLen));
    }
    Ok((&b[4..len], padded))
}
