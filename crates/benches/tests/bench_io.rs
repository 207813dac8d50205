//! `ferrovs bench io` as a user runs it (the `ferrovs-bench` program,
//! which `ferrovs bench` runs): bad input gets one clear line and
//! a non-zero exit (never a panic or a hang), and real runs — alone and
//! side by side with the real `dpdk-testpmd` — report their figures.
//!
//! These tests check behaviour, not speed: the figures are only required
//! to exist and be consistent. The speed comparison is the benchmark's job.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `ferrovs bench ARGS…` (`args` from "bench" on) as `ferrovs bench`
/// does, by running `ferrovs-bench ARGS…`; kills it if it runs past
/// `limit`.
fn ferrovs(args: &[&str], limit: Duration) -> Output {
    assert_eq!(args.first(), Some(&"bench"));
    run(Command::new(env!("CARGO_BIN_EXE_ferrovs-bench")).args(&args[1..]), limit)
}

fn run(command: &mut Command, limit: Duration) -> Output {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).unwrap();
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        stderr.read_to_end(&mut v).unwrap();
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("ferrovs hung: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// Asserts a failed run whose stderr's last line is one clear error
/// containing `expected`.
fn assert_clear_error(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "should fail: {stderr}");
    assert_eq!(output.status.code(), Some(1), "exit code 1, not a signal or panic: {stderr}");
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(last.starts_with("ferrovs: error: "), "one error line: {stderr}");
    assert!(last.contains(expected), "{expected:?} in {last:?}");
}

const QUICK: Duration = Duration::from_secs(60);

#[test]
fn a_missing_pcap_is_a_clear_error() {
    let output = ferrovs(&["bench", "io", "--pcap", "/nonexistent/flows.pcap"], QUICK);
    assert_clear_error(&output, "/nonexistent/flows.pcap");
}

#[test]
fn a_file_that_is_not_a_pcap_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.pcap");
    std::fs::write(&path, "these are notes, not packets").unwrap();
    let output = ferrovs(&["bench", "io", "--pcap", path.to_str().unwrap()], QUICK);
    assert_clear_error(&output, "is not a pcap file");
}

#[test]
fn a_core_mask_naming_a_missing_cpu_is_a_clear_error() {
    let output = ferrovs(&["bench", "io", "--pmd-cpu-mask", "0x8000000000000000"], QUICK);
    assert_clear_error(&output, "names core(s) 63 that this machine does not offer");
    let output = ferrovs(&["bench", "io", "--pmd-cpu-mask", "zz"], QUICK);
    assert_clear_error(&output, "not a hexadecimal number");
}

#[test]
fn devargs_that_do_not_parse_are_a_clear_error() {
    let output = ferrovs(&["bench", "io", "--seconds", "1", "--tx-devargs", "net_nosuchdriver0"], QUICK);
    assert_clear_error(&output, "DPDK devargs \"net_nosuchdriver0\" do not parse");
    let output = ferrovs(&["bench", "io", "--seconds", "1", "--tx-devargs", "net_null0,no-such-key=1"], QUICK);
    assert_clear_error(&output, "could not probe device \"net_null0,no-such-key=1\"");
}

#[test]
fn no_hugepages_is_a_clear_error_that_says_how_to_reserve_them() {
    // A private mount namespace without hugetlbfs: the host is untouched.
    let exe = env!("CARGO_BIN_EXE_ferrovs-bench");
    let script = format!("awk '$3 == \"hugetlbfs\" {{ print $2 }}' /proc/mounts | xargs -r -n1 umount && exec {exe} io --seconds 1");
    let output = run(Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", &script]), QUICK);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("unshare:"), "this test needs root for a mount namespace: {stderr}");
    assert_clear_error(&output, "no hugepages available: no hugetlbfs is mounted");
    assert!(stderr.contains("/proc/sys/vm/nr_hugepages"), "says how to reserve them: {stderr}");
}

#[test]
fn bad_numbers_are_refused_before_anything_starts() {
    assert_clear_error(&ferrovs(&["bench", "io", "--seconds", "0"], QUICK), "--seconds must be a positive number");
    assert_clear_error(&ferrovs(&["bench", "io", "--flows", "0"], QUICK), "flows must be between 1 and");
    assert_clear_error(&ferrovs(&["bench", "io", "--pmd-cpu-mask", "0x3"], QUICK), "one PMD thread");
}

fn json(output: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn a_run_reports_its_figures_as_json() {
    let output = ferrovs(&["bench", "io", "--flows", "100", "--seconds", "2", "--json"], QUICK);
    let v = json(&output);
    assert_eq!(v["mode"], "io");
    assert_eq!(v["flows"], 100);
    assert_eq!(v["seconds"], 2.0);
    assert!(v["mpps"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["cycles_per_packet"].as_f64().unwrap() > 0.0, "{v}");
    let (rx, tx, drops) = (v["rx_packets"].as_u64().unwrap(), v["tx_packets"].as_u64().unwrap(), v["drops"].as_u64().unwrap());
    assert!(tx > 0 && drops == 0, "net_null takes everything: {v}");
    // Counters are sampled while the PMD runs, six loads that the thread
    // may overtake between: received and sent agree to a sliver.
    assert!(rx.abs_diff(tx + drops) <= 1024.max(tx / 1000), "{v}");
    let progress = String::from_utf8_lossy(&output.stderr);
    assert!(progress.contains("Mpps"), "a progress line: {progress}");
}

#[test]
fn a_run_against_testpmd_reports_both_and_the_ratio() {
    let output = ferrovs(
        &["bench", "io", "--flows", "100", "--seconds", "2", "--vs", "testpmd", "--rounds", "1", "--json"],
        Duration::from_secs(120),
    );
    let v = json(&output);
    assert_eq!(v["vs"]["peer"], "testpmd");
    let ours = v["mpps"].as_f64().unwrap();
    let theirs = v["vs"]["mpps"].as_f64().unwrap();
    assert!(ours > 0.0 && theirs > 0.0, "{v}");
    assert!(v["vs"]["cycles_per_packet"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["vs"]["rounds"][0]["tx_packets"].as_u64().unwrap() > 0, "{v}");
    let ratio = v["ratio"].as_f64().unwrap();
    assert!((ratio - ours / theirs).abs() <= 1e-9 * ratio, "ratio {ratio} is ours/theirs: {v}");

    let table = ferrovs(&["bench", "io", "--flows", "100", "--seconds", "1", "--vs", "testpmd", "--rounds", "1"], Duration::from_secs(120));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success(), "{}", String::from_utf8_lossy(&table.stderr));
    assert!(text.contains("ratio ferrovs/testpmd:"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("testpmd") && l.contains("mean")), "{text}");
}
