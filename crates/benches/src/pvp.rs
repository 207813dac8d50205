//! `bench pvp`: switching between VMs' vhost-user ports, ferrovs against
//! Open vSwitch with DPDK, configured with the same `ovs-vsctl` and
//! `ovs-ofctl` commands.
//!
//! The VM sides are `dpdk-testpmd` processes with DPDK's
//! `net_virtio_user` driver (the vhost-user protocol of QEMU's
//! virtio-net), each the vhost-user server of its socket; the switch
//! connects to them as `dpdkvhostuserclient` ports, as with libvirt:
//!
//! - `gen` is one testpmd with two virtio devices in `flowgen` mode: each
//!   sends 64-byte UDP frames of N flows (destination addresses vary)
//!   and receives (and frees) what arrives. One process on one core does
//!   both sides: two busy processes sharing a core would each run only
//!   in the scheduler's slices, and a ring of a thousand descriptors fills
//!   in microseconds of a slice of milliseconds;
//! - without `--loopback` (p2p), `gen`'s devices are OpenFlow ports 1 and
//!   2, and the switch forwards 1 → 2 and 2 → 1; the figure is what ports
//!   1 and 2 sent together;
//! - with `--loopback` (PVP), port 1 is `gen`'s first device, port 2 a
//!   `vm` testpmd that sends every frame back (`io` forwarding on its one
//!   device: a VM's forwarding function), port 3 `gen`'s second device;
//!   the switch forwards 1 → 2 → 3, each frame crossing it twice, and
//!   the figure is what port 3 sent. `vm` shares the main core with
//!   `gen` in the scheduler's slices, which bounds this figure for every
//!   switch alike.
//!
//! Figures are frames sent per second by the switch's ports (its own
//! counters, `ovs-ofctl dump-ports`), after a warm-up.
//!
//! # Ring size
//!
//! Every virtio ring has `--ring-size` descriptors (`queue_size` of
//! `net_virtio_user`), 1024 by default: the largest QEMU allows for
//! vhost-user (virtio-net's `rx_queue_size` and `tx_queue_size`), which
//! NFV deployments set (OpenStack's `[libvirt] rx_queue_size`). With
//! QEMU's default of 256 the generator's own core limits the figure: it
//! spends more of its time waiting on rings the switch has just emptied,
//! and a switch fast enough to drain them finds half-full bursts.
//!
//! # Cores
//!
//! Both switches get the same: the switch's main threads and the
//! testpmds (each testpmd's two lcores mapped onto that one CPU with
//! `--lcores 0@C,1@C`) share the main core; the switch's one PMD thread
//! has the other core to itself.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::switch::Contender;

/// The settings of a run.
#[derive(Debug, Clone)]
pub struct PvpBench {
    /// Seconds measured.
    pub seconds: f64,
    /// Seconds of traffic before measuring.
    pub warmup: f64,
    /// Flows the generator sends.
    pub flows: u32,
    /// Through a VM that forwards back.
    pub loopback: bool,
    /// The core of the switch's main threads and of the testpmds.
    pub main_core: usize,
    /// The switch's PMD thread's core.
    pub pmd_core: usize,
    /// Descriptors in each virtio ring of the VMs.
    pub ring_size: u16,
}

impl PvpBench {
    /// How the cores are shared, for the output.
    pub fn pinning(&self) -> String {
        format!(
            "core {}: the switch's main threads and every testpmd (their lcores mapped onto it); core {}: the switch's PMD thread alone",
            self.main_core, self.pmd_core
        )
    }
}

