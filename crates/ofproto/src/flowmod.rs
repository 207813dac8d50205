//! The flow-table messages: FLOW_MOD in OpenFlow 1.0 (fixed match),
//! Nicira's NXT_FLOW_MOD (NXM match) and OpenFlow 1.3/1.5 (OXM match
//! and instructions); flow and aggregate statistics requests (Nicira's
//! NXST_FLOW/NXST_AGGREGATE and the 1.3/1.5 multipart ones) and their
//! replies, split into as many messages as 64 KiB requires.
//!
//! Field by field this follows OVS's `ofputil_decode_flow_mod`, so that
//! cookies, table ids and priorities mean what they mean to OVS.

use std::time::Instant;

use crate::actions::{self, Context};
use crate::error::{BadAction, BadMatch, BadRequest, FlowModFailed};
use crate::flowmatch::{self, ofp10, port_from_ofp11, Match, TlvMap};
use crate::table::{flags, Command, Criteria, FlowMod, Rule, ALL_TABLES, ANY_GROUP};
use crate::wire::{u16_at, u32_at, u64_at, OfError, HEADER_LEN, OFP10};

/// OpenFlow 1.5.
pub const OFP15: u8 = 0x06;

/// Flow-mod flags of `version` in OpenFlow 1.3's positions, as OVS's
/// `ofputil_decode_flow_mod_flags`: in 1.0 (and 1.1) an add always resets
/// the counters; a flag the version does not have is BAD_FLAGS.
fn decode_flags(raw: u16, version: u8, command: Command) -> Result<u16, OfError> {
    const EMERG: u16 = 1 << 2;
    let known = if version == OFP10 { flags::SEND_FLOW_REM | flags::CHECK_OVERLAP | EMERG } else { 0x1f };
    if raw & !known != 0 {
        return Err(OfError::FlowModFailed(FlowModFailed::BadFlags));
    }
    if version == OFP10 {
        let f = raw & (flags::SEND_FLOW_REM | flags::CHECK_OVERLAP);
        return Ok(if command == Command::Add { f | flags::RESET_COUNTS } else { f });
    }
    Ok(raw)
}

/// Splits a 1.0 `command` into command and table when the Nicira
/// flow-mod-table-id extension is on.
fn command_and_table(raw: u16, tid: bool) -> Result<(Command, u8), OfError> {
    let (c, t) = if tid { (raw & 0xff, (raw >> 8) as u8) } else { (raw, ALL_TABLES) };
    let c = u8::try_from(c).ok().and_then(Command::from_wire).ok_or(OfError::FlowModFailed(FlowModFailed::BadCommand))?;
    Ok((c, t))
}

/// Clears fields whose prerequisites a 1.0 match lacks (OVS's
/// `ofputil_normalize_match`: a 1.0 switch ignores them).
fn normalize10(m: &mut Match) {
    use flowmatch::slot;
    let dl_type = if m.slot_mask(slot::DL_TYPE) != 0 { m.slot_value(slot::DL_TYPE) } else { 0 };
    let ip = dl_type == 0x0800;
    let arp = matches!(dl_type, 0x0806 | 0x8035);
    let proto = m.slot_value(slot::NW_PROTO);
    let l4 = ip && m.slot_mask(slot::NW_PROTO) != 0 && matches!(proto, 1 | 6 | 17 | 132);
    let mut clear = |s: flowmatch::Slot| m.clear(s);
    if !ip && !arp {
        for s in [slot::NW_SRC, slot::NW_DST, slot::NW_PROTO] {
            clear(s);
        }
    }
    if !ip {
        clear(slot::NW_TOS);
    }
    if !l4 {
        clear(slot::TP_SRC);
        clear(slot::TP_DST);
    }
}

