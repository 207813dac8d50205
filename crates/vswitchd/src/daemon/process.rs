//! How the daemon starts, as `ovs-vswitchd` does: its command line
//! (everything Debian's `ovs-ctl` and Open vSwitch's service files pass),
//! where its files go, `--detach`, `--monitor` and `--mlockall`.
//!
//! Installed as `ovs-vswitchd` (a link to `ferrovs`, in the directory
//! `ovs-ctl`'s `OVS_SBINDIR` names), `ferrovs` reads this command line
//! directly; `ovs-ctl start`, `status` and `stop` then work unchanged
//! (`crates/vswitchd/tests/ovs_ctl.rs`).
//!
//! Options that change nothing in ferrovs are accepted, and say why:
//! `--no-chdir` (the daemon never changes directory), `--disable-system`
//! (there is no kernel datapath), `--no-self-confinement` (it confines
//! itself to nothing). `-v` specs for Open vSwitch's modules (`dpdk`,
//! `bridge`, …) are logged and left out: ferrovs logs as one module.

use std::ffi::OsString;
use std::path::PathBuf;

use super::DaemonError;

/// Command line of `ferrovs vswitchd`, as `ovs-vswitchd`'s.
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Database remote (default `unix:$OVS_RUNDIR/db.sock`).
    database: Option<String>,
    /// Write the process id to FILE (default `$OVS_RUNDIR/ovs-vswitchd.pid`).
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pidfile: Option<String>,
    /// With --pidfile: replace a pidfile another running process holds.
    #[arg(long)]
    overwrite_pidfile: bool,
    /// Run in the background once started.
    #[arg(long)]
    pub(super) detach: bool,
    /// Restart the daemon when it crashes (a monitor process waits on it).
    #[arg(long)]
    pub(super) monitor: bool,
    /// Log to FILE (default `$OVS_LOGDIR/ovs-vswitchd.log`).
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    log_file: Option<String>,
    /// Log levels: `[module][:destination][:level]` (`-v` alone: debug
    /// everywhere), as `ovs-vswitchd -v`.
    #[arg(short = 'v', long = "verbose", value_name = "SPEC", num_args = 0..=1, require_equals = true, default_missing_value = "dbg")]
    verbose: Vec<String>,
    /// Management socket (default `$OVS_RUNDIR/ovs-vswitchd.PID.ctl`).
    #[arg(long, value_name = "SOCKET", require_equals = true)]
    unixctl: Option<PathBuf>,
    /// Lock the daemon's memory into RAM as it is touched (no swapping).
    #[arg(long)]
    mlockall: bool,
    /// Run as USER[:GROUP] (only the user it is started as, so far).
    #[arg(long, value_name = "USER[:GROUP]")]
    user: Option<String>,
    /// Accepted: ferrovs never changes its working directory.
    #[arg(long)]
    no_chdir: bool,
    /// Accepted: ferrovs has no kernel datapath to disable.
    #[arg(long)]
    disable_system: bool,
    /// Accepted: ferrovs does not confine itself (no AppArmor/SELinux
    /// transition to skip).
    #[arg(long)]
    no_self_confinement: bool,
    /// Print the version (`ovs-ctl` reads its last word) and exit.
    #[arg(short = 'V', long)]
    pub(super) version: bool,
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

