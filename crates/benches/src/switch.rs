//! `bench switch`: ferrovs against Open vSwitch with DPDK, configured
//! with the same `ovs-vsctl` and `ovs-ofctl` commands, on the same
//! devices and cores, and `dpdk-testpmd`'s io forwarding as the ceiling.
//!
//! Each run starts a private `ovsdb-server` and the switch in a run
//! directory and network namespace of their own, gives the switch DPDK
//! (main thread on one core, one PMD thread on the other, `--in-memory`),
//! a bridge with port 2, a `net_null` sink, installs the scenario's flows,
//! adds port 1, a `net_pcap` replaying the scenario's pcap forever, and,
//! after a warm-up, counts what port 2 sent (the driver's counter,
//! read with `ovs-ofctl dump-ports`) over the measured seconds. Runs
//! alternate between the contenders.
//!
//! Scenarios (the traffic: N distinct UDP flows, source address and port
//! varying, to 10.1.0.1):
//! - `simple`: `in_port=1,actions=output:2`;
//! - `pipeline`: table 0 `in_port=1,ip` → `resubmit(,1)`; table 1 holds
//!   10 000 rules `udp,tp_src=P` (P = 1024…11023) each loading P into
//!   `reg0` and resubmitting to table 2, and a lower-priority `ip` rule
//!   that resubmits; table 2 `ip,nw_dst=10.1.0.0/16` → `output:2`, else
//!   drop;
//! - `setup`: every packet has a source MAC of its own and a rule on
//!   `dl_src` makes every megaflow match it, so every packet is a new
//!   megaflow; the figure is megaflows set up per second ("miss with
//!   success upcall" of `pmd-stats-show`) while a pcap read once still
//!   delivers packets.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ovs_peers::Vswitchd;
use serde::Serialize;

use crate::pcap;

/// What a scenario installs and measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// One rule: port 1 to port 2.
    Simple,
    /// Three tables, 10 000 rules on the source port.
    Pipeline,
    /// Every packet a new megaflow.
    Setup,
}

impl Scenario {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Simple => "simple",
            Scenario::Pipeline => "pipeline",
            Scenario::Setup => "setup",
        }
    }

    /// The flows, as `ovs-ofctl add-flows` reads them.
    pub fn flows(self) -> String {
        match self {
            Scenario::Simple => "in_port=1,actions=output:2\n".to_owned(),
            Scenario::Pipeline => {
                let mut f = String::from("table=0,priority=10,in_port=1,ip,actions=resubmit(,1)\n");
                for p in 1024..11024 {
                    f.push_str(&format!("table=1,priority=10,udp,tp_src={p},actions=load:{p}->NXM_NX_REG0[],resubmit(,2)\n"));
                }
                f.push_str("table=1,priority=1,ip,actions=resubmit(,2)\n");
                f.push_str("table=2,priority=10,ip,nw_dst=10.1.0.0/16,actions=output:2\n");
                f.push_str("table=2,priority=1,actions=drop\n");
                f
            }
            Scenario::Setup => {
                "priority=10,in_port=1,dl_src=00:00:00:00:00:01,actions=drop\npriority=1,in_port=1,actions=output:2\n".to_owned()
            }
        }
    }

    /// The unit of its figure.
    pub fn unit(self) -> &'static str {
        match self {
            Scenario::Setup => "kflows/s",
            _ => "Mpps",
        }
    }
}

/// Who forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contender {
    /// ferrovs, this executable.
    Ferrovs(PathBuf),
    /// Open vSwitch with DPDK.
    Ovs,
    /// dpdk-testpmd, io forwarding.
    Testpmd,
}

impl Contender {
    /// Its name in the results.
    pub fn name(&self) -> &'static str {
        match self {
            Contender::Ferrovs(_) => "ferrovs",
            Contender::Ovs => "ovs-dpdk",
            Contender::Testpmd => "testpmd",
        }
    }
}

/// The settings of a run.
#[derive(Debug, Clone)]
pub struct SwitchBench {
    /// Where pcaps are written.
    pub dir: PathBuf,
    /// Seconds measured.
    pub seconds: f64,
    /// Seconds of traffic before measuring.
    pub warmup: f64,
    /// The main (control) threads' core.
    pub main_core: usize,
    /// The PMD thread's core.
    pub pmd_core: usize,
}

