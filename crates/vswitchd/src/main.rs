//! `ferrovs`: the switch daemon and its command line.
//!
//! `ferrovs vswitchd` is the daemon (configured from the `Open_vSwitch`
//! database, managed through `ovs-appctl`); `ferrovs bench` runs the
//! throughput benchmarks, a program of their own (`ferrovs-bench`,
//! installed beside this one) so that the daemon carries none of their
//! code; `ferrovs lflow` runs the OVN logical-flow compiler's steps on
//! standard input, or compiles a Southbound database's logical flows.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use vswitchd::{ctl, daemon};

/// mimalloc maps its large heaps in 2 MiB-aligned segments and advises the
/// kernel to back them with transparent huge pages (`madvise` mode, the
/// Debian default, is enough). A PMD's megaflows are spread over hundreds
/// of megabytes once there are a million of them, and a lookup that must
/// walk the page tables for each one measured 75% slower with glibc's
/// allocator (146 against 83 ns per packet, `crates/dataplane/README.md`).
/// DPDK's own memory (mbufs, rings) is in hugetlbfs and unaffected.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A userspace virtual switch for NFV and cloud hosts.
#[derive(Debug, Parser)]
#[command(name = "ferrovs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Throughput benchmarks (`ferrovs bench --help` lists them).
    #[command(disable_help_flag = true)]
    Bench {
        /// The benchmark and its options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// The switch daemon, as ovs-vswitchd.
    Vswitchd(daemon::DaemonArgs),
    /// Start, stop or query ovsdb-server and the daemon, as ovs-ctl.
    #[command(subcommand)]
    Ctl(ctl::Ctl),
    /// The OVN logical-flow compiler on one case a line of standard input,
    /// printing what `ovstest test-ovn STEP` prints; or `compile`: the
    /// rules a Southbound database's logical flows become, as
    /// `ovs-ofctl dump-flows` prints them.
    Lflow {
        /// lex, parse-expr, annotate-expr, simplify-expr, normalize-expr,
        /// expr-to-flows, parse-actions, dump-symtab, or compile.
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(
            ovn_agent::tool::Step::ALL.iter().map(|(n, _)| *n).chain(["compile"])
        ))]
        step: String,
        /// compile: the Southbound database (`unix:PATH`, `tcp:IP:PORT`).
        #[arg(long, required_if_eq("step", "compile"))]
        db: Option<String>,
        /// compile: only this datapath (name, UUID or its prefix, or tunnel key).
        #[arg(long)]
        datapath: Option<String>,
        /// compile: only this logical flow (UUID or its prefix).
        #[arg(long)]
        flow: Option<String>,
        /// compile: as this chassis sees the ports (default: every port local).
        #[arg(long)]
        chassis: Option<String>,
        /// compile: for a datapath with these features, a comma list of
        /// meters, ct_zero_snat, dp_hash_l4_sym (default: ferrovs' own).
        #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(vswitchd::lflow::FEATURES))]
        features: Option<Vec<String>>,
    },
}

/// Runs a step of the logical-flow compiler on standard input.
fn lflow(step: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let step = ovn_agent::tool::Step::from_name(step).ok_or_else(|| format!("no step {step}"))?;
    let mut input = String::new();
    if step != ovn_agent::tool::Step::DumpSymtab {
        std::io::stdin().read_to_string(&mut input).map_err(|e| format!("cannot read standard input: {e}"))?;
    }
    let out = ovn_agent::tool::run(step, &input);
    std::io::stdout().write_all(out.as_bytes()).map_err(|e| format!("cannot write: {e}"))
}

/// Runs `ferrovs-bench ARGS` from beside this program in this process's
/// place, telling it where the daemon it benchmarks is.
fn bench(args: &[std::ffi::OsString]) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let program = me.with_file_name("ferrovs-bench");
    if !program.exists() {
        return Err(format!("the benchmarks are not installed: no {} (cargo build --release builds it)", program.display()));
    }
    let err = std::process::Command::new(&program).args(args).env("FERROVS_BIN", &me).exec();
    Err(format!("cannot run {}: {err}", program.display()))
}

fn main() -> ExitCode {
    // Installed as `ovs-vswitchd`, ferrovs takes ovs-vswitchd's command
    // line as it is (`ovs-ctl` and service files run it so).
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if daemon::invoked_as_ovs_vswitchd() {
        args.splice(0..1, ["ovs-vswitchd".into(), "vswitchd".into()]);
    }
    if args.get(1).is_some_and(|a| a == "vswitchd") {
        daemon::ovs_style_args(&mut args[2..]);
    }
    let cli = Cli::parse_from(args);
    let result = match cli.command {
        Command::Bench { args } => bench(&args),
        Command::Vswitchd(args) => daemon::run(args).map_err(|e| e.to_string()),
        Command::Ctl(ctl) => ctl::run(ctl).map_err(|e| e.to_string()),
        Command::Lflow { step, db, datapath, flow, chassis, features } => match db {
            Some(db) if step == "compile" => {
                vswitchd::lflow::compile(&db, &vswitchd::lflow::Selection { datapath, flow, chassis, features })
            }
            _ if step == "compile" => Err("compile needs --db".into()),
            _ => lflow(&step),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ferrovs: error: {err}");
            ExitCode::FAILURE
        }
    }
}
