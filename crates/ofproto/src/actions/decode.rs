//! Decoding actions and instructions: OpenFlow 1.0's, 1.1+'s, and the
//! Nicira extensions, with the checks OVS makes.

#![allow(clippy::wildcard_imports)]

use super::*;

use crate::error::{BadAction, BadInstruction};

mod nested;

use nested::{ct, learn, nat};

/// A bounds-checked reader over one action's bytes.
pub(super) struct Rd<'a>(&'a [u8]);

impl Rd<'_> {
    pub(super) fn u8(&self, at: usize) -> Result<u8, OfError> {
        self.0.get(at).copied().ok_or(OfError::BadAction(BadAction::BadLen))
    }
    pub(super) fn u16(&self, at: usize) -> Result<u16, OfError> {
        let b = self.0.get(at..at + 2).ok_or(OfError::BadAction(BadAction::BadLen))?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub(super) fn u32(&self, at: usize) -> Result<u32, OfError> {
        let b = self.0.get(at..at + 4).ok_or(OfError::BadAction(BadAction::BadLen))?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(super) fn u64(&self, at: usize) -> Result<u64, OfError> {
        Ok(u64::from(self.u32(at)?) << 32 | u64::from(self.u32(at + 4)?))
    }
    pub(super) fn mac(&self, at: usize) -> Result<[u8; 6], OfError> {
        let b = self.0.get(at..at + 6).ok_or(OfError::BadAction(BadAction::BadLen))?;
        Ok([b[0], b[1], b[2], b[3], b[4], b[5]])
    }
    pub(super) fn zeros(&self, r: std::ops::Range<usize>) -> Result<(), OfError> {
        let b = self.0.get(r).ok_or(OfError::BadAction(BadAction::BadLen))?;
        if b.iter().any(|&x| x != 0) {
            // OVS: NXBRC_MUST_BE_ZERO; BAD_ARGUMENT is the standard code.
            return Err(OfError::BadAction(BadAction::BadArgument));
        }
        Ok(())
    }
}

/// Splits an action list into actions, checking each length.
pub(super) fn split(mut b: &[u8]) -> Result<Vec<&[u8]>, OfError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = usize::from(Rd(b).u16(2)?);
        if len < 8 || len % 8 != 0 || len > b.len() {
            return Err(OfError::BadAction(BadAction::BadLen));
        }
        out.push(&b[..len]);
        b = &b[len..];
    }
    Ok(out)
}

/// Requires an action to be exactly `len` bytes.
pub(super) fn exact_len(a: &[u8], len: usize) -> Result<Rd<'_>, OfError> {
    if a.len() != len {
        return Err(OfError::BadAction(BadAction::BadLen));
    }
    Ok(Rd(a))
}

pub(super) fn port_from_ofp11(p: u32) -> Result<u16, OfError> {
    flowmatch::port_from_ofp11(p).ok_or(OfError::BadAction(BadAction::BadOutPort))
}

/// Decodes an action list of OpenFlow `version` (1 = 1.0, 4 = 1.3, 6 = 1.5).
pub fn decode_actions(b: &[u8], version: u8) -> Result<Vec<Action>, OfError> {
    let mut out = Vec::new();
    for a in split(b)? {
        let ty = Rd(a).u16(0)?;
        if ty == 0xffff {
            decode_experimenter(a, version, &mut out)?;
        } else if version == 1 {
            out.push(decode_of10(ty, a)?);
        } else {
            out.push(decode_of11(ty, a, version)?);
        }
    }
    Ok(out)
}

