//! Open vSwitch's own programs as test peers: a private `ovsdb-server`
//! with the standard `Open_vSwitch` schema in a temporary directory,
//! stopped by pid when dropped, and the real `ovs-vsctl` and `ovsdb-tool`
//! pointed at it. Debian's `openvswitch-common` and `openvswitch-switch`
//! provide them (`make setup` installs both).
//!
//! Test support: functions panic with a message on failure, as a failed
//! test should.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a failure is a failed test

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The standard schema, as Debian installs it.
pub const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// A private `ovsdb-server` serving a fresh `Open_vSwitch` database.
#[derive(Debug)]
pub struct OvsdbServer {
    child: Child,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

impl OvsdbServer {
    /// Creates `conf.db` from [`SCHEMA`] in a new temporary directory and
    /// serves it on `db.sock` there.
    pub fn start() -> OvsdbServer {
        Self::start_with(|_| Vec::new())
    }

    /// As [`OvsdbServer::start`], with the database a one-server cluster
    /// (`ovsdb-tool create-cluster`), which keeps transaction history.
    pub fn start_clustered() -> OvsdbServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("conf.db");
        let raft = format!("unix:{}", dir.path().join("raft.sock").display());
        let ok = Command::new("ovsdb-tool")
            .arg("create-cluster")
            .arg(&db)
            .arg(SCHEMA)
            .arg(&raft)
            .status()
            .expect("ovsdb-tool (run `make setup`)");
        assert!(ok.success(), "ovsdb-tool create-cluster failed");
        let child = spawn(dir.path(), &[]);
        OvsdbServer { child, dir, extra: Vec::new() }
    }

    /// As [`OvsdbServer::start`], with more `ovsdb-server` arguments made
    /// from the directory (for example `--remote=pssl:…` and its key files).
    pub fn start_with(extra: impl FnOnce(&Path) -> Vec<String>) -> OvsdbServer {
        Self::start_schema(Path::new(SCHEMA), extra)
    }

