//! `ferrovs vswitchd` against the real `ovsdb-server`, driven by the real
//! `ovs-vsctl` (without `--no-wait`, so every command waits for the
//! daemon to apply it) and `ovs-appctl`. Each test has its own run
//! directory; every process it starts is stopped by pid.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ovs_peers::{wait_for, OvsdbServer};

/// An ovsdb-server and a ferrovs vswitchd in a private run directory.
struct Switch {
    ovsdb: OvsdbServer,
    daemon: Option<Child>,
}

impl Switch {
    /// EAL's `--file-prefix` for this test process's daemons.
    fn file_prefix() -> String {
        format!("ferrovs-daemon-{}", std::process::id())
    }

    fn start() -> Switch {
        Self::start_under_umask("022")
    }

    /// As [`Switch::start`], the daemon started under `umask`.
    fn start_under_umask(umask: &str) -> Switch {
        let ovsdb = OvsdbServer::start();
        ovsdb.vsctl(&["init"]);
        // EAL in this test's own memory, without PCI scanning; the daemon
        // itself adds --in-memory and --no-telemetry.
        let prefix = Self::file_prefix();
        ovsdb.vsctl(&ovs_peers::dpdk_test_config(&prefix, &[]).iter().map(String::as_str).collect::<Vec<_>>());
        let mut sw = Switch { ovsdb, daemon: None };
        // In a network namespace of its own: the bridges' tap devices stay
        // private to the test (sh and unshare exec, so the pid is the
        // daemon's).
        let daemon = Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
            .arg("unshare")
            .arg("--net")
            .arg(env!("CARGO_BIN_EXE_ferrovs"))
            .arg("vswitchd")
            .arg(sw.ovsdb.remote())
            .arg(format!("--pidfile={}", sw.path("ovs-vswitchd.pid").display()))
            .arg(format!("--unixctl={}", sw.ctl().display()))
            .arg(format!("--log-file={}", sw.path("ovs-vswitchd.log").display()))
            .env("OVS_RUNDIR", sw.ovsdb.dir())
            .env("OVS_LOGDIR", sw.ovsdb.dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        sw.daemon = Some(daemon);
        wait_for(&sw.ctl());
        sw
    }

    fn path(&self, name: &str) -> PathBuf {
        self.ovsdb.dir().join(name)
    }

    fn ctl(&self) -> PathBuf {
        self.path("ovs-vswitchd.ctl")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(tool).args(args).output().unwrap()
    }

    /// `ovs-vsctl` waiting for the daemon (it times out after 5 s).
    fn vsctl(&self, args: &[&str]) -> String {
        let mut all = vec![format!("--db={}", self.ovsdb.remote()), "--timeout=5".into()];
        all.extend(args.iter().map(|a| a.to_string()));
        let out = Command::new("ovs-vsctl").args(&all).output().unwrap();
        assert!(out.status.success(), "ovs-vsctl {args:?}: {} (daemon log: {})", String::from_utf8_lossy(&out.stderr), self.log());
        String::from_utf8(out.stdout).unwrap()
    }

    fn get(&self, args: &[&str]) -> String {
        let mut all = vec!["get"];
        all.extend(args);
        self.ovsdb.vsctl(&all).trim().to_owned()
    }

    /// `ovs-appctl` against the daemon's management socket; it must succeed.
    fn appctl(&self, args: &[&str]) -> String {
        let ctl = self.ctl();
        let mut all = vec!["-t", ctl.to_str().unwrap()];
        all.extend(args);
        let out = self.run("ovs-appctl", &all);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("ovs-vswitchd.log")).unwrap_or_default()
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            ovs_peers::terminate(&mut d);
        }
    }
}