pub(super) fn decode_of10(ty: u16, a: &[u8]) -> Result<Action, OfError> {
    Ok(match ty {
        0 => {
            let r = exact_len(a, 8)?;
            Action::Output { port: r.u16(4)?, max_len: r.u16(6)? }
        }
        1 => {
            let vid = exact_len(a, 8)?.u16(4)?;
            if vid & !0xfff != 0 {
                return Err(OfError::BadAction(BadAction::BadArgument));
            }
            Action::SetVlanVid { vid, push: true }
        }
        2 => {
            let pcp = exact_len(a, 8)?.u8(4)?;
            if pcp & !7 != 0 {
                return Err(OfError::BadAction(BadAction::BadArgument));
            }
            Action::SetVlanPcp { pcp, push: true }
        }
        3 => {
            exact_len(a, 8)?;
            Action::StripVlan { of10: true }
        }
        4 | 5 => {
            let mac = exact_len(a, 16)?.mac(4)?;
            if ty == 4 {
                Action::SetEthSrc(mac)
            } else {
                Action::SetEthDst(mac)
            }
        }
        6 | 7 => {
            let ip = exact_len(a, 8)?.u32(4)?;
            if ty == 6 {
                Action::SetIpv4Src(ip)
            } else {
                Action::SetIpv4Dst(ip)
            }
        }
        8 => tos(exact_len(a, 8)?.u8(4)?)?,
        9 => Action::SetL4Src(exact_len(a, 8)?.u16(4)?),
        10 => Action::SetL4Dst(exact_len(a, 8)?.u16(4)?),
        11 => {
            let r = exact_len(a, 16)?;
            Action::Enqueue { port: r.u16(4)?, queue: r.u32(12)? }
        }
        _ => return Err(OfError::BadAction(BadAction::BadType)),
    })
}

pub(super) fn tos(t: u8) -> Result<Action, OfError> {
    if t & 3 != 0 {
        return Err(OfError::BadAction(BadAction::BadArgument));
    }
    Ok(Action::SetIpDscp(t))
}

pub(super) fn decode_of11(ty: u16, a: &[u8], version: u8) -> Result<Action, OfError> {
    Ok(match ty {
        0 => {
            let r = exact_len(a, 16)?;
            Action::Output { port: port_from_ofp11(r.u32(4)?)?, max_len: r.u16(8)? }
        }
        1 => {
            let vid = exact_len(a, 8)?.u16(4)?;
            if vid & !0xfff != 0 {
                return Err(OfError::BadAction(BadAction::BadArgument));
            }
            Action::SetVlanVid { vid, push: false }
        }
        2 => {
            let pcp = exact_len(a, 8)?.u8(4)?;
            if pcp & !7 != 0 {
                return Err(OfError::BadAction(BadAction::BadArgument));
            }
            Action::SetVlanPcp { pcp, push: false }
        }
        3 | 4 => {
            let mac = exact_len(a, 16)?.mac(4)?;
            if ty == 3 {
                Action::SetEthSrc(mac)
            } else {
                Action::SetEthDst(mac)
            }
        }
        5 | 6 => {
            let ip = exact_len(a, 8)?.u32(4)?;
            if ty == 5 {
                Action::SetIpv4Src(ip)
            } else {
                Action::SetIpv4Dst(ip)
            }
        }
        7 => tos(exact_len(a, 8)?.u8(4)?)?,
        8 => {
            let ecn = exact_len(a, 8)?.u8(4)?;
            if ecn & !3 != 0 {
                return Err(OfError::BadAction(BadAction::BadArgument));
            }
            Action::SetIpEcn(ecn)
        }
        9 => Action::SetL4Src(exact_len(a, 8)?.u16(4)?),
        10 => Action::SetL4Dst(exact_len(a, 8)?.u16(4)?),
        17 => {
            let ethertype = exact_len(a, 8)?.u16(4)?;
            if !matches!(ethertype, 0x8100 | 0x88a8) {
                return Err(OfError::BadAction(BadAction::BadArgument));
            }
            Action::PushVlan { ethertype }
        }
        18 => {
            exact_len(a, 8)?;
            Action::StripVlan { of10: false }
        }
        21 => Action::SetQueue(exact_len(a, 8)?.u32(4)?),
        22 => Action::Group(exact_len(a, 8)?.u32(4)?),
        23 => Action::SetIpTtl(exact_len(a, 8)?.u8(4)?),
        24 => {
            exact_len(a, 8)?;
            Action::DecTtl { ids: vec![0], cnt_ids: false }
        }
        25 => decode_set_field(a, version)?,
        28 if version >= 6 => reg_move(a, 4)?,
        29 if version >= 6 => Action::Meter(exact_len(a, 8)?.u32(4)?),
        _ => return Err(OfError::BadAction(BadAction::BadType)),
    })
}

