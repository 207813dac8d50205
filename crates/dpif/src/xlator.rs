//! The translator the PMD threads call on a cache miss, and what the
//! bridges publish into it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use dataplane::key::{Field, FieldAccess};
use dataplane::{FlowKey, PacketMeta};
use ofproto::packet_in::PacketIn;
use ofproto::xlate::{Pipeline, ToController, XlateError};
use pmd::{PmdStats, SwitchHandle, Translate, Translation};

use crate::RxqLoad;

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
    pub(crate) pipelines: Mutex<BTreeMap<String, Arc<Pipeline>>>,
    /// The running PMD threads' handles.
    pub(crate) pmds: Mutex<Vec<PmdInfo>>,
    /// Translations that failed, and the last reason.
    errors: AtomicU64,
    last_error: Mutex<Option<XlateError>>,
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
    pub(crate) acked: Arc<tokio::sync::Notify>,
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
    pub fn errors(&self) -> (u64, Option<XlateError>) {
        (self.errors.load(Ordering::Relaxed), self.last_error.lock().ok().and_then(|e| *e))
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
        let in_port = pipeline.ofport(odp).unwrap_or(ofproto::port::NONE);
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
