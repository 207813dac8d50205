//! `bench revalidate`: what a big table change costs the traffic. The
//! `pipeline` scenario of `bench switch` (10 000 rules on the UDP source
//! port) forwards N flows, which gives a working set of megaflows; then
//! `ovs-ofctl add-flows` replaces all 10 000 rules with rules whose
//! actions differ (they also set the IP DSCP), so every megaflow is stale.
//! Measured, for ferrovs with its revalidator thread and with the PMD
//! revalidating itself (`other_config:ferrovs-inline-revalidation=true`,
//! how ferrovs worked before), alternating in one run:
//! - the PMD's longest iteration (the longest a packet waited for the
//!   thread) over a second before the change, and from the change until
//!   half a second after its barrier reply;
//! - the time from the first flow mod to the barrier reply
//!   (`ovs-ofctl add-flows` ends with a barrier and waits for it);
//! - the upcalls and the packets lost (over the upcall budget) meanwhile;
//! - how often the kernel took the PMD's core from it in that window (its
//!   thread's involuntary context switches).
//!
//! Before each round a thread of the benchmark spins on the PMD's core
//! alone, as long as a change lasts, and prints the longest gap between
//! two of its clock reads: what the machine itself (the hypervisor,
//! interrupts, other tasks allowed on that core) takes from any thread
//! there. A gap of the PMD's longer than the probe's, with no preemption,
//! is the switch's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::switch::{self, Contender, Scenario};

/// How a run revalidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The revalidator thread.
    Revalidator,
    /// The PMD itself.
    Inline,
}

impl Mode {
    /// Its name in the results.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Revalidator => "revalidator",
            Mode::Inline => "pmd-inline",
        }
    }
}

/// The settings of a run.
#[derive(Debug, Clone)]
pub struct RevalidateBench {
    /// Where pcaps and flow files are written.
    pub dir: PathBuf,
    /// The ferrovs binary.
    pub ferrovs: PathBuf,
    /// Distinct flows in the traffic.
    pub flows: u32,
    /// Seconds of traffic before the change (megaflows settle).
    pub warmup: f64,
    /// The main (control) threads' core.
    pub main_core: usize,
    /// The PMD thread's core.
    pub pmd_core: usize,
}

/// One run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Reading {
    /// How it revalidated.
    pub mode: Mode,
    /// Megaflows installed before the change.
    pub megaflows: usize,
    /// The PMD's longest iteration over a second before the change (µs).
    pub longest_before_us: u64,
    /// Its longest iteration from the change to half a second after the
    /// barrier reply (µs).
    pub longest_during_us: u64,
    /// From the first flow mod to the barrier reply (ms).
    pub barrier_ms: f64,
    /// Upcalls in that window.
    pub upcalls: u64,
    /// Packets lost in that window (over the upcall budget).
    pub lost: u64,
    /// The PMD thread's involuntary context switches in that window.
    pub preempted: u64,
}

/// How long the probe spins: about as long as a change lasts (the
/// barrier's delay and half a second).
pub const PROBE_LENGTH: Duration = Duration::from_secs(7);

/// Spins on `core` for `length` and returns the longest gap between two
/// clock reads: the most the machine took from a thread there.
pub fn probe_core(core: usize, length: Duration) -> Result<Duration, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                return Err(format!("cannot pin the probe to core {core}"));
            }
            let start = Instant::now();
            let (mut last, mut longest) = (start, Duration::ZERO);
            while last - start < length {
                let now = Instant::now();
                longest = longest.max(now - last);
                last = now;
            }
            Ok(longest)
        })
        .join()
        .map_err(|_| "the probe thread panicked".to_owned())?
    })
}

/// The involuntary context switches of the thread named `name` of `pid`.
fn preemptions(pid: u32, name: &str) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    tasks.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        if comm.trim() != name {
            return None;
        }
        let status = std::fs::read_to_string(task.path().join("status")).ok()?;
        number_after(&status, "nonvoluntary_ctxt_switches:\t")
    })
}

/// The 10 000 rules of table 1 again, each now also setting the DSCP: a
/// change of every megaflow's datapath actions.
pub fn changed_flows() -> String {
    (1024..11024)
        .map(|p| format!("table=1,priority=10,udp,tp_src={p},actions=load:{p}->NXM_NX_REG0[],mod_nw_tos:4,resubmit(,2)\n"))
        .collect()
}

