//! Ethdev ports: probed from device arguments, configured with rx/tx
//! queues, started, and closed when the last handle goes.

use std::ffi::CString;
use std::marker::PhantomData;
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::eal::{strerror, Eal, EalError};
use crate::mbuf::Burst;
use crate::mempool::Mempool;
use crate::vhost::{Device, Handle, Mode, VhostError, VhostStatus};

/// An error opening or driving a port.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Probing the device failed.
    #[error(transparent)]
    Probe(#[from] EalError),
    /// The device probed but no ethdev port carries its name.
    #[error("device {0:?} was probed but is not an ethdev port")]
    NotEthdev(String),
    /// A DPDK call on the port failed.
    #[error("port {port:?}: {call} failed: {message}")]
    Dpdk {
        /// The port's device name.
        port: String,
        /// The DPDK function.
        call: &'static str,
        /// DPDK's reason.
        message: String,
    },
    /// DPDK has as many ethdev ports as it can hold.
    #[error("DPDK holds at most {max} ethdev ports (RTE_MAX_ETHPORTS, fixed when DPDK was built) and all are in use")]
    TooManyPorts {
        /// DPDK's limit.
        max: u32,
    },
}

/// How a port's queues are set up.
#[derive(Debug, Clone)]
pub struct PortConfig {
    /// Receive queues.
    pub n_rxq: u16,
    /// Transmit queues.
    pub n_txq: u16,
    /// Descriptors per receive queue (adjusted to the device's limits).
    pub rxq_size: u16,
    /// Descriptors per transmit queue (adjusted to the device's limits).
    pub txq_size: u16,
    /// The MTU to set (`None`: the driver's).
    pub mtu: Option<u16>,
}

impl Default for PortConfig {
    /// One queue each way of 2048 descriptors, as OVS's defaults.
    fn default() -> Self {
        Self { n_rxq: 1, n_txq: 1, rxq_size: 2048, txq_size: 2048, mtu: None }
    }
}

/// A port's link as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState {
    /// Carrier up.
    pub up: bool,
    /// Speed in Mb/s, 0 when unknown.
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// A port's counters as the driver keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets the device dropped for lack of rx descriptors.
    pub rx_missed: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Receive failures for lack of mbufs.
    pub rx_nombuf: u64,
    /// Packets the device had no room for (a vhost-user guest's full
    /// ring).
    pub tx_dropped: u64,
}

#[derive(Debug)]
struct Shared {
    id: u16,
    name: String,
    _pool: Arc<Mempool>,
    _eal: Eal,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: no queue handle is left (each holds this Arc), so no
        // thread polls the port.
        unsafe { close(self.id) };
    }
}

/// Stops, closes and removes ethdev port `id`, as OVS does, so that the
/// same device arguments can be probed again (a virtual device's name
/// stays taken until it is removed).
///
/// # Safety
///
/// `id` is a port DPDK probed, and no thread polls any of its queues.
unsafe fn close(id: u16) {
    let mut info = ffi::rte_eth_dev_info::default();
    // SAFETY: the caller's promise; the device pointer comes from DPDK for
    // this valid port and stays valid after the close, until it is removed.
    unsafe {
        let device = if ffi::rte_eth_dev_info_get(id, &mut info) == 0 { info.device } else { std::ptr::null_mut() };
        ffi::rte_eth_dev_stop(id);
        ffi::rte_eth_dev_close(id);
        if !device.is_null() {
            ffi::rte_dev_remove(device);
        }
    }
}

/// A port probed by [`Port::open`] and not yet handed out: closed and
/// removed when dropped armed.
struct Probed(Option<u16>);

impl Probed {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Probed {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            // SAFETY: the port was probed by this open, and no queue handle
            // of it exists yet.
            unsafe { close(id) };
        }
    }
}

/// A port's handle that does not keep it open (for its counters and its
/// link, read by whoever reports them): the port closes when its last
/// [`Port`] and queues are gone, whatever weak handles remain.
#[derive(Debug, Clone)]
pub struct WeakPort(WeakDev);

