//! Groups and meters: GROUP_MOD (OpenFlow 1.1–1.4 buckets and 1.5's
//! with bucket ids and properties, including Netronome's
//! `selection_method` property that OVS uses), METER_MOD, and their
//! description replies, stored and encoded as OVS stores and encodes them.
//!
//! Meters are stored and listed, and each has its token buckets
//! ([`dataplane::Meter`]) that the megaflows of rules using it share; like
//! OVS's userspace datapath, ferrovs accepts only the `drop` band type.
//! Translation (`xlate`) carries out groups and emits the datapath's
//! `meter` action.

use std::collections::BTreeMap;

use crate::actions::{self, Action, Context};
use crate::error::{BadAction, BadMatch, BadRequest, GroupModFailed, MeterModFailed};
use crate::flowmatch::{self, Mff};
use crate::wire::{u16_at, u32_at, u64_at, OfError};

/// "All groups".
pub const GROUP_ALL: u32 = 0xffff_fffc;
/// "Any group" (no watch group).
pub const GROUP_ANY: u32 = 0xffff_ffff;
/// The largest group id.
pub const GROUP_MAX: u32 = 0xffff_ff00;
/// "Any port" (no watch port), OVS's 16-bit numbering.
pub const PORT_ANY: u16 = 0xffff;
/// "All meters".
pub const METER_ALL: u32 = 0xffff_ffff;
/// The largest meter id, as OVS's userspace datapath.
pub const METER_MAX: u32 = 262_144;
/// Bands per meter, as OVS.
pub const MAX_BANDS: usize = 8;

/// Netronome's experimenter id (the `selection_method` property).
const NTR_VENDOR: u32 = 0x0000_154d;

/// A bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Bucket id (1.5; assigned in order otherwise).
    pub id: u32,
    /// Weight (select groups).
    pub weight: u16,
    /// Port whose liveness the bucket follows (fast failover).
    pub watch_port: u16,
    /// Group whose liveness the bucket follows.
    pub watch_group: u32,
    /// Actions.
    pub actions: Vec<Action>,
}

/// OVS's `selection_method` group property (1.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// "hash" or "dp_hash".
    pub method: String,
    /// Method parameter.
    pub param: u64,
    /// Fields hashed, each with its mask (all ones: the whole field).
    pub fields: Vec<(Mff, u128)>,
}

/// A group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Id.
    pub id: u32,
    /// Type: all 0, select 1, indirect 2, fast failover 3.
    pub ty: u8,
    /// Buckets.
    pub buckets: Vec<Bucket>,
    /// Selection method, if given.
    pub selection: Option<Selection>,
}

/// A decoded GROUP_MOD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMod {
    /// Command: add 0, modify 1, delete 2, (1.5) insert bucket 3, remove bucket 5.
    pub command: u16,
    /// The group.
    pub group: Group,
}

fn watch_port(p: u32) -> Result<u16, OfError> {
    flowmatch::port_from_ofp11(p).ok_or(OfError::GroupModFailed(GroupModFailed::BadBucket))
}

/// Decodes GROUP_MOD's body (after the header) of `version`: the 1.5
/// layout from 1.5 on, or in Nicira's NXT_GROUP_MOD (`nx`, with 1.0's
/// actions); 1.1's before.
pub fn decode_group_mod(b: &[u8], version: u8, nx: bool) -> Result<GroupMod, OfError> {
    let command = u16_at(b, 0)?;
    let ty = *b.get(2).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
    let id = u32_at(b, 4)?;
    if ty > 3 {
        return Err(OfError::GroupModFailed(GroupModFailed::BadType));
    }
    let mut group = Group { id, ty, buckets: Vec::new(), selection: None };
    if version < 6 && !nx {
        let mut rest = b.get(8..).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
        while !rest.is_empty() {
            let len = usize::from(u16_at(rest, 0)?);
            if len < 16 || len > rest.len() || len % 8 != 0 {
                return Err(OfError::GroupModFailed(GroupModFailed::BadBucket));
            }
            group.buckets.push(Bucket {
                id: group.buckets.len() as u32,
                weight: u16_at(rest, 2)?,
                watch_port: watch_port(u32_at(rest, 4)?)?,
                watch_group: u32_at(rest, 8)?,
                actions: actions::decode_actions(&rest[16..len], version)?,
            });
            rest = &rest[len..];
        }
        return Ok(GroupMod { command, group });
    }
    let buckets_len = usize::from(u16_at(b, 8)?);
    let buckets = b.get(16..16 + buckets_len).ok_or(OfError::GroupModFailed(GroupModFailed::BadBucket))?;
    group.buckets = decode_buckets15(buckets, ty, version)?;
    group.selection = decode_group_props(&b[16 + buckets_len..], version)?;
    Ok(GroupMod { command, group })
}

