//! A burst's steps apart from the loop: extracting the keys, the
//! microflow caches' lookups and fills, grouping packets by megaflow for
//! output, the shared action lists, and the upcalls.

#![allow(clippy::wildcard_imports)]

use super::*;

/// The packets of a burst with header keys.
#[derive(Clone, Copy)]
pub(super) struct Plain<'a> {
    /// Bitmap of the packets.
    pub(super) which: u32,
    /// Their header keys (and the keys' hashes).
    pub(super) keys: &'a [(HeaderKey, u32); BATCH],
}

/// Extracts the keys of the packets of `burst` in `which` to `depth`,
/// with their hashes and TCP flags; returns how many did not parse whole
/// (they are switched on what did). The `plain` ones (at `Depth::All`)
/// take theirs from their header keys.
#[allow(clippy::too_many_arguments)]
pub(super) fn extract(
    burst: &Burst,
    meta: &PacketMeta,
    which: u32,
    plain: Plain<'_>,
    keys: &mut [MiniKey],
    hashes: &mut [u32; BATCH],
    tcp_flags: &mut [u16; BATCH],
    depth: Depth,
) -> u32 {
    let mut malformed = 0;
    for (i, (data, key)) in burst.iter().zip(keys.iter_mut()).enumerate().take(BATCH) {
        if which >> i & 1 == 0 {
            continue;
        }
        if plain.which >> i & 1 != 0 {
            let header = &plain.keys[i].0;
            header.flow_key(key);
            tcp_flags[i] = header.tcp_flags();
        } else {
            malformed += u32::from(dataplane::extract_to(data, meta, key, depth).is_err());
        }
    }
    // Hashed in a pass of their own: by then the keys' stores have left
    // the store buffer, and the hashes of different keys overlap.
    let mut p = which;
    while p != 0 {
        let i = p.trailing_zeros() as usize;
        p &= p - 1;
        hashes[i] = keys[i].hash(0);
        if plain.which >> i & 1 == 0 {
            tcp_flags[i] = keys[i].get(dataplane::Field::TCP_FLAGS) as u16;
        }
    }
    malformed
}

/// Copies the hits `found` (bitmap `hits`) into `flows`.
pub(super) fn merge<'a>(flows: &mut [Option<&'a Arc<Megaflow>>; BATCH], found: &[Option<&'a Arc<Megaflow>>; BATCH], hits: u32) {
    let mut p = hits;
    while p != 0 {
        let i = p.trailing_zeros() as usize;
        p &= p - 1;
        flows[i] = found[i];
    }
}

/// The microflow caches, to offer a burst's megaflow hits to.
pub(super) struct Caches<'a> {
    pub(super) emc: &'a mut MicroflowCache,
    pub(super) headers: &'a mut MicroflowCache<HeaderKey, u32>,
    /// The packets with header keys.
    pub(super) plain: Plain<'a>,
}

impl Caches<'_> {
    /// Offers the megaflow hits (bitmap `hits`): plain packets' to the
    /// cache keyed on header keys, with their keys' hashes; the others' to
    /// the cache keyed on flow keys.
    pub(super) fn offer(self, keys: &[MiniKey], hashes: &[u32; BATCH], found: &[Option<&Arc<Megaflow>>; BATCH], hits: u32) {
        let mut p = hits;
        while p != 0 {
            let i = p.trailing_zeros() as usize;
            p &= p - 1;
            let Some(f) = found[i] else {
                continue;
            };
            if self.plain.which >> i & 1 != 0 {
                let (h, hash) = &self.plain.keys[i];
                self.headers.offer(h, *hash, f, hashes[i]);
            } else {
                self.emc.offer(&keys[i], hashes[i], f, ());
            }
        }
    }
}

/// What sending a burst needs.
pub(super) struct Out<'a> {
    pub(super) burst: &'a mut Burst,
    pub(super) hashes: &'a [u32; BATCH],
    pub(super) tcp_flags: &'a [u16; BATCH],
    pub(super) meta: &'a PacketMeta,
    pub(super) ports: Ports<'a>,
    pub(super) translate: &'a dyn Translate,
}

