//! vhost-user ports through DPDK's vhost library (`rte_vhost`), as Open
//! vSwitch with DPDK drives them: the library speaks the vhost-user
//! protocol with the VM's virtio-net device (QEMU, or DPDK's
//! `net_virtio_user`) on a Unix socket, and the PMD threads move packets
//! with `rte_vhost_dequeue_burst` (guest to switch, into the switch's
//! mempool) and `rte_vhost_enqueue_burst` (switch to guest, copied into
//! the guest's buffers).
//!
//! # Life of a device
//!
//! A [`Device`] is registered for one socket path, as a client (ferrovs
//! connects to QEMU's server and reconnects whenever it goes away: the
//! library retries every second) or as a server (ferrovs creates the
//! socket). The library calls back on its own thread:
//!
//! - `new_device`: the guest is ready; its id (`vid`) is published and the
//!   PMD threads start moving packets;
//! - `vring_state_changed`: the guest enabled or disabled a queue;
//! - `destroy_device`: the guest went away. The id is withdrawn, and the
//!   callback returns only once no PMD thread is inside a call with the
//!   old id: each queue handle marks itself busy around its call (the
//!   mark ordered before its load of the id by `membarrier` on the
//!   withdrawing side, or a fence where the kernel lacks it), so that the
//!   library can free the guest's memory map safely.
//!
//! A device unregistered (its [`Device`] dropped, after every queue
//! handle) closes its socket; a server's socket file is removed.
//!
//! # Queues
//!
//! Receive handle `q` dequeues from the guest's transmit ring `2q + 1`.
//! Transmit handle `q` enqueues into the guest's receive ring `2p`, where
//! `p` is the `q mod n`-th of the `n` rings the guest has enabled: handles
//! beyond the guest's queues share rings, which the library serialises
//! with its per-ring lock. Packets a ring has no room for (after a few
//! retries while it makes progress) stay with the caller, which counts
//! them dropped.

use std::ffi::{c_char, c_int, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::mbuf::Burst;
use crate::mempool::Mempool;

/// Most queue pairs a device offers (the library's limit is higher).
pub const MAX_QUEUE_PAIRS: u16 = 32;

/// Virtio-net feature bits ferrovs turns off, as Open vSwitch does while
/// it does not offload: checksums (`CSUM` 0, `GUEST_CSUM` 1) and
/// segmentation (`GUEST_TSO4` 7 … `HOST_UFO` 14). Packets then arrive
/// whole and with their checksums, and leave as they are.
const DISABLED_FEATURES: u64 = (1 << 0) | (1 << 1) | (0xff << 7);

/// Retries of an enqueue that made progress, as OVS's `VHOST_ENQ_RETRY_NUM`.
const ENQUEUE_RETRIES: u32 = 8;

/// `membarrier(2)` commands (linux/membarrier.h).
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

/// Whether this process registered for private expedited `membarrier`
/// (Linux 4.14 and later), so that a handle's busy mark and its read of
/// the guest's id need no fence on the PMD thread: the rare withdrawal
/// pays instead (userspace RCU's asymmetric fences). Registered when the
/// first device starts.
static ASYMMETRIC: OnceLock<bool> = OnceLock::new();

fn asymmetric() -> bool {
    ASYMMETRIC.get().copied().unwrap_or(false)
}

fn register_membarrier() {
    ASYMMETRIC.get_or_init(|| {
        // SAFETY: a plain system call with no pointer arguments.
        unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 }
    });
}

/// An error registering a vhost-user device.
#[derive(Debug, thiserror::Error)]
pub enum VhostError {
    /// The socket path cannot be one (too long, a NUL byte, no directory).
    #[error("vhost-user socket {path}: {reason}")]
    BadPath {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A DPDK vhost call failed.
    #[error("vhost-user socket {path}: {call} failed (DPDK's log says why; for a server: is the directory writable, is another process listening?)")]
    Dpdk {
        /// The path.
        path: PathBuf,
        /// The DPDK function.
        call: &'static str,
    },
}

/// Whether ferrovs connects to the socket or listens on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `dpdkvhostuserclient`: connect to the VM's server, reconnect when it
    /// restarts.
    Client,
    /// `dpdkvhostuser`: create the socket and wait for the VM.
    Server,
}

/// A device's state as `Interface.status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VhostStatus {
    /// Client or server.
    pub mode: Mode,
    /// The socket path.
    pub socket: PathBuf,
    /// A guest is attached and running.
    pub connected: bool,
    /// The guest's rings (two per queue pair), 0 when none.
    pub vrings: u16,
    /// Virtio features negotiated with the guest.
    pub features: u64,
    /// The NUMA node of the guest's memory, -1 when unknown.
    pub numa: i32,
}

