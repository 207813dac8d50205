//! The datapath's management commands, in OVS's formats:
//! `dpif-netdev/pmd-stats-show`, `pmd-stats-clear`, `pmd-rxq-show`,
//! `pmd-rxq-rebalance`,
//! `dpctl/dump-flows`, `ofproto/trace` and `fdb/show`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use dpif::show::{dump_flows, fdb_show, pmd_stats, pmd_stats_clear, rxq_show, Cleared};
use dpif::{BridgeDp, Xlator};

use crate::unixctl::Commands;

/// Each bridge's side of the datapath, by name.
pub type Bridges = Arc<Mutex<BTreeMap<String, Arc<BridgeDp>>>>;

/// Registers the commands.
pub fn register(commands: &mut Commands, xlator: &Arc<Xlator>, bridges: &Bridges) {
    let cleared: Arc<Cleared> = Arc::default();
    let (x, c) = (Arc::clone(xlator), Arc::clone(&cleared));
    commands.register("dpif-netdev/pmd-stats-show", "[-pmd core] [dp]", 0, 3, Arc::new(move |_| Ok(pmd_stats(&x, &c))));
    let (x, c) = (Arc::clone(xlator), cleared);
    commands.register(
        "dpif-netdev/pmd-stats-clear",
        "[-pmd core] [dp]",
        0,
        3,
        Arc::new(move |_| {
            pmd_stats_clear(&x, &c);
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
            Ok(fdb_show(&dp))
        }),
    );
}
