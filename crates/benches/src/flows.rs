//! `ferrovs bench flows`: how long `ovs-ofctl add-flows` takes to install
//! N flows from one file into a bridge of ferrovs and of Open vSwitch
//! (`ovs-vswitchd`, userspace datapath), each with its own
//! `ovsdb-server`, in the same run, rounds alternating.
//!
//! The time is the wall clock of the `ovs-ofctl add-flows` process, which
//! sends each flow mod with a barrier and waits for the reply; afterwards
//! the switch's flow count is read back (`ovs-ofctl dump-aggregate`) and
//! must be N plus the bridge's default NORMAL flow.
//!
//! Because every flow is a round trip, the figure measures wake-up latency
//! as much as flow-table work; on these virtual machines a wake-up across
//! CPUs costs tens of microseconds. By default both switches and
//! `ovs-ofctl` therefore run on the same single CPU (`--cpu`), the same
//! way for both; `--cpu any` leaves placement to the scheduler.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ovs_peers::Vswitchd;

/// One contender's timing.
#[derive(Clone, Debug)]
pub struct FlowsResult {
    /// "ferrovs" or "ovs-vswitchd".
    pub switch: &'static str,
    /// Flows added.
    pub flows: usize,
    /// Wall-clock time of `ovs-ofctl add-flows`.
    pub elapsed: Duration,
}

impl FlowsResult {
    /// Flows per second.
    pub fn rate(&self) -> f64 {
        self.flows as f64 / self.elapsed.as_secs_f64()
    }
}

/// Writes `n` distinct flows, in several tables and with matches of
/// several shapes (L2, IPv4 with prefixes, TCP ports, registers), one per
/// line, as `ovs-ofctl add-flows` reads them.
pub fn write_flows(path: &Path, n: usize) -> std::io::Result<()> {
    let mut text = String::with_capacity(n * 96);
    for i in 0..n {
        let (a, b, c) = ((i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
        let _ = match i % 4 {
            0 => writeln!(text, "table=0,priority={},dl_src=02:00:00:{a:02x}:{b:02x}:{c:02x},actions=output:1", 100 + i % 7),
            1 => writeln!(
                text,
                "table=1,priority={},ip,nw_src=10.{a}.{b}.{c},nw_dst=192.168.0.0/16,actions=mod_nw_tos:8,output:2",
                200 + i % 5
            ),
            2 => writeln!(text, "table=2,priority=300,tcp,nw_dst=172.{a}.{b}.{c},tp_dst={},actions=resubmit(,3)", 1 + i % 60000),
            _ => writeln!(text, "table=3,priority=400,reg0={i},reg1=0x{:x}/0xffff,actions=load:0x1->NXM_NX_REG2[],output:3", i & 0xffff),
        };
    }
    std::fs::write(path, text)
}

fn flow_count(sw: &Vswitchd) -> Option<usize> {
    let out = sw.ofctl(&["dump-aggregate", "br0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text.find("flow_count=")? + "flow_count=".len();
    text[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Adds the flows in `file` (`n` of them) to a fresh bridge of `sw`, with
/// `ovs-ofctl` on CPU `cpu` if given.
pub fn run_round(sw: &Vswitchd, file: &Path, n: usize, cpu: Option<u32>) -> Result<FlowsResult, String> {
    sw.vsctl(&["--if-exists", "del-br", "br0"]);
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    let mut command = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string(), "ovs-ofctl"]);
            c
        }
        None => Command::new("ovs-ofctl"),
    };
    let start = Instant::now();
    let out = command.args(["add-flows", "br0"]).arg(file).env("OVS_RUNDIR", sw.dir()).output().map_err(|e| format!("ovs-ofctl: {e}"))?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        return Err(format!("{}: ovs-ofctl add-flows failed: {}", sw.name(), String::from_utf8_lossy(&out.stderr)));
    }
    match flow_count(sw) {
        // The flows, and the NORMAL flow a bridge without a controller has.
        Some(c) if c == n + 1 => Ok(FlowsResult { switch: sw.name(), flows: n, elapsed }),
        other => Err(format!("{}: {other:?} flows in the bridge after adding {n}", sw.name())),
    }
}

/// The comparison table.
pub fn table(results: &[FlowsResult]) -> String {
    let mut s = String::from("switch          flows     seconds   flows/s\n");
    for r in results {
        let _ = writeln!(s, "{:<14} {:>6} {:>11.3} {:>9.0}", r.switch, r.flows, r.elapsed.as_secs_f64(), r.rate());
    }
    s
}
