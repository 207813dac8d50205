//! Each bridge's OpenFlow management socket, `<rundir>/<bridge>.mgmt`, as
//! OVS listens on it, so that `ovs-ofctl show br0` (and other commands
//! given a bridge name) reach the bridge with no address. Connections run
//! an [`ofproto::Session`] against the bridge's current [`BridgeView`],
//! which the reconciliation refreshes; ports added, removed or changed
//! are announced to every connection with PORT_STATUS.

use ofproto::error::{BadRequest, OfError, PortModFailed};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ofproto::actions::Action;
use ofproto::flowmatch::Match;
use ofproto::table::{FlowMod, Tables};
use ofproto::{Bridge, Desc, PortCounters, PortDesc, PortReason, Session, SwitchView};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixListener;

/// What OpenFlow clients see of a bridge.
#[derive(Clone, Debug)]
pub struct BridgeView {
    /// Datapath id.
    pub dpid: u64,
    /// Ports with OpenFlow numbers, the local port included.
    pub ports: Vec<PortDesc>,
    /// Description.
    pub desc: Desc,
    /// The DPDK ports by OpenFlow number, for their live counters (weak:
    /// a port the daemon closes or reconfigures is not kept open by this
    /// view).
    pub counters: Vec<(u32, pmd::WeakPort)>,
    /// The OpenFlow versions `Bridge.protocols` allows (a version bitmap).
    pub versions: u32,
    /// What PORT_MOD changed: each port's configuration bits, and whom to
    /// tell (set by [`Mgmt`], kept across updates).
    pub port_mods: PortMods,
    /// The bridge's side of the datapath, for PACKET_OUT (set by [`Mgmt`]).
    pub dp: Option<Arc<dpif::BridgeDp>>,
}

/// PORT_MOD's state: each port's configuration (OpenFlow's `OFPPC_*`
/// bits), the connections to tell of changes, the daemon to wake.
#[derive(Clone, Debug, Default)]
pub struct PortMods {
    config: Arc<Mutex<std::collections::BTreeMap<u32, u32>>>,
    events: Option<tokio::sync::broadcast::Sender<Async>>,
    changed: Option<Arc<tokio::sync::Notify>>,
}

impl PortMods {
    /// Port `port_no`'s configuration bits.
    pub fn config(&self, port_no: u32) -> u32 {
        self.config.lock().map_or(0, |c| c.get(&port_no).copied().unwrap_or(0))
    }
}

/// OFPPC_PORT_DOWN.
pub(crate) const PORT_DOWN: u32 = 1;
/// The configuration bits PORT_MOD may set: PORT_DOWN, NO_STP, NO_RECV,
/// NO_RECV_STP, NO_FLOOD, NO_FWD, NO_PACKET_IN.
const CONFIG_BITS: u32 = 0x7f;

impl SwitchView for BridgeView {
    fn datapath_id(&self) -> u64 {
        self.dpid
    }
    fn ports(&self) -> Vec<PortDesc> {
        self.ports.iter().map(|p| PortDesc { config: p.config | self.port_mods.config(p.port_no), ..p.clone() }).collect()
    }
    fn port_mod(&self, port_no: u32, hw_addr: [u8; 6], config: u32, mask: u32) -> Result<(), OfError> {
        use OfError;
        let port = self.ports.iter().find(|p| p.port_no == port_no).ok_or(OfError::PortModFailed(PortModFailed::BadPort))?;
        if port.hw_addr != hw_addr {
            return Err(OfError::PortModFailed(PortModFailed::BadHwAddr));
        }
        let old = self.port_mods.config(port_no);
        let new = (old & !mask) | (config & mask & CONFIG_BITS);
        if (old ^ new) & PORT_DOWN != 0 {
            let up = new & PORT_DOWN == 0;
            let done = match self.counters.iter().find(|(n, _)| *n == port_no).and_then(|(_, p)| p.upgrade()) {
                Some(dpdk) => dpdk.set_link(up).map_err(|e| e.to_string()),
                None => crate::tap::set_admin(&port.name, up).map_err(|e| e.to_string()),
            };
            if let Err(e) = done {
                crate::log::warn(&format!("{}: cannot set the port {}: {e}", port.name, if up { "up" } else { "down" }));
                return Err(OfError::PortModFailed(PortModFailed::Eperm));
            }
        }
        if let Ok(mut c) = self.port_mods.config.lock() {
            c.insert(port_no, new);
        }
        if let Some(events) = &self.port_mods.events {
            let _ = events.send(Async::Port(PortReason::Modify, PortDesc { config: port.config | new, ..port.clone() }));
        }
        if let Some(changed) = &self.port_mods.changed {
            changed.notify_one();
        }
        Ok(())
    }
    fn desc(&self) -> Desc {
        self.desc.clone()
    }
    fn packet_out(&self, in_port: u16, actions: &[Action], packet: &[u8]) -> Result<(), OfError> {
        match &self.dp {
            Some(dp) => dp.packet_out(in_port, actions, packet),
            None => Err(OfError::BadRequest(BadRequest::Eperm)),
        }
    }
    fn port_counters(&self) -> Vec<PortCounters> {
        self.counters
            .iter()
            .filter_map(|(port_no, port)| {
                let s = port.upgrade()?.stats().ok()?;
                Some(PortCounters {
                    port_no: *port_no,
                    rx_packets: s.rx_packets,
                    tx_packets: s.tx_packets,
                    rx_bytes: s.rx_bytes,
                    tx_bytes: s.tx_bytes,
                    rx_dropped: s.rx_missed + s.rx_nombuf,
                    tx_dropped: s.tx_dropped,
                    rx_errors: s.rx_errors,
                    tx_errors: s.tx_errors,
                })
            })
            .collect()
    }
}

