//! The datapath's management commands, in OVS's formats:
//! `dpif-netdev/pmd-stats-show`, `pmd-stats-clear`, `pmd-rxq-show`,
//! `pmd-rxq-rebalance`,
//! `dpctl/dump-flows`, `ofproto/trace` and `fdb/show`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dataplane::key::{read_field, Field};
use dataplane::{Action, Megaflow};
use pmd::PmdStatsSnapshot;

use ofproto::text::{value_text, Kind};

use crate::datapath::{BridgeDp, Xlator};
use crate::unixctl::Commands;

/// Each bridge's side of the datapath, by name.
pub type Bridges = Arc<Mutex<BTreeMap<String, Arc<BridgeDp>>>>;

/// Registers the commands.
pub fn register(commands: &mut Commands, xlator: &Arc<Xlator>, bridges: &Bridges) {
    let cleared: Arc<Mutex<HashMap<usize, PmdStatsSnapshot>>> = Arc::default();
    let (x, c) = (Arc::clone(xlator), Arc::clone(&cleared));
    commands.register("dpif-netdev/pmd-stats-show", "[-pmd core] [dp]", 0, 3, Arc::new(move |_| Ok(pmd_stats(&x, &c))));
    let (x, c) = (Arc::clone(xlator), cleared);
    commands.register(
        "dpif-netdev/pmd-stats-clear",
        "[-pmd core] [dp]",
        0,
        3,
        Arc::new(move |_| {
            if let Ok(mut c) = c.lock() {
                for p in x.pmds() {
                    c.insert(p.core, p.stats.snapshot());
                    p.stats.reset_longest();
                }
            }
            Ok(String::new())
        }),
    );
    let x = Arc::clone(xlator);
    commands.register("dpif-netdev/pmd-rxq-show", "[-pmd core] [dp]", 0, 3, Arc::new(move |_| Ok(rxq_show(&x))));
    let x = Arc::clone(xlator);
    commands.register(
        "dpif-netdev/pmd-rxq-rebalance",
        "[dp]",
        0,
        1,
        Arc::new(move |_| {
            x.request_rebalance();
            Ok("pmd rxq rebalance requested.\n".to_owned())
        }),
    );
    let x = Arc::clone(xlator);
    commands.register(
        "dpctl/dump-flows",
        "[-m] [--names] [dp] [filter=..] [type=..] [pmd=..]",
        0,
        6,
        Arc::new(move |args| {
            let verbose = args.iter().any(|a| a == "-m" || a == "--more");
            dump_flows(&x, verbose)
        }),
    );
    let b = Arc::clone(bridges);
    commands.register(
        "ofproto/trace",
        "bridge br_flow [packet]",
        2,
        3,
        Arc::new(move |args| {
            let dp = b.lock().ok().and_then(|b| b.get(&args[0]).cloned()).ok_or_else(|| format!("{}: no such bridge", args[0]))?;
            dp.trace(&args[1], args.get(2).map(String::as_str))
        }),
    );
    let b = Arc::clone(bridges);
    commands.register(
        "fdb/show",
        "bridge",
        1,
        1,
        Arc::new(move |args| {
            let dp = b.lock().ok().and_then(|b| b.get(&args[0]).cloned()).ok_or_else(|| "no such bridge".to_owned())?;
            let mut out = String::from(" port  VLAN  MAC                Age\n");
            for (port, vlan, mac, age) in dp.macs().show(std::time::Instant::now()) {
                let _ = writeln!(out, "{port:>5}  {vlan:>4}  {}  {age:>3}", mac_text(mac));
            }
            Ok(out)
        }),
    );
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

fn pmd_stats(x: &Xlator, cleared: &Mutex<HashMap<usize, PmdStatsSnapshot>>) -> String {
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
        let _ = writeln!(out, "  packets with malformed headers: {}", s.malformed);
        let _ = writeln!(out, "  longest iteration: {} us", p.stats.longest_iteration().as_micros());
    }
    let (errors, last) = x.errors();
    if errors > 0 {
        let _ = writeln!(out, "translations that failed (packets dropped): {errors}, last: {}", last.unwrap_or_default());
    }
    let (queued, lost) = x.to_controller();
    if queued + lost > 0 {
        let _ = writeln!(out, "packets to controllers: {queued} queued, {lost} dropped (queue full)");
    }
    out
}

