//! A controller inside the daemon's process: the test runs the daemon in
//! its own process (`vswitchd::daemon::run_with`) and drives bridge br0
//! through the bridge's handle alone — a bundle of rules applied, the
//! barrier waited for, no OpenFlow socket — then checks with the real
//! `ovs-ofctl` that the rules are there and that traffic follows them.
//!
//! The test process enters a network namespace of its own first, so the
//! bridge's tap device stays out of the host's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::process::Command;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use ofproto::actions::Action;
use ofproto::flowmatch::{Match, Mff};
use ofproto::table::{Change, Command as FlowCommand, FlowMod};
use ovs_peers::OvsdbServer;
use vswitchd::daemon::DaemonArgs;
use vswitchd::inproc::InProcess;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: DaemonArgs,
}

/// Hands every bridge the daemon creates to the test.
struct Handover(Mutex<mpsc::Sender<ofproto::Bridge>>);

impl InProcess for Handover {
    fn bridge_added(&self, bridge: &ofproto::Bridge) {
        let _ = self.0.lock().unwrap().send(bridge.clone());
    }
}

/// OpenFlow port `port`'s transmitted packets (`ovs-ofctl dump-ports`).
fn tx_packets(mgmt: &str, port: &str) -> u64 {
    let out = Command::new("ovs-ofctl").args(["dump-ports", mgmt, port]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let at = text.find("tx pkts=").unwrap_or_else(|| panic!("no tx counter in {text}"));
    text[at + 8..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// Whether port `port` is sending: two readings 200 ms apart.
fn sending(mgmt: &str, port: &str) -> bool {
    let before = tx_packets(mgmt, port);
    std::thread::sleep(Duration::from_millis(200));
    tx_packets(mgmt, port) > before
}

fn output_to(port: u16, cookie: u64) -> Change {
    let in_port_1 = Match::exact(&[(Mff::InPort, &1u16.to_be_bytes())]);
    let mut fm = FlowMod::add(0, in_port_1, 10, vec![Action::Output { port, max_len: 0 }]);
    fm.new_cookie = cookie;
    Change::Flow(Box::new(fm))
}

#[test]
fn a_controller_in_the_process_installs_rules_through_the_bridge_handle_and_traffic_follows_them() {
    // SAFETY: this thread is the process's only one so far that matters
    // (nextest runs each test in its own process); everything started
    // after it, the daemon's threads and its child processes, inherits
    // the new namespace.
    assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
    let ovsdb = OvsdbServer::start();
    ovsdb.vsctl(&["init"]);
    let prefix = format!("ferrovs-inproc-{}", std::process::id());
    ovsdb.vsctl(&ovs_peers::dpdk_test_config(&prefix, &[]).iter().map(String::as_str).collect::<Vec<_>>());
    let dir = ovsdb.dir().to_owned();
    std::env::set_var("OVS_RUNDIR", &dir);
    std::env::set_var("OVS_LOGDIR", &dir);
    let ctl = dir.join("ovs-vswitchd.ctl");
    let cli = Cli::parse_from([
        "ferrovs".to_owned(),
        ovsdb.remote(),
        format!("--pidfile={}", dir.join("ovs-vswitchd.pid").display()),
        format!("--unixctl={}", ctl.display()),
        format!("--log-file={}", dir.join("ovs-vswitchd.log").display()),
    ]);
    // The bridge and its ports before the daemon starts: no process is
    // spawned while the daemon's thread initialises DPDK in this process
    // (CI once saw a spawn fail with EFAULT then; EAL maps memory at
    // fixed addresses while a spawned child still runs on ours).
    ovsdb.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", "fail_mode=secure"]);
    for (name, devargs) in [("p1", "net_null1"), ("p2", "net_null2,no-rx=1"), ("p3", "net_null3,no-rx=1")] {
        let (devargs, request) = (format!("options:dpdk-devargs={devargs}"), format!("ofport_request={}", &name[1..]));
        ovsdb.vsctl(&["add-port", "br0", name, "--", "set", "Interface", name, "type=dpdk", &devargs, &request]);
    }
    let (tx, bridges) = mpsc::channel();
    let controller: Arc<dyn InProcess> = Arc::new(Handover(Mutex::new(tx)));
    let daemon = std::thread::spawn(move || vswitchd::daemon::run_with(cli.args, vec![controller]).map_err(|e| e.to_string()));
    let bridge = bridges.recv_timeout(Duration::from_secs(10)).expect("the daemon hands over br0");
    assert_eq!(bridge.name(), "br0");
    let mgmt = format!("unix:{}", dir.join("br0.mgmt").display());
    // fail_mode=secure and no rule: nothing is sent.
    assert!(!sending(&mgmt, "2"), "p2 sends before any rule");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // A bundle: the rule and a second one in table 1, all or none.
    let other = FlowMod::add(1, Match::catchall(), 0, vec![]);
    bridge.apply(&[output_to(2, 0xfe), Change::Flow(Box::new(other))]).unwrap();
    let start = Instant::now();
    assert!(rt.block_on(bridge.sync()), "the datapath took the rules");
    eprintln!("barrier after the bundle: {:?}", start.elapsed());
    assert!(sending(&mgmt, "2"), "traffic follows the rule to p2");
    let flows = Command::new("ovs-ofctl").args(["dump-flows", &mgmt]).output().unwrap();
    let flows = String::from_utf8_lossy(&flows.stdout).into_owned();
    assert!(flows.contains("cookie=0xfe") && flows.contains("in_port=1 actions=output:2"), "{flows}");
    assert!(flows.contains("table=1") && flows.contains("priority=0 actions=drop"), "{flows}");

    // A refused bundle changes nothing: its second change outputs to a
    // group that does not exist (OFPFMFC_BAD_OUT_GROUP's kind).
    let bad = FlowMod::add(2, Match::catchall(), 0, vec![Action::Group(7)]);
    assert!(bridge.apply(&[output_to(3, 0xfe), Change::Flow(Box::new(bad))]).is_err());
    assert!(rt.block_on(bridge.sync()));
    assert!(sending(&mgmt, "2") && !sending(&mgmt, "3"), "the refused bundle left the rule to p2");

    // Replaced by cookie: once the barrier is through, p2 gets nothing more.
    let mut delete = FlowMod::add(0xff, Match::catchall(), 0, vec![]);
    (delete.command, delete.cookie, delete.cookie_mask) = (FlowCommand::Delete, 0xfe, u64::MAX);
    bridge.apply(&[Change::Flow(Box::new(delete)), output_to(3, 0xff)]).unwrap();
    assert!(rt.block_on(bridge.sync()));
    let p2 = tx_packets(&mgmt, "2");
    assert!(sending(&mgmt, "3"), "traffic follows the new rule to p3");
    assert_eq!(tx_packets(&mgmt, "2"), p2, "nothing reached p2 after the barrier");
    let flows = Command::new("ovs-ofctl").args(["dump-flows", &mgmt]).output().unwrap();
    let flows = String::from_utf8_lossy(&flows.stdout).into_owned();
    assert!(!flows.contains("cookie=0xfe") && flows.contains("cookie=0xff") && flows.contains("actions=output:3"), "{flows}");

    let out = Command::new("ovs-appctl").arg("-t").arg(&ctl).arg("exit").output().unwrap();
    assert!(out.status.success());
    daemon.join().unwrap().unwrap();
}