#[derive(Debug, Clone)]
enum WeakDev {
    Eth(std::sync::Weak<Shared>),
    Vhost(std::sync::Weak<Device>),
}

impl WeakPort {
    /// The port, while it is open.
    pub fn upgrade(&self) -> Option<Port> {
        let dev = match &self.0 {
            WeakDev::Eth(w) => PortDev::Eth(w.upgrade()?),
            WeakDev::Vhost(w) => PortDev::Vhost(w.upgrade()?),
        };
        Some(Port { dev })
    }
}

/// The control handle of a started port: an ethdev port (stopped and
/// closed when this handle and all its queues are gone) or a vhost-user
/// device (unregistered then).
#[derive(Debug, Clone)]
pub struct Port {
    dev: PortDev,
}

#[derive(Debug, Clone)]
enum PortDev {
    Eth(Arc<Shared>),
    Vhost(Arc<Device>),
}

/// What a queue handle moves packets through.
#[derive(Debug)]
enum QueueDev {
    Eth(Arc<Shared>),
    Vhost(Handle),
}

impl QueueDev {
    fn name(&self) -> &str {
        match self {
            QueueDev::Eth(s) => &s.name,
            QueueDev::Vhost(h) => h.socket().to_str().unwrap_or("vhost-user"),
        }
    }
}

/// A receive queue: one thread at a time polls it (`Send`, not `Sync`).
#[derive(Debug)]
pub struct RxQueue {
    dev: QueueDev,
    queue: u16,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

/// A transmit queue: one thread at a time sends on it (`Send`, not
/// `Sync`). An ethdev queue that threads must share (the port has fewer
/// queues than threads) takes a lock around each burst, as OVS's XPS
/// does; a vhost-user ring is locked by DPDK's vhost library itself.
#[derive(Debug)]
pub struct TxQueue {
    dev: QueueDev,
    queue: u16,
    shared_lock: Option<Arc<AtomicBool>>,
    /// Made by [`TxQueue::share`] (the port does not count it).
    copy: bool,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl Port {
    /// Probes the device in `devargs`, sets up its queues (rx buffers from
    /// `pool`), starts it, and returns it with its queues.
    pub fn open(
        eal: &Eal,
        devargs: &str,
        pool: Arc<Mempool>,
        config: &PortConfig,
    ) -> Result<(Port, Vec<RxQueue>, Vec<TxQueue>), PortError> {
        // SAFETY: EAL is initialised (`eal` exists); this only counts ports.
        if u32::from(unsafe { ffi::rte_eth_dev_count_avail() }) >= ffi::RTE_MAX_ETHPORTS {
            return Err(PortError::TooManyPorts { max: ffi::RTE_MAX_ETHPORTS });
        }
        eal.probe(devargs)?;
        let name = devargs.split(',').next().unwrap_or(devargs).to_string();
        let cname = CString::new(name.as_str()).map_err(|_| PortError::NotEthdev(name.clone()))?;
        let mut id = 0u16;
        // SAFETY: EAL is initialised and `cname` is a valid string.
        if unsafe { ffi::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) } != 0 {
            return Err(PortError::NotEthdev(name));
        }
        // Until the port is handed out, a failure closes and removes the
        // device again, so the same devargs can be probed on the next try.
        let probed = Probed(Some(id));
        let fail = |call: &'static str, rc: i32| PortError::Dpdk { port: name.clone(), call, message: strerror(-rc) };

        let mut info = ffi::rte_eth_dev_info::default();
        // SAFETY: `id` is a valid port and `info` a writable struct.
        let rc = unsafe { ffi::rte_eth_dev_info_get(id, &mut info) };
        if rc != 0 {
            return Err(fail("rte_eth_dev_info_get", rc));
        }
        // Fewer queues than asked is fine, as in OVS: the device's
        // receive queues are all polled (the caller sees how many it got),
        // and threads share its transmit queues (`TxQueue::share`).
        let mut config = config.clone();
        config.n_rxq = config.n_rxq.clamp(1, info.max_rx_queues.max(1));
        config.n_txq = config.n_txq.clamp(1, info.max_tx_queues.max(1));
        let config = &config;
        let conf = ffi::rte_eth_conf::default();
        // SAFETY: valid port, stopped (just probed); `conf` outlives the call.
        let rc = unsafe { ffi::rte_eth_dev_configure(id, config.n_rxq, config.n_txq, &conf) };
        if rc != 0 {
            return Err(fail("rte_eth_dev_configure", rc));
        }
        let (mut rxd, mut txd) = (config.rxq_size, config.txq_size);
        // SAFETY: valid configured port; both pointers are to locals.
        let rc = unsafe { ffi::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rxd, &mut txd) };
        if rc != 0 {
            return Err(fail("rte_eth_dev_adjust_nb_rx_tx_desc", rc));
        }
        // SAFETY: valid port.
        let socket = unsafe { ffi::rte_eth_dev_socket_id(id) };
        let socket = u32::try_from(socket).unwrap_or(ffi::SOCKET_ID_ANY as u32);
        for q in 0..config.n_rxq {
            // SAFETY: valid configured port, queue index below n_rxq; null
            // rx_conf means the driver's defaults; `pool` is kept alive by
            // Shared for as long as the port exists.
            let rc = unsafe { ffi::rte_eth_rx_queue_setup(id, q, rxd, socket, std::ptr::null(), pool.as_ptr()) };
            if rc != 0 {
                return Err(fail("rte_eth_rx_queue_setup", rc));
            }
        }
        for q in 0..config.n_txq {
            // SAFETY: valid configured port, queue index below n_txq; null
            // tx_conf means the driver's defaults.
            let rc = unsafe { ffi::rte_eth_tx_queue_setup(id, q, txd, socket, std::ptr::null()) };
            if rc != 0 {
                return Err(fail("rte_eth_tx_queue_setup", rc));
            }
        }
        if let Some(mtu) = config.mtu {
            // SAFETY: valid configured port.
            let rc = unsafe { ffi::rte_eth_dev_set_mtu(id, mtu) };
            if rc != 0 {
                return Err(fail("rte_eth_dev_set_mtu", rc));
            }
        }
        // SAFETY: valid port with all queues set up.
        let rc = unsafe { ffi::rte_eth_dev_start(id) };
        if rc != 0 {
            return Err(fail("rte_eth_dev_start", rc));
        }
        probed.disarm();
        let shared = Arc::new(Shared { id, name, _pool: pool, _eal: eal.clone() });
        let rxqs = (0..config.n_rxq).map(|queue| RxQueue { dev: QueueDev::Eth(shared.clone()), queue, _not_sync: PhantomData }).collect();
        let txqs = (0..config.n_txq)
            .map(|queue| TxQueue { dev: QueueDev::Eth(shared.clone()), queue, shared_lock: None, copy: false, _not_sync: PhantomData })
            .collect();
        Ok((Port { dev: PortDev::Eth(shared) }, rxqs, txqs))
    }