/// Decodes OFPT_FLOW_MOD of `version` (`tid`: the 1.0 table-id extension).
pub fn decode_flow_mod(msg: &[u8], version: u8, tid: bool, tlv: &TlvMap) -> Result<FlowMod, OfError> {
    let b = &msg[HEADER_LEN.min(msg.len())..];
    if version == OFP10 {
        let mut m = ofp10::decode(b)?;
        normalize10(&mut m);
        // 1.0 says exact-match rules have the highest priority.
        let exact = u32_at(b, 0)? & 0x3f_ffff == 0;
        return decode_of10_body(b, ofp10::LEN, m, (0, 0), tid, exact, b.get(ofp10::LEN + 24..).unwrap_or_default());
    }
    let cookie = u64_at(b, 0)?;
    let cookie_mask = u64_at(b, 8)?;
    let table_id = *b.get(16).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
    let raw_command = *b.get(17).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
    let command = Command::from_wire(raw_command).ok_or(OfError::FlowModFailed(FlowModFailed::BadCommand))?;
    let (m, used) = flowmatch::decode_oxm_match_tlv(b.get(40..).ok_or(OfError::BadRequest(BadRequest::BadLen))?, tlv)?;
    let is_delete = matches!(command, Command::Delete | Command::DeleteStrict);
    if table_id == ALL_TABLES && !is_delete {
        return Err(OfError::FlowModFailed(FlowModFailed::BadTableId));
    }
    let (cookie, cookie_mask, new_cookie) = if command == Command::Add { (0, 0, cookie) } else { (cookie, cookie_mask, u64::MAX) };
    Ok(FlowMod {
        command,
        table_id,
        m,
        priority: u16_at(b, 22)?,
        cookie,
        cookie_mask,
        new_cookie,
        modify_cookie: false,
        idle_timeout: u16_at(b, 18)?,
        hard_timeout: u16_at(b, 20)?,
        importance: if version >= 5 && command == Command::Add { u16_at(b, 38)? } else { 0 },
        flags: decode_flags(u16_at(b, 36)?, version, command)?,
        buffer_id: u32_at(b, 24)?,
        out_port: port_from_ofp11(u32_at(b, 28)?).ok_or(OfError::BadAction(BadAction::BadOutPort))?,
        out_group: if is_delete { u32_at(b, 32)? } else { ANY_GROUP },
        actions: actions::decode_instructions(&b[40 + used..], version)?,
    })
}

/// Nicira message subtypes.
pub mod nxt {
    /// NXT_FLOW_MOD.
    pub const FLOW_MOD: u32 = 13;
    /// NXT_SET_FLOW_FORMAT.
    pub const SET_FLOW_FORMAT: u32 = 12;
    /// NXT_FLOW_MOD_TABLE_ID.
    pub const FLOW_MOD_TABLE_ID: u32 = 15;
    /// NXT_TLV_TABLE_MOD.
    pub const TLV_TABLE_MOD: u32 = 24;
    /// NXT_TLV_TABLE_REQUEST.
    pub const TLV_TABLE_REQUEST: u32 = 25;
    /// NXT_TLV_TABLE_REPLY.
    pub const TLV_TABLE_REPLY: u32 = 26;
    /// NXT_SET_ASYNC_CONFIG.
    pub const SET_ASYNC_CONFIG: u32 = 19;
    /// NXT_SET_PACKET_IN_FORMAT.
    pub const SET_PACKET_IN_FORMAT: u32 = 16;
    /// NXT_SET_CONTROLLER_ID.
    pub const SET_CONTROLLER_ID: u32 = 20;
    /// NXT_ROLE_REQUEST (the reply is the next subtype).
    pub const ROLE_REQUEST: u32 = 10;
    /// NXT_FLOW_REMOVED.
    pub const FLOW_REMOVED: u32 = 14;
    /// NXT_GROUP_MOD (1.5's group mod over 1.0).
    pub const GROUP_MOD: u32 = 31;
}

/// Decodes NXT_FLOW_MOD (`msg` is the whole message).
pub fn decode_nx_flow_mod(msg: &[u8], tid: bool, tlv: &TlvMap) -> Result<FlowMod, OfError> {
    // ofp header, vendor, subtype: 16 bytes; then nx_flow_mod's 32.
    let b = msg.get(16..).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
    let match_len = usize::from(u16_at(b, 24)?);
    let nx = b.get(32..32 + match_len).ok_or(OfError::BadMatch(BadMatch::BadLen))?;
    if b.len() < 32 + match_len.div_ceil(8) * 8 {
        return Err(OfError::BadMatch(BadMatch::BadLen));
    }
    let (m, cookie) = flowmatch::decode_nx_match_tlv(nx, true, tlv)?;
    decode_of10_body(b, 0, m, cookie, tid, false, &b[32 + match_len.div_ceil(8) * 8..])
}

