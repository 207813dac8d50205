//! The switching loop of a PMD thread: DESIGN.md's packet path, steps
//! 1–6, on the thread itself.
//!
//! Each rx burst is extracted into flow keys; each key is looked up in the
//! thread's microflow cache, the misses in a batch lookup of its megaflow
//! classifier. (Plain Ethernet/IPv4/TCP-UDP packets first try a microflow
//! cache keyed on their header bytes, [`dataplane::HeaderKey`]: a hit
//! there needs no extraction at all.) What misses all of them is an
//! upcall: the key is translated through the bridge's OpenFlow tables by
//! the [`Translate`] the control thread supplied, the megaflow is
//! installed, and the packet executed.
//! Upcalls are bounded per burst ([`SwitchConfig::upcall_budget`]): a
//! flood of new flows costs at most that many translations per burst, the
//! rest of the flood is dropped and counted as lost, and packets of
//! established flows in the same bursts are switched as usual.
//!
//! # Revalidation
//!
//! When the tables change, the translator's version moves. Between bursts
//! the thread notices and hands its megaflows to its revalidator
//! ([`crate::revalidator`], a thread off the PMD's core), which translates
//! every megaflow's key again, kills those whose actions changed or whose
//! mask no longer covers what the translation examines, waits for the
//! loop to finish the iteration it was in, and then acknowledges the
//! version ([`SwitchHandle::acked`]). The control thread answers an
//! OpenFlow barrier only after the acknowledgement, so no packet takes a
//! stale megaflow after the barrier reply, and the PMD forwards meanwhile.
//! Past [`REVALIDATE_MAX`] megaflows the thread removes them all instead.
//!
//! Once a second the thread also passes the megaflows' counters on to the
//! OpenFlow rules they came from, removes megaflows idle for
//! [`SwitchConfig::idle_ms`], and re-ranks its subtables.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use dataplane::actions::{Datapath, DropReason};
use dataplane::{Action, Classifier, Depth, HeaderKey, Megaflow, MicroflowCache, MiniKey, PacketMeta, BATCH};

use crate::eal::rdtsc;
use crate::mbuf::{Burst, Mbuf};
use crate::port::RxQueue;
use crate::thread::{PmdStatsSnapshot, TxBuffer, Work};
use crate::translate::Translate;

mod batch;
mod exec;
use batch::*;
use exec::*;

/// Settings of the switching loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// The PMD revalidates and sweeps its megaflows itself, as before the
    /// revalidator thread: up to 1 000 (`INLINE_REVALIDATE_MAX`) translated on
    /// the thread, more removed (for comparison: `ferrovs bench
    /// revalidate`).
    pub inline_revalidation: bool,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            emc_entries: 8192,
            emc_insert_inv_prob: 100,
            upcall_budget: 8,
            flow_limit: 200_000,
            idle_ms: 10_000,
            inline_revalidation: false,
        }
    }
}

/// Past this many megaflows a table change removes them all rather than
/// have the revalidator translate each again (the traffic installs what it
/// needs again, within the upcall budget): handing over the list, and a
/// round's translations, grow with the number of megaflows.
pub const REVALIDATE_MAX: usize = 20_000;

/// With [`SwitchConfig::inline_revalidation`], the most megaflows the PMD
/// translates again itself; past it, it removes them all.
pub const INLINE_REVALIDATE_MAX: usize = 1000;

/// Entries of the microflow cache keyed on header keys. An entry is one
/// cache line (64 bytes: a 40-byte key, the megaflow, two hashes), against
/// about 650 bytes for an entry of OVS's exact-match cache, so 131 072 of
/// them take 8 MB where OVS's 8 192 take about 5 MB: the same order of
/// memory holds sixteen times the flows.
pub const HEADER_CACHE_ENTRIES: usize = 1 << 17;

/// Microflow cache slots checked for dead megaflows to release per
/// [`Switching::maintain`], once megaflows died, for a round of the
/// larger cache's size.
const RELEASE_CHUNK: usize = 1024;

/// Slowly polled queues ([`Switching::poll_slowly`]) are polled once per
/// this many iterations: about every 6 µs when idle, 60 µs at full load.
pub const SLOW_EVERY: u64 = 64;