/// What every connection is told of, unasked, besides the bridge's
/// removed rules and packets for controllers.
#[derive(Clone, Debug)]
enum Async {
    /// A port came, went or changed (PORT_STATUS).
    Port(PortReason, PortDesc),
}

/// What every OpenFlow connection of a bridge shares: the view, the
/// bridge's tables (through its handle), and the port events.
#[derive(Clone, Debug)]
pub struct Shared {
    view: Arc<Mutex<BridgeView>>,
    bridge: Bridge,
    events: tokio::sync::broadcast::Sender<Async>,
    /// Woken when a connection's role changes, so the daemon writes it back.
    changed: Arc<tokio::sync::Notify>,
    /// The bridge's side of the datapath.
    dp: Arc<dpif::BridgeDp>,
}

impl Shared {
    /// A new connection's id in the bridge's roles.
    pub fn connect(&self) -> u64 {
        self.bridge.lock().map(|mut t| t.roles.connect()).unwrap_or(0)
    }

    /// The role of connection `conn`.
    pub fn role(&self, conn: u64) -> ofproto::table::Role {
        self.bridge.lock().map(|t| t.roles.role(conn)).unwrap_or_default()
    }
}

/// A bridge's OpenFlow side: the management socket's listener, the
/// controller connections, and the state they share. Stops everything and
/// removes the socket when dropped.
#[derive(Debug)]
pub struct Mgmt {
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
    expiry: tokio::task::JoinHandle<()>,
    publish: tokio::task::JoinHandle<()>,
    path: PathBuf,
    /// Connections to the bridge's controllers.
    pub controllers: crate::controller::Controllers,
}

impl Mgmt {
    /// Listens on `<rundir>/<bridge>.mgmt`. A `standalone` bridge (no
    /// controller, fail mode not `secure`) starts with OVS's flow
    /// `priority=0,actions=NORMAL` in table 0.
    pub fn start(
        rundir: &Path,
        bridge: &str,
        view: BridgeView,
        standalone: bool,
        changed: Arc<tokio::sync::Notify>,
        dp: Arc<dpif::BridgeDp>,
    ) -> std::io::Result<Mgmt> {
        let path = rundir.join(format!("{bridge}.mgmt"));
        let listener = crate::unixctl::bind(&path)?;
        let (events, _) = tokio::sync::broadcast::channel(256);
        let port_mods = PortMods { config: Arc::default(), events: Some(events.clone()), changed: Some(Arc::clone(&changed)) };
        let view = Arc::new(Mutex::new(BridgeView { port_mods, dp: Some(Arc::clone(&dp)), ..view }));
        let mut tables = Tables::default();
        if standalone {
            let normal = FlowMod::add(0, Match::catchall(), 0, vec![Action::Output { port: ofproto::actions::OFPP_NORMAL, max_len: 0 }]);
            if let Err(e) = tables.apply(&normal, std::time::Instant::now()) {
                crate::log::warn(&format!("{bridge}: could not add the NORMAL flow: {e:?}"));
            }
        }
        let handle = Bridge::new(bridge, tables, Arc::clone(&dp) as Arc<dyn ofproto::Datapath>);
        dp.attach(&handle);
        let shared = Shared { view, bridge: handle, events, changed: Arc::clone(&changed), dp };
        let task = tokio::spawn(accept_unix(listener, shared.clone(), format!("{bridge}.mgmt")));
        let expiry = tokio::spawn(expire(shared.clone()));
        let publish = tokio::spawn(publish(shared.clone()));
        let controllers = crate::controller::Controllers::new(bridge, shared.clone(), changed);
        Ok(Mgmt { shared, task, expiry, publish, path, controllers })
    }

    /// The bridge's side of the datapath.
    pub fn dp(&self) -> &Arc<dpif::BridgeDp> {
        &self.shared.dp
    }

