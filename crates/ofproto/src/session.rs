//! One OpenFlow connection, without I/O: messages in, replies out.
//!
//! The session sends its HELLO first, negotiates the version from the
//! peer's HELLO, then answers the switch-description requests from a
//! [`SwitchView`]. A message it does not handle yet gets the ERROR the
//! specification names for it (BAD_TYPE, BAD_STAT, BAD_VERSION, BAD_LEN)
//! and the connection goes on; only an unframeable stream or a failed
//! negotiation ends it.
//!
//! Not handled yet (issue 5): flow, group and meter modifications and
//! their statistics, PACKET_OUT, PORT_MOD, roles, async configuration,
//! bundles and the Nicira extensions. They are answered with BAD_TYPE,
//! which is what a switch without them says.

use crate::wire::{self, message, stats, ty, Desc, Header, OfError, PortCounters, PortDesc, HEADER_LEN, OFP10, OFP13};

/// What a connection needs to know about its bridge.
pub trait SwitchView {
    /// The datapath id.
    fn datapath_id(&self) -> u64;
    /// The ports, the local port included.
    fn ports(&self) -> Vec<PortDesc>;
    /// The switch description.
    fn desc(&self) -> Desc;
    /// The ports' counters, read now.
    fn port_counters(&self) -> Vec<PortCounters>;
}

/// Why a session ended.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionEnd {
    /// No OpenFlow version in common; the ERROR is in the replies.
    #[error("no common OpenFlow version")]
    Incompatible,
}

/// What handling one message produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replies {
    /// Messages to send, in order.
    pub messages: Vec<Vec<u8>>,
    /// Set when the session must end once they are sent.
    pub end: Option<SessionEnd>,
}

impl Replies {
    fn one(m: Vec<u8>) -> Self {
        Replies { messages: vec![m], end: None }
    }
}

/// `miss_send_len` before SET_CONFIG, as OVS (`OFP_DEFAULT_MISS_SEND_LEN`).
const DEFAULT_MISS_SEND_LEN: u16 = 128;
/// Tables advertised, as OVS.
const N_TABLES: u8 = 254;
/// Capabilities advertised: port statistics (flow and table statistics are
/// answered with BAD_STAT until the flow tables exist; claiming them would
/// be untrue).
const CAPABILITIES: u32 = 0x4;

/// A connection's protocol state.
#[derive(Debug)]
pub struct Session {
    version: Option<u8>,
    flags: u16,
    miss_send_len: u16,
}

impl Default for Session {
    fn default() -> Self {
        Session { version: None, flags: 0, miss_send_len: DEFAULT_MISS_SEND_LEN }
    }
}

impl Session {
    /// A new session and the HELLO to send at once.
    pub fn start() -> (Session, Vec<u8>) {
        (Session::default(), wire::hello(OFP13))
    }

    /// The negotiated version, once the peer's HELLO arrived.
    pub fn version(&self) -> Option<u8> {
        self.version
    }

    /// Handles one framed message; returns the replies.
    pub fn handle(&mut self, msg: &[u8], sw: &dyn SwitchView) -> Replies {
        let Some(h) = Header::parse(msg) else {
            return Replies::default();
        };
        let Some(version) = self.version else {
            if h.ty != ty::HELLO {
                // Before HELLO, OVS answers with an error in our version.
                return Replies::one(wire::error(OFP10, h.xid, OfError::BAD_TYPE, msg));
            }
            return match wire::negotiate(msg) {
                Some(v) => {
                    self.version = Some(v);
                    Replies::default()
                }
                None => Replies {
                    messages: vec![wire::error(h.version.min(OFP13), h.xid, OfError::HELLO_INCOMPATIBLE, msg)],
                    end: Some(SessionEnd::Incompatible),
                },
            };
        };
        if h.version != version {
            return Replies::one(wire::error(version, h.xid, OfError::BAD_VERSION, msg));
        }
        let body = msg.get(HEADER_LEN..).unwrap_or_default();
        let reply = match (h.ty, version) {
            (ty::HELLO, _) | (ty::ECHO_REPLY, _) => return Replies::default(),
            (ty::ECHO_REQUEST, _) => message(version, ty::ECHO_REPLY, h.xid, body),
            (ty::FEATURES_REQUEST, _) => message(version, ty::FEATURES_REPLY, h.xid, &features(version, sw)),
            (ty::GET_CONFIG_REQUEST, _) => {
                let mut b = self.flags.to_be_bytes().to_vec();
                b.extend_from_slice(&self.miss_send_len.to_be_bytes());
                message(version, ty::GET_CONFIG_REPLY, h.xid, &b)
            }
            (ty::SET_CONFIG, _) => {
                let (Some(f), Some(m)) = (body.get(0..2), body.get(2..4)) else {
                    return Replies::one(wire::error(version, h.xid, OfError::BAD_LEN, msg));
                };
                self.flags = u16::from_be_bytes([f[0], f[1]]);
                self.miss_send_len = u16::from_be_bytes([m[0], m[1]]);
                return Replies::default();
            }
            (ty::BARRIER_REQUEST_10, OFP10) => message(version, ty::BARRIER_REPLY_10, h.xid, &[]),
            (ty::BARRIER_REQUEST_13, OFP13) => message(version, ty::BARRIER_REPLY_13, h.xid, &[]),
            (ty::STATS_REQUEST_10, OFP10) | (ty::MULTIPART_REQUEST_13, OFP13) => self.stats(version, h.xid, msg, sw),
            _ => wire::error(version, h.xid, OfError::BAD_TYPE, msg),
        };
        Replies::one(reply)
    }

