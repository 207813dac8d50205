//! `ferrovs bench lflow`: logical flows compiled per second, ferrovs'
//! compiler and the real `ovn-controller` 23.03 side by side on the same
//! Southbound database — the reference topology with N generated ACL
//! flows (`ovn_agent::workload`), as chassis hv1.
//!
//! - ferrovs: every flow compiled from its text with a fresh compiler, in
//!   this process, per round.
//! - `ovn-controller`: run against that database (served by a private
//!   `ovsdb-server`) with a private Open vSwitch (`ovs-vswitchd` with a
//!   `netdev` `br-int` holding hv1's two VIFs, in a network namespace of
//!   its own); per round its lflow cache is flushed and a full recompute
//!   forced (`inc-engine/recompute`), and its own `flow-generation`
//!   stopwatch read: the time of the engine run that turns the logical
//!   flows into its desired flow table (physical flows included).
//!
//! Both merge equal conjunction clauses of different flows into one rule.
//!
//! The rounds alternate. The figures are medians.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ovn_agent::compile::{Compiler, RuleSet};
use ovn_agent::southbound::Snapshot;
use ovn_agent::symtab::Symtab;
use ovs_peers::{OvsdbServer, Vswitchd};
use serde_json::{json, Value};

use crate::io::BenchError;

/// Debian's OVN Southbound schema (`ovn-central`).
const SB_SCHEMA: &str = "/usr/share/ovn/ovn-sb.ovsschema";

/// What to run.
#[derive(Debug, Clone)]
pub struct LflowBench {
    /// Generated ACL flows on top of the fixture's.
    pub flows: u64,
    /// Rounds of each contender.
    pub rounds: usize,
    /// Also run `ovn-controller`.
    pub vs: bool,
}

fn err(what: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(what.to_string())
}

/// One round of ferrovs: compiles every flow of `sb` as hv1 and merges
/// equal conjunction clauses into one rule, as a bridge holds them; the
/// time, and the rules made.
fn ferrovs_round(sb: &Snapshot) -> Result<(Duration, usize), BenchError> {
    let start = Instant::now();
    let view = sb.view(Some("hv1"));
    let mut cx = sb.context(Symtab::ovn());
    (cx.ct_zero_snat, cx.dp_hash_l4_sym) = (true, true);
    let mut compiler = Compiler::default();
    let mut rules = RuleSet::default();
    for (lf, dps) in &sb.flows {
        for dp in dps {
            let dp = &sb.datapaths.get(dp).ok_or_else(|| err("a flow on a datapath the snapshot lacks"))?.0;
            compiler.compile(lf, dp, &mut cx, &view).map_err(err)?.into_iter().for_each(|fm| rules.add(fm));
        }
    }
    Ok((start.elapsed(), rules.rules().len()))
}