/// `dpif-netdev/pmd-rxq-show`: each thread's queues with the share of
/// the thread's cycles their packets took since it started.
fn rxq_show(x: &Xlator) -> String {
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

fn dump_flows(x: &Xlator, verbose: bool) -> Result<String, String> {
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

fn mac_text(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// `name(a=1,b=2/0xff)` for the fields of a group that the mask matches
/// on; `None` when it matches on none. Exact fields omit the mask.
fn group(key: &[u64], mask: &[u64], name: &str, fields: &[(&str, Field, Kind)]) -> Option<String> {
    let parts: Vec<String> = fields
        .iter()
        .filter_map(|&(label, f, kind)| {
            let m = read_field(mask, f);
            if m == 0 {
                return None;
            }
            let v = value_text(read_field(key, f), kind);
            let exact = m == f.max_value() || matches!(kind, Kind::Frag);
            Some(if exact { format!("{label}={v}") } else { format!("{label}={v}/{}", value_text(m, kind)) })
        })
        .collect();
    (!parts.is_empty()).then(|| format!("{name}({})", parts.join(",")))
}

/// One megaflow as `ovs-appctl dpctl/dump-flows` prints it.
pub fn megaflow_text(f: &Megaflow, now: u64, verbose: bool) -> String {
    let (key, mask) = (f.key().words, f.mask().words);
    let (k, m) = (&key[..], &mask[..]);
    let mut parts = vec![
        format!("recirc_id({})", read_field(k, Field::RECIRC_ID)),
        format!("in_port({})", read_field(k, Field::IN_PORT)),
        "packet_type(ns=0,id=0)".to_owned(),
    ];
    parts.extend(group(k, m, "eth", &[("src", Field::ETH_SRC, Kind::Mac), ("dst", Field::ETH_DST, Kind::Mac)]));
    if read_field(m, Field::VLAN0_TPID) != 0 {
        let tci = read_field(k, Field::VLAN0_TCI);
        if read_field(k, Field::VLAN0_TPID) == 0 {
            parts.push("vlan(none)".to_owned());
        } else if read_field(m, Field::VLAN0_TCI) != 0 {
            parts.push(format!("vlan(vid={},pcp={})", tci & 0xfff, tci >> 13));
        }
    }
    if read_field(m, Field::ETH_TYPE) != 0 {
        parts.push(format!("eth_type({:#06x})", read_field(k, Field::ETH_TYPE)));
    }
    let eth_type = read_field(k, Field::ETH_TYPE);
    let l3 = match eth_type {
        0x0800 => group(
            k,
            m,
            "ipv4",
            &[
                ("src", Field::NW_SRC, Kind::Ip4),
                ("dst", Field::NW_DST, Kind::Ip4),
                ("proto", Field::NW_PROTO, Kind::Dec),
                ("tos", Field::NW_TOS, Kind::Hex),
                ("ttl", Field::NW_TTL, Kind::Dec),
                ("frag", Field::NW_FRAG, Kind::Frag),
            ],
        ),
        0x86dd => group(
            k,
            m,
            "ipv6",
            &[
                ("src", Field::IPV6_SRC, Kind::Ip6),
                ("dst", Field::IPV6_DST, Kind::Ip6),
                ("label", Field::IPV6_LABEL, Kind::Hex),
                ("proto", Field::NW_PROTO, Kind::Dec),
                ("tclass", Field::NW_TOS, Kind::Hex),
                ("hlimit", Field::NW_TTL, Kind::Dec),
                ("frag", Field::NW_FRAG, Kind::Frag),
            ],
        ),
        0x0806 => group(
            k,
            m,
            "arp",
            &[
                ("sip", Field::NW_SRC, Kind::Ip4),
                ("tip", Field::NW_DST, Kind::Ip4),
                ("op", Field::NW_PROTO, Kind::Dec),
                ("sha", Field::ARP_SHA, Kind::Mac),
                ("tha", Field::ARP_THA, Kind::Mac),
            ],
        ),
        _ => None,
    };
    parts.extend(l3);
    let l4 = match read_field(k, Field::NW_PROTO) {
        6 => "tcp",
        17 => "udp",
        132 => "sctp",
        1 => "icmp",
        58 => "icmpv6",
        _ => "l4",
    };
    let (a, b) = if l4.starts_with("icmp") { ("type", "code") } else { ("src", "dst") };
    parts.extend(group(k, m, l4, &[(a, Field::TP_SRC, Kind::Dec), (b, Field::TP_DST, Kind::Dec)]));
    parts.extend(group(k, m, "tcp_flags", &[("", Field::TCP_FLAGS, Kind::Hex)]).map(|g| g.replace("(=", "(")));
    let s = f.stats().snapshot();
    let used = if s.used == 0 { "never".to_owned() } else { format!("{:.3}s", now.saturating_sub(s.used) as f64 / 1000.0) };
    let mut line = String::new();
    if verbose {
        line.push_str("flow-dump from pmd: ");
    }
    let _ =
        write!(line, "{}, packets:{}, bytes:{}, used:{used}, actions:{}", parts.join(","), s.packets, s.bytes, actions_text(f.actions()));
    line
}

/// Datapath actions as OVS writes them.
pub fn actions_text(actions: &[Action]) -> String {
    if actions.is_empty() {
        return "drop".to_owned();
    }
    actions
        .iter()
        .map(|a| match a {
            Action::Output(p) => p.to_string(),
            Action::PushVlan { tpid, tci } => {
                let tpid = if *tpid == 0x8100 { String::new() } else { format!("tpid={tpid:#x},") };
                format!("push_vlan({tpid}vid={},pcp={})", tci & 0xfff, tci >> 13)
            }
            Action::Clone(inner) => format!("clone({})", actions_text(inner)),
            Action::CheckPktLen { size, greater, less_equal } => {
                format!("check_pkt_len(size={size},gt({}),le({}))", actions_text(greater), actions_text(less_equal))
            }
            Action::Userspace(_) => "userspace(pid=0,controller)".to_owned(),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}
