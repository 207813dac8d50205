//! `ferrovs vswitchd`: the daemon, configured from the `Open_vSwitch`
//! database as `ovs-vswitchd` is.
//!
//! # What it does today
//!
//! It replicates the `Open_vSwitch`, `Bridge`, `Port` and `Interface`
//! tables ([`ovsdb::Idl`]) and, on every change, reconciles ([`Switch`]):
//! it starts DPDK's EAL once when `other_config:dpdk-init=true`, opens an
//! ethdev for every `type=dpdk` interface (`options:dpdk-devargs`), closes
//! the ones removed, creates each bridge's local port as a tap device
//! with the bridge's MAC, gives interfaces OpenFlow port numbers
//! (honouring `ofport_request`), and writes back what OVS writes: `ofport`, `error`,
//! `admin_state`, `link_state`, `link_speed`, `mac_in_use`, `mtu`,
//! `statistics` (every 5 s); `Bridge.datapath_id`; on the `Open_vSwitch`
//! row `cur_cfg` (= `next_cfg`, so `ovs-vsctl` without `--no-wait` returns
//! once the change is applied), `datapath_types`, `iface_types`,
//! `dpdk_initialized`, `dpdk_version`, and `statistics` with
//! `other_config:enable-statistics=true`. Only columns whose value differs
//! are written, so its own writes do not loop.
//!
//! An interface type ferrovs does not implement yet gets an
//! `Interface.error` that says so; a bad one gets the reason. Neither
//! stops the rest of the switch. The DPDK ports are switched by PMD
//! threads (one per core of `pmd-cpu-mask` with a queue to poll) through
//! the bridges' OpenFlow tables; the [`dpif`] crate plans them and
//! translates their upcalls.
//!
//! # Threads
//!
//! The control thread: a current-thread tokio runtime running the IDL,
//! the management socket, the OpenFlow connections and the
//! reconciliation (whose DPDK calls are short). The PMD threads switch;
//! each has a revalidator thread beside it on the control cores.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use ofproto::{Desc, PortDesc};
use ovsdb::{Atom, Datum, Event, Idl, IdlConfig, Replica, Uuid};
use pmd::{Eal, Mempool, MempoolConfig, Port, PortConfig};
use serde_json::{json, Value};

use crate::unixctl::{self, Commands};

mod config;
mod ports;
mod process;

pub use process::DaemonArgs;
use process::{detach, Paths};
pub use process::{invoked_as_ovs_vswitchd, ovs_style_args, version_line};

use config::*;
use ports::*;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A file or socket could not be created.
    #[error("{what} {path}: {source}")]
    Io {
        /// What it was.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `--detach`: the background process did not start.
    #[error("the detached daemon did not start: {0}")]
    Detach(String),
    /// The command line asks for what cannot be.
    #[error("{0}")]
    Usage(String),
    /// The signal handlers could not be registered.
    #[error("cannot handle signals: {0}")]
    Signals(String),
}

/// Runs the daemon until `ovs-appctl exit` (or, with `--detach`, starts it
/// in the background and returns once it is up).
pub fn run(args: DaemonArgs) -> Result<(), DaemonError> {
    run_with(args, Vec::new())
}

/// As [`run`], with controllers inside the process, each told of every
/// bridge the daemon creates ([`crate::inproc`]).
pub fn run_with(args: DaemonArgs, in_process: Vec<Arc<dyn crate::inproc::InProcess>>) -> Result<(), DaemonError> {
    let paths = Paths::new(&args);
    if args.version {
        println!("{}", version_line());
        return Ok(());
    }
    if args.detach {
        return detach(&paths);
    }
    // The monitor's daemon runs without --monitor.
    if args.monitor {
        return process::monitor(&paths);
    }
    let notes = process::prepare(&args, &paths)?;
    let io = |what, path: &PathBuf| {
        let path = path.clone();
        move |source| DaemonError::Io { what, path, source }
    };
    if let Some(log) = &paths.log_file {
        crate::log::to_file(log).map_err(io("cannot open log file", log))?;
    }
    let rt = runtime();
    let listener = {
        let _guard = rt.enter();
        unixctl::bind(&paths.unixctl).map_err(io("cannot listen on", &paths.unixctl))?
    };
    let pidfile = match &paths.pidfile {
        Some(path) => Some(crate::pidfile::Pidfile::create(path).map_err(io("cannot write pidfile", path))?),
        None => None,
    };
    dpif::set_log(crate::log::dpif_sink);
    crate::log::info(&format!("ferrovs vswitchd {} starting; database {}", env!("CARGO_PKG_VERSION"), paths.database));
    for note in &notes {
        crate::log::info(note);
    }
    let signals = {
        let _guard = rt.enter();
        crate::signals::Signals::new().map_err(|e| DaemonError::Signals(e.to_string()))?
    };
    let ended_by = rt.block_on(serve(paths.rundir.clone(), paths.database.clone(), paths.ssl.clone(), listener, signals, in_process));
    // Every task's end: the bridges' `punix:` listeners remove their files.
    drop(rt);
    crate::log::info("exiting");
    drop(pidfile);
    let _ = std::fs::remove_file(&paths.unixctl);
    if let Some(signal) = ended_by {
        crate::signals::raise_default(signal);
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        // Building a current-thread runtime only fails when the OS refuses
        // the resources it needs; nothing can run without it.
        Err(e) => panic!("cannot build the tokio runtime: {e}"),
    }
}

