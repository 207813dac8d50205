//! Ethdev ports: probed from device arguments, configured with rx/tx
//! queues, started, and closed when the last handle goes.

use std::ffi::CString;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::eal::{strerror, Eal, EalError};
use crate::mbuf::Burst;
use crate::mempool::Mempool;

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
    /// The device cannot have the queues asked for.
    #[error("port {port:?}: asked for {asked} {kind} queue(s), the device has at most {max}")]
    TooManyQueues {
        /// The port's device name.
        port: String,
        /// "rx" or "tx".
        kind: &'static str,
        /// Queues asked for.
        asked: u16,
        /// The device's limit.
        max: u16,
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
}

impl Default for PortConfig {
    /// One queue each way of 2048 descriptors, as OVS's defaults.
    fn default() -> Self {
        Self { n_rxq: 1, n_txq: 1, rxq_size: 2048, txq_size: 2048 }
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
        let mut info = ffi::rte_eth_dev_info::default();
        // SAFETY: no queue handle is left (each holds this Arc), so no thread
        // polls the port; stopping and closing it is then allowed. The
        // device pointer comes from DPDK for this valid port and stays
        // valid after the close, until it is removed: removed, as OVS does,
        // so that the same device arguments can be probed again (a
        // virtual device's name stays taken until then).
        unsafe {
            let device = if ffi::rte_eth_dev_info_get(self.id, &mut info) == 0 { info.device } else { std::ptr::null_mut() };
            ffi::rte_eth_dev_stop(self.id);
            ffi::rte_eth_dev_close(self.id);
            if !device.is_null() {
                ffi::rte_dev_remove(device);
            }
        }
    }
}

/// The control handle of a started ethdev port. The port is stopped and
/// closed when this handle and all its queues are gone.
#[derive(Debug, Clone)]
pub struct Port {
    shared: Arc<Shared>,
}

/// A receive queue: one thread at a time polls it (`Send`, not `Sync`).
#[derive(Debug)]
pub struct RxQueue {
    shared: Arc<Shared>,
    queue: u16,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

/// A transmit queue: one thread at a time sends on it (`Send`, not `Sync`).
#[derive(Debug)]
pub struct TxQueue {
    shared: Arc<Shared>,
    queue: u16,
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
        eal.probe(devargs)?;
        let name = devargs.split(',').next().unwrap_or(devargs).to_string();
        let cname = CString::new(name.as_str()).map_err(|_| PortError::NotEthdev(name.clone()))?;
        let mut id = 0u16;
        // SAFETY: EAL is initialised and `cname` is a valid string.
        if unsafe { ffi::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) } != 0 {
            return Err(PortError::NotEthdev(name));
        }
        let fail = |call: &'static str, rc: i32| PortError::Dpdk { port: name.clone(), call, message: strerror(-rc) };