/// The body OpenFlow 1.0's flow mod and Nicira's share, from `at`: cookie,
/// command, idle and hard timeouts, priority, buffer id, out port, flags.
fn decode_of10_body(
    b: &[u8],
    at: usize,
    m: Match,
    (cookie, cookie_mask): (u64, u64),
    tid: bool,
    exact: bool,
    actions: &[u8],
) -> Result<FlowMod, OfError> {
    let (command, table_id) = command_and_table(u16_at(b, at + 8)?, tid)?;
    if command == Command::Add && cookie_mask != 0 {
        // OVS: NXBRC_NXM_INVALID; adds set a cookie, they do not match one.
        return Err(OfError::BadMatch(BadMatch::BadField));
    }
    let new_cookie = u64_at(b, at)?;
    Ok(FlowMod {
        command,
        table_id,
        m,
        priority: if exact { u16::MAX } else { u16_at(b, at + 14)? },
        cookie,
        cookie_mask,
        new_cookie,
        modify_cookie: new_cookie != u64::MAX,
        idle_timeout: u16_at(b, at + 10)?,
        hard_timeout: u16_at(b, at + 12)?,
        importance: 0,
        flags: decode_flags(u16_at(b, at + 22)?, OFP10, command)?,
        buffer_id: u32_at(b, at + 16)?,
        out_port: u16_at(b, at + 20)?,
        out_group: ANY_GROUP,
        actions: actions::decode_actions(actions, OFP10)?,
    })
}

/// Which flow statistics format a request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsFormat {
    /// NXST_FLOW (OpenFlow 1.0 with NXM).
    Nx,
    /// OpenFlow 1.3's ofp_flow_stats (or 1.4 with importance).
    Of13(u8),
    /// OpenFlow 1.5's ofp_flow_desc.
    Of15,
}

/// Decodes the body of NXST_FLOW/NXST_AGGREGATE (after the 24-byte
/// Nicira statistics header).
pub fn decode_nx_stats_request(b: &[u8], tlv: &TlvMap) -> Result<Criteria, OfError> {
    let out_port = u16_at(b, 0)?;
    let match_len = usize::from(u16_at(b, 2)?);
    let table_id = *b.get(4).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
    let nx = b.get(8..8 + match_len).ok_or(OfError::BadMatch(BadMatch::BadLen))?;
    let (m, (cookie, cookie_mask)) = flowmatch::decode_nx_match_tlv(nx, true, tlv)?;
    Ok(Criteria { table_id, m, priority: 0, strict: false, cookie, cookie_mask, out_port, out_group: ANY_GROUP })
}

/// Decodes the body of a 1.3/1.5 flow or aggregate multipart request.
pub fn decode_of13_stats_request(b: &[u8], tlv: &TlvMap) -> Result<Criteria, OfError> {
    let table_id = *b.first().ok_or(OfError::BadRequest(BadRequest::BadLen))?;
    let out_port = port_from_ofp11(u32_at(b, 4)?).ok_or(OfError::BadAction(BadAction::BadOutPort))?;
    let (m, _) = flowmatch::decode_oxm_match_tlv(b.get(32..).ok_or(OfError::BadRequest(BadRequest::BadLen))?, tlv)?;
    Ok(Criteria {
        table_id,
        m,
        priority: 0,
        strict: false,
        cookie: u64_at(b, 16)?,
        cookie_mask: u64_at(b, 24)?,
        out_port,
        out_group: u32_at(b, 8)?,
    })
}

fn duration(r: &Rule, now: Instant) -> (u32, u32) {
    let d = now.saturating_duration_since(r.created);
    (d.as_secs() as u32, d.subsec_nanos())
}