/// Per-handle counters and the busy mark `destroy_device` waits on. One
/// writer (the thread holding the handle).
#[derive(Debug, Default)]
#[repr(align(64))]
struct Slot {
    busy: AtomicU32,
    packets: AtomicU64,
    bytes: AtomicU64,
    dropped: AtomicU64,
}

/// A vhost-user device: one socket, one guest at a time.
#[derive(Debug)]
pub struct Device {
    path: CString,
    socket: PathBuf,
    mode: Mode,
    pool: Arc<Mempool>,
    /// The guest's id, -1 while none is attached.
    vid: AtomicI32,
    /// Rings the guest enabled (bit per ring).
    enabled: [AtomicBool; 2 * MAX_QUEUE_PAIRS as usize],
    /// The guest's enabled receive rings, in order, for transmit handles.
    tx_rings: [AtomicU16; MAX_QUEUE_PAIRS as usize],
    n_tx_rings: AtomicU16,
    vrings: AtomicU16,
    features: AtomicU64,
    numa: AtomicI32,
    rx_slots: Mutex<Vec<Arc<Slot>>>,
    tx_slots: Mutex<Vec<Arc<Slot>>>,
    /// Counters of handles that are gone.
    gone: Mutex<crate::PortStats>,
    registered: AtomicBool,
}

/// Every registered device by socket path, for the library's callbacks.
static DEVICES: Mutex<Vec<Weak<Device>>> = Mutex::new(Vec::new());

/// Called (on the library's thread) whenever a device's state changes.
static ON_CHANGE: OnceLock<Box<dyn Fn() + Send + Sync>> = OnceLock::new();

/// Sets what to call when a guest attaches, detaches or changes its
/// queues (once per process; later calls are ignored). The daemon wakes
/// its reconciliation with it, to write the link state.
pub fn on_change(f: impl Fn() + Send + Sync + 'static) {
    let _ = ON_CHANGE.set(Box::new(f));
}

fn changed() {
    if let Some(f) = ON_CHANGE.get() {
        f();
    }
}

/// The library's callbacks. DPDK keeps a pointer to them.
struct Ops(ffi::rte_vhost_device_ops);
// SAFETY: the struct holds function pointers and a reserved null pointer;
// nothing in it is ever written after creation.
unsafe impl Sync for Ops {}
// SAFETY: as above.
unsafe impl Send for Ops {}

static OPS: OnceLock<Ops> = OnceLock::new();

fn ops() -> &'static ffi::rte_vhost_device_ops {
    &OPS.get_or_init(|| {
        Ops(ffi::rte_vhost_device_ops {
            new_device: Some(new_device),
            destroy_device: Some(destroy_device),
            vring_state_changed: Some(vring_state_changed),
            ..Default::default()
        })
    })
    .0
}

/// The device whose socket the guest `vid` came through.
fn device_of(vid: c_int) -> Option<Arc<Device>> {
    let mut buf = [0 as c_char; 4096];
    // SAFETY: `buf` is writable for its length; the library writes a
    // NUL-terminated path into it.
    if unsafe { ffi::rte_vhost_get_ifname(vid, buf.as_mut_ptr(), buf.len()) } != 0 {
        return None;
    }
    // SAFETY: NUL-terminated by the library (and the buffer is zeroed).
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    let devices = DEVICES.lock().ok()?;
    devices.iter().filter_map(Weak::upgrade).find(|d| d.path.as_c_str() == name)
}

unsafe extern "C" fn new_device(vid: c_int) -> c_int {
    let Some(dev) = device_of(vid) else {
        return -1;
    };
    let mut features = 0u64;
    // SAFETY: `vid` is the library's live device (we are in its callback).
    unsafe {
        ffi::rte_vhost_get_negotiated_features(vid, &mut features);
        dev.numa.store(ffi::rte_vhost_get_numa_node(vid), Ordering::Relaxed);
        let vrings = ffi::rte_vhost_get_vring_num(vid);
        dev.vrings.store(vrings, Ordering::Relaxed);
        // The PMD threads poll: the guest need not kick.
        for ring in 0..vrings {
            ffi::rte_vhost_enable_guest_notification(vid, ring, 0);
        }
    }
    dev.features.store(features, Ordering::Relaxed);
    dev.vid.store(vid, Ordering::SeqCst);
    changed();
    0
}

unsafe extern "C" fn destroy_device(vid: c_int) {
    let Some(dev) = device_of(vid) else {
        return;
    };
    dev.withdraw();
    changed();
}