    fn stats(&self, version: u8, xid: u32, msg: &[u8], sw: &dyn SwitchView) -> Vec<u8> {
        let Some(kind) = msg.get(HEADER_LEN..HEADER_LEN + 2).map(|k| u16::from_be_bytes([k[0], k[1]])) else {
            return wire::error(version, xid, OfError::BAD_LEN, msg);
        };
        let body = match (kind, version) {
            (stats::DESC, _) => sw.desc().encode(),
            (stats::PORT_DESC, OFP13) => sw.ports().iter().flat_map(PortDesc::encode13).collect(),
            (stats::PORT, _) => {
                // The request names one port, or all (OFPP_NONE / OFPP_ANY).
                let at = HEADER_LEN + if version == OFP10 { 4 } else { 8 };
                let wanted = match version {
                    OFP10 => msg.get(at..at + 2).map(|p| match u16::from_be_bytes([p[0], p[1]]) {
                        0xffff => None,
                        wire::OFPP10_LOCAL => Some(wire::OFPP13_LOCAL),
                        p => Some(u32::from(p)),
                    }),
                    _ => msg.get(at..at + 4).map(|p| Some(u32::from_be_bytes([p[0], p[1], p[2], p[3]])).filter(|&p| p != 0xffff_ffff)),
                };
                let Some(wanted) = wanted else {
                    return wire::error(version, xid, OfError::BAD_LEN, msg);
                };
                sw.port_counters().iter().filter(|c| wanted.is_none_or(|w| w == c.port_no)).flat_map(|c| c.encode(version)).collect()
            }
            _ => return wire::error(version, xid, OfError::BAD_STAT, msg),
        };
        // Reply header: type, flags (no "more"), and 4 bytes of padding in 1.3.
        let mut b = kind.to_be_bytes().to_vec();
        b.extend_from_slice(&[0, 0]);
        if version == OFP13 {
            b.extend_from_slice(&[0; 4]);
        }
        b.extend_from_slice(&body);
        let reply = if version == OFP10 { ty::STATS_REPLY_10 } else { ty::MULTIPART_REPLY_13 };
        message(version, reply, xid, &b)
    }
}