/// What the management commands report, refreshed after each
/// reconciliation: the opened DPDK ports and their receive queues.
type Report = Arc<std::sync::Mutex<Vec<(String, u16)>>>;

/// Each bridge's fail-open flag, for `bridge/dump-flows`.
type FailOpen = Arc<std::sync::Mutex<BTreeMap<String, Arc<std::sync::atomic::AtomicBool>>>>;

/// OVS's priority for its hidden fail-open flow.
const FAIL_OPEN_PRIORITY: u32 = 0xf0_f0f0;

/// `bridge/dump-flows BRIDGE`: the flows the switch adds itself (OVS's
/// hidden flows), which `ovs-ofctl dump-flows` does not show: the
/// fail-open flow while a standalone bridge has lost its controllers.
fn register_dump_flows(commands: &mut Commands, fail_open: &FailOpen) {
    let f = Arc::clone(fail_open);
    commands.register(
        "bridge/dump-flows",
        "bridge",
        1,
        1,
        Arc::new(move |args| {
            let flag = f.lock().ok().and_then(|m| m.get(&args[0]).cloned()).ok_or_else(|| "no such bridge".to_owned())?;
            let mut out = String::from("(hidden flows only; ovs-ofctl dump-flows lists the OpenFlow tables)\n");
            if flag.load(std::sync::atomic::Ordering::Relaxed) {
                out.push_str(&format!("n_packets=0, n_bytes=0, priority={FAIL_OPEN_PRIORITY},actions=NORMAL\n"));
            }
            Ok(out)
        }),
    );
}

/// Registers the commands that report the switch's state.
fn register_commands(commands: &mut Commands, report: &Report) {
    commands.register("vlog/list", "", 0, 0, Arc::new(|_| Ok(crate::log::list())));
    commands.register("vlog/set", "{spec | PATTERN:destination:pattern}", 1, usize::MAX, Arc::new(crate::log::set));
    commands.register("vlog/reopen", "", 0, 0, Arc::new(|_| crate::log::reopen()));
    let r = Arc::clone(report);
    commands.register(
        "memory/show",
        "",
        0,
        0,
        Arc::new(move |_| {
            let ports = r.lock().map(|p| p.len()).unwrap_or(0);
            let rss = crate::stats::resident_kb().map_or_else(String::new, |kb| format!(" rss-kB:{kb}"));
            Ok(format!("ports:{ports}{rss}\n"))
        }),
    );
}