fn decode_buckets15(mut rest: &[u8], ty: u8, version: u8) -> Result<Vec<Bucket>, OfError> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = usize::from(u16_at(rest, 0)?);
        let actions_len = usize::from(u16_at(rest, 2)?);
        if len < 8 || len > rest.len() || 8 + actions_len > len {
            return Err(OfError::GroupModFailed(GroupModFailed::BadBucket));
        }
        let mut bucket = Bucket {
            id: u32_at(rest, 4)?,
            weight: u16::from(ty == 1),
            watch_port: PORT_ANY,
            watch_group: GROUP_ANY,
            actions: actions::decode_actions(&rest[8..8 + actions_len], version)?,
        };
        let mut props = &rest[8 + actions_len..len];
        while !props.is_empty() {
            let (pty, plen) = (u16_at(props, 0)?, usize::from(u16_at(props, 2)?));
            if plen < 4 || plen.div_ceil(8) * 8 > props.len() {
                return Err(OfError::GroupModFailed(GroupModFailed::BadBucket));
            }
            match pty {
                0 => bucket.weight = u16_at(props, 4)?,
                1 => bucket.watch_port = watch_port(u32_at(props, 4)?)?,
                2 => bucket.watch_group = u32_at(props, 4)?,
                _ => return Err(OfError::GroupModFailed(GroupModFailed::BadBucket)),
            }
            props = &props[plen.div_ceil(8) * 8..];
        }
        out.push(bucket);
        rest = &rest[len..];
    }
    Ok(out)
}

fn decode_group_props(mut props: &[u8], version: u8) -> Result<Option<Selection>, OfError> {
    let mut selection = None;
    while !props.is_empty() {
        let (ty, len) = (u16_at(props, 0)?, usize::from(u16_at(props, 2)?));
        if len < 4 || len.div_ceil(8) * 8 > props.len() {
            return Err(OfError::BadRequest(BadRequest::BadLen));
        }
        if ty != 0xffff || u32_at(props, 4)? != NTR_VENDOR || u32_at(props, 8)? != 1 || len < 40 {
            return Err(OfError::GroupModFailed(GroupModFailed::BadType));
        }
        let name = &props[16..32];
        let method = String::from_utf8_lossy(&name[..name.iter().position(|&c| c == 0).unwrap_or(16)]).into_owned();
        let mut fields = Vec::new();
        let mut f = &props[40..len];
        while !f.is_empty() {
            // Each entry is a header (no mask bit) and the field's mask.
            let (class, no, masked, flen) =
                (u16_at(f, 0)?, f[2] >> 1, f[2] & 1 == 1, usize::from(*f.get(3).ok_or(OfError::BadRequest(BadRequest::BadLen))?));
            let (exp, hlen, flen) =
                if class == flowmatch::OXM_EXPERIMENTER { (u32_at(f, 4)?, 8, flen.saturating_sub(4)) } else { (0, 4, flen) };
            let field = flowmatch::field_by_header(class, no, exp).ok_or(OfError::BadMatch(BadMatch::BadField))?;
            if masked {
                return Err(OfError::BadMatch(BadMatch::BadMask));
            }
            if flen != usize::from(field.bytes) {
                return Err(OfError::BadMatch(BadMatch::BadLen));
            }
            let mask = flowmatch::be(f.get(hlen..hlen + flen).ok_or(OfError::BadRequest(BadRequest::BadLen))?);
            fields.push((field.id, mask));
            f = &f[hlen + flen..];
        }
        selection = Some(Selection { method, param: u64_at(props, 32)?, fields });
        props = &props[len.div_ceil(8) * 8..];
    }
    let _ = version;
    Ok(selection)
}