/// The switching loop reads the clock of megaflow statistics once per
/// this many iterations (a system call's worth less per burst; 16
/// iterations last far less than the millisecond it counts in).
const CLOCK_EVERY: u64 = 16;

/// Requests the control thread makes of the loop.
#[derive(Debug)]
enum Request {
    /// Every installed megaflow.
    Dump(mpsc::Sender<Vec<Arc<Megaflow>>>),
    /// Remove every megaflow.
    Flush,
    /// Execute datapath actions on a packet (PACKET_OUT).
    Execute {
        /// The packet.
        packet: Vec<u8>,
        /// Its datapath input port (0: none).
        in_port: u32,
        /// The actions.
        actions: Arc<[Action]>,
    },
}

/// The control thread's handle on a switching loop.
#[derive(Debug, Clone)]
pub struct SwitchHandle {
    requests: mpsc::Sender<Request>,
    reval: Arc<crate::revalidator::Shared>,
}

impl SwitchHandle {
    /// The tables' version the loop's megaflows agree with.
    pub fn acked(&self) -> u64 {
        self.reval.acked.load(Ordering::Acquire)
    }

    /// Calls `hook` after every acknowledgement (from the revalidator's
    /// thread, or the loop's when it revalidates itself): to wake a task
    /// waiting for one.
    pub fn on_ack(&self, hook: Arc<dyn Fn() + Send + Sync>) {
        if let Ok(mut h) = self.reval.on_ack.lock() {
            h.0 = Some(hook);
        }
    }

    /// The installed megaflows; `None` if the loop does not answer within
    /// `timeout` (it answers between bursts).
    pub fn dump(&self, timeout: std::time::Duration) -> Option<Vec<Arc<Megaflow>>> {
        let (tx, rx) = mpsc::channel();
        self.requests.send(Request::Dump(tx)).ok()?;
        rx.recv_timeout(timeout).ok()
    }

    /// Asks the loop to execute `actions` on a copy of `packet` received
    /// on datapath port `in_port` (between bursts); false if the loop has
    /// ended.
    pub fn execute(&self, packet: &[u8], in_port: u32, actions: Arc<[Action]>) -> bool {
        self.requests.send(Request::Execute { packet: packet.to_vec(), in_port, actions }).is_ok()
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
    rxqs: Vec<(RxQueue, u32, Arc<AtomicU64>)>,
    slow_rxqs: Vec<(RxQueue, u32, Arc<AtomicU64>)>,
    txs: Vec<Option<TxBuffer>>,
    /// Patch ports: the peer of each datapath port that is one.
    patches: Vec<Option<u32>>,
    /// Packets output to patch ports, waiting to enter their peers.
    handover: Handover,
    translate: Arc<dyn Translate>,
    config: SwitchConfig,
    emc: MicroflowCache,
    megaflows: Classifier,
    version: u64,
    /// The revalidator's side (`None`: its thread could not start, and the
    /// loop revalidates itself).
    revalidator: Option<crate::revalidator::Revalidator>,
    reval: Arc<crate::revalidator::Shared>,
    /// The loop's iterations, published for the revalidator's grace period.
    epoch: u64,
    /// The revalidator killed megaflows the classifier still links.
    dead_pending: bool,
    requests: mpsc::Receiver<Request>,
    last_sweep: u64,
    /// Slots of the microflow caches still to release dead megaflows
    /// from (see [`Switching::maintain`]).
    release_left: usize,
    /// [`dataplane::clock_ms`], read every [`CLOCK_EVERY`] iterations.
    now: u64,
    pool: Option<Arc<crate::Mempool>>,
    action_lists: ActionLists,
    /// The microflow cache of plain packets, keyed on their header
    /// bytes, with their flow keys' hashes.
    headers: MicroflowCache<HeaderKey, u32>,
    keys: Vec<MiniKey>,
    hashes: [u32; BATCH],
    tcp_flags: [u16; BATCH],
    header_keys: [(HeaderKey, u32); BATCH],
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
        let version = translate.version();
        let reval = Arc::new(crate::revalidator::Shared { acked: AtomicU64::new(version), ..Default::default() });
        let revalidator = crate::revalidator::spawn(Arc::clone(&translate), Arc::clone(&reval)).ok();
        let work = Switching {
            rxqs: Vec::new(),
            slow_rxqs: Vec::new(),
            txs: Vec::new(),
            patches: Vec::new(),
            handover: Handover::default(),
            translate,
            config,
            emc,
            megaflows: Classifier::new(),
            version,
            revalidator,
            reval,
            epoch: 0,
            dead_pending: false,
            requests: rx,
            last_sweep: dataplane::clock_ms(),
            now: dataplane::clock_ms(),
            release_left: 0,
            pool: None,
            action_lists: ActionLists::default(),
            headers: MicroflowCache::new(HEADER_CACHE_ENTRIES, config.emc_insert_inv_prob)?,
            keys: vec![MiniKey::default(); BATCH],
            hashes: [0; BATCH],
            tcp_flags: [0; BATCH],
            header_keys: [(HeaderKey::default(), 0); BATCH],
        };
        let handle = SwitchHandle { requests: tx, reval: Arc::clone(&work.reval) };
        Ok((work, handle))
    }