    /// The bridge's handle, for controllers inside the process.
    pub fn bridge(&self) -> &Bridge {
        &self.shared.bridge
    }

    /// Port `port_no`'s PORT_MOD configuration bits.
    pub fn port_config(&self, port_no: u32) -> u32 {
        self.shared.view.lock().map_or(0, |v| v.port_mods.config(port_no))
    }

    /// Publishes the tables to the datapath now.
    pub fn publish(&self) {
        self.shared.bridge.publish();
    }

    /// Whether PORT_MOD has taken port `port_no` down.
    pub fn port_down(&self, port_no: u32) -> bool {
        self.shared.view.lock().is_ok_and(|v| v.port_mods.config(port_no) & PORT_DOWN != 0)
    }

    /// Replaces what clients see, and tells them of ports added, removed
    /// or changed.
    pub fn update(&self, view: BridgeView) {
        let Ok(mut v) = self.shared.view.lock() else {
            return;
        };
        let view = BridgeView { port_mods: v.port_mods.clone(), dp: v.dp.clone(), ..view };
        for old in &v.ports {
            match view.ports.iter().find(|p| p.port_no == old.port_no) {
                None => {
                    let _ = self.shared.events.send(Async::Port(PortReason::Delete, old.clone()));
                }
                Some(new) if new != old => {
                    let _ = self.shared.events.send(Async::Port(PortReason::Modify, new.clone()));
                }
                Some(_) => {}
            }
        }
        for new in view.ports.iter().filter(|n| !v.ports.iter().any(|o| o.port_no == n.port_no)) {
            let _ = self.shared.events.send(Async::Port(PortReason::Add, new.clone()));
        }
        *v = view;
    }
}

impl Drop for Mgmt {
    fn drop(&mut self) {
        self.task.abort();
        self.expiry.abort();
        self.publish.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes rules whose timeouts passed, once a second (as OVS checks
/// them), and announces them.
async fn expire(shared: Shared) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        // The guard announces what expired.
        let Ok(mut t) = shared.bridge.lock() else {
            return;
        };
        t.expire(std::time::Instant::now());
    }
}

/// Publishes changed tables to the datapath every 100 ms (a barrier
/// publishes at once), and ages the MAC table once a second.
async fn publish(shared: Shared) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut ticks = 0u64;
    loop {
        tick.tick().await;
        shared.bridge.publish();
        ticks += 1;
        if ticks % 10 == 0 {
            shared.dp.macs().age(std::time::Instant::now());
        }
    }
}

/// Serves every connection on a unix listener (the management socket,
/// `punix:` controllers), without inactivity probes.
pub async fn accept_unix(listener: UnixListener, shared: Shared, name: String) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors, say: keep listening.
            Err(e) => {
                crate::log::warn_limited("management accept", &format!("{name}: accept failed: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (shared, name) = (shared.clone(), name.clone());
        tokio::spawn(async move {
            let conn = shared.connect();
            let _ = serve(stream, &shared, conn, None, &name, true).await;
        });
    }
}

/// Forgets a connection's role, and its wish for table misses, when the
/// connection ends.
struct Connected<'a> {
    shared: &'a Shared,
    conn: u64,
    wants_misses: bool,
}

impl Connected<'_> {
    fn wants_misses(&mut self, wants: bool) {
        if wants != self.wants_misses {
            self.wants_misses = wants;
            self.shared.dp.want_misses(wants);
        }
    }
}

impl Drop for Connected<'_> {
    fn drop(&mut self) {
        self.wants_misses(false);
        if let Ok(mut t) = self.shared.bridge.lock() {
            t.roles.disconnect(self.conn);
        }
    }
}