/// Runs the switch until `ovs-appctl exit` (`None`) or a terminating
/// signal (its number).
async fn serve(
    rundir: PathBuf,
    database: String,
    ssl: Option<ovsdb::SslConfig>,
    listener: tokio::net::UnixListener,
    mut signals: crate::signals::Signals,
    in_process: Vec<Arc<dyn crate::inproc::InProcess>>,
) -> Option<i32> {
    let (exit_tx, mut exit_rx) = tokio::sync::mpsc::channel::<()>(1);
    let report: Report = Arc::default();
    let mut commands = Commands::new();
    register_commands(&mut commands, &report);
    let fail_open: FailOpen = Arc::default();
    register_dump_flows(&mut commands, &fail_open);
    let dp = dpif::Datapath::default();
    let bridges: Bridges = Arc::default();
    crate::dpctl::register(&mut commands, dp.xlator(), &bridges);
    if let Some(mut packet_ins) = dp.xlator().take_packet_ins() {
        let b = Arc::clone(&bridges);
        tokio::spawn(async move {
            while let Some((bridge, pi)) = packet_ins.recv().await {
                if let Some(dp) = b.lock().ok().and_then(|b| b.get(&bridge).cloned()) {
                    dp.packet_in(pi);
                }
            }
        });
    }
    commands.register(
        "exit",
        "[--cleanup]",
        0,
        1,
        Arc::new(move |_| {
            let _ = exit_tx.try_send(());
            Ok(String::new())
        }),
    );
    tokio::spawn(unixctl::serve(listener, Arc::new(commands)));

    let mut config = IdlConfig::new(vec![database], "Open_vSwitch");
    if let Some(ssl) = ssl {
        config = config.with_ssl(ssl);
    }
    config.tables = ["Open_vSwitch", "Bridge", "Port", "Interface", "Controller", "SSL"].map(String::from).to_vec();
    let mut idl = Idl::new(config);
    let wake = dp.xlator().wake();
    {
        let wake = Arc::clone(&wake);
        pmd::vhost::on_change(move || wake.notify_one());
    }
    let mut switch = Switch { rundir, fail_open, dp, bridges, in_process, ..Switch::default() };
    let mut stats_timer = tokio::time::interval(crate::stats::INTERVAL);
    loop {
        tokio::select! {
            _ = stats_timer.tick() => {
                switch.refresh_stats(&mut idl).await;
                switch.log_failed_translations();
            }
            event = idl.next_event() => match event {
                Event::Connected { remote, resumed } => {
                    crate::log::info(&format!("connected to {remote}{}", if resumed { " (resumed)" } else { "" }));
                    switch.reconcile(&mut idl).await;
                    switch.report(&report);
                }
                Event::Changed => {
                    switch.reconcile(&mut idl).await;
                    switch.report(&report);
                }
                Event::Disconnected { reason } => crate::log::warn(&format!("database connection lost: {reason}")),
            },
            () = switch.controller_changed.notified() => switch.reconcile(&mut idl).await,
            () = wake.notified() => {
                switch.reconcile(&mut idl).await;
                switch.report(&report);
            }
            _ = exit_rx.recv() => return None,
            asked = signals.next() => match asked {
                crate::signals::Asked::Terminate(n, name) => {
                    crate::log::warn(&format!("terminating with signal {n} ({name})"));
                    return Some(n);
                }
                crate::signals::Asked::ReopenLog => {
                    if let Err(e) = crate::log::reopen() {
                        crate::log::warn(&e);
                    }
                }
            },
        }
    }
}

/// An opened DPDK port and the queues the PMD thread does not hold.
struct OpenPort {
    /// How it was opened: the devargs, or the vhost-user mode and socket.
    spec: String,
    port: Port,
    /// Receive queues: how many the port has.
    n_rxq: usize,
    queues: dpif::Queues,
}

/// Where an interface sits.
struct InBridge {
    /// The bridge's name.
    name: String,
    /// The bridge's `datapath_type`.
    datapath_type: String,
    /// The interface is the bridge's local port.
    local: bool,
    /// The bridge's MAC (from its datapath id).
    mac: Option<[u8; 6]>,
    /// The port's VLAN configuration (`tag`, `trunks`, `vlan_mode`).
    vlan: ofproto::normal::VlanMode,
}

/// The switch's state between reconciliations.
#[derive(Default)]
struct Switch {
    eal: Option<Eal>,
    eal_error: Option<String>,
    pool: Option<Arc<Mempool>>,
    ports: HashMap<String, OpenPort>,
    taps: HashMap<String, crate::tap::Tap>,
    /// Each bridge's OpenFlow management socket.
    mgmt: HashMap<String, crate::ofmgmt::Mgmt>,
    rundir: PathBuf,
    /// Devargs that failed, with the error, so they are not retried until
    /// the configuration changes.
    failed: HashMap<String, (String, String)>,
    /// The configuration warnings last logged for each interface.
    warned: HashMap<String, Vec<String>>,
    /// Failed translations already logged.
    logged_errors: u64,
    ofports: BTreeMap<String, i64>,
    /// Woken when a controller connection changes state.
    controller_changed: Arc<tokio::sync::Notify>,
    /// Each bridge's fail-open flag, for `bridge/dump-flows`.
    fail_open: FailOpen,
    /// The PMD thread and the translator.
    dp: dpif::Datapath,
    /// Each bridge's side of the datapath, for `fdb/show`.
    bridges: Bridges,
    /// Patch ports and their peers.
    patches: BTreeMap<String, String>,
    /// `other_config:vhost-sock-dir` as read when DPDK started.
    vhost_dir: Option<Result<PathBuf, String>>,
    /// Controllers inside the process, told of each new bridge.
    in_process: Vec<Arc<dyn crate::inproc::InProcess>>,
}

