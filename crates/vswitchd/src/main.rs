//! `ferrovs`: the switch daemon and its command line.
//!
//! `ferrovs vswitchd` is the daemon (configured from the `Open_vSwitch`
//! database, managed through `ovs-appctl`); `ferrovs bench` runs the
//! throughput benchmarks.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use vswitchd::{bench, ctl, daemon};

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
    /// Throughput benchmarks.
    #[command(subcommand)]
    Bench(bench::Bench),
    /// The switch daemon, as ovs-vswitchd.
    Vswitchd(daemon::DaemonArgs),
    /// Start, stop or query ovsdb-server and the daemon, as ovs-ctl.
    #[command(subcommand)]
    Ctl(ctl::Ctl),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(bench) => bench::run(bench).map_err(|e| e.to_string()),
        Command::Vswitchd(args) => daemon::run(args).map_err(|e| e.to_string()),
        Command::Ctl(ctl) => ctl::run(ctl).map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ferrovs: error: {err}");
            ExitCode::FAILURE
        }
    }
}