/// Reads an NXM/OXM header naming a field (no mask) at the start of `b`;
/// returns the field and the header's length.
pub(super) fn pull_field_header(b: &[u8]) -> Result<(&'static Field, usize), OfError> {
    let h = b.get(..4).ok_or(OfError::BadAction(BadAction::BadLen))?;
    let class = u16::from_be_bytes([h[0], h[1]]);
    let (no, len) = (h[2] >> 1, usize::from(h[3]));
    let (exp, hlen, len) = if class == flowmatch::OXM_EXPERIMENTER {
        let e = b.get(4..8).ok_or(OfError::BadAction(BadAction::BadLen))?;
        (u32::from_be_bytes([e[0], e[1], e[2], e[3]]), 8, len.saturating_sub(4))
    } else {
        (0, 4, len)
    };
    let f = flowmatch::field_by_header(class, no, exp).ok_or(OfError::BadAction(BadAction::BadArgument))?;
    if h[2] & 1 != 0 || len != usize::from(f.bytes) {
        return Err(OfError::BadAction(BadAction::BadArgument));
    }
    Ok((f, hlen))
}

/// Whether actions may set `f`.
pub fn writable(f: &Field) -> bool {
    // OVS's read-only fields (`ovs-fields(7)`, "Access: read-only").
    !matches!(
        f.id,
        Mff::RecircId
            | Mff::ConjId
            | Mff::ActsetOutput
            | Mff::CtState
            | Mff::CtZone
            | Mff::CtNwProto
            | Mff::CtNwSrc
            | Mff::CtNwDst
            | Mff::CtIpv6Src
            | Mff::CtIpv6Dst
            | Mff::CtTpSrc
            | Mff::CtTpDst
            | Mff::EthType
            | Mff::MplsBos
            | Mff::IpProto
            | Mff::IpFrag
            | Mff::TcpFlags
    )
}

pub(super) fn decode_set_field(a: &[u8], version: u8) -> Result<Action, OfError> {
    let body = a.get(4..).ok_or(OfError::BadAction(BadAction::BadLen))?;
    let h = body.get(..4).ok_or(OfError::BadAction(BadAction::BadSetLen))?;
    let class = u16::from_be_bytes([h[0], h[1]]);
    let (no, masked, len) = (h[2] >> 1, h[2] & 1 == 1, usize::from(h[3]));
    let (exp, hlen, len) = if class == flowmatch::OXM_EXPERIMENTER {
        let e = body.get(4..8).ok_or(OfError::BadAction(BadAction::BadSetLen))?;
        (u32::from_be_bytes([e[0], e[1], e[2], e[3]]), 8, len.saturating_sub(4))
    } else {
        (0, 4, len)
    };
    let f = flowmatch::field_by_header(class, no, exp).ok_or(OfError::BadAction(BadAction::BadSetType))?;
    if masked && version < 6 {
        return Err(OfError::BadAction(BadAction::BadSetArgument));
    }
    if let Mff::TunMetadata(_) = f.id {
        // Variable length: leading zero bytes are left out; ferrovs keeps
        // the low 16 bytes (the table check refuses what is longer).
        let n = if masked { len / 2 } else { len };
        let payload = body.get(hlen..hlen + len).ok_or(OfError::BadAction(BadAction::BadSetLen))?;
        if n > 16 || (masked && len % 2 != 0) || body[hlen + len..].iter().any(|&x| x != 0) {
            return Err(OfError::BadAction(BadAction::BadSetLen));
        }
        let value = be(&payload[..n]);
        let mask = if masked { be(&payload[n..]) } else { u128::MAX };
        return Ok(Action::SetField { field: f.id, value: value & mask, mask, reg_load: false });
    }
    let n = usize::from(f.bytes);
    if len != n * if masked { 2 } else { 1 } {
        return Err(OfError::BadAction(BadAction::BadSetLen));
    }
    let payload = body.get(hlen..hlen + len).ok_or(OfError::BadAction(BadAction::BadSetLen))?;
    if body[hlen + len..].iter().any(|&x| x != 0) || (hlen + len + 4).div_ceil(8) * 8 != a.len() {
        return Err(OfError::BadAction(BadAction::BadSetLen));
    }
    if !writable(f) {
        return Err(OfError::BadAction(BadAction::BadSetType));
    }
    let value = be(&payload[..n]);
    let mask = if masked { be(&payload[n..]) } else { full(f.bytes) };
    if !flowmatch::Match::value_valid(f, &payload[..n]) || value & !mask != 0 {
        return Err(OfError::BadAction(BadAction::BadSetArgument));
    }
    Ok(Action::SetField { field: f.id, value, mask, reg_load: false })
}

