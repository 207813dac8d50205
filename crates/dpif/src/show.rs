//! The datapath's management views, in OVS's formats:
//! `dpif-netdev/pmd-stats-show`, `pmd-rxq-show`, `dpctl/dump-flows` and
//! `fdb/show`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use dataplane::text::{megaflow_text, value_text, Kind};
use pmd::PmdStatsSnapshot;

use crate::{BridgeDp, Xlator};

/// Each PMD thread's counters when `pmd-stats-clear` last ran, by core.
pub type Cleared = Mutex<HashMap<usize, PmdStatsSnapshot>>;

/// `dpif-netdev/pmd-stats-clear`: the counters start again from zero.
pub fn pmd_stats_clear(x: &Xlator, cleared: &Cleared) {
    if let Ok(mut c) = cleared.lock() {
        for p in x.pmds() {
            c.insert(p.core, p.stats.snapshot());
            p.stats.reset_longest();
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// `dpif-netdev/pmd-stats-show`.
pub fn pmd_stats(x: &Xlator, cleared: &Cleared) -> String {
    let pmds = x.pmds();
    if pmds.is_empty() {
        return "No PMD thread: no DPDK port is in a bridge.\n".to_owned();
    }
    let mut out = String::new();
    for p in pmds {
        let base = cleared.lock().ok().and_then(|c| c.get(&p.core).copied()).unwrap_or_default();
        let s = p.stats.snapshot().since(&base);
        let cycles = s.busy_cycles + s.idle_cycles;
        let _ = writeln!(out, "pmd thread numa_id 0 core_id {}:", p.core);
        let _ = writeln!(out, "  packets received: {}", s.rx);
        let _ = writeln!(out, "  packet recirculations: 0");
        let _ = writeln!(out, "  avg. datapath passes per packet: {:.2}", if s.rx > 0 { 1.0 } else { 0.0 });
        let _ = writeln!(out, "  emc hits: {}", s.emc_hits);
        let _ = writeln!(out, "  megaflow hits: {}", s.megaflow_hits);
        let _ = writeln!(out, "  miss with success upcall: {}", s.upcalls);
        let _ = writeln!(out, "  miss with failed upcall: {}", s.lost);
        let _ = writeln!(out, "  idle cycles: {} ({:.2}%)", s.idle_cycles, percent(s.idle_cycles, cycles));
        let _ = writeln!(out, "  processing cycles: {} ({:.2}%)", s.busy_cycles, percent(s.busy_cycles, cycles));
        let _ = writeln!(out, "  avg cycles per packet: {:.2} ({cycles}/{})", ratio(cycles, s.rx), s.rx);
        let _ = writeln!(out, "  avg processing cycles per packet: {:.2} ({}/{})", ratio(s.busy_cycles, s.rx), s.busy_cycles, s.rx);
        let _ = writeln!(out, "  packets sent: {}", s.tx);
        let _ = writeln!(out, "  packets dropped by actions: {}", s.action_drops);
        let _ = writeln!(out, "  packets dropped by failed translations: {}", s.xlate_error_drops);
        let _ = writeln!(out, "  packets dropped at tx: {}", s.dropped);
        let _ = writeln!(out, "  packets to the slow path: {}", s.slow_path);
        let _ = writeln!(out, "  packets dropped with the slow path's queue full: {}", s.slow_path_drops);
        let _ = writeln!(out, "  packets with malformed headers: {}", s.malformed);
        let _ = writeln!(out, "  longest iteration: {} us", p.stats.longest_iteration().as_micros());
    }
    let (errors, last) = x.errors();
    if errors > 0 {
        let _ = writeln!(
            out,
            "translations that failed (packets dropped): {errors}, last: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        );
    }
    let (queued, lost) = x.to_controller();
    if queued + lost > 0 {
        let _ = writeln!(out, "packets to controllers: {queued} queued, {lost} dropped (queue full)");
    }
    out
}

/// `dpif-netdev/pmd-rxq-show`: each thread's queues with the share of
/// the thread's cycles their packets took since it started.
pub fn rxq_show(x: &Xlator) -> String {
    let pmds = x.pmds();
    if pmds.is_empty() {
        return "No PMD thread: no DPDK port is in a bridge.\n".to_owned();
    }
    let mut out = String::new();
    for p in pmds {
        let s = p.stats.snapshot();
        let total = s.busy_cycles + s.idle_cycles;
        let percent = |cycles: u64| cycles.saturating_mul(100).checked_div(total).unwrap_or(0).min(100);
        let _ = writeln!(out, "pmd thread numa_id 0 core_id {}:", p.core);
        let _ = writeln!(out, "  isolated : {}", p.isolated);
        let mut queues = 0;
        for l in &p.loads {
            let usage = percent(l.cycles.load(std::sync::atomic::Ordering::Relaxed));
            queues += usage;
            let _ = writeln!(out, "  port: {:<16} queue-id: {:>2} (enabled)   pmd usage: {usage:>2} %", l.port, l.queue);
        }
        // Busy cycles no queue's packets account for.
        let _ = writeln!(out, "  overhead: {:>2} %", percent(s.busy_cycles).saturating_sub(queues));
    }
    out
}

/// `dpctl/dump-flows` (`-m`: `verbose`).
pub fn dump_flows(x: &Xlator, verbose: bool) -> Result<String, String> {
    let mut out = String::new();
    let now = dataplane::clock_ms();
    for p in x.pmds() {
        let flows = p.handle.dump(Duration::from_secs(2)).ok_or_else(|| format!("the PMD thread on core {} did not answer", p.core))?;
        for f in flows {
            let _ = writeln!(out, "{}", megaflow_text(&f, now, verbose));
        }
    }
    Ok(out)
}

/// `fdb/show BRIDGE`: the bridge's MAC learning table.
pub fn fdb_show(dp: &BridgeDp) -> String {
    let mut out = String::from(" port  VLAN  MAC                Age\n");
    for (port, vlan, mac, age) in dp.macs().show(std::time::Instant::now()) {
        let mut wide = [0; 16];
        wide[10..].copy_from_slice(&mac);
        let _ = writeln!(out, "{port:>5}  {vlan:>4}  {}  {age:>3}", value_text(u128::from_be_bytes(wide), Kind::Mac));
    }
    out
}