#[test]
fn ovs_vsctl_without_no_wait_returns_once_a_dpdk_port_is_up() {
    // `Switch::vsctl` runs ovs-vsctl with --timeout=5 and without
    // --no-wait: it succeeds only once the daemon has set cur_cfg to
    // next_cfg, and what follows checks that the port is up by then.
    let sw = Switch::start();
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    sw.vsctl(&["add-port", "br0", "p0", "--", "set", "Interface", "p0", "type=dpdk", "options:dpdk-devargs=net_null0,no-rx=1"]);
    assert_eq!(sw.get(&["interface", "p0", "ofport"]), "1", "{}", sw.log());
    assert_eq!(sw.get(&["interface", "p0", "link_state"]), "up");
    assert_eq!(sw.get(&["interface", "p0", "admin_state"]), "up");
    assert_eq!(sw.get(&["interface", "p0", "error"]), "[]");
    assert!(sw.get(&["interface", "p0", "mac_in_use"]).contains(':'));
    assert_eq!(sw.get(&["open_vswitch", ".", "dpdk_initialized"]), "true");
    assert!(sw.get(&["open_vswitch", ".", "dpdk_version"]).contains("DPDK 22.11"));
    assert_eq!(sw.get(&["open_vswitch", ".", "cur_cfg"]), sw.get(&["open_vswitch", ".", "next_cfg"]));
    // The bridge's local port: a tap device, OpenFlow port LOCAL.
    assert_eq!(sw.get(&["interface", "br0", "ofport"]), "65534");
    assert_eq!(sw.get(&["interface", "br0", "error"]), "[]");
    // Administratively down until the host brings it up, as with OVS.
    assert_eq!(sw.get(&["interface", "br0", "link_state"]), "down");
    // A bridge of the kernel datapath is refused, and says why.
    sw.vsctl(&["add-br", "brk"]);
    assert!(sw.get(&["interface", "brk", "error"]).contains("datapath_type"), "{}", sw.get(&["interface", "brk", "error"]));

    // The integration guide's commands, as a hypervisor integration runs them.
    sw.vsctl(&["set", "open_vswitch", ".", "external-ids:system-id=8c3b4a8e-0f7d-4c52-9d55-3b1f2a6c9e01"]);
    sw.vsctl(&["set", "Bridge", "br0", "external-ids:bridge-id=br-int-1"]);
    sw.vsctl(&["set", "Bridge", "br0", "other_config:hwaddr=12:34:56:78:90:ab"]);
    assert_eq!(sw.get(&["interface", "br0", "mac_in_use"]), "\"12:34:56:78:90:ab\"");
    sw.vsctl(&[
        "set",
        "Interface",
        "p0",
        "external-ids:iface-id=vif-1",
        "external-ids:attached-mac=fa:16:3e:00:00:01",
        "external-ids:vm-id=4c4c4544-0000-0000-0000-000000000001",
        "external-ids:iface-status=active",
    ]);
    let ofport = sw.vsctl(&["--", "--columns=ofport", "find", "interface", "external-ids:attached-mac=\"fa:16:3e:00:00:01\""]);
    assert_eq!(ofport.trim(), "ofport              : 1");
    let name = sw.vsctl(&["--", "--columns=name", "find", "bridge", "external-ids:bridge-id=br-int-1"]);
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
    // A controller that is not there: not connected, and why.
    sw.vsctl(&["set-controller", "br0", "tcp:127.0.0.1:6653"]);
    let status = eventually(&sw, &["controller", "br0", "status"], 10, |s| s.contains("last_error"));
    assert!(status.contains("BACKOFF") || status.contains("CONNECTING"), "{status}");
    assert_eq!(sw.get(&["controller", "br0", "is_connected"]), "false");
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
    // The state-reporting commands answer.
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    sw.vsctl(&["add-port", "br0", "p0", "--", "set", "Interface", "p0", "type=dpdk", "options:dpdk-devargs=net_null0,no-rx=1"]);
    let appctl = |args: &[&str]| {
        let mut all = vec!["-t", ctl.to_str().unwrap()];
        all.extend(args);
        let out = sw.run("ovs-appctl", &all);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let rxq = appctl(&["dpif-netdev/pmd-rxq-show"]);
    assert!(rxq.contains("pmd thread numa_id 0 core_id") && rxq.contains("port: p0") && rxq.contains("queue-id:  0"), "{rxq}");
    assert!(appctl(&["dpif-netdev/pmd-stats-show"]).contains("packets received: 0"));
    assert_eq!(appctl(&["dpctl/dump-flows"]), "", "no packet, no megaflow");
    assert!(appctl(&["fdb/show", "br0"]).starts_with(" port  VLAN  MAC"));
    // p0 and the bridge's local port.
    assert!(appctl(&["memory/show"]).starts_with("ports:2"), "{}", appctl(&["memory/show"]));
    assert!(appctl(&["vlog/list"]).contains("vswitchd"));
    appctl(&["vlog/set", "file:dbg"]);
    assert!(appctl(&["vlog/list"]).lines().last().unwrap().ends_with("DBG"));
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

/// Polls `ovs-vsctl get` until `done` holds, for at most `secs` seconds.
fn eventually(sw: &Switch, args: &[&str], secs: u64, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = sw.get(args);
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{args:?} stayed {v} (daemon log: {})", sw.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn statistics_and_datapath_id() {
    let sw = Switch::start();
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", "other_config:hwaddr=12:34:56:78:90:ab"]);
    sw.vsctl(&["add-port", "br0", "p0", "--", "set", "Interface", "p0", "type=dpdk", "options:dpdk-devargs=net_null0"]);
    assert_eq!(sw.get(&["bridge", "br0", "datapath_id"]), "\"00001234567890ab\"");
    // The local port's MAC follows the bridge's hwaddr, read back from the device.
    assert_eq!(sw.get(&["interface", "br0", "mac_in_use"]), "\"12:34:56:78:90:ab\"");
    sw.vsctl(&["set", "bridge", "br0", "other_config:hwaddr=02:00:00:00:00:42"]);
    assert_eq!(sw.get(&["interface", "br0", "mac_in_use"]), "\"02:00:00:00:00:42\"");
    sw.vsctl(&["set", "open_vswitch", ".", "other_config:enable-statistics=true"]);
    let stats = eventually(&sw, &["open_vswitch", ".", "statistics"], 10, |v| v.contains("load_average"));
    for key in ["cpu=", "memory=", "process_ovs-vswitchd="] {
        assert!(stats.contains(key), "{key} in {stats}");
    }
    let iface = eventually(&sw, &["interface", "p0", "statistics"], 10, |v| v.contains("rx_packets"));
    assert!(iface.contains("tx_packets=0"), "{iface}");
    sw.vsctl(&["set", "open_vswitch", ".", "other_config:enable-statistics=false"]);
    eventually(&sw, &["open_vswitch", ".", "statistics"], 10, |v| v == "{}");
}

#[test]
fn the_daemon_survives_an_ovsdb_server_restart_and_applies_what_changed_meanwhile() {
    let mut sw = Switch::start();
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    sw.vsctl(&["add-port", "br0", "p0", "--", "set", "Interface", "p0", "type=dpdk", "options:dpdk-devargs=net_null0"]);
    sw.ovsdb.kill();
    // While the server is down: a second port, written to the file with ovsdb-tool.
    let port = serde_json::json!([
        "Open_vSwitch",
        {"op": "insert", "table": "Interface", "row": {"name": "p1", "type": "dpdk",
            "options": ["map", [["dpdk-devargs", "net_null1"]]]}, "uuid-name": "i"},
        {"op": "insert", "table": "Port", "row": {"name": "p1", "interfaces": ["named-uuid", "i"]}, "uuid-name": "p"},
        {"op": "mutate", "table": "Bridge", "where": [["name", "==", "br0"]], "mutations": [["ports", "insert", ["set", [["named-uuid", "p"]]]]]}
    ]);
    sw.ovsdb.transact_offline(&port);
    std::thread::sleep(Duration::from_millis(500));
    assert!(sw.daemon.as_mut().unwrap().try_wait().unwrap().is_none(), "the daemon keeps running without its database");
    sw.ovsdb.restart();
    eventually(&sw, &["interface", "p1", "link_state"], 15, |v| v == "up");
    assert_eq!(sw.get(&["interface", "p1", "ofport"]), "2");
    assert_eq!(sw.get(&["interface", "p0", "ofport"]), "1");
    // And it is live again: ovs-vsctl without --no-wait returns (it
    // fails after 5 s otherwise).
    sw.vsctl(&["del-port", "br0", "p0"]);
}

#[test]
fn ovs_ofctl_show_and_dump_desc_through_the_bridge_management_socket() {
    let sw = Switch::start();
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", "other_config:hwaddr=12:34:56:78:90:ab"]);
    sw.vsctl(&[
        "add-port",
        "br0",
        "p0",
        "--",
        "set",
        "Interface",
        "p0",
        "type=dpdk",
        "options:dpdk-devargs=net_null0,no-rx=1",
        "ofport_request=5",
    ]);
    sw.vsctl(&["set", "bridge", "br0", "other_config:dp-desc=integration bridge", "other_config:mfr-desc=Example Corp"]);
    let ofctl = |args: &[&str]| {
        let out = Command::new("ovs-ofctl").args(args).env("OVS_RUNDIR", sw.ovsdb.dir()).output().unwrap();
        assert!(out.status.success(), "ovs-ofctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    for version in [&["show", "br0"][..], &["-O", "OpenFlow13", "show", "br0"][..]] {
        let show = ofctl(version);
        assert!(show.contains("dpid:00001234567890ab"), "{show}");
        assert!(show.contains(" 5(p0): addr:"), "{show}");
        assert!(show.contains(" LOCAL(br0): addr:12:34:56:78:90:ab"), "{show}");
    }
    // Port counters, read from the driver (no traffic flows yet: zeros).
    let ports = ofctl(&["dump-ports", "br0"]);
    assert!(ports.contains("port  5: rx pkts=0, bytes=0"), "{ports}");
    assert!(ofctl(&["-O", "OpenFlow13", "dump-ports", "br0", "5"]).contains("port  5: rx pkts=0"));
    let desc = ofctl(&["dump-desc", "br0"]);
    assert!(desc.contains("Manufacturer: Example Corp") && desc.contains("DP Description: integration bridge"), "{desc}");
    assert!(desc.contains("Software: ferrovs"), "{desc}");
    // A bridge without a controller starts with OVS's NORMAL flow.
    let flows = ofctl(&["dump-flows", "br0"]);
    assert!(flows.contains(" priority=0 actions=NORMAL"), "{flows}");
    // What is not there yet is an OpenFlow error, not a hang or a crash.
    let out =
        Command::new("ovs-ofctl").args(["-O", "OpenFlow13", "queue-stats", "br0"]).env("OVS_RUNDIR", sw.ovsdb.dir()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("OFPBRC_BAD_"), "{text}");
    assert!(ofctl(&["show", "br0"]).contains("p0"), "the connection's errors leave the switch answering");
}

/// `ovs-ofctl monitor` hears PORT_STATUS when ports come and go.
#[test]
fn port_status_reaches_ovs_ofctl_monitor() {
    use std::io::BufRead;

    let sw = Switch::start();
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    // stdbuf: ovs-ofctl's stdout is block-buffered into a pipe otherwise.
    let mut monitor = Command::new("stdbuf")
        .args(["-oL", "ovs-ofctl", "-O", "OpenFlow13", "monitor", "br0"])
        .env("OVS_RUNDIR", sw.ovsdb.dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = monitor.stdout.take().unwrap();
    let stderr = monitor.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx2.send(format!("stderr: {line}"));
        }
    });
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Wait until the monitor's session is up (the daemon logs it).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sw.log().contains("br0.mgmt: OpenFlow connection, version 0x04") {
        assert!(Instant::now() < deadline, "ovs-ofctl monitor never connected: {}", sw.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    sw.vsctl(&["add-port", "br0", "p0", "--", "set", "Interface", "p0", "type=dpdk", "options:dpdk-devargs=net_null0"]);
    let wait_for = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                if line.contains(what) {
                    return;
                }
                seen.push(line);
            }
        }
        panic!("no {what:?} from ovs-ofctl monitor; saw {seen:?}; daemon log: {}", sw.log());
    };
    wait_for("OFPT_PORT_STATUS (OF1.3) (xid=0x0): ADD: 1(p0)");
    sw.vsctl(&["del-port", "br0", "p0"]);
    wait_for("OFPT_PORT_STATUS (OF1.3) (xid=0x0): DEL: 1(p0)");
    let _ = monitor.kill();
    let _ = monitor.wait();
}