    /// As [`OvsdbServer::start_with`], serving a database of another schema.
    pub fn start_schema(schema: &Path, extra: impl FnOnce(&Path) -> Vec<String>) -> OvsdbServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("conf.db");
        let ok = Command::new("ovsdb-tool").arg("create").arg(&db).arg(schema).status().expect("ovsdb-tool (run `make setup`)");
        assert!(ok.success(), "ovsdb-tool create failed");
        let extra = extra(dir.path());
        let child = spawn(dir.path(), &extra);
        OvsdbServer { child, dir, extra }
    }

    /// The directory holding the database, sockets and logs (use it as a
    /// test's run directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The database file.
    pub fn db(&self) -> PathBuf {
        self.dir().join("conf.db")
    }

    /// The socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir().join("db.sock")
    }

    /// The remote, `unix:…/db.sock`.
    pub fn remote(&self) -> String {
        format!("unix:{}", self.socket().display())
    }

    /// Kills the server (SIGKILL, as a crash), leaving its files.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same database and socket.
    pub fn restart(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        self.child = spawn(self.dir.path(), &self.extra);
    }

    /// Runs the real `ovs-vsctl --no-wait ARGS` against this server and
    /// returns its output.
    pub fn vsctl(&self, args: &[&str]) -> String {
        let out = Command::new("ovs-vsctl").arg(format!("--db={}", self.remote())).arg("--no-wait").args(args).output().unwrap();
        assert!(out.status.success(), "ovs-vsctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs the real `ovs-appctl` against this server's management socket.
    pub fn appctl(&self, args: &[&str]) -> String {
        let ctl = self.dir().join("ovsdb-server.ctl");
        let out = Command::new("ovs-appctl").arg("-t").arg(&ctl).args(args).output().unwrap();
        assert!(out.status.success(), "ovs-appctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs the real `ovsdb-tool transact` on the database file (while the
    /// server is stopped).
    pub fn transact_offline(&self, ops: &serde_json::Value) {
        let out = Command::new("ovsdb-tool").arg("transact").arg(self.db()).arg(ops.to_string()).output().unwrap();
        assert!(out.status.success(), "ovsdb-tool transact: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for OvsdbServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(dir: &Path, extra: &[String]) -> Child {
    let child = Command::new("ovsdb-server")
        .arg(dir.join("conf.db"))
        .arg(format!("--remote=punix:{}", dir.join("db.sock").display()))
        .arg(format!("--unixctl={}", dir.join("ovsdb-server.ctl").display()))
        .arg(format!("--log-file={}", dir.join("ovsdb-server.log").display()))
        .arg("--no-chdir")
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ovsdb-server (run `make setup`)");
    wait_for(&dir.join("db.sock"));
    child
}

/// The `ovs-vsctl` arguments that start DPDK for a test in the switch the
/// database configures: EAL with file prefix `prefix`, no PCI scan, its
/// errors only, then the `other_config` settings `more`.
pub fn dpdk_test_config(prefix: &str, more: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["set", "open_vswitch", ".", "other_config:dpdk-init=true"].map(String::from).to_vec();
    args.extend(more.iter().map(|m| format!("other_config:{m}")));
    args.push(format!("other_config:dpdk-extra=--no-pci --log-level=error --file-prefix={prefix}"));
    args
}

/// Stops a daemon as its service manager would: SIGTERM, so that it cleans
/// up after itself (pidfile, sockets, DPDK's runtime directory), then
/// SIGKILL if it has not ended within five seconds; reaps it either way.
pub fn terminate(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits up to 10 s for `path` to exist.
pub fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} did not appear", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A switch CA with a server and a client identity, made by the real
/// `ovs-pki` in `dir`: `(ca_cert, [server key, server cert], [client key,
/// client cert])`.
pub fn pki(dir: &Path) -> (PathBuf, [PathBuf; 2], [PathBuf; 2]) {
    let pki = dir.join("pki");
    let run = |args: &[&str]| {
        let out = Command::new("ovs-pki")
            .arg(format!("--dir={}", pki.display()))
            .arg(format!("--log={}", dir.join("pki.log").display()))
            .args(args)
            .current_dir(dir)
            .output()
            .expect("ovs-pki (run `make setup`)");
        assert!(out.status.success(), "ovs-pki {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["init"]);
    run(&["req+sign", "server", "switch"]);
    run(&["req+sign", "client", "switch"]);
    let pair = |name: &str| [dir.join(format!("{name}-privkey.pem")), dir.join(format!("{name}-cert.pem"))];
    (pki.join("switchca/cacert.pem"), pair("server"), pair("client"))
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the daemon `how` says on `ovsdb` (see [`Vswitchd`]).
fn spawn_daemon(name: &str, ovsdb: &OvsdbServer, how: &(PathBuf, Vec<String>, Option<u32>)) -> Child {
    let (bin, sub, cpu) = how;
    let dir = ovsdb.dir().to_owned();
    // The namespace's loopback is brought up, so controllers started in
    // it with `in_netns` are reachable on 127.0.0.1; `exec` keeps the
    // pid the daemon's.
    let mut command = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string(), "unshare"]);
            c
        }
        None => Command::new("unshare"),
    };
    let child = command
        .args(["--net", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(bin)
        .args(sub)
        .arg(ovsdb.remote())
        .arg(format!("--pidfile={}", dir.join("ovs-vswitchd.pid").display()))
        .arg(format!("--unixctl={}", dir.join("ovs-vswitchd.ctl").display()))
        .arg(format!("--log-file={}", dir.join("ovs-vswitchd.log").display()))
        .env("OVS_RUNDIR", &dir)
        .env("OVS_LOGDIR", &dir)
        .env("OVS_DBDIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    wait_for(&dir.join("ovs-vswitchd.ctl"));
    child
}

/// Where Debian's `openvswitch-switch-dpdk` installs OVS built with DPDK.
pub const OVS_VSWITCHD_DPDK: &str = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk";

/// A switch daemon with its own `ovsdb-server` and run directory, in a
/// network namespace of its own (`unshare --net`, so the bridges' tap
/// devices stay private): the real `ovs-vswitchd`, or ferrovs. Stopped by
/// pid when dropped.
#[derive(Debug)]
pub struct Vswitchd {
    ovsdb: OvsdbServer,
    child: Child,
    name: &'static str,
    /// The program, its subcommand and its CPU, to start it again.
    how: (PathBuf, Vec<String>, Option<u32>),
}

impl Vswitchd {
    /// Open vSwitch's own `ovs-vswitchd` (userspace datapath for bridges
    /// of `datapath_type=netdev`).
    pub fn start_ovs() -> Vswitchd {
        Self::start("ovs-vswitchd", Path::new("ovs-vswitchd"), &[], None)
    }

    /// Open vSwitch built with DPDK (Debian's `openvswitch-switch-dpdk`).
    pub fn start_ovs_dpdk() -> Vswitchd {
        Self::start("ovs-vswitchd-dpdk", Path::new(OVS_VSWITCHD_DPDK), &[], None)
    }

    /// As [`Vswitchd::start_ovs`] or [`Vswitchd::start_ferrovs`] (`bin`
    /// given), with every thread of the daemon on CPU `cpu` (`taskset`).
    pub fn start_pinned(ferrovs: Option<&Path>, cpu: u32) -> Vswitchd {
        match ferrovs {
            Some(bin) => Self::start("ferrovs", bin, &["vswitchd"], Some(cpu)),
            None => Self::start("ovs-vswitchd", Path::new("ovs-vswitchd"), &[], Some(cpu)),
        }
    }

    /// ferrovs (`bin` is the `ferrovs` executable) as `ferrovs vswitchd`.
    pub fn start_ferrovs(bin: &Path) -> Vswitchd {
        Self::start("ferrovs", bin, &["vswitchd"], None)
    }

    fn start(name: &'static str, bin: &Path, sub: &[&str], cpu: Option<u32>) -> Vswitchd {
        let ovsdb = OvsdbServer::start();
        ovsdb.vsctl(&["init"]);
        let how = (bin.to_owned(), sub.iter().map(|s| s.to_string()).collect(), cpu);
        let child = spawn_daemon(name, &ovsdb, &how);
        Vswitchd { ovsdb, child, name, how }
    }

    /// Kills the daemon (SIGKILL, as a crash) and starts it again on the
    /// same database and run directory.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.dir().join("ovs-vswitchd.ctl"));
        self.child = spawn_daemon(self.name, &self.ovsdb, &self.how);
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// "ovs-vswitchd", "ovs-vswitchd-dpdk" or "ferrovs".
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        self.ovsdb.dir()
    }

    /// The database server.
    pub fn ovsdb(&self) -> &OvsdbServer {
        &self.ovsdb
    }

    /// `ovs-vsctl ARGS`, waiting (5 s at most) for the daemon to apply it.
    pub fn vsctl(&self, args: &[&str]) -> String {
        let out = Command::new("ovs-vsctl").arg(format!("--db={}", self.ovsdb.remote())).arg("--timeout=5").args(args).output().unwrap();
        assert!(out.status.success(), "{}: ovs-vsctl {args:?}: {}", self.name, String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `ovs-ofctl ARGS` (bridge names reach this daemon through
    /// `OVS_RUNDIR`) and returns its output, failed or not.
    pub fn ofctl(&self, args: &[&str]) -> std::process::Output {
        Command::new("ovs-ofctl").args(args).env("OVS_RUNDIR", self.dir()).output().unwrap()
    }

    /// A command that runs `program` in the daemon's network namespace
    /// (`nsenter`), where its loopback is.
    pub fn in_netns(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("--target").arg(self.child.id().to_string()).arg("--net").arg(program);
        c
    }

    /// `ovs-appctl -t <the daemon's control socket> ARGS`.
    pub fn appctl(&self, args: &[&str]) -> String {
        self.appctl_result(args).unwrap_or_else(|e| panic!("{}: ovs-appctl {args:?}: {e}", self.name))
    }

    /// Runs the real `ovs-appctl` against the switch: its output, or its
    /// error message when the command fails.
    pub fn appctl_result(&self, args: &[&str]) -> Result<String, String> {
        let ctl = self.dir().join("ovs-vswitchd.ctl");
        let out = Command::new("ovs-appctl").arg("-t").arg(&ctl).args(args).output().unwrap();
        match out.status.success() {
            true => Ok(String::from_utf8(out.stdout).unwrap()),
            false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        }
    }

    /// The daemon's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("ovs-vswitchd.log")).unwrap_or_default()
    }
}

impl Drop for Vswitchd {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}
