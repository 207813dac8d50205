//! `ferrovs ctl` against the real `ovsdb-server`, `ovs-vsctl` and
//! `ovs-appctl`, in private directories.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;
use std::process::{Command, Output};

/// The run, log and database directories of one test; whatever the test
/// left running is stopped by pid when dropped.
struct Dirs {
    root: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        Dirs { root: tempfile::tempdir().unwrap() }
    }

    fn run(&self) -> PathBuf {
        self.root.path().join("run")
    }

    /// Runs `ferrovs ctl ARGS`; `start` in a network namespace of its own,
    /// so the bridges' tap devices stay private to the test.
    fn ctl(&self, args: &[&str]) -> Output {
        let root = self.root.path();
        let mut cmd = if args.first() == Some(&"start") {
            let mut c = Command::new("unshare");
            c.arg("--net").arg(env!("CARGO_BIN_EXE_ferrovs"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_ferrovs"))
        };
        cmd.arg("ctl")
            .args(args)
            .arg(format!("--rundir={}", root.join("run").display()))
            .arg(format!("--logdir={}", root.join("log").display()))
            .arg(format!("--dbdir={}", root.join("db").display()))
            .env_remove("OVS_RUNDIR")
            .env_remove("OVS_LOGDIR")
            .env_remove("OVS_DBDIR")
            .output()
            .unwrap()
    }

    fn vsctl(&self, args: &[&str]) -> String {
        let out = Command::new("ovs-vsctl")
            .arg(format!("--db=unix:{}", self.run().join("db.sock").display()))
            .arg("--timeout=5")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "ovs-vsctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        for name in ["ovs-vswitchd", "ovsdb-server"] {
            if let Ok(pid) = std::fs::read_to_string(self.run().join(format!("{name}.pid"))) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
    }
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().enumerate().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

#[test]
fn start_status_stop_and_start_again_deleting_bridges() {
    let d = Dirs::new();
    let out = ok(&d.ctl(&["start", "--system-id=random", "--system-type=test-host", "--system-version=1.0"]));
    assert!(out.contains("creating"), "{out}");
    assert!(d.root.path().join("db/conf.db").exists());

    let id = d.vsctl(&["get", "Open_vSwitch", ".", "external_ids:system-id"]);
    assert!(is_uuid(id.trim().trim_matches('"')), "{id}");
    assert_eq!(d.vsctl(&["get", "Open_vSwitch", ".", "system_type"]).trim(), "test-host");
    assert!(d.vsctl(&["show"]).contains("ovs_version: ferrovs-"));

    // The real ovs-appctl finds the daemon by name, as it finds ovs-vswitchd.
    let appctl = Command::new("ovs-appctl").args(["-t", "ovs-vswitchd", "version"]).env("OVS_RUNDIR", d.run()).output().unwrap();
    assert!(ok(&appctl).contains("ferrovs"));

    // The daemon applies changes: ovs-vsctl without --no-wait returns.
    d.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    let status = ok(&d.ctl(&["status"]));
    assert!(status.contains("ovsdb-server is running with pid") && status.contains("ovs-vswitchd is running with pid"), "{status}");

    ok(&d.ctl(&["stop"]));
    let status = ok(&d.ctl(&["status"]));
    assert!(status.contains("ovsdb-server is not running") && status.contains("ovs-vswitchd is not running"), "{status}");

    // Again, on the existing database, deleting the bridges first.
    let out = ok(&d.ctl(&["start", "--delete-bridges"]));
    assert!(out.contains("deleting bridge br0"), "{out}");
    assert_eq!(d.vsctl(&["list-br"]), "");
    assert_eq!(d.vsctl(&["get", "Open_vSwitch", ".", "external_ids:system-id"]), id, "the system-id is kept");
    ok(&d.ctl(&["stop"]));
    // Nothing outside the three directories.
    let mut entries: Vec<String> =
        std::fs::read_dir(d.root.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    entries.sort();
    assert_eq!(entries, ["db", "log", "run"]);
}

#[test]
fn a_missing_schema_is_a_clear_error() {
    let d = Dirs::new();
    let out = d.ctl(&["start", "--db-schema=/nonexistent.ovsschema"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ferrovs: error: ovsdb-tool create") && err.contains("nonexistent"), "{err}");
}