/// A group's description entry for `version`, in the 1.5 layout from 1.5
/// on or for Nicira's NXST_GROUP_DESC (`nx`), 1.1's before.
pub fn encode_group_desc(g: &Group, version: u8, nx: bool) -> Vec<u8> {
    let ctx = Context::default();
    let mut out = vec![0, 0, g.ty, 0];
    out.extend_from_slice(&g.id.to_be_bytes());
    if version < 6 && !nx {
        for b in &g.buckets {
            let at = out.len();
            out.extend_from_slice(&[0; 4]);
            out[at + 2..at + 4].copy_from_slice(&b.weight.to_be_bytes());
            out.extend_from_slice(&flowmatch::port_to_ofp11(b.watch_port).to_be_bytes());
            out.extend_from_slice(&b.watch_group.to_be_bytes());
            out.extend_from_slice(&[0; 4]);
            actions::encode_actions(&b.actions, version, ctx, &mut out);
            let len = ((out.len() - at) as u16).to_be_bytes();
            out[at..at + 2].copy_from_slice(&len);
        }
    } else {
        out.extend_from_slice(&[0; 8]);
        let start = out.len();
        for b in &g.buckets {
            let at = out.len();
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&b.id.to_be_bytes());
            actions::encode_actions(&b.actions, version, ctx, &mut out);
            let actions_len = ((out.len() - at - 8) as u16).to_be_bytes();
            out[at + 2..at + 4].copy_from_slice(&actions_len);
            if g.ty == 1 || b.weight != 0 {
                out.extend_from_slice(&[0, 0, 0, 8]);
                out.extend_from_slice(&b.weight.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            if b.watch_port != PORT_ANY {
                out.extend_from_slice(&[0, 1, 0, 8]);
                out.extend_from_slice(&flowmatch::port_to_ofp11(b.watch_port).to_be_bytes());
            }
            if b.watch_group != GROUP_ANY {
                out.extend_from_slice(&[0, 2, 0, 8]);
                out.extend_from_slice(&b.watch_group.to_be_bytes());
            }
            let len = ((out.len() - at) as u16).to_be_bytes();
            out[at..at + 2].copy_from_slice(&len);
        }
        let buckets_len = ((out.len() - start) as u16).to_be_bytes();
        out[8..10].copy_from_slice(&buckets_len);
        if let Some(s) = &g.selection {
            let at = out.len();
            out.extend_from_slice(&[0xff, 0xff, 0, 0]);
            out.extend_from_slice(&NTR_VENDOR.to_be_bytes());
            out.extend_from_slice(&1u32.to_be_bytes());
            out.extend_from_slice(&[0; 4]);
            let mut name = [0u8; 16];
            let n = s.method.len().min(15);
            name[..n].copy_from_slice(&s.method.as_bytes()[..n]);
            out.extend_from_slice(&name);
            out.extend_from_slice(&s.param.to_be_bytes());
            for (id, mask) in &s.fields {
                let f = flowmatch::field(*id);
                let h = f.header_for(version);
                out.extend_from_slice(&h.class.to_be_bytes());
                out.push(h.field << 1);
                if h.class == flowmatch::OXM_EXPERIMENTER {
                    out.push(f.bytes + 4);
                    out.extend_from_slice(&h.exp.to_be_bytes());
                } else {
                    out.push(f.bytes);
                }
                let at = out.len();
                out.resize(at + usize::from(f.bytes), 0);
                flowmatch::put_be(&mut out[at..], *mask);
            }
            let len = ((out.len() - at) as u16).to_be_bytes();
            out[at + 2..at + 4].copy_from_slice(&len);
            out.resize(at + (out.len() - at).div_ceil(8) * 8, 0);
        }
    }
    let len = (out.len() as u16).to_be_bytes();
    out[0..2].copy_from_slice(&len);
    out
}

/// A meter band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Band {
    /// Type (1: drop).
    pub ty: u16,
    /// Rate, in kb/s or packets/s per the meter's flags.
    pub rate: u32,
    /// Burst size.
    pub burst: u32,
}