/// The datapath actions of `ofproto/trace br0 FLOW`.
fn traced(sw: &Switch, flow: &str) -> String {
    let trace = sw.appctl(&["ofproto/trace", "br0", flow]);
    trace.lines().find_map(|l| l.strip_prefix("Datapath actions: ")).unwrap_or_else(|| panic!("{trace}")).to_owned()
}

#[test]
fn a_changed_or_cleared_port_tag_and_ofport_request_apply_at_once() {
    // The replica once merged a new value of a 0..1 column into the old
    // one: an access port moved from VLAN 20 to 30 became a trunk and let
    // a VLAN-10 frame through to an access port of VLAN 10.
    let sw = Switch::start();
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    for (name, ofport, extra) in [("p1", "1", ""), ("p2", "2", "trunks=10,20"), ("p3", "3", "tag=10")] {
        let devargs = format!("options:dpdk-devargs=net_null{ofport},no-rx=1");
        let mut args = vec!["add-port", "br0", name];
        if !extra.is_empty() {
            args.push(extra);
        }
        args.extend(["--", "set", "Interface", name, "type=dpdk", &devargs]);
        let request = format!("ofport_request={ofport}");
        args.push(&request);
        sw.vsctl(&args);
    }
    let tagged = "in_port=1,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,dl_vlan=10";
    sw.vsctl(&["set", "Port", "p1", "tag=20"]);
    sw.vsctl(&["set", "Port", "p1", "tag=30"]);
    assert_eq!(sw.get(&["port", "p1", "tag"]), "30");
    assert_eq!(traced(&sw, tagged), "drop", "an access port of VLAN 30 drops a VLAN-10 frame");
    sw.vsctl(&["clear", "Port", "p1", "tag"]);
    let actions = traced(&sw, tagged);
    // To the trunk p2 and the local port as it is, to p3 (VLAN 10) untagged.
    assert!(actions.contains("pop_vlan") && actions.split(',').count() >= 3, "a trunk again: {actions}");
    sw.vsctl(&["set", "Port", "p1", "tag=10"]);
    let untagged = traced(&sw, "in_port=1,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff");
    assert!(untagged.contains("push_vlan(vid=10") && untagged.split(',').count() >= 3, "{untagged}");
    assert_eq!(traced(&sw, tagged), "drop");
    // ofport_request 3 -> 5 -> 7 (p3 gives 3 up first).
    sw.vsctl(&["set", "Interface", "p3", "ofport_request=4"]);
    sw.vsctl(&[
        "add-port",
        "br0",
        "p4",
        "--",
        "set",
        "Interface",
        "p4",
        "type=dpdk",
        "options:dpdk-devargs=net_null4,no-rx=1",
        "ofport_request=5",
    ]);
    for request in ["6", "7"] {
        sw.vsctl(&["set", "Interface", "p4", &format!("ofport_request={request}")]);
        assert_eq!(sw.get(&["interface", "p4", "ofport"]), request);
    }
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Waits for the daemon to end; its exit status.
fn ended(sw: &mut Switch) -> std::process::ExitStatus {
    let mut daemon = sw.daemon.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the daemon did not exit; log: {}", sw.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(sw: &Switch, signal: &str) {
    let pid = sw.daemon.as_ref().unwrap().id().to_string();
    assert!(Command::new("kill").args(["-s", signal, &pid]).status().unwrap().success());
}

#[test]
fn sockets_and_files_keep_their_modes_under_umask_000_and_signals_clean_up() {
    use std::os::unix::process::ExitStatusExt;

    let mut sw = Switch::start_under_umask("000");
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    let punix = sw.path("br0.controller");
    sw.vsctl(&["set-controller", "br0", &format!("punix:{}", punix.display())]);
    wait_for(&punix);
    let files = [sw.ctl(), sw.path("br0.mgmt"), punix.clone(), sw.path("ovs-vswitchd.log"), sw.path("ovs-vswitchd.pid")];
    let modes: Vec<u32> = files.iter().map(|f| mode(f)).collect();
    assert_eq!(modes, [0o770, 0o770, 0o770, 0o660, 0o644], "{files:?}");

    // logrotate: the log is moved away, then SIGHUP or vlog/reopen.
    std::fs::rename(sw.path("ovs-vswitchd.log"), sw.path("ovs-vswitchd.log.1")).unwrap();
    kill(&sw, "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sw.log().contains("log file reopened") {
        assert!(Instant::now() < deadline, "SIGHUP did not reopen the log");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(mode(&sw.path("ovs-vswitchd.log")), 0o660);
    std::fs::rename(sw.path("ovs-vswitchd.log"), sw.path("ovs-vswitchd.log.2")).unwrap();
    sw.appctl(&["vlog/reopen"]);
    assert!(sw.log().contains("log file reopened"), "{}", sw.log());
    assert_eq!(sw.appctl(&["version"]).lines().count(), 1, "still serving after SIGHUP");

    kill(&sw, "TERM");
    let status = ended(&mut sw);
    assert_eq!(status.signal(), Some(15), "ended by the signal it was sent: {status:?}");
    assert!(sw.log().contains("terminating with signal 15 (Terminated)"), "{}", sw.log());
    for f in [sw.ctl(), sw.path("br0.mgmt"), punix.clone(), sw.path("ovs-vswitchd.pid")] {
        assert!(!f.exists(), "{} left behind", f.display());
    }

    // SIGUSR1 ends it cleanly too; `ovs-appctl exit` removes the `punix:`
    // socket as well.
    for how in ["USR1", "exit"] {
        let mut sw = Switch::start();
        sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
        sw.vsctl(&["set-controller", "br0", &format!("punix:{}", punix.display())]);
        wait_for(&punix);
        match how {
            "exit" => drop(sw.appctl(&["exit"])),
            signal => kill(&sw, signal),
        }
        ended(&mut sw);
        for f in [sw.ctl(), sw.path("br0.mgmt"), punix.clone(), sw.path("ovs-vswitchd.pid")] {
            assert!(!f.exists(), "{how}: {} left behind", f.display());
        }
    }
}

/// DPDK's files stay out of `/var/run/dpdk`: no telemetry socket there
/// while the daemon runs (the test's `dpdk-extra` does not ask for
/// `--no-telemetry`: the daemon must), and EAL's runtime directory gone once
/// it ends, by `ovs-appctl exit` or by SIGTERM.
#[test]
fn dpdk_leaves_nothing_under_var_run_dpdk() {
    for how in ["exit", "TERM"] {
        let (mut sw, _) = two_null_ports();
        eventually(&sw, &["interface", "p2", "link_state"], 15, |v| v == "up");
        let dir = std::path::Path::new("/var/run/dpdk").join(Switch::file_prefix());
        let held: Vec<_> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries.map(|e| e.unwrap().file_name()).collect(),
            Err(_) => Vec::new(),
        };
        assert!(held.is_empty(), "{how}: {} holds {held:?} while the daemon runs", dir.display());
        match how {
            "exit" => drop(sw.appctl(&["exit"])),
            signal => kill(&sw, signal),
        }
        ended(&mut sw);
        assert!(!dir.exists(), "{how}: {} left behind", dir.display());
    }
}

/// Port `ofport`'s transmitted packets, live (`ovs-ofctl dump-ports`).
fn tx_packets(sw: &Switch, ofport: &str) -> u64 {
    let mgmt = format!("unix:{}", sw.path("br0.mgmt").display());
    let out = sw.run("ovs-ofctl", &["dump-ports", &mgmt, ofport]);
    let text = String::from_utf8_lossy(&out.stdout);
    let tx = text.split("tx pkts=").nth(1).and_then(|t| t.split(',').next());
    tx.and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// Waits until port `ofport` sends: two readings of its counter, the
/// second larger.
fn keeps_sending(sw: &Switch, ofport: &str, step: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = tx_packets(sw, ofport);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if tx_packets(sw, ofport) > first {
            return;
        }
        assert!(Instant::now() < deadline, "{step}: port {ofport} stopped sending at {first} packets; log: {}", sw.log());
    }
}

/// A secure bridge with two `net_null` ports: p1 (ofport 1), whose
/// receive queues never run dry, and p2 (ofport 2), which receives
/// nothing; and the bridge's OpenFlow socket.
fn two_null_ports() -> (Switch, String) {
    let sw = Switch::start();
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", "fail_mode=secure"]);
    for (name, devargs) in [("p1", "net_null1"), ("p2", "net_null2,no-rx=1")] {
        let (devargs, request) = (format!("options:dpdk-devargs={devargs}"), format!("ofport_request={}", &name[1..]));
        sw.vsctl(&["add-port", "br0", name, "--", "set", "Interface", name, "type=dpdk", &devargs, &request]);
    }
    let mgmt = format!("unix:{}", sw.path("br0.mgmt").display());
    (sw, mgmt)
}

#[test]
fn reconfiguring_a_forwarding_port_keeps_it_forwarding_and_bad_values_fall_back_to_defaults() {
    let (sw, mgmt) = two_null_ports();
    assert!(sw.run("ovs-ofctl", &["add-flow", &mgmt, "in_port=1,actions=output:2"]).status.success());
    keeps_sending(&sw, "2", "p1 to p2");
    let healthy = |sw: &Switch, step: &str| {
        for (column, want) in [("error", "[]"), ("ofport", "2"), ("link_state", "up"), ("admin_state", "up")] {
            assert_eq!(sw.get(&["interface", "p2", column]), want, "{step}: p2's {column}; log: {}", sw.log());
        }
    };
    for (step, set, mtu) in [
        ("a new MTU", "mtu_request=1400", "1400"),
        ("more receive queues", "options:n_rxq=2", "1400"),
        ("descriptor counts", "options:n_rxq_desc=512", "1400"),
        ("n_rxq_desc=3 (no power of two: the default, with a warning)", "options:n_rxq_desc=3", "1400"),
        ("an MTU the buffers cannot carry (the device's, with a warning)", "mtu_request=9000", "1500"),
        ("back to the defaults", "mtu_request=1500", "1500"),
    ] {
        sw.vsctl(&["set", "Interface", "p2", set]);
        healthy(&sw, step);
        assert_eq!(sw.get(&["interface", "p2", "mtu"]), mtu, "{step}");
        keeps_sending(&sw, "2", step);
    }
    sw.vsctl(&["remove", "Interface", "p2", "options", "n_rxq_desc"]);
    healthy(&sw, "n_rxq_desc removed");
    keeps_sending(&sw, "2", "n_rxq_desc removed");
    // A port that fails and recovers gets its state columns back, and a
    // port in error sends nothing.
    sw.vsctl(&["remove", "Interface", "p2", "options", "dpdk-devargs"]);
    assert!(sw.get(&["interface", "p2", "error"]).contains("dpdk-devargs is required"));
    assert_eq!(sw.get(&["interface", "p2", "admin_state"]), "[]");
    let dump = String::from_utf8_lossy(&sw.run("ovs-ofctl", &["dump-ports", &mgmt, "2"]).stdout).into_owned();
    assert!(!dump.contains("port  2:"), "a port in error is not the bridge's: {dump}");
    let rxqs = sw.appctl(&["dpif-netdev/pmd-rxq-show"]);
    assert!(!rxqs.contains("port: p2"), "a port in error is closed: {rxqs}");
    sw.vsctl(&["set", "Interface", "p2", "options:dpdk-devargs=net_null2,no-rx=1"]);
    healthy(&sw, "devargs back");
    keeps_sending(&sw, "2", "devargs back");
    sw.vsctl(&["set", "Interface", "p2", "options:dpdk-devargs=net_nonesuch9"]);
    assert!(sw.get(&["interface", "p2", "error"]).contains("net_nonesuch9"));
    assert_eq!(sw.get(&["interface", "p2", "link_state"]), "[]");
    sw.vsctl(&["set", "Interface", "p2", "options:dpdk-devargs=net_null2,no-rx=1"]);
    healthy(&sw, "recovered");
    keeps_sending(&sw, "2", "recovered");
    let log = sw.log();
    for warning in ["options:n_rxq_desc=3 is not a power of two", "mtu_request=9000 is not supported"] {
        assert!(log.contains(warning), "no warning {warning:?} in the log: {log}");
    }
    // A bad pmd-cpu-mask: the default core, and a word in the log.
    sw.vsctl(&["set", "open_vswitch", ".", "other_config:pmd-cpu-mask=zz"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sw.log().contains("other_config:pmd-cpu-mask=zz") {
        assert!(Instant::now() < deadline, "an invalid pmd-cpu-mask is not logged: {}", sw.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    keeps_sending(&sw, "2", "pmd-cpu-mask=zz");
}

#[test]
fn ports_past_dpdks_limit_say_so_and_the_others_work() {
    let sw = Switch::start();
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    // 40 ports in one transaction; DPDK 22.11 as Debian builds it holds
    // 32 ethdev ports (the bridge's local tap device is one).
    let mut args: Vec<String> = Vec::new();
    for i in 0..40 {
        let name = format!("n{i}");
        args.extend(["--", "add-port", "br0", &name, "--", "set", "Interface", &name, "type=dpdk"].map(String::from));
        args.push(format!("options:dpdk-devargs=net_null{},no-rx=1", 100 + i));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sw.vsctl(&args);
    let errors: Vec<String> = (0..40).map(|i| sw.get(&["interface", &format!("n{i}"), "error"])).collect();
    let full = errors.iter().filter(|e| e.contains("RTE_MAX_ETHPORTS")).count();
    let up = (0..40).filter(|i| sw.get(&["interface", &format!("n{i}"), "link_state"]) == "up").count();
    assert_eq!((up, full), (31, 9), "{errors:?}");
    assert!(errors.iter().all(|e| e == "[]" || e.contains("at most 32 ethdev ports")), "{errors:?}");
}

/// `ip ARGS` in the daemon's network namespace.
fn ip(sw: &Switch, args: &[&str]) -> String {
    let pid = sw.daemon.as_ref().unwrap().id().to_string();
    let out = Command::new("nsenter").args(["--target", &pid, "--net", "ip"]).args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_bridges_local_port_stays_as_the_host_set_it() {
    let sw = Switch::start();
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    sw.vsctl(&["add-port", "br0", "p0", "--", "set", "Interface", "p0", "type=dpdk", "options:dpdk-devargs=net_null0,no-rx=1"]);
    let flags =
        |sw: &Switch| ip(sw, &["-o", "link", "show", "br0"]).split('<').nth(1).and_then(|f| f.split('>').next()).unwrap_or("").to_owned();
    assert!(!flags(&sw).split(',').any(|f| f == "UP"), "administratively down at first, as in OVS: {}", flags(&sw));
    ip(&sw, &["link", "set", "br0", "up"]);
    // Past a statistics refresh and a reconfiguration.
    std::thread::sleep(Duration::from_secs(6));
    sw.vsctl(&["set", "Interface", "p0", "mtu_request=1400"]);
    assert!(flags(&sw).split(',').any(|f| f == "UP"), "the host's choice stands: {}; log: {}", flags(&sw), sw.log());
    assert_eq!(sw.get(&["interface", "br0", "admin_state"]), "up");
    ip(&sw, &["link", "set", "br0", "down"]);
    sw.vsctl(&["set", "Interface", "p0", "mtu_request=1500"]);
    assert!(!flags(&sw).split(',').any(|f| f == "UP"), "{}", flags(&sw));
}

#[test]
fn a_flow_the_datapath_cannot_carry_out_is_logged_and_its_drops_counted() {
    let (sw, mgmt) = two_null_ports();
    // Accepted, as OVS accepts it (ovs-ofctl's own tests install such
    // flows), but not carried out: the packets are dropped and counted.
    assert!(sw.run("ovs-ofctl", &["add-flow", &mgmt, "in_port=1,ip,actions=ct(commit),output:2"]).status.success());
    assert!(sw.run("ovs-ofctl", &["add-flow", &mgmt, "in_port=1,actions=ct_clear,output:2"]).status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let stats = loop {
        let stats = sw.appctl(&["dpif-netdev/pmd-stats-show"]);
        let dropped = stats.lines().find_map(|l| l.trim().strip_prefix("packets dropped by failed translations: ")).unwrap_or("0");
        if dropped.parse::<u64>().unwrap_or(0) > 1000 && sw.log().contains("translation(s) failed") {
            break stats;
        }
        assert!(Instant::now() < deadline, "{stats}\nlog: {}", sw.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(stats.contains("translations that failed (packets dropped)"), "{stats}");
    assert!(sw.log().contains("connection tracking (ct, nat, ct_clear) is not supported by ferrovs yet"), "{}", sw.log());
    let flows = sw.appctl(&["dpctl/dump-flows"]);
    assert!(flows.contains("actions:drop(xlate_error)"), "{flows}");
    assert_eq!(tx_packets(&sw, "2"), 0, "nothing reached p2");
}

#[test]
fn a_qinq_packet_is_parsed_to_its_outer_tag_only_with_the_default_vlan_limit() {
    let (sw, mgmt) = two_null_ports();
    assert!(sw.run("ovs-ofctl", &["add-flow", &mgmt, "priority=10,ip,actions=output:2"]).status.success());
    assert!(sw.run("ovs-ofctl", &["add-flow", &mgmt, "priority=0,actions=output:2"]).status.success());
    // 802.1ad VLAN 100, then 802.1Q VLAN 200, then IPv4/UDP.
    let mut packet = "ffffffffffff000000000001".to_owned();
    packet += "88a80064810000c8";
    packet += "08004500001c000000004011000a0000010a000002";
    packet += "04000035000800000";
    packet.push('0');
    let trace = |sw: &Switch| sw.appctl(&["ofproto/trace", "br0", "in_port=1", &packet]);
    let t = trace(&sw);
    assert!(!t.contains(" 0. ip, priority 10"), "vlan-limit=1: the inner tag ends the parse, no IPv4: {t}");
    assert!(t.lines().any(|l| l.starts_with("Flow: ") && l.contains("dl_type=0x8100")), "{t}");
    sw.vsctl(&["set", "open_vswitch", ".", "other_config:vlan-limit=0"]);
    let t = trace(&sw);
    assert!(t.contains(" 0. ip, priority 10"), "vlan-limit=0: both tags, then IPv4: {t}");
    sw.vsctl(&["remove", "open_vswitch", ".", "other_config", "vlan-limit"]);
    assert!(!trace(&sw).contains(" 0. ip, priority 10"));
    keeps_sending(&sw, "2", "after the limit changed");
    // A malformed packet: its trace says which header, on a line of its own.
    let ctl = sw.ctl();
    let truncated = "ffffffffffff0000000000010800450000";
    let out = sw.run("ovs-appctl", &["-t", ctl.to_str().unwrap(), "ofproto/trace", "br0", "in_port=1", truncated]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("the packet is malformed: bad IPv4 header\n"), "{err:?}");
}
