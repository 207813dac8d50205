//! The DPDK wrappers against real EAL and DPDK's virtual devices.
//!
//! EAL starts once per process: under `cargo nextest` (how `make test` runs
//! them) every test has a process of its own; under plain `cargo test` they
//! share one EAL through `eal()`, and each uses device names of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use pmd::{Burst, Eal, EalError, IoForward, Mempool, MempoolConfig, PmdError, PmdThread, Port, PortConfig, PortError};

fn eal() -> Eal {
    static EAL: OnceLock<Eal> = OnceLock::new();
    EAL.get_or_init(|| {
        let prefix = format!("ferrovs-test-{}", std::process::id());
        Eal::init(&["-l", "0", "--in-memory", "--no-pci", "--no-telemetry", "--log-level=error", "--file-prefix", &prefix])
            .expect("EAL starts (hugepages reserved? run `make setup`)")
    })
    .clone()
}

fn pool(name: &str) -> Arc<Mempool> {
    Arc::new(Mempool::new(&eal(), &MempoolConfig::new(name, 8191)).unwrap())
}

/// The PMD core: core 1 where it exists, else core 0.
fn pmd_core() -> usize {
    *pmd::CpuMask::usable_cores().iter().find(|&&c| c == 1).unwrap_or(&0)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn eal_starts_once_per_process() {
    let _eal = eal();
    assert!(matches!(Eal::init(&["-l", "0"]), Err(EalError::AlreadyInitialised)));
    assert!(Eal::version().starts_with("DPDK 22.11"), "{}", Eal::version());
    assert!(eal().tsc_hz() > 0);
}

#[test]
fn mbufs_allocated_and_freed_return_to_the_pool() {
    let pool = pool("alloc");
    let start = pool.in_use();
    let mut burst = Burst::new();
    for i in 0..32u8 {
        let mut m = pool.alloc().unwrap();
        m.append(60).unwrap().fill(i);
        assert_eq!(m.pkt_len(), 60);
        burst.push(m).unwrap();
    }
    assert!(burst.is_full());
    let extra = pool.alloc().unwrap();
    let extra = burst.push(extra).unwrap_err(); // full: handed back, not lost
    assert_eq!(pool.in_use(), start + 33);
    drop(extra);
    let last = burst.pop().unwrap();
    assert_eq!(last.data(), &[31u8; 60][..]);
    drop(last);
    assert_eq!(burst.iter().map(|d| d[0]).collect::<Vec<_>>(), (0..31).collect::<Vec<u8>>());
    assert_eq!(pool.in_use(), start + 31);
    drop(burst);
    assert_eq!(pool.in_use(), start, "every buffer back in the pool");
}

/// Opens `src` and `dst` and starts a PMD thread forwarding the first rx
/// queue of `src` to the first tx queue of `dst`.
fn forward(eal: &Eal, pool: &Arc<Mempool>, src: &str, dst: &str) -> (PmdThread, Port, Port) {
    let config = PortConfig { rxq_size: 512, txq_size: 512, ..PortConfig::default() };
    let (src, mut src_rx, _) = Port::open(eal, src, pool.clone(), &config).unwrap();
    let (dst, _, mut dst_tx) = Port::open(eal, dst, pool.clone(), &config).unwrap();
    let mut work = IoForward::new();
    let out = work.output(dst_tx.pop().unwrap());
    work.poll(src_rx.pop().unwrap(), out);
    (PmdThread::spawn(eal, pmd_core(), work).unwrap(), src, dst)
}

#[test]
fn a_pmd_thread_forwards_and_every_buffer_comes_back() {
    let eal = eal();
    let pool = pool("fwd");
    let start = pool.in_use();
    // net_null generates 64-byte packets on rx and frees what it is given on tx.
    let (thread, src, dst) = forward(&eal, &pool, "net_null10", "net_null11,no-rx=1");
    assert_eq!(src.name(), "net_null10");
    assert!(src.link().unwrap().up);
    assert_eq!(src.mac().unwrap().len(), 6);
    assert_eq!(thread.core(), pmd_core());
    wait_until("a million packets", || thread.stats().tx > 1_000_000);
    let stats = thread.stats();
    assert!(stats.busy_cycles > 0 && stats.iterations > 0 && stats.cycles_per_packet() > 0.0);
    let (work, stats) = thread.stop().expect("the thread gives its queues back");
    assert_eq!(stats.rx, stats.tx + stats.dropped, "every packet received is sent or dropped");
    assert_eq!(stats.dropped, 0, "net_null takes everything");
    assert!(dst.stats().unwrap().tx_packets >= stats.tx, "the device counted what was sent");
    drop(work);
    assert_eq!(pool.in_use(), start, "no buffer leaked by rx, tx buffering or stop");
}

#[test]
fn refused_packets_are_freed_and_counted() {
    let eal = eal();
    let pool = pool("refuse");
    let start = pool.in_use();
    // A ring port whose tx ring nobody drains: it fills, then refuses.
    let (thread, _src, _ring) = forward(&eal, &pool, "net_null20", "net_ring20");
    wait_until("drops", || thread.stats().dropped > 10_000);
    let (work, stats) = thread.stop().unwrap();
    assert_eq!(stats.rx, stats.tx + stats.dropped, "what the ring refused was counted");
    assert!(stats.tx > 0, "the ring took packets until it was full");
    drop(work);
    // The ring port holds what it accepted; the rest came back to the pool.
    assert_eq!(u64::from(pool.in_use() - start), stats.tx, "refused packets were freed");
}

#[test]
fn bad_devargs_get_clear_errors_and_the_next_port_still_opens() {
    let eal = eal();
    let pool = pool("devargs");
    let config = PortConfig::default();
    let err = Port::open(&eal, "net_nosuchdriver0", pool.clone(), &config).unwrap_err();
    assert!(matches!(err, PortError::Probe(EalError::BadDevargs { .. })), "{err}");
    assert!(err.to_string().contains("do not parse"), "{err}");
    let err = Port::open(&eal, "net_pcap30,rx_pcap=/nonexistent/x.pcap", pool.clone(), &config).unwrap_err();
    assert!(matches!(err, PortError::Probe(EalError::Probe { .. })), "{err}");
    assert!(err.to_string().contains("rx_pcap=/nonexistent/x.pcap: no such file"), "{err}");
    let err = Port::open(&eal, "net_null31,no-such-key=1", pool.clone(), &config).unwrap_err();
    assert!(matches!(err, PortError::Probe(EalError::Probe { .. })), "{err}");
    assert!(!err.to_string().contains("not permitted"), "{err}");
    // More receive queues than the device has: as many as it has, as in OVS.
    let (wide, rx, _) = Port::open(&eal, "net_null32", pool.clone(), &PortConfig { n_rxq: 5000, ..config.clone() }).unwrap();
    assert!(!rx.is_empty() && rx.len() < 5000, "{}", rx.len());
    drop((wide, rx));
    // Closed when its handles are gone: the same devargs open again.
    let (again, _, _) = Port::open(&eal, "net_null32", pool.clone(), &config).unwrap();
    drop(again);
    let (port, _, _) = Port::open(&eal, "net_null33", pool, &config).unwrap();
    assert_eq!(port.stats().unwrap(), pmd::PortStats::default());
}

#[test]
fn a_pmd_thread_on_a_missing_core_is_refused() {
    let eal = eal();
    let err = PmdThread::spawn(&eal, 4095, IoForward::new()).unwrap_err();
    assert!(matches!(err, PmdError::NoSuchCore { core: 4095, .. }), "{err}");
}

/// Collects what the actions hand on, as mbufs.
#[derive(Default)]
struct Collect {
    out: Vec<(u32, pmd::Mbuf)>,
    recirculated: Vec<(pmd::Mbuf, dataplane::PacketMeta)>,
    drops: Vec<dataplane::DropReason>,
}

impl dataplane::Datapath<pmd::Mbuf> for Collect {
    fn output(&mut self, port: u32, packet: pmd::Mbuf) {
        self.out.push((port, packet));
    }
    fn userspace(&mut self, _: pmd::Mbuf, _: &dataplane::PacketMeta, _: &[u8]) {}
    fn recirculate(&mut self, packet: pmd::Mbuf, meta: dataplane::PacketMeta) {
        self.recirculated.push((packet, meta));
    }
    fn dropped(&mut self, reason: dataplane::DropReason) {
        self.drops.push(reason);
    }
}

/// The same outputs from a `Vec<u8>` run, for comparison.
#[derive(Default)]
struct CollectVec(Vec<(u32, Vec<u8>)>);

impl dataplane::Datapath<Vec<u8>> for CollectVec {
    fn output(&mut self, port: u32, packet: Vec<u8>) {
        self.0.push((port, packet));
    }
    fn userspace(&mut self, _: Vec<u8>, _: &dataplane::PacketMeta, _: &[u8]) {}
    fn recirculate(&mut self, _: Vec<u8>, _: dataplane::PacketMeta) {}
    fn dropped(&mut self, _: dataplane::DropReason) {}
}

/// A UDP/IPv4 frame with valid lengths and header checksum.
fn udp_frame() -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let payload = [7u8; 18];
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let sum = ip.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p.extend_from_slice(&ip);
    p.extend_from_slice(&[0x04, 0xd2, 0x00, 0x35, 0, (8 + payload.len()) as u8, 0, 0]);
    p.extend_from_slice(&payload);
    p
}