/// One measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// Scenario.
    pub scenario: Scenario,
    /// Distinct flows in the traffic.
    pub flows: u32,
    /// Who.
    pub contender: &'static str,
    /// Mpps forwarded, or thousands of megaflows set up per second.
    pub value: f64,
}

/// The frame of flow `i` of the switch scenarios: `udp_frame(i)` sent to
/// 10.1.0.1 and, for `setup`, from a MAC address of its own.
pub fn frame(i: u32, scenario: Scenario) -> [u8; pcap::FRAME_LEN] {
    let mut f = pcap::udp_frame(i);
    f[30..34].copy_from_slice(&[10, 1, 0, 1]);
    f[24..26].copy_from_slice(&[0, 0]);
    let c = pcap::ipv4_checksum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    if scenario == Scenario::Setup {
        let b = (i + 2).to_be_bytes();
        f[6..12].copy_from_slice(&[0x02, 0x10, b[0], b[1], b[2], b[3]]);
    }
    f
}

/// Writes the pcap of a scenario with `flows` flows; returns its path.
pub fn write_pcap(dir: &Path, scenario: Scenario, flows: u32) -> Result<PathBuf, String> {
    let path = dir.join(format!("{}-{flows}.pcap", scenario.name()));
    if !path.exists() {
        pcap::write_frames(&path, (0..flows).map(|i| frame(i, scenario))).map_err(|e| e.to_string())?;
    }
    Ok(path)
}

/// The packets in a `setup` pcap, read once.
pub const SETUP_PACKETS: u32 = 4 << 20;

