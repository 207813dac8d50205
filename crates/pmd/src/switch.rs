//! The switching loop of a PMD thread: DESIGN.md's packet path, steps
//! 1–6, on the thread itself.
//!
//! Each rx burst is extracted into flow keys; each key is looked up in the
//! thread's microflow cache, the misses in a batch lookup of its megaflow
//! classifier, and what misses both is an upcall: the key is translated
//! through the bridge's OpenFlow tables by the [`Translate`] the control
//! thread supplied, the megaflow is installed, and the packet executed.
//! Upcalls are bounded per burst ([`SwitchConfig::upcall_budget`]): a
//! flood of new flows costs at most that many translations per burst, the
//! rest of the flood is dropped and counted as lost, and packets of
//! established flows in the same bursts are switched as usual.
//!
//! # Revalidation
//!
//! When the tables change, the translator's version moves. Between bursts
//! the thread notices, translates every megaflow's key again, removes
//! those whose actions changed or whose mask no longer covers what the
//! translation examines, and then acknowledges the version
//! ([`SwitchHandle::acked`]). The control thread answers an OpenFlow
//! barrier only after the acknowledgement, so no packet takes a stale
//! megaflow after the barrier reply.
//!
//! Once a second the thread also passes the megaflows' counters on to the
//! OpenFlow rules they came from, removes megaflows idle for
//! [`SwitchConfig::idle_ms`], and re-ranks its subtables.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use dataplane::actions::{Datapath, DropReason};
use dataplane::{Action, Classifier, Credits, FlowKey, FlowMask, Megaflow, MicroflowCache, MiniKey, PacketMeta, BATCH};

use crate::mbuf::{Burst, Mbuf};
use crate::port::RxQueue;
use crate::thread::{PmdStatsSnapshot, TxBuffer, Work};

/// What a translation gives the datapath.
#[derive(Debug, Clone)]
pub struct Translation {
    /// The actions (empty: drop).
    pub actions: Arc<[Action]>,
    /// The bits of the key the actions depend on.
    pub mask: FlowMask,
    /// The counters the megaflow credits.
    pub credits: Credits,
}

/// The control thread's side of the packet path: translation and the
/// slow path. Implemented by the daemon over its OpenFlow tables.
pub trait Translate: Send + Sync {
    /// The tables' version: when it changes, megaflows are revalidated.
    fn version(&self) -> u64;
    /// Translates a packet with `key`; `revalidating` when checking an
    /// installed megaflow rather than handling a packet (nothing is
    /// learned from it).
    fn translate(&self, key: &FlowKey, revalidating: bool) -> Translation;
    /// Takes a copy of a packet for the slow path (a controller); false
    /// when the queue is full (the packet is counted as lost).
    fn slow_path(&self, packet: &[u8], meta: &PacketMeta, userdata: &[u8]) -> bool;
}

/// Settings of the switching loop.
#[derive(Debug, Clone, Copy)]
pub struct SwitchConfig {
    /// Microflow cache entries (a power of two).
    pub emc_entries: usize,
    /// One microflow insertion per this many megaflow hits (0: never).
    pub emc_insert_inv_prob: u32,
    /// The most upcalls one rx burst may make (default 8 of the 32
    /// packets of a burst: under a flood of new flows, the thread spends
    /// most of its time on established traffic).
    pub upcall_budget: usize,
    /// The most megaflows the thread holds (`other_config:flow-limit`).
    pub flow_limit: usize,
    /// Megaflows idle this long are removed (milliseconds).
    pub idle_ms: u64,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig { emc_entries: 8192, emc_insert_inv_prob: 100, upcall_budget: 8, flow_limit: 200_000, idle_ms: 10_000 }
    }
}

/// Requests the control thread makes of the loop.
#[derive(Debug)]
enum Request {
    /// Every installed megaflow.
    Dump(mpsc::Sender<Vec<Arc<Megaflow>>>),
    /// Remove every megaflow.
    Flush,
}

/// The control thread's handle on a switching loop.
#[derive(Debug, Clone)]
pub struct SwitchHandle {
    requests: mpsc::Sender<Request>,
    acked: Arc<AtomicU64>,
}

impl SwitchHandle {
    /// The tables' version the loop's megaflows agree with.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Acquire)
    }

    /// The installed megaflows; `None` if the loop does not answer within
    /// `timeout` (it answers between bursts).
    pub fn dump(&self, timeout: std::time::Duration) -> Option<Vec<Arc<Megaflow>>> {
        let (tx, rx) = mpsc::channel();
        self.requests.send(Request::Dump(tx)).ok()?;
        rx.recv_timeout(timeout).ok()
    }

    /// Asks the loop to remove every megaflow.
    pub fn flush(&self) {
        let _ = self.requests.send(Request::Flush);
    }
}

