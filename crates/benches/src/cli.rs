//! `ferrovs bench …` (the `ferrovs-bench` program, which `ferrovs bench`
//! runs): the benchmarks of this crate on the command line, and the
//! side-by-side runs against peers. It is a program of its own so that
//! the daemon carries none of it (nor the test-support code it starts
//! peers with).
//!
//! EAL starts once per process, so with `--vs` every round of every
//! contender is a process of its own: `bench io`'s ferrovs rounds re-run
//! this program with `--json`, the other benchmarks run the ferrovs
//! daemon ([`ferrovs_binary`]), the peer's rounds run the peer; they
//! alternate.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::io::{self, BenchError, IoBench, IoResult, Progress};
use crate::testpmd;
use clap::{Args, Subcommand, ValueEnum};
use pmd::CpuMask;
use serde_json::json;

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// net_pcap replaying N UDP flows forever → one PMD thread → net_null:
    /// the rx/tx ceiling, optionally side by side with dpdk-testpmd.
    Io(IoArgs),
    /// `ovs-ofctl add-flows` of N flows from one file into ferrovs and into
    /// Open vSwitch, rounds alternating: install time and rate.
    Flows(FlowsArgs),
    /// ferrovs against Open vSwitch with DPDK (and testpmd's ceiling) on
    /// net_pcap → port 1 → the scenario's flows → port 2 (net_null).
    Switch(SwitchArgs),
    /// Between VMs' vhost-user ports (testpmd with net_virtio_user as the
    /// VM sides): a generator's two devices through the switch both ways,
    /// or with --loopback through a VM forwarding back; ferrovs against
    /// Open vSwitch with DPDK.
    Pvp(PvpArgs),
    /// What replacing 10 000 rules under traffic costs: the PMD's longest
    /// iteration and the barrier's delay, with the revalidator thread and
    /// with the PMD revalidating itself, alternating.
    Revalidate(RevalidateArgs),
    /// Writes a pcap of N distinct 64-byte UDP flows (what `bench io`
    /// replays), for `net_pcap` ports of your own.
    Pcap(PcapArgs),
    /// Logical flows compiled per second: the reference topology with N
    /// generated ACL flows, ferrovs' compiler and (with --vs) the real
    /// ovn-controller's full recompute, rounds alternating.
    Lflow(LflowArgs),
}

/// `bench lflow`'s options.
#[derive(Debug, Args)]
pub struct LflowArgs {
    /// Generated ACL flows, on top of the fixture's 306.
    #[arg(long, default_value_t = 100_000)]
    flows: u64,
    /// Rounds of each contender.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Side by side with ovn-controller 23.03 (and Open vSwitch).
    #[arg(long)]
    vs: bool,
}

/// `bench revalidate`'s options.
#[derive(Debug, Args)]
pub struct RevalidateArgs {
    /// Distinct flows of the traffic (the pipeline scenario's).
    #[arg(long, default_value_t = 10_000)]
    flows: u32,
    /// Seconds of traffic before the change (megaflows settle).
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Runs of each mode.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// The PMD thread's core; the main threads run on the other one.
    #[arg(long, default_value_t = 1)]
    pmd_core: usize,
    /// Print one JSON object per run.
    #[arg(long)]
    json: bool,
}

/// `bench pcap`'s options.
#[derive(Debug, Args)]
pub struct PcapArgs {
    /// Distinct flows (one frame each).
    #[arg(long, default_value_t = 1000)]
    flows: u32,
    /// The file to write.
    #[arg(long)]
    out: PathBuf,
}