use crate::dpctl::Bridges;

/// The bridge's local port number (OpenFlow's OFPP_LOCAL).
const OFPP_LOCAL: i64 = 65534;
/// Highest ordinary OpenFlow port number.
const OFPP_MAX: i64 = 0xff00;

// Column readers over an optional value (absent reads as nothing); the
// logic is `Datum`'s.

impl Switch {
    async fn reconcile(&mut self, idl: &mut Idl) {
        idl.take_changes();
        let Some(replica) = idl.replica() else {
            return;
        };
        let ops = self.apply(replica);
        write(idl, ops).await;
    }

    /// Publishes the opened ports for the management commands.
    fn report(&self, report: &Report) {
        if let Ok(mut r) = report.lock() {
            *r = self.ports.iter().map(|(name, p)| (name.clone(), p.n_rxq as u16)).collect();
            r.sort();
        }
    }

    /// Writes `Interface.statistics` of open ports and, when enabled,
    /// `Open_vSwitch.statistics`.
    /// Logs the translations that failed since the last look (flows
    /// whose actions the datapath cannot carry out yet): at most one line
    /// per statistics interval, from this thread, never the PMD's.
    fn log_failed_translations(&mut self) {
        let (errors, last) = self.dp.xlator().errors();
        if errors > self.logged_errors {
            let n = errors - self.logged_errors;
            let last = last.map(|e| e.to_string()).unwrap_or_default();
            crate::log::warn(&format!("{n} translation(s) failed, their packets dropped (pmd-stats-show counts them); the last: {last}"));
            self.logged_errors = errors;
        }
    }

    async fn refresh_stats(&mut self, idl: &mut Idl) {
        let Some(replica) = idl.replica().filter(|_| idl.is_connected()) else {
            return;
        };
        let mut ops = Vec::new();
        for (uuid, row) in replica.rows("Interface") {
            let Some(open) = string(row.get("name")).and_then(|n| self.ports.get(&n)) else {
                continue;
            };
            let Ok(counters) = open.port.stats() else {
                continue;
            };
            update_changed(&mut ops, replica, "Interface", uuid, [("statistics", crate::stats::interface(&counters))]);
        }
        if let Some((&ovs_uuid, _)) = replica.rows("Open_vSwitch").next() {
            let enabled =
                map_get(replica.value("Open_vSwitch", &ovs_uuid, "other_config").as_ref(), "enable-statistics").as_deref() == Some("true");
            let value = if enabled { crate::stats::system() } else { Datum::Map(BTreeMap::new()) };
            update_changed(&mut ops, replica, "Open_vSwitch", &ovs_uuid, [("statistics", value)]);
        }
        write(idl, ops).await;
    }
}

/// Runs the status writes `ops`, logging a refusal (the next change
/// reconciles again).
async fn write(idl: &mut Idl, ops: Vec<Value>) {
    if ops.is_empty() {
        return;
    }
    match idl.transact(ops).await {
        Ok(results) => {
            if let Some(err) = results.iter().find(|r| r.get("error").is_some()) {
                crate::log::warn(&format!("status update refused: {err}"));
            }
        }
        Err(e) => crate::log::warn(&format!("status update failed: {e}")),
    }
}

