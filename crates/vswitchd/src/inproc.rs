//! Controllers inside the process: each is told of every bridge the daemon
//! creates, with the bridge's handle ([`ofproto::Bridge`]), through which it
//! changes the tables as one atomic bundle, waits for the datapath
//! ([`ofproto::Bridge::sync`]) and receives packets for controllers; no
//! OpenFlow connection is involved. The OVN agent is one; tests are others.

/// A controller in the daemon's process.
pub trait InProcess: Send + Sync {
    /// The daemon created bridge `bridge` (its OpenFlow tables exist and
    /// its management socket listens). Called on the daemon's control
    /// thread: do not block here.
    fn bridge_added(&self, bridge: &ofproto::Bridge);
}
