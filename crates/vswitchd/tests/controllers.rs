//! ferrovs and real OpenFlow controllers: `ovs-testcontroller` (Open
//! vSwitch's learning-switch controller) and an `os-ken` OpenFlow 1.3
//! application (`tests/data/osken_app.py`), started in the daemon's
//! network namespace and pointed at with `ovs-vsctl set-controller`, over
//! TCP and over SSL with `ovs-pki` certificates; and passive targets that
//! `ovs-ofctl` connects to. Every process is stopped by pid.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ovs_peers::{free_port, pki, Vswitchd};

/// A child process stopped (SIGKILL) and reaped when dropped.
struct Peer(Child);

impl Peer {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn switch(fail_mode: &str) -> Vswitchd {
    let sw = Vswitchd::start_ferrovs(env!("CARGO_BIN_EXE_ferrovs").as_ref());
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", &format!("fail_mode={fail_mode}")]);
    sw
}

/// Waits up to `secs` for `check` to hold, returning the last value seen.
fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> (bool, String)) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (ok, seen) = check();
        if ok {
            return seen;
        }
        assert!(Instant::now() < deadline, "{what}: still {seen}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn controller_column(sw: &Vswitchd, col: &str) -> String {
    sw.ovsdb().vsctl(&["get", "controller", "br0", col]).trim().to_owned()
}

fn wait_connected(sw: &Vswitchd, want: bool) {
    eventually(15, "Controller.is_connected", || {
        let v = controller_column(sw, "is_connected");
        (v == want.to_string(), format!("{v} (status {}; log {})", controller_column(sw, "status"), sw.log()))
    });
}

