//! The Nicira actions that carry specifications of their own: `learn`
//! (the flow it adds, spec by spec), `ct` (nested actions) and `nat`
//! (its address and port ranges), with OVS's checks.

#![allow(clippy::wildcard_imports)]

use super::*;

use crate::error::BadAction;

/// A learn spec's subfield: a 4-byte NXM header and an offset.
fn learn_subfield(b: &[u8], at: &mut usize, n_bits: u16) -> Result<Subfield, OfError> {
    let (f, _) = pull_field_header(b.get(*at..*at + 4).ok_or(OfError::BadAction(BadAction::BadLen))?)?;
    let ofs = Rd(b).u16(*at + 4)?;
    *at += 6;
    if u32::from(ofs) + u32::from(n_bits) > u32::from(f.bits) {
        return Err(OfError::BadAction(BadAction::BadArgument));
    }
    Ok(Subfield { field: f.id, ofs, n_bits })
}

/// NXAST_LEARN and NXAST_LEARN2, with OVS's checks.
pub(super) fn learn(a: &[u8], v2: bool) -> Result<Action, OfError> {
    let r = Rd(a);
    let fixed = if v2 { 40 } else { 32 };
    if a.len() < fixed {
        return Err(OfError::BadAction(BadAction::BadLen));
    }
    let flags = r.u16(24)?;
    let table = r.u8(26)?;
    if r.u8(27)? != 0 || table == 0xff || flags & !if v2 { 7 } else { 3 } != 0 {
        return Err(OfError::BadAction(BadAction::BadArgument));
    }
    let mut at = fixed;
    let (limit, result_dst) = if v2 {
        r.zeros(38..40)?;
        let ofs = r.u16(36)?;
        let dst = if flags & 4 != 0 {
            let (f, l) = pull_field_header(&a[40..])?;
            at += l;
            if !writable(f) || ofs >= f.bits {
                return Err(OfError::BadAction(BadAction::BadSetArgument));
            }
            Some(Subfield { field: f.id, ofs, n_bits: 1 })
        } else if ofs != 0 {
            return Err(OfError::BadAction(BadAction::BadArgument));
        } else {
            None
        };
        (r.u32(32)?, dst)
    } else {
        (0, None)
    };
    let mut specs = Vec::new();
    while at + 2 <= a.len() {
        let header = r.u16(at)?;
        if header == 0 {
            break;
        }
        at += 2;
        let (n_bits, src_imm, dst_type) = (header & 0x3ff, header & (1 << 13) != 0, (header >> 11) & 3);
        if dst_type == 3 || (dst_type == 2 && src_imm) {
            return Err(OfError::BadAction(BadAction::BadArgument));
        }
        let src = if src_imm {
            let wire = 2 * usize::from(n_bits).div_ceil(16);
            let bytes = usize::from(n_bits).div_ceil(8);
            let imm = a.get(at..at + wire).ok_or(OfError::BadAction(BadAction::BadLen))?;
            at += wire;
            Err(imm[wire - bytes..].to_vec())
        } else {
            Ok(learn_subfield(a, &mut at, n_bits)?)
        };
        let dst = if dst_type < 2 { Some(learn_subfield(a, &mut at, n_bits)?) } else { None };
        specs.push(LearnSpec { n_bits, src, dst_type, dst });
    }
    r.zeros(at.min(a.len())..a.len())?;
    Ok(Action::Learn(Box::new(Learn {
        idle_timeout: r.u16(10)?,
        hard_timeout: r.u16(12)?,
        priority: r.u16(14)?,
        cookie: r.u64(16)?,
        flags,
        table,
        fin_idle_timeout: r.u16(28)?,
        fin_hard_timeout: r.u16(30)?,
        limit,
        result_dst,
        v2,
        specs,
    })))
}

/// NXAST_CT and its nested actions, with OVS's checks.
pub(super) fn ct(a: &[u8], version: u8) -> Result<Action, OfError> {
    let r = Rd(a);
    if a.len() < 24 {
        return Err(OfError::BadAction(BadAction::BadLen));
    }
    let flags = r.u16(10)?;
    if flags & !3 != 0 || (flags & 2 != 0 && flags & 1 == 0) {
        return Err(OfError::BadAction(BadAction::BadArgument));
    }
    let zone_header = r.u32(12)?;
    let (zone_src, zone_imm) = if zone_header != 0 {
        let (f, _) = pull_field_header(&a[12..16])?;
        let sf = subfield(f, r.u16(16)?)?;
        if sf.n_bits != 16 {
            return Err(OfError::BadAction(BadAction::BadSetLen));
        }
        (Some(sf), 0)
    } else {
        (None, r.u16(16)?)
    };
    r.zeros(19..22)?;
    let actions = decode_actions(&a[24..], version)?;
    // Without commit, only a NAT without arguments may be nested.
    if flags & 1 == 0 && actions.iter().any(|x| !matches!(x, Action::Nat { flags: 0, present: 0, .. })) {
        return Err(OfError::BadAction(BadAction::BadArgument));
    }
    Ok(Action::Ct { flags, zone_src, zone_imm, table: r.u8(18)?, alg: r.u16(22)?, actions })
}

/// NXAST_NAT, with OVS's checks of flags and ranges.
pub(super) fn nat(a: &[u8]) -> Result<Action, OfError> {
    const SRC: u16 = 1;
    const DST: u16 = 2;
    const HASH: u16 = 8;
    const RANDOM: u16 = 16;
    let r = Rd(a);
    r.zeros(10..12)?;
    let flags = r.u16(12)?;
    let present = r.u16(14)?;
    if flags & !0x3f != 0 || (flags & SRC != 0 && flags & DST != 0) || (flags & HASH != 0 && flags & RANDOM != 0) {
        return Err(OfError::BadAction(BadAction::BadArgument));
    }
    let opts = a.get(16..).unwrap_or_default();
    let mut at = 0;
    let mut take = |n: usize| -> Result<&[u8], OfError> {
        let v = opts.get(at..at + n).ok_or(OfError::BadAction(BadAction::BadArgument))?;
        at += n;
        Ok(v)
    };
    let bad = OfError::BadAction(BadAction::BadArgument);
    let (v4min, v4max, v6min, v6max, pmin, pmax) = (1, 2, 4, 8, 16, 32);
    let mut af = false;
    if present & v4min != 0 {
        if present & (v6min | v6max) != 0 {
            return Err(bad);
        }
        let min = be(take(4)?);
        if min == 0 {
            return Err(bad);
        }
        if present & v4max != 0 && be(take(4)?) < min {
            return Err(bad);
        }
        af = true;
    } else if present & v4max != 0 {
        return Err(bad);
    } else if present & v6min != 0 {
        let min = be(take(16)?);
        if min == 0 {
            return Err(bad);
        }
        if present & v6max != 0 && be(take(16)?) < min {
            return Err(bad);
        }
        af = true;
    } else if present & v6max != 0 {
        return Err(bad);
    }
    if present & pmin != 0 {
        let min = be(take(2)?);
        if !af || min == 0 {
            return Err(bad);
        }
        if present & pmax != 0 && be(take(2)?) < min {
            return Err(bad);
        }
    } else if present & pmax != 0 {
        return Err(bad);
    }
    Ok(Action::Nat { flags, present: present & 0x3f, range: opts[..at].to_vec() })
}
