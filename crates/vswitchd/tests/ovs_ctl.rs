//! Debian's own `ovs-ctl`, unchanged, starting, checking and stopping
//! ferrovs installed as `ovs-vswitchd` (a link to `ferrovs` in the
//! directory `OVS_SBINDIR` names, beside a link to the real
//! `ovsdb-server`): it passes ferrovs `ovs-vswitchd`'s whole command line
//! (`-vconsole:emer -vsyslog:err -vfile:info --mlockall --no-chdir
//! --log-file=… --pidfile=… --detach --monitor`) and reads its
//! `--version`; `ovs-vsctl`, `ovs-ofctl` and `ovs-appctl` then work on the
//! switch, `--monitor` restarts it after a crash, and `ovs-ctl stop`
//! stops both daemons. Everything runs in a temporary directory, the
//! daemons in a network namespace of their own (`unshare --net`, for the
//! bridge's tap device); leftovers are stopped by the pids of their
//! pidfiles.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const OVS_CTL: &str = "/usr/share/openvswitch/scripts/ovs-ctl";

struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new() -> Install {
        let dir = tempfile::tempdir().unwrap();
        for d in ["sbin", "stub", "run", "log", "db", "etc/openvswitch"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ferrovs"), dir.path().join("sbin/ovs-vswitchd")).unwrap();
        std::os::unix::fs::symlink("/usr/sbin/ovsdb-server", dir.path().join("sbin/ovsdb-server")).unwrap();
        // This machine's kernel has no openvswitch module; where modules
        // can be loaded, ovs-ctl would modprobe it and, failing, unload
        // the host's bridge module. A modprobe that does nothing keeps
        // the host as it is.
        let stub = dir.path().join("stub/modprobe");
        std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Install { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn env(&self, cmd: &mut Command) {
        let path = format!("{}:{}", self.path("stub").display(), std::env::var("PATH").unwrap_or_default());
        cmd.env("OVS_RUNDIR", self.path("run"))
            .env("OVS_LOGDIR", self.path("log"))
            .env("OVS_DBDIR", self.path("db"))
            .env("OVS_SYSCONFDIR", self.path("etc"))
            .env("OVS_SBINDIR", self.path("sbin"))
            .env("PATH", path);
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(program);
        cmd.args(args);
        self.env(&mut cmd);
        cmd.output().unwrap()
    }

    fn ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn pid(&self, daemon: &str) -> Option<u32> {
        std::fs::read_to_string(self.path(&format!("run/{daemon}.pid"))).ok()?.trim().parse().ok()
    }
}

impl Drop for Install {
    fn drop(&mut self) {
        // Whatever ovs-ctl stop did not stop: the daemons by their pids.
        for daemon in ["ovs-vswitchd", "ovsdb-server"] {
            if let Some(pid) = self.pid(daemon) {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < end, "{what} did not happen in 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ovs_ctl_starts_checks_and_stops_ferrovs_as_ovs_vswitchd() {
    let i = Install::new();
    let out = i.ok("unshare", &["--net", OVS_CTL, "start", "--system-id=random"]);
    assert!(out.contains("Starting ovs-vswitchd"), "{out}");
    let status = i.ok(OVS_CTL, &["status"]);
    let pid = i.pid("ovs-vswitchd").unwrap();
    assert!(status.contains(&format!("ovs-vswitchd is running with pid {pid}")), "{status}");
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/exe")).unwrap(), std::fs::canonicalize(env!("CARGO_BIN_EXE_ferrovs")).unwrap());

    // ovs-ctl read the version from `ovs-vswitchd --version`.
    let version = i.ok("ovs-vsctl", &["get", "Open_vSwitch", ".", "ovs_version"]);
    assert_eq!(version.trim(), format!("ferrovs-{}", env!("CARGO_PKG_VERSION")));
    let log = std::fs::read_to_string(i.path("log/ovs-vswitchd.log")).unwrap();
    assert!(log.contains("--mlockall: "), "{log}");

    i.ok("ovs-vsctl", &["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    assert!(i.ok("ovs-ofctl", &["show", "br0"]).contains("OFPT_FEATURES_REPLY"));
    assert!(i.ok("ovs-appctl", &["-t", "ovs-vswitchd", "version"]).contains("ferrovs"));

    // --monitor: a crash, and the daemon is back with the bridge. SIGALRM
    // is one of the signals after which OVS's monitor restarts the daemon,
    // and the one that dumps no core (ovs-ctl enables core files, in /).
    let _ = Command::new("kill").args(["-ALRM", &pid.to_string()]).status();
    wait("the monitor's restart", || i.pid("ovs-vswitchd").is_some_and(|p| p != pid && alive(p)));
    wait("br0 again", || i.run("ovs-ofctl", &["show", "br0"]).status.success());

    let out = i.ok(OVS_CTL, &["stop"]);
    assert!(out.contains("ovs-vswitchd") && out.contains("ovsdb-server"), "{out}");
    let (vswitchd, ovsdb) = (i.pid("ovs-vswitchd"), i.pid("ovsdb-server"));
    wait("both daemons' end", || {
        let status = String::from_utf8_lossy(&i.run(OVS_CTL, &["status"]).stdout).into_owned();
        ![vswitchd, ovsdb].into_iter().flatten().any(alive) && status.contains("ovs-vswitchd is not running")
    });
}

#[test]
fn ovs_vswitchd_options_are_taken_and_checked() {
    let i = Install::new();
    let bin = i.path("sbin/ovs-vswitchd");
    let bin = bin.to_str().unwrap();
    let out = i.run(bin, &["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        format!("ovs-vswitchd (ferrovs, for Open vSwitch 3.1 set-ups) ferrovs-{}", env!("CARGO_PKG_VERSION"))
    );
    // Another user: refused, saying why.
    let out = i.run(bin, &["--user", "nobody", "unix:/nonexistent"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--user nobody"), "{}", String::from_utf8_lossy(&out.stderr));
    // A bad -v spec: refused.
    let out = i.run(bin, &["-vfile:loud", "unix:/nonexistent"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loud"), "{}", String::from_utf8_lossy(&out.stderr));
    // A pidfile a running daemon holds: refused, unless overwritten.
    let pidfile = format!("--pidfile={}", i.path("run/x.pid").display());
    let db = format!("unix:{}", i.path("run/nodb.sock").display());
    let mut first = Command::new(bin);
    first.args([&db, &pidfile, "--detach"]);
    i.env(&mut first);
    assert!(first.status().unwrap().success());
    let holder = std::fs::read_to_string(i.path("run/x.pid")).unwrap().trim().to_owned();
    let out = i.run(bin, &[&db, &pidfile, "--unixctl=/nonexistent/x.ctl"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("already locked by pid {holder}")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = Command::new("kill").args(["-TERM", &holder]).status();
    wait("the first daemon's end", || !alive(holder.parse().unwrap()));
}
