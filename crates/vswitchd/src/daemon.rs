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
//! stops the rest of the switch. The DPDK ports are switched by one PMD
//! thread through the bridges' OpenFlow tables ([`crate::datapath`]).
//!
//! # Threads
//!
//! The control thread: a current-thread tokio runtime running the IDL,
//! the management socket, the OpenFlow connections and the
//! reconciliation (whose DPDK calls are short). The PMD thread switches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use ofproto::{Desc, PortDesc};
use ovsdb::{Atom, Datum, Event, Idl, IdlConfig, Replica, Uuid};
use pmd::{Eal, Mempool, MempoolConfig, Port, PortConfig};
use serde_json::{json, Value};

use crate::unixctl::{self, Commands};

/// Command line of `ferrovs vswitchd`, as `ovs-vswitchd`'s.
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Database remote (default `unix:$OVS_RUNDIR/db.sock`).
    database: Option<String>,
    /// Write the process id to FILE (default `$OVS_RUNDIR/ovs-vswitchd.pid`).
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pidfile: Option<String>,
    /// Run in the background once started.
    #[arg(long)]
    detach: bool,
    /// Log to FILE (default `$OVS_LOGDIR/ovs-vswitchd.log`).
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    log_file: Option<String>,
    /// Management socket (default `$OVS_RUNDIR/ovs-vswitchd.PID.ctl`).
    #[arg(long, value_name = "SOCKET", require_equals = true)]
    unixctl: Option<PathBuf>,
    /// SSL private key, for an `ssl:` DATABASE.
    #[arg(long, value_name = "FILE", requires_all = ["certificate", "ca_cert"])]
    private_key: Option<PathBuf>,
    /// SSL certificate for the private key.
    #[arg(long, value_name = "FILE", requires_all = ["private_key", "ca_cert"])]
    certificate: Option<PathBuf>,
    /// CA certificate the database server's certificate must chain to.
    #[arg(long, value_name = "FILE", requires_all = ["private_key", "certificate"])]
    ca_cert: Option<PathBuf>,
}

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
    /// The signal handlers could not be registered.
    #[error("cannot handle signals: {0}")]
    Signals(String),
}

