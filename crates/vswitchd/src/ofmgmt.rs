//! Each bridge's OpenFlow management socket, `<rundir>/<bridge>.mgmt`, as
//! OVS listens on it, so that `ovs-ofctl show br0` (and other commands
//! given a bridge name) reach the bridge with no address. Connections run
//! an [`ofproto::Session`] against the bridge's current [`BridgeView`],
//! which the reconciliation refreshes; ports added, removed or changed
//! are announced to every connection with PORT_STATUS.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ofproto::actions::Action;
use ofproto::flowmatch::Match;
use ofproto::table::{FlowMod, Tables};
use ofproto::{Desc, PortCounters, PortDesc, PortReason, Session, SwitchView};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// What OpenFlow clients see of a bridge.
#[derive(Clone, Debug)]
pub struct BridgeView {
    /// Datapath id.
    pub dpid: u64,
    /// Ports with OpenFlow numbers, the local port included.
    pub ports: Vec<PortDesc>,
    /// Description.
    pub desc: Desc,
    /// The DPDK ports by OpenFlow number, for their live counters.
    pub counters: Vec<(u32, pmd::Port)>,
}

impl SwitchView for BridgeView {
    fn datapath_id(&self) -> u64 {
        self.dpid
    }
    fn ports(&self) -> Vec<PortDesc> {
        self.ports.clone()
    }
    fn desc(&self) -> Desc {
        self.desc.clone()
    }
    fn port_counters(&self) -> Vec<PortCounters> {
        self.counters
            .iter()
            .filter_map(|(port_no, port)| {
                let s = port.stats().ok()?;
                Some(PortCounters {
                    port_no: *port_no,
                    rx_packets: s.rx_packets,
                    tx_packets: s.tx_packets,
                    rx_bytes: s.rx_bytes,
                    tx_bytes: s.tx_bytes,
                    rx_dropped: s.rx_missed + s.rx_nombuf,
                    tx_dropped: 0,
                    rx_errors: s.rx_errors,
                    tx_errors: s.tx_errors,
                })
            })
            .collect()
    }
}

/// A change of port that connected clients are told of (PORT_STATUS).
type PortEvent = (PortReason, PortDesc);

/// A bridge's listener; stops and removes its socket when dropped.
#[derive(Debug)]
pub struct Mgmt {
    view: Arc<Mutex<BridgeView>>,
    events: tokio::sync::broadcast::Sender<PortEvent>,
    task: tokio::task::JoinHandle<()>,
    path: PathBuf,
}

impl Mgmt {
    /// Listens on `<rundir>/<bridge>.mgmt`. A `standalone` bridge (no
    /// controller, fail mode not `secure`) starts with OVS's flow
    /// `priority=0,actions=NORMAL` in table 0.
    pub fn start(rundir: &Path, bridge: &str, view: BridgeView, standalone: bool) -> std::io::Result<Mgmt> {
        let path = rundir.join(format!("{bridge}.mgmt"));
        let listener = crate::unixctl::bind(&path)?;
        let view = Arc::new(Mutex::new(view));
        let mut tables = Tables::default();
        if standalone {
            let normal = FlowMod::add(0, Match::catchall(), 0, vec![Action::Output { port: ofproto::actions::OFPP_NORMAL, max_len: 0 }]);
            if let Err(e) = tables.apply(&normal, std::time::Instant::now()) {
                crate::log::warn(&format!("{bridge}: could not add the NORMAL flow: {e:?}"));
            }
        }
        let tables = Arc::new(Mutex::new(tables));
        let (events, _) = tokio::sync::broadcast::channel(256);
        let task = tokio::spawn(accept(listener, Arc::clone(&view), Arc::clone(&tables), events.clone()));
        Ok(Mgmt { view, events, task, path })
    }

    /// Replaces what clients see, and tells them of ports added, removed
    /// or changed.
    pub fn update(&self, view: BridgeView) {
        let Ok(mut v) = self.view.lock() else {
            return;
        };
        for old in &v.ports {
            match view.ports.iter().find(|p| p.port_no == old.port_no) {
                None => {
                    let _ = self.events.send((PortReason::Delete, old.clone()));
                }
                Some(new) if new != old => {
                    let _ = self.events.send((PortReason::Modify, new.clone()));
                }
                Some(_) => {}
            }
        }
        for new in view.ports.iter().filter(|n| !v.ports.iter().any(|o| o.port_no == n.port_no)) {
            let _ = self.events.send((PortReason::Add, new.clone()));
        }
        *v = view;
    }
}

impl Drop for Mgmt {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept(
    listener: UnixListener,
    view: Arc<Mutex<BridgeView>>,
    tables: Arc<Mutex<Tables>>,
    events: tokio::sync::broadcast::Sender<PortEvent>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(connection(stream, Arc::clone(&view), Arc::clone(&tables), events.subscribe()));
    }
}

async fn connection(
    mut stream: UnixStream,
    view: Arc<Mutex<BridgeView>>,
    tables: Arc<Mutex<Tables>>,
    mut events: tokio::sync::broadcast::Receiver<PortEvent>,
) {
    let (mut session, hello) = Session::start();
    if stream.write_all(&hello).await.is_err() {
        return;
    }
    let mut framer = ofproto::wire::Framer::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            event = events.recv() => {
                let (reason, port) = match event {
                    Ok(e) => e,
                    // Fell behind: the client missed changes; OVS would
                    // drop such a slow connection too.
                    Err(_) => return,
                };
                if let Some(version) = session.version() {
                    if stream.write_all(&ofproto::wire::port_status(version, reason, &port)).await.is_err() {
                        return;
                    }
                }
                continue;
            }
        };
        framer.push(&buf[..n]);
        loop {
            let msg = match framer.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    crate::log::warn(&format!("OpenFlow connection closed: {e}"));
                    return;
                }
            };
            let before = session.version();
            let replies = match (view.lock(), tables.lock()) {
                (Ok(v), Ok(mut t)) => session.handle(&msg, &*v, &mut t),
                _ => return,
            };
            if let (None, Some(v)) = (before, session.version()) {
                crate::log::info(&format!("OpenFlow connection on the management socket: version 0x{v:02x}"));
            }
            for r in &replies.messages {
                if stream.write_all(r).await.is_err() {
                    return;
                }
            }
            if replies.end.is_some() {
                return;
            }
        }
    }
}