/// `bench switch`'s options.
#[derive(Debug, Args)]
pub struct SwitchArgs {
    /// Also run this peer, alternating with ferrovs: ovs (Open vSwitch
    /// with DPDK) or testpmd (io forwarding, the ceiling). Repeatable.
    #[arg(long, value_enum)]
    vs: Vec<SwitchPeer>,
    /// Scenarios (repeatable; default all): simple, pipeline, setup.
    #[arg(long, value_enum)]
    scenario: Vec<ScenarioArg>,
    /// Distinct flows of the traffic, comma-separated (not for setup).
    #[arg(long, default_value = "1,1000,100000", value_delimiter = ',')]
    flows: Vec<u32>,
    #[command(flatten)]
    run: RunArgs,
    /// Print one JSON object per scenario and flow count.
    #[arg(long)]
    json: bool,
    /// Write an SVG bar chart of the ratios to FILE.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// `bench pvp`'s options.
#[derive(Debug, Args)]
pub struct PvpArgs {
    /// Also run Open vSwitch with DPDK (`ovs`), alternating with ferrovs.
    #[arg(long, value_enum)]
    vs: Vec<PvpPeer>,
    /// Distinct flows the generator sends.
    #[arg(long, default_value_t = 1000)]
    flows: u32,
    /// Through a VM that forwards every frame back (each crosses the
    /// switch twice).
    #[arg(long)]
    loopback: bool,
    /// Descriptors in each of the VMs' virtio rings: a power of two from
    /// 256 to 1024, as QEMU's `rx_queue_size`/`tx_queue_size` for
    /// vhost-user.
    #[arg(long, default_value_t = 1024)]
    ring_size: u16,
    #[command(flatten)]
    run: RunArgs,
}

/// How long and where the switch benches run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Seconds measured per run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Seconds of traffic before measuring (megaflows settle).
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Runs per contender (and scenario); the median is reported.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// The PMD thread's core; the main threads run on the other one.
    #[arg(long, default_value_t = 1)]
    pmd_core: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PvpPeer {
    /// Open vSwitch with DPDK (ovs-vswitchd-dpdk).
    Ovs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SwitchPeer {
    /// Open vSwitch with DPDK (ovs-vswitchd-dpdk).
    Ovs,
    /// dpdk-testpmd --forward-mode=io.
    Testpmd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScenarioArg {
    Simple,
    Pipeline,
    Setup,
}

/// `bench flows`'s options.
#[derive(Debug, Args)]
pub struct FlowsArgs {
    /// Flows in the file.
    #[arg(long, default_value_t = 100_000)]
    flows: usize,
    /// Rounds per switch.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// The CPU both switches and ovs-ofctl run on, or "any".
    #[arg(long, default_value = "0")]
    cpu: String,
}

/// `bench io`'s options.
#[derive(Debug, Args)]
pub struct IoArgs {
    /// Distinct 64-byte UDP flows in the generated pcap.
    #[arg(long, default_value_t = 1000)]
    flows: u32,
    /// Seconds measured per round (after a 1 s warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// The PMD thread's core, as a hexadecimal mask with one bit.
    #[arg(long, default_value = "0x2")]
    pmd_cpu_mask: String,
    /// Replay this pcap instead of generating one (--flows is then ignored).
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Devargs of the receiving device; {pcap} stands for the pcap path.
    #[arg(long, default_value = io::RX_DEVARGS)]
    rx_devargs: String,
    /// Devargs of the transmitting device.
    #[arg(long, default_value = io::TX_DEVARGS)]
    tx_devargs: String,
    /// Also run this peer on the same devices, alternating, and compare.
    #[arg(long, value_enum)]
    vs: Option<Peer>,
    /// Rounds per contender with --vs.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// DPDK log level (EAL's --log-level).
    #[arg(long, default_value = "error")]
    log_level: String,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Peer {
    /// dpdk-testpmd --forward-mode=io
    Testpmd,
}

/// The ferrovs daemon the benchmarks start: `FERROVS_BIN` (which
/// `ferrovs bench` sets to itself), else `ferrovs` beside this program.
pub fn ferrovs_binary() -> Result<PathBuf, BenchError> {
    if let Some(bin) = std::env::var_os("FERROVS_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let me = std::env::current_exe().map_err(|e| BenchError::Round(format!("cannot find this program: {e}")))?;
    let beside = me.with_file_name("ferrovs");
    if beside.exists() {
        Ok(beside)
    } else {
        Err(BenchError::Usage(format!("no ferrovs beside {} (run it as `ferrovs bench`, or set FERROVS_BIN)", me.display())))
    }
}

/// Runs one benchmark.
pub fn run(bench: Bench) -> Result<(), BenchError> {
    match bench {
        Bench::Io(args) => run_io(&args),
        Bench::Flows(args) => run_flows(&args),
        Bench::Switch(args) => run_switch(&args),
        Bench::Pvp(args) => run_pvp(&args),
        Bench::Revalidate(args) => run_revalidate(&args),
        Bench::Lflow(args) => crate::lflow::run(&crate::lflow::LflowBench { flows: args.flows, rounds: args.rounds, vs: args.vs }),
        Bench::Pcap(args) => crate::pcap::write_udp_flows(&args.out, args.flows).map_err(BenchError::from),
    }
}

/// The core that is not `pmd_core`, checking it is one.
fn main_core_beside(pmd_core: usize) -> Result<usize, BenchError> {
    let usable = CpuMask::usable_cores();
    if !usable.contains(&pmd_core) {
        return Err(BenchError::Usage(format!("--pmd-core {pmd_core} is not a core of this machine")));
    }
    Ok(usable.iter().copied().find(|&c| c != pmd_core).unwrap_or(pmd_core))
}

fn run_pvp(args: &PvpArgs) -> Result<(), BenchError> {
    use crate::pvp::{self, PvpBench};
    use crate::switch::{median, Contender, Figure, Scenario};
    if !(args.run.seconds > 0.0 && args.run.warmup >= 0.0) || args.run.rounds == 0 || args.flows == 0 {
        return Err(BenchError::Usage("--seconds must be positive, --warmup not negative, --rounds and --flows at least 1".into()));
    }
    if !(256..=1024).contains(&args.ring_size) || !args.ring_size.is_power_of_two() {
        return Err(BenchError::Usage("--ring-size must be 256, 512 or 1024 (what QEMU accepts for vhost-user)".into()));
    }
    let main_core = main_core_beside(args.run.pmd_core)?;
    let bench = PvpBench {
        seconds: args.run.seconds,
        warmup: args.run.warmup,
        flows: args.flows,
        loopback: args.loopback,
        main_core,
        pmd_core: args.run.pmd_core,
        ring_size: args.ring_size,
    };
    let exe = ferrovs_binary()?;
    let mut contenders = vec![Contender::Ferrovs(exe)];
    if args.vs.contains(&PvpPeer::Ovs) {
        contenders.push(Contender::Ovs);
    }
    let path = if args.loopback {
        "gen port 1 -> switch -> vm (io) -> switch -> gen port 2"
    } else {
        "gen port 1 <-> switch <-> gen port 2 (both ways)"
    };
    eprintln!("{path}; {}", bench.pinning());
    let mut figures = Vec::new();
    for round in 0..args.run.rounds {
        for who in &contenders {
            eprintln!("round {}/{}: {}", round + 1, args.run.rounds, who.name());
            let value = pvp::run(&bench, who, round).map_err(BenchError::Round)?;
            eprintln!("  {value:.2} Mpps");
            // The switch table's median, under the `simple` label.
            figures.push(Figure { scenario: Scenario::Simple, flows: args.flows, contender: who.name(), value });
        }
    }
    let f = median(&figures, Scenario::Simple, args.flows, "ferrovs");
    let o = median(&figures, Scenario::Simple, args.flows, "ovs-dpdk");
    println!(
        "{path}, {} flows, 64-byte frames, {}-descriptor virtio rings; {} s per run after {} s of warm-up, median of {} round(s)",
        args.flows, args.ring_size, args.run.seconds, args.run.warmup, args.run.rounds
    );
    println!("pinning: {}", bench.pinning());
    println!("{:<10}{:>12}{:>12}{:>8}  unit", "mode", "ferrovs", "ovs-dpdk", "ratio");
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    let ratio = match (f, o) {
        (Some(f), Some(o)) if o > 0.0 => format!("{:.2}x", f / o),
        _ => "-".to_owned(),
    };
    println!("{:<10}{:>12}{:>12}{:>8}  Mpps forwarded", if args.loopback { "loopback" } else { "p2p" }, num(f), num(o), ratio);
    Ok(())
}

fn run_revalidate(args: &RevalidateArgs) -> Result<(), BenchError> {
    use crate::revalidate::{self, Mode, RevalidateBench};
    if args.rounds == 0 || args.warmup < 0.0 {
        return Err(BenchError::Usage("--rounds must be at least 1 and --warmup not negative".into()));
    }
    let main_core = main_core_beside(args.pmd_core)?;
    let scratch = tempfile::tempdir().map_err(|e| BenchError::Usage(format!("cannot make a temporary directory: {e}")))?;
    let ferrovs = ferrovs_binary()?;
    let bench = RevalidateBench {
        dir: scratch.path().to_owned(),
        ferrovs,
        flows: args.flows,
        warmup: args.warmup,
        main_core,
        pmd_core: args.pmd_core,
    };
    let mut readings = Vec::new();
    let mut probes = Vec::new();
    for round in 0..args.rounds {
        eprintln!("round {}/{}: probing core {} alone for {:?}", round + 1, args.rounds, args.pmd_core, revalidate::PROBE_LENGTH);
        let gap = revalidate::probe_core(args.pmd_core, revalidate::PROBE_LENGTH).map_err(BenchError::Round)?;
        probes.push(format!("{} us", gap.as_micros()));
        for mode in [Mode::Inline, Mode::Revalidator] {
            eprintln!("round {}/{}: {}", round + 1, args.rounds, mode.name());
            let r = revalidate::run(&bench, mode, round).map_err(BenchError::Round)?;
            if args.json {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            }
            readings.push(r);
        }
    }
    if !args.json {
        println!("{} flows of the pipeline scenario; 10 000 rules replaced by `ovs-ofctl add-flows`; main threads on core {main_core}, PMD on core {}", args.flows, args.pmd_core);
        print!("{}", revalidate::table(&readings));
        println!(
            "a thread spinning alone on core {} for {:?} before each round saw gaps of at most: {}",
            args.pmd_core,
            revalidate::PROBE_LENGTH,
            probes.join(", ")
        );
    }
    Ok(())
}

fn run_switch(args: &SwitchArgs) -> Result<(), BenchError> {
    use crate::switch::{self, Contender, Figure, Scenario, SwitchBench};
    if !(args.run.seconds > 0.0 && args.run.warmup >= 0.0) || args.run.rounds == 0 {
        return Err(BenchError::Usage("--seconds must be positive, --warmup not negative, --rounds at least 1".into()));
    }
    let main_core = main_core_beside(args.run.pmd_core)?;
    let scratch = tempfile::tempdir().map_err(|e| BenchError::Usage(format!("cannot make a temporary directory: {e}")))?;
    let bench = SwitchBench {
        dir: scratch.path().to_owned(),
        seconds: args.run.seconds,
        warmup: args.run.warmup,
        main_core,
        pmd_core: args.run.pmd_core,
    };
    let exe = ferrovs_binary()?;
    let mut contenders = vec![Contender::Ferrovs(exe)];
    if args.vs.contains(&SwitchPeer::Ovs) {
        contenders.push(Contender::Ovs);
    }
    if args.vs.contains(&SwitchPeer::Testpmd) {
        contenders.push(Contender::Testpmd);
    }
    let scenarios: Vec<Scenario> = if args.scenario.is_empty() {
        vec![Scenario::Simple, Scenario::Pipeline, Scenario::Setup]
    } else {
        args.scenario
            .iter()
            .map(|s| match s {
                ScenarioArg::Simple => Scenario::Simple,
                ScenarioArg::Pipeline => Scenario::Pipeline,
                ScenarioArg::Setup => Scenario::Setup,
            })
            .collect()
    };
    let mut runs = Vec::new();
    for &s in &scenarios {
        if s == Scenario::Setup {
            runs.push((s, switch::SETUP_PACKETS));
        } else {
            runs.extend(args.flows.iter().map(|&n| (s, n)));
        }
    }
    eprintln!("main threads on core {main_core}, the PMD thread (testpmd's forwarding core) on core {}", args.run.pmd_core);
    let mut figures = Vec::new();
    for round in 0..args.run.rounds {
        for &(scenario, flows) in &runs {
            for who in &contenders {
                // testpmd forwards without looking: no setup figure.
                if *who == Contender::Testpmd && scenario == Scenario::Setup {
                    continue;
                }
                eprintln!("round {}/{}: {} {} flows: {}", round + 1, args.run.rounds, scenario.name(), flows, who.name());
                let value = match who {
                    Contender::Testpmd => switch::run_testpmd(&bench, scenario, flows, round),
                    _ => switch::run_switch(&bench, who, scenario, flows, round),
                }
                .map_err(BenchError::Round)?;
                eprintln!("  {value:.2} {}", scenario.unit());
                figures.push(Figure { scenario, flows, contender: who.name(), value });
            }
        }
    }
    if let Some(path) = &args.plot {
        std::fs::write(path, switch::svg(&figures)).map_err(|e| BenchError::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    if args.json {
        for (scenario, flows) in switch::keys(&figures) {
            let get = |who: &str| switch::median(&figures, scenario, flows, who);
            let ratio = |peer: &str| Some(get("ferrovs")? / get(peer)?);
            let line = json!({
                "scenario": scenario.name(), "flows": flows, "unit": scenario.unit(),
                "ferrovs": get("ferrovs"), "ovs_dpdk": get("ovs-dpdk"), "testpmd": get("testpmd"),
                "ratio_ovs_dpdk": ratio("ovs-dpdk"), "ratio_testpmd": ratio("testpmd"),
            });
            println!("{line}");
        }
        return Ok(());
    }
    println!(
        "{} s per run after {} s of warm-up, median of {} round(s); main threads on core {main_core}, PMD on core {}",
        args.run.seconds, args.run.warmup, args.run.rounds, args.run.pmd_core
    );
    print!("{}", switch::table(&figures));
    Ok(())
}

fn run_flows(args: &FlowsArgs) -> Result<(), BenchError> {
    use crate::flows;
    let scratch = tempfile::tempdir().map_err(|e| BenchError::Usage(format!("cannot make a temporary directory: {e}")))?;
    let file = scratch.path().join("flows.txt");
    flows::write_flows(&file, args.flows).map_err(|e| BenchError::Usage(format!("cannot write {}: {e}", file.display())))?;
    let exe = ferrovs_binary()?;
    let cpu = match args.cpu.as_str() {
        "any" => None,
        c => Some(c.parse::<u32>().map_err(|_| BenchError::Usage(format!("--cpu must be a CPU number or \"any\", not {c}")))?),
    };
    eprintln!("starting ferrovs and ovs-vswitchd, each with its own ovsdb-server, in private network namespaces");
    let (ours, theirs) = match cpu {
        Some(c) => (crate::Vswitchd::start_pinned(Some(&exe), c), crate::Vswitchd::start_pinned(None, c)),
        None => (crate::Vswitchd::start_ferrovs(&exe), crate::Vswitchd::start_ovs()),
    };
    let mut results = Vec::new();
    for round in 0..args.rounds {
        for sw in [&ours, &theirs] {
            eprintln!("round {}/{}: {}", round + 1, args.rounds, sw.name());
            results.push(flows::run_round(sw, &file, args.flows, cpu).map_err(BenchError::Round)?);
        }
    }
    let placement = cpu.map_or_else(|| "CPUs left to the scheduler".to_owned(), |c| format!("both switches and ovs-ofctl on CPU {c}"));
    println!("ovs-ofctl add-flows br0 FILE, {} flows (4 shapes in 4 tables), wall clock; {placement}", args.flows);
    print!("{}", flows::table(&results));
    Ok(())
}

fn run_io(args: &IoArgs) -> Result<(), BenchError> {
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        return Err(BenchError::Usage(format!("--seconds must be a positive number, not {}", args.seconds)));
    }
    let scratch = tempfile::tempdir().map_err(|e| BenchError::Usage(format!("cannot make a temporary directory: {e}")))?;
    let pcap = match &args.pcap {
        Some(path) => path.clone(),
        None => io::generate_pcap(scratch.path(), args.flows)?,
    };
    let mut bench = IoBench::new(pcap, args.seconds, &args.pmd_cpu_mask)?;
    bench.rx_devargs = args.rx_devargs.clone();
    bench.tx_devargs = args.tx_devargs.clone();
    bench.log_level = args.log_level.clone();

    let Some(peer) = args.vs else {
        let result = io::run_ferrovs(&bench, |p| show_progress("ferrovs", &bench, p))?;
        end_progress();
        return report(args, &bench, &[result], None);
    };
    if args.rounds == 0 {
        return Err(BenchError::Usage("--rounds must be at least 1".into()));
    }
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..args.rounds {
        eprintln!("round {}/{}: ferrovs", round + 1, args.rounds);
        ours.push(ferrovs_round(&bench)?);
        eprintln!("round {}/{}: {}", round + 1, args.rounds, peer.name());
        theirs.push(match peer {
            Peer::Testpmd => testpmd::run(&bench, round)?,
        });
    }
    report(args, &bench, &ours, Some((peer, &theirs)))
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Testpmd => "testpmd",
        }
    }
}

/// One ferrovs round in a child process (EAL starts once per process).
fn ferrovs_round(bench: &IoBench) -> Result<IoResult, BenchError> {
    let exe = std::env::current_exe().map_err(|e| BenchError::Round(format!("cannot find this program: {e}")))?;
    let output = Command::new(exe)
        .args(["io", "--json", "--pmd-cpu-mask"])
        .arg(CpuMask::from_cores([bench.pmd_core]).to_string())
        .arg("--seconds")
        .arg(bench.seconds.to_string())
        .arg("--pcap")
        .arg(&bench.pcap)
        .args(["--rx-devargs", &bench.rx_devargs, "--tx-devargs", &bench.tx_devargs, "--log-level", &bench.log_level])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| BenchError::Round(format!("cannot run a ferrovs round: {e}")))?;
    if !output.status.success() {
        return Err(BenchError::Round(format!("the ferrovs round failed ({})", output.status)));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| BenchError::Round(format!("the ferrovs round printed no result: {e}")))
}

fn show_progress(who: &str, bench: &IoBench, p: &Progress) {
    let line = format!(
        "{who:>8} {:5.1}/{:.1} s {:8.2} Mpps {:7.1} cycles/pkt {:>10} drops",
        p.elapsed, bench.seconds, p.mpps, p.cycles_per_packet, p.drops
    );
    if std::io::stderr().is_terminal() {
        eprint!("\r{line}");
    } else {
        eprintln!("{line}");
    }
}

fn end_progress() {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
}

/// The mean of each figure over rounds.
fn mean(results: &[IoResult]) -> IoResult {
    let n = results.len().max(1) as f64;
    let sum = |f: fn(&IoResult) -> f64| results.iter().map(f).sum::<f64>() / n;
    IoResult {
        mpps: sum(|r| r.mpps),
        cycles_per_packet: sum(|r| r.cycles_per_packet),
        rx_packets: results.iter().map(|r| r.rx_packets).sum(),
        tx_packets: results.iter().map(|r| r.tx_packets).sum(),
        drops: results.iter().map(|r| r.drops).sum(),
        seconds: results.iter().map(|r| r.seconds).sum(),
    }
}

fn report(args: &IoArgs, bench: &IoBench, ours: &[IoResult], peer: Option<(Peer, &[IoResult])>) -> Result<(), BenchError> {
    let our = mean(ours);
    let their = peer.map(|(p, results)| (p, mean(results), results));
    if args.json {
        let mut out = json!({
            "mode": "io",
            "flows": bench.flows,
            "seconds": bench.seconds,
            "mpps": our.mpps,
            "cycles_per_packet": our.cycles_per_packet,
            "drops": our.drops,
            "rx_packets": our.rx_packets,
            "tx_packets": our.tx_packets,
            "pmd_core": bench.pmd_core,
            "main_core": bench.main_core,
        });
        if let Some((p, mean, results)) = &their {
            out["rounds"] = json!(ours);
            out["vs"] = json!({
                "peer": p.name(),
                "mpps": mean.mpps,
                "cycles_per_packet": mean.cycles_per_packet,
                "drops": mean.drops,
                "rounds": results,
            });
            out["ratio"] = json!(our.mpps / mean.mpps);
        }
        println!("{out}");
        return Ok(());
    }
    println!();
    println!(
        "bench io: {} flows of 64-byte UDP, {} → PMD on core {} → {}, main thread on core {}, {:.1} s per round",
        bench.flows,
        bench.rx_devargs.split(',').next().unwrap_or(""),
        bench.pmd_core,
        bench.tx_devargs.split(',').next().unwrap_or(""),
        bench.main_core,
        bench.seconds
    );
    println!("{:<10} {:>6} {:>10} {:>12} {:>12} {:>14}", "switch", "round", "Mpps", "cycles/pkt", "drops", "packets");
    let rows = |name: &str, results: &[IoResult]| {
        for (i, r) in results.iter().enumerate() {
            println!("{name:<10} {:>6} {:>10.2} {:>12.1} {:>12} {:>14}", i + 1, r.mpps, r.cycles_per_packet, r.drops, r.tx_packets);
        }
    };
    rows("ferrovs", ours);
    if let Some((p, mean, results)) = &their {
        rows(p.name(), results);
        println!();
        println!("{:<10} {:>6} {:>10.2} {:>12.1}", "ferrovs", "mean", our.mpps, our.cycles_per_packet);
        println!("{:<10} {:>6} {:>10.2} {:>12.1}", p.name(), "mean", mean.mpps, mean.cycles_per_packet);
        println!("ratio ferrovs/{}: {:.3}", p.name(), our.mpps / mean.mpps);
    }
    Ok(())
}