    /// Takes buffers for packets from the control thread (PACKET_OUT)
    /// from `pool`.
    pub fn set_pool(&mut self, pool: Arc<crate::Mempool>) {
        self.pool = Some(pool);
    }

    /// Polls `rxq`, whose packets arrive on datapath port `in_port`; the
    /// TSC cycles its packets take (receiving and switching them) are
    /// added to `load`.
    pub fn poll(&mut self, rxq: RxQueue, in_port: u32, load: Arc<AtomicU64>) {
        self.rxqs.push((rxq, in_port, load));
    }

    /// Polls `rxq` once every 64 iterations (`SLOW_EVERY`): a port of little
    /// traffic whose empty poll costs (a bridge's local tap device), as
    /// OVS polls such ports outside its PMD threads.
    pub fn poll_slowly(&mut self, rxq: RxQueue, in_port: u32, load: Arc<AtomicU64>) {
        self.slow_rxqs.push((rxq, in_port, load));
    }

    /// Makes datapath port `port` a patch port: what is output to it
    /// enters the datapath again as received on `peer`, the same buffer
    /// handed over (OVS's patch ports, between two bridges).
    pub fn patch(&mut self, port: u32, peer: u32) {
        let i = port as usize;
        if self.patches.len() <= i {
            self.patches.resize(i + 1, None);
        }
        self.patches[i] = Some(peer);
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
        PolledQueues { rx: self.rxqs.into_iter().chain(self.slow_rxqs).map(|(q, port, _)| (q, port)).collect(), tx }
    }