/// The queues a switching loop held, with their datapath ports.
#[derive(Debug)]
pub struct PolledQueues {
    /// Receive queues and the port each receives for.
    pub rx: Vec<(RxQueue, u32)>,
    /// Transmit queues by port.
    pub tx: Vec<(u32, crate::port::TxQueue)>,
}

/// A PMD thread's switching work: its rx queues, its tx buffers, its caches.
pub struct Switching {
    rxqs: Vec<(RxQueue, u32)>,
    txs: Vec<Option<TxBuffer>>,
    translate: Arc<dyn Translate>,
    config: SwitchConfig,
    emc: MicroflowCache,
    megaflows: Classifier,
    version: u64,
    acked: Arc<AtomicU64>,
    requests: mpsc::Receiver<Request>,
    last_sweep: u64,
    keys: Vec<MiniKey>,
    hashes: [u32; BATCH],
}

impl std::fmt::Debug for Switching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switching").field("rxqs", &self.rxqs.len()).field("megaflows", &self.megaflows.len()).finish()
    }
}

impl Switching {
    /// A loop translating through `translate`; returns it and its handle.
    pub fn new(translate: Arc<dyn Translate>, config: SwitchConfig) -> Result<(Self, SwitchHandle), dataplane::microflow::MicroflowError> {
        let emc = MicroflowCache::new(config.emc_entries, config.emc_insert_inv_prob)?;
        let (tx, rx) = mpsc::channel();
        let acked = Arc::new(AtomicU64::new(0));
        let version = translate.version();
        acked.store(version, Ordering::Release);
        let work = Switching {
            rxqs: Vec::new(),
            txs: Vec::new(),
            translate,
            config,
            emc,
            megaflows: Classifier::new(),
            version,
            acked: Arc::clone(&acked),
            requests: rx,
            last_sweep: dataplane::clock_ms(),
            keys: vec![MiniKey::default(); BATCH],
            hashes: [0; BATCH],
        };
        Ok((work, SwitchHandle { requests: tx, acked }))
    }

    /// Polls `rxq`, whose packets arrive on datapath port `in_port`.
    pub fn poll(&mut self, rxq: RxQueue, in_port: u32) {
        self.rxqs.push((rxq, in_port));
    }

    /// Sends what is output to datapath port `port` on `queue`.
    pub fn output(&mut self, port: u32, queue: crate::port::TxQueue) {
        let i = port as usize;
        if self.txs.len() <= i {
            self.txs.resize_with(i + 1, || None);
        }
        self.txs[i] = Some(TxBuffer::new(queue));
    }

    /// Gives back the queues (packets still buffered are freed).
    pub fn into_queues(self) -> PolledQueues {
        let tx = self.txs.into_iter().enumerate().filter_map(|(i, t)| Some((i as u32, t?.into_queue()))).collect();
        PolledQueues { rx: self.rxqs, tx }
    }

    /// Handles one rx burst received on `in_port`.
    fn switch(&mut self, burst: &mut Burst, in_port: u32, stats: &mut PmdStatsSnapshot) {
        let n = burst.len();
        let meta = PacketMeta::new(in_port);
        let now = dataplane::clock_ms();
        for (i, data) in burst.iter().enumerate() {
            if let Err(reason) = dataplane::extract_into(data, &meta, &mut self.keys[i]) {
                // The key holds what parsed; the packet is switched on it.
                let _ = reason;
                stats.malformed += 1;
            }
            self.hashes[i] = self.keys[i].hash(0);
        }
        let mut flows: [Option<Arc<Megaflow>>; BATCH] = Default::default();
        let mut pending = 0u32;
        for (i, flow) in flows.iter_mut().enumerate().take(n) {
            match self.emc.lookup(&self.keys[i], self.hashes[i]) {
                Some(f) => {
                    *flow = Some(Arc::clone(f));
                    stats.emc_hits += 1;
                }
                None => pending |= 1 << i,
            }
        }
        if pending != 0 {
            let mut found: [Option<&Arc<Megaflow>>; BATCH] = [None; BATCH];
            let hits = self.megaflows.lookup_batch(&self.keys[..n], pending, &mut found);
            let mut p = hits;
            while p != 0 {
                let i = p.trailing_zeros() as usize;
                p &= p - 1;
                if let Some(f) = found[i] {
                    self.emc.offer(&self.keys[i], self.hashes[i], f);
                    flows[i] = Some(Arc::clone(f));
                    stats.megaflow_hits += 1;
                }
            }
            pending &= !hits;
        }
        let mut budget = self.config.upcall_budget;
        let mut p = pending;
        while p != 0 {
            let i = p.trailing_zeros() as usize;
            p &= p - 1;
            // Two packets of one new flow in a burst: the second finds
            // the megaflow the first installed.
            if let Some(f) = self.megaflows.lookup(&self.keys[i]) {
                flows[i] = Some(Arc::clone(f));
                stats.megaflow_hits += 1;
                continue;
            }
            if budget == 0 {
                stats.lost += 1;
                continue;
            }
            budget -= 1;
            flows[i] = Some(self.upcall(i, stats));
        }
        let mut exec = Exec { txs: &mut self.txs, stats, translate: &*self.translate };
        for (i, mbuf) in burst.drain().enumerate() {
            let Some(flow) = flows.get(i).and_then(Option::as_ref) else {
                continue;
            };
            let len = mbuf.data().len() as u64;
            flow.stats().add(1, len, now, self.keys[i].get(dataplane::Field::TCP_FLAGS) as u16);
            dataplane::execute(&mut exec, mbuf, &meta, self.hashes[i], flow.actions());
        }
    }

