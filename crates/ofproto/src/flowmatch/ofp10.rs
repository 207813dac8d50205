//! OpenFlow 1.0's fixed `ofp_match` (40 bytes).

use super::*;

use crate::error::BadMatch;

/// Its size.
pub const LEN: usize = 40;
const FW_IN_PORT: u32 = 1 << 0;
const FW_DL_VLAN: u32 = 1 << 1;
const FW_DL_SRC: u32 = 1 << 2;
const FW_DL_DST: u32 = 1 << 3;
const FW_DL_TYPE: u32 = 1 << 4;
const FW_NW_PROTO: u32 = 1 << 5;
const FW_TP_SRC: u32 = 1 << 6;
const FW_TP_DST: u32 = 1 << 7;
const FW_NW_SRC_SHIFT: u32 = 8;
const FW_NW_DST_SHIFT: u32 = 14;
const FW_DL_VLAN_PCP: u32 = 1 << 20;
const FW_NW_TOS: u32 = 1 << 21;
const VLAN_NONE: u16 = 0xffff;

fn netmask(wcbits: u32) -> u128 {
    let bits = wcbits & 0x3f;
    if bits >= 32 {
        0
    } else {
        u128::from(u32::MAX << bits)
    }
}

/// Decodes the fixed match as OVS's `ofputil_match_from_ofp10_match`.
pub fn decode(b: &[u8]) -> Result<Match, OfError> {
    let b = b.get(..LEN).ok_or(OfError::BadMatch(BadMatch::BadLen))?;
    let u16_at = |i: usize| u128::from(u16::from_be_bytes([b[i], b[i + 1]]));
    let u32_at = |i: usize| u128::from(u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
    let fw = u32_at(0) as u32;
    let mut m = Match::catchall();
    let exact = |bit: u32, bytes: u8| if fw & bit == 0 { full(bytes) } else { 0 };
    m.set_slot(slot::IN_PORT, u16_at(4), exact(FW_IN_PORT, 2));
    m.set_slot(slot::DL_SRC, be(&b[6..12]), exact(FW_DL_SRC, 6));
    m.set_slot(slot::DL_DST, be(&b[12..18]), exact(FW_DL_DST, 6));
    let dl_type = u16_at(22);
    // 0x05ff means "not Ethernet II" in OpenFlow 1.0; OVS's 802.2 type.
    let dl_type = if dl_type == 0x05ff { 0x05ff } else { dl_type };
    m.set_slot(slot::DL_TYPE, dl_type, exact(FW_DL_TYPE, 2));
    m.set_slot(slot::NW_TOS, u128::from(b[24]) & 0xfc, if fw & FW_NW_TOS == 0 { 0xfc } else { 0 });
    m.set_slot(slot::NW_PROTO, u128::from(b[25]), exact(FW_NW_PROTO, 1));
    m.set_slot(slot::NW_SRC, u32_at(28), netmask(fw >> FW_NW_SRC_SHIFT));
    m.set_slot(slot::NW_DST, u32_at(32), netmask(fw >> FW_NW_DST_SHIFT));
    m.set_slot(slot::TP_SRC, u16_at(36), exact(FW_TP_SRC, 2));
    m.set_slot(slot::TP_DST, u16_at(38), exact(FW_TP_DST, 2));
    let dl_vlan = u16_at(18) as u16;
    if fw & FW_DL_VLAN == 0 && dl_vlan == VLAN_NONE {
        m.set_slot(slot::VLAN_TCI, 0, 0xffff);
    } else {
        let mut mask = 0;
        if fw & FW_DL_VLAN_PCP == 0 {
            mask |= VLAN_PCP_MASK | VLAN_CFI;
        }
        if fw & FW_DL_VLAN == 0 {
            mask |= 0x0fff | VLAN_CFI;
        }
        let tci = u128::from(dl_vlan & 0x0fff) | (u128::from(b[20]) << 13 & VLAN_PCP_MASK) | VLAN_CFI;
        m.set_slot(slot::VLAN_TCI, tci, mask);
    }
    Ok(m)
}

/// Encodes a match as 1.0's fixed match, as OVS's
/// `ofputil_match_to_ofp10_match`: what 1.0 cannot say (registers,
/// IPv6, arbitrary masks…) is left out, so the result may match more.
pub fn encode(m: &Match) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    let mut fw: u32 = FW_DL_VLAN_PCP | FW_NW_TOS;
    let exact = |s: Slot| m.slot_mask(s) == full(s.len);
    let mut put = |at: usize, s: Slot, bit: u32, fw: &mut u32| {
        if exact(s) {
            put_be(&mut b[at..at + usize::from(s.len)], m.slot_value(s));
        } else {
            *fw |= bit;
        }
    };
    put(4, slot::IN_PORT, FW_IN_PORT, &mut fw);
    put(6, slot::DL_SRC, FW_DL_SRC, &mut fw);
    put(12, slot::DL_DST, FW_DL_DST, &mut fw);
    put(22, slot::DL_TYPE, FW_DL_TYPE, &mut fw);
    put(25, slot::NW_PROTO, FW_NW_PROTO, &mut fw);
    put(36, slot::TP_SRC, FW_TP_SRC, &mut fw);
    put(38, slot::TP_DST, FW_TP_DST, &mut fw);
    let (tci, tci_mask) = (m.slot_value(slot::VLAN_TCI), m.slot_mask(slot::VLAN_TCI));
    if tci_mask == 0xffff && tci == 0 {
        b[18..20].copy_from_slice(&VLAN_NONE.to_be_bytes());
    } else {
        if tci_mask & 0x1fff == 0x1fff {
            b[18..20].copy_from_slice(&((tci & 0xfff) as u16).to_be_bytes());
        } else {
            fw |= FW_DL_VLAN;
        }
        if tci_mask & VLAN_PCP_MASK == VLAN_PCP_MASK {
            b[20] = (tci >> 13) as u8;
            fw &= !FW_DL_VLAN_PCP;
        }
    }
    if m.slot_mask(slot::NW_TOS) & 0xfc == 0xfc {
        b[24] = m.slot_value(slot::NW_TOS) as u8 & 0xfc;
        fw &= !FW_NW_TOS;
    }
    for (at, s, shift) in [(28, slot::NW_SRC, FW_NW_SRC_SHIFT), (32, slot::NW_DST, FW_NW_DST_SHIFT)] {
        let mask = m.slot_mask(s) as u32;
        let wild = if mask.leading_ones() + mask.trailing_zeros() == 32 { mask.trailing_zeros() } else { 32 };
        fw |= wild << shift;
        put_be(&mut b[at..at + 4], m.slot_value(s) & u128::from(mask));
    }
    b[..4].copy_from_slice(&fw.to_be_bytes());
    b
}