fn flows(sw: &Vswitchd, version: &str) -> String {
    let out = sw.ofctl(&["-O", version, "dump-flows", "br0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn testcontroller(sw: &Vswitchd, listen: &str, ssl: &[&str]) -> Peer {
    let child = sw
        .in_netns("ovs-testcontroller")
        .arg(listen)
        .args(ssl)
        .arg(format!("--log-file={}", sw.dir().join("testcontroller.log").display()))
        // Its control socket goes to the test's directory, never the system's.
        .env("OVS_RUNDIR", sw.dir())
        .env("OVS_LOGDIR", sw.dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ovs-testcontroller (run `make setup`)");
    Peer(child)
}

#[test]
fn ovs_testcontroller_connects_keeps_alive_and_secure_mode_keeps_the_flows() {
    let sw = switch("secure");
    let port = free_port();
    let mut controller = testcontroller(&sw, &format!("ptcp:{port}:127.0.0.1"), &[]);
    sw.vsctl(&["set-controller", "br0", &format!("tcp:127.0.0.1:{port}"), "--", "set", "controller", "br0", "inactivity_probe=1000"]);
    wait_connected(&sw, true);
    assert_eq!(controller_column(&sw, "role"), "other");
    // The learning switch's table-miss flow arrived over the connection.
    eventually(10, "the controller's flow", || {
        let f = flows(&sw, "OpenFlow13");
        (f.contains("priority=0 actions=CONTROLLER:128"), f)
    });
    // Several probe intervals later the connection is still up: echo
    // requests were answered both ways.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(controller_column(&sw, "is_connected"), "true", "log: {}", sw.log());
    assert!(!sw.log().contains("inactivity probe"), "{}", sw.log());

    controller.kill();
    wait_connected(&sw, false);
    assert!(controller_column(&sw, "status").contains("BACKOFF") || controller_column(&sw, "status").contains("CONNECTING"));
    // Secure: the flows stay as the controller left them, and the bridge
    // does not fail open, however long the controller is gone.
    std::thread::sleep(Duration::from_secs(4));
    assert!(flows(&sw, "OpenFlow13").contains("actions=CONTROLLER:128"));
    assert!(!sw.appctl(&["bridge/dump-flows", "br0"]).contains("actions=NORMAL"));
}

/// The os-ken application's stdout, line by line.
fn osken(sw: &Vswitchd, port: u16) -> (Peer, mpsc::Receiver<String>) {
    let python = std::env::var("FERROVS_OSKEN_PYTHON").unwrap_or_else(|_| "/opt/ferrovs-osken/bin/python".into());
    let mut child = sw
        .in_netns(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/osken_app.py"))
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("os-ken's python (run `make setup`)");
    let rx = lines(child.stdout.take().unwrap());
    (Peer(child), rx)
}

/// What a reader gives, line by line, on a channel.
fn lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn expect_line(rx: &mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("os-ken never printed {prefix:?}"));
        if line.starts_with(prefix) {
            return line;
        }
    }
}

#[test]
fn an_os_ken_openflow13_app_connects_and_standalone_fails_open_without_it() {
    let sw = switch("standalone");
    let port = free_port();
    let (mut app, lines) = osken(&sw, port);
    sw.vsctl(&["set-controller", "br0", &format!("tcp:127.0.0.1:{port}"), "--", "set", "controller", "br0", "inactivity_probe=1000"]);
    let dpid = sw.ovsdb().vsctl(&["get", "bridge", "br0", "datapath_id"]).trim().trim_matches('"').to_owned();
    assert_eq!(expect_line(&lines, "connected"), format!("connected {dpid}"));
    // It asked to be master (OFPCR_ROLE_MASTER is 2), and is.
    assert_eq!(expect_line(&lines, "role"), "role 2");
    eventually(10, "Controller.role", || {
        let role = controller_column(&sw, "role");
        (role == "master", role)
    });
    // Echo requests from the app are answered.
    expect_line(&lines, "echo");
    wait_connected(&sw, true);
    eventually(10, "the app's flow", || {
        let f = flows(&sw, "OpenFlow13");
        (f.contains("cookie=0x5ce") && f.contains("actions=CONTROLLER:65535"), f)
    });
    assert!(!sw.appctl(&["bridge/dump-flows", "br0"]).contains("actions=NORMAL"));

    // Standalone: once the controller has been gone for three probe
    // intervals, the bridge fails open to NORMAL switching.
    app.kill();
    wait_connected(&sw, false);
    eventually(10, "the fail-open flow", || {
        let hidden = sw.appctl(&["bridge/dump-flows", "br0"]);
        (hidden.contains("priority=15790320,actions=NORMAL"), hidden)
    });
    assert!(flows(&sw, "OpenFlow13").contains("cookie=0x5ce"), "the OpenFlow tables are left alone");
    // And leaves it when a controller is back.
    let (_app, lines) = osken(&sw, port);
    expect_line(&lines, "connected");
    wait_connected(&sw, true);
    eventually(10, "fail-open to end", || {
        let hidden = sw.appctl(&["bridge/dump-flows", "br0"]);
        (!hidden.contains("actions=NORMAL"), hidden)
    });
}

#[test]
fn ssl_with_ovs_pki_certificates_and_a_wrong_ca_is_refused() {
    let sw = switch("secure");
    let (ca, [key, cert], [ctl_key, ctl_cert]) = pki(sw.dir());
    let other = tempfile::tempdir().unwrap();
    let (wrong_ca, ..) = pki(other.path());
    let p = |x: &std::path::Path| x.to_str().unwrap().to_owned();
    sw.vsctl(&["set-ssl", &p(&key), &p(&cert), &p(&ca)]);

    // The controller trusts the same CA: the connection comes up.
    let port = free_port();
    let ssl_args = ["-p".to_owned(), p(&ctl_key), "-c".into(), p(&ctl_cert), "-C".into(), p(&ca)];
    let ssl_args: Vec<&str> = ssl_args.iter().map(String::as_str).collect();
    let _good = testcontroller(&sw, &format!("pssl:{port}:127.0.0.1"), &ssl_args);
    sw.vsctl(&["set-controller", "br0", &format!("ssl:127.0.0.1:{port}")]);
    wait_connected(&sw, true);
    eventually(10, "the controller's flow over SSL", || {
        let f = flows(&sw, "OpenFlow13");
        (f.contains("actions=CONTROLLER:128"), f)
    });

    // A controller whose certificate comes from another CA is refused.
    let port2 = free_port();
    let bad_args = [
        "-p".to_owned(),
        p(&other.path().join("client-privkey.pem")),
        "-c".into(),
        p(&other.path().join("client-cert.pem")),
        "-C".into(),
        p(&wrong_ca),
    ];
    let bad_args: Vec<&str> = bad_args.iter().map(String::as_str).collect();
    let _bad = testcontroller(&sw, &format!("pssl:{port2}:127.0.0.1"), &bad_args);
    sw.vsctl(&["set-controller", "br0", &format!("ssl:127.0.0.1:{port2}")]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(controller_column(&sw, "is_connected"), "false");
    let status = controller_column(&sw, "status");
    assert!(status.to_lowercase().contains("certificate") || status.contains("UnknownIssuer"), "{status}");
}

#[test]
fn passive_targets_accept_ovs_ofctl() {
    let sw = switch("secure");
    let port = free_port();
    let sock = sw.dir().join("ctl.sock");
    sw.vsctl(&["set-controller", "br0", &format!("ptcp:{port}:127.0.0.1"), &format!("punix:{}", sock.display())]);
    ovs_peers::wait_for(&sock);
    let out = sw
        .in_netns("ovs-ofctl")
        .args(["add-flow", &format!("tcp:127.0.0.1:{port}"), "priority=5,in_port=1,actions=output:2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = sw.in_netns("ovs-ofctl").args(["dump-flows", &format!("unix:{}", sock.display())]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("priority=5,in_port=1 actions=output:2"), "{text}");
}

/// FLOW_REMOVED for a rule that asked for it (`send_flow_rem`), when its
/// hard timeout passes and when it is deleted, reaches `ovs-ofctl
/// monitor` in 1.0, 1.3 and 1.5.
#[test]
fn flow_removed_reaches_ovs_ofctl_monitor() {
    let sw = switch("secure");
    let monitors: Vec<(Peer, mpsc::Receiver<String>)> = ["OpenFlow10", "OpenFlow13", "OpenFlow15"]
        .iter()
        .map(|v| {
            let mut child = std::process::Command::new("stdbuf")
                .args(["-oL", "ovs-ofctl", "-O", v, "monitor", "br0"])
                .env("OVS_RUNDIR", sw.dir())
                // It prints what it receives on stderr when stdout is not
                // a terminal.
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let rx = lines(child.stderr.take().unwrap());
            (Peer(child), rx)
        })
        .collect();
    eventually(10, "three monitors connected", || {
        let log = sw.log();
        (log.matches("br0.mgmt: OpenFlow connection").count() >= 3, log)
    });
    // ovs-ofctl monitor configures its connection after the HELLO (a
    // barrier round trip or two) and prints only after that.
    std::thread::sleep(Duration::from_millis(500));
    let add = |flow: &str| assert!(sw.ofctl(&["add-flow", "br0", flow]).status.success());
    add("table=3,priority=9,in_port=7,hard_timeout=1,send_flow_rem,actions=drop");
    add("table=3,priority=8,tcp,in_port=8,send_flow_rem,actions=drop");
    add("table=3,priority=7,in_port=9,actions=drop");
    assert!(sw.ofctl(&["del-flows", "br0", "table=3,in_port=8"]).status.success());
    assert!(sw.ofctl(&["del-flows", "br0", "table=3,in_port=9"]).status.success());
    for (_, rx) in &monitors {
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(seen.iter().any(|l: &String| l.contains("in_port=7 reason=hard"))
            && seen.iter().any(|l| l.contains("in_port=8 reason=delete")))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("monitor saw {seen:?}"),
            }
        }
        assert!(seen.iter().all(|l| !l.contains("in_port=9")), "a rule without send_flow_rem is removed silently: {seen:?}");
        assert!(seen.iter().all(|l| !l.starts_with("OFPT_FLOW_REMOVED") || l.contains("in_port=7") || l.contains("in_port=8")));
    }
}

/// `Bridge.protocols` limits the versions a connection may use.
#[test]
fn bridge_protocols_limit_the_versions() {
    let sw = switch("secure");
    let works = |version: &str| sw.ofctl(&["-O", version, "show", "br0"]).status.success();
    assert!(works("OpenFlow10") && works("OpenFlow13") && works("OpenFlow14") && works("OpenFlow15"));
    sw.vsctl(&["set", "bridge", "br0", "protocols=OpenFlow13"]);
    assert!(!works("OpenFlow10") && works("OpenFlow13") && !works("OpenFlow15"));
    sw.vsctl(&["set", "bridge", "br0", "protocols=OpenFlow10,OpenFlow15"]);
    assert!(works("OpenFlow10") && !works("OpenFlow13") && works("OpenFlow15"));
    sw.vsctl(&["clear", "bridge", "br0", "protocols"]);
    assert!(works("OpenFlow13"));
}

/// Garbage, truncated messages, lengths past the end and lengths shorter
/// than a header, on the bridge's OpenFlow socket: the connection may be
/// closed, the daemon keeps answering.
#[test]
fn garbage_on_an_openflow_connection_does_not_hurt_the_switch() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    let sw = switch("secure");
    let sock = sw.dir().join("br0.mgmt");
    let hello = [4u8, 0, 0, 8, 0, 0, 0, 1];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut random = |n: usize| {
        (0..n)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect::<Vec<u8>>()
    };
    let mut cases: Vec<Vec<u8>> = vec![
        vec![4, 14, 0, 4, 0, 0, 0, 2],                                            // length below the header's
        vec![4, 14, 0xff, 0xff, 0, 0, 0, 3, 1, 2, 3],                             // length past what is sent
        [&hello[..], &[4, 14, 0, 60, 0, 0, 0, 4][..], &[0xff; 52][..]].concat(),  // a flow mod of garbage
        [&hello[..], &[1, 16, 0, 12, 0, 0, 0, 5, 0xff, 0xff, 0, 0][..]].concat(), // truncated vendor stats
    ];
    for _ in 0..200 {
        let n = (random(1)[0] as usize) * 4;
        let mut m = random(n.max(8));
        m[0] = [1, 4, 5, 6][usize::from(m[1] % 4)];
        let len = m.len() as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        cases.push([&hello[..], &m[..]].concat());
    }
    for case in &cases {
        let mut s = UnixStream::connect(&sock).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let _ = s.write_all(case);
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
    }
    let out = sw.ofctl(&["show", "br0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(sw.ofctl(&["add-flow", "br0", "priority=3,actions=drop"]).status.success());
    assert!(String::from_utf8_lossy(&sw.ofctl(&["dump-flows", "br0"]).stdout).contains("priority=3 actions=drop"));
}

/// PORT_MOD (`ovs-ofctl mod-port`) takes the bridge's local port down and
/// up: the device follows, `ovs-ofctl show` and `Interface.admin_state`
/// say so; a port that does not exist is refused.
#[test]
fn port_mod_takes_a_port_down_and_up() {
    let sw = switch("secure");
    let show = || String::from_utf8_lossy(&sw.ofctl(&["show", "br0"]).stdout).into_owned();
    let admin = || sw.ovsdb().vsctl(&["get", "interface", "br0", "admin_state"]).trim().to_owned();
    assert!(sw.ofctl(&["mod-port", "br0", "br0", "down"]).status.success());
    assert!(show().contains("PORT_DOWN"), "{}", show());
    eventually(10, "admin_state down", || (admin() == "down", admin()));
    assert!(sw.ofctl(&["mod-port", "br0", "br0", "up"]).status.success());
    assert!(!show().contains("PORT_DOWN"), "{}", show());
    eventually(10, "admin_state up", || (admin() == "up", admin()));
    let out = sw.ofctl(&["mod-port", "br0", "77", "down"]);
    assert!(!out.status.success());
}