    /// Handles one rx burst received on `in_port`.
    ///
    /// Megaflows are referenced, not counted (`&Arc`: no atomic increment
    /// per packet): hits borrow the microflow caches and the classifier,
    /// which nothing changes until the burst is sent. When some packets
    /// miss both, they are translated and installed (changing the
    /// classifier) before the burst's megaflows are looked up again.
    fn switch(&mut self, burst: &mut Burst, in_port: u32, stats: &mut PmdStatsSnapshot) {
        let n = burst.len().min(BATCH);
        let meta = PacketMeta::new(in_port);
        // Only as deep as the installed megaflows look (`in_port` alone
        // needs no parsing at all); the microflow cache then holds keys
        // of that depth, which is as exact for these megaflows.
        let depth = self.megaflows.depth();
        if depth == Depth::Meta && self.switch_whole(burst, &meta, stats) {
            return;
        }
        let all = if n == BATCH { u32::MAX } else { (1u32 << n) - 1 };
        let mut flows: [Option<&Arc<Megaflow>>; BATCH] = [None; BATCH];
        // Plain packets go by their header bytes when the megaflows look
        // at whole keys: a hit needs no extraction (`HeaderKey`).
        let mut plain = 0u32;
        let mut micro_hits = 0u32;
        if depth == Depth::All && self.config.emc_insert_inv_prob != 0 {
            // The slots of every key are prefetched before any is read.
            for (i, data) in burst.iter().enumerate().take(n) {
                let Some(h) = HeaderKey::of(data, &meta) else {
                    continue;
                };
                plain |= 1 << i;
                let hash = h.hash();
                self.header_keys[i] = (h, hash);
                self.headers.prefetch(hash);
            }
            let mut p = plain;
            while p != 0 {
                let i = p.trailing_zeros() as usize;
                p &= p - 1;
                let (h, hash) = &self.header_keys[i];
                if let Some((flow, key_hash)) = self.headers.lookup(h, *hash) {
                    flows[i] = Some(flow);
                    self.hashes[i] = key_hash;
                    self.tcp_flags[i] = h.tcp_flags();
                    micro_hits |= 1 << i;
                }
            }
        }
        let mut pending = all & !micro_hits;
        if pending != 0 {
            let plain_keys = Plain { which: plain, keys: &self.header_keys };
            let malformed = extract(burst, &meta, pending, plain_keys, &mut self.keys, &mut self.hashes, &mut self.tcp_flags, depth);
            stats.malformed += u64::from(malformed);
            let mut p = pending & !plain;
            while p != 0 {
                let i = p.trailing_zeros() as usize;
                p &= p - 1;
                if let Some((flow, ())) = self.emc.lookup(&self.keys[i], self.hashes[i]) {
                    flows[i] = Some(flow);
                    micro_hits |= 1 << i;
                }
            }
            pending &= !micro_hits;
        }
        stats.emc_hits += u64::from(micro_hits.count_ones());
        let ports = Ports { txs: &mut self.txs, patches: &self.patches, handover: &mut self.handover };
        let mut out = Out { burst, hashes: &self.hashes, tcp_flags: &self.tcp_flags, meta: &meta, ports, translate: &*self.translate };
        if pending == 0 {
            out.send(&flows, n, self.now, stats);
            return;
        }
        let mut found: [Option<&Arc<Megaflow>>; BATCH] = [None; BATCH];
        let hits = self.megaflows.lookup_batch(&self.keys[..n], pending, &mut found);
        if pending & !hits == 0 {
            stats.megaflow_hits += u64::from(hits.count_ones());
            let mut both = flows;
            merge(&mut both, &found, hits);
            out.send(&both, n, self.now, stats);
            let caches = Caches { emc: &mut self.emc, headers: &mut self.headers, plain: Plain { which: plain, keys: &self.header_keys } };
            caches.offer(&self.keys, &self.hashes, &found, hits);
            return;
        }
        // Some packets start new megaflows: translation needs whole keys,
        // and the megaflows it installs may look deeper than `depth`.
        if depth != Depth::All {
            let none = Plain { which: 0, keys: &self.header_keys };
            extract(burst, &meta, pending, none, &mut self.keys, &mut self.hashes, &mut self.tcp_flags, Depth::All);
        }
        // The first lookup's hits; `upcalls` counts the misses (translated,
        // lost, or finding a megaflow an earlier packet of the burst made).
        stats.megaflow_hits += u64::from(hits.count_ones());
        let alone =
            upcalls(&mut self.megaflows, &mut self.action_lists, &*self.translate, &self.config, &self.keys, pending & !hits, stats);
        let mut found: [Option<&Arc<Megaflow>>; BATCH] = [None; BATCH];
        let hits = self.megaflows.lookup_batch(&self.keys[..n], pending, &mut found);
        merge(&mut flows, &found, hits);
        // Past the flow limit a translation serves its packet alone.
        let mut over_limit = alone.iter();
        let mut p = pending & !hits;
        while p != 0 {
            let i = p.trailing_zeros() as usize;
            p &= p - 1;
            flows[i] = over_limit.next();
        }
        let ports = Ports { txs: &mut self.txs, patches: &self.patches, handover: &mut self.handover };
        let mut out = Out { burst, hashes: &self.hashes, tcp_flags: &self.tcp_flags, meta: &meta, ports, translate: &*self.translate };
        out.send(&flows, n, self.now, stats);
        let caches = Caches { emc: &mut self.emc, headers: &mut self.headers, plain: Plain { which: plain, keys: &self.header_keys } };
        caches.offer(&self.keys, &self.hashes, &found, hits);
    }

