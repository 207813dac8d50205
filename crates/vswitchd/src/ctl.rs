//! `ferrovs ctl start|stop|status`: the counterpart of `ovs-ctl`.
//!
//! `start` creates the database from the standard schema if it is missing
//! (or converts it when the schema is newer), starts `ovsdb-server` (remotes
//! `punix:<rundir>/db.sock` and `db:Open_vSwitch,Open_vSwitch,manager_options`)
//! and `ferrovs vswitchd`, each with a pidfile in the run directory, and
//! sets the `Open_vSwitch` row's identity columns. `stop` asks both to exit
//! over their management sockets and waits for them; `status` says which
//! run. Every path can be given; nothing is written outside them.
//!
//! `ovs-appctl -t ovs-vswitchd` finds the daemon as it finds OVS's: through
//! `<rundir>/ovs-vswitchd.pid` and `<rundir>/ovs-vswitchd.<pid>.ctl`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `ferrovs ctl` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Ctl {
    /// Create or upgrade the database, start ovsdb-server and ferrovs vswitchd.
    Start(StartArgs),
    /// Stop ferrovs vswitchd and ovsdb-server.
    Stop(DirArgs),
    /// Say whether ovsdb-server and ferrovs vswitchd run.
    Status(DirArgs),
}

/// Where things live (defaults as `ovs-ctl`'s, from `OVS_RUNDIR`,
/// `OVS_LOGDIR`, `OVS_DBDIR`).
#[derive(Debug, clap::Args)]
pub struct DirArgs {
    /// Run directory: sockets and pidfiles.
    #[arg(long, env = "OVS_RUNDIR", default_value = "/var/run/openvswitch")]
    rundir: PathBuf,
    /// Log directory.
    #[arg(long, env = "OVS_LOGDIR", default_value = "/var/log/openvswitch")]
    logdir: PathBuf,
    /// Database directory.
    #[arg(long, env = "OVS_DBDIR", default_value = "/etc/openvswitch")]
    dbdir: PathBuf,
}

/// `ferrovs ctl start` options.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    #[command(flatten)]
    dirs: DirArgs,
    /// Database file (default `<dbdir>/conf.db`).
    #[arg(long)]
    db_file: Option<PathBuf>,
    /// Schema to create or convert the database with.
    #[arg(long, default_value = "/usr/share/openvswitch/vswitch.ovsschema")]
    db_schema: PathBuf,
    /// `external_ids:system-id`: a UUID, or `random`.
    #[arg(long)]
    system_id: Option<String>,
    /// `system_type`.
    #[arg(long)]
    system_type: Option<String>,
    /// `system_version`.
    #[arg(long)]
    system_version: Option<String>,
    /// Remove every bridge from the database before starting the switch.
    #[arg(long)]
    delete_bridges: bool,
}

/// Why a `ctl` command failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// A program could not be run or failed.
    #[error("{0}")]
    Command(String),
    /// A directory could not be made.
    #[error("cannot create {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    /// A daemon did not come up or go down in time.
    #[error("{0}")]
    Timeout(String),
}

/// Runs a `ctl` subcommand.
pub fn run(ctl: Ctl) -> Result<(), CtlError> {
    match ctl {
        Ctl::Start(args) => start(&args),
        Ctl::Stop(dirs) => stop(&dirs),
        Ctl::Status(dirs) => {
            for name in ["ovsdb-server", "ovs-vswitchd"] {
                match running(&dirs.rundir, name) {
                    Some(pid) => println!("{name} is running with pid {pid}"),
                    None => println!("{name} is not running"),
                }
            }
            Ok(())
        }
    }
}

fn say(msg: &str) {
    println!("ferrovs ctl: {msg}");
}

