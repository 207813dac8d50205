//! The datapath: the PMD thread that switches between the DPDK ports of
//! every bridge, and the translator it calls on a cache miss.
//!
//! Datapath port numbers are the process's (OVS's `ovs-netdev` datapath
//! has one numbering for all bridges too): each DPDK interface gets one
//! when first opened and keeps it while it exists. Each bridge publishes
//! its tables, ports and NORMAL configuration as an immutable
//! [`Pipeline`]; the [`Xlator`] holds the current set and a generation
//! that moves whenever any of them, or a MAC table, changes. The PMD
//! thread revalidates its megaflows when it sees the generation move and
//! then acknowledges it; [`Xlator::synced`] waits for that, and the
//! OpenFlow connection waits on it before answering a barrier.
//!
//! PMD threads run on the cores of `other_config:pmd-cpu-mask` (by
//! default the last core the process may use), one per core that has a
//! receive queue to poll ([`crate::rxq`] assigns them). Each has its own
//! megaflows and caches. A change of ports, cores or assignment stops
//! every thread and starts them again (one pause of about a millisecond;
//! their megaflows start again from empty).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use dataplane::key::{Field, FieldAccess};
use dataplane::{FlowKey, PacketMeta};
use ofproto::normal::{MacTable, Normal, NormalPort};
use ofproto::packet_in::PacketIn;
use ofproto::table::Tables;
use ofproto::xlate::{Pipeline, ToController, XPort};
use pmd::{Eal, PmdStats, PmdThread, RxQueue, SwitchConfig, SwitchHandle, Switching, Translate, Translation, TxQueue};

/// The pipelines the PMD thread translates with.
#[derive(Debug, Default)]
struct XState {
    pipelines: Vec<Arc<Pipeline>>,
    /// The bridges' names, as `pipelines`.
    names: Vec<String>,
    /// Datapath port → index in `pipelines`.
    by_odp: HashMap<u32, usize>,
}

/// The translator the PMD thread calls, and what the control thread
/// publishes into it.
#[derive(Debug)]
pub struct Xlator {
    state: ArcSwap<XState>,
    /// Moves on every published change and MAC table change.
    generation: Arc<AtomicU64>,
    /// Each bridge's current pipeline (control thread only).
    pipelines: Mutex<BTreeMap<String, Arc<Pipeline>>>,
    /// The running PMD threads' handles.
    pmds: Mutex<Vec<PmdInfo>>,
    /// Translations that failed, and the last reason.
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Packets for controllers, from the PMD threads to the control
    /// thread (bounded: a full queue drops and counts).
    packet_ins: tokio::sync::mpsc::Sender<(String, PacketIn)>,
    packet_ins_rx: Mutex<Option<tokio::sync::mpsc::Receiver<(String, PacketIn)>>>,
    /// Packets queued for controllers, and those the full queue dropped.
    to_controller: AtomicU64,
    to_controller_lost: AtomicU64,
    /// `dpif-netdev/pmd-rxq-rebalance` asked for a new assignment.
    rebalance: std::sync::atomic::AtomicBool,
    /// Wakes the control thread's reconciliation.
    wake: Arc<tokio::sync::Notify>,
    /// What each recent generation changed (`None`: anything), for the
    /// revalidators; a generation missing here (a MAC table's) changed
    /// anything too.
    changes: Mutex<std::collections::VecDeque<(u64, Option<Rules>)>>,
    /// Woken when a PMD thread acknowledges a generation.
    acked: Arc<tokio::sync::Notify>,
}

/// Rules' matches in the datapath's layout: key values and masks.
type Rules = Arc<[(FlowKey, dataplane::FlowMask)]>;

/// Generations whose changes [`Xlator`] remembers.
const CHANGES_KEPT: usize = 1024;

/// Packets the PMD threads may have waiting for the control thread.
pub const PACKET_IN_QUEUE: usize = 1024;

/// A running PMD thread as the management commands see it.
#[derive(Debug, Clone)]
pub struct PmdInfo {
    /// Its core.
    pub core: usize,
    /// Its counters.
    pub stats: Arc<PmdStats>,
    /// Its switching loop.
    pub handle: SwitchHandle,
    /// Its receive queues and their loads.
    pub loads: Vec<RxqLoad>,
    /// It polls only queues pinned to it (`pmd-rxq-affinity`).
    pub isolated: bool,
}