        let mut info = ffi::rte_eth_dev_info::default();
        // SAFETY: `id` is a valid port and `info` a writable struct.
        let rc = unsafe { ffi::rte_eth_dev_info_get(id, &mut info) };
        if rc != 0 {
            return Err(fail("rte_eth_dev_info_get", rc));
        }
        for (kind, asked, max) in [("rx", config.n_rxq, info.max_rx_queues), ("tx", config.n_txq, info.max_tx_queues)] {
            if asked > max {
                return Err(PortError::TooManyQueues { port: name, kind, asked, max });
            }
        }
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
        // SAFETY: valid port with all queues set up.
        let rc = unsafe { ffi::rte_eth_dev_start(id) };
        if rc != 0 {
            return Err(fail("rte_eth_dev_start", rc));
        }
        let shared = Arc::new(Shared { id, name, _pool: pool, _eal: eal.clone() });
        let rxqs = (0..config.n_rxq).map(|queue| RxQueue { shared: shared.clone(), queue, _not_sync: PhantomData }).collect();
        let txqs = (0..config.n_txq).map(|queue| TxQueue { shared: shared.clone(), queue, _not_sync: PhantomData }).collect();
        Ok((Port { shared }, rxqs, txqs))
    }

    /// DPDK's port id.
    pub fn id(&self) -> u16 {
        self.shared.id
    }

    /// The device name (the devargs up to the first comma).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The link, without waiting for it to settle.
    pub fn link(&self) -> Result<LinkState, PortError> {
        let mut link = ffi::rte_eth_link::default();
        // SAFETY: valid started port; `link` is a writable local.
        let rc = unsafe { ffi::rte_eth_link_get_nowait(self.shared.id, &mut link) };
        if rc != 0 {
            return Err(self.error("rte_eth_link_get_nowait", rc));
        }
        Ok(LinkState { up: link.link_status() != 0, speed_mbps: link.link_speed, full_duplex: link.link_duplex() != 0 })
    }

    /// Sets the link administratively up or down (OpenFlow's PORT_DOWN).
    pub fn set_link(&self, up: bool) -> Result<(), PortError> {
        // SAFETY: valid started port; the call takes only the port id.
        let rc = unsafe {
            if up {
                ffi::rte_eth_dev_set_link_up(self.shared.id)
            } else {
                ffi::rte_eth_dev_set_link_down(self.shared.id)
            }
        };
        if rc != 0 {
            return Err(self.error(if up { "rte_eth_dev_set_link_up" } else { "rte_eth_dev_set_link_down" }, rc));
        }
        Ok(())
    }

    /// The port's MAC address.
    pub fn mac(&self) -> Result<[u8; 6], PortError> {
        let mut mac = ffi::rte_ether_addr::default();
        // SAFETY: valid port; `mac` is a writable local.
        let rc = unsafe { ffi::rte_eth_macaddr_get(self.shared.id, &mut mac) };
        if rc != 0 {
            return Err(self.error("rte_eth_macaddr_get", rc));
        }
        Ok(mac.addr_bytes)
    }

    /// The driver's counters.
    pub fn stats(&self) -> Result<PortStats, PortError> {
        let mut s = ffi::rte_eth_stats::default();
        // SAFETY: valid port; `s` is a writable local. Reading stats while
        // PMD threads poll is allowed by ethdev.
        let rc = unsafe { ffi::rte_eth_stats_get(self.shared.id, &mut s) };
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
        })
    }

    fn error(&self, call: &'static str, rc: i32) -> PortError {
        PortError::Dpdk { port: self.shared.name.clone(), call, message: strerror(-rc) }
    }
}

impl RxQueue {
    /// The port's device name.
    pub fn port_name(&self) -> &str {
        &self.shared.name
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receives into an empty `burst`; returns the packets received.
    #[inline]
    pub fn rx(&mut self, burst: &mut Burst) -> usize {
        if !burst.is_empty() {
            return 0;
        }
        // SAFETY: this handle is the queue's only user (not Sync, one per
        // queue); the port is started and kept open by `shared`; DPDK writes
        // at most BURST_SIZE owned mbufs into the empty burst's slots.
        unsafe {
            let slots = burst.slots();
            let n = ffi::rte_eth_rx_burst(self.shared.id, self.queue, slots.as_mut_ptr(), slots.len() as u16);
            burst.set_filled(usize::from(n));
            usize::from(n)
        }
    }
}

impl TxQueue {
    /// The port's device name.
    pub fn port_name(&self) -> &str {
        &self.shared.name
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Hands the burst's packets to the device; those it took leave the
    /// burst, those it refused stay in it. Returns the number sent.
    #[inline]
    pub fn tx(&mut self, burst: &mut Burst) -> usize {
        let pkts = burst.filled_mut();
        if pkts.is_empty() {
            return 0;
        }
        // SAFETY: this handle is the queue's only user; the port is started
        // and kept open by `shared`; `pkts` are owned valid mbufs, and the
        // ones DPDK reports taken are removed from the burst at once.
        let sent = unsafe { ffi::rte_eth_tx_burst(self.shared.id, self.queue, pkts.as_mut_ptr(), pkts.len() as u16) };
        burst.consume_front(usize::from(sent));
        usize::from(sent)
    }
}