/// Inserts the rows of `tables` into the database at `remote`, their
/// UUIDs kept, in one transaction (the rows refer to each other).
fn load(remote: &str, tables: &Value) -> Result<(), BenchError> {
    let mut ops = Vec::new();
    for (table, rows) in tables.as_object().into_iter().flatten() {
        for row in rows.as_array().into_iter().flatten() {
            let mut row = row.as_object().cloned().unwrap_or_default();
            let uuid = row.remove("_uuid").map(|u| u[1].clone());
            row.remove("_version");
            ops.push(json!({"op": "insert", "table": table, "row": row, "uuid": uuid}));
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(err)?;
    let results = rt.block_on(async {
        let client = ovsdb::client::Client::connect(remote).await.map_err(err)?;
        client.transact("OVN_Southbound", ops).await.map_err(err)
    })?;
    match results.iter().find(|r| r.get("error").is_some()) {
        Some(e) => Err(err(format!("loading the Southbound database: {e}"))),
        None => Ok(()),
    }
}

/// `ovn-controller` as chassis hv1 on `ovs`, and its control socket.
struct Controller {
    child: Child,
    ctl: std::path::PathBuf,
}

impl Drop for Controller {
    fn drop(&mut self) {
        ovs_peers::terminate(&mut self.child);
    }
}

impl Controller {
    fn start(ovs: &Vswitchd, sb: &OvsdbServer) -> Result<Controller, BenchError> {
        ovs.vsctl(&[
            "set",
            "Open_vSwitch",
            ".",
            "external_ids:system-id=hv1",
            "external_ids:hostname=hv1",
            &format!("external_ids:ovn-remote={}", sb.remote()),
            "external_ids:ovn-encap-type=geneve",
            "external_ids:ovn-encap-ip=127.0.0.1",
            "external_ids:ovn-monitor-all=true",
        ]);
        ovs.vsctl(&[
            "add-br",
            "br-int",
            "--",
            "set",
            "Bridge",
            "br-int",
            "datapath_type=netdev",
            "fail-mode=secure",
            "other-config:disable-in-band=true",
        ]);
        for vm in ["vm1", "vm2"] {
            ovs.vsctl(&["add-port", "br-int", vm, "--", "set", "Interface", vm, "type=internal", &format!("external_ids:iface-id={vm}")]);
        }
        // ovn-controller takes no --unixctl: its socket is
        // ovn-controller.PID.ctl in OVN_RUNDIR.
        let dir = ovs.dir();
        let child = Command::new("ovn-controller")
            .arg(ovs.ovsdb().remote())
            .arg(format!("--log-file={}", dir.join("ovn-controller.log").display()))
            .arg("--no-chdir")
            .env("OVN_RUNDIR", dir)
            // br-int.mgmt, the bridge's OpenFlow socket, is in OVS_RUNDIR.
            .env("OVS_RUNDIR", dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| err(format!("ovn-controller (scripts/setup-host installs ovn-host): {e}")))?;
        let ctl = dir.join(format!("ovn-controller.{}.ctl", child.id()));
        ovs_peers::wait_for(&ctl);
        Ok(Controller { child, ctl })
    }

    fn appctl(&self, args: &[&str]) -> Result<String, BenchError> {
        let out = Command::new("ovn-appctl").arg("-t").arg(&self.ctl).args(args).output().map_err(err)?;
        if !out.status.success() {
            return Err(err(format!("ovn-appctl {args:?}: {}", String::from_utf8_lossy(&out.stderr))));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The `flow-generation` stopwatch: its samples and its maximum.
    fn stopwatch(&self) -> Result<(u64, u64), BenchError> {
        let text = self.appctl(&["stopwatch/show", "flow-generation"])?;
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        Ok((value("Total samples:").unwrap_or(0), value("Maximum:").unwrap_or(0)))
    }

    /// Waits until the engine has run and been quiet for a while; the
    /// longest run seen since the stopwatch was reset.
    fn settle(&self, timeout: Duration) -> Result<Duration, BenchError> {
        let end = Instant::now() + timeout;
        let mut last = (0, 0);
        let mut quiet = 0;
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(500));
            let now = self.stopwatch()?;
            if now.0 > 0 && now.1 == last.1 {
                quiet += 1;
                if quiet >= 6 {
                    return Ok(Duration::from_millis(now.1));
                }
            } else {
                quiet = 0;
            }
            last = now;
        }
        Err(err("ovn-controller did not settle"))
    }

    /// One round: a full recompute from an empty lflow cache.
    fn round(&self) -> Result<Duration, BenchError> {
        self.appctl(&["stopwatch/reset", "flow-generation"])?;
        self.appctl(&["lflow-cache/flush"])?;
        self.appctl(&["inc-engine/recompute"])?;
        self.settle(Duration::from_secs(300))
    }
}

/// Waits until `br-int` holds the logical flows' rules (more than the
/// fixture's, the same count for 5 s); returns the count.
fn installed(ovs: &Vswitchd, timeout: Duration) -> Result<usize, BenchError> {
    let end = Instant::now() + timeout;
    let (mut last, mut same) = (0, 0);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_secs(1));
        let out = ovs.ofctl(&["--no-stats", "dump-flows", "br-int"]);
        let n = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains("actions=")).count();
        same = if n == last && n > 1000 { same + 1 } else { 0 };
        if same >= 5 {
            return Ok(n);
        }
        last = n;
    }
    let log = std::fs::read_to_string(ovs.dir().join("ovn-controller.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(10).collect();
    Err(err(format!("br-int did not get the logical flows' rules ({last} rules); ovn-controller's log ends: {tail:?}")))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Runs the benchmark, printing a line per round and the medians.
pub fn run(b: &LflowBench) -> Result<(), BenchError> {
    let tables = ovn_agent::workload::with_acls(b.flows);
    let (sb, bad) = Snapshot::from_tables(&tables);
    if bad > 0 || sb.flows.is_empty() {
        return Err(err("the generated database does not read back"));
    }
    let instances: usize = sb.flows.iter().map(|(_, dps)| dps.len()).sum();
    println!("{} logical flows ({instances} on their datapaths), as chassis hv1", sb.flows.len());
    let peer = if b.vs {
        if !Path::new(SB_SCHEMA).exists() {
            return Err(err(format!("no {SB_SCHEMA}: scripts/setup-host installs ovn-central")));
        }
        let server = OvsdbServer::start_schema(Path::new(SB_SCHEMA), |_| Vec::new());
        load(&server.remote(), &tables)?;
        let ovs = Vswitchd::start_ovs();
        let controller = Controller::start(&ovs, &server)?;
        let rules = installed(&ovs, Duration::from_secs(900))?;
        let (_, first) = controller.stopwatch()?;
        println!("ovn-controller up: {rules} rules on br-int, its longest run {:.3} s", first as f64 / 1000.0);
        Some((server, ovs, controller))
    } else {
        None
    };
    let rate = |d: Duration| instances as f64 / d.as_secs_f64().max(1e-9);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 1..=b.rounds {
        let (d, rules) = ferrovs_round(&sb)?;
        println!("round {round}: ferrovs        {:8.3} s  {:>10.0} flows/s  ({rules} rules)", d.as_secs_f64(), rate(d));
        ours.push(d);
        if let Some((_, _, controller)) = &peer {
            let d = controller.round()?;
            println!("round {round}: ovn-controller {:8.3} s  {:>10.0} flows/s", d.as_secs_f64(), rate(d));
            theirs.push(d);
        }
    }
    let (m, n) = (median(ours), median(theirs));
    println!("median: ferrovs {:.3} s ({:.0} flows/s)", m.as_secs_f64(), rate(m));
    if peer.is_some() {
        println!(
            "median: ovn-controller {:.3} s ({:.0} flows/s); ferrovs {:.2}x",
            n.as_secs_f64(),
            rate(n),
            n.as_secs_f64() / m.as_secs_f64().max(1e-9)
        );
    }
    Ok(())
}
