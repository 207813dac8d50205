//! The NORMAL action: an L2 learning switch per bridge, with VLAN access
//! and trunk ports, as OVS's `ofproto-dpif-xlate` and `mac-learning` do it.
//!
//! A packet's VLAN is its port's `tag` on an access port, else the VLAN of
//! its 802.1Q header (0 when untagged). Its source MAC is learned on
//! `(vlan, in_port)`; its destination is looked up in that VLAN: a known
//! MAC on another port gets the packet, a known MAC on the input port
//! drops it, and anything else (unknown, multicast, broadcast) floods to
//! every port of the VLAN but the input port. Output to an access port
//! strips the tag, to a trunk port adds it.
//!
//! Entries age out after `mac-aging-time` seconds (default 300) and the
//! table holds at most `mac-table-size` entries (default 2048; the oldest
//! entry gives way). Every change of what a destination resolves to — a
//! new MAC, a MAC moving to another port, an entry aging out — bumps the
//! shared `generation`, so the datapath revalidates the megaflows NORMAL
//! made.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dataplane::Action as Dp;

use crate::flowmatch::{slot, Slot};

/// How a port treats VLANs (OVS's `Port` `tag`, `trunks`, `vlan_mode`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VlanMode {
    /// Untagged traffic, in VLAN `tag`.
    Access(u16),
    /// Tagged traffic of these VLANs (empty: every VLAN); untagged traffic
    /// is VLAN 0.
    Trunk(Vec<u16>),
}

impl VlanMode {
    /// The VLAN of a packet received with 802.1Q VID `vid` (`None`:
    /// untagged), or `None` when the port does not accept it.
    fn input_vlan(&self, vid: Option<u16>) -> Option<u16> {
        match (self, vid) {
            (VlanMode::Access(tag), None | Some(0)) => Some(*tag),
            (VlanMode::Access(_), Some(_)) => None,
            (VlanMode::Trunk(_), None) => Some(0),
            (VlanMode::Trunk(_), Some(v)) if self.carries(v) => Some(v),
            (VlanMode::Trunk(_), Some(_)) => None,
        }
    }

    /// Whether the port is in VLAN `vlan`.
    fn carries(&self, vlan: u16) -> bool {
        match self {
            VlanMode::Access(tag) => *tag == vlan,
            VlanMode::Trunk(trunks) => trunks.is_empty() || trunks.contains(&vlan) || vlan == 0,
        }
    }
}

/// A port as NORMAL sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalPort {
    /// OpenFlow port number.
    pub ofport: u16,
    /// Datapath port number.
    pub odp: u32,
    /// VLAN configuration.
    pub vlan: VlanMode,
    /// Left out of floods (`OFPPC_NO_FLOOD`).
    pub no_flood: bool,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    ofport: u16,
    seen: Instant,
}

/// A bridge's MAC learning table.
#[derive(Debug)]
pub struct MacTable {
    entries: Mutex<HashMap<(u16, [u8; 6]), Entry>>,
    aging: Mutex<Duration>,
    limit: AtomicU64,
    generation: Arc<AtomicU64>,
}

/// OVS's default `mac-aging-time`.
pub const DEFAULT_AGING: Duration = Duration::from_secs(300);
/// OVS's default `mac-table-size`.
pub const DEFAULT_SIZE: usize = 2048;

impl MacTable {
    /// An empty table that bumps `generation` when what it answers changes.
    pub fn new(generation: Arc<AtomicU64>) -> MacTable {
        MacTable { entries: Mutex::default(), aging: Mutex::new(DEFAULT_AGING), limit: AtomicU64::new(DEFAULT_SIZE as u64), generation }
    }

