//! The figures the daemon writes every five seconds: `Interface.statistics`
//! from the ports' counters and, with `other_config:enable-statistics=true`,
//! `Open_vSwitch.statistics` about the system, read from `/proc` in the
//! formats `vswitch.xml` gives.
//!
//! Of OVS's system keys, `file_systems` is not written yet (it needs
//! `statvfs`); every key written is a real reading.

use std::collections::BTreeMap;

use ovsdb::{Atom, Datum};

/// How often statistics are refreshed, as OVS.
pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// `Interface.statistics` from a port's counters (the keys OVS uses).
pub fn interface(s: &pmd::PortStats) -> Datum {
    let pairs = [
        ("rx_packets", s.rx_packets),
        ("rx_bytes", s.rx_bytes),
        ("rx_dropped", s.rx_missed + s.rx_nombuf),
        ("rx_errors", s.rx_errors),
        ("tx_packets", s.tx_packets),
        ("tx_bytes", s.tx_bytes),
        ("tx_dropped", s.tx_dropped),
        ("tx_errors", s.tx_errors),
    ];
    Datum::Map(pairs.into_iter().map(|(k, v)| (Atom::String(k.to_owned()), Atom::Integer(i64::try_from(v).unwrap_or(i64::MAX)))).collect())
}

/// `Open_vSwitch.statistics`: `cpu`, `load_average`, `memory` and
/// `process_ovs-vswitchd`, each present only when it could be read.
pub fn system() -> Datum {
    let mut m = BTreeMap::new();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    if cpus > 0 {
        m.insert("cpu", cpus.to_string());
    }
    if let Some(l) = std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| load_average(&s)) {
        m.insert("load_average", l);
    }
    if let Some(mem) = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| memory(&s)) {
        m.insert("memory", mem);
    }
    if let Some(p) = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| process(&s)) {
        m.insert("process_ovs-vswitchd", p);
    }
    Datum::Map(m.into_iter().map(|(k, v)| (Atom::String(k.to_owned()), Atom::String(v))).collect())
}

/// "1-min,5-min,15-min" from `/proc/loadavg`.
fn load_average(text: &str) -> Option<String> {
    let f: Vec<&str> = text.split_whitespace().take(3).collect();
    (f.len() == 3 && f.iter().all(|x| x.parse::<f64>().is_ok())).then(|| f.join(","))
}

/// "total,used,cached,swap-total,swap-used" in kB from `/proc/meminfo`.
fn memory(text: &str) -> Option<String> {
    let kb = |key: &str| -> Option<u64> {
        text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok())
    };
    let (total, free) = (kb("MemTotal")?, kb("MemFree")?);
    let cached = kb("Cached").unwrap_or(0) + kb("Buffers").unwrap_or(0);
    let (swap_total, swap_free) = (kb("SwapTotal").unwrap_or(0), kb("SwapFree").unwrap_or(0));
    Some(format!("{total},{},{cached},{swap_total},{}", total.saturating_sub(free), swap_total.saturating_sub(swap_free)))
}

/// The kB figure of `key` (such as `VmRSS:`) in `/proc/self/status` text.
fn status_kb(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
}

/// This process's resident memory in kB.
pub fn resident_kb() -> Option<u64> {
    status_kb(&std::fs::read_to_string("/proc/self/status").ok()?, "VmRSS:")
}

/// "virtual,resident" in kB from `/proc/self/status` (the CPU time,
/// crash and uptime fields OVS adds are not written yet).
fn process(text: &str) -> Option<String> {
    Some(format!("{},{}", status_kb(text, "VmSize:")?, status_kb(text, "VmRSS:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_formats() {
        assert_eq!(load_average("0.52 0.58 0.59 1/215 4242\n").as_deref(), Some("0.52,0.58,0.59"));
        assert_eq!(load_average("garbage"), None);
        let meminfo = "MemTotal:       24000000 kB\nMemFree:        20000000 kB\nBuffers:  100 kB\nCached:  900 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n";
        assert_eq!(memory(meminfo).as_deref(), Some("24000000,4000000,1000,0,0"));
        assert_eq!(memory("nothing"), None);
        assert_eq!(process("Name:\tx\nVmSize:\t  1000 kB\nVmRSS:\t 200 kB\n").as_deref(), Some("1000,200"));
    }

    #[test]
    fn this_machine_gives_every_key() {
        let Datum::Map(m) = system() else { panic!() };
        for key in ["cpu", "load_average", "memory", "process_ovs-vswitchd"] {
            assert!(m.contains_key(&Atom::String(key.into())), "{key} missing: {m:?}");
        }
    }
}
