//! Carrying out a burst's actions: the tx buffers, the patch ports'
//! handover between bridges, and the [`Datapath`] the actions run on.

#![allow(clippy::wildcard_imports)]

use super::*;

/// How many times a packet may cross patch ports in one pass (a loop of
/// patch ports is cut there, its packets counted as dropped by actions).
pub(super) const PATCH_HOPS: usize = 8;

/// Packets output to patch ports, by the peer they enter.
#[derive(Debug, Default)]
pub(super) struct Handover {
    pub(super) bursts: Vec<(u32, Burst)>,
    /// Some burst holds packets.
    pub(super) pending: bool,
}

impl Handover {
    /// Queues `packet` to enter on `peer`; false (the packet freed) when
    /// that peer's burst is full.
    pub(super) fn push(&mut self, peer: u32, packet: Mbuf) -> bool {
        self.pending = true;
        let at = match self.bursts.iter().position(|(p, _)| *p == peer) {
            Some(i) => i,
            None => {
                self.bursts.push((peer, Burst::new()));
                self.bursts.len() - 1
            }
        };
        self.bursts[at].1.push(packet).is_ok()
    }
}

impl Switching {
    /// Switches the packets handed over by patch ports, as received on
    /// their peers, until none is left or [`PATCH_HOPS`] passes are done.
    pub(super) fn hand_over(&mut self, stats: &mut PmdStatsSnapshot) {
        let mut hops = 0;
        while self.handover.pending {
            self.handover.pending = false;
            if hops == PATCH_HOPS {
                for (_, b) in &mut self.handover.bursts {
                    stats.action_drops += b.len() as u64;
                    b.clear();
                }
                return;
            }
            hops += 1;
            for i in 0..self.handover.bursts.len() {
                let (peer, mut burst) = {
                    let (peer, b) = &mut self.handover.bursts[i];
                    (*peer, std::mem::take(b))
                };
                if !burst.is_empty() {
                    self.switch(&mut burst, peer, stats);
                }
                // Give the (empty) burst back unless the switch queued
                // more for this peer meanwhile.
                if self.handover.bursts[i].1.is_empty() {
                    self.handover.bursts[i].1 = burst;
                }
            }
        }
    }
}

/// Where packets leave: tx buffers by datapath port, and patch ports.
pub(super) struct Ports<'a> {
    pub(super) txs: &'a mut [Option<TxBuffer>],
    pub(super) patches: &'a [Option<u32>],
    pub(super) handover: &'a mut Handover,
}

/// Where executed packets go.
pub(super) struct Exec<'a> {
    pub(super) ports: Ports<'a>,
    pub(super) stats: &'a mut PmdStatsSnapshot,
    pub(super) translate: &'a dyn Translate,
}

impl Datapath<Mbuf> for Exec<'_> {
    #[inline]
    fn output(&mut self, port: u32, packet: Mbuf) {
        if let Some(tx) = self.ports.txs.get_mut(port as usize).and_then(Option::as_mut) {
            tx.push_one(packet, self.stats);
            return;
        }
        match self.ports.patches.get(port as usize).copied().flatten() {
            Some(peer) => {
                if !self.ports.handover.push(peer, packet) {
                    self.stats.action_drops += 1;
                }
            }
            None => self.stats.dropped += 1,
        }
    }

    fn userspace(&mut self, packet: Mbuf, meta: &PacketMeta, userdata: &[u8]) {
        if self.translate.slow_path(packet.data(), meta, userdata) {
            self.stats.slow_path += 1;
        } else {
            self.stats.slow_path_drops += 1;
        }
    }

    fn recirculate(&mut self, _packet: Mbuf, _meta: PacketMeta) {
        // Nothing translates into recirculation yet (no conntrack).
        self.stats.action_drops += 1;
    }

    fn dropped(&mut self, reason: DropReason) {
        match reason {
            DropReason::XlateError => self.stats.xlate_error_drops += 1,
            _ => self.stats.action_drops += 1,
        }
    }
}