fn env_dir(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

struct Paths {
    rundir: PathBuf,
    database: String,
    ssl: Option<ovsdb::SslConfig>,
    pidfile: Option<PathBuf>,
    log_file: Option<PathBuf>,
    unixctl: PathBuf,
}

impl Paths {
    fn new(args: &DaemonArgs) -> Paths {
        let rundir = env_dir("OVS_RUNDIR", "/var/run/openvswitch");
        let logdir = env_dir("OVS_LOGDIR", "/var/log/openvswitch");
        let or_default = |v: &Option<String>, d: PathBuf| v.as_ref().map(|f| if f.is_empty() { d } else { PathBuf::from(f) });
        Paths {
            rundir: rundir.clone(),
            database: args.database.clone().unwrap_or_else(|| format!("unix:{}", rundir.join("db.sock").display())),
            ssl: match (&args.private_key, &args.certificate, &args.ca_cert) {
                (Some(k), Some(c), Some(ca)) => {
                    Some(ovsdb::SslConfig { private_key: k.clone(), certificate: c.clone(), ca_cert: ca.clone() })
                }
                _ => None,
            },
            pidfile: or_default(&args.pidfile, rundir.join("ovs-vswitchd.pid")),
            log_file: or_default(&args.log_file, logdir.join("ovs-vswitchd.log")),
            unixctl: args.unixctl.clone().unwrap_or_else(|| rundir.join(format!("ovs-vswitchd.{}.ctl", std::process::id()))),
        }
    }
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
    if args.detach {
        return detach(&paths);
    }
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
    crate::log::info(&format!("ferrovs vswitchd {} starting; database {}", env!("CARGO_PKG_VERSION"), paths.database));
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

/// `--detach`: start the same command without it in a new session, and
/// return once it has written its pidfile or its socket.
fn detach(paths: &Paths) -> Result<(), DaemonError> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| DaemonError::Detach(e.to_string()))?;
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--detach").collect();
    let mut child = std::process::Command::new(exe)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| DaemonError::Detach(e.to_string()))?;
    let ready = paths.pidfile.clone().unwrap_or_else(|| paths.unixctl.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if ready.exists() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(DaemonError::Detach(format!("it exited with {status}; see its log file")));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(DaemonError::Detach(format!("{} did not appear within 10 s", ready.display())))
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
    let dp = crate::datapath::Datapath::default();
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
    queues: crate::datapath::Queues,
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
    dp: crate::datapath::Datapath,
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

/// The controllers of `bridge`, with OVS's defaults (probe 5 s, backoff
/// 8 s) and the `SSL` table's files.
fn controller_configs(replica: &Replica, bridge: &ovsdb::Row) -> Vec<crate::controller::ControllerConfig> {
    use crate::controller::{ControllerConfig, DEFAULT_MAX_BACKOFF, DEFAULT_PROBE};
    let ssl = replica
        .rows("Open_vSwitch")
        .next()
        .and_then(|(ovs, _)| uuids(replica.value("Open_vSwitch", ovs, "ssl").as_ref()).into_iter().next())
        .and_then(|row| {
            let file = |col: &str| string(replica.value("SSL", &row, col).as_ref()).map(PathBuf::from);
            Some(ovsdb::SslConfig { private_key: file("private_key")?, certificate: file("certificate")?, ca_cert: file("ca_cert")? })
        });
    uuids(bridge.get("controller"))
        .into_iter()
        .filter_map(|uuid| {
            let col = |c: &str| replica.value("Controller", &uuid, c);
            let ms = |c: &str| integer(col(c).as_ref()).map(|v| std::time::Duration::from_millis(v.max(0) as u64));
            Some(ControllerConfig {
                target: string(col("target").as_ref())?,
                probe: match ms("inactivity_probe") {
                    Some(d) if d.is_zero() => None,
                    Some(d) => Some(d),
                    None => Some(DEFAULT_PROBE),
                },
                max_backoff: ms("max_backoff").unwrap_or(DEFAULT_MAX_BACKOFF),
                ssl: ssl.clone(),
            })
        })
        .collect()
}

/// `Bridge.protocols` as a version bitmap; empty allows every version
/// ferrovs speaks, as OVS allows all of its own.
fn protocols(d: Option<&Datum>) -> u32 {
    let names: Vec<String> = match d {
        Some(Datum::Set(atoms)) => atoms.iter().filter_map(|a| if let Atom::String(s) = a { Some(s.clone()) } else { None }).collect(),
        Some(d) => d.as_str().map(str::to_owned).into_iter().collect(),
        None => Vec::new(),
    };
    if names.is_empty() {
        return ofproto::wire::all_versions();
    }
    names.iter().filter_map(|n| n.strip_prefix("OpenFlow1")?.parse::<u32>().ok()).fold(0, |b, minor| b | 1 << (minor + 1))
}

// Column readers over an optional value (absent reads as nothing); the
// logic is `Datum`'s.
fn string(d: Option<&Datum>) -> Option<String> {
    d?.as_str().map(str::to_owned)
}

fn integer(d: Option<&Datum>) -> Option<i64> {
    d?.as_integer()
}

fn map_get(d: Option<&Datum>, key: &str) -> Option<String> {
    d?.map_str(key).map(str::to_owned)
}

fn uuids(d: Option<&Datum>) -> Vec<Uuid> {
    d.map(Datum::uuids).unwrap_or_default()
}

fn str_datum(s: &str) -> Datum {
    Datum::scalar(Atom::String(s.to_owned()))
}

fn opt_str_datum(s: Option<&str>) -> Datum {
    s.map_or_else(Datum::empty, str_datum)
}

fn int_datum(i: i64) -> Datum {
    Datum::scalar(Atom::Integer(i))
}

fn mac_string(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// What one interface's row should hold after reconciliation.
struct Desired {
    uuid: Uuid,
    name: String,
    bridge: String,
    vlan: ofproto::normal::VlanMode,
    columns: Vec<(&'static str, Datum)>,
}

/// A port's VLAN configuration, as OVS reads `tag`, `trunks` and
/// `vlan_mode` (an access port when it has a tag, unless told `trunk`).
fn vlan_mode(replica: &Replica, port: &Uuid) -> ofproto::normal::VlanMode {
    use ofproto::normal::VlanMode;
    let tag = integer(replica.value("Port", port, "tag").as_ref()).and_then(|t| u16::try_from(t).ok());
    let mode = string(replica.value("Port", port, "vlan_mode").as_ref());
    let trunks: Vec<u16> = match replica.value("Port", port, "trunks") {
        Some(Datum::Set(set)) => set.iter().filter_map(|a| if let Atom::Integer(i) = a { u16::try_from(*i).ok() } else { None }).collect(),
        _ => Vec::new(),
    };
    match (tag, mode.as_deref()) {
        (Some(t), None | Some("access")) => VlanMode::Access(t),
        _ => VlanMode::Trunk(trunks),
    }
}

impl Desired {
    fn column(&self, name: &str) -> Option<&Datum> {
        self.columns.iter().find(|(c, _)| *c == name).map(|(_, d)| d)
    }

    /// The port as OpenFlow clients see it, if it has a number.
    fn port_desc(&self) -> Option<PortDesc> {
        let ofport = integer(self.column("ofport")).filter(|&p| p >= 1)?;
        let port_no = if ofport == OFPP_LOCAL { ofproto::wire::OFPP13_LOCAL } else { u32::try_from(ofport).ok()? };
        let mac = string(self.column("mac_in_use")).and_then(|m| parse_mac(&m)).unwrap_or_default();
        let up = string(self.column("link_state")).as_deref() == Some("up");
        Some(PortDesc { state: if up { 0 } else { 1 }, ..PortDesc::new(port_no, mac, &self.name) })
    }
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s.split(':').map(|p| u8::from_str_radix(p, 16)).collect::<Result<_, _>>().ok()?;
    parts.try_into().ok()
}

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
            let last = last.unwrap_or_default();
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

    fn init_dpdk(&mut self, other_config: Option<&Datum>) {
        if self.eal.is_some() || self.eal_error.is_some() {
            return;
        }
        // The main lcore: the first core of dpdk-lcore-mask, else core 0.
        let lcores = map_get(other_config, "dpdk-lcore-mask")
            .and_then(|m| pmd::CpuMask::parse(&m).ok())
            .map(|m| m.cores().iter().map(usize::to_string).collect::<Vec<_>>().join(","))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "0".to_owned());
        let mut args = vec!["ferrovs".to_owned(), "-l".to_owned(), lcores];
        // No file under /var/run/dpdk (--in-memory), and no telemetry
        // socket there either, as OVS starts DPDK: nothing of this daemon
        // outlives it outside its run directory.
        args.extend(["--in-memory".to_owned(), "--no-telemetry".to_owned()]);
        if let Some(mem) = map_get(other_config, "dpdk-socket-mem") {
            args.extend(["--socket-mem".to_owned(), mem]);
        }
        self.vhost_dir = map_get(other_config, "vhost-sock-dir").map(|d| {
            if std::path::Path::new(&d).components().any(|c| c == std::path::Component::ParentDir) {
                Err(format!("other_config:vhost-sock-dir={d} may not leave the run directory (\"..\")"))
            } else {
                Ok(self.rundir.join(d.trim_start_matches('/')))
            }
        });
        if let Some(extra) = map_get(other_config, "dpdk-extra") {
            args.extend(extra.split_whitespace().map(str::to_owned));
        }
        crate::log::info(&format!("starting DPDK EAL: {}", args.join(" ")));
        let started = Eal::init(&args[1..]).map_err(|e| e.to_string()).and_then(|eal| {
            let pool = shared_pool(&eal)?;
            Ok((eal, pool))
        });
        match started {
            Ok((eal, pool)) => {
                crate::log::info(&format!("DPDK started: {}", Eal::version()));
                self.eal = Some(eal);
                self.pool = Some(Arc::new(pool));
            }
            Err(e) => {
                crate::log::warn(&format!("DPDK failed to start: {e}"));
                self.eal_error = Some(e);
            }
        }
    }

    /// Opens (or keeps) the interface and says what its row should hold.
    fn interface(&mut self, replica: &Replica, uuid: Uuid, bridge: &InBridge) -> Option<Desired> {
        let get = |col: &str| replica.value("Interface", &uuid, col);
        let name = string(get("name").as_ref())?;
        let kind = string(get("type").as_ref()).unwrap_or_default();
        let options = get("options");
        let local = bridge.local;
        let result = match kind.as_str() {
            _ if bridge.datapath_type != "netdev" => Err(format!(
                "bridge {} has datapath_type \"{}\": ferrovs runs only userspace bridges (datapath_type=netdev)",
                bridge.name, bridge.datapath_type
            )),
            "dpdk" => {
                let mut warnings = Vec::new();
                let config = port_config(options.as_ref(), integer(get("mtu_request").as_ref()), &mut warnings);
                self.warn_once(&name, warnings);
                self.open_dpdk(&name, map_get(options.as_ref(), "dpdk-devargs"), &config)
            }
            "dpdkvhostuserclient" => {
                let path = map_get(options.as_ref(), "vhost-server-path")
                    .map(PathBuf::from)
                    .ok_or_else(|| "options:vhost-server-path is required for type dpdkvhostuserclient".to_owned());
                let n = self.vhost_rxqs(&name, options.as_ref());
                self.open_vhost(&name, pmd::vhost::Mode::Client, path, n)
            }
            "patch" => self.open_patch(replica, &name, map_get(options.as_ref(), "peer")),
            "dpdkvhostuser" => {
                let path = self.vhost_sock_dir().map(|d| d.join(&name));
                let n = self.vhost_rxqs(&name, options.as_ref());
                self.open_vhost(&name, pmd::vhost::Mode::Server, path, n)
            }
            "internal" if local => self.open_local(&name, bridge.mac),
            "internal" => Err("internal ports other than the bridge's own are not supported by ferrovs yet".to_owned()),
            "" | "system" => {
                Err("interfaces of type \"system\" (kernel devices) are not supported by ferrovs' userspace datapath".to_owned())
            }
            other => Err(format!("interfaces of type \"{other}\" are not supported by ferrovs yet")),
        };
        let mut columns = Vec::new();
        match result {
            Ok(()) => {
                let ofport = self.ofport(&name, integer(get("ofport_request").as_ref()), local);
                columns.push(("ofport", int_datum(ofport)));
                columns.push(("error", Datum::empty()));
                // Down only when an OpenFlow PORT_MOD took it down.
                let port_no = if local { ofproto::wire::OFPP13_LOCAL } else { ofport as u32 };
                let down = self.mgmt.get(&bridge.name).is_some_and(|m| m.port_down(port_no));
                columns.push(("admin_state", str_datum(if down { "down" } else { "up" })));
                if local {
                    // The kernel's view of the device, whoever made it.
                    let up = crate::tap::is_up(&name);
                    columns.push(("link_state", str_datum(if up { "up" } else { "down" })));
                    columns.push(("mac_in_use", opt_str_datum(crate::tap::mac(&name).ok().map(mac_string).as_deref())));
                    columns.push(("mtu", int_datum(1500)));
                } else if kind == "patch" {
                    columns.push(("link_state", str_datum("up")));
                    columns.push((
                        "status",
                        Datum::Map(BTreeMap::from([(
                            Atom::String("peer".into()),
                            Atom::String(self.patches.get(&name).cloned().unwrap_or_default()),
                        )])),
                    ));
                } else if let Some(vhost) = self.ports.get(&name).and_then(|p| p.port.vhost()) {
                    columns.push(("link_state", str_datum(if vhost.connected { "up" } else { "down" })));
                    columns.push(("status", vhost_status(&vhost)));
                    columns.push(("mtu", int_datum(1500)));
                } else if let Some(open) = self.ports.get(&name) {
                    let link = open.port.link().ok();
                    columns.push(("link_state", str_datum(if link.is_some_and(|l| l.up) { "up" } else { "down" })));
                    let speed = link.map(|l| i64::from(l.speed_mbps) * 1_000_000).filter(|&s| s > 0);
                    columns.push(("link_speed", speed.map_or_else(Datum::empty, int_datum)));
                    columns.push(("mac_in_use", opt_str_datum(open.port.mac().ok().map(mac_string).as_deref())));
                    columns.push(("mtu", int_datum(open.port.mtu().map_or(1500, i64::from))));
                }
            }
            Err(error) => {
                // An interface in error is not in the datapath: a port its
                // last good configuration opened is closed.
                if self.ports.contains_key(&name) {
                    self.stop_datapath();
                    self.ports.remove(&name);
                }
                self.ofports.remove(&name);
                columns.push(("ofport", int_datum(-1)));
                columns.push(("error", str_datum(&error)));
                columns.push(("link_state", Datum::empty()));
                columns.push(("admin_state", Datum::empty()));
            }
        }
        Some(Desired { uuid, name, bridge: bridge.name.clone(), vlan: bridge.vlan.clone(), columns })
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
            let view = crate::ofmgmt::BridgeView {
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
            let dp = Arc::new(crate::datapath::BridgeDp::new(&name, self.dp.xlator()));
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
                    ofproto::wire::OFPP13_LOCAL => ofproto::xlate::port::LOCAL,
                    p => match u16::try_from(p) {
                        Ok(p) => p,
                        Err(_) => continue,
                    },
                };
                let odp = self.dp.odp(&d.name);
                let config = m.port_config(port_no);
                let no_flood = config & NO_FLOOD != 0;
                let no_fwd = config & (NO_FWD | crate::ofmgmt::PORT_DOWN) != 0;
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
    /// [`crate::datapath::Datapath::poll`]); `rebalance` assigns the
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
            None => crate::rxq::Assign::default(),
            Some(a) => crate::rxq::Assign::parse(&a).unwrap_or_else(|| {
                crate::log::warn(&format!("other_config:pmd-rxq-assign={a} is not cycles, roundrobin or group: using cycles"));
                crate::rxq::Assign::default()
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
                    crate::rxq::parse_affinity(&a).unwrap_or_else(|e| {
                        crate::log::warn(&format!("{name}: {e}"));
                        BTreeMap::new()
                    })
                })
                .unwrap_or_default();
            ports.push(crate::datapath::DpPort { name: name.clone(), odp: 0, slow: self.mgmt.contains_key(name), affinity });
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
        let plan = crate::datapath::Plan { cores, config, assign, ports, patches };
        let mut queues: HashMap<String, crate::datapath::Queues> =
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

    /// Writes each controller's connection state back: `is_connected`,
    /// `role` (other, master or slave) and `status`
    /// (OVS's `state` and `last_error`).
    fn controller_status(&self, replica: &Replica, ops: &mut Vec<Value>) {
        for (_, bridge) in replica.rows("Bridge") {
            let Some(mgmt) = string(bridge.get("name")).and_then(|n| self.mgmt.get(&n)) else {
                continue;
            };
            for uuid in uuids(bridge.get("controller")) {
                let Some(target) = string(replica.value("Controller", &uuid, "target").as_ref()) else {
                    continue;
                };
                let Some(st) = mgmt.controllers.status(&target) else {
                    continue;
                };
                let connected = st.connected > 0;
                let mut status = vec![(Atom::String("state".into()), Atom::String(st.state.into()))];
                if let Some(e) = &st.last_error {
                    status.push((Atom::String("last_error".into()), Atom::String(e.clone())));
                }
                let role = match st.conn.filter(|_| connected) {
                    Some(conn) => Datum::scalar(Atom::String(mgmt.controllers.role(conn).name().into())),
                    None => Datum::empty(),
                };
                update_changed(
                    ops,
                    replica,
                    "Controller",
                    &uuid,
                    [
                        ("is_connected", Datum::scalar(Atom::Boolean(connected))),
                        ("role", role),
                        ("status", Datum::Map(status.into_iter().collect())),
                    ],
                );
            }
        }
    }

    /// Opens the bridge's local port `name`. With DPDK it is a DPDK
    /// `net_tap` device (a kernel tap named after the bridge, with `mac`)
    /// that the PMD thread polls slowly (`refresh_datapath`), so that the
    /// kernel's packets reach the tables and `output:LOCAL` reaches the kernel;
    /// without DPDK there is no datapath, and the tap device only stands.
    fn open_local(&mut self, name: &str, mac: Option<[u8; 6]>) -> Result<(), String> {
        if self.eal.is_none() || self.pool.is_none() {
            return self.open_tap(name, mac);
        }
        // A tap device made before DPDK started gives way to DPDK's.
        self.taps.remove(name);
        let vdev: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let devargs = format!("net_tap_{vdev},iface={name}");
        let before = self.ports.get(name).map(|p| p.spec.clone());
        self.open_dpdk(name, Some(devargs), &PortConfig::default())?;
        // As OVS leaves a bridge's internal interface: administratively
        // down until the host brings it up (`ip link set br0 up`); DPDK
        // brought it up when it started the device. Only when this call
        // opened it: after that, the host's choice stands.
        let opened = self.ports.get(name).map(|p| &p.spec) != before.as_ref();
        if let Some(open) = self.ports.get(name).filter(|_| opened) {
            if let Err(e) = open.port.set_link(false) {
                crate::log::warn(&format!("{name}: {e}"));
            }
        }
        set_local_mac(name, mac)
    }

    /// Creates (or keeps) the bridge's local tap device with `mac`.
    fn open_tap(&mut self, name: &str, mac: Option<[u8; 6]>) -> Result<(), String> {
        if self.taps.contains_key(name) {
            return set_local_mac(name, mac);
        }
        let tap = crate::tap::Tap::create(name, mac).map_err(|e| format!("could not create tap device {name}: {e}"))?;
        crate::log::info(&format!("{}: created the bridge's local tap device", tap.name()));
        self.taps.insert(name.to_owned(), tap);
        Ok(())
    }

    /// A vhost-user interface's `options:n_rxq`, warning (once) about a
    /// value out of range.
    fn vhost_rxqs(&mut self, name: &str, options: Option<&Datum>) -> u16 {
        let mut warnings = Vec::new();
        let n = n_rxq(options, &mut warnings);
        self.warn_once(name, warnings);
        n
    }

    /// Logs the warnings about interface `name`'s configuration when they
    /// differ from the last ones logged for it.
    fn warn_once(&mut self, name: &str, warnings: Vec<String>) {
        if self.warned.get(name) == Some(&warnings) {
            return;
        }
        warnings.iter().for_each(|w| crate::log::warn(&format!("{name}: {w}")));
        self.warned.insert(name.to_owned(), warnings);
    }

    /// Opens the DPDK port `name` (again when its devargs or
    /// configuration changed).
    fn open_dpdk(&mut self, name: &str, devargs: Option<String>, config: &PortConfig) -> Result<(), String> {
        let Some(devargs) = devargs else {
            return Err("options:dpdk-devargs is required for type dpdk".to_owned());
        };
        let spec = format!("{devargs} {config:?}");
        // A transmit queue per PMD thread; not part of the spec, so that a
        // new pmd-cpu-mask does not reopen the port (threads share what
        // there is).
        let config = PortConfig { n_txq: self.dp.tx_queues_wanted(), ..config.clone() };
        self.open_port(name, spec, |eal, pool| {
            let (port, rx, tx) = Port::open(eal, &devargs, pool, &config).map_err(|e| format!("could not open {devargs}: {e}"))?;
            crate::log::info(&format!("{name}: opened {devargs} as DPDK port {}", port.id().unwrap_or_default()));
            if rx.len() < usize::from(config.n_rxq) {
                let (asked, has) = (config.n_rxq, rx.len());
                crate::log::warn(&format!("{name}: options:n_rxq={asked}, but {devargs} has {has} receive queue(s): polling {has}"));
            }
            Ok((port, rx, tx))
        })
    }

    /// Opens the vhost-user interface `name` on `socket`, a client of
    /// the VM's server or a server itself.
    fn open_vhost(&mut self, name: &str, mode: pmd::vhost::Mode, socket: Result<PathBuf, String>, n_rxq: u16) -> Result<(), String> {
        let socket = socket?;
        let spec = format!("{mode:?} {} {n_rxq}", socket.display());
        let n_txq = self.dp.tx_queues_wanted();
        self.open_port(name, spec, |_, pool| {
            let opened = Port::open_vhost(&socket, mode, pool, n_rxq, n_txq).map_err(|e| e.to_string())?;
            crate::log::info(&format!(
                "{name}: vhost-user {} on {}",
                if mode == pmd::vhost::Mode::Client { "client" } else { "server" },
                socket.display()
            ));
            Ok(opened)
        })
    }

    /// Polls as many receive queues of each vhost-user port as its guest
    /// has queue pairs, as OVS does when a guest attaches or enables
    /// queues; a port without a guest keeps the queues it has
    /// (`options:n_rxq` until a guest first attaches).
    fn follow_guest_queues(&mut self) {
        let changed: Vec<(String, usize)> = self
            .ports
            .iter()
            .filter_map(|(name, p)| {
                let guest = p.port.vhost().filter(|v| v.connected)?;
                let pairs = usize::from((guest.vrings / 2).min(pmd::vhost::MAX_QUEUE_PAIRS));
                (pairs > 0 && pairs != p.n_rxq).then(|| (name.clone(), pairs))
            })
            .collect();
        if changed.is_empty() {
            return;
        }
        // Every queue comes back to its port first.
        self.stop_datapath();
        for (name, want) in changed {
            let Some(p) = self.ports.get_mut(&name) else {
                continue;
            };
            p.queues.rx.retain(|q| usize::from(q.queue()) < want);
            if want > p.n_rxq {
                p.queues.rx.extend(p.port.more_rx_queues(p.n_rxq as u16..want as u16));
            }
            crate::log::info(&format!("{name}: the guest has {want} queue pair(s): polling {want} receive queue(s), not {}", p.n_rxq));
            p.n_rxq = want;
        }
    }

    /// Stops the PMD threads, giving each open port its queues back (the
    /// queues of ports closed meanwhile are dropped, which closes them).
    fn stop_datapath(&mut self) {
        let mut queues = HashMap::new();
        self.dp.stop(&mut queues);
        for (name, q) in queues {
            if let Some(p) = self.ports.get_mut(&name) {
                p.queues.rx.extend(q.rx);
                p.queues.tx.extend(q.tx);
            }
        }
    }

    /// Opens (or keeps, when `spec` is unchanged) port `name` with `open`;
    /// a failure is remembered and not retried until `spec` changes.
    #[allow(clippy::type_complexity)]
    fn open_port(
        &mut self,
        name: &str,
        spec: String,
        open: impl FnOnce(&Eal, Arc<Mempool>) -> Result<(Port, Vec<pmd::RxQueue>, Vec<pmd::TxQueue>), String>,
    ) -> Result<(), String> {
        if self.eal.is_none() || self.pool.is_none() {
            return Err(match &self.eal_error {
                Some(e) => format!("DPDK failed to start: {e}"),
                None => "DPDK is not initialised: set other_config:dpdk-init=true on the Open_vSwitch row".to_owned(),
            });
        }
        if self.ports.get(name).is_some_and(|p| p.spec == spec) {
            return Ok(());
        }
        if let Some((tried, error)) = self.failed.get(name) {
            if *tried == spec {
                return Err(error.clone());
            }
        }
        // The old port goes first: its socket or device may be the new one's.
        if self.ports.contains_key(name) {
            self.stop_datapath();
            self.ports.remove(name);
        }
        let (Some(eal), Some(pool)) = (&self.eal, &self.pool) else {
            return Err("DPDK is not initialised".to_owned());
        };
        match open(eal, Arc::clone(pool)) {
            Ok((port, rxqs, txqs)) => {
                self.failed.remove(name);
                let n_rxq = rxqs.len();
                let queues = crate::datapath::Queues { rx: rxqs, tx: txqs };
                self.ports.insert(name.to_owned(), OpenPort { spec, port, n_rxq, queues });
                Ok(())
            }
            Err(error) => {
                crate::log::warn(&format!("{name}: {error}"));
                self.failed.insert(name.to_owned(), (spec, error.clone()));
                Err(error)
            }
        }
    }

    /// Makes `name` a patch port to `peer`, which must be a patch port
    /// of another bridge whose own peer is `name` (as OVS requires).
    fn open_patch(&mut self, replica: &Replica, name: &str, peer: Option<String>) -> Result<(), String> {
        let peer = peer.ok_or("options:peer is required for type patch")?;
        if peer == name {
            return Err(format!("the peer of patch port {name} may not be itself"));
        }
        let row = replica.rows("Interface").find(|(_, row)| string(row.get("name")).as_deref() == Some(peer.as_str()));
        let Some((_, row)) = row else {
            return Err(format!("the peer {peer} of patch port {name} does not exist"));
        };
        if string(row.get("type")).as_deref() != Some("patch") || map_get(row.get("options"), "peer").as_deref() != Some(name) {
            return Err(format!("the peer {peer} of patch port {name} is not a patch port with options:peer={name}"));
        }
        self.patches.insert(name.to_owned(), peer);
        Ok(())
    }

    /// Where `dpdkvhostuser` sockets go: `other_config:vhost-sock-dir`
    /// under the run directory, else the run directory. Read when DPDK
    /// starts, as OVS reads it (a change needs a restart).
    fn vhost_sock_dir(&self) -> Result<PathBuf, String> {
        self.vhost_dir.clone().unwrap_or_else(|| Ok(self.rundir.clone()))
    }

    /// The interface's OpenFlow port number: kept once given; the request
    /// when it is valid and free; else the lowest free number.
    fn ofport(&mut self, name: &str, request: Option<i64>, local: bool) -> i64 {
        if local {
            return OFPP_LOCAL;
        }
        let taken: BTreeSet<i64> = self.ofports.iter().filter(|(n, _)| n.as_str() != name).map(|(_, p)| *p).collect();
        if let Some(&p) = self.ofports.get(name) {
            if request.is_none_or(|r| r == p) {
                return p;
            }
        }
        let p = match request.filter(|r| (1..OFPP_MAX).contains(r) && !taken.contains(r)) {
            Some(r) => r,
            None => (1..OFPP_MAX).find(|p| !taken.contains(p)).unwrap_or(-1),
        };
        self.ofports.insert(name.to_owned(), p);
        p
    }
}

/// `Interface.status` of a vhost-user port, with OVS's keys.
fn vhost_status(v: &pmd::vhost::VhostStatus) -> Datum {
    let mut m = vec![
        ("mode", if v.mode == pmd::vhost::Mode::Client { "client" } else { "server" }.to_owned()),
        ("socket", v.socket.display().to_string()),
        ("status", if v.connected { "connected" } else { "disconnected" }.to_owned()),
    ];
    if v.connected {
        m.push(("num_of_vrings", v.vrings.to_string()));
        m.push(("n_rxq", (v.vrings / 2).to_string()));
        m.push(("numa", v.numa.to_string()));
        m.push(("features", format!("0x{:016x}", v.features)));
    }
    Datum::Map(m.into_iter().map(|(k, v)| (Atom::String(k.to_owned()), Atom::String(v))).collect())
}

/// The cores of `other_config:pmd-cpu-mask` this process may use; by
/// default the last usable core (core 0 stays the control thread's). A
/// mask that is not hexadecimal or names no usable core gives the
/// default too, and a warning.
fn pmd_cores(other_config: Option<&Datum>) -> (Vec<usize>, Option<String>) {
    let usable = pmd::CpuMask::usable_cores();
    let default = usable.last().map(|&c| vec![c]).unwrap_or_default();
    let Some(mask) = map_get(other_config, "pmd-cpu-mask") else {
        return (default, None);
    };
    let cores: Vec<usize> = match pmd::CpuMask::parse(&mask) {
        Ok(m) => m.cores().iter().copied().filter(|c| usable.contains(c)).collect(),
        Err(e) => return (default.clone(), Some(format!("other_config:pmd-cpu-mask={mask}: {e}: using core(s) {default:?}"))),
    };
    if cores.is_empty() {
        let why = format!("other_config:pmd-cpu-mask={mask} names none of the cores {usable:?} this process may use: using {default:?}");
        return (default, Some(why));
    }
    (cores, None)
}

/// The largest MTU the shared pool's buffers carry: 2 048 bytes of data
/// less an Ethernet header, a VLAN tag and the CRC.
const MAX_MTU: u16 = 2048 - 14 - 4 - 4;

/// `options:n_rxq`: 1 when absent; a value that is not a number of 1 to
/// 32 is 1 too, with a warning in `warnings` (as OVS warns and uses its
/// default).
fn n_rxq(options: Option<&Datum>, warnings: &mut Vec<String>) -> u16 {
    let Some(v) = map_get(options, "n_rxq") else {
        return 1;
    };
    let max = pmd::vhost::MAX_QUEUE_PAIRS;
    match v.parse() {
        Ok(n) if (1..=max).contains(&n) => n,
        _ => {
            warnings.push(format!("options:n_rxq={v} is not a number of queues from 1 to {max}: using 1"));
            1
        }
    }
}

/// A `dpdk` interface's queues and MTU from its options (`n_rxq`,
/// `n_rxq_desc`, `n_txq_desc`) and `mtu_request`, as OVS reads them:
/// descriptor counts are powers of two up to 4096, the MTU at most
/// [`MAX_MTU`] (the shared pool's buffers hold 2 048-byte frames). A
/// value out of range does not take the port down, as in OVS: the
/// default is used, and `warnings` says why.
fn port_config(options: Option<&Datum>, mtu_request: Option<i64>, warnings: &mut Vec<String>) -> PortConfig {
    let mut config = PortConfig { n_rxq: n_rxq(options, warnings), ..PortConfig::default() };
    if let Some(mtu) = mtu_request {
        match u16::try_from(mtu) {
            Ok(m) if (68..=MAX_MTU).contains(&m) => config.mtu = Some(m),
            _ => warnings.push(format!(
                "mtu_request={mtu} is not supported: ferrovs' buffers hold frames of an MTU from 68 to {MAX_MTU} (no jumbo frames yet); the MTU stays the device's"
            )),
        }
    }
    let defaults = PortConfig::default();
    for (key, slot, default) in
        [("n_rxq_desc", &mut config.rxq_size, defaults.rxq_size), ("n_txq_desc", &mut config.txq_size, defaults.txq_size)]
    {
        if let Some(v) = map_get(options, key) {
            match v.parse::<u16>() {
                Ok(n) if n.is_power_of_two() && n <= 4096 => *slot = n,
                _ => warnings.push(format!("options:{key}={v} is not a power of two from 1 to 4096: using {default}")),
            }
        }
    }
    config
}

/// Gives the kernel device `name` (the local port) `mac`, if it has
/// another.
fn set_local_mac(name: &str, mac: Option<[u8; 6]>) -> Result<(), String> {
    match mac.filter(|m| crate::tap::mac(name).ok().as_ref() != Some(m)) {
        Some(m) => crate::tap::set_mac(name, m).map_err(|e| format!("could not set the MAC of {name}: {e}")),
        None => Ok(()),
    }
}

/// The mbuf pool every port shares, sized as OVS sizes its shared pool:
/// 256 Ki buffers, halved while the memory is short, down to 16 Ki.
fn shared_pool(eal: &Eal) -> Result<Mempool, String> {
    let mut n: u32 = 4096 * 64;
    loop {
        match Mempool::new(eal, &MempoolConfig::new("ferrovs", n - 1)) {
            Ok(pool) => {
                crate::log::info(&format!("mbuf pool of {} buffers", n - 1));
                return Ok(pool);
            }
            Err(e) if n <= 4096 * 4 => return Err(e.to_string()),
            Err(_) => n /= 2,
        }
    }
}

/// A bridge's datapath id, 16 hex digits, as OVS chooses it:
/// `other_config:datapath-id` when valid, else from `other_config:hwaddr`,
/// else from the bridge's UUID (a stable, locally administered MAC).
fn datapath_id(bridge: &Uuid, other_config: Option<&Datum>) -> String {
    if let Some(id) = map_get(other_config, "datapath-id") {
        let id = id.strip_prefix("0x").unwrap_or(&id).to_ascii_lowercase();
        if id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()) {
            return id;
        }
    }
    if let Some(mac) = map_get(other_config, "hwaddr") {
        let digits: String = mac.split(':').collect();
        if mac.split(':').count() == 6 && digits.len() == 12 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return format!("0000{}", digits.to_ascii_lowercase());
        }
    }
    let mac = ((bridge.0 as u64) & 0x0000_feff_ffff_ffff) | 0x0000_0200_0000_0000;
    format!("{mac:016x}")
}

/// Adds to `ops` an update of row `uuid` setting the columns of `want`
/// whose value in `replica` differs, if any does (so the daemon's own
/// writes, echoed back by the server, settle instead of looping).
fn update_changed<'a>(ops: &mut Vec<Value>, replica: &Replica, table: &str, uuid: &Uuid, want: impl IntoIterator<Item = (&'a str, Datum)>) {
    let row: serde_json::Map<String, Value> = want
        .into_iter()
        .filter(|(col, value)| replica.value(table, uuid, col).as_ref() != Some(value))
        .map(|(col, value)| (col.to_owned(), value.to_json()))
        .collect();
    if !row.is_empty() {
        ops.push(json!({"op": "update", "table": table, "where": [["_uuid", "==", ["uuid", uuid.to_string()]]], "row": row}));
    }
}
