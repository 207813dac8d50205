//! Passive controller targets (`ptcp:`, `pssl:`, `punix:`) serve every
//! connection at once, as OVS does: 500 OpenFlow clients connected
//! together each get their HELLO and a flow-stats reply while one more
//! holds a silent connection (for `pssl:`, a TCP connection that never
//! starts its TLS handshake), and the real `ovs-ofctl` gets through
//! beside them.
//!
//! The clients run in the daemon's network namespace, on a thread that
//! entered it (`setns`), so the test's traffic stays on that namespace's
//! loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;
use std::time::Duration;

use ovs_peers::{free_port, pki, Vswitchd};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const CLIENTS: usize = 500;
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `f` on a thread inside the network namespace of process `pid`,
/// with a tokio runtime of its own.
fn in_netns_of<T: Send + 'static>(pid: u32, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
        // SAFETY: `ns` is an open namespace file descriptor for the whole
        // call; setns changes only this thread's network namespace, and
        // this thread is ours alone.
        let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}

/// Reads one OpenFlow message: (type, xid, body).
async fn message<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<(u8, u32, Vec<u8>)> {
    let mut header = [0u8; 8];
    s.read_exact(&mut header).await?;
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut body = vec![0u8; len.saturating_sub(8)];
    s.read_exact(&mut body).await?;
    Ok((header[1], u32::from_be_bytes([header[4], header[5], header[6], header[7]]), body))
}

/// HELLO, then an OpenFlow 1.3 flow-stats request for every flow; the
/// stream once the switch has said HELLO and answered the request.
async fn hello_and_dump_flows<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) -> std::io::Result<S> {
    // HELLO at once, as OVS's vconn does: a client that waited for the
    // switch to speak first would hang when a burst of connections
    // overflows the SYN queue and the kernel answers with syncookies (the
    // server knows of the connection only once the client sends).
    let mut out = vec![4u8, 0, 0, 8, 0, 0, 0, 1];
    // OpenFlow 1.3 OFPT_MULTIPART_REQUEST (18), OFPMP_FLOW: every table,
    // any out_port and out_group, any cookie, an empty OXM match.
    let mut request = vec![4u8, 18, 0, 56, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0];
    request.extend_from_slice(&[0xff, 0, 0, 0]);
    request.extend_from_slice(&[0xff; 8]);
    request.extend_from_slice(&[0u8; 20]);
    request.extend_from_slice(&[0, 1, 0, 4, 0, 0, 0, 0]);
    assert_eq!(request.len(), 56);
    out.extend_from_slice(&request);
    s.write_all(&out).await?;
    if message(&mut s).await?.0 != 0 {
        return Err(std::io::Error::other("the switch's first message is not HELLO"));
    }
    loop {
        let (kind, xid, body) = message(&mut s).await?;
        match (kind, xid) {
            (19, 2) => return Ok(s),
            (1, _) => return Err(std::io::Error::other(format!("the switch answered with an error: {body:02x?}"))),
            _ => {}
        }
    }
}

/// Connects `CLIENTS` clients with `connect` and holds them all until
/// every one has its reply; the number that got one, or what failed.
async fn crowd<S, F, Fut>(connect: F) -> Result<usize, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<S>> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let connecting = connect();
        tasks.spawn(async move { hello_and_dump_flows(connecting.await?).await });
    }
    let mut held = Vec::new();
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            Ok(s) => held.push(s),
            Err(e) => failures.push(e.to_string()),
        }
    }
    failures.truncate(3);
    match failures.is_empty() {
        true => Ok(held.len()),
        false => Err(format!("{} of {CLIENTS} got through; first errors: {failures:?}", held.len())),
    }
}

/// One round: a silent connection on each target, then `CLIENTS`
/// clients on `ptcp:`, `punix:` and `pssl:` in turn; what each crowd got.
async fn crowds(tcp: String, ssl: String, unix: PathBuf, tls: ovsdb::SslConfig) -> [Result<usize, String>; 3] {
    let _silent_tcp = tokio::net::TcpStream::connect(&tcp).await.unwrap();
    let _silent_tls = tokio::net::TcpStream::connect(&ssl).await.unwrap();
    let _silent_unix = tokio::net::UnixStream::connect(&unix).await.unwrap();
    let timed_out = |what: &str| Err(format!("{what}: timed out"));
    let ptcp = tokio::time::timeout(DEADLINE, crowd(move || tokio::net::TcpStream::connect(tcp.clone())));
    let ptcp = ptcp.await.unwrap_or_else(|_| timed_out("ptcp"));
    let punix = tokio::time::timeout(DEADLINE, crowd(move || tokio::net::UnixStream::connect(unix.clone())));
    let punix = punix.await.unwrap_or_else(|_| timed_out("punix"));
    let connector = tokio_rustls::TlsConnector::from(ovsdb::ssl::client_config(&tls).unwrap());
    let name = ovsdb::ssl::server_name(&ssl).unwrap();
    let pssl = tokio::time::timeout(
        DEADLINE,
        crowd(move || {
            let (connector, name, addr) = (connector.clone(), name.clone(), ssl.clone());
            async move { connector.connect(name, tokio::net::TcpStream::connect(addr).await?).await }
        }),
    );
    let pssl = pssl.await.unwrap_or_else(|_| timed_out("pssl"));
    [ptcp, punix, pssl]
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap()
}