#[test]
fn datapath_actions_run_on_mbufs_as_on_plain_bytes() {
    use dataplane::{execute, Action, PacketBuf, PacketMeta, TunnelHeader, TunnelKind, TunnelSpec};

    let pool = pool("actions");
    let start = pool.in_use();
    let frame = udp_frame();
    let spec = TunnelSpec::new(TunnelKind::Geneve, ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]), (0xc0a8_0001, 0xc0a8_0002), 77);
    let spec = TunnelSpec { geneve_options: vec![0x01, 0x02, 0x80, 0x01, 0, 0, 0, 5], ..spec };
    let actions = [
        Action::PushVlan { tpid: 0x8100, tci: 10 },
        Action::set_ipv4_dst(0x0a00_0063),
        Action::set_ports(4000, 53),
        Action::DecTtl,
        Action::Output(1),
        Action::TunnelPush(Arc::new(TunnelHeader::new(&spec).unwrap())),
        Action::Output(2),
    ];

    let mut m = pool.alloc().unwrap();
    m.append(frame.len() as u16).unwrap().copy_from_slice(&frame);
    let mut dp = Collect::default();
    execute(&mut dp, m, &PacketMeta::new(3), 0x1234, &actions);
    let mut reference = CollectVec::default();
    execute(&mut reference, frame.clone(), &PacketMeta::new(3), 0x1234, &actions);
    assert_eq!(dp.drops, vec![]);
    let got: Vec<(u32, Vec<u8>)> = dp.out.iter().map(|(p, m)| (*p, m.data().to_vec())).collect();
    assert_eq!(got, reference.0, "mbuf and Vec<u8> runs agree byte for byte");
    assert_eq!(pool.in_use(), start + 2, "one copy for the first output, the original for the last");

    // Decapsulate the tunnelled mbuf: the inner frame is the first output.
    let (_, tunnelled) = dp.out.pop().unwrap();
    let (_, first) = dp.out.pop().unwrap();
    execute(&mut dp, tunnelled, &PacketMeta::new(9), 0, &[Action::TunnelPop { kind: TunnelKind::Geneve, in_port: 5 }]);
    let (inner, meta) = dp.recirculated.pop().unwrap();
    assert_eq!(inner.data(), first.data());
    assert_eq!(meta.in_port(), 5);
    assert_eq!(meta.get(dataplane::Field::TUN_ID), 77);
    assert_eq!(meta.tunnel_options(), spec.geneve_options);

    // Headroom is finite: a push beyond it is refused and changes nothing.
    let mut small = pool.alloc().unwrap();
    small.append(60).unwrap().fill(1);
    assert!(!small.push_front(4096));
    assert!(small.push_front(8));
    assert_eq!(small.data().len(), 68);
    assert!(small.pull_front(8));
    assert!(!small.pull_front(61));
    drop((inner, first, small));
    assert_eq!(pool.in_use(), start, "every buffer back in the pool");
}