    /// Sets `mac-aging-time` and `mac-table-size`.
    pub fn configure(&self, aging: Duration, size: usize) {
        if let Ok(mut a) = self.aging.lock() {
            *a = aging;
        }
        self.limit.store(size.max(1) as u64, Ordering::Relaxed);
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Learns `mac` on `ofport` in `vlan`.
    pub fn learn(&self, vlan: u16, mac: [u8; 6], ofport: u16, now: Instant) {
        let Ok(mut t) = self.entries.lock() else {
            return;
        };
        match t.get_mut(&(vlan, mac)) {
            Some(e) if e.ofport == ofport => e.seen = now,
            Some(e) => {
                *e = Entry { ofport, seen: now };
                drop(t);
                self.changed();
            }
            None => {
                if t.len() as u64 >= self.limit.load(Ordering::Relaxed) {
                    if let Some(oldest) = t.iter().min_by_key(|(_, e)| e.seen).map(|(k, _)| *k) {
                        t.remove(&oldest);
                    }
                }
                t.insert((vlan, mac), Entry { ofport, seen: now });
                drop(t);
                self.changed();
            }
        }
    }

    /// The port `mac` was learned on in `vlan`.
    pub fn lookup(&self, vlan: u16, mac: [u8; 6]) -> Option<u16> {
        self.entries.lock().ok()?.get(&(vlan, mac)).map(|e| e.ofport)
    }

    /// Removes entries older than the aging time; returns how many.
    pub fn age(&self, now: Instant) -> usize {
        let aging = self.aging.lock().map_or(DEFAULT_AGING, |a| *a);
        let Ok(mut t) = self.entries.lock() else {
            return 0;
        };
        let before = t.len();
        t.retain(|_, e| now.saturating_duration_since(e.seen) < aging);
        let gone = before - t.len();
        drop(t);
        if gone > 0 {
            self.changed();
        }
        gone
    }

    /// Forgets everything learned on `ofport` (a port that went away).
    pub fn flush_port(&self, ofport: u16) {
        if let Ok(mut t) = self.entries.lock() {
            t.retain(|_, e| e.ofport != ofport);
        }
        self.changed();
    }

    /// The entries as `fdb/show` lists them: port, VLAN, MAC, age in
    /// seconds; sorted by port, VLAN, MAC.
    pub fn show(&self, now: Instant) -> Vec<(u16, u16, [u8; 6], u64)> {
        let Ok(t) = self.entries.lock() else {
            return Vec::new();
        };
        let mut v: Vec<_> =
            t.iter().map(|((vlan, mac), e)| (e.ofport, *vlan, *mac, now.saturating_duration_since(e.seen).as_secs())).collect();
        v.sort();
        v
    }
}

/// NORMAL for one bridge: its ports and its MAC table.
#[derive(Debug, Clone)]
pub struct Normal {
    /// The bridge's ports.
    pub ports: Vec<NormalPort>,
    /// The learning table (shared across rebuilds of the bridge).
    pub macs: Arc<MacTable>,
}

fn mac_of(v: u128) -> [u8; 6] {
    let b = (v as u64).to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

impl Normal {
    /// Datapath actions for a packet received on `in_port`, whose fields
    /// `read` gives (marking them examined). Learns the source when
    /// `may_learn` (not while revalidating).
    pub fn actions(&self, in_port: u16, read: &mut dyn FnMut(Slot) -> u128, may_learn: bool) -> Vec<Dp> {
        let Some(input) = self.ports.iter().find(|p| p.ofport == in_port) else {
            return Vec::new();
        };
        let tci = read(slot::VLAN_TCI);
        let vid = (tci & 0x1000 != 0).then_some((tci & 0xfff) as u16);
        let Some(vlan) = input.vlan.input_vlan(vid) else {
            return Vec::new();
        };
        let src = mac_of(read(slot::DL_SRC));
        let dst = mac_of(read(slot::DL_DST));
        if may_learn && src[0] & 1 == 0 {
            self.macs.learn(vlan, src, in_port, Instant::now());
        }
        let targets: Vec<&NormalPort> = match (dst[0] & 1 == 0).then(|| self.macs.lookup(vlan, dst)).flatten() {
            Some(p) if p == in_port => Vec::new(),
            Some(p) => self.ports.iter().filter(|x| x.ofport == p && x.vlan.carries(vlan)).collect(),
            None => self.ports.iter().filter(|x| x.ofport != in_port && !x.no_flood && x.vlan.carries(vlan)).collect(),
        };
        let mut out = Vec::new();
        for p in targets {
            let tagged_out = matches!(p.vlan, VlanMode::Trunk(_)) && vlan != 0;
            let out_tci = if tagged_out { Some((vlan & 0xfff) | (tci as u16 & 0xe000)) } else { None };
            let in_tci = vid.map(|_| tci as u16 & !0x1000);
            if out_tci == in_tci {
                out.push(Dp::Output(p.odp));
                continue;
            }
            let mut a = Vec::new();
            if vid.is_some() {
                a.push(Dp::PopVlan);
            }
            if let Some(t) = out_tci {
                a.push(Dp::PushVlan { tpid: 0x8100, tci: t });
            }
            a.push(Dp::Output(p.odp));
            out.push(Dp::Clone(a.into()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge() -> Normal {
        let ports = vec![
            NormalPort { ofport: 1, odp: 11, vlan: VlanMode::Access(10), no_flood: false },
            NormalPort { ofport: 2, odp: 12, vlan: VlanMode::Access(10), no_flood: false },
            NormalPort { ofport: 3, odp: 13, vlan: VlanMode::Access(20), no_flood: false },
            NormalPort { ofport: 4, odp: 14, vlan: VlanMode::Trunk(vec![]), no_flood: false },
        ];
        Normal { ports, macs: Arc::new(MacTable::new(Arc::default())) }
    }

    fn packet(src: u8, dst: u8, vid: Option<u16>) -> impl FnMut(Slot) -> u128 {
        move |s: Slot| match s {
            s if s == slot::DL_SRC => u128::from(src),
            s if s == slot::DL_DST => u128::from(dst) | if dst == 0xff { 0xffff_ffff_ffff } else { 0 },
            s if s == slot::VLAN_TCI => vid.map_or(0, |v| u128::from(v) | 0x1000),
            _ => 0,
        }
    }

    #[test]
    fn learns_floods_within_the_vlan_and_tags_for_trunks() {
        let b = bridge();
        // Unknown destination from port 1 (VLAN 10): flood to 2 and, tagged, the trunk.
        let a = b.actions(1, &mut packet(1, 2, None), true);
        assert_eq!(a, vec![Dp::Output(12), Dp::Clone(vec![Dp::PushVlan { tpid: 0x8100, tci: 10 }, Dp::Output(14)].into())]);
        // The reply from port 2 finds MAC 1 on port 1 only.
        assert_eq!(b.actions(2, &mut packet(2, 1, None), true), vec![Dp::Output(11)]);
        // From the trunk with tag 10 to MAC 2: untagged out of port 2.
        assert_eq!(b.actions(4, &mut packet(4, 2, Some(10)), true), vec![Dp::Clone(vec![Dp::PopVlan, Dp::Output(12)].into())]);
        // VLAN 20 does not see VLAN 10's MACs: a flood to the trunk only.
        let a = b.actions(3, &mut packet(3, 1, None), true);
        assert_eq!(a, vec![Dp::Clone(vec![Dp::PushVlan { tpid: 0x8100, tci: 20 }, Dp::Output(14)].into())]);
        // A tagged packet on an access port is dropped.
        assert!(b.actions(1, &mut packet(1, 2, Some(10)), true).is_empty());
        // A MAC seen on its own port: dropped.
        assert!(b.actions(1, &mut packet(9, 1, None), true).is_empty());
    }

    #[test]
    fn moves_age_and_bumps() {
        let b = bridge();
        let gen = || b.macs.generation.load(Ordering::Relaxed);
        b.actions(1, &mut packet(1, 0xff, None), true);
        let g = gen();
        assert_eq!(b.macs.lookup(10, [0, 0, 0, 0, 0, 1]), Some(1));
        b.actions(1, &mut packet(1, 0xff, None), true);
        assert_eq!(gen(), g, "seeing a MAC again where it was changes nothing");
        b.actions(2, &mut packet(1, 0xff, None), true);
        assert_eq!(b.macs.lookup(10, [0, 0, 0, 0, 0, 1]), Some(2), "moved");
        assert!(gen() > g);
        b.actions(2, &mut packet(5, 0xff, None), false);
        assert_eq!(b.macs.lookup(10, [0, 0, 0, 0, 0, 5]), None, "no learning while revalidating");
        b.macs.configure(Duration::from_secs(1), 1);
        b.actions(1, &mut packet(6, 0xff, None), true);
        assert_eq!(b.macs.show(Instant::now()).len(), 1, "the table holds one entry");
        assert_eq!(b.macs.age(Instant::now() + Duration::from_secs(2)), 1);
        assert!(b.macs.show(Instant::now()).is_empty());
    }
}