pub(super) fn subfield(f: &Field, ofs_nbits: u16) -> Result<Subfield, OfError> {
    let (ofs, n_bits) = (ofs_nbits >> 6, (ofs_nbits & 0x3f) + 1);
    if ofs + n_bits > f.bits {
        return Err(OfError::BadAction(BadAction::BadArgument));
    }
    Ok(Subfield { field: f.id, ofs, n_bits })
}

/// NXAST_REG_MOVE (`at` = 10) or OpenFlow 1.5's COPY_FIELD (`at` = 4):
/// bit count and offsets at `at`, the two field headers 6 bytes later
/// (after 2 bytes of padding in COPY_FIELD).
pub(super) fn reg_move(a: &[u8], at: usize) -> Result<Action, OfError> {
    let r = Rd(a);
    let n_bits = r.u16(at)?;
    let (src_ofs, dst_ofs) = (r.u16(at + 2)?, r.u16(at + 4)?);
    let fields_at = if at == 4 { 12 } else { 16 };
    let rest = a.get(fields_at..).ok_or(OfError::BadAction(BadAction::BadLen))?;
    let (src, l1) = pull_field_header(rest)?;
    let (dst, l2) = pull_field_header(&rest[l1..])?;
    r.zeros(fields_at + l1 + l2..a.len())?;
    let fits = |ofs: u16, f: &Field| u32::from(ofs) + u32::from(n_bits) <= u32::from(f.bits);
    if !writable(dst) || n_bits == 0 || !fits(src_ofs, src) || !fits(dst_ofs, dst) {
        return Err(OfError::BadAction(BadAction::BadArgument));
    }
    Ok(Action::RegMove { src: Subfield { field: src.id, ofs: src_ofs, n_bits }, dst: Subfield { field: dst.id, ofs: dst_ofs, n_bits } })
}

/// NXAST_STACK_PUSH and NXAST_STACK_POP: a bit offset, a field header,
/// a bit count, zeros to 24 bytes; the bits must be in the field, and a
/// pop's field writable.
fn stack(a: &[u8], push: bool) -> Result<Action, OfError> {
    let r = exact_len(a, 24)?;
    let ofs = r.u16(10)?;
    let (f, hlen) = pull_field_header(&a[12..])?;
    let n_bits = r.u16(12 + hlen)?;
    r.zeros(14 + hlen..24)?;
    if n_bits == 0 || u32::from(ofs) + u32::from(n_bits) > u32::from(f.bits) || (!push && !writable(f)) {
        return Err(OfError::BadAction(BadAction::BadArgument));
    }
    let sf = Subfield { field: f.id, ofs, n_bits };
    Ok(if push { Action::StackPush(sf) } else { Action::StackPop(sf) })
}