unsafe extern "C" fn vring_state_changed(vid: c_int, ring: u16, enable: c_int) -> c_int {
    let Some(dev) = device_of(vid) else {
        return 0;
    };
    if let Some(flag) = dev.enabled.get(usize::from(ring)) {
        flag.store(enable != 0, Ordering::Relaxed);
    }
    // A guest may set up queue pairs beyond the first after attaching.
    // SAFETY: `vid` is the library's live device (we are in its callback).
    dev.vrings.store(unsafe { ffi::rte_vhost_get_vring_num(vid) }, Ordering::Relaxed);
    dev.map_tx_rings();
    changed();
    0
}

impl Device {
    /// Registers and starts a device on `socket`, its receive buffers
    /// from `pool`. A server's stale socket (a file nobody listens on) is
    /// removed first.
    pub fn start(socket: &Path, mode: Mode, pool: Arc<Mempool>) -> Result<Arc<Device>, VhostError> {
        let bad = |reason: &str| VhostError::BadPath { path: socket.to_owned(), reason: reason.to_owned() };
        // sun_path holds 108 bytes with the NUL.
        if socket.as_os_str().len() >= 108 {
            return Err(bad("longer than a Unix socket path may be (107 bytes)"));
        }
        let dir = socket.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(bad(&format!("directory {} does not exist", dir.display())));
        }
        if mode == Mode::Server {
            remove_stale(socket).map_err(|e| bad(&e))?;
        }
        let path = CString::new(socket.as_os_str().as_encoded_bytes()).map_err(|_| bad("contains a NUL byte"))?;
        // Before any handle exists: every handle then sees the same mode.
        register_membarrier();
        let dev = Arc::new(Device {
            path,
            socket: socket.to_owned(),
            mode,
            pool,
            vid: AtomicI32::new(-1),
            enabled: std::array::from_fn(|_| AtomicBool::new(false)),
            tx_rings: std::array::from_fn(|_| AtomicU16::new(0)),
            n_tx_rings: AtomicU16::new(0),
            vrings: AtomicU16::new(0),
            features: AtomicU64::new(0),
            numa: AtomicI32::new(-1),
            rx_slots: Mutex::default(),
            tx_slots: Mutex::default(),
            gone: Mutex::default(),
            registered: AtomicBool::new(false),
        });
        if let Ok(mut devices) = DEVICES.lock() {
            devices.retain(|d| d.strong_count() > 0);
            devices.push(Arc::downgrade(&dev));
        }
        let fail = |call| VhostError::Dpdk { path: socket.to_owned(), call };
        let flags = match mode {
            Mode::Client => u64::from(ffi::RTE_VHOST_USER_CLIENT),
            Mode::Server => 0,
        };
        // SAFETY: EAL is initialised (the pool holds it); `path` is a valid
        // string the library copies.
        if unsafe { ffi::rte_vhost_driver_register(dev.path.as_ptr(), flags) } != 0 {
            return Err(fail("rte_vhost_driver_register"));
        }
        dev.registered.store(true, Ordering::Relaxed);
        // SAFETY: registered above; the ops live for the process.
        unsafe {
            if ffi::rte_vhost_driver_disable_features(dev.path.as_ptr(), DISABLED_FEATURES) != 0 {
                return Err(fail("rte_vhost_driver_disable_features"));
            }
            if ffi::rte_vhost_driver_callback_register(dev.path.as_ptr(), ops()) != 0 {
                return Err(fail("rte_vhost_driver_callback_register"));
            }
            if ffi::rte_vhost_driver_start(dev.path.as_ptr()) != 0 {
                return Err(fail("rte_vhost_driver_start"));
            }
        }
        Ok(dev)
    }

    /// Handles for `n_rxq` receive and `n_txq` transmit queues.
    pub fn queues(self: &Arc<Self>, n_rxq: u16, n_txq: u16) -> (Vec<Handle>, Vec<Handle>) {
        (self.handles(true, 0..n_rxq.min(MAX_QUEUE_PAIRS)), self.handles(false, 0..n_txq))
    }

    /// Receive handles for the queues in `queues` (beyond
    /// [`MAX_QUEUE_PAIRS`] none), when the guest enables more of them.
    pub fn rx_queues(self: &Arc<Self>, queues: std::ops::Range<u16>) -> Vec<Handle> {
        self.handles(true, queues.start..queues.end.min(MAX_QUEUE_PAIRS))
    }

    fn handles(self: &Arc<Self>, rx: bool, queues: std::ops::Range<u16>) -> Vec<Handle> {
        let slots = if rx { &self.rx_slots } else { &self.tx_slots };
        queues
            .map(|queue| {
                let slot = Arc::new(Slot::default());
                if let Ok(mut s) = slots.lock() {
                    s.push(Arc::clone(&slot));
                }
                Handle { dev: Arc::clone(self), slot, queue, rx }
            })
            .collect()
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// What `Interface.status` shows.
    pub fn status(&self) -> VhostStatus {
        let connected = self.vid.load(Ordering::Acquire) >= 0;
        VhostStatus {
            mode: self.mode,
            socket: self.socket.clone(),
            connected,
            vrings: if connected { self.vrings.load(Ordering::Relaxed) } else { 0 },
            features: if connected { self.features.load(Ordering::Relaxed) } else { 0 },
            numa: self.numa.load(Ordering::Relaxed),
        }
    }

    /// The counters of every handle, those gone included.
    pub fn stats(&self) -> crate::PortStats {
        let mut s = self.gone.lock().map(|g| *g).unwrap_or_default();
        let sum = |slots: &Mutex<Vec<Arc<Slot>>>| {
            slots.lock().map_or((0, 0, 0), |v| {
                v.iter().fold((0, 0, 0), |(p, b, d), s| {
                    (p + s.packets.load(Ordering::Relaxed), b + s.bytes.load(Ordering::Relaxed), d + s.dropped.load(Ordering::Relaxed))
                })
            })
        };
        let (rp, rb, _) = sum(&self.rx_slots);
        let (tp, tb, td) = sum(&self.tx_slots);
        s.rx_packets += rp;
        s.rx_bytes += rb;
        s.tx_packets += tp;
        s.tx_bytes += tb;
        s.tx_dropped += td;
        s
    }

    /// Withdraws the guest's id and waits until no handle is inside a
    /// call that may use it.
    fn withdraw(&self) {
        self.vid.store(-1, Ordering::SeqCst);
        if asymmetric() {
            // Every thread of the process passes a full barrier: a handle
            // either had its busy mark visible, or reads -1 next.
            // SAFETY: a plain system call with no pointer arguments.
            unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) };
        }
        for slots in [&self.rx_slots, &self.tx_slots] {
            let Ok(slots) = slots.lock() else {
                continue;
            };
            for slot in slots.iter() {
                while slot.busy.load(Ordering::SeqCst) != 0 {
                    std::hint::spin_loop();
                }
            }
        }
        for flag in &self.enabled {
            flag.store(false, Ordering::Relaxed);
        }
        self.n_tx_rings.store(0, Ordering::Release);
    }

    /// Lists the guest's enabled receive rings for the transmit handles.
    fn map_tx_rings(&self) {
        let mut n = 0u16;
        for ring in (0..self.enabled.len()).step_by(2) {
            if self.enabled[ring].load(Ordering::Relaxed) {
                self.tx_rings[usize::from(n)].store(ring as u16, Ordering::Relaxed);
                n += 1;
            }
        }
        self.n_tx_rings.store(n, Ordering::Release);
    }

    fn forget(&self, slot: &Arc<Slot>, rx: bool) {
        let list = if rx { &self.rx_slots } else { &self.tx_slots };
        if let Ok(mut l) = list.lock() {
            l.retain(|s| !Arc::ptr_eq(s, slot));
        }
        if let Ok(mut g) = self.gone.lock() {
            let (p, b) = (slot.packets.load(Ordering::Relaxed), slot.bytes.load(Ordering::Relaxed));
            if rx {
                g.rx_packets += p;
                g.rx_bytes += b;
            } else {
                g.tx_packets += p;
                g.tx_bytes += b;
                g.tx_dropped += slot.dropped.load(Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        if !self.registered.load(Ordering::Relaxed) {
            return;
        }
        // The library refuses while its event thread is busy with the
        // socket; it is not for long.
        for _ in 0..100 {
            // SAFETY: registered; no handle is left (each holds the Arc),
            // so no PMD thread uses the device.
            if unsafe { ffi::rte_vhost_driver_unregister(self.path.as_ptr()) } == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// Removes `socket` if it is a socket file nobody listens on (left by a
/// process that died); fails if someone does.
fn remove_stale(socket: &Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(socket) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err("a file that is not a socket is in the way".to_owned());
    }
    match std::os::unix::net::UnixStream::connect(socket) {
        Ok(_) => Err("another process is listening on it".to_owned()),
        Err(_) => std::fs::remove_file(socket).map_err(|e| format!("cannot remove the stale socket: {e}")),
    }
}

/// One queue of a device, for one thread at a time.
#[derive(Debug)]
pub struct Handle {
    dev: Arc<Device>,
    slot: Arc<Slot>,
    queue: u16,
    /// A receive handle (else a transmit one).
    rx: bool,
}

impl Handle {
    /// The device's socket path.
    pub fn socket(&self) -> &Path {
        &self.dev.socket
    }

    /// The queue's index.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Another transmit handle on the same queue, counted apart.
    pub(crate) fn twin(&self) -> Handle {
        let slot = Arc::new(Slot::default());
        if let Ok(mut s) = self.dev.tx_slots.lock() {
            s.push(Arc::clone(&slot));
        }
        Handle { dev: Arc::clone(&self.dev), slot, queue: self.queue, rx: false }
    }

    /// Marks the handle busy and gives the guest's id, or `None` (not
    /// busy) when no guest is attached. The mark must be visible before
    /// the id is read: with `membarrier` (see [`asymmetric`]) the
    /// withdrawing side forces that order on every thread, and the
    /// handle needs no fence of its own; without it, a fence.
    #[inline]
    fn enter(&self) -> Option<c_int> {
        let vid = if asymmetric() {
            self.slot.busy.store(1, Ordering::Relaxed);
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
            self.dev.vid.load(Ordering::Relaxed)
        } else {
            self.slot.busy.store(1, Ordering::SeqCst);
            self.dev.vid.load(Ordering::SeqCst)
        };
        if vid < 0 {
            self.slot.busy.store(0, Ordering::Release);
            return None;
        }
        Some(vid)
    }

    #[inline]
    fn leave(&self) {
        self.slot.busy.store(0, Ordering::Release);
    }

    /// Dequeues into the empty `burst` from the guest's transmit ring.
    #[inline]
    pub(crate) fn rx(&mut self, burst: &mut Burst) -> usize {
        let ring = self.queue * 2 + 1;
        if !burst.is_empty() || !self.dev.enabled[usize::from(ring)].load(Ordering::Relaxed) {
            return 0;
        }
        let Some(vid) = self.enter() else {
            return 0;
        };
        // SAFETY: `vid` stays valid while busy (destroy_device waits); this
        // handle is the ring's only dequeuer; the library writes at most
        // BURST_SIZE owned mbufs from `pool` into the empty burst.
        let n = unsafe {
            let slots = burst.slots();
            let n = ffi::rte_vhost_dequeue_burst(vid, ring, self.dev.pool.as_ptr(), slots.as_mut_ptr(), slots.len() as u16);
            burst.set_filled(usize::from(n));
            usize::from(n)
        };
        self.leave();
        if n > 0 {
            let bytes: usize = burst.iter().map(<[u8]>::len).sum();
            let s = &self.slot;
            s.packets.store(s.packets.load(Ordering::Relaxed) + n as u64, Ordering::Relaxed);
            s.bytes.store(s.bytes.load(Ordering::Relaxed) + bytes as u64, Ordering::Relaxed);
        }
        n
    }

    /// Copies the burst's packets into the guest's receive ring; those
    /// copied are freed and leave the burst, the rest stay.
    #[inline]
    pub(crate) fn tx(&mut self, burst: &mut Burst) -> usize {
        let n_rings = self.dev.n_tx_rings.load(Ordering::Acquire);
        if burst.is_empty() || n_rings == 0 {
            return 0;
        }
        let ring = self.dev.tx_rings[usize::from(self.queue % n_rings)].load(Ordering::Relaxed);
        let Some(vid) = self.enter() else {
            return 0;
        };
        let pkts = burst.filled_mut();
        let total = pkts.len();
        let mut sent = 0;
        for _ in 0..ENQUEUE_RETRIES {
            // SAFETY: `vid` stays valid while busy; the library locks the
            // ring against other enqueuers and copies the packets, leaving
            // them ours.
            let n = unsafe { ffi::rte_vhost_enqueue_burst(vid, ring, pkts[sent..].as_mut_ptr(), (total - sent) as u16) };
            sent += usize::from(n);
            if n == 0 || sent == total {
                break;
            }
        }
        self.leave();
        let bytes: usize = burst.iter().take(sent).map(<[u8]>::len).sum();
        burst.free_front(sent);
        let s = &self.slot;
        s.packets.store(s.packets.load(Ordering::Relaxed) + sent as u64, Ordering::Relaxed);
        s.bytes.store(s.bytes.load(Ordering::Relaxed) + bytes as u64, Ordering::Relaxed);
        s.dropped.store(s.dropped.load(Ordering::Relaxed) + (total - sent) as u64, Ordering::Relaxed);
        sent
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.dev.forget(&self.slot, self.rx);
    }
}
