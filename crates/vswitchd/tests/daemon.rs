//! `ferrovs vswitchd` against the real `ovsdb-server`, driven by the real
//! `ovs-vsctl` (without `--no-wait`, so every command waits for the
//! daemon to apply it) and `ovs-appctl`. Each test has its own run
//! directory; every process it starts is stopped by pid.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// An ovsdb-server and a ferrovs vswitchd in a private run directory.
struct Switch {
    dir: tempfile::TempDir,
    ovsdb: Child,
    daemon: Option<Child>,
}

impl Switch {
    fn start() -> Switch {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("conf.db");
        assert!(Command::new("ovsdb-tool").arg("create").arg(&db).arg(SCHEMA).status().unwrap().success());
        let ovsdb = Command::new("ovsdb-server")
            .arg(&db)
            .arg(format!("--remote=punix:{}", dir.path().join("db.sock").display()))
            .arg(format!("--unixctl={}", dir.path().join("ovsdb-server.ctl").display()))
            .arg(format!("--log-file={}", dir.path().join("ovsdb-server.log").display()))
            .arg("--no-chdir")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ovsdb-server (run `make setup`)");
        wait_for(&dir.path().join("db.sock"));
        let mut sw = Switch { dir, ovsdb, daemon: None };
        sw.vsctl_no_wait(&["init"]);
        // EAL in this test's own memory, without PCI scanning.
        let prefix = format!("ferrovs-daemon-{}", std::process::id());
        sw.vsctl_no_wait(&[
            "set",
            "open_vswitch",
            ".",
            "other_config:dpdk-init=true",
            &format!("other_config:dpdk-extra=--no-pci --no-telemetry --log-level=error --file-prefix={prefix}"),
        ]);
        let daemon = Command::new(env!("CARGO_BIN_EXE_ferrovs"))
            .arg("vswitchd")
            .arg(sw.remote())
            .arg(format!("--pidfile={}", sw.path("ovs-vswitchd.pid").display()))
            .arg(format!("--unixctl={}", sw.ctl().display()))
            .arg(format!("--log-file={}", sw.path("ovs-vswitchd.log").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        sw.daemon = Some(daemon);
        wait_for(&sw.ctl());
        sw
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ctl(&self) -> PathBuf {
        self.path("ovs-vswitchd.ctl")
    }

    fn remote(&self) -> String {
        format!("unix:{}", self.path("db.sock").display())
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(tool).args(args).output().unwrap()
    }

    fn vsctl_no_wait(&self, args: &[&str]) -> String {
        let mut all = vec![format!("--db={}", self.remote()), "--no-wait".into()];
        all.extend(args.iter().map(|a| a.to_string()));
        let out = Command::new("ovs-vsctl").args(&all).output().unwrap();
        assert!(out.status.success(), "ovs-vsctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// `ovs-vsctl` waiting for the daemon (it times out after 5 s).
    fn vsctl(&self, args: &[&str]) -> (String, Duration) {
        let start = Instant::now();
        let mut all = vec![format!("--db={}", self.remote()), "--timeout=5".into()];
        all.extend(args.iter().map(|a| a.to_string()));
        let out = Command::new("ovs-vsctl").args(&all).output().unwrap();
        assert!(out.status.success(), "ovs-vsctl {args:?}: {} (daemon log: {})", String::from_utf8_lossy(&out.stderr), self.log());
        (String::from_utf8(out.stdout).unwrap(), start.elapsed())
    }

    fn get(&self, args: &[&str]) -> String {
        let mut all = vec!["get"];
        all.extend(args);
        self.vsctl_no_wait(&all).trim().to_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("ovs-vswitchd.log")).unwrap_or_default()
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = self.ovsdb.kill();
        let _ = self.ovsdb.wait();
    }
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} did not appear", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ovs_vsctl_without_no_wait_returns_once_a_dpdk_port_is_up() {
    let sw = Switch::start();
    let (_, took) = sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (_, took) =
        sw.vsctl(&["add-port", "br0", "p0", "--", "set", "Interface", "p0", "type=dpdk", "options:dpdk-devargs=net_null0,no-rx=1"]);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(sw.get(&["interface", "p0", "ofport"]), "1", "{}", sw.log());
    assert_eq!(sw.get(&["interface", "p0", "link_state"]), "up");
    assert_eq!(sw.get(&["interface", "p0", "admin_state"]), "up");
    assert_eq!(sw.get(&["interface", "p0", "error"]), "[]");
    assert!(sw.get(&["interface", "p0", "mac_in_use"]).contains(':'));
    assert_eq!(sw.get(&["open_vswitch", ".", "dpdk_initialized"]), "true");
    assert!(sw.get(&["open_vswitch", ".", "dpdk_version"]).contains("DPDK 22.11"));
    assert_eq!(sw.get(&["open_vswitch", ".", "cur_cfg"]), sw.get(&["open_vswitch", ".", "next_cfg"]));
    // The bridge's local port is not there yet, and says so.
    assert!(sw.get(&["interface", "br0", "error"]).contains("not supported"));

    // The integration guide's lookups.
    sw.vsctl(&["set", "Interface", "p0", "external-ids:iface-id=vif-1", "external-ids:attached-mac=fa:16:3e:00:00:01"]);
    sw.vsctl(&["set", "Bridge", "br0", "external-ids:bridge-id=br-int-1"]);
    let (ofport, _) = sw.vsctl(&["--", "--columns=ofport", "find", "interface", "external-ids:attached-mac=\"fa:16:3e:00:00:01\""]);
    assert_eq!(ofport.trim(), "ofport              : 1");
    let (name, _) = sw.vsctl(&["--", "--columns=name", "find", "bridge", "external-ids:bridge-id=br-int-1"]);
    assert_eq!(name.trim(), "name                : br0");
}

#[test]
fn bad_and_unsupported_interfaces_get_errors_while_others_keep_working() {
    let sw = Switch::start();
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    sw.vsctl(&["add-port", "br0", "good", "--", "set", "Interface", "good", "type=dpdk", "options:dpdk-devargs=net_null1,no-rx=1"]);
    sw.vsctl(&["add-port", "br0", "bad", "--", "set", "Interface", "bad", "type=dpdk", "options:dpdk-devargs=net_nonesuch0"]);
    sw.vsctl(&["add-port", "br0", "vx", "--", "set", "Interface", "vx", "type=vxlan", "options:remote_ip=192.0.2.1"]);
    sw.vsctl(&["add-port", "br0", "noargs", "--", "set", "Interface", "noargs", "type=dpdk"]);
    let bad = sw.get(&["interface", "bad", "error"]);
    assert!(bad.contains("net_nonesuch0"), "{bad}");
    assert_eq!(sw.get(&["interface", "bad", "ofport"]), "-1");
    let vx = sw.get(&["interface", "vx", "error"]);
    assert!(vx.contains("vxlan") && vx.contains("not supported by ferrovs yet"), "{vx}");
    assert!(sw.get(&["interface", "noargs", "error"]).contains("dpdk-devargs is required"));
    assert_eq!(sw.get(&["interface", "good", "link_state"]), "up");
    assert_eq!(sw.get(&["interface", "good", "ofport"]), "1");
    // Fixing the bad one: it comes up with the next free number, the good one keeps its own.
    sw.vsctl(&["set", "Interface", "bad", "options:dpdk-devargs=net_null2,no-rx=1", "ofport_request=7"]);
    assert_eq!(sw.get(&["interface", "bad", "ofport"]), "7");
    assert_eq!(sw.get(&["interface", "bad", "error"]), "[]");
    assert_eq!(sw.get(&["interface", "good", "ofport"]), "1");
    // Removing a port closes it; the rest stays.
    sw.vsctl(&["del-port", "br0", "good"]);
    assert_eq!(sw.get(&["interface", "bad", "link_state"]), "up");
}

#[test]
fn ovs_appctl_talks_to_the_management_socket() {
    let mut sw = Switch::start();
    let ctl = sw.ctl();
    let out = sw.run("ovs-appctl", &["-t", ctl.to_str().unwrap(), "version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ferrovs"));
    let out = sw.run("ovs-appctl", &["-t", ctl.to_str().unwrap(), "list-commands"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("exit"));
    let out = sw.run("ovs-appctl", &["-t", ctl.to_str().unwrap(), "no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a valid command"));
    let out = sw.run("ovs-appctl", &["-t", ctl.to_str().unwrap(), "exit"]);
    assert!(out.status.success());
    let mut daemon = sw.daemon.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(Instant::now() < deadline, "the daemon did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!sw.path("ovs-vswitchd.pid").exists(), "pidfile removed on exit");
}
