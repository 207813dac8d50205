//! The control side of the packet path as the PMD threads see it: a
//! [`Translate`] turns a missed packet's key into a [`Translation`] (the
//! megaflow's actions and mask), hands packets to the slow path, and says
//! what changed since a version (for the revalidators).

use std::sync::Arc;

use dataplane::{Action, Credits, FlowKey, FlowMask, PacketMeta};

/// What a translation gives the datapath.
#[derive(Debug, Clone)]
pub struct Translation {
    /// The actions (empty: drop).
    pub actions: Arc<[Action]>,
    /// The bits of the key the actions depend on.
    pub mask: FlowMask,
    /// The counters the megaflow credits.
    pub credits: Credits,
}

/// The control thread's side of the packet path: translation and the
/// slow path. Implemented by the daemon over its OpenFlow tables.
pub trait Translate: Send + Sync {
    /// The tables' version: when it changes, megaflows are revalidated.
    fn version(&self) -> u64;
    /// Translates a packet with `key`; `revalidating` when checking an
    /// installed megaflow rather than handling a packet (nothing is
    /// learned from it).
    fn translate(&self, key: &FlowKey, revalidating: bool) -> Translation;
    /// Takes a copy of a packet for the slow path (a controller); false
    /// when the queue is full (the packet is counted as dropped).
    fn slow_path(&self, packet: &[u8], meta: &PacketMeta, userdata: &[u8]) -> bool;
    /// What changed after version `since`: the key values and masks of the
    /// rules concerned, in the datapath's layout (a megaflow that no
    /// packet of which any of them matches keeps its path); `None` when
    /// anything may have changed.
    fn changes_since(&self, since: u64) -> Option<Arc<[(FlowKey, FlowMask)]>> {
        let _ = since;
        None
    }
}