/// Properties after a 16-byte extension action header: (type, payload).
pub(super) fn props(a: &[u8]) -> Result<Vec<(u16, &[u8])>, OfError> {
    let mut out = Vec::new();
    let mut rest = a.get(16..).ok_or(OfError::BadAction(BadAction::BadLen))?;
    while !rest.is_empty() {
        let r = Rd(rest);
        let (ty, len) = (r.u16(0)?, usize::from(r.u16(2)?));
        if len < 4 || len.div_ceil(8) * 8 > rest.len() {
            return Err(OfError::BadAction(BadAction::BadLen));
        }
        out.push((ty, &rest[4..len]));
        rest = &rest[len.div_ceil(8) * 8..];
    }
    Ok(out)
}

/// NXAST_CONTROLLER2: properties over OVS's defaults.
pub(super) fn controller2(a: &[u8]) -> Result<Action, OfError> {
    Rd(a).zeros(10..16)?;
    let (mut max_len, mut id, mut reason, mut userdata, mut pause, mut meter) = (u16::MAX, 0, 1, Vec::new(), false, 0);
    for (ty, p) in props(a)? {
        // As OVS's property parsers: 8- and 16-bit values need at least
        // their size (padding forgiven), 32-bit ones exactly.
        let at_least = |n: usize| if p.len() >= n { Ok(Rd(p)) } else { Err(OfError::BadAction(BadAction::BadLen)) };
        match ty {
            0 => max_len = at_least(2)?.u16(0)?,
            1 => id = at_least(2)?.u16(0)?,
            2 => reason = at_least(1)?.u8(0)?,
            3 => userdata = p.to_vec(),
            4 => pause = true,
            5 if p.len() == 4 => meter = Rd(p).u32(0)?,
            5 => return Err(OfError::BadAction(BadAction::BadLen)),
            _ => return Err(OfError::BadAction(BadAction::BadArgument)),
        }
    }
    Ok(Action::Controller { max_len, id, reason, userdata, pause, meter, v2: true })
}

/// NXAST_REG_LOAD2: the 10-byte Nicira action header, then one NXM/OXM
/// entry (value, and mask if the header says so), then zero padding.
pub(super) fn reg_load2(a: &[u8]) -> Result<Action, OfError> {
    let r = Rd(a);
    let b = a.get(10..).ok_or(OfError::BadAction(BadAction::BadLen))?;
    let h = b.get(..4).ok_or(OfError::BadAction(BadAction::BadLen))?;
    let class = u16::from_be_bytes([h[0], h[1]]);
    let (no, masked, len) = (h[2] >> 1, h[2] & 1 == 1, usize::from(h[3]));
    let (exp, hlen, len) = if class == flowmatch::OXM_EXPERIMENTER { (Rd(b).u32(4)?, 8, len.saturating_sub(4)) } else { (0, 4, len) };
    let f = flowmatch::field_by_header(class, no, exp).ok_or(OfError::BadAction(BadAction::BadSetType))?;
    let payload = b.get(hlen..hlen + len).ok_or(OfError::BadAction(BadAction::BadLen))?;
    r.zeros(10 + hlen + len..a.len())?;
    let n = if masked { len / 2 } else { len };
    let variable = matches!(f.id, Mff::TunMetadata(_));
    if (masked && len % 2 != 0) || n > 16 || (!variable && n != usize::from(f.bytes)) {
        return Err(OfError::BadAction(BadAction::BadSetLen));
    }
    if !writable(f) {
        return Err(OfError::BadAction(BadAction::BadSetType));
    }
    let value = be(&payload[..n]);
    let mask = if masked {
        be(&payload[n..])
    } else if variable {
        u128::MAX
    } else {
        full(f.bytes)
    };
    if value & !mask != 0 {
        return Err(OfError::BadAction(BadAction::BadSetArgument));
    }
    Ok(Action::SetField { field: f.id, value, mask, reg_load: true })
}