    /// Starts a vhost-user device on `socket` (`Client`: connect to the
    /// VM's server and reconnect whenever it restarts; `Server`: create
    /// the socket), with `n_rxq` receive and `n_txq` transmit handles;
    /// received packets are allocated from `pool`.
    pub fn open_vhost(
        socket: &std::path::Path,
        mode: Mode,
        pool: Arc<Mempool>,
        n_rxq: u16,
        n_txq: u16,
    ) -> Result<(Port, Vec<RxQueue>, Vec<TxQueue>), VhostError> {
        let dev = Device::start(socket, mode, pool)?;
        let (rx, tx) = dev.queues(n_rxq, n_txq);
        let rxqs = rx.into_iter().map(RxQueue::vhost).collect();
        let txqs = tx
            .into_iter()
            .enumerate()
            .map(|(q, h)| TxQueue { dev: QueueDev::Vhost(h), queue: q as u16, shared_lock: None, copy: false, _not_sync: PhantomData })
            .collect();
        Ok((Port { dev: PortDev::Vhost(dev) }, rxqs, txqs))
    }

    /// A handle that does not keep the port open.
    pub fn downgrade(&self) -> WeakPort {
        WeakPort(match &self.dev {
            PortDev::Eth(s) => WeakDev::Eth(Arc::downgrade(s)),
            PortDev::Vhost(d) => WeakDev::Vhost(Arc::downgrade(d)),
        })
    }

