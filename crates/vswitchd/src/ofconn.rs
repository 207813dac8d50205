//! One OpenFlow connection of a bridge, whichever way it came (the
//! management socket, a controller target): an [`ofproto::Session`] served
//! over the stream against the bridge's current [`BridgeView`] and its
//! tables ([`Shared`]), with port changes announced as PORT_STATUS and
//! removed flows as FLOW_REMOVED.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ofproto::actions::Action;
use ofproto::error::{BadRequest, OfError, PortModFailed};
use ofproto::{Bridge, Desc, PortCounters, PortDesc, PortReason, Session, SwitchView};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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
    /// Each port's configuration bits.
    pub(crate) config: Arc<Mutex<std::collections::BTreeMap<u32, u32>>>,
    /// Where a change is announced.
    pub(crate) events: Option<tokio::sync::broadcast::Sender<Async>>,
    /// Woken when a port's configuration changes.
    pub(crate) changed: Option<Arc<tokio::sync::Notify>>,
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
pub(crate) enum Async {
    /// A port came, went or changed (PORT_STATUS).
    Port(PortReason, PortDesc),
}

/// What every OpenFlow connection of a bridge shares: the view, the
/// bridge's tables (through its handle), and the port events.
#[derive(Clone, Debug)]
pub struct Shared {
    /// What the connections see of the bridge.
    pub(crate) view: Arc<Mutex<BridgeView>>,
    /// The bridge's handle.
    pub(crate) bridge: Bridge,
    /// Port changes, for PORT_STATUS.
    pub(crate) events: tokio::sync::broadcast::Sender<Async>,
    /// Woken when a connection's role changes, so the daemon writes it back.
    pub(crate) changed: Arc<tokio::sync::Notify>,
    /// The bridge's side of the datapath.
    pub(crate) dp: Arc<dpif::BridgeDp>,
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
