//! The switching path end to end: `ferrovs vswitchd` with `net_pcap` DPDK
//! ports (replaying capture files in a loop, writing what is sent to
//! capture files), configured by the real `ovs-vsctl` and `ovs-ofctl`,
//! observed with the real `ovs-appctl` and the ports' counters.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;
use std::time::{Duration, Instant};

use benches::pcap::{read_frames, udp_frame, write_frames};
use ovs_peers::Vswitchd;

/// A child process stopped (SIGKILL) and reaped when dropped.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a test port receives.
#[derive(Clone, Copy)]
enum Rx<'a> {
    /// Nothing.
    Nothing,
    /// The frames of this capture file, over and over (held in mbufs: a
    /// few thousand at most).
    Loop(&'a str),
    /// The frames of this capture file, once, read as they are polled.
    Once(&'a str),
}

/// A ferrovs with DPDK and bridge `br0`.
struct Bed {
    sw: Vswitchd,
}

impl Bed {
    fn start(name: &str) -> Bed {
        let sw = Vswitchd::start_ferrovs(std::path::Path::new(env!("CARGO_BIN_EXE_ferrovs")));
        let prefix = format!("ferrovs-sw-{name}-{}", std::process::id());
        sw.vsctl(&ovs_peers::dpdk_test_config(&prefix, &[]).iter().map(String::as_str).collect::<Vec<_>>());
        sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
        Bed { sw }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.sw.dir().join(name)
    }

    /// Adds DPDK port `name` as OpenFlow port `ofport`: a `net_pcap`
    /// device that writes what it sends to `<name>.out.pcap` and receives
    /// as `rx` says; `extra` is more of the `ovs-vsctl` command.
    fn port(&self, name: &str, ofport: u16, rx: Rx<'_>, extra: &[&str]) {
        let mut devargs = format!("net_pcap{ofport},tx_pcap={}", self.path(&format!("{name}.out.pcap")).display());
        match rx {
            Rx::Nothing => {}
            Rx::Loop(file) => devargs.push_str(&format!(",rx_pcap={},infinite_rx=1", self.path(file).display())),
            Rx::Once(file) => devargs.push_str(&format!(",rx_pcap={}", self.path(file).display())),
        }
        let mut args = vec![
            "add-port".to_owned(),
            "br0".to_owned(),
            name.to_owned(),
            "--".to_owned(),
            "set".to_owned(),
            "Interface".to_owned(),
            name.to_owned(),
            "type=dpdk".to_owned(),
            format!("options:dpdk-devargs={devargs}"),
            format!("ofport_request={ofport}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        self.sw.vsctl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }

    fn ofctl(&self, args: &[&str]) -> String {
        let out = self.sw.ofctl(args);
        assert!(out.status.success(), "ovs-ofctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Packets OpenFlow port `port` has sent (the driver's counter).
    fn tx(&self, port: u16) -> u64 {
        let text = self.ofctl(&["dump-ports", "br0", &port.to_string()]);
        let at = text.find("tx pkts=").expect("a tx counter") + "tx pkts=".len();
        text[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    }

    /// Polls `f` until it holds, for at most `secs` seconds.
    fn eventually(&self, secs: u64, what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !f() {
            assert!(Instant::now() < deadline, "{what} did not happen within {secs} s; log:\n{}", self.sw.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Frames of UDP flows `0..n` (flow i: source 10.0.0.i, port 1024 + i)
/// to `dst`.
fn flows_to(n: u32, dst: [u8; 4]) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut f = udp_frame(i).to_vec();
            f[30..34].copy_from_slice(&dst);
            // The IPv4 checksum covers the address just changed.
            f[24..26].copy_from_slice(&[0, 0]);
            let c = benches::pcap::ipv4_checksum(&f[14..34]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
            f
        })
        .collect()
}

#[test]
fn the_megaflow_of_a_rule_on_nw_dst_leaves_the_ports_wildcarded() {
    let bed = Bed::start("nwdst");
    let mut frames = flows_to(50, [10, 1, 0, 1]);
    frames.extend(flows_to(50, [10, 2, 0, 1]));
    write_frames(&bed.path("in.pcap"), &frames).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "priority=10,ip,nw_dst=10.1.0.1,actions=output:2"]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    bed.port("p1", 1, Rx::Loop("in.pcap"), &[]);
    bed.eventually(10, "forwarding to port 2", || bed.tx(2) > 1000);
    let dump = bed.sw.appctl(&["dpctl/dump-flows"]);
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines.len(), 2, "100 flows, two megaflows: {dump}");
    let hit = lines.iter().find(|l| l.contains("ipv4(dst=10.1.0.1")).unwrap_or_else(|| panic!("{dump}"));
    assert!(!hit.contains("udp(") && !hit.contains("src=10.0."), "source address and ports wildcarded: {hit}");
    assert!(hit.contains("eth_type(0x0800)") && !hit.contains("actions:drop"), "{hit}");
    // Prefix tracking: 10.2.0.1 shares 14 bits with the rule's 10.1.0.1,
    // so 15 bits tell it apart.
    let miss = lines.iter().find(|l| l.contains("ipv4(dst=10.2.0.0/255.254.0.0")).unwrap_or_else(|| panic!("{dump}"));
    assert!(miss.ends_with("actions:drop"), "{miss}");
    // The rule's counters come from the fast path (pushed once a second).
    bed.eventually(5, "the rule's counters moving", || {
        let flows = bed.ofctl(&["dump-flows", "br0"]);
        flows.split("n_packets=").nth(1).and_then(|s| s.split(',').next()).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0) > 0
    });
    let stats = bed.sw.appctl(&["dpif-netdev/pmd-stats-show"]);
    assert!(stats.contains("miss with success upcall: "), "{stats}");
}

#[test]
fn ofproto_trace_shows_the_tables_the_rules_the_megaflow_and_the_actions() {
    let bed = Bed::start("trace");
    bed.ofctl(&["del-flows", "br0"]);
    let flows = "table=0,priority=10,in_port=1,ip,actions=resubmit(,1)\n\
                 table=1,priority=10,udp,tp_src=1024,actions=load:1024->NXM_NX_REG0[],resubmit(,2)\n\
                 table=1,priority=10,udp,tp_src=1025,actions=resubmit(,2)\n\
                 table=1,priority=1,ip,actions=resubmit(,2)\n\
                 table=2,priority=10,ip,nw_dst=10.1.0.0/16,actions=output:2\n";
    std::fs::write(bed.path("flows.txt"), flows).unwrap();
    bed.ofctl(&["add-flows", "br0", bed.path("flows.txt").to_str().unwrap()]);
    bed.port("p1", 1, Rx::Nothing, &[]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    let trace = bed.sw.appctl(&["ofproto/trace", "br0", "in_port=1,udp,nw_src=10.0.0.5,nw_dst=10.1.0.1,tp_src=1024,tp_dst=53"]);
    for line in [
        "bridge(\"br0\")",
        " 0. ip,in_port=1, priority 10",
        "    resubmit(,1)",
        " 1. udp,tp_src=1024, priority 10",
        "    load:0x400->reg0[]",
        " 2. ip,nw_dst=10.1.0.0/16, priority 10",
        "    output:2",
        "Megaflow: recirc_id=0,udp,in_port=1,nw_dst=10.1.0.0/16,tp_src=1024",
    ] {
        assert!(trace.lines().any(|l| l == line), "no line {line:?} in:\n{trace}");
    }
    let actions = trace.lines().find_map(|l| l.strip_prefix("Datapath actions: ")).unwrap_or_else(|| panic!("{trace}"));
    assert!(actions.chars().all(|c| c.is_ascii_digit()), "one output: {trace}");
    // A port no rule has: one bit of it examined, not sixteen.
    let trace = bed.sw.appctl(&["ofproto/trace", "br0", "in_port=1,udp,nw_dst=10.1.0.1,tp_src=40000"]);
    assert!(trace.contains(",tp_src=0x8000/0x8000"), "{trace}");
    assert!(trace.contains(" 1. ip, priority 1"), "{trace}");
    let bad = bed.sw.appctl_result(&["ofproto/trace", "br0", "in_port=1,nw_dst=10.1"]);
    assert!(bad.is_err_and(|e| e.contains("not an IPv4 address")));
    // A raw packet: its headers, the flow's in_port (flow 0 has source
    // port 1024).
    let hex: String = flows_to(1, [10, 1, 0, 1])[0].iter().map(|b| format!("{b:02x}")).collect();
    let trace = bed.sw.appctl(&["ofproto/trace", "br0", "in_port=1", &hex]);
    assert!(trace.lines().any(|l| l == " 1. udp,tp_src=1024, priority 10"), "{trace}");
    assert!(trace.lines().any(|l| l.starts_with("Flow: ") && l.contains("nw_dst=10.1.0.1") && l.contains("tp_src=1024")), "{trace}");
    assert!(trace.lines().any(|l| l == "Megaflow: recirc_id=0,udp,in_port=1,nw_dst=10.1.0.0/16,tp_src=1024"), "{trace}");
    let bad = bed.sw.appctl_result(&["ofproto/trace", "br0", "in_port=1", "0a0b0"]);
    assert!(bad.is_err_and(|e| e.contains("hexadecimal")));
}

/// Starts `ovs-ofctl ARGS monitor br0 65534` in the background, its
/// output going to `<name>.txt`; waits until it is connected.
fn monitor(bed: &Bed, name: &str, args: &[&str]) -> std::process::Child {
    let out = std::fs::File::create(bed.path(&format!("{name}.txt"))).unwrap();
    // Line-buffered, so that the file shows each message as it comes.
    let child = std::process::Command::new("stdbuf")
        .args(["-oL", "ovs-ofctl"])
        .args(args)
        .args(["monitor", "br0", "65534"])
        .env("OVS_RUNDIR", bed.sw.dir())
        .stdout(out.try_clone().unwrap())
        // Where `ovs-ofctl monitor` prints what it receives.
        .stderr(out)
        .spawn()
        .unwrap();
    let before = bed.sw.log().matches("OpenFlow connection").count();
    bed.eventually(10, "ovs-ofctl monitor connecting", || bed.sw.log().matches("OpenFlow connection").count() > before);
    std::thread::sleep(Duration::from_millis(300));
    child
}

#[test]
fn packets_reach_controllers_as_packet_ins_in_each_format() {
    let bed = Bed::start("packetin");
    write_frames(&bed.path("in.pcap"), flows_to(3, [10, 1, 0, 1])).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "cookie=0x77,priority=10,in_port=1,udp,tp_src=1024,actions=controller"]);
    bed.ofctl(&["add-flow", "br0", "priority=10,in_port=1,udp,tp_src=1025,actions=controller(userdata=01.02.03)"]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    let mut monitors = [
        monitor(&bed, "of10", &["--packet-in-format=standard"]),
        monitor(&bed, "of13", &["-O", "OpenFlow13", "--packet-in-format=standard"]),
        monitor(&bed, "nxpin", &["--packet-in-format=nxt_packet_in"]),
        // ovs-ofctl's default: NXT_PACKET_IN2.
        monitor(&bed, "pin2", &["-O", "OpenFlow13"]),
    ];
    bed.port("p1", 1, Rx::Once("in.pcap"), &[]);
    let text = |name: &str| std::fs::read_to_string(bed.path(&format!("{name}.txt"))).unwrap_or_default();
    bed.eventually(10, "packet-ins", || text("of10").matches("PACKET_IN").count() >= 3 && text("pin2").contains("userdata"));
    std::thread::sleep(Duration::from_millis(300));
    for c in &mut monitors {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    let (of10, of13, nxpin, pin2) = (text("of10"), text("of13"), text("nxpin"), text("pin2"));
    // OpenFlow 1.0: the two rules' packets and the miss (1.0's table-miss
    // goes to the controller), with the packet's headers.
    assert_eq!(of10.matches("OFPT_PACKET_IN").count(), 3, "{of10}");
    assert!(of10.contains("(via action)") && of10.contains("(via no_match)"), "{of10}");
    assert!(of10.contains("tp_src=1024") && of10.contains("tp_src=1026") && of10.contains("nw_dst=10.1.0.1"), "{of10}");
    assert_eq!(nxpin.matches("NXT_PACKET_IN ").count(), 3, "{nxpin}");
    // OpenFlow 1.3: the rules' packets with their cookie; a miss is not a
    // 1.3 connection's business.
    assert_eq!(of13.matches("OFPT_PACKET_IN").count(), 2, "{of13}");
    assert!(of13.contains("cookie=0x77") && !of13.contains("no_match"), "{of13}");
    // NXT_PACKET_IN2 carries the userdata.
    assert_eq!(pin2.matches("NXT_PACKET_IN2").count(), 2, "{pin2}");
    assert!(pin2.contains("userdata=01.02.03"), "{pin2}");
    let stats = bed.sw.appctl(&["dpif-netdev/pmd-stats-show"]);
    assert!(stats.contains("packets to controllers: 3 queued, 0 dropped"), "{stats}");
}

#[test]
fn ovs_testcontroller_learns_through_packet_ins_and_its_flows_carry_the_traffic() {
    let bed = Bed::start("learning");
    write_frames(&bed.path("a.pcap"), [l2_frame(0xa, 0xb, None)]).unwrap();
    write_frames(&bed.path("b.pcap"), [l2_frame(0xb, 0xa, None)]).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    let port = ovs_peers::free_port();
    // Open vSwitch's learning-switch controller, in the daemon's network
    // namespace, stopped (SIGKILL) by pid at the end.
    let _controller = Stopped(
        bed.sw
            .in_netns("ovs-testcontroller")
            .arg(format!("ptcp:{port}:127.0.0.1"))
            .arg(format!("--log-file={}", bed.path("testcontroller.log").display()))
            .env("OVS_RUNDIR", bed.sw.dir())
            .env("OVS_LOGDIR", bed.sw.dir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("ovs-testcontroller (run `make setup`)"),
    );
    bed.sw.vsctl(&["set-controller", "br0", &format!("tcp:127.0.0.1:{port}"), "--", "set", "bridge", "br0", "fail_mode=secure"]);
    bed.eventually(10, "the controller's table-miss flow", || bed.ofctl(&["dump-flows", "br0"]).contains("actions=CONTROLLER"));
    bed.port("p1", 1, Rx::Loop("a.pcap"), &[]);
    bed.port("p2", 2, Rx::Loop("b.pcap"), &[]);
    // The first packets go up as packet-ins; the controller floods them
    // with PACKET_OUT, learns both MACs and installs a flow each way.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let flows = bed.ofctl(&["dump-flows", "br0"]);
        if flows.contains("dl_dst=02:00:00:00:00:0b") && flows.contains("dl_dst=02:00:00:00:00:0a") {
            break;
        }
        let controller_log = std::fs::read_to_string(bed.path("testcontroller.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "no learned flows: {flows}\ncontroller: {controller_log}\nswitch: {}", bed.sw.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // From then on the flows carry the traffic on the fast path, far
    // faster than packet-ins could.
    // (Counted, not timed: the fast path forwards 100 000 packets each
    // way while the controller saw a handful of packet-ins.)
    let (a, b) = (bed.tx(1), bed.tx(2));
    bed.eventually(20, "both ways forwarding on the fast path", || bed.tx(1) - a > 100_000 && bed.tx(2) - b > 100_000);
    let stats = bed.sw.appctl(&["dpif-netdev/pmd-stats-show"]);
    let to_controllers =
        stats.split("packets to controllers: ").nth(1).and_then(|t| t.split(' ').next()).and_then(|n| n.parse::<u64>().ok());
    assert!(to_controllers.is_some_and(|n| n < 10_000), "the flows, not packet-ins, carried the traffic: {stats}");
}

#[test]
fn after_a_barrier_reply_no_packet_takes_the_old_path() {
    let bed = Bed::start("barrier");
    write_frames(&bed.path("in.pcap"), flows_to(64, [10, 1, 0, 1])).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "in_port=1,actions=output:2"]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    bed.port("p3", 3, Rx::Nothing, &[]);
    bed.port("p1", 1, Rx::Loop("in.pcap"), &[]);
    bed.eventually(10, "forwarding to port 2", || bed.tx(2) > 1000);
    barrier_rounds(&bed);
}

/// The same while the revalidator has thousands of megaflows to check:
/// the PMD goes on forwarding by the old ones meanwhile, and the barrier's
/// reply waits until none of them is used.
#[test]
fn after_a_barrier_reply_no_packet_takes_the_old_path_while_thousands_of_megaflows_revalidate() {
    let bed = Bed::start("barrier-many");
    // 5 000 source MACs, and a rule on one that never comes: every
    // megaflow matches the whole source MAC.
    let setup = benches::switch::Scenario::Setup;
    write_frames(&bed.path("in.pcap"), (0..5000).map(|i| benches::switch::frame(i, setup))).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "in_port=1,actions=output:2"]);
    bed.ofctl(&["add-flow", "br0", "priority=40000,dl_src=0a:0b:0c:0d:0e:0f,actions=drop"]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    bed.port("p3", 3, Rx::Nothing, &[]);
    bed.port("p1", 1, Rx::Loop("in.pcap"), &[]);
    bed.eventually(20, "thousands of megaflows", || bed.sw.appctl(&["dpctl/dump-flows"]).lines().count() > 4000);
    barrier_rounds(&bed);
}

/// Moves in_port=1's output between ports 2 and 3, six times, each with a
/// barrier: no packet may reach the old port once the barrier is answered.
fn barrier_rounds(bed: &Bed) {
    // One OpenFlow connection: the flow mod, a barrier, and a port-stats
    // request for the old port, sent together. The switch answers them
    // in order, so the counter it gives is read once the barrier is
    // answered, with no moment between the reply and the baseline.
    let mut of = OpenFlow13::connect(&bed.path("br0.mgmt"));
    for round in 0..6u32 {
        let (old, new) = if round % 2 == 0 { (2, 3) } else { (3, 2) };
        let at_reply = of.modify_output_then_tx(1, new, old);
        let new_before = bed.tx(new as u16);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(of.tx(old), at_reply, "round {round}: port {old} sent packets after the barrier reply");
        assert!(bed.tx(new as u16) > new_before, "round {round}: port {new} gets the traffic");
    }
}

/// A raw OpenFlow 1.3 connection to a bridge's management socket.
struct OpenFlow13(std::os::unix::net::UnixStream);

impl OpenFlow13 {
    fn connect(path: &std::path::Path) -> OpenFlow13 {
        let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        std::io::Write::write_all(&mut s, &[4, 0, 0, 8, 0, 0, 0, 1]).unwrap();
        let mut of = OpenFlow13(s);
        assert_eq!(of.message().1, 0, "HELLO first");
        of
    }

    /// The next message: (xid, type, whole message).
    fn message(&mut self) -> (u32, u8, Vec<u8>) {
        use std::io::Read;
        let mut h = [0u8; 8];
        self.0.read_exact(&mut h).unwrap();
        let mut body = vec![0u8; usize::from(u16::from_be_bytes([h[2], h[3]])) - 8];
        self.0.read_exact(&mut body).unwrap();
        (u32::from_be_bytes([h[4], h[5], h[6], h[7]]), h[1], [&h[..], &body].concat())
    }

    /// OFPMP_PORT_STATS for `port`, with `xid`.
    fn port_stats(port: u32, xid: u32) -> Vec<u8> {
        [&[4u8, 18, 0, 24][..], &xid.to_be_bytes(), &[0, 4, 0, 0, 0, 0, 0, 0], &port.to_be_bytes(), &[0; 4]].concat()
    }

    /// Reads messages until the port-stats reply `xid`: its tx_packets.
    fn tx_reply(&mut self, xid: u32) -> u64 {
        loop {
            let (x, ty, m) = self.message();
            assert_ne!(ty, 1, "the switch answered with an error: {m:02x?}");
            if x == xid && ty == 19 {
                return u64::from_be_bytes(m[32..40].try_into().unwrap());
            }
        }
    }

    fn tx(&mut self, port: u32) -> u64 {
        std::io::Write::write_all(&mut self.0, &Self::port_stats(port, 7)).unwrap();
        self.tx_reply(7)
    }

    /// MODIFY in_port=`in_port` to output:`to`, a barrier, and port
    /// `read`'s counters, in one write; the counter once the barrier is
    /// answered.
    fn modify_output_then_tx(&mut self, in_port: u32, to: u32, read: u32) -> u64 {
        let mut fm = vec![4u8, 14, 0, 88, 0, 0, 0, 2];
        fm.extend([0u8; 16]); // cookie, cookie mask
        fm.extend([0, 1, 0, 0, 0, 0, 0x80, 0]); // table 0, MODIFY, no timeouts, priority
        fm.extend([0xff; 12]); // buffer, out_port, out_group: none
        fm.extend([0u8; 4]); // flags, pad
        fm.extend([0, 1, 0, 12, 0x80, 0, 0, 4]); // OXM match: in_port
        fm.extend(in_port.to_be_bytes());
        fm.extend([0u8; 4]);
        fm.extend([0, 4, 0, 24, 0, 0, 0, 0]); // APPLY_ACTIONS
        fm.extend([0, 0, 0, 16]); // OUTPUT
        fm.extend(to.to_be_bytes());
        fm.extend([0xff, 0xff, 0, 0, 0, 0, 0, 0]);
        assert_eq!(fm.len(), 88);
        let barrier = [4u8, 20, 0, 8, 0, 0, 0, 3];
        let all = [&fm[..], &barrier, &Self::port_stats(read, 4)].concat();
        std::io::Write::write_all(&mut self.0, &all).unwrap();
        loop {
            let (x, ty, m) = self.message();
            assert_ne!(ty, 1, "the switch refused the flow mod: {m:02x?}");
            if x == 3 && ty == 21 {
                break;
            }
        }
        self.tx_reply(4)
    }
}

#[test]
fn idle_timeouts_see_traffic_that_stays_on_the_fast_path() {
    let bed = Bed::start("idle");
    write_frames(&bed.path("in.pcap"), flows_to(8, [10, 1, 0, 1])).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "idle_timeout=2,in_port=1,actions=output:2"]);
    bed.ofctl(&["add-flow", "br0", "idle_timeout=2,in_port=9,actions=output:2"]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    bed.port("p1", 1, Rx::Loop("in.pcap"), &[]);
    bed.eventually(10, "forwarding", || bed.tx(2) > 1000);
    std::thread::sleep(Duration::from_secs(4));
    let flows = bed.ofctl(&["dump-flows", "br0"]);
    assert!(flows.contains("in_port=1 actions"), "the busy rule lives on: {flows}");
    assert!(!flows.contains("in_port=9"), "the idle rule expired: {flows}");
    // Stop the traffic: the busy rule expires too.
    bed.sw.vsctl(&["del-port", "br0", "p1"]);
    bed.eventually(8, "the rule's idle expiry", || !bed.ofctl(&["dump-flows", "br0"]).contains("in_port=1"));
}

/// A frame from MAC `src` to MAC `dst`, with an 802.1Q tag when `vid`.
fn l2_frame(src: u8, dst: u8, vid: Option<u16>) -> Vec<u8> {
    let mut f = udp_frame(u32::from(src)).to_vec();
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, dst]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, src]);
    if let Some(v) = vid {
        f.splice(12..12, [0x81, 0x00, (v >> 8) as u8, v as u8]);
    }
    f
}

#[test]
fn normal_learns_floods_ages_and_keeps_vlans_apart() {
    let bed = Bed::start("normal");
    // Bridge with no controller: OVS's NORMAL flow is there.
    assert!(bed.ofctl(&["dump-flows", "br0"]).contains("actions=NORMAL"));
    write_frames(&bed.path("a.pcap"), [l2_frame(0xa, 0xb, None)]).unwrap();
    write_frames(&bed.path("b.pcap"), [l2_frame(0xb, 0xa, None)]).unwrap();
    bed.port("trunk", 4, Rx::Nothing, &[]);
    bed.port("other", 3, Rx::Nothing, &["--", "set", "Port", "other", "tag=20"]);
    bed.port("pa", 1, Rx::Loop("a.pcap"), &["--", "set", "Port", "pa", "tag=10"]);
    // A to the unknown B: flooded in VLAN 10, to the trunk with a tag.
    bed.eventually(10, "flooding to the trunk", || bed.tx(4) > 100);
    assert_eq!(bed.tx(3), 0, "VLAN 20 hears nothing of VLAN 10");
    let fdb = bed.sw.appctl(&["fdb/show", "br0"]);
    assert!(fdb.lines().any(|l| l.contains("   10  02:00:00:00:00:0a") && l.trim_start().starts_with('1')), "{fdb}");
    // B answers from port 2: both learned, traffic is unicast, the trunk
    // hears no more.
    bed.port("pb", 2, Rx::Loop("b.pcap"), &["--", "set", "Port", "pb", "tag=10"]);
    bed.eventually(10, "A's frames reaching B's port", || bed.tx(2) > 100);
    bed.eventually(10, "B's frames reaching A's port", || bed.tx(1) > 100);
    let settled = bed.tx(4);
    std::thread::sleep(Duration::from_millis(500));
    let trunk = bed.tx(4);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(bed.tx(4), trunk, "unicast once learned (was {settled} before settling)");
    assert_eq!(bed.tx(3), 0);
    // What the trunk got carries VLAN 10's tag.
    bed.sw.vsctl(&["del-port", "br0", "trunk"]);
    let frames = read_frames(&bed.path("trunk.out.pcap")).unwrap();
    assert!(!frames.is_empty());
    for f in &frames {
        assert_eq!(&f[12..16], &[0x81, 0x00, 0x00, 10], "tagged for VLAN 10");
        assert_eq!(&f[6..12], &[2, 0, 0, 0, 0, 0xa]);
    }
    // Ageing: stop A, shorten the ageing time; A's entry goes.
    bed.sw.vsctl(&["set", "bridge", "br0", "other_config:mac-aging-time=1"]);
    bed.sw.vsctl(&["del-port", "br0", "pa"]);
    bed.eventually(5, "A ageing out", || !bed.sw.appctl(&["fdb/show", "br0"]).contains("02:00:00:00:00:0a"));
}

#[test]
fn a_flood_of_new_flows_leaves_an_established_flow_forwarding() {
    let bed = Bed::start("flood");
    write_frames(&bed.path("one.pcap"), flows_to(1, [10, 1, 0, 1])).unwrap();
    // A million distinct source MACs, each a megaflow of its own (the rule
    // below makes the megaflows match the whole source MAC; addresses and
    // ports would not do: prefix tracking keeps those megaflows wide).
    let setup = benches::switch::Scenario::Setup;
    write_frames(&bed.path("flood.pcap"), (0..1 << 20).map(|i| benches::switch::frame(i, setup))).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "in_port=1,actions=output:2"]);
    bed.ofctl(&["add-flow", "br0", "priority=10,in_port=3,dl_src=00:00:00:00:00:01,actions=drop"]);
    bed.ofctl(&["add-flow", "br0", "priority=5,in_port=3,actions=output:4"]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    bed.port("p4", 4, Rx::Nothing, &[]);
    bed.port("p1", 1, Rx::Loop("one.pcap"), &[]);
    bed.port("p3", 3, Rx::Once("flood.pcap"), &[]);
    bed.eventually(10, "the flood being translated", || {
        let s = bed.sw.appctl(&["dpif-netdev/pmd-stats-show"]);
        s.split("miss with success upcall: ").nth(1).and_then(|v| v.lines().next()).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            > 20_000
    });
    // (Counted, not timed: whatever the machine's speed, the flood goes
    // on, and in the same window the established flow gets several times
    // its share.)
    let (start, flood_start) = (bed.tx(2), bed.tx(4));
    bed.eventually(20, "the flood forwarded on", || bed.tx(4) - flood_start > 5_000);
    let (established, flood) = (bed.tx(2) - start, bed.tx(4) - flood_start);
    // Each burst of new flows gets at most 8 translations (the rest are
    // dropped and counted), and the established flow's bursts are switched
    // in between.
    assert!(established >= 2 * flood, "the established flow keeps forwarding: {established} packets, the flood {flood}");
    let stats = bed.sw.appctl(&["dpif-netdev/pmd-stats-show"]);
    assert!(!stats.contains("miss with failed upcall: 0\n"), "the flood's excess is counted: {stats}");
}

/// `pmd-stats-show` counts each received packet once: in the microflow
/// cache's hits, the megaflow hits, the successful upcalls or the failed
/// ones. Each new flow here comes twice in a row, so a burst holds
/// packets that find the megaflow an earlier packet of the same burst
/// just made, and more new flows than a burst may translate.
#[test]
fn pmd_stats_hits_add_up_to_packets_received() {
    let bed = Bed::start("hitsum");
    let setup = benches::switch::Scenario::Setup;
    const FLOWS: u32 = 20_000;
    write_frames(&bed.path("pairs.pcap"), (0..2 * FLOWS).map(|i| benches::switch::frame(i / 2, setup))).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "priority=10,in_port=3,dl_src=00:00:00:00:00:01,actions=drop"]);
    bed.ofctl(&["add-flow", "br0", "priority=5,in_port=3,actions=output:4"]);
    bed.port("p4", 4, Rx::Nothing, &[]);
    bed.port("p3", 3, Rx::Once("pairs.pcap"), &[]);
    let counter = |stats: &str, label: &str| -> u64 {
        stats.split(label).nth(1).and_then(|v| v.lines().next()).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    bed.eventually(20, "the pcap read whole", || {
        counter(&bed.sw.appctl(&["dpif-netdev/pmd-stats-show"]), "packets received: ") == u64::from(2 * FLOWS)
    });
    let stats = bed.sw.appctl(&["dpif-netdev/pmd-stats-show"]);
    let parts: Vec<u64> = ["emc hits: ", "megaflow hits: ", "miss with success upcall: ", "miss with failed upcall: "]
        .iter()
        .map(|label| counter(&stats, label))
        .collect();
    assert!(parts[1] > 0 && parts[2] > 0 && parts[3] > 0, "the traffic reaches every counter: {stats}");
    assert_eq!(parts.iter().sum::<u64>(), u64::from(2 * FLOWS), "the hit counters add up to the packets received: {stats}");
}

#[test]
fn packet_out_through_the_tables_arrives_with_the_rules_headers() {
    let bed = Bed::start("packetout");
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&[
        "add-flow",
        "br0",
        "priority=10,ip,nw_dst=10.1.0.1,actions=mod_nw_dst:10.9.9.9,mod_dl_dst:02:00:00:00:00:99,dec_ttl,output:2",
    ]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    let sent = &flows_to(1, [10, 1, 0, 1])[0];
    let hex: String = sent.iter().map(|b| format!("{b:02x}")).collect();
    // Through the tables, and straight out of a port: both as OVS does.
    bed.ofctl(&["packet-out", "br0", &format!("in_port=controller packet={hex} actions=resubmit(,0)")]);
    bed.ofctl(&["-O", "OpenFlow13", "packet-out", "br0", &format!("in_port=controller packet={hex} actions=table")]);
    bed.ofctl(&["packet-out", "br0", &format!("in_port=controller packet={hex} actions=output:2")]);
    bed.eventually(5, "three packets out of port 2", || bed.tx(2) == 3);
    // A PACKET_OUT the switch cannot carry out is an error, not a crash.
    let out = bed.sw.ofctl(&["packet-out", "br0", &format!("in_port=controller packet={hex} actions=ct(commit),output:2")]);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(bed.ofctl(&["dump-flows", "br0"]).contains("nw_dst=10.1.0.1"));
    bed.sw.vsctl(&["del-port", "br0", "p2"]);
    let frames = read_frames(&bed.path("p2.out.pcap")).unwrap();
    assert_eq!(frames.len(), 3);
    for f in &frames[..2] {
        assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 0x99], "destination MAC rewritten");
        assert_eq!(&f[30..34], &[10, 9, 9, 9], "destination address rewritten");
        assert_eq!(f[22], 63, "TTL decremented");
        assert_eq!(benches::pcap::ipv4_checksum(&f[14..34]), 0, "IPv4 checksum updated");
        assert_eq!(&f[34..], &sent[34..], "UDP header and payload untouched");
    }
    assert_eq!(&frames[2], sent, "output:2 sends the packet as it was");
}