/// A flow statistics entry for `rule` in table `table_id`.
pub fn encode_flow_stats(rule: &Rule, table_id: u8, format: StatsFormat, now: Instant, tlv: &TlvMap) -> Vec<u8> {
    let ctx = Context::of(&rule.m).with_tlv(tlv);
    let (sec, nsec) = duration(rule, now);
    let age = |since: Instant| {
        let a = now.saturating_duration_since(since).as_secs();
        (a + 1).min(u64::from(u16::MAX)) as u16
    };
    // The fields NXST_FLOW and 1.3's ofp_flow_stats place alike.
    let common = |out: &mut Vec<u8>| {
        out[2] = table_id;
        out[4..8].copy_from_slice(&sec.to_be_bytes());
        out[8..12].copy_from_slice(&nsec.to_be_bytes());
        out[12..14].copy_from_slice(&rule.priority.to_be_bytes());
        out[14..16].copy_from_slice(&rule.idle_timeout.to_be_bytes());
        out[16..18].copy_from_slice(&rule.hard_timeout.to_be_bytes());
        out[24..32].copy_from_slice(&rule.cookie.to_be_bytes());
        out[32..40].copy_from_slice(&rule.packet_count().to_be_bytes());
        out[40..48].copy_from_slice(&rule.byte_count().to_be_bytes());
    };
    let mut out = Vec::with_capacity(128);
    match format {
        StatsFormat::Nx => {
            out.resize(48, 0);
            let match_len = flowmatch::encode_entries(&rule.m, 0, &mut out);
            out.resize(48 + match_len.div_ceil(8) * 8, 0);
            actions::encode_actions(&rule.actions, OFP10, ctx, &mut out);
            common(&mut out);
            out[18..20].copy_from_slice(&(match_len as u16).to_be_bytes());
            out[20..22].copy_from_slice(&age(rule.last_used()).to_be_bytes());
            out[22..24].copy_from_slice(&age(rule.modified).to_be_bytes());
        }
        StatsFormat::Of13(version) => {
            out.resize(48, 0);
            flowmatch::encode_oxm_match(&rule.m, version, &mut out);
            actions::encode_instructions(&rule.actions, version, ctx, &mut out);
            common(&mut out);
            out[18..20].copy_from_slice(&rule.flags.to_be_bytes());
            if version >= 5 {
                out[20..22].copy_from_slice(&rule.importance.to_be_bytes());
            }
        }
        StatsFormat::Of15 => {
            out.resize(24, 0);
            flowmatch::encode_oxm_match(&rule.m, OFP15, &mut out);
            // OXS statistics: duration, idle time, packets, bytes.
            let at = out.len();
            out.extend_from_slice(&[0, 0, 0, 0]);
            let idle = now.saturating_duration_since(rule.last_used()).as_secs() as u32;
            for (field, value) in [
                (0u8, u64::from(sec) << 32 | u64::from(nsec)),
                (1, u64::from(idle) << 32),
                (4, rule.packet_count()),
                (5, rule.byte_count()),
            ] {
                out.extend_from_slice(&[0x80, 0x02, field << 1, 8]);
                out.extend_from_slice(&value.to_be_bytes());
            }
            let len = (out.len() - at) as u16;
            out[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
            out.resize(at + usize::from(len).div_ceil(8) * 8, 0);
            actions::encode_instructions(&rule.actions, OFP15, ctx, &mut out);
            out[4] = table_id;
            out[6..8].copy_from_slice(&rule.priority.to_be_bytes());
            out[8..10].copy_from_slice(&rule.idle_timeout.to_be_bytes());
            out[10..12].copy_from_slice(&rule.hard_timeout.to_be_bytes());
            out[12..14].copy_from_slice(&rule.flags.to_be_bytes());
            out[14..16].copy_from_slice(&rule.importance.to_be_bytes());
            out[16..24].copy_from_slice(&rule.cookie.to_be_bytes());
        }
    }
    let len = out.len() as u16;
    out[0..2].copy_from_slice(&len.to_be_bytes());
    out
}

/// Packs multipart reply entries into messages of at most 64 KiB: each
/// message is `head` (the statistics header, its length fixed by the
/// caller's `message` function) followed by whole entries, and every
/// message but the last has the "more" flag (bit 0 of the 16-bit flags at
/// `flags_at` within `head`).
pub fn pack_multipart(head: &[u8], flags_at: usize, entries: &[Vec<u8>], build: impl Fn(&[u8]) -> Vec<u8>) -> Vec<Vec<u8>> {
    let room = crate::wire::MAX_LEN - HEADER_LEN - head.len();
    let mut bodies: Vec<Vec<u8>> = vec![head.to_vec()];
    for e in entries {
        let Some(last) = bodies.last_mut() else { break };
        if last.len() - head.len() + e.len() > room {
            bodies.push(head.to_vec());
        }
        if let Some(last) = bodies.last_mut() {
            last.extend_from_slice(e);
        }
    }
    let n = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, mut b)| {
            if i + 1 < n {
                b[flags_at + 1] |= 1;
            }
            build(&b)
        })
        .collect()
}