/// FEATURES_REPLY body: 1.0 lists the ports, 1.3 does not.
fn features(version: u8, sw: &dyn SwitchView) -> Vec<u8> {
    let mut b = sw.datapath_id().to_be_bytes().to_vec();
    b.extend_from_slice(&0u32.to_be_bytes()); // n_buffers
    b.push(N_TABLES);
    b.extend_from_slice(&[0; 3]); // pad (1.0) / auxiliary_id + pad (1.3)
    b.extend_from_slice(&CAPABILITIES.to_be_bytes());
    if version == OFP10 {
        // Actions supported: none yet (no FLOW_MOD is accepted).
        b.extend_from_slice(&0u32.to_be_bytes());
        for p in sw.ports() {
            b.extend_from_slice(&p.encode10());
        }
    } else {
        b.extend_from_slice(&0u32.to_be_bytes()); // reserved
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::OFPP13_LOCAL;

    struct Fake;
    impl SwitchView for Fake {
        fn datapath_id(&self) -> u64 {
            0x1234
        }
        fn ports(&self) -> Vec<PortDesc> {
            vec![PortDesc::new(OFPP13_LOCAL, [2, 0, 0, 0, 0, 1], "br0")]
        }
        fn desc(&self) -> Desc {
            Desc { mfr: "m".into(), hw: "h".into(), sw: "s".into(), serial: "n".into(), dp: "d".into() }
        }
        fn port_counters(&self) -> Vec<PortCounters> {
            vec![
                PortCounters { port_no: 1, rx_packets: 5, ..PortCounters::default() },
                PortCounters { port_no: 2, ..PortCounters::default() },
            ]
        }
    }

    fn open(v: u8) -> Session {
        let (mut s, hello) = Session::start();
        assert_eq!(Header::parse(&hello).unwrap().ty, ty::HELLO);
        assert_eq!(s.handle(&wire::hello(v), &Fake), Replies::default());
        assert_eq!(s.version(), Some(v));
        s
    }

    #[test]
    fn features_echo_config_barrier_in_both_versions() {
        for v in [OFP10, OFP13] {
            let mut s = open(v);
            let r = s.handle(&message(v, ty::FEATURES_REQUEST, 5, &[]), &Fake).messages;
            let h = Header::parse(&r[0]).unwrap();
            assert_eq!((h.ty, h.xid), (ty::FEATURES_REPLY, 5));
            assert_eq!(&r[0][8..16], &0x1234u64.to_be_bytes());
            assert_eq!(r[0].len(), if v == OFP10 { 32 + 48 } else { 32 });
            let r = s.handle(&message(v, ty::ECHO_REQUEST, 6, b"x"), &Fake).messages;
            assert_eq!(r[0], message(v, ty::ECHO_REPLY, 6, b"x"));
            assert!(s.handle(&message(v, ty::SET_CONFIG, 7, &[0, 1, 0, 64]), &Fake).messages.is_empty());
            let r = s.handle(&message(v, ty::GET_CONFIG_REQUEST, 8, &[]), &Fake).messages;
            assert_eq!(&r[0][8..], &[0, 1, 0, 64]);
            let barrier = if v == OFP10 { ty::BARRIER_REQUEST_10 } else { ty::BARRIER_REQUEST_13 };
            let r = s.handle(&message(v, barrier, 9, &[]), &Fake).messages;
            assert_eq!(Header::parse(&r[0]).unwrap().ty, barrier + 1);
        }
    }

    #[test]
    fn unknown_and_malformed_messages_get_errors_and_the_session_goes_on() {
        let mut s = open(OFP13);
        let flow_mod = message(OFP13, 14, 3, &[0; 48]);
        let r = s.handle(&flow_mod, &Fake).messages;
        assert_eq!(&r[0][8..12], &[0, 1, 0, 1], "BAD_REQUEST/BAD_TYPE");
        assert_eq!(&r[0][12..], &flow_mod[..56]);
        let r = s.handle(&message(OFP10, ty::ECHO_REQUEST, 4, &[]), &Fake).messages;
        assert_eq!(&r[0][8..12], &[0, 1, 0, 0], "BAD_VERSION");
        let r = s.handle(&message(OFP13, ty::MULTIPART_REQUEST_13, 5, &[0, 99, 0, 0, 0, 0, 0, 0]), &Fake).messages;
        assert_eq!(&r[0][8..12], &[0, 1, 0, 2], "BAD_MULTIPART");
        let r = s.handle(&message(OFP13, ty::SET_CONFIG, 6, &[0]), &Fake).messages;
        assert_eq!(&r[0][8..12], &[0, 1, 0, 6], "BAD_LEN");
        let r = s.handle(&message(OFP13, ty::MULTIPART_REQUEST_13, 7, &[0, 13, 0, 0, 0, 0, 0, 0]), &Fake).messages;
        assert_eq!(r[0].len(), 8 + 8 + 64, "PORT_DESC with one port");
        let all = [0, 4, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        let r = s.handle(&message(OFP13, ty::MULTIPART_REQUEST_13, 8, &all), &Fake).messages;
        assert_eq!(r[0].len(), 8 + 8 + 2 * 112, "PORT stats for all ports");
        let one = [0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0];
        let r = s.handle(&message(OFP13, ty::MULTIPART_REQUEST_13, 9, &one), &Fake).messages;
        assert_eq!(r[0].len(), 8 + 8 + 112, "PORT stats for port 2");
    }

    #[test]
    fn no_common_version_ends_the_session_with_hello_failed() {
        let (mut s, _) = Session::start();
        let r = s.handle(&message(0x03, ty::HELLO, 1, &[0, 1, 0, 8, 0, 0, 0, 0x08]), &Fake);
        assert_eq!(r.end, Some(SessionEnd::Incompatible));
        assert_eq!(&r.messages[0][8..12], &[0, 0, 0, 0]);
    }
}
