//! `ferrovs-bench`: ferrovs' benchmarks on the command line. Users run it
//! as `ferrovs bench …`, which runs this program beside it.

use std::process::ExitCode;

use clap::Parser;

/// As the daemon's (`crates/vswitchd/src/main.rs`): `bench io` runs
/// ferrovs' PMD loop in this process, and measures it as the daemon runs.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Throughput benchmarks of ferrovs, side by side with its peers.
#[derive(Debug, Parser)]
#[command(name = "ferrovs bench", version, about)]
struct Cli {
    #[command(subcommand)]
    bench: benches::cli::Bench,
}

fn main() -> ExitCode {
    match benches::cli::run(Cli::parse().bench) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ferrovs: error: {err}");
            ExitCode::FAILURE
        }
    }
}
