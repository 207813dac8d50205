//! Running `dpdk-testpmd` on the same devices, as the reference.
//!
//! testpmd runs interactively with its commands on standard input: `start`,
//! after the warm-up `show port stats all` (which starts testpmd's own
//! "since last show" interval), after the measured seconds the same again
//! (whose `Tx-pps` of the null port is the rate, over testpmd's own TSC
//! interval), then `stop` (which prints `CPU cycles/packet` thanks to
//! `--record-core-cycles`, counted as ours: busy cycles per packet received)
//! and `quit`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::io::{BenchError, IoBench, IoResult};

/// The testpmd binary Debian's `dpdk` package installs.
pub const TESTPMD: &str = "dpdk-testpmd";

/// Runs testpmd in `io` forwarding mode on `bench`'s devices; `round`
/// makes the file prefix unique.
pub fn run(bench: &IoBench, round: usize) -> Result<IoResult, BenchError> {
    let prefix = format!("ferrovs-testpmd-{}-{round}", std::process::id());
    let mut args = vec!["-l".to_string(), format!("{},{}", bench.main_core, bench.pmd_core)];
    args.extend(bench.eal_common_args(&prefix));
    args.extend(["--vdev".to_string(), bench.rx_devargs(), "--vdev".to_string(), bench.tx_devargs.clone()]);
    args.extend(["--", "-i", "--forward-mode=io", "--record-core-cycles", "--nb-cores=1", "--burst=32"].map(String::from));
    args.extend([
        format!("--rxd={}", bench.descriptors),
        format!("--txd={}", bench.descriptors),
        format!("--total-num-mbufs={}", bench.mbufs),
    ]);

    let mut child = Command::new(TESTPMD)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BenchError::Round(format!("cannot run {TESTPMD} (install Debian's dpdk package: make setup): {e}")))?;
    let mut stdout = child.stdout.take().ok_or_else(|| BenchError::Round("no testpmd stdout".into()))?;
    let mut stderr = child.stderr.take().ok_or_else(|| BenchError::Round("no testpmd stderr".into()))?;
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let script = [("start\n", bench.warmup), ("show port stats all\n", bench.seconds), ("show port stats all\nstop\nquit\n", 0.0)];
    if let Some(mut stdin) = child.stdin.take() {
        for (commands, pause) in script {
            if stdin.write_all(commands.as_bytes()).and_then(|()| stdin.flush()).is_err() {
                break; // testpmd ended early; its output says why
            }
            std::thread::sleep(Duration::from_secs_f64(pause));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // testpmd's EAL leaves its (empty, --in-memory) runtime directory.
    let _ = std::fs::remove_dir(std::path::Path::new("/var/run/dpdk").join(&prefix));
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(BenchError::Round(format!("{TESTPMD} did not quit within 30 s and was killed")));
    };
    parse(&out, bench.seconds).ok_or_else(|| {
        let tail: Vec<&str> = err.lines().chain(out.lines()).filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(5)..].join(" | ");
        BenchError::Round(format!("{TESTPMD} ({status}) printed no forwarding figures: {tail}"))
    })
}

/// Reads testpmd's figures: the null port's (port 1) last `Tx-pps`, the
/// packets counted between the last two `show port stats`, `CPU
/// cycles/packet`, and the drops of the whole run (testpmd counts them only
/// in its accumulated forward statistics).
pub fn parse(out: &str, seconds: f64) -> Option<IoResult> {
    let mut port = None;
    let mut tx_pps = None;
    let mut cycles = None;
    let mut accumulated = false;
    let mut drops = 0;
    // Port 0's RX-packets and port 1's TX-packets at each `show port stats`.
    let (mut rx_seen, mut tx_seen) = (Vec::new(), Vec::new());
    for line in out.lines() {
        if let Some(rest) = line.split("NIC statistics for port").nth(1) {
            port = rest.split_whitespace().next().and_then(|p| p.parse::<u16>().ok());
        }
        if line.contains("Accumulated forward statistics") || line.contains("Forward statistics") {
            port = None;
            accumulated = line.contains("Accumulated");
        }
        match port {
            Some(0) => rx_seen.extend(field(line, "RX-packets:")),
            Some(1) => {
                tx_seen.extend(field(line, "TX-packets:"));
                tx_pps = field(line, "Tx-pps:").or(tx_pps);
            }
            _ => {}
        }
        if accumulated {
            drops = field(line, "TX-dropped:").unwrap_or(drops);
        }
        if let Some(rest) = line.split("CPU cycles/packet=").nth(1) {
            cycles = rest.split_whitespace().next().and_then(|v| v.parse::<f64>().ok());
        }
    }
    Some(IoResult {
        mpps: tx_pps? as f64 / 1e6,
        cycles_per_packet: cycles?,
        rx_packets: interval(&rx_seen),
        tx_packets: interval(&tx_seen),
        drops,
        seconds,
    })
}

/// The growth of a counter between the last two snapshots.
fn interval(seen: &[u64]) -> u64 {
    match seen {
        [.., before, after] => after.saturating_sub(*before),
        _ => 0,
    }
}

/// The number after `name` on `line`.
fn field(line: &str, name: &str) -> Option<u64> {
    line.split(name).nth(1)?.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Output of DPDK 22.11's testpmd, trimmed to the parts read.
    const OUTPUT: &str = "
  ######################## NIC statistics for port 0  ########################
  RX-packets: 1000       RX-missed: 0          RX-bytes:  0
  ######################## NIC statistics for port 1  ########################
  TX-packets: 900        TX-errors: 0          TX-bytes:  0
  ######################## NIC statistics for port 0  ########################
  RX-packets: 193942624  RX-missed: 0          RX-bytes:  0
  Throughput (since last show)
  Rx-pps:     48000000          Rx-bps:            0
  Tx-pps:            0          Tx-bps:            0
  ######################## NIC statistics for port 1  ########################
  TX-packets: 193940704  TX-errors: 0          TX-bytes:  0
  Throughput (since last show)
  Rx-pps:            0          Rx-bps:            0
  Tx-pps:     47123456          Tx-bps:            0
  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++
  RX-packets: 193942624      RX-dropped: 0             RX-total: 193942624
  TX-packets: 193942620      TX-dropped: 4             TX-total: 193942624
  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++
  CPU cycles/packet=35.88 (total cycles=6959602882 / total io packets=193942624) at 2600 MHz Clock
";

    #[test]
    fn reads_rate_cycles_and_counters() {
        let r = parse(OUTPUT, 10.0).unwrap();
        assert_eq!(r.mpps, 47.123456);
        assert_eq!(r.cycles_per_packet, 35.88);
        assert_eq!((r.rx_packets, r.tx_packets, r.drops), (193941624, 193939804, 4));
    }

    #[test]
    fn missing_figures_give_none() {
        assert!(parse("EAL: Error - exiting with code: 1\n", 10.0).is_none());
        assert!(parse(&OUTPUT.replace("CPU cycles", "cycles"), 10.0).is_none());
    }
}