impl Switch {
    /// Applies the configuration in `replica`; returns the status writes.
    fn apply(&mut self, replica: &Replica) -> Vec<Value> {
        let Some((&ovs_uuid, _)) = replica.rows("Open_vSwitch").next() else {
            return Vec::new();
        };
        let ovs = |col: &str| replica.value("Open_vSwitch", &ovs_uuid, col);
        let other_config = ovs("other_config");
        if map_get(other_config.as_ref(), "dpdk-init").as_deref() == Some("true") {
            self.init_dpdk(other_config.as_ref());
        }

        let mut ops = Vec::new();
        for (uuid, bridge) in replica.rows("Bridge") {
            let dpid = Datum::scalar(Atom::String(datapath_id(uuid, bridge.get("other_config"))));
            update_changed(&mut ops, replica, "Bridge", uuid, [("datapath_id", dpid)]);
        }

        // Interfaces in use: those of ports of bridges.
        let mut interfaces: Vec<(Uuid, InBridge)> = Vec::new();
        for (bridge_uuid, bridge) in replica.rows("Bridge") {
            let bridge_name = string(bridge.get("name"));
            let kind = string(replica.value("Bridge", bridge_uuid, "datapath_type").as_ref()).unwrap_or_default();
            let dpid = datapath_id(bridge_uuid, bridge.get("other_config"));
            for port in uuids(bridge.get("ports")) {
                for iface in uuids(replica.value("Port", &port, "interfaces").as_ref()) {
                    let name = string(replica.value("Interface", &iface, "name").as_ref());
                    let local = name.is_some() && name == bridge_name;
                    // The local port's MAC: the low 48 bits of the datapath id.
                    let mac = u64::from_str_radix(&dpid, 16).ok().map(|id| std::array::from_fn(|i| (id >> (40 - 8 * i)) as u8));
                    let context = InBridge {
                        name: bridge_name.clone().unwrap_or_default(),
                        datapath_type: kind.clone(),
                        local,
                        mac,
                        vlan: vlan_mode(replica, &port),
                    };
                    interfaces.push((iface, context));
                }
            }
        }
        let wanted: BTreeSet<String> =
            interfaces.iter().filter_map(|(u, _)| string(replica.value("Interface", u, "name").as_ref())).collect();
        self.set_vlan_limit(other_config.as_ref());
        self.dp.set_cores(pmd_cores(other_config.as_ref()).0.len());
        self.patches.clear();
        self.ports.retain(|name, _| wanted.contains(name));
        self.taps.retain(|name, _| wanted.contains(name));
        self.failed.retain(|name, _| wanted.contains(name));
        self.warned.retain(|name, _| wanted.contains(name));
        self.ofports.retain(|name, _| wanted.contains(name));

        let desired: Vec<Desired> = interfaces.iter().filter_map(|(uuid, bridge)| self.interface(replica, *uuid, bridge)).collect();

        self.refresh_mgmt(replica, &desired);
        self.follow_guest_queues();
        let rebalance = self.dp.xlator().take_rebalance();
        self.refresh_datapath(replica, other_config.as_ref(), rebalance);
        self.controller_status(replica, &mut ops);
        for d in desired {
            update_changed(&mut ops, replica, "Interface", &d.uuid, d.columns);
        }
        let next_cfg = ovs("next_cfg");
        let mut want = vec![
            ("datapath_types", Datum::Set([Atom::String("netdev".into())].into())),
            ("iface_types", Datum::Set([Atom::String("dpdk".into())].into())),
            ("dpdk_initialized", Datum::scalar(Atom::Boolean(self.eal.is_some()))),
        ];
        if self.eal.is_some() {
            want.push(("dpdk_version", str_datum(&Eal::version())));
        }
        if let Some(next) = next_cfg {
            want.push(("cur_cfg", next));
        }
        update_changed(&mut ops, replica, "Open_vSwitch", &ovs_uuid, want);
        ops
    }

    /// `other_config:vlan-limit` (OVS's default 1; 0 for as many as the
    /// datapath parses): the PMD threads stop first, so that no cache
    /// holds a key extracted under the old limit (they start again with
    /// empty caches when the datapath is refreshed).
    fn set_vlan_limit(&mut self, other_config: Option<&Datum>) {
        let limit = match map_get(other_config, "vlan-limit") {
            None => 1,
            Some(v) => v.parse::<usize>().unwrap_or_else(|_| {
                crate::log::warn_limited("vlan-limit", &format!("other_config:vlan-limit={v} is not a number: using 1"));
                1
            }),
        };
        let effective = dataplane::vlan_limit_for(limit);
        if effective != dataplane::vlan_limit() {
            self.stop_datapath();
            dataplane::set_vlan_limit(limit);
            crate::log::info(&format!("parsing up to {effective} VLAN tag(s) (other_config:vlan-limit)"));
        }
    }

