//! `ferrovs`: the switch daemon and its command line.
//!
//! Today it has one job, `ferrovs bench io`; the daemon (`ferrovs
//! vswitchd`) comes with the configuration issue.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(bench) => bench::run(bench),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ferrovs: error: {err}");
            ExitCode::FAILURE
        }
    }
}
