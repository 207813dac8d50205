//! ferrovs' flow tables against Open vSwitch's own: the same list of
//! `ovs-ofctl` commands (`tests/data/flows.txt`) goes to a real
//! `ovs-vswitchd` and to `ferrovs vswitchd`, each with its own
//! `ovsdb-server`, and then
//! - every command succeeds on both or fails on both with the same error,
//! - `ovs-ofctl dump-flows --no-stats` prints the same flows (sorted) in
//!   OpenFlow 1.0 with NXM, 1.3 and 1.5.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;

use ovs_peers::Vswitchd;

fn bridge(sw: &Vswitchd) {
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
}

/// What a command did: "ok", or the OpenFlow error name it printed.
fn outcome(out: &std::process::Output) -> String {
    if out.status.success() {
        return "ok".into();
    }
    let err = String::from_utf8_lossy(&out.stderr);
    err.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| (w.starts_with("OFP") || w.starts_with("NX")) && w.contains('_'))
        .map_or_else(|| format!("failed: {}", err.trim()), str::to_owned)
}

fn dump(sw: &Vswitchd, version: &[&str]) -> BTreeSet<String> {
    let mut args = version.to_vec();
    args.extend(["--no-stats", "dump-flows", "br0"]);
    let out = sw.ofctl(&args);
    assert!(out.status.success(), "{}: dump-flows {version:?}: {}", sw.name(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.contains(" reply ")).map(|l| l.trim().to_owned()).collect()
}

#[test]
fn the_same_commands_give_the_same_flow_tables() {
    let ovs = Vswitchd::start_ovs();
    let ours = Vswitchd::start_ferrovs(env!("CARGO_BIN_EXE_ferrovs").as_ref());
    bridge(&ovs);
    bridge(&ours);
    let commands = include_str!("data/flows.txt");
    let mut differences = Vec::new();
    let mut n = 0;
    for line in commands.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        n += 1;
        let args: Vec<&str> = line.split_whitespace().collect();
        let (a, b) = (outcome(&ovs.ofctl(&args)), outcome(&ours.ofctl(&args)));
        if a != b {
            differences.push(format!("{line}\n    ovs-vswitchd: {a}\n    ferrovs:      {b}"));
        }
    }
    assert!(n >= 150, "{n} commands");
    for version in [&[][..], &["-O", "OpenFlow13"][..], &["-O", "OpenFlow15"][..]] {
        let (a, b) = (dump(&ovs, version), dump(&ours, version));
        assert!(a.len() > 100, "{version:?}: {} flows", a.len());
        for only in a.difference(&b) {
            differences.push(format!("{version:?} only in ovs-vswitchd: {only}"));
        }
        for only in b.difference(&a) {
            differences.push(format!("{version:?} only in ferrovs:      {only}"));
        }
    }
    assert!(differences.is_empty(), "{} differences:\n{}\n(ferrovs log: {})", differences.len(), differences.join("\n"), ours.log());
}