impl Default for Xlator {
    fn default() -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(PACKET_IN_QUEUE);
        Xlator {
            state: ArcSwap::from_pointee(XState::default()),
            generation: Arc::new(AtomicU64::new(1)),
            pipelines: Mutex::default(),
            pmds: Mutex::default(),
            errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
            packet_ins: tx,
            packet_ins_rx: Mutex::new(Some(rx)),
            to_controller: AtomicU64::new(0),
            to_controller_lost: AtomicU64::new(0),
            rebalance: std::sync::atomic::AtomicBool::new(false),
            wake: Arc::default(),
            changes: Mutex::default(),
            acked: Arc::default(),
        }
    }
}

impl Xlator {
    /// The generation MAC tables bump.
    pub fn generation(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.generation)
    }

    /// Makes `pipeline` bridge `name`'s (`None`: the bridge is gone),
    /// which changed the rules `changes` concern (`None`: anything);
    /// returns the generation to wait for.
    pub fn publish(&self, name: &str, pipeline: Option<Pipeline>, changes: Option<Vec<(FlowKey, dataplane::FlowMask)>>) -> u64 {
        let (Ok(mut all), Ok(mut log)) = (self.pipelines.lock(), self.changes.lock()) else {
            return self.generation.load(Ordering::Acquire);
        };
        match pipeline {
            Some(p) => {
                all.insert(name.to_owned(), Arc::new(p));
            }
            None => {
                all.remove(name);
            }
        }
        let mut state = XState::default();
        for (name, p) in all.iter() {
            let i = state.pipelines.len();
            state.pipelines.push(Arc::clone(p));
            state.names.push(name.clone());
            for port in p.ports() {
                state.by_odp.insert(port.odp, i);
            }
        }
        // The state first, then the generation: a thread that sees the new
        // generation translates with the new state.
        self.state.store(Arc::new(state));
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        log.push_back((generation, changes.map(Arc::from)));
        while log.len() > CHANGES_KEPT {
            log.pop_front();
        }
        generation
    }

    /// Waits until every PMD thread has revalidated up to `generation`
    /// (at most `limit`; false if it did not). The threads' revalidators
    /// wake it; it also looks every millisecond.
    pub async fn synced(&self, generation: u64, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        loop {
            let woken = self.acked.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let done = self.pmds.lock().map(|p| p.iter().all(|p| p.handle.acked() >= generation)).unwrap_or(true);
            if done {
                return true;
            }
            if start.elapsed() >= limit {
                return false;
            }
            let _ = tokio::time::timeout(Duration::from_millis(1), woken).await;
        }
    }

    /// Asks for the receive queues to be assigned again by their loads
    /// (`dpif-netdev/pmd-rxq-rebalance`), at the next reconciliation,
    /// which this wakes.
    pub fn request_rebalance(&self) {
        self.rebalance.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether a rebalance was asked for since the last call.
    pub fn take_rebalance(&self) -> bool {
        self.rebalance.swap(false, Ordering::AcqRel)
    }

    /// Notified when the datapath wants a reconciliation (a rebalance, a
    /// vhost-user guest attaching or leaving).
    pub fn wake(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.wake)
    }

    /// The running PMD threads.
    pub fn pmds(&self) -> Vec<PmdInfo> {
        self.pmds.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Failed translations, and the last reason.
    pub fn errors(&self) -> (u64, Option<String>) {
        (self.errors.load(Ordering::Relaxed), self.last_error.lock().ok().and_then(|e| e.clone()))
    }

    /// Packets the tables sent to controllers: queued, and dropped
    /// because the queue was full.
    pub fn to_controller(&self) -> (u64, u64) {
        (self.to_controller.load(Ordering::Relaxed), self.to_controller_lost.load(Ordering::Relaxed))
    }

    /// The queue of packets for controllers (bridge name, packet), for
    /// the control thread; `None` once taken.
    pub fn take_packet_ins(&self) -> Option<tokio::sync::mpsc::Receiver<(String, PacketIn)>> {
        self.packet_ins_rx.lock().ok()?.take()
    }

    /// Queues a packet a translation sent to the controllers; false (and
    /// counted) when the queue is full or the packet is not ours.
    fn queue_packet_in(&self, packet: &[u8], meta: &PacketMeta, userdata: &[u8]) -> bool {
        let state = self.state.load();
        let odp = meta.in_port();
        let (Some(what), Some(&i)) = (ToController::decode(userdata), state.by_odp.get(&odp)) else {
            self.to_controller_lost.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        let (Some(pipeline), Some(name)) = (state.pipelines.get(i), state.names.get(i)) else {
            return false;
        };
        let in_port = pipeline.ofport(odp).unwrap_or(ofproto::xlate::port::NONE);
        let mut metadata = ofproto::flowmatch::Match::exact(&[(ofproto::flowmatch::Mff::InPort, &in_port.to_be_bytes())]);
        let tun_id = meta.get(Field::TUN_ID) as u64;
        if tun_id != 0 {
            metadata.set(ofproto::flowmatch::field(ofproto::flowmatch::Mff::TunId), &tun_id.to_be_bytes(), None);
        }
        let pi = PacketIn { what, packet: packet.to_vec(), metadata };
        if self.packet_ins.try_send((name.clone(), pi)).is_err() {
            self.to_controller_lost.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.to_controller.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn translation(&self, key: &FlowKey, upcall: bool) -> Translation {
        let state = self.state.load();
        let in_port = key.get(Field::IN_PORT) as u32;
        let Some(pipeline) = state.by_odp.get(&in_port).and_then(|&i| state.pipelines.get(i)) else {
            let mut mask = dataplane::FlowMask::default();
            mask.exact(Field::IN_PORT).exact(Field::RECIRC_ID);
            return Translation { actions: Arc::new([]), mask, credits: Arc::new([]) };
        };
        let x = pipeline.translate(key, upcall);
        if let Some(e) = x.error {
            self.errors.fetch_add(1, Ordering::Relaxed);
            // Never wait on the PMD thread: skip the note if it is busy.
            if let Ok(mut last) = self.last_error.try_lock() {
                *last = Some(e);
            }
        }
        Translation { actions: x.actions.into(), mask: x.mask, credits: x.credits.into() }
    }
}

impl Translate for Xlator {
    fn version(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn translate(&self, key: &FlowKey, revalidating: bool) -> Translation {
        self.translation(key, !revalidating)
    }

    fn slow_path(&self, packet: &[u8], meta: &PacketMeta, userdata: &[u8]) -> bool {
        self.queue_packet_in(packet, meta, userdata)
    }

    /// The rules changed after generation `since`, if every generation
    /// since says which.
    fn changes_since(&self, since: u64) -> Option<Rules> {
        let log = self.changes.lock().ok()?;
        let now = self.generation.load(Ordering::Acquire);
        let mut all = Vec::new();
        let mut next = since + 1;
        for (g, c) in log.iter().filter(|(g, _)| *g > since) {
            if *g != next {
                return None;
            }
            all.extend(c.as_ref()?.iter().copied());
            next += 1;
        }
        (next > now).then(|| all.into())
    }
}

/// A bridge's side of the datapath: what it publishes.
#[derive(Debug)]
pub struct BridgeDp {
    name: String,
    xlator: Arc<Xlator>,
    macs: Arc<MacTable>,
    state: Mutex<Published>,
    /// The bridge's handle, for `ofproto/trace` and packets for its
    /// controllers (weak: the handle holds this).
    bridge: std::sync::OnceLock<ofproto::bridge::WeakBridge>,
    /// Connections that want table misses (OpenFlow 1.0 ones): while there
    /// is one, a miss goes to the controllers.
    miss_wanted: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Default)]
struct Published {
    ports: Vec<XPort>,
    normal: Vec<NormalPort>,
    /// The tables' version last published, `None` when something else
    /// changed since.
    tables: Option<u64>,
}

impl BridgeDp {
    /// Bridge `name`'s side of `xlator`'s datapath.
    pub fn new(name: &str, xlator: &Arc<Xlator>) -> BridgeDp {
        BridgeDp {
            name: name.to_owned(),
            xlator: Arc::clone(xlator),
            macs: Arc::new(MacTable::new(xlator.generation())),
            state: Mutex::default(),
            bridge: std::sync::OnceLock::new(),
            miss_wanted: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A connection starts (`true`) or stops wanting table misses; the
    /// tables are published again when that changes what a miss does.
    pub fn want_misses(&self, wants: bool) {
        let before = if wants { self.miss_wanted.fetch_add(1, Ordering::AcqRel) } else { self.miss_wanted.fetch_sub(1, Ordering::AcqRel) };
        if before == usize::from(!wants) {
            if let Ok(mut s) = self.state.lock() {
                s.tables = None;
            }
        }
    }

    /// Hands a packet to every controller of the bridge (each OpenFlow
    /// connection decides by its controller id, role and asynchronous
    /// configuration).
    pub fn packet_in(&self, pi: PacketIn) {
        if let Some(bridge) = self.bridge.get().and_then(ofproto::bridge::WeakBridge::upgrade) {
            bridge.packet_in(pi);
        }
    }

    /// Gives the bridge's handle to `ofproto/trace` and the packet path.
    pub fn attach(&self, bridge: &ofproto::Bridge) {
        let _ = self.bridge.set(bridge.downgrade());
    }

    /// `ofproto/trace BRIDGE FLOW`: the walk of a packet with the fields
    /// of `flow` (`ovs-ofctl` syntax) through the bridge's current tables,
    /// the megaflow it would install and its datapath actions. Nothing is
    /// learned and nothing is sent.
    pub fn trace(&self, flow: &str, packet: Option<&str>) -> Result<String, String> {
        use ofproto::text::{match_text, parse_match};
        let mut m = parse_match(flow)?;
        let bridge = self.bridge.get().and_then(ofproto::bridge::WeakBridge::upgrade).ok_or("the bridge has no flow tables yet")?;
        let pipeline = {
            let tables = bridge.lock().map_err(|_| "the flow tables are unavailable")?;
            let s = self.state.lock().map_err(|_| "the bridge is unavailable")?;
            let normal = Normal { ports: s.normal.clone(), macs: Arc::clone(&self.macs) };
            Pipeline::new(&tables, s.ports.clone(), false, Some(normal))
        };
        let in_port = m.slot_value(ofproto::flowmatch::slot::IN_PORT) as u16;
        let key = match packet {
            None => ofproto::xlate::from_flow(&m.flow, &pipeline),
            // The packet's headers, with `flow`'s in_port, as OVS does.
            Some(hex) => {
                let bytes = parse_hex(hex)?;
                let odp = pipeline.odp(in_port).unwrap_or(0);
                let (mini, malformed) = dataplane::extract(&bytes, &dataplane::PacketMeta::new(odp));
                if let Some(why) = malformed {
                    return Err(format!("the packet is malformed: {why}"));
                }
                let key = mini.expand();
                m.flow = ofproto::xlate::to_flow(&key, &pipeline);
                m.flow[ofproto::flowmatch::slot::IN_PORT.range()].copy_from_slice(&in_port.to_be_bytes());
                // The Flow line shows every field of the words the packet filled.
                let mut present = dataplane::FlowMask::default();
                for (i, w) in present.words.iter_mut().enumerate() {
                    if mini.map() >> i & 1 == 1 {
                        *w = u64::MAX;
                    }
                }
                m.wc = ofproto::xlate::from_mask(&present);
                key
            }
        };
        let (x, lines) = pipeline.trace(&key, in_port);
        let mut out = format!("Flow: {}\n\nbridge(\"{}\")\n{}\n", match_text(&m), self.name, "-".repeat(self.name.len() + 10));
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        let mut megaflow = ofproto::flowmatch::Match::catchall();
        megaflow.wc = ofproto::xlate::from_mask(&x.mask);
        let mut values = ofproto::xlate::to_flow(&key, &pipeline);
        values[ofproto::flowmatch::slot::IN_PORT.range()].copy_from_slice(&in_port.to_be_bytes());
        for ((v, f), w) in megaflow.flow.iter_mut().zip(&values).zip(&megaflow.wc) {
            *v = f & w;
        }
        out.push_str(&format!("\nMegaflow: {}\n", match_text(&megaflow)));
        if let Some(e) = &x.error {
            out.push_str(&format!("Translation failed: {e}\n"));
        }
        out.push_str(&format!("Datapath actions: {}\n", crate::dpctl::actions_text(&x.actions)));
        Ok(out)
    }

    /// The bridge's MAC learning table.
    pub fn macs(&self) -> &MacTable {
        &self.macs
    }

    /// Sets the bridge's ports; published with the next [`publish`](Self::publish).
    pub fn set_ports(&self, ports: Vec<XPort>, normal: Vec<NormalPort>) {
        if let Ok(mut s) = self.state.lock() {
            if s.ports != ports || s.normal != normal {
                s.ports = ports;
                s.normal = normal;
                s.tables = None;
            }
        }
    }

    /// PACKET_OUT: translates `actions` for `packet` received on OpenFlow
    /// port `in_port` with the tables last published, and has the PMD
    /// thread execute the result.
    pub fn packet_out(&self, in_port: u16, actions: &[ofproto::actions::Action], packet: &[u8]) -> Result<(), ofproto::wire::OfError> {
        use ofproto::wire::OfError;
        // BAD_REQUEST / EPERM: nothing can carry the packet.
        const NO_DATAPATH: OfError = OfError { ty: 1, code: 5 };
        let pipeline = self.xlator.pipelines.lock().ok().and_then(|p| p.get(&self.name).cloned()).ok_or(NO_DATAPATH)?;
        let pmd = self.xlator.pmds().into_iter().next().ok_or(NO_DATAPATH)?;
        let odp = pipeline.odp(in_port).unwrap_or(0);
        let (key, _) = dataplane::extract(packet, &PacketMeta::new(odp));
        let x = pipeline.translate_actions(&key.expand(), in_port, actions);
        if let Some(e) = x.error {
            crate::log::warn(&format!("{}: PACKET_OUT refused: {e}", self.name));
            // BAD_ACTION / BAD_TYPE.
            return Err(OfError { ty: 2, code: 0 });
        }
        if !pmd.handle.execute(packet, odp, x.actions.into()) {
            return Err(NO_DATAPATH);
        }
        Ok(())
    }
}

impl ofproto::Datapath for BridgeDp {
    /// Publishes `tables` if they or the ports changed since the last
    /// time; returns the generation to wait for. Nothing is built while
    /// no PMD thread runs (nothing would translate with it); the thread's
    /// start publishes every bridge.
    fn publish(&self, tables: &Tables) -> u64 {
        let Ok(mut s) = self.state.lock() else {
            return self.xlator.version();
        };
        if s.tables == Some(tables.version()) || self.xlator.pmds.lock().map_or(true, |p| p.is_empty()) {
            return self.xlator.version();
        }
        // Only rule changes are known precisely; ports and the rest changed
        // anything.
        let changes = s.tables.and_then(|since| tables.changes.since(since));
        s.tables = Some(tables.version());
        let normal = Normal { ports: s.normal.clone(), macs: Arc::clone(&self.macs) };
        let miss_to_controller = self.miss_wanted.load(Ordering::Acquire) > 0;
        let pipeline = Pipeline::new(tables, s.ports.clone(), miss_to_controller, Some(normal));
        let changes = changes.map(|c| c.iter().map(|m| datapath_rule(m, &pipeline)).collect());
        self.xlator.publish(&self.name, Some(pipeline), changes)
    }

    fn synced(&self, generation: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            let done = self.xlator.synced(generation, Duration::from_secs(5)).await;
            if !done {
                crate::log::warn(&format!("{}: the PMD thread did not revalidate within 5 s", self.name));
            }
            done
        })
    }
}

impl Drop for BridgeDp {
    fn drop(&mut self) {
        self.xlator.publish(&self.name, None, None);
    }
}

/// A rule's match in the datapath's layout, loosened where the tables'
/// view is not the datapath's: any VLAN TPID (OpenFlow sees only whether
/// there is a tag).
fn datapath_rule(m: &ofproto::flowmatch::Match, p: &Pipeline) -> (FlowKey, dataplane::FlowMask) {
    let key = ofproto::xlate::from_flow(&m.flow, p);
    let mut mask = ofproto::xlate::to_mask(&m.wc);
    mask.set(Field::VLAN0_TPID, 0);
    (key, mask)
}

/// A DPDK port's queues, handed to the PMD threads and back.
#[derive(Debug, Default)]
pub struct Queues {
    /// Receive queues.
    pub rx: Vec<RxQueue>,
    /// Transmit queues.
    pub tx: Vec<TxQueue>,
}

/// A port as the PMD threads see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpPort {
    /// The interface's name.
    pub name: String,
    /// Its datapath number.
    pub odp: u32,
    /// Polled slowly ([`pmd::Switching::poll_slowly`]): a bridge's local port.
    pub slow: bool,
    /// `other_config:pmd-rxq-affinity`: queue → core.
    pub affinity: BTreeMap<u16, usize>,
}

/// What the PMD threads are planned from; while it stays the same, the
/// threads keep running.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The cores of `pmd-cpu-mask` this process may use.
    pub cores: Vec<usize>,
    /// The switching loops' settings.
    pub config: SwitchConfig,
    /// `pmd-rxq-assign`.
    pub assign: crate::rxq::Assign,
    /// The ports with queues.
    pub ports: Vec<DpPort>,
    /// Patch ports: (datapath port, peer's datapath port).
    pub patches: Vec<(u32, u32)>,
}

/// A receive queue's measured load, shared with the thread polling it.
#[derive(Debug, Clone)]
pub struct RxqLoad {
    /// The interface's name.
    pub port: String,
    /// The queue index.
    pub queue: u16,
    /// TSC cycles its packets took since the thread started.
    pub cycles: Arc<AtomicU64>,
}

/// The PMD threads and what they poll.
#[derive(Debug, Default)]
pub struct Datapath {
    xlator: Arc<Xlator>,
    running: Vec<PmdThread<Switching>>,
    plan: Option<Plan>,
    /// Each queue's load in the running threads (by port and queue).
    loads: Vec<RxqLoad>,
    odp: BTreeMap<String, u32>,
    next_odp: u32,
    /// The cores PMD threads may run on, for [`Datapath::tx_queues_wanted`].
    cores: usize,
}

impl Datapath {
    /// The translator.
    pub fn xlator(&self) -> &Arc<Xlator> {
        &self.xlator
    }

    /// The datapath port number of interface `name` (given on first ask).
    pub fn odp(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.odp.get(name) {
            return n;
        }
        self.next_odp += 1;
        self.odp.insert(name.to_owned(), self.next_odp);
        self.next_odp
    }

    /// Forgets the numbers of interfaces that `keep` refuses.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.odp.retain(|n, _| keep(n));
    }

    /// Says how many cores PMD threads may run on.
    pub fn set_cores(&mut self, n: usize) {
        self.cores = n;
    }

    /// Transmit queues a port should have: one per possible PMD thread,
    /// so that none needs a lock.
    pub fn tx_queues_wanted(&self) -> u16 {
        u16::try_from(self.cores.clamp(1, 64)).unwrap_or(1)
    }

    /// Runs PMD threads as `plan` says, unless they already run by it and
    /// no `rebalance` is asked for: the threads are stopped (their queues
    /// given back to `queues`), the receive queues assigned to the cores
    /// ([`crate::rxq::assign`], with the loads the stopped threads
    /// measured), and one thread started per core that got a queue. Each
    /// thread sends on a transmit queue of every port of its own, or
    /// shares one (with a lock) when the port has fewer queues than there
    /// are threads.
    pub fn poll(
        &mut self,
        eal: &Eal,
        pool: &Arc<pmd::Mempool>,
        plan: Plan,
        rebalance: bool,
        queues: &mut HashMap<String, Queues>,
    ) -> Result<(), String> {
        if !rebalance && self.plan.as_ref() == Some(&plan) {
            return Ok(());
        }
        let measured: HashMap<(String, u16), u64> =
            self.loads.iter().map(|l| ((l.port.clone(), l.queue), l.cycles.load(Ordering::Relaxed))).collect();
        self.stop(queues);
        self.plan = Some(plan.clone());
        // Every receive queue, in port and queue order.
        let mut rxqs: Vec<(usize, RxQueue)> = Vec::new();
        let mut wanted = Vec::new();
        for (i, port) in plan.ports.iter().enumerate() {
            let Some(q) = queues.get_mut(&port.name) else {
                continue;
            };
            let mut rx = std::mem::take(&mut q.rx);
            rx.sort_by_key(RxQueue::queue);
            for r in rx {
                wanted.push(crate::rxq::Rxq {
                    port: port.name.clone(),
                    queue: r.queue(),
                    load: measured.get(&(port.name.clone(), r.queue())).copied().unwrap_or(0),
                    pinned: port.affinity.get(&r.queue()).copied(),
                });
                rxqs.push((i, r));
            }
        }
        if rxqs.is_empty() {
            return Ok(());
        }
        let placed = crate::rxq::assign(&wanted, &plan.cores, plan.assign);
        crate::log::info(&format!("receive queues assigned to cores {:?} by {}", plan.cores, plan.assign.name()));
        let mut threads: BTreeMap<usize, Vec<(usize, RxQueue)>> = BTreeMap::new();
        for ((i, r), core) in rxqs.into_iter().zip(placed) {
            // No core at all: the queue goes back to its port unpolled.
            match core {
                Some(core) => threads.entry(core).or_default().push((i, r)),
                None => queues.entry(plan.ports[i].name.clone()).or_default().rx.push(r),
            }
        }
        // Transmit queues: one per thread, shared when there are fewer.
        let n = threads.len();
        let mut txs: Vec<Vec<(u32, TxQueue)>> = (0..n).map(|_| Vec::new()).collect();
        for port in &plan.ports {
            let Some(q) = queues.get_mut(&port.name) else {
                continue;
            };
            let mut own = std::mem::take(&mut q.tx);
            if own.is_empty() {
                continue;
            }
            let have = own.len();
            let shares: Vec<TxQueue> = (have..n).map(|k| own[k % have].share()).collect();
            let rest = own.split_off(n.min(have));
            let mut all = own.into_iter().chain(shares);
            for t in &mut txs {
                if let Some(tx) = all.next() {
                    t.push((port.odp, tx));
                }
            }
            q.tx = rest;
        }
        let mut infos = Vec::new();
        for ((core, polled), tx) in threads.into_iter().zip(txs) {
            let (mut work, handle) =
                Switching::new(Arc::clone(&self.xlator) as Arc<dyn Translate>, plan.config).map_err(|e| e.to_string())?;
            let acked = Arc::clone(&self.xlator.acked);
            handle.on_ack(Arc::new(move || acked.notify_waiters()));
            work.set_pool(Arc::clone(pool));
            let first = self.loads.len();
            let mut names = Vec::new();
            let isolated = polled.iter().any(|(i, r)| plan.ports[*i].affinity.get(&r.queue()) == Some(&core));
            for (i, r) in polled {
                let port = &plan.ports[i];
                let load = RxqLoad { port: port.name.clone(), queue: r.queue(), cycles: Arc::default() };
                if port.slow {
                    work.poll_slowly(r, port.odp, Arc::clone(&load.cycles));
                } else {
                    work.poll(r, port.odp, Arc::clone(&load.cycles));
                }
                names.push((port.name.clone(), port.odp));
                self.loads.push(load);
            }
            for (odp, t) in tx {
                work.output(odp, t);
            }
            for &(port, peer) in &plan.patches {
                work.patch(port, peer);
            }
            let thread = PmdThread::spawn(eal, core, work).map_err(|e| e.to_string())?;
            names.dedup();
            crate::log::info(&format!(
                "PMD thread on core {core} polls {}",
                names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            ));
            let loads = self.loads[first..].to_vec();
            infos.push(PmdInfo { core, stats: thread.stats_handle(), handle, loads, isolated });
            self.running.push(thread);
        }
        if let Ok(mut p) = self.xlator.pmds.lock() {
            *p = infos;
        }
        Ok(())
    }

    /// Stops the PMD threads, giving their queues back to `queues` (the
    /// shared copies of transmit queues are dropped).
    pub fn stop(&mut self, queues: &mut HashMap<String, Queues>) {
        let infos = self.xlator.pmds.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        self.plan = None;
        self.loads.clear();
        let names: HashMap<u32, String> = self.odp.iter().map(|(n, &odp)| (odp, n.clone())).collect();
        for thread in self.running.drain(..) {
            let core = thread.core();
            let Some((work, _)) = thread.stop() else {
                crate::log::warn(&format!("the PMD thread on core {core} had panicked; its ports are closed"));
                continue;
            };
            let pmd::PolledQueues { rx, tx } = work.into_queues();
            for (q, odp) in rx {
                if let Some(name) = names.get(&odp) {
                    queues.entry(name.clone()).or_default().rx.push(q);
                }
            }
            for (odp, q) in tx.into_iter().filter(|(_, q)| !q.is_copy()) {
                if let Some(name) = names.get(&odp) {
                    queues.entry(name.clone()).or_default().tx.push(q);
                }
            }
        }
        drop(infos);
    }
}

/// Bytes from hexadecimal digits (spaces allowed between bytes).
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 || digits.is_empty() {
        return Err(format!("{text}: a packet is an even number of hexadecimal digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok()).ok_or_else(|| format!("{text}: not hexadecimal"))
        })
        .collect()
}