pub(super) fn decode_experimenter(a: &[u8], version: u8, out: &mut Vec<Action>) -> Result<(), OfError> {
    let r = Rd(a);
    if r.u32(4)? != NX_VENDOR {
        return Err(OfError::BadAction(BadAction::BadExperimenter));
    }
    let subtype = r.u16(8)?;
    let act = match subtype {
        1 | 14 => {
            let r = exact_len(a, 16)?;
            let with_table = subtype == 14;
            if with_table {
                r.zeros(13..16)?;
            }
            Action::Resubmit { in_port: r.u16(10)?, table: if with_table { r.u8(12)? } else { 0xff }, with_table }
        }
        2 => Action::SetTunnel { id: u64::from(exact_len(a, 16)?.u32(12)?), wide: false },
        9 => Action::SetTunnel { id: exact_len(a, 24)?.u64(16)?, wide: true },
        4 => Action::SetQueue(exact_len(a, 16)?.u32(12)?),
        5 => {
            exact_len(a, 16)?;
            Action::PopQueue
        }
        6 => reg_move(a, 10)?,
        27 | 28 => stack(a, subtype == 27)?,
        7 => {
            let r = exact_len(a, 24)?;
            let (f, _) = pull_field_header(&a[12..16])?;
            let dst = subfield(f, r.u16(10)?)?;
            let value = r.u64(16)?;
            if !writable(f) || (dst.n_bits < 64 && value >> dst.n_bits != 0) {
                return Err(OfError::BadAction(BadAction::BadArgument));
            }
            if u32::from(dst.ofs) + u32::from(dst.n_bits) > 128 {
                // Past the low 128 bits of a long tunnel-metadata field.
                return Err(OfError::BadAction(BadAction::BadSetLen));
            }
            let bits = if dst.n_bits >= 64 { u128::from(u64::MAX) } else { (1u128 << dst.n_bits) - 1 };
            Action::SetField { field: f.id, value: u128::from(value) << dst.ofs, mask: bits << dst.ofs, reg_load: true }
        }
        29 => {
            let r = exact_len(a, 24)?;
            Action::Sample(Sample {
                probability: r.u16(10)?,
                collector_set_id: r.u32(12)?,
                obs_domain_id: r.u32(16)?,
                obs_point_id: r.u32(20)?,
                sampling_port: 0xffff,
                direction: 0,
            })
        }
        38 | 41 => {
            let r = exact_len(a, 32)?;
            r.zeros(27..32)?;
            let direction = r.u8(26)?;
            if direction > 2 || (subtype == 38 && direction != 0) {
                return Err(OfError::BadAction(BadAction::BadArgument));
            }
            Action::Sample(Sample {
                probability: r.u16(10)?,
                collector_set_id: r.u32(12)?,
                obs_domain_id: r.u32(16)?,
                obs_point_id: r.u32(20)?,
                sampling_port: r.u16(24)?,
                direction,
            })
        }
        8 => {
            let note = a.get(10..).ok_or(OfError::BadAction(BadAction::BadLen))?.to_vec();
            Action::Note(note)
        }
        15 => {
            let r = exact_len(a, 24)?;
            let (f, _) = pull_field_header(&a[12..16])?;
            r.zeros(18..24)?;
            Action::OutputReg { src: subfield(f, r.u16(10)?)?, max_len: r.u16(16)? }
        }
        17 => {
            exact_len(a, 16)?;
            Action::Exit
        }
        18 => {
            exact_len(a, 16)?;
            Action::DecTtl { ids: vec![0], cnt_ids: false }
        }
        20 => {
            let r = exact_len(a, 16)?;
            Action::Controller {
                max_len: r.u16(10)?,
                id: r.u16(12)?,
                reason: r.u8(14)?,
                userdata: Vec::new(),
                pause: false,
                meter: 0,
                v2: false,
            }
        }
        37 => controller2(a)?,
        35 => ct(a, version)?,
        42 => {
            let r = Rd(a);
            if a.len() < 16 {
                return Err(OfError::BadAction(BadAction::BadLen));
            }
            r.zeros(10..16)?;
            Action::Clone(decode_actions(&a[16..], version)?)
        }
        36 => nat(a)?,
        16 | 45 => learn(a, subtype == 45)?,
        33 => reg_load2(a)?,
        49 => {
            if a.len() != 24 {
                return Err(OfError::BadAction(BadAction::BadLen));
            }
            let (f, l) = pull_field_header(&a[14..])?;
            r.zeros(14 + l..24)?;
            let ofs = r.u16(12)?;
            if !writable(f) || ofs >= f.bits {
                return Err(OfError::BadAction(BadAction::BadArgument));
            }
            Action::CheckPktLarger { pkt_len: r.u16(10)?, dst: Subfield { field: f.id, ofs, n_bits: 1 } }
        }
        21 => {
            let n = usize::from(r.u16(10)?);
            r.zeros(12..16)?;
            if a.len() < 16 + 2 * n {
                return Err(OfError::BadAction(BadAction::BadLen));
            }
            let ids = (0..n).map(|i| r.u16(16 + 2 * i)).collect::<Result<Vec<_>, _>>()?;
            Action::DecTtl { ids, cnt_ids: true }
        }
        22 => {
            let r = exact_len(a, 32)?;
            r.zeros(10..16)?;
            Action::WriteMetadata { value: r.u64(16)?, mask: r.u64(24)? }
        }
        34 => {
            let r = exact_len(a, 16)?;
            let (clause, n_clauses) = (r.u8(10)?, r.u8(11)?);
            if !(2..=64).contains(&n_clauses) || clause >= n_clauses {
                return Err(OfError::BadAction(BadAction::BadArgument));
            }
            Action::Conjunction { id: r.u32(12)?, clause, n_clauses }
        }
        40 => Action::Group(exact_len(a, 16)?.u32(12)?),
        43 => {
            exact_len(a, 16)?;
            Action::CtClear
        }
        _ => return Err(OfError::BadAction(BadAction::BadExpType)),
    };
    let _ = version;
    out.push(act);
    Ok(())
}