    /// Translates packet `i` and installs its megaflow (unless the flow
    /// limit is reached: then the megaflow only serves this packet).
    fn upcall(&mut self, i: usize, stats: &mut PmdStatsSnapshot) -> Arc<Megaflow> {
        let key = self.keys[i].expand();
        let t = self.translate.translate(&key, false);
        stats.upcalls += 1;
        if self.megaflows.len() >= self.config.flow_limit {
            let mut alone = Classifier::new();
            return alone.insert_crediting(&self.keys[i], &t.mask, t.actions, t.credits);
        }
        self.megaflows.insert_crediting(&self.keys[i], &t.mask, t.actions, t.credits)
    }

    /// Between bursts: requests, revalidation, the once-a-second sweep.
    fn maintain(&mut self) {
        while let Ok(r) = self.requests.try_recv() {
            match r {
                Request::Dump(reply) => {
                    let _ = reply.send(self.megaflows.iter().filter(|f| !f.is_dead()).cloned().collect());
                }
                Request::Flush => {
                    for f in self.megaflows.iter() {
                        f.push_credits();
                        f.kill();
                    }
                    self.megaflows.remove_dead();
                }
            }
        }
        let version = self.translate.version();
        if version != self.version {
            self.revalidate();
            self.version = version;
            self.acked.store(version, Ordering::Release);
        }
        let now = dataplane::clock_ms();
        if now.saturating_sub(self.last_sweep) >= 1000 {
            self.last_sweep = now;
            self.sweep(now);
        }
    }

    /// Removes the megaflows the tables no longer give.
    fn revalidate(&mut self) {
        for f in self.megaflows.iter() {
            let t = self.translate.translate(&f.key(), true);
            if t.actions != *f.actions() || !t.mask.is_subset_of(f.mask()) {
                f.push_credits();
                f.kill();
            }
        }
        self.megaflows.remove_dead();
    }

    /// Pushes counters to the rules, removes idle megaflows, re-ranks.
    fn sweep(&mut self, now: u64) {
        for f in self.megaflows.iter() {
            f.push_credits();
            let used = f.stats().snapshot().used;
            let since = if used == 0 { f.created() } else { used };
            if now.saturating_sub(since) >= self.config.idle_ms {
                f.kill();
            }
        }
        self.megaflows.remove_dead();
        self.megaflows.rank(now);
    }
}

impl Work for Switching {
    fn iterate(&mut self, burst: &mut Burst, stats: &mut PmdStatsSnapshot) -> usize {
        let mut received = 0;
        for q in 0..self.rxqs.len() {
            let (rxq, in_port) = &mut self.rxqs[q];
            let in_port = *in_port;
            let n = rxq.rx(burst);
            if n == 0 {
                continue;
            }
            received += n;
            self.switch(burst, in_port, stats);
        }
        for tx in self.txs.iter_mut().flatten() {
            tx.flush(stats);
        }
        if received == 0 || stats.iterations % 64 == 0 {
            self.maintain();
        }
        received
    }
}

/// Where executed packets go.
struct Exec<'a> {
    txs: &'a mut [Option<TxBuffer>],
    stats: &'a mut PmdStatsSnapshot,
    translate: &'a dyn Translate,
}

impl Datapath<Mbuf> for Exec<'_> {
    fn output(&mut self, port: u32, packet: Mbuf) {
        match self.txs.get_mut(port as usize).and_then(Option::as_mut) {
            Some(tx) => tx.push_one(packet, self.stats),
            None => self.stats.dropped += 1,
        }
    }

    fn userspace(&mut self, packet: Mbuf, meta: &PacketMeta, userdata: &[u8]) {
        if self.translate.slow_path(packet.data(), meta, userdata) {
            self.stats.slow_path += 1;
        } else {
            self.stats.lost += 1;
        }
    }

    fn recirculate(&mut self, _packet: Mbuf, _meta: PacketMeta) {
        // Nothing translates into recirculation yet (no conntrack).
        self.stats.action_drops += 1;
    }

    fn dropped(&mut self, _reason: DropReason) {
        self.stats.action_drops += 1;
    }
}