#[test]
fn bad_ports_get_errors_while_the_others_keep_forwarding() {
    let bed = Bed::start("badports");
    write_frames(&bed.path("in.pcap"), flows_to(16, [10, 1, 0, 1])).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "in_port=1,actions=output:2"]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    bed.port("p1", 1, Rx::Loop("in.pcap"), &[]);
    bed.eventually(10, "forwarding", || bed.tx(2) > 1000);
    bed.sw.vsctl(&["add-port", "br0", "bad", "--", "set", "Interface", "bad", "type=dpdk", "options:dpdk-devargs=net_nonsense0,x=y"]);
    bed.sw.vsctl(&["add-port", "br0", "odd", "--", "set", "Interface", "odd", "type=stt"]);
    let error = |name: &str| bed.sw.vsctl(&["get", "Interface", name, "error"]);
    assert!(error("bad").contains("could not open net_nonsense0"), "{}", error("bad"));
    assert!(error("odd").contains("stt") && error("odd").contains("not supported"), "{}", error("odd"));
    let before = bed.tx(2);
    std::thread::sleep(Duration::from_millis(500));
    assert!(bed.tx(2) > before + 1000, "port 1 to port 2 keeps forwarding");
}

/// The number after `key` in `text`.
fn number_after(text: &str, key: &str) -> u64 {
    let at = text.find(key).unwrap_or_else(|| panic!("no {key} in {text}")) + key.len();
    text[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

#[test]
fn a_meter_holds_its_flows_to_its_rate_and_counts_what_it_drops() {
    let bed = Bed::start("meter");
    write_frames(&bed.path("in.pcap"), flows_to(8, [10, 1, 0, 1])).unwrap();
    let of13 = |args: &[&str]| bed.ofctl(&[&["-O", "OpenFlow13"], args].concat());
    of13(&["del-flows", "br0"]);
    of13(&["add-meter", "br0", "meter=1,pktps,burst,stats,band=type=drop,rate=1000,burst_size=100"]);
    of13(&["add-flow", "br0", "in_port=1,actions=meter:1,output:2"]);
    of13(&["add-flow", "br0", "in_port=3,actions=output:4"]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    bed.port("p4", 4, Rx::Nothing, &[]);
    bed.port("p1", 1, Rx::Loop("in.pcap"), &[]);
    bed.port("p3", 3, Rx::Loop("in.pcap"), &[]);
    bed.eventually(10, "the unmetered flow forwarding", || bed.tx(4) > 100_000);
    // A bound, not a timed rate: however slow the machine, no more than
    // 1000 packets a second (and the burst) pass the meter; the
    // unmetered flow is not held back.
    let (start, metered, unmetered) = (Instant::now(), bed.tx(2), bed.tx(4));
    bed.eventually(20, "the unmetered flow far ahead", || bed.tx(4) - unmetered > 200_000);
    let (metered, unmetered) = (bed.tx(2) - metered, bed.tx(4) - unmetered);
    let most = 1000.0 * start.elapsed().as_secs_f64() + 100.0 + 64.0;
    assert!(metered > 0 && (metered as f64) <= most, "1000 packets/s at most through the meter: {metered}, bound {most:.0}");
    assert!(unmetered > 100 * metered, "the meter limits only its own flow: {unmetered} against {metered}");
    // The meter's counters: what reached it, and what its band dropped;
    // the difference is what port 2 sent.
    let before = bed.tx(2);
    let stats = of13(&["meter-stats", "br0"]);
    let after = bed.tx(2);
    let (seen, dropped) = (number_after(&stats, "packet_in_count:"), number_after(&stats, "0: packet_count:"));
    assert!(dropped > 0 && seen > dropped, "{stats}");
    assert!((before..=after).contains(&(seen - dropped)), "{seen} - {dropped} passed, port 2 sent {before}..{after}: {stats}");
    // Deleting the meter deletes the rule that uses it, as in OVS.
    of13(&["del-meter", "br0", "meter=1"]);
    let flows = of13(&["dump-flows", "br0"]);
    assert!(!flows.contains("meter:1") && flows.contains("in_port=3"), "{flows}");
}

#[test]
fn check_pkt_larger_sends_long_and_short_packets_their_own_ways() {
    let bed = Bed::start("pktlarger");
    // Flows 0..8 padded to 64 + 8 i bytes: four of them longer than 90.
    let frames: Vec<Vec<u8>> = flows_to(8, [10, 1, 0, 1])
        .into_iter()
        .enumerate()
        .map(|(i, mut f)| {
            f.resize(64 + 8 * i, 0);
            f
        })
        .collect();
    write_frames(&bed.path("in.pcap"), &frames).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "table=0,in_port=1,actions=check_pkt_larger(90)->NXM_NX_REG0[0],resubmit(,1)"]);
    bed.ofctl(&["add-flow", "br0", "table=1,priority=10,reg0=0x1/0x1,actions=output:2"]);
    bed.ofctl(&["add-flow", "br0", "table=1,priority=5,actions=output:3"]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    bed.port("p3", 3, Rx::Nothing, &[]);
    bed.port("p1", 1, Rx::Once("in.pcap"), &[]);
    bed.eventually(10, "all eight packets out", || bed.tx(2) + bed.tx(3) == 8);
    let dump = bed.sw.appctl(&["dpctl/dump-flows"]);
    assert!(dump.contains("check_pkt_len(size=90,gt("), "{dump}");
    bed.sw.vsctl(&["del-port", "br0", "p2"]);
    bed.sw.vsctl(&["del-port", "br0", "p3"]);
    let long: Vec<usize> = read_frames(&bed.path("p2.out.pcap")).unwrap().iter().map(Vec::len).collect();
    let short: Vec<usize> = read_frames(&bed.path("p3.out.pcap")).unwrap().iter().map(Vec::len).collect();
    assert_eq!((long, short), (vec![96, 104, 112, 120], vec![64, 72, 80, 88]));
}

#[test]
fn a_conjunctive_match_from_ovs_ofctl_takes_only_packets_that_hit_every_clause() {
    let bed = Bed::start("conj");
    let mut frames = flows_to(4, [10, 1, 0, 1]);
    frames.extend(flows_to(4, [10, 2, 0, 1]));
    write_frames(&bed.path("in.pcap"), &frames).unwrap();
    bed.ofctl(&["del-flows", "br0"]);
    for flow in [
        "priority=10,ip,nw_src=10.0.0.1,actions=conjunction(7,1/2)",
        "priority=10,ip,nw_src=10.0.0.2,actions=conjunction(7,1/2)",
        "priority=10,ip,nw_dst=10.1.0.1,actions=conjunction(7,2/2)",
        "priority=10,conj_id=7,actions=output:2",
        "priority=1,actions=output:3",
    ] {
        bed.ofctl(&["add-flow", "br0", flow]);
    }
    bed.port("p2", 2, Rx::Nothing, &[]);
    bed.port("p3", 3, Rx::Nothing, &[]);
    bed.port("p1", 1, Rx::Once("in.pcap"), &[]);
    bed.eventually(10, "all eight packets out", || bed.tx(2) + bed.tx(3) == 8);
    assert_eq!((bed.tx(2), bed.tx(3)), (2, 6), "10.0.0.1 and 10.0.0.2 to 10.1.0.1 complete the conjunction");
    bed.sw.vsctl(&["del-port", "br0", "p2"]);
    let sources: Vec<[u8; 4]> = read_frames(&bed.path("p2.out.pcap")).unwrap().iter().map(|f| [f[26], f[27], f[28], f[29]]).collect();
    assert_eq!(sources, vec![[10, 0, 0, 1], [10, 0, 0, 2]]);
}

/// The bridge's local port is a tap device the datapath polls: frames
/// sent to LOCAL reach the kernel, and what the kernel sends on the
/// device (here its ARP requests) reaches the tables.
#[test]
fn the_local_port_carries_frames_between_the_kernel_and_the_tables() {
    let bed = Bed::start("local");
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "in_port=1,actions=LOCAL"]);
    bed.ofctl(&["add-flow", "br0", "in_port=LOCAL,actions=output:2"]);
    write_frames(&bed.path("in.pcap"), flows_to(10, [192, 0, 2, 1])).unwrap();
    bed.port("p1", 1, Rx::Loop("in.pcap"), &[]);
    bed.port("p2", 2, Rx::Nothing, &[]);
    // bash: its /dev/udp sends a datagram.
    let sh = |script: &str| {
        let out = bed.sw.in_netns("bash").args(["-c", script]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Down, as OVS leaves it, until the host brings it up.
    assert!(!sh("ip link show br0").contains(",UP"), "{}", sh("ip link show br0"));
    sh("ip link set br0 up && ip addr add 192.0.2.1/24 dev br0");
    bed.eventually(10, "the kernel's br0 receiving port 1's frames", || {
        // /proc/net, not /sys: sysfs shows the namespace that mounted it.
        sh("awk '$1 == \"br0:\" { print $3 }' /proc/net/dev").trim().parse::<u64>().is_ok_and(|n| n >= 100)
    });
    // A datagram to a neighbour the kernel does not know: it asks by ARP,
    // out of br0.
    bed.eventually(10, "an ARP request from the kernel out of port 2", || {
        sh("echo hello > /dev/udp/192.0.2.2/9 2>/dev/null; true");
        bed.tx(2) > 0
    });
    bed.sw.vsctl(&["del-port", "br0", "p2"]);
    let frames = read_frames(&bed.path("p2.out.pcap")).unwrap();
    let asks = |f: &Vec<u8>| f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 1] && f[38..42] == [192, 0, 2, 2];
    assert!(frames.iter().any(asks), "no ARP request for 192.0.2.2 among {} frames", frames.len());
    let counters = bed.ofctl(&["dump-ports", "br0", "LOCAL"]);
    assert!(!counters.contains("rx pkts=0,"), "{counters}");
}

#[test]
fn a_patch_pair_carries_frames_from_one_bridge_into_the_other() {
    let bed = Bed::start("patch");
    let sent = flows_to(16, [10, 1, 0, 1]);
    write_frames(&bed.path("in.pcap"), &sent).unwrap();
    bed.sw.vsctl(&["add-br", "br1", "--", "set", "bridge", "br1", "datapath_type=netdev"]);
    bed.sw.vsctl(&[
        "add-port",
        "br0",
        "patch-a",
        "--",
        "set",
        "Interface",
        "patch-a",
        "type=patch",
        "options:peer=patch-b",
        "ofport_request=9",
        "--",
        "add-port",
        "br1",
        "patch-b",
        "--",
        "set",
        "Interface",
        "patch-b",
        "type=patch",
        "options:peer=patch-a",
        "ofport_request=7",
    ]);
    let out = bed.path("q2.out.pcap");
    bed.sw.vsctl(&[
        "add-port",
        "br1",
        "q2",
        "--",
        "set",
        "Interface",
        "q2",
        "type=dpdk",
        &format!("options:dpdk-devargs=net_pcap22,tx_pcap={}", out.display()),
        "ofport_request=2",
    ]);
    bed.ofctl(&["del-flows", "br0"]);
    bed.ofctl(&["add-flow", "br0", "in_port=1,actions=output:9"]);
    bed.ofctl(&["del-flows", "br1"]);
    // br1's rule sees the packet enter on its patch port.
    bed.ofctl(&["add-flow", "br1", "in_port=7,udp,actions=mod_nw_tos:32,output:2"]);
    bed.port("p1", 1, Rx::Loop("in.pcap"), &[]);
    let br1_tx = || number_after(&bed.ofctl(&["dump-ports", "br1", "2"]), "tx pkts=");
    bed.eventually(10, "frames through the patch pair", || br1_tx() > 1000);
    // Both bridges' rules count them (passed on once a second).
    for br in ["br0", "br1"] {
        bed.eventually(5, &format!("{br}'s rule counting"), || number_after(&bed.ofctl(&["dump-flows", br]), "n_packets=") > 1000);
    }
    // A patch port without a matching peer says so; the pair works on.
    bed.sw.vsctl(&["add-port", "br0", "patch-x", "--", "set", "Interface", "patch-x", "type=patch", "options:peer=nowhere"]);
    let error = bed.sw.vsctl(&["get", "Interface", "patch-x", "error"]);
    assert!(error.contains("peer nowhere") && error.contains("does not exist"), "{error}");
    let before = br1_tx();
    bed.eventually(5, "the pair still forwarding", || br1_tx() > before + 1000);
    bed.sw.vsctl(&["del-port", "br1", "q2"]);
    let got = read_frames(&out).unwrap();
    assert!(got.len() > 1000);
    for f in &got {
        assert_eq!(f[15], 32, "br1's rule set the TOS");
        assert!(
            sent.iter().any(|s| s[..15] == f[..15] && s[16..24] == f[16..24] && s[26..] == f[26..]),
            "a frame changed beyond TOS and checksum"
        );
    }
}

/// The `pmd-rxq-show` block of the thread on `core`.
fn pmd_block(show: &str, core: usize) -> String {
    let head = format!("core_id {core}:");
    show.split("pmd thread").find(|b| b.contains(&head)).unwrap_or_default().to_owned()
}

#[test]
fn queues_spread_over_the_pmd_threads_of_the_mask_and_follow_affinity() {
    let bed = Bed::start("pmds");
    bed.sw.vsctl(&["set", "open_vswitch", ".", "other_config:pmd-cpu-mask=0x3", "other_config:pmd-rxq-assign=roundrobin"]);
    bed.ofctl(&["del-flows", "br0"]);
    // net_null devices receive without end: two queues on n1, one on n2.
    bed.sw.vsctl(&[
        "add-port",
        "br0",
        "n1",
        "--",
        "set",
        "Interface",
        "n1",
        "type=dpdk",
        "options:dpdk-devargs=net_null1",
        "options:n_rxq=2",
        "options:n_rxq_desc=512",
        "ofport_request=1",
        "--",
        "add-port",
        "br0",
        "n2",
        "--",
        "set",
        "Interface",
        "n2",
        "type=dpdk",
        "options:dpdk-devargs=net_null2",
        "ofport_request=2",
    ]);
    bed.ofctl(&["add-flow", "br0", "in_port=1,actions=output:2"]);
    bed.ofctl(&["add-flow", "br0", "in_port=2,actions=output:1"]);
    let show = || bed.sw.appctl(&["dpif-netdev/pmd-rxq-show"]);
    let text = show();
    // Round robin over cores 0 and 1, in port order: the local port br0
    // → 0, n1 q0 → 1, n1 q1 → 0, n2 q0 → 1.
    assert!(pmd_block(&text, 0).contains("port: n1               queue-id:  1"), "{text}");
    assert!(pmd_block(&text, 1).contains("port: n1               queue-id:  0"), "{text}");
    assert!(pmd_block(&text, 1).contains("port: n2               queue-id:  0"), "{text}");
    bed.eventually(10, "both threads forwarding", || {
        let s = bed.sw.appctl(&["dpif-netdev/pmd-stats-show"]);
        s.split("pmd thread").skip(1).all(|b| number_after(b, "packets received: ") > 10_000)
    });
    // Each queue's measured share of its thread.
    bed.eventually(5, "a queue's load", || {
        show().split("pmd usage:").skip(1).any(|r| r.split_whitespace().next().and_then(|n| n.parse::<u32>().ok()).unwrap_or(0) > 0)
    });

    // Pinned: n2's queue to core 1, which then polls it alone.
    bed.sw.vsctl(&["set", "Interface", "n2", "other_config:pmd-rxq-affinity=0:1"]);
    let text = show();
    let one = pmd_block(&text, 1);
    assert!(one.contains("isolated : true") && one.contains("port: n2") && !one.contains("port: n1"), "{text}");
    assert_eq!(pmd_block(&text, 0).matches("queue-id").count(), 3, "{text}");
    assert_eq!(bed.sw.appctl(&["dpif-netdev/pmd-rxq-rebalance"]), "pmd rxq rebalance requested.\n");
    let before = bed.tx(1);
    bed.eventually(5, "traffic after the rebalance", || bed.tx(1) > before + 10_000);

    // One core again: one thread polls everything.
    bed.sw.vsctl(&["set", "open_vswitch", ".", "other_config:pmd-cpu-mask=0x2"]);
    let text = show();
    assert_eq!(text.matches("pmd thread").count(), 1, "{text}");
    assert_eq!(text.matches("queue-id").count(), 4, "{text}");
    // Settings that cannot be: the default, a warning, and the port
    // keeps working (as in OVS).
    bed.sw.vsctl(&["set", "Interface", "n2", "mtu_request=9000"]);
    bed.sw.vsctl(&["set", "Interface", "n1", "options:n_rxq_desc=1000"]);
    for (iface, warning) in [("n2", "mtu_request=9000 is not supported"), ("n1", "options:n_rxq_desc=1000 is not a power of two")] {
        assert_eq!(bed.sw.vsctl(&["get", "Interface", iface, "error"]).trim(), "[]");
        assert!(bed.sw.log().contains(warning), "{warning}: {}", bed.sw.log());
    }
    assert_eq!(show().matches("queue-id").count(), 4, "{}", show());
    let before = bed.tx(1);
    bed.eventually(5, "traffic after the settings", || bed.tx(1) > before + 10_000);
}