/// A meter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meter {
    /// Id.
    pub id: u32,
    /// Flags: kbps 1, pktps 2, burst 4, stats 8.
    pub flags: u16,
    /// Bands.
    pub bands: Vec<Band>,
}

/// Decodes METER_MOD's body: (command, meter), checked as OVS checks it.
pub fn decode_meter_mod(b: &[u8]) -> Result<(u16, Meter), OfError> {
    let command = u16_at(b, 0)?;
    let flags = u16_at(b, 2)?;
    let id = u32_at(b, 4)?;
    if command > 2 {
        return Err(OfError::MeterModFailed(MeterModFailed::BadCommand));
    }
    if flags & !0xf != 0 {
        return Err(OfError::MeterModFailed(MeterModFailed::BadFlags));
    }
    let mut bands = Vec::new();
    let mut rest = b.get(8..).unwrap_or_default();
    while !rest.is_empty() {
        let (ty, len) = (u16_at(rest, 0)?, usize::from(u16_at(rest, 2)?));
        if len != 16 || len > rest.len() {
            return Err(OfError::BadRequest(BadRequest::BadLen));
        }
        bands.push(Band { ty, rate: u32_at(rest, 4)?, burst: u32_at(rest, 8)? });
        rest = &rest[len..];
    }
    Ok((command, Meter { id, flags, bands }))
}

/// A meter's configuration entry.
pub fn encode_meter_config(m: &Meter) -> Vec<u8> {
    let mut out = (8 + 16 * m.bands.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&m.flags.to_be_bytes());
    out.extend_from_slice(&m.id.to_be_bytes());
    for band in &m.bands {
        out.extend_from_slice(&band.ty.to_be_bytes());
        out.extend_from_slice(&16u16.to_be_bytes());
        out.extend_from_slice(&band.rate.to_be_bytes());
        out.extend_from_slice(&band.burst.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
    }
    out
}

/// A duration since `since`, as statistics give it: seconds, nanoseconds.
fn duration(since: Option<&std::time::Instant>) -> [u8; 8] {
    let d = since.map(std::time::Instant::elapsed).unwrap_or_default();
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&(d.as_secs() as u32).to_be_bytes());
    b[4..].copy_from_slice(&d.subsec_nanos().to_be_bytes());
    b
}

/// A group's statistics entry (1.3 layout, also Nicira's NXST_GROUP):
/// `ref_count` flows use it; no packets pass through groups yet (the
/// switching path is issue 6), so the counters are zero.
pub fn encode_group_stats(g: &Group, ref_count: u32, added: Option<&std::time::Instant>) -> Vec<u8> {
    let len = 40 + 16 * g.buckets.len();
    let mut b = (len as u16).to_be_bytes().to_vec();
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&g.id.to_be_bytes());
    b.extend_from_slice(&ref_count.to_be_bytes());
    b.extend_from_slice(&[0; 4 + 16]);
    b.extend_from_slice(&duration(added));
    b.resize(len, 0);
    b
}

/// The group features entry: every group type, weights, liveness and
/// chaining, OVS's group limit, and the standard actions ferrovs decodes
/// (output, push/pop VLAN, set queue, group, set/decrement TTL, set field).
pub fn encode_group_features() -> Vec<u8> {
    let mut b = 0xfu32.to_be_bytes().to_vec();
    b.extend_from_slice(&0x7u32.to_be_bytes());
    for _ in 0..4 {
        b.extend_from_slice(&GROUP_MAX.to_be_bytes());
    }
    let actions: u32 = [0u32, 17, 18, 21, 22, 23, 24, 25].iter().fold(0, |m, t| m | 1 << t);
    for _ in 0..4 {
        b.extend_from_slice(&actions.to_be_bytes());
    }
    b
}