fn env_dir(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

/// Where the daemon's files are.
pub(super) struct Paths {
    pub(super) rundir: PathBuf,
    pub(super) database: String,
    pub(super) ssl: Option<ovsdb::SslConfig>,
    pub(super) pidfile: Option<PathBuf>,
    pub(super) log_file: Option<PathBuf>,
    pub(super) unixctl: PathBuf,
}

impl Paths {
    pub(super) fn new(args: &DaemonArgs) -> Paths {
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

/// Rewrites OVS's `-vSPEC` (the spec attached, as OVS's optional
/// arguments are) as `--verbose=SPEC`, so that `-v` followed by the
/// database is `-v` alone, as in OVS.
pub fn ovs_style_args(args: &mut [OsString]) {
    for a in args {
        let Some(text) = a.to_str() else { continue };
        if let Some(spec) = text.strip_prefix("-v").filter(|s| !s.is_empty() && !text.starts_with("--")) {
            *a = format!("--verbose={spec}").into();
        }
    }
}

/// The version line: `ovs-ctl` stores its last word as `ovs_version`.
pub fn version_line() -> String {
    format!("ovs-vswitchd (ferrovs, for Open vSwitch 3.1 set-ups) ferrovs-{}", env!("CARGO_PKG_VERSION"))
}

/// Whether this process was started as `ovs-vswitchd` (a link to
/// `ferrovs` of that name).
pub fn invoked_as_ovs_vswitchd() -> bool {
    std::env::args_os().next().map(PathBuf::from).and_then(|p| p.file_name().map(|n| n == "ovs-vswitchd")).unwrap_or(false)
}

/// The program and arguments that start this daemon again, without the
/// options in `drop`: as it was started (the `ovs-vswitchd` link keeps
/// its name, which `ovs-ctl` checks in `/proc/PID/comm`), else
/// `ferrovs vswitchd`.
fn again(drop: &[&str]) -> Result<(OsString, Vec<OsString>), DaemonError> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let program = if invoked_as_ovs_vswitchd() {
        args.remove(0)
    } else {
        args.remove(0);
        std::env::current_exe().map_err(|e| DaemonError::Detach(e.to_string()))?.into_os_string()
    };
    args.retain(|a| !drop.iter().any(|d| a == d));
    Ok((program, args))
}

/// What the options ask before the daemon starts: the log levels, the
/// user, locked memory, a pidfile no one else holds. Returns the notes to
/// log once the log is open.
pub(super) fn prepare(args: &DaemonArgs, paths: &Paths) -> Result<Vec<String>, DaemonError> {
    let mut notes = Vec::new();
    for spec in &args.verbose {
        // One of Open vSwitch's own modules: noted, left out; anything
        // else goes to the log as `vlog/set` takes it (an unknown word
        // is an error there, as in OVS).
        let other_module =
            |w: &&str| *w != "vswitchd" && OVS_MODULES.lines().filter(|l| !l.starts_with('#')).any(|l| l.split(' ').any(|m| m == *w));
        match spec.split(':').find(other_module) {
            Some(m) => notes.push(format!("-v{spec}: ferrovs logs as one module (vswitchd), not as Open vSwitch's \"{m}\"; left as it is")),
            None => {
                crate::log::set(std::slice::from_ref(spec)).map_err(|e| DaemonError::Usage(format!("-v{spec}: {e}")))?;
            }
        }
    }
    if let Some(user) = &args.user {
        check_user(user)?;
    }
    if let (Some(path), false) = (&paths.pidfile, args.overwrite_pidfile) {
        if let Some(pid) = crate::pidfile::holder(path) {
            return Err(DaemonError::Usage(format!("{}: already locked by pid {pid} (--overwrite-pidfile replaces it)", path.display())));
        }
    }
    if args.mlockall {
        notes.push(mlockall());
    }
    Ok(notes)
}

/// The log modules of Open vSwitch's `ovs-vswitchd`.
const OVS_MODULES: &str = include_str!("ovs-vlog-modules.txt");

/// `--user`: the user the daemon runs as now (and its group, if given).
fn check_user(spec: &str) -> Result<(), DaemonError> {
    let (user, group) = spec.split_once(':').map_or((spec, None), |(u, g)| (u, Some(g)));
    // SAFETY: getuid and getgid take no arguments and cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let named = |name: &str, id: u32, file: &str| -> bool {
        name == id.to_string()
            || std::fs::read_to_string(file)
                .unwrap_or_default()
                .lines()
                .any(|l| l.split(':').next() == Some(name) && l.split(':').nth(2) == Some(&id.to_string()))
    };
    if !named(user, uid, "/etc/passwd") || group.is_some_and(|g| !named(g, gid, "/etc/group")) {
        return Err(DaemonError::Usage(format!(
            "--user {spec}: ferrovs runs as the user it is started as (uid {uid}, gid {gid}); switching to another is not supported yet"
        )));
    }
    Ok(())
}

/// `--mlockall`: pages locked as they are touched (`MCL_ONFAULT`, so the
/// allocator's reserved but untouched address space is not populated);
/// as OVS, a failure is logged and the daemon goes on.
fn mlockall() -> String {
    // SAFETY: mlockall takes flags only; it changes how the kernel pages
    // this process, not any memory Rust knows of.
    let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) };
    if rc == 0 {
        "--mlockall: memory locked as it is touched".to_owned()
    } else {
        format!("--mlockall: mlockall failed: {}", std::io::Error::last_os_error())
    }
}

/// `--detach`: start the same command without it in a new session, and
/// return once it has written its pidfile or its socket.
pub(super) fn detach(paths: &Paths) -> Result<(), DaemonError> {
    use std::os::unix::process::CommandExt;
    let (program, args) = again(&["--detach"])?;
    let mut child = std::process::Command::new(program)
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

/// The signals after which OVS's monitor restarts the daemon: a crash.
const CRASHES: [i32; 9] =
    [libc::SIGABRT, libc::SIGALRM, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGPIPE, libc::SIGSEGV, libc::SIGXCPU, libc::SIGXFSZ];

/// `--monitor`: runs the daemon as a child, and again after it crashes
/// (a crash signal, or a Rust panic's exit status 101); returns when it
/// exits otherwise. A daemon that crashes within 10 s of starting is
/// restarted 10 s later, as OVS's monitor backs off.
pub(super) fn monitor(paths: &Paths) -> Result<(), DaemonError> {
    use std::os::unix::process::ExitStatusExt;
    if let Some(log) = &paths.log_file {
        crate::log::to_file(log).map_err(|source| DaemonError::Io { what: "cannot open log file", path: log.clone(), source })?;
    }
    let (program, args) = again(&["--monitor"])?;
    loop {
        let started = std::time::Instant::now();
        let status = std::process::Command::new(&program)
            .args(&args)
            .status()
            .map_err(|e| DaemonError::Detach(format!("the monitored daemon did not start: {e}")))?;
        let crashed = status.signal().is_some_and(|s| CRASHES.contains(&s)) || status.code() == Some(101);
        if !crashed {
            return Ok(());
        }
        crate::log::warn(&format!("monitor: the daemon died ({status}); restarting it"));
        if started.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_secs(10));
        }
    }
}