/// Runs one OpenFlow connection (`conn`, from [`Shared::connect`]) until
/// it ends, answering with a session against the bridge's shared state and
/// forwarding port changes and removed flows. With a `probe` interval, an
/// idle connection gets an ECHO_REQUEST, and one idle for another interval
/// is closed (OVS's inactivity probe). Returns why the connection ended.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    shared: &Shared,
    conn: u64,
    probe: Option<Duration>,
    name: &str,
    service: bool,
) -> String {
    let mut connected = Connected { shared, conn, wants_misses: false };
    let mut events = shared.events.subscribe();
    let mut packet_ins = shared.bridge.packet_ins();
    let mut removed = shared.bridge.removed();
    let allowed = shared.view.lock().map(|v| v.versions).unwrap_or_else(|_| ofproto::wire::all_versions());
    let (mut session, hello) = Session::start_allowing(allowed);
    session.set_connection(conn);
    if service {
        session.set_service();
    }
    if let Err(e) = stream.write_all(&hello).await {
        return e.to_string();
    }
    let mut framer = ofproto::wire::Framer::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut echo_sent = false;
    // Bytes that arrived while we looked for them right after replying.
    let mut ready: Option<usize> = None;
    loop {
        let idle = async {
            match probe {
                Some(p) => tokio::time::sleep(p).await,
                None => std::future::pending().await,
            }
        };
        let n = if let Some(n) = ready.take() {
            n
        } else {
            tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) => return "connection closed by peer".into(),
                Err(e) => return e.to_string(),
                Ok(n) => n,
            },
            event = events.recv() => {
                let Ok(event) = event else {
                    // Fell behind: the client missed changes; OVS would
                    // drop such a slow connection too.
                    return "too slow to take port changes".into();
                };
                let msg = shared.bridge.lock().ok().and_then(|t| match event {
                    Async::Port(reason, port) => session.port_status(reason, &port, &t),
                });
                if let Some(msg) = msg {
                    if let Err(e) = stream.write_all(&msg).await {
                        return e.to_string();
                    }
                }
                continue;
            }
            r = removed.recv() => {
                let Ok(r) = r else {
                    return "too slow to take removed flows".into();
                };
                let msg = shared.bridge.lock().ok().and_then(|t| session.flow_removed(&r, &t));
                if let Some(msg) = msg {
                    if let Err(e) = stream.write_all(&msg).await {
                        return e.to_string();
                    }
                }
                continue;
            }
            pi = packet_ins.recv() => {
                // A connection too slow for the packets loses some (the
                // broadcast keeps the newest); it stays connected.
                let Ok(pi) = pi else {
                    if matches!(pi, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return "the bridge is gone".into();
                    }
                    continue;
                };
                let msg = shared.bridge.lock().ok().and_then(|t| session.packet_in(&pi, &t));
                if let Some(msg) = msg {
                    if let Err(e) = stream.write_all(&msg).await {
                        return e.to_string();
                    }
                }
                continue;
            }
            () = idle => {
                if echo_sent {
                    return format!("no response to inactivity probe after {:.0} seconds", 2.0 * probe.unwrap_or_default().as_secs_f64());
                }
                let version = session.version().unwrap_or(ofproto::wire::OFP10);
                if let Err(e) = stream.write_all(&ofproto::wire::message(version, ofproto::wire::ty::ECHO_REQUEST, 0, &[])).await {
                    return e.to_string();
                }
                echo_sent = true;
                continue;
            }
            }
        };
        echo_sent = false;
        let mut replied = false;
        framer.push(&buf[..n]);
        loop {
            let msg = match framer.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => return e.to_string(),
            };
            let before = session.version();
            let replies = match (shared.view.lock(), shared.bridge.lock()) {
                (Ok(v), Ok(mut t)) => {
                    let role = t.roles.role(conn);
                    let replies = session.handle(&msg, &*v, &mut t);
                    if t.roles.role(conn) != role {
                        shared.changed.notify_one();
                    }
                    replies
                }
                _ => return "internal lock poisoned".into(),
            };
            if let (None, Some(v)) = (before, session.version()) {
                crate::log::info(&format!("{name}: OpenFlow connection, version 0x{v:02x}"));
            }
            connected.wants_misses(session.wants_misses());
            if replies.after_sync {
                // A barrier: everything before it is in the tables, and
                // the reply waits until the datapath switches by them too.
                shared.bridge.sync().await;
            }
            for r in &replies.messages {
                replied = true;
                if let Err(e) = stream.write_all(r).await {
                    return e.to_string();
                }
            }
            if let Some(end) = replies.end {
                return end.to_string();
            }
        }
        // A peer that waits for each reply (ovs-ofctl's flow mods with a
        // barrier each) sends the next request at once: look for it a
        // little before sleeping, as going to sleep and being woken again
        // costs far more on virtual machines.
        if replied {
            match read_soon(&mut stream, &mut buf, READ_SOON).await {
                Some(Ok(0)) => return "connection closed by peer".into(),
                Some(Ok(n)) => ready = Some(n),
                Some(Err(e)) => return e.to_string(),
                None => {}
            }
        }
    }
}

/// How long a connection looks for the next request after replying.
const READ_SOON: Duration = Duration::from_micros(30);

/// Reads what is there within `spin`, letting other tasks run meanwhile;
/// `None` if nothing came.
async fn read_soon<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8], spin: Duration) -> Option<std::io::Result<usize>> {
    let start = std::time::Instant::now();
    loop {
        let polled = std::future::poll_fn(|cx| {
            let mut rb = tokio::io::ReadBuf::new(buf);
            match std::pin::Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                std::task::Poll::Ready(r) => std::task::Poll::Ready(Some(r.map(|()| rb.filled().len()))),
                std::task::Poll::Pending => std::task::Poll::Ready(None),
            }
        })
        .await;
        if polled.is_some() || start.elapsed() >= spin {
            return polled;
        }
        tokio::task::yield_now().await;
    }
}
