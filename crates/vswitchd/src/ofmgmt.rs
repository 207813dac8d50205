//! Each bridge's OpenFlow management socket, `<rundir>/<bridge>.mgmt`, as
//! OVS listens on it, so that `ovs-ofctl show br0` (and other commands
//! given a bridge name) reach the bridge with no address. Connections run
//! an [`ofproto::Session`] against the bridge's current [`BridgeView`],
//! which the reconciliation refreshes; ports added, removed or changed
//! are announced to every connection with PORT_STATUS.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ofproto::actions::Action;
use ofproto::flowmatch::Match;
use ofproto::table::{FlowMod, Tables};
use ofproto::{Bridge, PortReason};
use tokio::net::UnixListener;

use crate::ofconn::{serve, Async, BridgeView, PortMods, Shared, PORT_DOWN};

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
