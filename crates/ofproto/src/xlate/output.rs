//! Where a translation sends the packet: groups and their buckets,
//! output to ports (NORMAL, the controller, the datapath's output), and
//! committing the header changes made so far as datapath actions before
//! each output.

#![allow(clippy::wildcard_imports)]

use super::*;

impl Walk<'_> {
    pub(super) fn group(&mut self, id: u32) {
        let Some(g) = self.p.groups.get(&id).cloned() else {
            return;
        };
        match g.ty {
            // all: every bucket on its own copy of the packet's state.
            0 => {
                for b in &g.buckets {
                    self.bucket(&b.actions);
                }
            }
            // select: a stable hash of the flow's addresses and ports.
            1 => {
                let live: Vec<&crate::group::Bucket> = g.buckets.iter().filter(|b| b.weight > 0).collect();
                let total: u64 = live.iter().map(|b| u64::from(b.weight)).sum();
                if total == 0 {
                    return;
                }
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for s in [slot::DL_SRC, slot::DL_DST, slot::DL_TYPE, slot::NW_SRC, slot::NW_DST, slot::NW_PROTO, slot::TP_SRC, slot::TP_DST]
                {
                    let v = self.read(s);
                    h = (h ^ v as u64).wrapping_mul(0x0100_0000_01b3);
                }
                let mut pick = h % total;
                for b in &live {
                    if pick < u64::from(b.weight) {
                        self.bucket(&b.actions);
                        return;
                    }
                    pick -= u64::from(b.weight);
                }
            }
            // indirect: its one bucket.
            2 => {
                if let Some(b) = g.buckets.first() {
                    self.bucket(&b.actions);
                }
            }
            // fast failover: the first bucket whose watched port is usable.
            _ => {
                let live = |b: &&crate::group::Bucket| {
                    b.watch_port == port::NONE || self.p.by_ofport.get(&b.watch_port).is_some_and(|&i| !self.p.ports[i].no_fwd)
                };
                if let Some(b) = g.buckets.iter().find(live) {
                    self.bucket(&b.actions);
                }
            }
        }
    }

    /// Runs a bucket on a copy of the packet (a datapath `clone`): what it
    /// changes does not reach the actions after the group.
    pub(super) fn bucket(&mut self, actions: &[Action]) {
        if self.depth + 1 >= MAX_DEPTH {
            self.fail(XlateError::GroupsTooDeep);
            return;
        }
        self.commit();
        let saved = (self.flow, self.base, self.written, self.vlan_tpid, self.base_tpid, self.action_set.clone());
        let outer = std::mem::take(&mut self.out);
        self.depth += 1;
        self.run(actions);
        self.depth -= 1;
        let inner = std::mem::replace(&mut self.out, outer);
        (self.flow, self.base, self.written, self.vlan_tpid, self.base_tpid, self.action_set) = saved;
        self.stopped = self.error.is_some();
        if inner.iter().any(|a| matches!(a, Dp::Output(_) | Dp::Userspace(_) | Dp::Clone(_))) {
            self.out.push(Dp::Clone(inner.into()));
        }
    }

    pub(super) fn output(&mut self, ofport: u16, max_len: u16, cookie: u64) {
        let in_port = self.in_port();
        match ofport {
            port::IN_PORT => self.emit_output(in_port),
            port::CONTROLLER => self.packet_in(ToController {
                reason: if self.in_miss_flow { reason::EXPLICIT_MISS } else { reason::ACTION },
                table_id: self.table,
                cookie,
                max_len,
                controller_id: 0,
                userdata: Vec::new(),
            }),
            port::NORMAL => self.normal(),
            port::FLOOD | port::ALL => {
                let flood = ofport == port::FLOOD;
                let targets: Vec<u16> =
                    self.p.ports.iter().filter(|p| p.ofport != in_port && !(flood && p.no_flood)).map(|p| p.ofport).collect();
                for t in targets {
                    self.emit_output(t);
                }
            }
            // Only a PACKET_OUT may submit to the tables.
            port::TABLE if self.depth == 0 => self.table(0),
            port::TABLE | port::NONE => {}
            // OpenFlow never sends a packet back where it came from unless
            // told IN_PORT.
            p if p == in_port => {}
            p => self.emit_output(p),
        }
    }

    pub(super) fn normal(&mut self) {
        let Some(normal) = &self.p.normal else {
            self.fail(XlateError::NoNormal);
            return;
        };
        self.commit();
        let in_port = self.in_port();
        let (flow, wc) = (&self.flow, &mut self.wc);
        let mut read = |s: Slot| {
            for b in &mut wc[s.range()] {
                *b = 0xff;
            }
            be(&flow[s.range()])
        };
        let actions = normal.actions(in_port, &mut read, self.may_learn);
        self.out.extend(actions);
    }

    pub(super) fn emit_output(&mut self, ofport: u16) {
        let Some(&i) = self.p.by_ofport.get(&ofport) else {
            return;
        };
        let port = &self.p.ports[i];
        if port.no_fwd {
            return;
        }
        let odp = port.odp;
        self.commit();
        self.out.push(Dp::Output(odp));
    }

    pub(super) fn packet_in(&mut self, what: ToController) {
        self.commit();
        self.out.push(Dp::Userspace(what.encode()));
    }

    /// Makes the datapath's packet what the actions have made the flow.
    pub(super) fn commit(&mut self) {
        self.commit_vlan();
        let w = |s: Slot, x: &Self| be(&x.written[s.range()]);
        // Values outside the mask are zero, so equal sets compare equal.
        let v = |s: Slot, x: &Self| be(&x.flow[s.range()]) & be(&x.written[s.range()]);
        let mac = |x: u128| {
            let b = (x as u64).to_be_bytes();
            [b[2], b[3], b[4], b[5], b[6], b[7]]
        };
        if w(slot::DL_SRC, self) | w(slot::DL_DST, self) != 0 {
            self.out.push(Dp::Set(SetField::Ethernet {
                src: mac(v(slot::DL_SRC, self)),
                src_mask: mac(w(slot::DL_SRC, self)),
                dst: mac(v(slot::DL_DST, self)),
                dst_mask: mac(w(slot::DL_DST, self)),
            }));
        }
        let l3 = [slot::NW_SRC, slot::NW_DST, slot::NW_TOS, slot::NW_TTL, slot::IPV6_SRC, slot::IPV6_DST, slot::IPV6_LABEL];
        if l3.iter().any(|s| w(*s, self) != 0) {
            if self.slot(slot::DL_TYPE) == 0x86dd {
                self.out.push(Dp::Set(SetField::Ipv6 {
                    src: v(slot::IPV6_SRC, self),
                    src_mask: w(slot::IPV6_SRC, self),
                    dst: v(slot::IPV6_DST, self),
                    dst_mask: w(slot::IPV6_DST, self),
                    tclass: v(slot::NW_TOS, self) as u8,
                    tclass_mask: w(slot::NW_TOS, self) as u8,
                    label: v(slot::IPV6_LABEL, self) as u32,
                    label_mask: w(slot::IPV6_LABEL, self) as u32,
                    hop_limit: v(slot::NW_TTL, self) as u8,
                    hop_limit_mask: w(slot::NW_TTL, self) as u8,
                }));
            } else {
                self.out.push(Dp::Set(SetField::Ipv4 {
                    src: v(slot::NW_SRC, self) as u32,
                    src_mask: w(slot::NW_SRC, self) as u32,
                    dst: v(slot::NW_DST, self) as u32,
                    dst_mask: w(slot::NW_DST, self) as u32,
                    tos: v(slot::NW_TOS, self) as u8,
                    tos_mask: w(slot::NW_TOS, self) as u8,
                    ttl: v(slot::NW_TTL, self) as u8,
                    ttl_mask: w(slot::NW_TTL, self) as u8,
                }));
            }
        }
        if w(slot::TP_SRC, self) | w(slot::TP_DST, self) != 0 {
            self.out.push(Dp::Set(SetField::Transport {
                src: v(slot::TP_SRC, self) as u16,
                src_mask: w(slot::TP_SRC, self) as u16,
                dst: v(slot::TP_DST, self) as u16,
                dst_mask: w(slot::TP_DST, self) as u16,
            }));
        }
        // Registers and other metadata written stay in the flow; only the
        // headers above are the datapath's.
        self.written = [0; FLOW_LEN];
        self.base = self.flow;
        self.base_tpid = self.vlan_tpid;
    }

    pub(super) fn commit_vlan(&mut self) {
        let (old, new) = (be(&self.base[slot::VLAN_TCI.range()]), self.slot(slot::VLAN_TCI));
        if old == new && (new & VLAN_CFI == 0 || self.base_tpid == self.vlan_tpid) {
            return;
        }
        // Whether the packet has a tag, and which, decides the actions.
        for b in &mut self.wc[slot::VLAN_TCI.range()] {
            *b = 0xff;
        }
        if old & VLAN_CFI != 0 {
            self.out.push(Dp::PopVlan);
        }
        if new & VLAN_CFI != 0 {
            self.out.push(Dp::PushVlan { tpid: self.vlan_tpid, tci: (new & !VLAN_CFI) as u16 });
        }
    }
}