    /// When no megaflow looks past the metadata, every packet of a burst
    /// from one port has the same key: one lookup serves the burst, and a
    /// lone output moves the whole burst to the port's tx buffer. False
    /// (nothing done) when the lookup misses.
    fn switch_whole(&mut self, burst: &mut Burst, meta: &PacketMeta, stats: &mut PmdStatsSnapshot) -> bool {
        let key = &mut self.keys[0];
        let _ = dataplane::extract_to(&[], meta, key, Depth::Meta);
        let Some(flow) = self.megaflows.lookup(key) else {
            return false;
        };
        let n = burst.len() as u64;
        let bytes: u64 = burst.iter().map(|d| d.len() as u64).sum();
        stats.megaflow_hits += n;
        flow.stats().add(n, bytes, self.now, 0);
        if let [Action::Output(port)] = **flow.actions() {
            if let Some(tx) = self.txs.get_mut(port as usize).and_then(Option::as_mut) {
                tx.push(burst, stats);
                return true;
            }
        }
        let ports = Ports { txs: &mut self.txs, patches: &self.patches, handover: &mut self.handover };
        let mut exec = Exec { ports, stats, translate: &*self.translate };
        for mbuf in burst.drain() {
            dataplane::execute(&mut exec, mbuf, meta, 0, flow.actions());
        }
        true
    }

    /// Between bursts, when idle or every 64 iterations: requests and the
    /// once-a-second sweep.
    fn maintain(&mut self, stats: &mut PmdStatsSnapshot) {
        // The revalidator killed megaflows: lookups skip them already; the
        // caches let go of them little by little, the classifier unlinks
        // them at the next sweep.
        if self.reval.killed.swap(false, Ordering::AcqRel) {
            self.dead_pending = true;
            self.release_left = self.release_round();
        }
        while let Ok(r) = self.requests.try_recv() {
            match r {
                Request::Dump(reply) => {
                    let _ = reply.send(self.megaflows.iter().filter(|f| !f.is_dead()).cloned().collect());
                }
                Request::Execute { packet, in_port, actions } => self.execute(&packet, in_port, &actions, stats),
                Request::Flush => {
                    self.retire_all();
                    self.megaflows.remove_dead();
                }
            }
        }
        // After megaflows died, a little of the caches each time: every
        // slot within about ten milliseconds at full load, a few
        // microseconds at a time.
        if self.release_left > 0 {
            self.emc.release_dead(RELEASE_CHUNK);
            self.headers.release_dead(RELEASE_CHUNK);
            self.release_left = self.release_left.saturating_sub(RELEASE_CHUNK);
        }
        let now = dataplane::clock_ms();
        if now.saturating_sub(self.last_sweep) >= 1000 {
            self.last_sweep = now;
            self.sweep(now);
        }
    }

    /// Executes `actions` on `packet` from the control thread; a packet
    /// that does not fit a buffer, or finds none, is counted dropped.
    fn execute(&mut self, packet: &[u8], in_port: u32, actions: &[Action], stats: &mut PmdStatsSnapshot) {
        stats.injected += 1;
        let mbuf = self.pool.as_ref().and_then(|p| p.alloc()).and_then(|mut m| {
            let len = u16::try_from(packet.len()).ok()?;
            m.append(len)?.copy_from_slice(packet);
            Some(m)
        });
        let Some(mbuf) = mbuf else {
            stats.dropped += 1;
            return;
        };
        let ports = Ports { txs: &mut self.txs, patches: &self.patches, handover: &mut self.handover };
        let mut exec = Exec { ports, stats, translate: &*self.translate };
        dataplane::execute(&mut exec, mbuf, &PacketMeta::new(in_port), 0, actions);
        self.hand_over(stats);
        for tx in self.txs.iter_mut().flatten() {
            tx.flush(stats);
        }
    }

    /// The tables moved to `version`: the revalidator gets the megaflows
    /// (once it is idle: until then the loop asks again each iteration),
    /// or, past [`REVALIDATE_MAX`] or without a revalidator, the loop sees
    /// to them itself.
    fn tables_changed(&mut self, version: u64) {
        if let Some(tx) = self.revalidator.as_ref().filter(|_| !self.config.inline_revalidation) {
            if self.megaflows.len() <= REVALIDATE_MAX {
                if self.reval.busy.load(Ordering::Acquire) {
                    return;
                }
                self.reval.busy.store(true, Ordering::Release);
                let flows = self.megaflows.iter().filter(|f| !f.is_dead()).cloned().collect();
                if tx.send(crate::revalidator::Round { version, flows, sweep: None }) {
                    self.version = version;
                    return;
                }
                self.reval.busy.store(false, Ordering::Release);
            }
        }
        self.revalidate();
        self.version = version;
        self.reval.ack(version);
    }