/// Decodes OpenFlow 1.1+ instructions into one list, in OVS's order:
/// meter, apply-actions, clear-actions, write-actions, write-metadata,
/// goto-table.
pub fn decode_instructions(mut b: &[u8], version: u8) -> Result<Vec<Action>, OfError> {
    let mut slots: [Option<Vec<Action>>; 7] = Default::default();
    while !b.is_empty() {
        let r = Rd(b);
        let (ty, len) = (
            r.u16(0).map_err(|_| OfError::BadInstruction(BadInstruction::BadLen))?,
            usize::from(r.u16(2).map_err(|_| OfError::BadInstruction(BadInstruction::BadLen))?),
        );
        if len < 8 || len % 8 != 0 || len > b.len() {
            return Err(OfError::BadInstruction(BadInstruction::BadLen));
        }
        let i = &b[..len];
        let r = Rd(i);
        let (order, acts) = match ty {
            6 if version < 6 => {
                if len != 8 {
                    return Err(OfError::BadInstruction(BadInstruction::BadLen));
                }
                (0, vec![Action::Meter(r.u32(4)?)])
            }
            4 => (1, decode_actions(&i[8..], version)?),
            5 => {
                if len != 8 {
                    return Err(OfError::BadInstruction(BadInstruction::BadLen));
                }
                (2, vec![Action::ClearActions])
            }
            3 => (3, vec![Action::WriteActions(decode_actions(&i[8..], version)?)]),
            2 => {
                if len != 24 {
                    return Err(OfError::BadInstruction(BadInstruction::BadLen));
                }
                (4, vec![Action::WriteMetadata { value: r.u64(8)?, mask: r.u64(16)? }])
            }
            1 => {
                if len != 8 {
                    return Err(OfError::BadInstruction(BadInstruction::BadLen));
                }
                (5, vec![Action::GotoTable(r.u8(4)?)])
            }
            0xffff => return Err(OfError::BadInstruction(BadInstruction::BadExperimenter)),
            _ => return Err(OfError::BadInstruction(BadInstruction::UnknownInst)),
        };
        if slots[order].is_some() {
            // The same instruction twice: OVS says UNSUP_INST.
            return Err(OfError::BadInstruction(BadInstruction::UnsupInst));
        }
        slots[order] = Some(acts);
        b = &b[len..];
    }
    Ok(slots.into_iter().flatten().flatten().collect())
}