/// A meter's statistics entry: `flow_count` flows use it; `stats` are
/// its datapath counters (none before a packet reached it).
pub fn encode_meter_stats(
    m: &Meter,
    flow_count: u32,
    added: Option<&std::time::Instant>,
    stats: Option<dataplane::meter::MeterStats>,
) -> Vec<u8> {
    let stats = stats.unwrap_or_default();
    let len = 40 + 16 * m.bands.len();
    let mut b = m.id.to_be_bytes().to_vec();
    b.extend_from_slice(&(len as u16).to_be_bytes());
    b.extend_from_slice(&[0; 6]);
    b.extend_from_slice(&flow_count.to_be_bytes());
    b.extend_from_slice(&stats.packets.to_be_bytes());
    b.extend_from_slice(&stats.bytes.to_be_bytes());
    b.extend_from_slice(&duration(added));
    for i in 0..m.bands.len() {
        let band = stats.bands.get(i).copied().unwrap_or_default();
        b.extend_from_slice(&band.packets.to_be_bytes());
        b.extend_from_slice(&band.bytes.to_be_bytes());
    }
    b.resize(len, 0);
    b
}

/// The meter features entry: as many meters and bands as OVS's
/// userspace datapath, the drop band, every flag.
pub fn encode_meter_features() -> Vec<u8> {
    let mut out = METER_MAX.to_be_bytes().to_vec();
    out.extend_from_slice(&(1u32 << 1).to_be_bytes());
    out.extend_from_slice(&0xfu32.to_be_bytes());
    out.extend_from_slice(&[MAX_BANDS as u8, 0, 0, 0]);
    out
}

/// A bridge's groups and meters.
#[derive(Clone, Debug, Default)]
pub struct GroupTable {
    /// Groups by id.
    pub groups: BTreeMap<u32, Group>,
    /// Meters by id.
    pub meters: BTreeMap<u32, Meter>,
    /// When each group was added, for its statistics' duration.
    pub group_added: BTreeMap<u32, std::time::Instant>,
    /// When each meter was added.
    pub meter_added: BTreeMap<u32, std::time::Instant>,
    /// Each meter's token buckets and counters, shared with the megaflows
    /// that use it.
    pub meter_state: BTreeMap<u32, std::sync::Arc<dataplane::Meter>>,
}

impl GroupTable {
    /// Applies a group mod; returns the ids of groups deleted.
    pub fn apply_group_mod(&mut self, gm: GroupMod) -> Result<Vec<u32>, OfError> {
        let id = gm.group.id;
        match gm.command {
            0 | 1 if id > GROUP_MAX => Err(OfError::GroupModFailed(GroupModFailed::InvalidGroup)),
            0 if self.groups.contains_key(&id) => Err(OfError::GroupModFailed(GroupModFailed::GroupExists)),
            1 if !self.groups.contains_key(&id) => Err(OfError::GroupModFailed(GroupModFailed::UnknownGroup)),
            0 | 1 => {
                if gm.group.ty == 2 && gm.group.buckets.len() != 1 {
                    return Err(OfError::GroupModFailed(GroupModFailed::InvalidGroup));
                }
                if gm.command == 0 {
                    self.group_added.insert(id, std::time::Instant::now());
                }
                self.groups.insert(id, gm.group);
                Ok(Vec::new())
            }
            2 if id == GROUP_ALL => Ok(std::mem::take(&mut self.groups).into_keys().collect()),
            2 => Ok(self.groups.remove(&id).map(|g| g.id).into_iter().collect()),
            _ => Err(OfError::GroupModFailed(GroupModFailed::BadCommand)),
        }
    }

    /// Applies a meter mod; returns the ids of meters deleted.
    pub fn apply_meter_mod(&mut self, command: u16, m: Meter) -> Result<Vec<u32>, OfError> {
        if command == 2 {
            let gone: Vec<u32> = if m.id == METER_ALL { self.meters.keys().copied().collect() } else { vec![m.id] };
            for id in &gone {
                self.meters.remove(id);
                self.meter_state.remove(id);
                self.meter_added.remove(id);
            }
            return Ok(gone);
        }
        if m.id == 0 || m.id > METER_MAX {
            return Err(OfError::MeterModFailed(MeterModFailed::InvalidMeter));
        }
        if m.bands.len() > MAX_BANDS {
            return Err(OfError::MeterModFailed(MeterModFailed::OutOfBands));
        }
        if m.bands.iter().any(|b| b.ty != 1) {
            return Err(OfError::MeterModFailed(MeterModFailed::BadBand));
        }
        match (command, self.meters.contains_key(&m.id)) {
            (0, true) => Err(OfError::MeterModFailed(MeterModFailed::MeterExists)),
            (1, false) => Err(OfError::MeterModFailed(MeterModFailed::UnknownMeter)),
            _ => {
                self.meter_added.entry(m.id).or_insert_with(std::time::Instant::now);
                let bands: Vec<dataplane::meter::BandConfig> = m
                    .bands
                    .iter()
                    .map(|b| dataplane::meter::BandConfig { rate: b.rate, burst: if m.flags & 4 != 0 { b.burst } else { 0 } })
                    .collect();
                let packets = m.flags & 2 != 0;
                match self.meter_state.get(&m.id) {
                    Some(state) => state.configure(packets, &bands),
                    None => {
                        self.meter_state.insert(m.id, std::sync::Arc::new(dataplane::Meter::new(m.id, packets, &bands)));
                    }
                }
                self.meters.insert(m.id, m);
                Ok(Vec::new())
            }
        }
    }