    /// Removes the megaflows the tables no longer give: each is translated
    /// again, or, past [`REVALIDATE_MAX`] megaflows, all are removed (the
    /// traffic installs what it needs again, within the upcall budget).
    fn revalidate(&mut self) {
        let max = if self.config.inline_revalidation { INLINE_REVALIDATE_MAX } else { REVALIDATE_MAX };
        if self.megaflows.len() > max {
            self.retire_all();
            self.megaflows = Classifier::new();
            return;
        }
        let round = self.release_round();
        for f in self.megaflows.iter() {
            let t = self.translate.translate(&f.key(), true);
            if t.actions != *f.actions() || !t.mask.is_subset_of(f.mask()) {
                f.push_credits();
                f.kill();
                self.release_left = round;
            }
        }
        self.megaflows.remove_dead();
    }

    /// Kills every megaflow, its counters passed on first.
    fn retire_all(&mut self) {
        for f in self.megaflows.iter() {
            f.push_credits();
            f.kill();
        }
        self.release_left = self.release_round();
    }

    /// Slots to release dead megaflows from after some died: a round of
    /// the larger cache.
    fn release_round(&self) -> usize {
        self.headers.capacity().max(self.emc.capacity())
    }

    /// Pushes counters to the rules, removes idle megaflows, re-ranks. The
    /// revalidator does the first two, when there is one and it is idle
    /// (else the next sweep does), and the loop unlinks what it killed.
    fn sweep(&mut self, now: u64) {
        if let Some(tx) = self.revalidator.as_ref().filter(|_| !self.config.inline_revalidation) {
            if std::mem::take(&mut self.dead_pending) {
                self.megaflows.remove_dead();
            }
            if !self.reval.busy.load(Ordering::Acquire) {
                self.reval.busy.store(true, Ordering::Release);
                let flows = self.megaflows.iter().filter(|f| !f.is_dead()).cloned().collect();
                let round = crate::revalidator::Round { version: self.version, flows, sweep: Some((now, self.config.idle_ms)) };
                if !tx.send(round) {
                    self.reval.busy.store(false, Ordering::Release);
                }
            }
            self.megaflows.rank(now);
            return;
        }
        let round = self.release_round();
        for f in self.megaflows.iter() {
            f.push_credits();
            let used = f.stats().snapshot().used;
            let since = if used == 0 { f.created() } else { used };
            if now.saturating_sub(since) >= self.config.idle_ms {
                f.kill();
                self.release_left = round;
            }
        }
        self.megaflows.remove_dead();
        self.megaflows.rank(now);
    }
}

impl Work for Switching {
    fn iterate(&mut self, burst: &mut Burst, stats: &mut PmdStatsSnapshot) -> usize {
        if stats.iterations % CLOCK_EVERY == 0 {
            self.now = dataplane::clock_ms();
        }
        let mut received = 0;
        let slow = if stats.iterations % SLOW_EVERY == 0 { self.slow_rxqs.len() } else { 0 };
        // One clock read per queue that received: an empty poll's few
        // cycles count towards the next queue that receives.
        let mut start = rdtsc();
        for q in 0..self.rxqs.len() + slow {
            let (rxq, in_port, _) = match self.rxqs.get_mut(q) {
                Some(fast) => fast,
                None => &mut self.slow_rxqs[q - self.rxqs.len()],
            };
            let in_port = *in_port;
            let n = rxq.rx(burst);
            if n == 0 {
                continue;
            }
            received += n;
            self.switch(burst, in_port, stats);
            self.hand_over(stats);
            let load = match self.rxqs.get(q) {
                Some(fast) => &fast.2,
                None => &self.slow_rxqs[q - self.rxqs.len()].2,
            };
            let end = rdtsc();
            // One writer: a load and a store, no locked instruction.
            load.store(load.load(Ordering::Relaxed) + end.wrapping_sub(start), Ordering::Relaxed);
            start = end;
        }
        for tx in self.txs.iter_mut().flatten() {
            tx.flush(stats);
        }
        // Every iteration: a table change waits on this (one atomic load),
        // and the revalidator's grace period on the epoch (one store).
        let version = self.translate.version();
        if version != self.version {
            self.tables_changed(version);
        }
        self.epoch += 1;
        self.reval.epoch.store(self.epoch, Ordering::Release);
        if received == 0 || stats.iterations % 64 == 0 {
            self.maintain(stats);
        }
        received
    }
}

#[cfg(test)]
mod tests;