    /// Starts, refreshes or stops each bridge's OpenFlow management socket.
    fn refresh_mgmt(&mut self, replica: &Replica, desired: &[Desired]) {
        let mut seen = BTreeSet::new();
        let mut learning = Vec::new();
        for (uuid, bridge) in replica.rows("Bridge") {
            let Some(name) = string(bridge.get("name")) else {
                continue;
            };
            let other = bridge.get("other_config");
            let text = |key: &str, default: String| map_get(other, key).unwrap_or(default);
            let desc = Desc {
                mfr: text("mfr-desc", "The ferrovs project".to_owned()),
                hw: text("hw-desc", "ferrovs userspace switch".to_owned()),
                sw: text("sw-desc", format!("ferrovs {}", env!("CARGO_PKG_VERSION"))),
                serial: text("serial-desc", "None".to_owned()),
                dp: text("dp-desc", name.clone()),
            };
            let dpid = u64::from_str_radix(&datapath_id(uuid, other), 16).unwrap_or(0);
            let ports: Vec<PortDesc> = desired.iter().filter(|d| d.bridge == name).filter_map(Desired::port_desc).collect();
            let counters = desired
                .iter()
                .filter(|d| d.bridge == name)
                .filter_map(|d| Some((d.port_desc()?.port_no, self.ports.get(&d.name)?.port.downgrade())))
                .collect();
            let view = crate::ofconn::BridgeView {
                dpid,
                ports,
                desc,
                counters,
                versions: protocols(bridge.get("protocols")),
                port_mods: Default::default(),
                dp: None,
            };
            let secure = string(bridge.get("fail_mode")).as_deref() == Some("secure");
            let controllers = controller_configs(replica, bridge);
            seen.insert(name.clone());
            let aging = map_get(other, "mac-aging-time").and_then(|v| v.parse().ok()).unwrap_or(ofproto::normal::DEFAULT_AGING.as_secs());
            let size = map_get(other, "mac-table-size").and_then(|v| v.parse().ok()).unwrap_or(ofproto::normal::DEFAULT_SIZE);
            learning.push((name.clone(), std::time::Duration::from_secs(aging), size));
            if let Some(m) = self.mgmt.get_mut(&name) {
                m.update(view);
                m.controllers.configure(controllers, !secure);
                continue;
            }
            let normal = !secure && controllers.is_empty();
            let dp = Arc::new(dpif::BridgeDp::new(&name, self.dp.xlator()));
            match crate::ofmgmt::Mgmt::start(&self.rundir, &name, view, normal, Arc::clone(&self.controller_changed), dp) {
                Ok(mut m) => {
                    m.controllers.configure(controllers, !secure);
                    for c in &self.in_process {
                        c.bridge_added(m.bridge());
                    }
                    self.mgmt.insert(name, m);
                }
                Err(e) => crate::log::warn(&format!("{name}: cannot listen on {}/{name}.mgmt: {e}", self.rundir.display())),
            }
        }
        self.mgmt.retain(|name, _| seen.contains(name));
        for (name, aging, size) in learning {
            if let Some(m) = self.mgmt.get(&name) {
                m.dp().macs().configure(aging, size);
            }
        }
        self.datapath_ports(desired);
        if let Ok(mut b) = self.bridges.lock() {
            *b = self.mgmt.iter().map(|(name, m)| (name.clone(), Arc::clone(m.dp()))).collect();
        }
        if let Ok(mut f) = self.fail_open.lock() {
            *f = self.mgmt.iter().map(|(name, m)| (name.clone(), m.controllers.fail_open_flag())).collect();
        }
    }

