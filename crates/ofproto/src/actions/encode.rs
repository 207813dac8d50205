//! Encoding actions and instructions for each OpenFlow version, as OVS
//! writes them.

#![allow(clippy::wildcard_imports)]

use super::*;

/// Writes actions for a version.
pub(super) struct Enc<'a> {
    pub(super) out: &'a mut Vec<u8>,
    pub(super) version: u8,
    pub(super) ctx: Context,
}

impl Enc<'_> {
    /// An action of `len` bytes with OpenFlow type `ty`; returns its offset.
    pub(super) fn of(&mut self, ty: u16, len: usize) -> usize {
        let at = self.out.len();
        self.out.extend_from_slice(&ty.to_be_bytes());
        self.out.extend_from_slice(&(len as u16).to_be_bytes());
        self.out.resize(at + len, 0);
        at
    }

    /// A Nicira action of `len` bytes; returns its offset.
    pub(super) fn nx(&mut self, subtype: u16, len: usize) -> usize {
        let at = self.of(0xffff, len);
        self.out[at + 4..at + 8].copy_from_slice(&NX_VENDOR.to_be_bytes());
        self.out[at + 8..at + 10].copy_from_slice(&subtype.to_be_bytes());
        at
    }

    pub(super) fn put(&mut self, at: usize, bytes: &[u8]) {
        self.out[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// Pads the action at `at` to 8 bytes and fixes its length.
    pub(super) fn finish(&mut self, at: usize) {
        let len = (self.out.len() - at).div_ceil(8) * 8;
        self.out.resize(at + len, 0);
        let l = (len as u16).to_be_bytes();
        self.put(at + 2, &l);
    }

    pub(super) fn header(&mut self, f: &Field, version: u8, value_len: usize, masked: bool) {
        f.put_header(version, value_len, masked, self.out);
    }

    /// One NXM/OXM entry: `f`'s header for `version`, then the low bytes of
    /// the value and (if any) the mask: all of a fixed-length field, the
    /// significant ones of a variable-length one (as OVS's `nx_put_entry`).
    pub(super) fn entry(&mut self, f: &Field, version: u8, value: u128, mask: Option<u128>) {
        let n = match f.id {
            Mff::TunMetadata(_) => {
                let bytes = |v: u128| 16 - (v.leading_zeros() / 8) as usize;
                bytes(value).max(mask.map_or(0, bytes))
            }
            _ => usize::from(f.bytes),
        };
        self.header(f, version, n, mask.is_some());
        let v = self.out.len();
        self.out.resize(v + n * if mask.is_some() { 2 } else { 1 }, 0);
        put_be(&mut self.out[v..v + n], value);
        if let Some(m) = mask {
            put_be(&mut self.out[v + n..v + 2 * n], m);
        }
    }

    /// OFPAT_SET_FIELD (1.2+), masked only in 1.5.
    pub(super) fn set_field(&mut self, id: Mff, value: u128, mask: u128) {
        let f = field(id);
        let masked = mask != self.ctx.whole(f);
        let at = self.of(25, 4);
        // A variable-length field keeps its Nicira header in every version.
        let version = if matches!(id, Mff::TunMetadata(_)) { 0 } else { self.version };
        self.entry(f, version, value, masked.then_some(mask));
        self.finish(at);
    }

    pub(super) fn reg_load(&mut self, f: &Field, ofs: u16, n_bits: u16, value: u64) {
        let at = self.nx(7, 24);
        self.put(at + 10, &(ofs << 6 | (n_bits - 1)).to_be_bytes());
        let h = f.header_for(0);
        self.put(at + 12, &[(h.class >> 8) as u8, h.class as u8, h.field << 1, f.bytes]);
        self.put(at + 16, &value.to_be_bytes());
    }

    /// As OVS's `set_field_to_nxast`: one NXAST_REG_LOAD2 for a
    /// variable-length or experimenter field, else one REG_LOAD per run of
    /// mask bits.
    pub(super) fn set_field_nxast(&mut self, id: Mff, value: u128, mask: u128) {
        let f = field(id);
        if matches!(id, Mff::TunMetadata(_)) || f.header_for(0).class == flowmatch::OXM_EXPERIMENTER {
            let masked = mask != self.ctx.whole(f);
            let at = self.nx(33, 10);
            self.entry(f, 0, value, masked.then_some(mask));
            self.finish(at);
            return;
        }
        let bits = match id {
            Mff::TunMetadata(_) => 128 - self.ctx.whole(f).leading_zeros(),
            _ => u32::from(f.bits),
        };
        let mut start = 0u32;
        while start < bits {
            let Some(ofs) = (start..bits).find(|&b| mask >> b & 1 == 1) else {
                break;
            };
            let end = (ofs + 1..bits.min(ofs + 64)).find(|&b| mask >> b & 1 == 0).unwrap_or(bits.min(ofs + 64));
            let n = end - ofs;
            let v = (value >> ofs) & if n >= 64 { u128::from(u64::MAX) } else { (1u128 << n) - 1 };
            self.reg_load(f, ofs as u16, n as u16, v as u64);
            start = end;
        }
    }

    pub(super) fn legacy_set_field(&mut self, id: Mff, value: u128, mask: u128) {
        let v10 = self.version == 1;
        match id {
            Mff::VlanVid => self.vlan_vid((value & 0xfff) as u16),
            Mff::VlanPcp => self.vlan_pcp(value as u8),
            Mff::EthSrc => self.dl_addr(true, value),
            Mff::EthDst => self.dl_addr(false, value),
            Mff::Ipv4Src => self.u32_arg(if v10 { 6 } else { 5 }, value as u32),
            Mff::Ipv4Dst => self.u32_arg(if v10 { 7 } else { 6 }, value as u32),
            Mff::IpDscp => self.u8_arg(if v10 { 8 } else { 7 }, value as u8),
            Mff::IpDscpShifted => self.u8_arg(if v10 { 8 } else { 7 }, (value as u8) << 2),
            Mff::IpEcn => self.ecn(value as u8),
            Mff::TcpSrc | Mff::UdpSrc => self.u16_arg(9, value as u16),
            Mff::TcpDst | Mff::UdpDst => self.u16_arg(10, value as u16),
            _ => self.set_field_nxast(id, value, mask),
        }
    }

    pub(super) fn u8_arg(&mut self, ty: u16, v: u8) {
        let at = self.of(ty, 8);
        self.put(at + 4, &[v]);
    }

    pub(super) fn u16_arg(&mut self, ty: u16, v: u16) {
        let at = self.of(ty, 8);
        self.put(at + 4, &v.to_be_bytes());
    }

    pub(super) fn u32_arg(&mut self, ty: u16, v: u32) {
        let at = self.of(ty, 8);
        self.put(at + 4, &v.to_be_bytes());
    }

    pub(super) fn dl_addr(&mut self, src: bool, mac: u128) {
        let ty = match (self.version == 1, src) {
            (true, true) => 4,
            (true, false) => 5,
            (false, true) => 3,
            (false, false) => 4,
        };
        let at = self.of(ty, 16);
        put_be(&mut self.out[at + 4..at + 10], mac);
    }

    pub(super) fn vlan_vid(&mut self, vid: u16) {
        if self.version >= 3 {
            self.set_field(Mff::VlanVid, u128::from(vid | 0x1000), full(2));
        } else {
            self.u16_arg(1, vid);
        }
    }

    pub(super) fn vlan_pcp(&mut self, pcp: u8) {
        if self.version >= 3 {
            self.set_field(Mff::VlanPcp, u128::from(pcp), full(1));
        } else {
            self.u8_arg(2, pcp);
        }
    }

    pub(super) fn ecn(&mut self, ecn: u8) {
        match self.version {
            1 => self.reg_load(field(Mff::IpEcn), 0, 2, u64::from(ecn)),
            2 => self.u8_arg(8, ecn),
            _ => self.set_field(Mff::IpEcn, u128::from(ecn), full(1)),
        }
    }

    pub(super) fn push_vlan(&mut self) {
        self.u16_arg(17, 0x8100);
    }

    pub(super) fn mff_header(&mut self, f: Mff, version: u8) {
        self.header(field(f), version, usize::from(field(f).bytes), false);
    }

    pub(super) fn action(&mut self, a: &Action) {
        self.encode(a);
        // What the action does to the packet's VLAN, as OVS's action check
        // tracks it for the actions that follow.
        match a {
            Action::SetVlanVid { .. } | Action::SetVlanPcp { .. } | Action::PushVlan { .. } => self.ctx.flow_has_vlan = true,
            Action::SetField { field: Mff::VlanVid | Mff::VlanPcp, .. } => self.ctx.flow_has_vlan = true,
            Action::StripVlan { .. } => self.ctx.flow_has_vlan = false,
            _ => {}
        }
    }

    pub(super) fn encode(&mut self, a: &Action) {
        let v = self.version;
        match a {
            Action::Output { port, max_len } => {
                if v == 1 {
                    let at = self.of(0, 8);
                    self.put(at + 4, &port.to_be_bytes());
                    self.put(at + 6, &max_len.to_be_bytes());
                } else {
                    let at = self.of(0, 16);
                    self.put(at + 4, &flowmatch::port_to_ofp11(*port).to_be_bytes());
                    self.put(at + 8, &max_len.to_be_bytes());
                }
            }
            Action::Controller { max_len, id, reason, userdata, pause, meter, v2 } => {
                if !userdata.is_empty() || *pause || *meter != 0 || *v2 {
                    let at = self.nx(37, 16);
                    let mut prop = |ty: u16, payload: &[u8]| {
                        self.out.extend_from_slice(&ty.to_be_bytes());
                        self.out.extend_from_slice(&((4 + payload.len()) as u16).to_be_bytes());
                        self.out.extend_from_slice(payload);
                        let len = self.out.len();
                        self.out.resize(at + (len - at).div_ceil(8) * 8, 0);
                    };
                    if *max_len != u16::MAX {
                        prop(0, &max_len.to_be_bytes());
                    }
                    if *id != 0 {
                        prop(1, &id.to_be_bytes());
                    }
                    if *reason != 1 {
                        prop(2, &[*reason]);
                    }
                    if !userdata.is_empty() {
                        prop(3, userdata);
                    }
                    if *pause {
                        prop(4, &[]);
                    }
                    if *meter != 0 {
                        prop(5, &meter.to_be_bytes());
                    }
                    self.finish(at);
                } else {
                    let at = self.nx(20, 16);
                    self.put(at + 10, &max_len.to_be_bytes());
                    self.put(at + 12, &id.to_be_bytes());
                    self.put(at + 14, &[*reason]);
                }
            }
            Action::Ct { flags, zone_src, zone_imm, table, alg, actions } => {
                let at = self.nx(35, 24);
                self.put(at + 10, &flags.to_be_bytes());
                match zone_src {
                    Some(sf) => {
                        let f = field(sf.field);
                        let h = f.header_for(0);
                        self.put(at + 12, &[(h.class >> 8) as u8, h.class as u8, h.field << 1, f.bytes]);
                        self.put(at + 16, &(sf.ofs << 6 | (sf.n_bits - 1)).to_be_bytes());
                    }
                    None => self.put(at + 16, &zone_imm.to_be_bytes()),
                }
                self.put(at + 18, &[*table]);
                self.put(at + 22, &alg.to_be_bytes());
                for inner in actions {
                    self.action(inner);
                }
                let len = ((self.out.len() - at) as u16).to_be_bytes();
                self.put(at + 2, &len);
            }
            Action::Nat { flags, present, range } => {
                let at = self.nx(36, 16);
                self.put(at + 12, &flags.to_be_bytes());
                self.put(at + 14, &present.to_be_bytes());
                self.out.extend_from_slice(range);
                self.finish(at);
            }
            Action::Learn(l) => {
                let v2 = l.v2 || l.limit != 0 || l.flags & 4 != 0;
                let at = self.nx(if v2 { 45 } else { 16 }, if v2 { 40 } else { 32 });
                for (o, v) in [(10, l.idle_timeout), (12, l.hard_timeout), (14, l.priority)] {
                    self.put(at + o, &v.to_be_bytes());
                }
                self.put(at + 16, &l.cookie.to_be_bytes());
                self.put(at + 24, &l.flags.to_be_bytes());
                self.put(at + 26, &[l.table]);
                self.put(at + 28, &l.fin_idle_timeout.to_be_bytes());
                self.put(at + 30, &l.fin_hard_timeout.to_be_bytes());
                if v2 {
                    self.put(at + 32, &l.limit.to_be_bytes());
                    self.put(at + 36, &l.result_dst.map_or(0, |d| d.ofs).to_be_bytes());
                    if let Some(d) = l.result_dst.filter(|_| l.flags & 4 != 0) {
                        self.mff_header(d.field, 0);
                    }
                }
                let nxm = |f: Mff| {
                    let f = field(f);
                    let h = f.header_for(0);
                    [(h.class >> 8) as u8, h.class as u8, h.field << 1, f.bytes]
                };
                for spec in &l.specs {
                    let src_imm = u16::from(spec.src.is_err()) << 13;
                    self.out.extend_from_slice(&(spec.n_bits | src_imm | spec.dst_type << 11).to_be_bytes());
                    match &spec.src {
                        Ok(sf) => {
                            self.out.extend_from_slice(&nxm(sf.field));
                            self.out.extend_from_slice(&sf.ofs.to_be_bytes());
                        }
                        Err(imm) => {
                            let wire = 2 * usize::from(spec.n_bits).div_ceil(16);
                            self.out.extend(std::iter::repeat_n(0, wire.saturating_sub(imm.len())));
                            self.out.extend_from_slice(&imm[imm.len().saturating_sub(wire)..]);
                        }
                    }
                    if let Some(d) = spec.dst {
                        self.out.extend_from_slice(&nxm(d.field));
                        self.out.extend_from_slice(&d.ofs.to_be_bytes());
                    }
                }
                self.finish(at);
            }
            Action::CheckPktLarger { pkt_len, dst } => {
                let at = self.nx(49, 14);
                self.put(at + 10, &pkt_len.to_be_bytes());
                self.put(at + 12, &dst.ofs.to_be_bytes());
                self.mff_header(dst.field, 0);
                self.out.resize(at + 24, 0);
                self.put(at + 2, &24u16.to_be_bytes());
            }
            Action::Enqueue { port, queue } => {
                if v == 1 {
                    let at = self.of(11, 16);
                    self.put(at + 4, &port.to_be_bytes());
                    self.put(at + 12, &queue.to_be_bytes());
                } else {
                    self.u32_arg(21, *queue);
                    self.action(&Action::Output { port: *port, max_len: 0xffff });
                    self.nx(5, 16);
                }
            }
            Action::SetVlanVid { vid, push } => {
                if v > 1 && *push && !self.ctx.flow_has_vlan {
                    self.push_vlan();
                }
                self.vlan_vid(*vid);
            }
            Action::SetVlanPcp { pcp, push } => {
                if v > 1 && *push && !self.ctx.flow_has_vlan {
                    self.push_vlan();
                }
                self.vlan_pcp(*pcp);
            }
            Action::StripVlan { .. } => {
                let at = self.of(if v == 1 { 3 } else { 18 }, 8);
                let _ = at;
            }
            Action::PushVlan { ethertype } => {
                if v > 1 {
                    self.u16_arg(17, *ethertype);
                }
            }
            Action::SetEthSrc(mac) | Action::SetEthDst(mac) => {
                let (src, id) = if matches!(a, Action::SetEthSrc(_)) { (true, Mff::EthSrc) } else { (false, Mff::EthDst) };
                if v < 3 {
                    self.dl_addr(src, be(mac));
                } else {
                    self.set_field(id, be(mac), full(6));
                }
            }
            Action::SetIpv4Src(ip) | Action::SetIpv4Dst(ip) => {
                let src = matches!(a, Action::SetIpv4Src(_));
                if v < 3 {
                    let ty = if v == 1 { 6 } else { 5 } + u16::from(!src);
                    self.u32_arg(ty, *ip);
                } else {
                    self.set_field(if src { Mff::Ipv4Src } else { Mff::Ipv4Dst }, u128::from(*ip), full(4));
                }
            }
            Action::SetIpDscp(dscp) => {
                if v < 3 {
                    self.u8_arg(if v == 1 { 8 } else { 7 }, *dscp);
                } else {
                    self.set_field(Mff::IpDscpShifted, u128::from(dscp >> 2), full(1));
                }
            }
            Action::SetIpEcn(ecn) => self.ecn(*ecn),
            Action::SetIpTtl(ttl) => {
                if v >= 2 {
                    self.u8_arg(23, *ttl);
                } else {
                    self.reg_load(field(Mff::IpTtl), 0, 8, u64::from(*ttl));
                }
            }
            Action::SetL4Src(port) | Action::SetL4Dst(port) => {
                let src = matches!(a, Action::SetL4Src(_));
                let f = match (self.ctx.ip_proto, src) {
                    (Some(6), true) => Some(Mff::TcpSrc),
                    (Some(6), false) => Some(Mff::TcpDst),
                    (Some(17), true) => Some(Mff::UdpSrc),
                    (Some(17), false) => Some(Mff::UdpDst),
                    (Some(132), true) => Some(Mff::SctpSrc),
                    (Some(132), false) => Some(Mff::SctpDst),
                    _ => None,
                };
                match f {
                    Some(f) if v >= 3 => self.set_field(f, u128::from(*port), full(2)),
                    _ => self.u16_arg(if src { 9 } else { 10 }, *port),
                }
            }
            Action::DecTtl { ids, cnt_ids } => {
                if *cnt_ids || ids.as_slice() != [0] {
                    let at = self.nx(21, 16);
                    self.put(at + 10, &(ids.len() as u16).to_be_bytes());
                    for id in ids {
                        self.out.extend_from_slice(&id.to_be_bytes());
                    }
                    self.finish(at);
                } else if v == 1 {
                    self.nx(18, 16);
                } else {
                    self.of(24, 8);
                }
            }
            Action::SetField { field: id, value, mask, reg_load } => {
                let f = field(*id);
                let nxm_ok = f.header_for(0).class != flowmatch::OXM_EXPERIMENTER;
                if v >= 6 {
                    self.set_field(*id, *value, *mask);
                } else if *reg_load {
                    self.set_field_nxast(*id, *value, *mask);
                } else if v < 3 {
                    self.legacy_set_field(*id, *value, *mask);
                } else if *mask == self.ctx.whole(f) || !nxm_ok {
                    self.set_field(*id, *value, *mask);
                } else {
                    self.set_field_nxast(*id, *value, *mask);
                }
            }
            Action::RegMove { src, dst } => {
                let at = if v >= 6 { self.of(28, 12) } else { self.nx(6, 16) };
                let o = if v >= 6 { 4 } else { 10 };
                self.put(at + o, &dst.n_bits.to_be_bytes());
                self.put(at + o + 2, &src.ofs.to_be_bytes());
                self.put(at + o + 4, &dst.ofs.to_be_bytes());
                let hv = if v >= 6 { v } else { 0 };
                self.mff_header(src.field, hv);
                self.mff_header(dst.field, hv);
                self.finish(at);
            }
            Action::Clone(inner) => {
                // The 16-byte header, then the nested actions.
                let at = self.nx(42, 16);
                for a in inner {
                    self.action(a);
                }
                let len = ((self.out.len() - at) as u16).to_be_bytes();
                self.put(at + 2, &len);
            }
            Action::StackPush(sf) | Action::StackPop(sf) => {
                // The header, the bit offset, the field's NXM header, the
                // bit count, zeros to 24 bytes.
                let at = self.nx(if matches!(a, Action::StackPush(_)) { 27 } else { 28 }, 12);
                self.put(at + 10, &sf.ofs.to_be_bytes());
                self.mff_header(sf.field, 0);
                self.out.extend_from_slice(&sf.n_bits.to_be_bytes());
                self.finish(at);
            }
            Action::OutputReg { src, max_len } => {
                let at = self.nx(15, 24);
                self.put(at + 10, &(src.ofs << 6 | (src.n_bits - 1)).to_be_bytes());
                let f = field(src.field);
                let h = f.header_for(0);
                self.put(at + 12, &[(h.class >> 8) as u8, h.class as u8, h.field << 1, f.bytes]);
                self.put(at + 16, &max_len.to_be_bytes());
            }
            Action::Resubmit { in_port, table, with_table } => {
                if *table == 0xff && !with_table {
                    let at = self.nx(1, 16);
                    self.put(at + 10, &in_port.to_be_bytes());
                } else {
                    let at = self.nx(14, 16);
                    self.put(at + 10, &in_port.to_be_bytes());
                    self.put(at + 12, &[*table]);
                }
            }
            Action::SetTunnel { id, wide } => {
                if v >= 3 {
                    self.set_field(Mff::TunId, u128::from(*id), full(8));
                } else if *id <= u64::from(u32::MAX) && !wide {
                    let at = self.nx(2, 16);
                    self.put(at + 12, &(*id as u32).to_be_bytes());
                } else {
                    let at = self.nx(9, 24);
                    self.put(at + 16, &id.to_be_bytes());
                }
            }
            Action::SetQueue(q) => {
                if v == 1 {
                    let at = self.nx(4, 16);
                    self.put(at + 12, &q.to_be_bytes());
                } else {
                    self.u32_arg(21, *q);
                }
            }
            Action::PopQueue => {
                self.nx(5, 16);
            }
            Action::Sample(sm) => {
                // OVS's choice: SAMPLE3 for a direction, SAMPLE2 for a
                // sampling port, else the first form.
                let (subtype, len) = match (sm.direction, sm.sampling_port) {
                    (0, 0xffff) => (29, 24),
                    (0, _) => (38, 32),
                    _ => (41, 32),
                };
                let at = self.nx(subtype, len);
                self.put(at + 10, &sm.probability.to_be_bytes());
                self.put(at + 12, &sm.collector_set_id.to_be_bytes());
                self.put(at + 16, &sm.obs_domain_id.to_be_bytes());
                self.put(at + 20, &sm.obs_point_id.to_be_bytes());
                if len == 32 {
                    self.put(at + 24, &sm.sampling_port.to_be_bytes());
                    self.out[at + 26] = sm.direction;
                }
            }
            Action::Note(note) => {
                let at = self.nx(8, 10);
                self.out.extend_from_slice(note);
                self.finish(at);
            }
            Action::Group(g) => {
                if v == 1 {
                    let at = self.nx(40, 16);
                    self.put(at + 12, &g.to_be_bytes());
                } else {
                    self.u32_arg(22, *g);
                }
            }
            Action::Meter(m) => {
                if v >= 6 {
                    self.u32_arg(29, *m);
                }
            }
            Action::GotoTable(t) => {
                if v == 1 {
                    let at = self.nx(14, 16);
                    self.put(at + 10, &0xfff8u16.to_be_bytes());
                    self.put(at + 12, &[*t]);
                }
            }
            Action::WriteMetadata { value, mask } => {
                if v == 1 {
                    let at = self.nx(22, 32);
                    self.put(at + 16, &value.to_be_bytes());
                    self.put(at + 24, &mask.to_be_bytes());
                }
            }
            Action::ClearActions | Action::WriteActions(_) => {}
            Action::CtClear => {
                self.nx(43, 16);
            }
            Action::Exit => {
                self.nx(17, 16);
            }
            Action::Conjunction { id, clause, n_clauses } => {
                let at = self.nx(34, 16);
                self.put(at + 10, &[*clause, *n_clauses]);
                self.put(at + 12, &id.to_be_bytes());
            }
        }
    }
}

/// Whether `a` is an instruction in `version` (meter is one in 1.3 and
/// 1.4, an action in 1.5).
pub(super) fn is_instruction(a: &Action, version: u8) -> bool {
    match a {
        Action::Meter(_) => version < 6,
        _ => matches!(a, Action::ClearActions | Action::WriteActions(_) | Action::WriteMetadata { .. } | Action::GotoTable(_)),
    }
}

/// Encodes an action list for OpenFlow 1.0 (`version` 1), where the
/// instructions that have an action form use it.
pub fn encode_actions(actions: &[Action], version: u8, ctx: Context, out: &mut Vec<u8>) {
    let mut e = Enc { out, version, ctx };
    for a in actions {
        e.action(a);
    }
}

/// Encodes a list as OpenFlow 1.1+ instructions: the actions in one
/// APPLY_ACTIONS, each instruction on its own, in the list's order.
pub fn encode_instructions(actions: &[Action], version: u8, ctx: Context, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < actions.len() {
        let a = &actions[i];
        if !is_instruction(a, version) {
            let end = actions[i..].iter().position(|a| is_instruction(a, version)).map_or(actions.len(), |n| i + n);
            let at = out.len();
            out.extend_from_slice(&[0, 4, 0, 0, 0, 0, 0, 0]);
            encode_actions(&actions[i..end], version, ctx, out);
            let len = (out.len() - at) as u16;
            out[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
            i = end;
            continue;
        }
        match a {
            Action::Meter(m) => {
                out.extend_from_slice(&[0, 6, 0, 8]);
                out.extend_from_slice(&m.to_be_bytes());
            }
            Action::ClearActions => out.extend_from_slice(&[0, 5, 0, 8, 0, 0, 0, 0]),
            Action::WriteActions(inner) => {
                let at = out.len();
                out.extend_from_slice(&[0, 3, 0, 0, 0, 0, 0, 0]);
                encode_actions(inner, version, ctx, out);
                let len = (out.len() - at) as u16;
                out[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
            }
            Action::WriteMetadata { value, mask } => {
                out.extend_from_slice(&[0, 2, 0, 24, 0, 0, 0, 0]);
                out.extend_from_slice(&value.to_be_bytes());
                out.extend_from_slice(&mask.to_be_bytes());
            }
            Action::GotoTable(t) => out.extend_from_slice(&[0, 1, 0, 8, *t, 0, 0, 0]),
            _ => {}
        }
        i += 1;
    }
}