    /// DPDK's ethdev port id (`None` for a vhost-user device).
    pub fn id(&self) -> Option<u16> {
        match &self.dev {
            PortDev::Eth(s) => Some(s.id),
            PortDev::Vhost(_) => None,
        }
    }

    /// The device name (the devargs up to the first comma), or the
    /// vhost-user socket path.
    pub fn name(&self) -> &str {
        match &self.dev {
            PortDev::Eth(s) => &s.name,
            PortDev::Vhost(d) => d.socket().to_str().unwrap_or("vhost-user"),
        }
    }

    /// A vhost-user device's state (`None` for an ethdev port).
    pub fn vhost(&self) -> Option<VhostStatus> {
        match &self.dev {
            PortDev::Eth(_) => None,
            PortDev::Vhost(d) => Some(d.status()),
        }
    }

    /// More receive queues of a vhost-user port, numbered `queues` (none
    /// for an ethdev, whose queues are fixed when it starts).
    pub fn more_rx_queues(&self, queues: std::ops::Range<u16>) -> Vec<RxQueue> {
        match &self.dev {
            PortDev::Eth(_) => Vec::new(),
            PortDev::Vhost(d) => d.rx_queues(queues).into_iter().map(RxQueue::vhost).collect(),
        }
    }

    /// The MTU the device has.
    pub fn mtu(&self) -> Option<u16> {
        let PortDev::Eth(s) = &self.dev else {
            return None;
        };
        let mut mtu = 0u16;
        // SAFETY: valid port; `mtu` is a writable local.
        (unsafe { ffi::rte_eth_dev_get_mtu(s.id, &mut mtu) } == 0).then_some(mtu)
    }

    fn eth(&self, call: &'static str) -> Result<u16, PortError> {
        match &self.dev {
            PortDev::Eth(s) => Ok(s.id),
            PortDev::Vhost(d) => {
                Err(PortError::Dpdk { port: d.socket().display().to_string(), call, message: "not a call a vhost-user port takes".into() })
            }
        }
    }

    /// The link, without waiting for it to settle. A vhost-user port is
    /// up while a guest is attached.
    pub fn link(&self) -> Result<LinkState, PortError> {
        if let PortDev::Vhost(d) = &self.dev {
            return Ok(LinkState { up: d.status().connected, speed_mbps: 0, full_duplex: true });
        }
        let id = self.eth("rte_eth_link_get_nowait")?;
        let mut link = ffi::rte_eth_link::default();
        // SAFETY: valid started port; `link` is a writable local.
        let rc = unsafe { ffi::rte_eth_link_get_nowait(id, &mut link) };
        if rc != 0 {
            return Err(self.error("rte_eth_link_get_nowait", rc));
        }
        Ok(LinkState { up: link.link_status() != 0, speed_mbps: link.link_speed, full_duplex: link.link_duplex() != 0 })
    }

    /// Sets the link administratively up or down (OpenFlow's PORT_DOWN).
    pub fn set_link(&self, up: bool) -> Result<(), PortError> {
        let id = self.eth("rte_eth_dev_set_link_up")?;
        // SAFETY: valid started port; the call takes only the port id.
        let rc = unsafe {
            if up {
                ffi::rte_eth_dev_set_link_up(id)
            } else {
                ffi::rte_eth_dev_set_link_down(id)
            }
        };
        if rc != 0 {
            return Err(self.error(if up { "rte_eth_dev_set_link_up" } else { "rte_eth_dev_set_link_down" }, rc));
        }
        Ok(())
    }

    /// The port's MAC address.
    pub fn mac(&self) -> Result<[u8; 6], PortError> {
        let id = self.eth("rte_eth_macaddr_get")?;
        let mut mac = ffi::rte_ether_addr::default();
        // SAFETY: valid port; `mac` is a writable local.
        let rc = unsafe { ffi::rte_eth_macaddr_get(id, &mut mac) };
        if rc != 0 {
            return Err(self.error("rte_eth_macaddr_get", rc));
        }
        Ok(mac.addr_bytes)
    }