/// An aggregate statistics reply body: packets, bytes, flows.
pub fn encode_aggregate(rules: &[&Rule]) -> Vec<u8> {
    let packets: u64 = rules.iter().map(|r| r.packet_count()).sum();
    let bytes: u64 = rules.iter().map(|r| r.byte_count()).sum();
    let mut out = packets.to_be_bytes().to_vec();
    out.extend_from_slice(&bytes.to_be_bytes());
    out.extend_from_slice(&(rules.len() as u32).to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out
}

/// FLOW_REMOVED for a removed rule, in `version`; over 1.0, Nicira's
/// NXT_FLOW_REMOVED when the connection chose NXM (`nxm`), else 1.0's own
/// with the fixed match.
pub fn encode_flow_removed(r: &crate::table::Removed, version: u8, nxm: bool, now: Instant) -> Vec<u8> {
    use crate::wire::{message, ty, OFP15};
    let rule = &r.rule;
    let (sec, nsec) = duration(rule, now);
    let mut b = Vec::with_capacity(128);
    if version >= OFP15 {
        b.push(r.table_id);
        b.push(r.reason);
        b.extend_from_slice(&rule.priority.to_be_bytes());
        b.extend_from_slice(&rule.idle_timeout.to_be_bytes());
        b.extend_from_slice(&rule.hard_timeout.to_be_bytes());
        b.extend_from_slice(&rule.cookie.to_be_bytes());
        flowmatch::encode_oxm_match(&rule.m, version, &mut b);
        let at = b.len();
        b.extend_from_slice(&[0, 0, 0, 0]);
        for (field, value) in [(0u8, u64::from(sec) << 32 | u64::from(nsec)), (4, rule.packet_count()), (5, rule.byte_count())] {
            b.extend_from_slice(&[0x80, 0x02, field << 1, 8]);
            b.extend_from_slice(&value.to_be_bytes());
        }
        let len = (b.len() - at) as u16;
        b[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
        b.resize(at + usize::from(len).div_ceil(8) * 8, 0);
        return message(version, ty::FLOW_REMOVED, 0, &b);
    }
    // The fields 1.3's FLOW_REMOVED and Nicira's begin with alike.
    let head = |b: &mut Vec<u8>| {
        b.extend_from_slice(&rule.cookie.to_be_bytes());
        b.extend_from_slice(&rule.priority.to_be_bytes());
        b.push(r.reason);
        b.push(r.table_id);
        b.extend_from_slice(&sec.to_be_bytes());
        b.extend_from_slice(&nsec.to_be_bytes());
        b.extend_from_slice(&rule.idle_timeout.to_be_bytes());
    };
    if version > OFP10 {
        head(&mut b);
        b.extend_from_slice(&rule.hard_timeout.to_be_bytes());
        b.extend_from_slice(&rule.packet_count().to_be_bytes());
        b.extend_from_slice(&rule.byte_count().to_be_bytes());
        flowmatch::encode_oxm_match(&rule.m, version, &mut b);
        return message(version, ty::FLOW_REMOVED, 0, &b);
    }
    if nxm {
        b.extend_from_slice(&crate::actions::NX_VENDOR.to_be_bytes());
        b.extend_from_slice(&nxt::FLOW_REMOVED.to_be_bytes());
        head(&mut b);
        let len_at = b.len();
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&rule.packet_count().to_be_bytes());
        b.extend_from_slice(&rule.byte_count().to_be_bytes());
        let match_len = flowmatch::encode_entries(&rule.m, 0, &mut b);
        b[len_at..len_at + 2].copy_from_slice(&(match_len as u16).to_be_bytes());
        b.resize(b.len().div_ceil(8) * 8, 0);
        return message(version, ty::EXPERIMENTER, 0, &b);
    }
    b.extend_from_slice(&ofp10::encode(&rule.m));
    b.extend_from_slice(&rule.cookie.to_be_bytes());
    b.extend_from_slice(&rule.priority.to_be_bytes());
    b.push(r.reason);
    b.push(0);
    b.extend_from_slice(&sec.to_be_bytes());
    b.extend_from_slice(&nsec.to_be_bytes());
    b.extend_from_slice(&rule.idle_timeout.to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&rule.packet_count().to_be_bytes());
    b.extend_from_slice(&rule.byte_count().to_be_bytes());
    message(version, ty::FLOW_REMOVED, 0, &b)
}