    /// Tells each bridge's datapath side its DPDK ports (OpenFlow and
    /// datapath numbers, PORT_MOD's flags, VLANs) and publishes.
    fn datapath_ports(&mut self, desired: &[Desired]) {
        use ofproto::normal::NormalPort;
        use ofproto::xlate::XPort;
        /// PORT_MOD bits: OpenFlow 1.0's NO_FLOOD, and NO_FWD.
        const NO_FLOOD: u32 = 1 << 4;
        const NO_FWD: u32 = 1 << 5;
        let names: BTreeSet<String> = self.ports.keys().chain(self.patches.keys()).cloned().collect();
        self.dp.retain(|n| names.contains(n));
        for (bridge, m) in &self.mgmt {
            let mut xports = Vec::new();
            let mut normal = Vec::new();
            for d in desired.iter().filter(|d| &d.bridge == bridge && names.contains(&d.name)) {
                let Some(port_no) = d.port_desc().map(|p| p.port_no) else {
                    continue;
                };
                // OpenFlow 1.0 numbers in the tables (LOCAL is 0xfffe there).
                let ofport = match port_no {
                    ofproto::wire::OFPP13_LOCAL => ofproto::port::LOCAL,
                    p => match u16::try_from(p) {
                        Ok(p) => p,
                        Err(_) => continue,
                    },
                };
                let odp = self.dp.odp(&d.name);
                let config = m.port_config(port_no);
                let no_flood = config & NO_FLOOD != 0;
                let no_fwd = config & (NO_FWD | crate::ofconn::PORT_DOWN) != 0;
                xports.push(XPort { ofport, odp, no_flood, no_fwd });
                if !no_fwd {
                    normal.push(NormalPort { ofport, odp, vlan: d.vlan.clone(), no_flood });
                }
            }
            m.dp().set_ports(xports, normal);
            m.publish();
        }
    }

    /// Runs the PMD threads over every DPDK port (see
    /// [`dpif::Datapath::poll`]); `rebalance` assigns the
    /// receive queues again by their loads.
    fn refresh_datapath(&mut self, replica: &Replica, other_config: Option<&Datum>, rebalance: bool) {
        let (Some(eal), Some(pool)) = (&self.eal, &self.pool) else {
            return;
        };
        let mut config = pmd::SwitchConfig::default();
        if let Some(p) = map_get(other_config, "emc-insert-inv-prob").and_then(|v| v.parse().ok()) {
            config.emc_insert_inv_prob = p;
        }
        if let Some(l) = map_get(other_config, "flow-limit").and_then(|v| v.parse().ok()) {
            config.flow_limit = l;
        }
        // ferrovs' own key, for comparing (`ferrovs bench revalidate`):
        // the PMD revalidates itself, as before the revalidator thread.
        config.inline_revalidation = map_get(other_config, "ferrovs-inline-revalidation").as_deref() == Some("true");
        let assign = match map_get(other_config, "pmd-rxq-assign") {
            None => dpif::rxq::Assign::default(),
            Some(a) => dpif::rxq::Assign::parse(&a).unwrap_or_else(|| {
                crate::log::warn(&format!("other_config:pmd-rxq-assign={a} is not cycles, roundrobin or group: using cycles"));
                dpif::rxq::Assign::default()
            }),
        };
        // The bridges' local tap devices are polled slowly (their names
        // are the bridges').
        let mut ports = Vec::new();
        let mut names: Vec<&String> = self.ports.keys().collect();
        names.sort();
        for name in names {
            let affinity = replica
                .rows("Interface")
                .find(|(_, row)| string(row.get("name")).as_ref() == Some(name))
                .and_then(|(_, row)| map_get(row.get("other_config"), "pmd-rxq-affinity"))
                .map(|a| {
                    dpif::rxq::parse_affinity(&a).unwrap_or_else(|e| {
                        crate::log::warn(&format!("{name}: {e}"));
                        BTreeMap::new()
                    })
                })
                .unwrap_or_default();
            ports.push(dpif::DpPort { name: name.clone(), odp: 0, slow: self.mgmt.contains_key(name), affinity });
        }
        for p in &mut ports {
            p.odp = self.dp.odp(&p.name);
        }
        let patches: Vec<(String, String)> = self.patches.iter().map(|(a, b)| (a.clone(), b.clone())).collect();
        let patches = patches.iter().map(|(a, b)| (self.dp.odp(a), self.dp.odp(b))).collect();
        let (cores, warning) = pmd_cores(other_config);
        if let Some(w) = warning {
            crate::log::warn(&w);
        }
        let plan = dpif::Plan { cores, config, assign, ports, patches };
        let mut queues: HashMap<String, dpif::Queues> =
            self.ports.iter_mut().map(|(n, p)| (n.clone(), std::mem::take(&mut p.queues))).collect();
        if let Err(e) = self.dp.poll(eal, pool, plan, rebalance, &mut queues) {
            crate::log::warn(&format!("cannot start the PMD threads: {e}"));
        }
        for m in self.mgmt.values() {
            m.publish();
        }
        for (name, q) in queues {
            if let Some(p) = self.ports.get_mut(&name) {
                p.queues = q;
            }
        }
    }
}