    /// Checks that the groups and meters `actions` use exist (OVS's
    /// BAD_OUT_GROUP and INVALID_METER).
    pub fn check(&self, actions: &[Action]) -> Result<(), OfError> {
        for a in actions {
            match a {
                Action::Group(g) if !self.groups.contains_key(g) => return Err(OfError::BadAction(BadAction::BadOutGroup)),
                Action::Meter(m) if !self.meters.contains_key(m) => return Err(OfError::MeterModFailed(MeterModFailed::InvalidMeter)),
                Action::WriteActions(inner) => self.check(inner)?,
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_desc_round_trip_in_both_layouts() {
        let g = Group {
            id: 7,
            ty: 1,
            buckets: vec![
                Bucket {
                    id: 0,
                    weight: 10,
                    watch_port: PORT_ANY,
                    watch_group: GROUP_ANY,
                    actions: vec![Action::Output { port: 1, max_len: 0 }],
                },
                Bucket {
                    id: 1,
                    weight: 20,
                    watch_port: PORT_ANY,
                    watch_group: GROUP_ANY,
                    actions: vec![Action::Output { port: 2, max_len: 0 }],
                },
            ],
            selection: Some(Selection { method: "hash".into(), param: 0, fields: vec![(Mff::Ipv4Src, 0xffff_0000), (Mff::IpProto, 0xff)] }),
        };
        for version in [4, 6] {
            let desc = encode_group_desc(&g, version, false);
            assert_eq!(usize::from(u16::from_be_bytes([desc[0], desc[1]])), desc.len());
            // A group desc entry has the group mod's layout after the length.
            let mut body = vec![0, 0];
            body.extend_from_slice(&desc[2..]);
            let gm = decode_group_mod(&body, version, false).unwrap();
            let want = if version == 6 { g.clone() } else { Group { selection: None, ..g.clone() } };
            assert_eq!(gm.group, want, "version {version}");
        }
    }

    #[test]
    fn meters_as_ovs_userspace_accepts_them() {
        let mut t = GroupTable::default();
        let drop = Meter { id: 1, flags: 1, bands: vec![Band { ty: 1, rate: 1000, burst: 0 }] };
        t.apply_meter_mod(0, drop.clone()).unwrap();
        assert_eq!(t.apply_meter_mod(0, drop.clone()), Err(OfError::MeterModFailed(MeterModFailed::MeterExists)));
        let remark = Meter { id: 2, flags: 1, bands: vec![Band { ty: 2, rate: 500, burst: 0 }] };
        assert_eq!(t.apply_meter_mod(0, remark), Err(OfError::MeterModFailed(MeterModFailed::BadBand)));
        let entry = encode_meter_config(&drop);
        let mut body = vec![0, 0];
        body.extend_from_slice(&entry[2..]);
        assert_eq!(decode_meter_mod(&body).unwrap().1, drop);
        assert_eq!(t.check(&[Action::Meter(1)]), Ok(()));
        assert_eq!(t.check(&[Action::Meter(3)]), Err(OfError::MeterModFailed(MeterModFailed::InvalidMeter)));
        assert_eq!(t.check(&[Action::Group(3)]), Err(OfError::BadAction(BadAction::BadOutGroup)));
    }
}
