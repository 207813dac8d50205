//! `bench io`: the physical ceiling of the switch. DPDK's `net_pcap`
//! replays a pcap of N flows forever (`infinite_rx=1`) into one PMD thread,
//! which forwards every burst unchanged (testpmd's `io` mode) to `net_null`
//! (`no-rx=1`), which frees it. Nothing looks into packets, so the figure is
//! the cost of the rx/tx path itself; every later datapath benchmark is
//! compared against it.
//!
//! Both contenders poll both ports (the null port never receives), use the
//! same devices, descriptor counts, burst size and mbuf count, run their
//! forwarding loop on the same core and their main thread on another, and
//! count cycles per packet the same way: TSC cycles of polls that received
//! something, divided by packets received.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmd::{CpuMask, Eal, IoForward, Mempool, MempoolConfig, PmdThread, PortConfig};
use serde::{Deserialize, Serialize};

use crate::pcap;

/// An error that stops a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The pcap file is unusable.
    #[error(transparent)]
    Pcap(#[from] pcap::PcapError),
    /// The core mask is unusable.
    #[error(transparent)]
    CpuMask(#[from] pmd::CpuMaskError),
    /// `bench io` runs one PMD thread.
    #[error("bench io runs one PMD thread: give --pmd-cpu-mask with one core, not {0}")]
    OneCore(String),
    /// EAL did not start.
    #[error(transparent)]
    Eal(#[from] pmd::EalError),
    /// The mempool could not be made.
    #[error(transparent)]
    Mempool(#[from] pmd::MempoolError),
    /// A port could not be opened.
    #[error(transparent)]
    Port(#[from] pmd::PortError),
    /// The PMD thread did not start.
    #[error(transparent)]
    Pmd(#[from] pmd::PmdError),
    /// The command line asks for something that cannot run.
    #[error("{0}")]
    Usage(String),
    /// A round in a process of its own (testpmd, or ferrovs itself) could
    /// not be run or its result not read.
    #[error("{0}")]
    Round(String),
    /// A peer or its data could not be set up.
    #[error("{0}")]
    Setup(String),
    /// Nothing was forwarded while measuring.
    #[error("no packet was forwarded in {0:.1} s: check the devices' arguments")]
    NoTraffic(f64),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct IoBench {
    /// The pcap to replay (generated or given).
    pub pcap: PathBuf,
    /// Packets (flows) in it.
    pub flows: u64,
    /// Measured seconds, after the warm-up.
    pub seconds: f64,
    /// Seconds of traffic before measuring.
    pub warmup: f64,
    /// The core of the PMD thread.
    pub pmd_core: usize,
    /// The core of the main (control) thread.
    pub main_core: usize,
    /// Devargs of the receiving device; `{pcap}` stands for the pcap path.
    pub rx_devargs: String,
    /// Devargs of the transmitting device.
    pub tx_devargs: String,
    /// Descriptors per queue, both directions.
    pub descriptors: u16,
    /// Mbufs in the pool.
    pub mbufs: u32,
    /// DPDK log level for EAL's `--log-level`.
    pub log_level: String,
}

/// Default devargs of the receiving device.
pub const RX_DEVARGS: &str = "net_pcap0,rx_pcap={pcap},infinite_rx=1";
/// Default devargs of the transmitting device.
pub const TX_DEVARGS: &str = "net_null0,no-rx=1";

impl IoBench {
    /// Checks the pcap and the cores; picks the main core.
    pub fn new(pcap: PathBuf, seconds: f64, pmd_cpu_mask: &str) -> Result<Self, BenchError> {
        let flows = pcap::count_packets(&pcap)?;
        let mask = CpuMask::parse(pmd_cpu_mask)?;
        let usable = CpuMask::usable_cores();
        mask.check_usable(&usable)?;
        let [pmd_core] = mask.cores() else {
            return Err(BenchError::OneCore(mask.to_string()));
        };
        let main_core = usable.iter().copied().find(|c| c != pmd_core).unwrap_or(*pmd_core);
        // net_pcap holds every packet of the file in an mbuf, the queues hold
        // their descriptors' worth, and the per-lcore caches some more.
        let mbufs = u32::try_from(flows).unwrap_or(u32::MAX).saturating_add(4 * 2048 + 4 * 512 + 4095) | 0xfff;
        Ok(Self {
            pcap,
            flows,
            seconds,
            warmup: 1.0,
            pmd_core: *pmd_core,
            main_core,
            rx_devargs: RX_DEVARGS.to_string(),
            tx_devargs: TX_DEVARGS.to_string(),
            descriptors: 2048,
            mbufs,
            log_level: "warning".to_string(),
        })
    }

    /// The receiving device's devargs with the pcap path filled in.
    pub fn rx_devargs(&self) -> String {
        self.rx_devargs.replace("{pcap}", &self.pcap.display().to_string())
    }

    /// EAL arguments shared by both contenders, less the core list.
    pub fn eal_common_args(&self, file_prefix: &str) -> Vec<String> {
        ["--in-memory", "--no-pci", "--no-telemetry", "--file-prefix", file_prefix]
            .into_iter()
            .map(String::from)
            .chain([format!("--log-level={}", self.log_level)])
            .collect()
    }
}

/// One contender's figures over the measured interval.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct IoResult {
    /// Millions of packets forwarded per second.
    pub mpps: f64,
    /// Busy TSC cycles per packet received.
    pub cycles_per_packet: f64,
    /// Packets received while measuring.
    pub rx_packets: u64,
    /// Packets sent while measuring.
    pub tx_packets: u64,
    /// Packets dropped (refused by the tx device) while measuring.
    pub drops: u64,
    /// Seconds measured.
    pub seconds: f64,
}

/// A progress report, once a second.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Seconds measured so far (negative during the warm-up).
    pub elapsed: f64,
    /// Mpps over the last second.
    pub mpps: f64,
    /// Cycles per packet over the last second.
    pub cycles_per_packet: f64,
    /// Drops since measuring began.
    pub drops: u64,
}

/// Runs ferrovs' side in this process: EAL, pool, both ports, one PMD
/// thread. EAL can start once per process, so this runs once.
pub fn run_ferrovs(bench: &IoBench, mut progress: impl FnMut(&Progress)) -> Result<IoResult, BenchError> {
    let prefix = format!("ferrovs-bench-{}", std::process::id());
    let mut args = vec!["-l".to_string(), bench.main_core.to_string()];
    args.extend(bench.eal_common_args(&prefix));
    let eal = Eal::init(&args)?;
    let pool = Arc::new(Mempool::new(&eal, &MempoolConfig::new("bench-io", bench.mbufs))?);
    let config = PortConfig { rxq_size: bench.descriptors, txq_size: bench.descriptors, ..PortConfig::default() };
    let (_rx_port, mut rx_rxqs, mut rx_txqs) = pmd::Port::open(&eal, &bench.rx_devargs(), pool.clone(), &config)?;
    let (_tx_port, mut tx_rxqs, mut tx_txqs) = pmd::Port::open(&eal, &bench.tx_devargs, pool.clone(), &config)?;

    let mut work = IoForward::new();
    if let (Some(rx), Some(tx)) = (rx_rxqs.pop(), tx_txqs.pop()) {
        let out = work.output(tx);
        work.poll(rx, out);
    }
    if let (Some(rx), Some(tx)) = (tx_rxqs.pop(), rx_txqs.pop()) {
        let out = work.output(tx);
        work.poll(rx, out);
    }
    let thread = PmdThread::spawn(&eal, bench.pmd_core, work)?;

    std::thread::sleep(Duration::from_secs_f64(bench.warmup));
    let first = thread.stats();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(bench.seconds);
    let (mut last, mut last_at) = (first, start);
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_secs(1)));
        let now_stats = thread.stats();
        let now = Instant::now();
        let delta = now_stats.since(&last);
        progress(&Progress {
            elapsed: now.duration_since(start).as_secs_f64(),
            mpps: delta.tx as f64 / now.duration_since(last_at).as_secs_f64() / 1e6,
            cycles_per_packet: delta.cycles_per_packet(),
            drops: now_stats.since(&first).dropped,
        });
        last = now_stats;
        last_at = now;
    }
    let total = last.since(&first);
    let seconds = last_at.duration_since(start).as_secs_f64();
    drop(thread);
    if total.tx == 0 {
        return Err(BenchError::NoTraffic(seconds));
    }
    Ok(IoResult {
        mpps: total.tx as f64 / seconds / 1e6,
        cycles_per_packet: total.cycles_per_packet(),
        rx_packets: total.rx,
        tx_packets: total.tx,
        drops: total.dropped,
        seconds,
    })
}

/// Generates the pcap of `flows` flows in `dir`.
pub fn generate_pcap(dir: &Path, flows: u32) -> Result<PathBuf, BenchError> {
    let path = dir.join(format!("udp-{flows}-flows.pcap"));
    pcap::write_udp_flows(&path, flows)?;
    Ok(path)
}