fn counter(text: &str, label: &str) -> Option<u64> {
    let at = text.find(label)? + label.len();
    text[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Runs one switch on a scenario; returns its figure.
pub fn run_switch(bench: &SwitchBench, who: &Contender, scenario: Scenario, flows: u32, round: usize) -> Result<f64, String> {
    let (packets, once) = match scenario {
        Scenario::Setup => (SETUP_PACKETS, true),
        _ => (flows, false),
    };
    let pcap = write_pcap(&bench.dir, scenario, packets)?;
    let sw =
        start_switch(who, bench.main_core, bench.pmd_core, &format!("ferrovs-bench-switch-{}-{round}-{}", std::process::id(), who.name()))?;
    sw.vsctl(&["set", "open_vswitch", ".", "other_config:flow-limit=4000000"]);
    let port = |name: &str, ofport: &str, devargs: &str| {
        let devargs = format!("options:dpdk-devargs={devargs}");
        let ofport = format!("ofport_request={ofport}");
        sw.vsctl(&["add-port", "br0", name, "--", "set", "Interface", name, "type=dpdk", &devargs, &ofport]);
    };
    port("p2", "2", "net_null0,no-rx=1");
    let flows_file = bench.dir.join(format!("{}.flows", scenario.name()));
    std::fs::write(&flows_file, scenario.flows()).map_err(|e| e.to_string())?;
    let ofctl = |args: &[&str]| ofctl(&sw, args);
    ofctl(&["del-flows", "br0"])?;
    ofctl(&["add-flows", "br0", &flows_file.display().to_string()])?;
    // The traffic starts once the rules are in (this measures forwarding,
    // not loading rules under traffic).
    port("p1", "1", &format!("net_pcap0,rx_pcap={}{}", pcap.display(), if once { "" } else { ",infinite_rx=1" }));
    if scenario == Scenario::Setup {
        return setup_rate(&sw, bench.warmup + bench.seconds);
    }
    let reading = || -> Result<u64, String> {
        let ports = ofctl(&["dump-ports", "br0", "2"])?;
        counter(&ports, "tx pkts=").ok_or_else(|| format!("{}: no tx counter in {ports}", sw.name()))
    };
    std::thread::sleep(Duration::from_secs_f64(bench.warmup));
    let (first, start) = (reading()?, Instant::now());
    std::thread::sleep(Duration::from_secs_f64(bench.seconds));
    let (last, elapsed) = (reading()?, start.elapsed().as_secs_f64());
    if last == first {
        return Err(format!("{}: nothing moved in {elapsed:.1} s (log: {})", sw.name(), tail(&sw.log())));
    }
    Ok((last - first) as f64 / elapsed / 1e6)
}

/// The `setup` figure: thousands of megaflows set up per second while
/// the pcap still delivers packets. A switch drains the pcap (read once)
/// as fast as it polls, whether or not it translates every miss, so a
/// fixed window after a warm-up can fall after the pcap's end; instead
/// `pmd-stats-show` is read every 50 ms for at most `seconds`, and the
/// rate is taken from the first reading with packets received to the
/// last one in which more were received.
fn setup_rate(sw: &Vswitchd, seconds: f64) -> Result<f64, String> {
    let reading = || -> Result<(u64, u64, Instant), String> {
        let stats = sw.appctl(&["dpif-netdev/pmd-stats-show"]);
        let at = Instant::now();
        let get = |label: &str| counter(&stats, label).ok_or_else(|| format!("{}: no {label:?} in {stats}", sw.name()));
        Ok((get("packets received: ")?, get("miss with success upcall: ")?, at))
    };
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut first: Option<(u64, u64, Instant)> = None;
    let mut last: Option<(u64, u64, Instant)> = None;
    while Instant::now() < deadline {
        let now = reading()?;
        match (first, last) {
            (None, _) if now.0 > 0 => first = Some(now),
            (Some(_), Some(l)) if now.0 == l.0 => break,
            _ => {}
        }
        if first.is_some() {
            last = Some(now);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    match (first, last) {
        (Some(f), Some(l)) if l.1 > f.1 => Ok((l.1 - f.1) as f64 / l.2.duration_since(f.2).as_secs_f64() / 1e3),
        _ => Err(format!("{}: no megaflow set up in {seconds:.1} s (log: {})", sw.name(), tail(&sw.log()))),
    }
}

/// Starts `who` with DPDK (`--in-memory`, EAL file prefix `prefix`),
/// main threads on `main_core`, the PMD thread on `pmd_core`, and bridge
/// `br0` (`netdev`, `fail_mode=secure`).
pub fn start_switch(who: &Contender, main_core: usize, pmd_core: usize, prefix: &str) -> Result<Vswitchd, String> {
    let sw = match who {
        Contender::Ferrovs(bin) => Vswitchd::start_ferrovs(bin),
        Contender::Ovs => Vswitchd::start_ovs_dpdk(),
        Contender::Testpmd => return Err("testpmd is not a switch".to_owned()),
    };
    let mask = |core: usize| format!("{:#x}", 1u64 << core);
    sw.vsctl(&[
        "set",
        "open_vswitch",
        ".",
        "other_config:dpdk-init=true",
        &format!("other_config:dpdk-lcore-mask={}", mask(main_core)),
        &format!("other_config:pmd-cpu-mask={}", mask(pmd_core)),
        &format!("other_config:dpdk-extra=--in-memory --no-pci --no-telemetry --log-level=error --file-prefix={prefix}"),
    ]);
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", "fail_mode=secure"]);
    Ok(sw)
}

/// `ovs-ofctl ARGS` against `sw`: its output, or an error naming the switch.
pub fn ofctl(sw: &Vswitchd, args: &[&str]) -> Result<String, String> {
    let out = sw.ofctl(args);
    if !out.status.success() {
        return Err(format!("{}: ovs-ofctl {args:?}: {}", sw.name(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last three lines of a log.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// Runs testpmd's io forwarding on a scenario's traffic.
pub fn run_testpmd(bench: &SwitchBench, scenario: Scenario, flows: u32, round: usize) -> Result<f64, String> {
    let pcap = write_pcap(&bench.dir, scenario, flows)?;
    let mask = format!("{:#x}", 1u64 << bench.pmd_core);
    let mut io = crate::io::IoBench::new(pcap, bench.seconds, &mask).map_err(|e| e.to_string())?;
    io.warmup = bench.warmup;
    io.main_core = bench.main_core;
    io.log_level = "error".to_owned();
    crate::testpmd::run(&io, round).map(|r| r.mpps).map_err(|e| e.to_string())
}

/// The table of the results: for each scenario and flow count, each
/// contender's median figure and ferrovs' ratio to the others.
pub fn table(figures: &[Figure]) -> String {
    let mut out = format!(
        "{:<10}{:>8}{:>12}{:>12}{:>8}{:>12}{:>10}  unit\n",
        "scenario", "flows", "ferrovs", "ovs-dpdk", "ratio", "testpmd", "ratio"
    );
    for (scenario, flows) in keys(figures) {
        let get = |who: &str| median(figures, scenario, flows, who);
        let (f, o, t) = (get("ferrovs"), get("ovs-dpdk"), get("testpmd"));
        let num = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
            _ => "-".to_owned(),
        };
        out.push_str(&format!(
            "{:<10}{:>8}{:>12}{:>12}{:>8}{:>12}{:>10}  {}\n",
            scenario.name(),
            flows,
            num(f),
            num(o),
            ratio(f, o),
            num(t),
            ratio(f, t),
            scenario.unit()
        ));
    }
    out
}

/// The scenario and flow-count pairs measured, in order of first appearance.
pub fn keys(figures: &[Figure]) -> Vec<(Scenario, u32)> {
    let mut keys = Vec::new();
    for f in figures {
        if !keys.contains(&(f.scenario, f.flows)) {
            keys.push((f.scenario, f.flows));
        }
    }
    keys
}

/// The median of a contender's figures for a scenario and flow count.
pub fn median(figures: &[Figure], scenario: Scenario, flows: u32, who: &str) -> Option<f64> {
    let mut v: Vec<f64> =
        figures.iter().filter(|f| f.scenario == scenario && f.flows == flows && f.contender == who).map(|f| f.value).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 })
}

/// A bar chart of ferrovs' ratio to each peer per scenario, as SVG.
pub fn svg(figures: &[Figure]) -> String {
    let keys = keys(figures);
    let bars: Vec<(String, &str, f64)> = keys
        .iter()
        .flat_map(|&(s, n)| {
            let f = median(figures, s, n, "ferrovs");
            ["ovs-dpdk", "testpmd"].into_iter().filter_map(move |peer| {
                let p = median(figures, s, n, peer)?;
                Some((format!("{} {n}", s.name()), peer, f? / p))
            })
        })
        .collect();
    let max = bars.iter().map(|b| b.2).fold(1.0f64, f64::max) * 1.1;
    let (w, row) = (640.0, 28.0);
    let h = 40.0 + row * bars.len() as f64 + 20.0;
    let mut out =
        format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n");
    out.push_str("<text x=\"10\" y=\"20\" font-size=\"14\">ferrovs / peer (higher is better; 1.0 = equal)</text>\n");
    let x0 = 200.0;
    let scale = (w - x0 - 60.0) / max;
    for (i, (label, peer, ratio)) in bars.iter().enumerate() {
        let y = 40.0 + row * i as f64;
        let color = if *peer == "ovs-dpdk" { "#3a7" } else { "#37a" };
        out.push_str(&format!("<text x=\"10\" y=\"{}\">{label} vs {peer}</text>\n", y + 16.0));
        out.push_str(&format!("<rect x=\"{x0}\" y=\"{y}\" width=\"{:.1}\" height=\"20\" fill=\"{color}\"/>\n", ratio * scale));
        out.push_str(&format!("<text x=\"{:.1}\" y=\"{}\">{ratio:.2}x</text>\n", x0 + ratio * scale + 4.0, y + 15.0));
    }
    let one = x0 + scale;
    out.push_str(&format!(
        "<line x1=\"{one:.1}\" y1=\"35\" x2=\"{one:.1}\" y2=\"{}\" stroke=\"#000\" stroke-dasharray=\"4\"/>\n",
        h - 15.0
    ));
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_reach_the_pipeline_s_output_and_setup_macs_differ() {
        let f = frame(5, Scenario::Pipeline);
        assert_eq!(&f[30..34], &[10, 1, 0, 1]);
        assert_eq!(pcap::ipv4_checksum(&f[14..34]), 0);
        assert_ne!(frame(1, Scenario::Setup)[6..12], frame(2, Scenario::Setup)[6..12]);
        assert_ne!(frame(0, Scenario::Setup)[6..12], [0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn the_pipeline_has_ten_thousand_port_rules() {
        let flows = Scenario::Pipeline.flows();
        assert_eq!(flows.lines().filter(|l| l.starts_with("table=1,priority=10,udp,tp_src=")).count(), 10_000);
    }

    #[test]
    fn table_takes_medians_and_ratios() {
        let fig = |contender, value| Figure { scenario: Scenario::Simple, flows: 1000, contender, value };
        let figures = [fig("ferrovs", 10.0), fig("ferrovs", 12.0), fig("ferrovs", 11.0), fig("ovs-dpdk", 4.0), fig("testpmd", 20.0)];
        let t = table(&figures);
        assert!(t.contains("11.00") && t.contains("2.75x") && t.contains("0.55x"), "{t}");
        assert!(svg(&figures).contains("2.75x"));
    }
}