/// A VM side, killed when dropped.
struct Vm(Child);

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts testpmd with a `net_virtio_user` device (rings of the bench's
/// size) as the server of each of `sockets`, forwarding as `mode` says,
/// on the bench's main core.
fn vm(sockets: &[PathBuf], mode: &[&str], bench: &PvpBench, prefix: &str) -> Result<Vm, String> {
    let core = bench.main_core;
    let log = sockets[0].with_extension("log");
    let mut command = Command::new(crate::testpmd::TESTPMD);
    command
        .arg("--lcores")
        .arg(format!("0@{core},1@{core}"))
        .args(["--no-pci", "--in-memory", "--single-file-segments", "-m", "256", "--log-level=error"])
        .arg(format!("--file-prefix={prefix}"));
    for (i, socket) in sockets.iter().enumerate() {
        command.arg("--vdev").arg(format!("net_virtio_user{i},path={},server=1,queues=1,queue_size={}", socket.display(), bench.ring_size));
    }
    let child = command
        .args(["--", "--auto-start", "--nb-cores=1", "--total-num-mbufs=16384", "--no-mlockall", "--burst=32"])
        .args(mode)
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&log).map_err(|e| e.to_string())?)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {} (make setup installs Debian's dpdk): {e}", crate::testpmd::TESTPMD))?;
    Ok(Vm(child))
}

/// Runs one switch; returns the Mpps its counted ports sent.
pub fn run(bench: &PvpBench, who: &Contender, round: usize) -> Result<f64, String> {
    let tag = format!("{}-{round}-{}", std::process::id(), who.name());
    let sw = crate::switch::start_switch(who, bench.main_core, bench.pmd_core, &format!("ferrovs-pvp-{tag}"))?;
    let dir: PathBuf = sw.dir().to_owned();
    let gen_mode = ["--forward-mode=flowgen".to_owned(), format!("--flowgen-flows={}", bench.flows), "--txpkts=64".to_owned()];
    let gen_mode: Vec<&str> = gen_mode.iter().map(String::as_str).collect();
    let socket = |name: &str| dir.join(format!("{name}.sock"));
    let (gen0, gen1, loop_vm) = (socket("gen0"), socket("gen1"), socket("vm"));
    // The switch's ports in OpenFlow order.
    let ports = if bench.loopback { vec![gen0.clone(), loop_vm.clone(), gen1.clone()] } else { vec![gen0.clone(), gen1.clone()] };
    let mut vms = vec![vm(&[gen0, gen1], &gen_mode, bench, &format!("ferrovs-pvp-gen-{tag}"))?];
    if bench.loopback {
        vms.push(vm(&[loop_vm], &["--forward-mode=io"], bench, &format!("ferrovs-pvp-vm-{tag}"))?);
    }
    for (i, socket) in ports.iter().enumerate() {
        let port = format!("vhu{}", i + 1);
        sw.vsctl(&[
            "add-port",
            "br0",
            &port,
            "--",
            "set",
            "Interface",
            &port,
            "type=dpdkvhostuserclient",
            &format!("options:vhost-server-path={}", socket.display()),
            &format!("ofport_request={}", i + 1),
        ]);
    }
    let ofctl = |args: &[&str]| crate::switch::ofctl(&sw, args);
    ofctl(&["del-flows", "br0"])?;
    let (rules, counted): (&[&str], &[u32]) = if bench.loopback {
        (&["in_port=1,actions=output:2", "in_port=2,actions=output:3"], &[3])
    } else {
        (&["in_port=1,actions=output:2", "in_port=2,actions=output:1"], &[1, 2])
    };
    for rule in rules {
        ofctl(&["add-flow", "br0", rule])?;
    }
    let reading = || -> Result<u64, String> {
        let mut sum = 0;
        for port in counted {
            let text = ofctl(&["dump-ports", "br0", &port.to_string()])?;
            let at = text.find("tx pkts=").ok_or_else(|| format!("{}: no tx counter in {text}", sw.name()))? + 8;
            sum += text[at..].split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
        Ok(sum)
    };
    std::thread::sleep(Duration::from_secs_f64(bench.warmup));
    let (first, start) = (reading()?, Instant::now());
    std::thread::sleep(Duration::from_secs_f64(bench.seconds));
    let (last, elapsed) = (reading()?, start.elapsed().as_secs_f64());
    for vm in &mut vms {
        if let Some(stdin) = vm.0.stdin.as_mut() {
            let _ = stdin.write_all(b"\n");
        }
    }
    drop(vms);
    if last <= first {
        return Err(format!("{}: nothing was forwarded in {elapsed:.1} s (log: {})", sw.name(), crate::switch::tail(&sw.log())));
    }
    Ok((last - first) as f64 / elapsed / 1e6)
}
