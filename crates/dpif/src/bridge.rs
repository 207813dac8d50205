//! One bridge's side of the datapath.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dataplane::key::{Field, FieldAccess};
use dataplane::{FlowKey, PacketMeta};
use ofproto::error::{BadAction, BadRequest};
use ofproto::normal::{MacTable, Normal, NormalPort};
use ofproto::packet_in::PacketIn;
use ofproto::table::Tables;
use ofproto::xlate::{Pipeline, XPort};
use pmd::Translate;

use crate::{log, Level, Xlator};

/// A bridge's side of the datapath: what it publishes.
#[derive(Debug)]
pub struct BridgeDp {
    name: String,
    xlator: Arc<Xlator>,
    macs: Arc<MacTable>,
    state: Mutex<Published>,
    /// The bridge's handle, for `ofproto/trace` and packets for its
    /// controllers (weak: the handle holds this).
    bridge: std::sync::OnceLock<ofproto::bridge::WeakBridge>,
    /// Connections that want table misses (OpenFlow 1.0 ones): while there
    /// is one, a miss goes to the controllers.
    miss_wanted: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Default)]
struct Published {
    ports: Vec<XPort>,
    normal: Vec<NormalPort>,
    /// The tables' version last published, `None` when something else
    /// changed since.
    tables: Option<u64>,
}