/// Runs `program args`, failing with its stderr.
fn exec(program: &str, args: &[&str]) -> Result<String, CtlError> {
    let out = Command::new(program).args(args).output().map_err(|e| CtlError::Command(format!("cannot run {program}: {e}")))?;
    if !out.status.success() {
        return Err(CtlError::Command(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The pid in `<rundir>/<name>.pid` if that process is alive.
fn running(rundir: &Path, name: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(rundir.join(format!("{name}.pid"))).ok()?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Result<(), CtlError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        if Instant::now() > deadline {
            return Err(CtlError::Timeout(format!("{what} within 10 s")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn start(args: &StartArgs) -> Result<(), CtlError> {
    let d = &args.dirs;
    for dir in [&d.rundir, &d.logdir, &d.dbdir] {
        std::fs::create_dir_all(dir).map_err(|e| CtlError::Dir(dir.clone(), e))?;
    }
    let db = args.db_file.clone().unwrap_or_else(|| d.dbdir.join("conf.db"));
    let (db_s, schema) = (path_str(&db), path_str(&args.db_schema));
    if !db.exists() {
        say(&format!("creating {db_s} from {schema}"));
        exec("ovsdb-tool", &["create", &db_s, &schema])?;
    } else if exec("ovsdb-tool", &["needs-conversion", &db_s, &schema])?.trim() == "yes" {
        say(&format!("converting {db_s} to {schema}"));
        exec("ovsdb-tool", &["convert", &db_s, &schema])?;
    }

    let sock = d.rundir.join("db.sock");
    let remote = format!("unix:{}", sock.display());
    if let Some(pid) = running(&d.rundir, "ovsdb-server") {
        say(&format!("ovsdb-server is already running with pid {pid}"));
    } else {
        exec(
            "ovsdb-server",
            &[
                &db_s,
                &format!("--remote=punix:{}", sock.display()),
                "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
                &format!("--pidfile={}", d.rundir.join("ovsdb-server.pid").display()),
                &format!("--unixctl={}", d.rundir.join("ovsdb-server.ctl").display()),
                &format!("--log-file={}", d.logdir.join("ovsdb-server.log").display()),
                "--no-chdir",
                "--detach",
            ],
        )?;
        say("started ovsdb-server");
    }
    let vsctl = |more: &[&str]| {
        let mut all = vec![format!("--db={remote}"), "--no-wait".to_owned()];
        all.extend(more.iter().map(|s| s.to_string()));
        exec("ovs-vsctl", &all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    vsctl(&["init"])?;
    let mut set =
        vec!["set".to_owned(), "Open_vSwitch".to_owned(), ".".to_owned(), format!("ovs_version=ferrovs-{}", env!("CARGO_PKG_VERSION"))];
    if let Some(id) = &args.system_id {
        let id = if id == "random" { random_uuid()? } else { id.clone() };
        set.push(format!("external_ids:system-id={id}"));
    }
    if let Some(t) = &args.system_type {
        set.push(format!("system_type={t}"));
    }
    if let Some(v) = &args.system_version {
        set.push(format!("system_version={v}"));
    }
    vsctl(&set.iter().map(String::as_str).collect::<Vec<_>>())?;
    if args.delete_bridges {
        for br in vsctl(&["list-br"])?.lines().filter(|l| !l.is_empty()) {
            say(&format!("deleting bridge {br}"));
            vsctl(&["--if-exists", "del-br", br])?;
        }
    }

    if let Some(pid) = running(&d.rundir, "ovs-vswitchd") {
        say(&format!("ferrovs vswitchd is already running with pid {pid}"));
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| CtlError::Command(e.to_string()))?;
    let status = Command::new(exe)
        .arg("vswitchd")
        .arg(&remote)
        .arg(format!("--pidfile={}", d.rundir.join("ovs-vswitchd.pid").display()))
        .arg(format!("--log-file={}", d.logdir.join("ovs-vswitchd.log").display()))
        .arg("--detach")
        .env("OVS_RUNDIR", &d.rundir)
        .env("OVS_LOGDIR", &d.logdir)
        .status()
        .map_err(|e| CtlError::Command(format!("cannot start ferrovs vswitchd: {e}")))?;
    if !status.success() {
        return Err(CtlError::Command(format!(
            "ferrovs vswitchd did not start ({status}); see {}",
            d.logdir.join("ovs-vswitchd.log").display()
        )));
    }
    let pid = running(&d.rundir, "ovs-vswitchd").unwrap_or(0);
    wait_until("ferrovs vswitchd's management socket", || d.rundir.join(format!("ovs-vswitchd.{pid}.ctl")).exists())?;
    say(&format!("started ferrovs vswitchd (pid {pid})"));
    Ok(())
}

fn random_uuid() -> Result<String, CtlError> {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|s| s.trim().to_owned())
        .map_err(|e| CtlError::Command(format!("cannot make a random UUID: {e}")))
}

fn stop(d: &DirArgs) -> Result<(), CtlError> {
    for (name, ctl) in [("ovs-vswitchd", None), ("ovsdb-server", Some(d.rundir.join("ovsdb-server.ctl")))] {
        let Some(pid) = running(&d.rundir, name) else {
            say(&format!("{name} is not running"));
            continue;
        };
        let ctl = ctl.unwrap_or_else(|| d.rundir.join(format!("{name}.{pid}.ctl")));
        exec("ovs-appctl", &["-t", &path_str(&ctl), "exit"])?;
        wait_until(&format!("{name} (pid {pid}) to exit"), || !Path::new(&format!("/proc/{pid}")).exists())?;
        say(&format!("stopped {name} (pid {pid})"));
    }
    Ok(())
}