fn number_after(text: &str, label: &str) -> Option<u64> {
    let at = text.find(label)? + label.len();
    text[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Runs ferrovs once in `mode`. This process and what it starts (the
/// database, `ovs-ofctl`, the switch's own threads) are kept on the main
/// core, so that only the PMD runs on its core: a gap measured there is
/// the switch's, not the scheduler's.
pub fn run(bench: &RevalidateBench, mode: Mode, round: usize) -> Result<Reading, String> {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: bench.main_core }) {
        return Err(format!("cannot keep the benchmark on core {}", bench.main_core));
    }
    let pcap = switch::write_pcap(&bench.dir, Scenario::Pipeline, bench.flows)?;
    let prefix = format!("ferrovs-bench-revalidate-{}-{round}-{}", std::process::id(), mode.name());
    let sw = switch::start_switch(&Contender::Ferrovs(bench.ferrovs.clone()), bench.main_core, bench.pmd_core, &prefix)?;
    let inline = format!("other_config:ferrovs-inline-revalidation={}", mode == Mode::Inline);
    sw.vsctl(&["set", "open_vswitch", ".", "other_config:flow-limit=4000000", &inline]);
    let port = |name: &str, ofport: &str, devargs: &str| {
        let (devargs, ofport) = (format!("options:dpdk-devargs={devargs}"), format!("ofport_request={ofport}"));
        sw.vsctl(&["add-port", "br0", name, "--", "set", "Interface", name, "type=dpdk", &devargs, &ofport]);
    };
    port("p2", "2", "net_null0,no-rx=1");
    let write = |name: &str, text: String| -> Result<String, String> {
        let path: PathBuf = bench.dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path.display().to_string())
    };
    let (before_file, after_file) = (write("pipeline.flows", Scenario::Pipeline.flows())?, write("changed.flows", changed_flows())?);
    switch::ofctl(&sw, &["add-flows", "br0", &before_file])?;
    port("p1", "1", &format!("net_pcap0,rx_pcap={},infinite_rx=1", pcap.display()));
    std::thread::sleep(Duration::from_secs_f64(bench.warmup));
    let megaflows = sw.appctl(&["dpctl/dump-flows"]).lines().filter(|l| l.contains("actions:")).count();
    let stats = || sw.appctl(&["dpif-netdev/pmd-stats-show"]);
    let read = |text: &str, label: &str| number_after(text, label).ok_or_else(|| format!("no {label:?} in {text}"));
    sw.appctl(&["dpif-netdev/pmd-stats-clear"]);
    std::thread::sleep(Duration::from_secs(1));
    let longest_before_us = read(&stats(), "longest iteration: ")?;
    sw.appctl(&["dpif-netdev/pmd-stats-clear"]);
    let pmd = format!("pmd-c{:02}", bench.pmd_core);
    let preempted_before = preemptions(sw.pid(), &pmd).ok_or_else(|| format!("no thread {pmd} in the switch"))?;
    let start = Instant::now();
    switch::ofctl(&sw, &["add-flows", "br0", &after_file])?;
    let barrier_ms = start.elapsed().as_secs_f64() * 1e3;
    std::thread::sleep(Duration::from_millis(500));
    let after = stats();
    let preempted = preemptions(sw.pid(), &pmd).unwrap_or(preempted_before) - preempted_before;
    Ok(Reading {
        mode,
        megaflows,
        longest_before_us,
        longest_during_us: read(&after, "longest iteration: ")?,
        barrier_ms,
        upcalls: read(&after, "miss with success upcall: ")?,
        lost: read(&after, "miss with failed upcall: ")?,
        preempted,
    })
}

/// The results as a table, one line per run.
pub fn table(readings: &[Reading]) -> String {
    let mut out = format!(
        "{:<12}{:>10}{:>16}{:>16}{:>12}{:>10}{:>10}{:>11}\n",
        "mode", "megaflows", "longest before", "longest during", "barrier", "upcalls", "lost", "preempted"
    );
    for r in readings {
        out.push_str(&format!(
            "{:<12}{:>10}{:>13} us{:>13} us{:>9.1} ms{:>10}{:>10}{:>11}\n",
            r.mode.name(),
            r.megaflows,
            r.longest_before_us,
            r.longest_during_us,
            r.barrier_ms,
            r.upcalls,
            r.lost,
            r.preempted
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_of_table_one_changes_its_actions() {
        let before: Vec<String> =
            Scenario::Pipeline.flows().lines().filter(|l| l.starts_with("table=1,priority=10,")).map(String::from).collect();
        let changed = changed_flows();
        let after: Vec<&str> = changed.lines().collect();
        assert_eq!((before.len(), after.len()), (10_000, 10_000));
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(b.split(",actions=").next(), a.split(",actions=").next(), "same match");
            assert_ne!(b, a);
        }
    }

    #[test]
    fn the_table_shows_each_run() {
        let r = Reading {
            mode: Mode::Inline,
            megaflows: 9000,
            longest_before_us: 40,
            longest_during_us: 52_000,
            barrier_ms: 812.5,
            upcalls: 3,
            lost: 1,
            preempted: 2,
        };
        let t = table(&[r]);
        assert!(t.contains("pmd-inline") && t.contains("52000 us") && t.contains("812.5 ms"), "{t}");
    }

    #[test]
    fn the_probe_measures_within_its_length() {
        let core = core_affinity::get_core_ids().and_then(|c| c.last().map(|c| c.id)).unwrap_or(0);
        let quiet = probe_core(core, Duration::from_millis(50)).unwrap();
        assert!(quiet > Duration::ZERO && quiet < Duration::from_millis(50), "{quiet:?}");
    }
}