impl Out<'_> {
    /// Executes the burst, packet `i` with `flows[i]` (none: dropped, it
    /// was counted lost). Counters are updated once per run of packets
    /// with one megaflow; a burst whose megaflows all share one lone
    /// output (translations share equal action lists, [`ActionLists`])
    /// moves to that port's tx buffer whole, and otherwise a lone output
    /// goes straight to the port's tx buffer. `now` is the clock of
    /// megaflow statistics ([`Switching::now`]).
    pub(super) fn send(&mut self, flows: &[Option<&Arc<Megaflow>>; BATCH], n: usize, now: u64, stats: &mut PmdStatsSnapshot) {
        let mut lens = [0u64; BATCH];
        for (len, data) in lens.iter_mut().zip(self.burst.iter()) {
            *len = data.len() as u64;
        }
        let mut common = flows[0].map(|f| f.actions());
        let mut i = 0;
        while i < n {
            let Some(flow) = flows[i] else {
                common = None;
                i += 1;
                continue;
            };
            if common.is_some_and(|c| !Arc::ptr_eq(c, flow.actions())) {
                common = None;
            }
            let mut j = i + 1;
            while j < n && flows[j].is_some_and(|f| Arc::ptr_eq(f, flow)) {
                j += 1;
            }
            let bytes = lens[i..j].iter().sum();
            let tcp_flags = self.tcp_flags[i..j].iter().fold(0, |a, f| a | f);
            flow.stats().add((j - i) as u64, bytes, now, tcp_flags);
            i = j;
        }
        if let Some([Action::Output(port)]) = common.map(|c| &**c) {
            if let Some(tx) = self.ports.txs.get_mut(*port as usize).and_then(Option::as_mut) {
                tx.push(self.burst, stats);
                return;
            }
        }
        let ports = Ports { txs: self.ports.txs, patches: self.ports.patches, handover: self.ports.handover };
        let mut exec = Exec { ports, stats, translate: self.translate };
        for (k, mbuf) in self.burst.drain().enumerate().take(n) {
            let Some(flow) = flows[k] else {
                continue;
            };
            match **flow.actions() {
                [Action::Output(port)] => exec.output(port, mbuf),
                _ => dataplane::execute(&mut exec, mbuf, self.meta, self.hashes[k], flow.actions()),
            }
        }
    }
}

/// Action lists shared between megaflows: translations that give equal
/// lists install one `Arc`, so that the megaflows of a table with
/// thousands of rules sending to one port read one hot copy per packet
/// rather than one each.
#[derive(Debug, Default)]
pub(super) struct ActionLists {
    pub(super) lists: std::collections::HashSet<Arc<[Action]>>,
}

impl ActionLists {
    /// Distinct lists kept; past it the set starts again.
    pub(super) const MAX: usize = 4096;

    /// The shared list equal to `actions`.
    pub(super) fn share(&mut self, actions: Arc<[Action]>) -> Arc<[Action]> {
        if let Some(shared) = self.lists.get(&*actions) {
            return Arc::clone(shared);
        }
        if self.lists.len() >= Self::MAX {
            self.lists.clear();
        }
        self.lists.insert(Arc::clone(&actions));
        actions
    }
}

/// Translates and installs the packets of `misses` (within the upcall
/// budget; the rest are counted lost). Returns the megaflows that could
/// not be installed (flow limit), in packet order.
pub(super) fn upcalls(
    megaflows: &mut Classifier,
    lists: &mut ActionLists,
    translate: &dyn Translate,
    config: &SwitchConfig,
    keys: &[MiniKey],
    misses: u32,
    stats: &mut PmdStatsSnapshot,
) -> Vec<Arc<Megaflow>> {
    let mut alone = Vec::new();
    let mut budget = config.upcall_budget;
    let mut p = misses;
    while p != 0 {
        let i = p.trailing_zeros() as usize;
        p &= p - 1;
        // Two packets of one new flow in a burst: the second finds the
        // megaflow the first installed (a megaflow hit, as OVS counts it).
        if megaflows.lookup(&keys[i]).is_some() {
            stats.megaflow_hits += 1;
            continue;
        }
        if budget == 0 {
            stats.lost += 1;
            continue;
        }
        budget -= 1;
        let t = translate.translate(&keys[i].expand(), false);
        stats.upcalls += 1;
        let actions = lists.share(t.actions);
        if megaflows.len() >= config.flow_limit {
            // Past the flow limit the translation serves this packet alone.
            alone.push(Classifier::new().insert_crediting(&keys[i], &t.mask, actions, t.credits));
        } else {
            megaflows.insert_crediting(&keys[i], &t.mask, actions, t.credits);
        }
    }
    alone
}