    /// The driver's counters.
    pub fn stats(&self) -> Result<PortStats, PortError> {
        if let PortDev::Vhost(d) = &self.dev {
            return Ok(d.stats());
        }
        let id = self.eth("rte_eth_stats_get")?;
        let mut s = ffi::rte_eth_stats::default();
        // SAFETY: valid port; `s` is a writable local. Reading stats while
        // PMD threads poll is allowed by ethdev.
        let rc = unsafe { ffi::rte_eth_stats_get(id, &mut s) };
        if rc != 0 {
            return Err(self.error("rte_eth_stats_get", rc));
        }
        Ok(PortStats {
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
            tx_dropped: 0,
        })
    }

    fn error(&self, call: &'static str, rc: i32) -> PortError {
        PortError::Dpdk { port: self.name().to_owned(), call, message: strerror(-rc) }
    }
}

impl RxQueue {
    fn vhost(handle: Handle) -> Self {
        let queue = handle.queue();
        RxQueue { dev: QueueDev::Vhost(handle), queue, _not_sync: PhantomData }
    }

    /// The port's device name.
    pub fn port_name(&self) -> &str {
        self.dev.name()
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receives into an empty `burst`; returns the packets received.
    #[inline]
    pub fn rx(&mut self, burst: &mut Burst) -> usize {
        let shared = match &mut self.dev {
            QueueDev::Eth(s) => s,
            QueueDev::Vhost(h) => return h.rx(burst),
        };
        if !burst.is_empty() {
            return 0;
        }
        // SAFETY: this handle is the queue's only user (not Sync, one per
        // queue); the port is started and kept open by `shared`; DPDK writes
        // at most BURST_SIZE owned mbufs into the empty burst's slots.
        unsafe {
            let slots = burst.slots();
            let n = ffi::rte_eth_rx_burst(shared.id, self.queue, slots.as_mut_ptr(), slots.len() as u16);
            burst.set_filled(usize::from(n));
            usize::from(n)
        }
    }
}

impl TxQueue {
    /// The port's device name.
    pub fn port_name(&self) -> &str {
        self.dev.name()
    }

    /// A second handle on this queue for another thread. On an ethdev
    /// queue both then lock around each burst; a vhost-user ring is locked
    /// by the vhost library.
    pub fn share(&mut self) -> TxQueue {
        let (dev, lock) = match &self.dev {
            QueueDev::Eth(s) => {
                let lock = self.shared_lock.get_or_insert_with(|| Arc::new(AtomicBool::new(false))).clone();
                (QueueDev::Eth(Arc::clone(s)), Some(lock))
            }
            QueueDev::Vhost(h) => (QueueDev::Vhost(h.twin()), None),
        };
        TxQueue { dev, queue: self.queue, shared_lock: lock, copy: true, _not_sync: PhantomData }
    }

    /// Whether [`TxQueue::share`] made this handle.
    pub fn is_copy(&self) -> bool {
        self.copy
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Hands the burst's packets to the device; those it took leave the
    /// burst, those it refused stay in it. Returns the number sent.
    #[inline]
    pub fn tx(&mut self, burst: &mut Burst) -> usize {
        let shared = match &mut self.dev {
            QueueDev::Eth(s) => s,
            QueueDev::Vhost(h) => return h.tx(burst),
        };
        let pkts = burst.filled_mut();
        if pkts.is_empty() {
            return 0;
        }
        let lock = self.shared_lock.as_deref();
        if let Some(lock) = lock {
            while lock.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
                std::hint::spin_loop();
            }
        }
        // SAFETY: this handle is the queue's only user, or holds the lock
        // its sharers take; the port is started and kept open by `shared`;
        // `pkts` are owned valid mbufs, and the ones DPDK reports taken are
        // removed from the burst at once.
        let sent = unsafe { ffi::rte_eth_tx_burst(shared.id, self.queue, pkts.as_mut_ptr(), pkts.len() as u16) };
        if let Some(lock) = lock {
            lock.store(false, Ordering::Release);
        }
        burst.consume_front(usize::from(sent));
        usize::from(sent)
    }
}