/// The daemon's open file descriptors (its sockets among them).
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn passive_targets_serve_500_clients_at_once_beside_a_silent_one() {
    let sw = Vswitchd::start_ferrovs(env!("CARGO_BIN_EXE_ferrovs").as_ref());
    sw.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", "fail_mode=secure"]);
    let (ca, [key, cert], [ctl_key, ctl_cert]) = pki(sw.dir());
    let p = |x: &std::path::Path| x.to_str().unwrap().to_owned();
    sw.vsctl(&["set-ssl", &p(&key), &p(&cert), &p(&ca)]);
    let (tcp_port, ssl_port) = (free_port(), free_port());
    let (tcp, ssl) = (format!("127.0.0.1:{tcp_port}"), format!("127.0.0.1:{ssl_port}"));
    let unix = sw.dir().join("listen.sock");
    let targets = [format!("ptcp:{tcp_port}:127.0.0.1"), format!("pssl:{ssl_port}:127.0.0.1"), format!("punix:{}", unix.display())];
    let mut args = vec!["set-controller", "br0"];
    args.extend(targets.iter().map(String::as_str));
    sw.vsctl(&args);
    ovs_peers::wait_for(&unix);
    sw.ofctl(&["add-flow", "br0", "priority=7,actions=drop"]);

    let pid = sw.pid();
    let client_tls = ovsdb::SslConfig { private_key: ctl_key.clone(), certificate: ctl_cert.clone(), ca_cert: ca.clone() };
    let round = || {
        let (tcp, ssl, unix, tls) = (tcp.clone(), ssl.clone(), unix.clone(), client_tls.clone());
        in_netns_of(pid, move || runtime().block_on(crowds(tcp, ssl, unix, tls)))
    };
    // Twice: what the first round leaves allocated, the second must reuse.
    let mut rss = vec![rss_kb(pid)];
    let fds = open_fds(pid);
    for _ in 0..2 {
        let counts = round();
        assert_eq!(counts, [Ok(CLIENTS), Ok(CLIENTS), Ok(CLIENTS)], "(ptcp, punix, pssl); daemon log:\n{}", sw.log());
        // Until the daemon has seen every connection close (on a loaded
        // machine that takes longer than any fixed pause), and a moment
        // for what they held to be freed.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while open_fds(pid) > fds && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(open_fds(pid) <= fds, "the daemon still holds {} descriptors, {fds} before the round", open_fds(pid));
        std::thread::sleep(Duration::from_millis(500));
        rss.push(rss_kb(pid));
    }
    println!("daemon RSS: {} kB at the start, {} kB after {} clients, {} kB after as many again", rss[0], rss[1], 3 * CLIENTS, rss[2]);
    assert!(rss[2] < rss[1] + (rss[1] - rss[0]) / 2, "memory grows with every round of connections: {rss:?} kB");

    // The real ovs-ofctl, while silent connections are still open on
    // every target.
    let (hold_tcp, hold_ssl, hold_unix) = (tcp.clone(), ssl.clone(), unix.clone());
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        in_netns_of(pid, move || {
            let _a = std::net::TcpStream::connect(hold_tcp).unwrap();
            let _b = std::net::TcpStream::connect(hold_ssl).unwrap();
            let _c = std::os::unix::net::UnixStream::connect(hold_unix).unwrap();
            let _ = stopped.recv();
        })
    });
    std::thread::sleep(Duration::from_millis(200));
    let ssl_flags = [format!("--private-key={}", p(&ctl_key)), format!("--certificate={}", p(&ctl_cert)), format!("--ca-cert={}", p(&ca))];
    for target in [format!("tcp:{tcp}"), format!("unix:{}", unix.display()), format!("ssl:{ssl}")] {
        let out = sw.in_netns("timeout").arg("20").arg("ovs-ofctl").args(&ssl_flags).args(["dump-flows", &target]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("priority=7 actions=drop"),
            "{target}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stop.send(()).unwrap();
    holder.join().unwrap();
}