impl BridgeDp {
    /// Bridge `name`'s side of `xlator`'s datapath.
    pub fn new(name: &str, xlator: &Arc<Xlator>) -> BridgeDp {
        BridgeDp {
            name: name.to_owned(),
            xlator: Arc::clone(xlator),
            macs: Arc::new(MacTable::new(xlator.generation())),
            state: Mutex::default(),
            bridge: std::sync::OnceLock::new(),
            miss_wanted: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A connection starts (`true`) or stops wanting table misses; the
    /// tables are published again when that changes what a miss does.
    pub fn want_misses(&self, wants: bool) {
        let before = if wants { self.miss_wanted.fetch_add(1, Ordering::AcqRel) } else { self.miss_wanted.fetch_sub(1, Ordering::AcqRel) };
        if before == usize::from(!wants) {
            if let Ok(mut s) = self.state.lock() {
                s.tables = None;
            }
        }
    }

    /// Hands a packet to every controller of the bridge (each OpenFlow
    /// connection decides by its controller id, role and asynchronous
    /// configuration).
    pub fn packet_in(&self, pi: PacketIn) {
        if let Some(bridge) = self.bridge.get().and_then(ofproto::bridge::WeakBridge::upgrade) {
            bridge.packet_in(pi);
        }
    }

    /// Gives the bridge's handle to `ofproto/trace` and the packet path.
    pub fn attach(&self, bridge: &ofproto::Bridge) {
        let _ = self.bridge.set(bridge.downgrade());
    }

    /// `ofproto/trace BRIDGE FLOW`: the walk of a packet with the fields
    /// of `flow` (`ovs-ofctl` syntax) through the bridge's current tables,
    /// the megaflow it would install and its datapath actions. Nothing is
    /// learned and nothing is sent.
    pub fn trace(&self, flow: &str, packet: Option<&str>) -> Result<String, String> {
        use ofproto::text::{match_text, parse_match};
        let mut m = parse_match(flow)?;
        let bridge = self.bridge.get().and_then(ofproto::bridge::WeakBridge::upgrade).ok_or("the bridge has no flow tables yet")?;
        let pipeline = {
            let tables = bridge.lock().map_err(|_| "the flow tables are unavailable")?;
            let s = self.state.lock().map_err(|_| "the bridge is unavailable")?;
            let normal = Normal { ports: s.normal.clone(), macs: Arc::clone(&self.macs) };
            Pipeline::new(&tables, s.ports.clone(), false, Some(normal))
        };
        let in_port = m.slot_value(ofproto::flowmatch::slot::IN_PORT) as u16;
        let key = match packet {
            None => ofproto::xlate::from_flow(&m.flow, &pipeline),
            // The packet's headers, with `flow`'s in_port, as OVS does.
            Some(hex) => {
                let bytes = parse_hex(hex)?;
                let odp = pipeline.odp(in_port).unwrap_or(0);
                let (mini, malformed) = dataplane::extract(&bytes, &dataplane::PacketMeta::new(odp));
                if let Some(why) = malformed {
                    return Err(format!("the packet is malformed: {why}"));
                }
                let key = mini.expand();
                m.flow = ofproto::xlate::to_flow(&key, &pipeline);
                m.flow[ofproto::flowmatch::slot::IN_PORT.range()].copy_from_slice(&in_port.to_be_bytes());
                // The Flow line shows every field of the words the packet filled.
                let mut present = dataplane::FlowMask::default();
                for (i, w) in present.words.iter_mut().enumerate() {
                    if mini.map() >> i & 1 == 1 {
                        *w = u64::MAX;
                    }
                }
                m.wc = ofproto::xlate::from_mask(&present);
                key
            }
        };
        let (x, lines) = pipeline.trace(&key, in_port);
        let mut out = format!("Flow: {}\n\nbridge(\"{}\")\n{}\n", match_text(&m), self.name, "-".repeat(self.name.len() + 10));
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        let mut megaflow = ofproto::flowmatch::Match::catchall();
        megaflow.wc = ofproto::xlate::from_mask(&x.mask);
        let mut values = ofproto::xlate::to_flow(&key, &pipeline);
        values[ofproto::flowmatch::slot::IN_PORT.range()].copy_from_slice(&in_port.to_be_bytes());
        for ((v, f), w) in megaflow.flow.iter_mut().zip(&values).zip(&megaflow.wc) {
            *v = f & w;
        }
        out.push_str(&format!("\nMegaflow: {}\n", match_text(&megaflow)));
        if let Some(e) = &x.error {
            out.push_str(&format!("Translation failed: {e}\n"));
        }
        out.push_str(&format!("Datapath actions: {}\n", dataplane::text::actions_text(&x.actions)));
        Ok(out)
    }

    /// The bridge's MAC learning table.
    pub fn macs(&self) -> &MacTable {
        &self.macs
    }

    /// Sets the bridge's ports; published with the next
    /// [`ofproto::Datapath::publish`].
    pub fn set_ports(&self, ports: Vec<XPort>, normal: Vec<NormalPort>) {
        if let Ok(mut s) = self.state.lock() {
            if s.ports != ports || s.normal != normal {
                s.ports = ports;
                s.normal = normal;
                s.tables = None;
            }
        }
    }

    /// PACKET_OUT: translates `actions` for `packet` received on OpenFlow
    /// port `in_port` with the tables last published, and has the PMD
    /// thread execute the result.
    pub fn packet_out(&self, in_port: u16, actions: &[ofproto::actions::Action], packet: &[u8]) -> Result<(), ofproto::wire::OfError> {
        use ofproto::wire::OfError;
        // Nothing can carry the packet.
        const NO_DATAPATH: OfError = OfError::BadRequest(BadRequest::Eperm);
        let pipeline = self.xlator.pipelines.lock().ok().and_then(|p| p.get(&self.name).cloned()).ok_or(NO_DATAPATH)?;
        let pmd = self.xlator.pmds().into_iter().next().ok_or(NO_DATAPATH)?;
        let odp = pipeline.odp(in_port).unwrap_or(0);
        let (key, _) = dataplane::extract(packet, &PacketMeta::new(odp));
        let x = pipeline.translate_actions(&key.expand(), in_port, actions);
        if let Some(e) = x.error {
            log(Level::Warn, &format!("{}: PACKET_OUT refused: {e}", self.name));
            return Err(OfError::BadAction(BadAction::BadType));
        }
        if !pmd.handle.execute(packet, odp, x.actions.into()) {
            return Err(NO_DATAPATH);
        }
        Ok(())
    }
}

impl ofproto::Datapath for BridgeDp {
    /// Publishes `tables` if they or the ports changed since the last
    /// time; returns the generation to wait for. Nothing is built while
    /// no PMD thread runs (nothing would translate with it); the thread's
    /// start publishes every bridge.
    fn publish(&self, tables: &Tables) -> u64 {
        let Ok(mut s) = self.state.lock() else {
            return self.xlator.version();
        };
        if s.tables == Some(tables.version()) || self.xlator.pmds.lock().map_or(true, |p| p.is_empty()) {
            return self.xlator.version();
        }
        // Only rule changes are known precisely; ports and the rest changed
        // anything.
        let changes = s.tables.and_then(|since| tables.changes.since(since));
        s.tables = Some(tables.version());
        let normal = Normal { ports: s.normal.clone(), macs: Arc::clone(&self.macs) };
        let miss_to_controller = self.miss_wanted.load(Ordering::Acquire) > 0;
        let pipeline = Pipeline::new(tables, s.ports.clone(), miss_to_controller, Some(normal));
        let changes = changes.map(|c| c.iter().map(|m| datapath_rule(m, &pipeline)).collect());
        self.xlator.publish(&self.name, Some(pipeline), changes)
    }

    fn synced(&self, generation: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            let done = self.xlator.synced(generation, Duration::from_secs(5)).await;
            if !done {
                log(Level::Warn, &format!("{}: the PMD thread did not revalidate within 5 s", self.name));
            }
            done
        })
    }
}

impl Drop for BridgeDp {
    fn drop(&mut self) {
        self.xlator.publish(&self.name, None, None);
    }
}

/// A rule's match in the datapath's layout, loosened where the tables'
/// view is not the datapath's: any VLAN TPID (OpenFlow sees only whether
/// there is a tag).
fn datapath_rule(m: &ofproto::flowmatch::Match, p: &Pipeline) -> (FlowKey, dataplane::FlowMask) {
    let key = ofproto::xlate::from_flow(&m.flow, p);
    let mut mask = ofproto::xlate::to_mask(&m.wc);
    mask.set(Field::VLAN0_TPID, 0);
    (key, mask)
}

/// Bytes from hexadecimal digits (spaces allowed between bytes).
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 || digits.is_empty() {
        return Err(format!("{text}: a packet is an even number of hexadecimal digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok()).ok_or_else(|| format!("{text}: not hexadecimal"))
        })
        .collect()
}
