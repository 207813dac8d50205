//! ferrovs' flow tables against Open vSwitch's own: the same list of
//! `ovs-ofctl` commands (`tests/data/flows.txt`) goes to a real
//! `ovs-vswitchd` and to `ferrovs vswitchd`, each with its own
//! `ovsdb-server`, and then
//! - every command succeeds on both or fails on both with the same error
//!   (a `--bundle` that fails applies none of its flows),
//! - `ovs-ofctl dump-flows --no-stats` prints the same flows (sorted) in
//!   OpenFlow 1.0 with NXM, 1.3 and 1.5, `dump-groups` and `dump-meters`
//!   the same groups and meters in 1.3 and 1.5, `dump-group-stats` and
//!   `meter-stats` the same statistics but durations, and `dump-tlv-map`
//!   the same TLV table.

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
        // The error's name (OFPFMFC_OVERLAP, …), not the message's (OFPT_ERROR, …).
        .find(|w| {
            (w.starts_with("OFP") || w.starts_with("NX"))
                && w.contains('_')
                && !["OFPT_", "NXT_", "OFPST", "NXST"].iter().any(|m| w.starts_with(m))
        })
        .map_or_else(|| format!("failed: {}", err.trim()), str::to_owned)
}

/// What `ovs-ofctl [VERSION] COMMAND br0` prints, as a sorted set of
/// entries: lines, or for `dump-meters` the blank-line-separated blocks.
fn dump(sw: &Vswitchd, version: &[&str], command: &[&str]) -> BTreeSet<String> {
    let mut args = version.to_vec();
    args.extend(command);
    args.push("br0");
    let out = sw.ofctl(&args);
    assert!(out.status.success(), "{}: {command:?} {version:?}: {}", sw.name(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // Statistics' durations differ between two switches: left out.
    let text: String =
        text.split_inclusive(['\n', ',', ' ']).filter(|w| !(w.starts_with("duration=") || w.starts_with("duration:"))).collect();
    let body: Vec<&str> = text.lines().filter(|l| !l.contains(" reply ")).collect();
    if command == ["dump-meters"] || command == ["meter-stats"] {
        return body.join("\n").split("\n\n").map(|b| b.trim().to_owned()).filter(|b| !b.is_empty()).collect();
    }
    body.iter().map(|l| l.trim().to_owned()).collect()
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
    let mut refused = Vec::new();
    for line in commands.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        n += 1;
        let line = line.replace("{data}", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"));
        let args: Vec<&str> = line.split_whitespace().collect();
        let (a, b) = (outcome(&ovs.ofctl(&args)), outcome(&ours.ofctl(&args)));
        if a == b && a != "ok" {
            refused.push(format!("{a}: {line}"));
        }
        if a != b {
            differences.push(format!("{line}\n    ovs-vswitchd: {a}\n    ferrovs:      {b}"));
        }
    }
    assert!(n >= 150, "{n} commands");
    eprintln!("{n} commands; refused the same way by both:\n  {}", refused.join("\n  "));
    let of13 = &["-O", "OpenFlow13"][..];
    let of15 = &["-O", "OpenFlow15"][..];
    let dumps: [(&[&str], &[&str], usize); 12] = [
        (&[], &["--no-stats", "dump-flows"], 150),
        (of13, &["--no-stats", "dump-flows"], 150),
        (of15, &["--no-stats", "dump-flows"], 150),
        (of13, &["dump-groups"], 8),
        (of15, &["dump-groups"], 8),
        (of13, &["dump-meters"], 3),
        (of15, &["dump-meters"], 3),
        (&[], &["dump-tlv-map"], 3),
        (&[], &["dump-group-stats"], 8),
        (of13, &["dump-group-stats"], 8),
        (of13, &["meter-stats"], 3),
        (of13, &["dump-tlv-map"], 3),
    ];
    for (version, command, at_least) in dumps {
        let (a, b) = (dump(&ovs, version, command), dump(&ours, version, command));
        assert!(a.len() >= at_least, "{version:?} {command:?}: {} entries", a.len());
        for only in a.difference(&b) {
            differences.push(format!("{version:?} {command:?} only in ovs-vswitchd: {only}"));
        }
        for only in b.difference(&a) {
            differences.push(format!("{version:?} {command:?} only in ferrovs:      {only}"));
        }
    }
    // The bundle that failed on its last flow left none of its flows.
    let flows = dump(&ours, &[], &["dump-flows"]);
    assert!(flows.iter().any(|f| f.contains("table=70")) && !flows.iter().any(|f| f.contains("table=71")), "{flows:?}");
    assert!(differences.is_empty(), "{} differences:\n{}\n(ferrovs log: {})", differences.len(), differences.join("\n"), ours.log());
}
