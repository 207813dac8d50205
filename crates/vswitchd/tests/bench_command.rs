//! `ferrovs bench …` runs the benchmarks' own program, `ferrovs-bench`,
//! from beside `ferrovs` (the daemon carries none of their code), and
//! says so clearly when it is not there.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

/// `ferrovs` copied into a directory of its own, with `ferrovs-bench`
/// beside it when `with_bench`.
fn install(dir: &Path, with_bench: bool) -> std::path::PathBuf {
    let ferrovs = Path::new(env!("CARGO_BIN_EXE_ferrovs"));
    std::fs::copy(ferrovs, dir.join("ferrovs")).unwrap();
    if with_bench {
        let bench = ferrovs.with_file_name("ferrovs-bench");
        assert!(bench.exists(), "{} is built with the workspace (cargo build --workspace)", bench.display());
        std::fs::copy(bench, dir.join("ferrovs-bench")).unwrap();
    }
    dir.join("ferrovs")
}

#[test]
fn ferrovs_bench_runs_the_benchmarks_program_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let ferrovs = install(dir.path(), true);
    let pcap = dir.path().join("flows.pcap");
    let out = Command::new(&ferrovs).args(["bench", "pcap", "--flows", "10", "--out"]).arg(&pcap).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A pcap header (24 bytes) and ten 64-byte frames with their headers.
    assert_eq!(std::fs::metadata(&pcap).unwrap().len(), 24 + 10 * (16 + 64));
    let help = Command::new(&ferrovs).args(["bench", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for benchmark in ["io", "flows", "switch", "pvp", "revalidate", "pcap"] {
        assert!(help.contains(&format!("  {benchmark} ")), "{benchmark} in {help}");
    }
}

#[test]
fn without_the_benchmarks_program_ferrovs_bench_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let ferrovs = install(dir.path(), false);
    let out = Command::new(&ferrovs).args(["bench", "io"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("ferrovs: error: the benchmarks are not installed: no "), "{stderr}");
    assert!(stderr.contains("ferrovs-bench"), "{stderr}");
}
