//! The OpenFlow wire format: the common header, the framing of a byte
//! stream into messages, and the messages a switch answers first (HELLO
//! and version negotiation, ERROR, ECHO, FEATURES, GET_CONFIG/SET_CONFIG,
//! BARRIER, and the DESC and PORT_DESC statistics), for OpenFlow 1.0 and
//! 1.3.
//!
//! Decoding never panics: every read is bounds-checked, and a message
//! that cannot be decoded is reported with the ERROR type and code the
//! specification names ([`OfError`]), so the connection can answer it and
//! go on. Layouts follow the OpenFlow 1.0.0 and 1.3.x specifications.
use crate::error::BadRequest;

/// OpenFlow 1.0.
pub const OFP10: u8 = 0x01;
/// OpenFlow 1.3.
pub const OFP13: u8 = 0x04;
/// OpenFlow 1.4.
pub const OFP14: u8 = 0x05;
/// OpenFlow 1.5.
pub const OFP15: u8 = 0x06;
/// The versions this codec speaks, lowest first.
pub const VERSIONS: [u8; 4] = [OFP10, OFP13, OFP14, OFP15];

/// Header length.
pub const HEADER_LEN: usize = 8;
/// Largest OpenFlow message (the length field is 16 bits).
pub const MAX_LEN: usize = 0xffff;

/// Message types shared by 1.0 and 1.3 (the same numbers in both).
pub mod ty {
    /// HELLO.
    pub const HELLO: u8 = 0;
    /// ERROR.
    pub const ERROR: u8 = 1;
    /// ECHO_REQUEST.
    pub const ECHO_REQUEST: u8 = 2;
    /// ECHO_REPLY.
    pub const ECHO_REPLY: u8 = 3;
    /// VENDOR (1.0) / EXPERIMENTER (1.3).
    pub const EXPERIMENTER: u8 = 4;
    /// FEATURES_REQUEST.
    pub const FEATURES_REQUEST: u8 = 5;
    /// FEATURES_REPLY.
    pub const FEATURES_REPLY: u8 = 6;
    /// GET_CONFIG_REQUEST.
    pub const GET_CONFIG_REQUEST: u8 = 7;
    /// GET_CONFIG_REPLY.
    pub const GET_CONFIG_REPLY: u8 = 8;
    /// SET_CONFIG.
    pub const SET_CONFIG: u8 = 9;
    /// PACKET_IN.
    pub const PACKET_IN: u8 = 10;
    /// FLOW_REMOVED.
    pub const FLOW_REMOVED: u8 = 11;
    /// PORT_STATUS.
    pub const PORT_STATUS: u8 = 12;
    /// PACKET_OUT.
    pub const PACKET_OUT: u8 = 13;
    /// FLOW_MOD.
    pub const FLOW_MOD: u8 = 14;
    /// PORT_MOD in 1.0.
    pub const PORT_MOD_10: u8 = 15;
    /// PORT_MOD in 1.1+.
    pub const PORT_MOD_11: u8 = 16;
    /// ROLE_REQUEST (1.2+).
    pub const ROLE_REQUEST: u8 = 24;
    /// ROLE_REPLY (1.2+).
    pub const ROLE_REPLY: u8 = 25;
    /// GET_ASYNC_REQUEST (1.3+).
    pub const GET_ASYNC_REQUEST: u8 = 26;
    /// GET_ASYNC_REPLY (1.3+).
    pub const GET_ASYNC_REPLY: u8 = 27;
    /// SET_ASYNC (1.3+).
    pub const SET_ASYNC: u8 = 28;
    /// GROUP_MOD (1.1+).
    pub const GROUP_MOD: u8 = 15;
    /// METER_MOD (1.3+).
    pub const METER_MOD: u8 = 29;
    /// BUNDLE_CONTROL (1.4+).
    pub const BUNDLE_CONTROL: u8 = 33;
    /// BUNDLE_ADD_MESSAGE (1.4+).
    pub const BUNDLE_ADD_MESSAGE: u8 = 34;
    /// STATS_REQUEST in 1.0.
    pub const STATS_REQUEST_10: u8 = 16;
    /// STATS_REPLY in 1.0.
    pub const STATS_REPLY_10: u8 = 17;
    /// BARRIER_REQUEST in 1.0.
    pub const BARRIER_REQUEST_10: u8 = 18;
    /// BARRIER_REPLY in 1.0.
    pub const BARRIER_REPLY_10: u8 = 19;
    /// MULTIPART_REQUEST in 1.3.
    pub const MULTIPART_REQUEST_13: u8 = 18;
    /// MULTIPART_REPLY in 1.3.
    pub const MULTIPART_REPLY_13: u8 = 19;
    /// BARRIER_REQUEST in 1.3.
    pub const BARRIER_REQUEST_13: u8 = 20;
    /// BARRIER_REPLY in 1.3.
    pub const BARRIER_REPLY_13: u8 = 21;
}

/// Statistics / multipart kinds.
pub mod stats {
    /// Switch description.
    pub const DESC: u16 = 0;
    /// Port counters.
    pub const PORT: u16 = 4;
    /// Port descriptions (1.3).
    pub const PORT_DESC: u16 = 13;
    /// Flow statistics.
    pub const FLOW: u16 = 1;
    /// Aggregate flow statistics.
    pub const AGGREGATE: u16 = 2;
    /// Table statistics.
    pub const TABLE: u16 = 3;
    /// Group statistics (1.1+).
    pub const GROUP: u16 = 6;
    /// Group features (1.2+).
    pub const GROUP_FEATURES: u16 = 8;
    /// Meter statistics (1.3+).
    pub const METER: u16 = 9;
    /// Group descriptions (1.1+).
    pub const GROUP_DESC: u16 = 7;
    /// Meter configurations (1.3+).
    pub const METER_CONFIG: u16 = 10;
    /// Meter features (1.3+).
    pub const METER_FEATURES: u16 = 11;
    /// Table features (1.3+).
    pub const TABLE_FEATURES: u16 = 12;
    /// Vendor statistics (1.0).
    pub const VENDOR: u16 = 0xffff;
}

/// The common header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Protocol version.
    pub version: u8,
    /// Message type.
    pub ty: u8,
    /// Length including the header.
    pub length: u16,
    /// Transaction id.
    pub xid: u32,
}

impl Header {
    /// Reads a header from the first 8 bytes.
    pub fn parse(b: &[u8]) -> Option<Header> {
        let h = b.get(..HEADER_LEN)?;
        Some(Header {
            version: h[0],
            ty: h[1],
            length: u16::from_be_bytes([h[2], h[3]]),
            xid: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        })
    }
}

pub use crate::error::{OfError, NX_ERROR};

/// The big-endian u16 at `at`, or BAD_LEN past the end.
pub fn u16_at(b: &[u8], at: usize) -> Result<u16, OfError> {
    b.get(at..at + 2).map(|x| u16::from_be_bytes([x[0], x[1]])).ok_or(OfError::BadRequest(BadRequest::BadLen))
}

/// The big-endian u32 at `at`, or BAD_LEN past the end.
pub fn u32_at(b: &[u8], at: usize) -> Result<u32, OfError> {
    b.get(at..at + 4).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]])).ok_or(OfError::BadRequest(BadRequest::BadLen))
}

/// The big-endian u64 at `at`, or BAD_LEN past the end.
pub fn u64_at(b: &[u8], at: usize) -> Result<u64, OfError> {
    Ok(u64::from(u32_at(b, at)?) << 32 | u64::from(u32_at(b, at + 4)?))
}

/// Splits a byte stream into messages by their length field.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Where the next message starts in `buf`; the bytes before it are
    /// dropped when more arrive, so framing a run of small messages does
    /// not copy the rest of the buffer for each one.
    at: usize,
}

/// The stream cannot be framed any more (a length below the header's):
/// the connection must be closed, as OVS does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("OpenFlow message with length {0}, shorter than its header")]
pub struct BadFrame(pub u16);

impl Framer {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.drain(..self.at);
        self.at = 0;
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, BadFrame> {
        let rest = &self.buf[self.at..];
        let Some(h) = Header::parse(rest) else {
            return Ok(None);
        };
        let len = usize::from(h.length);
        if len < HEADER_LEN {
            return Err(BadFrame(h.length));
        }
        if rest.len() < len {
            return Ok(None);
        }
        let msg = rest[..len].to_vec();
        self.at += len;
        Ok(Some(msg))
    }
}

/// Builds a message: header (length filled in) and body.
pub fn message(version: u8, ty: u8, xid: u32, body: &[u8]) -> Vec<u8> {
    let len = (HEADER_LEN + body.len()).min(MAX_LEN) as u16;
    let mut m = Vec::with_capacity(usize::from(len));
    m.extend_from_slice(&[version, ty]);
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(&xid.to_be_bytes());
    m.extend_from_slice(&body[..body.len().min(MAX_LEN - HEADER_LEN)]);
    m
}

/// Our HELLO for `version`: 1.3 carries a version bitmap of every version
/// we speak up to it.
pub fn hello(version: u8) -> Vec<u8> {
    hello_allowing(VERSIONS.iter().filter(|&&v| v <= version).fold(0, |b, &v| b | 1 << v))
}

/// The bitmap of every version this codec speaks.
pub fn all_versions() -> u32 {
    VERSIONS.iter().fold(0, |b, &v| b | 1 << v)
}

/// Our HELLO offering the versions in `allowed` (a version bitmap, as
/// `Bridge.protocols` limits them): in the highest, with the bitmap when
/// that is 1.3 or later.
pub fn hello_allowing(allowed: u32) -> Vec<u8> {
    let bitmap = allowed & all_versions();
    let version = (0..32u8).rev().find(|v| bitmap & (1 << v) != 0).unwrap_or(OFP10);
    if version < OFP13 {
        return message(version, ty::HELLO, 0, &[]);
    }
    let mut body = vec![0, 1, 0, 8];
    body.extend_from_slice(&bitmap.to_be_bytes());
    message(version, ty::HELLO, 0, &body)
}

/// The version both sides speak after the peer's HELLO `msg` (highest
/// common, by the peer's version bitmap when it sends one, else by its
/// header version), or `None`.
pub fn negotiate(msg: &[u8]) -> Option<u8> {
    negotiate_allowing(msg, all_versions())
}

/// As [`negotiate`], among the versions in `allowed` only.
pub fn negotiate_allowing(msg: &[u8], allowed: u32) -> Option<u8> {
    let h = Header::parse(msg)?;
    let mut peer_bitmap: Option<u32> = None;
    let mut at = HEADER_LEN;
    let end = usize::from(h.length).min(msg.len());
    while at + 4 <= end {
        let (ety, elen) = (u16::from_be_bytes([msg[at], msg[at + 1]]), usize::from(u16::from_be_bytes([msg[at + 2], msg[at + 3]])));
        if elen < 4 || at + elen > end {
            break;
        }
        if ety == 1 && elen >= 8 {
            peer_bitmap = Some(u32::from_be_bytes([msg[at + 4], msg[at + 5], msg[at + 6], msg[at + 7]]));
        }
        at += elen.div_ceil(8) * 8;
    }
    let mut ours = VERSIONS.iter().rev().copied().filter(|v| allowed & (1 << v) != 0);
    match peer_bitmap {
        Some(b) => ours.find(|&v| b & (1 << v) != 0),
        None => ours.find(|&v| v <= h.version),
    }
}

/// Nicira's vendor error type (NXET_VENDOR) in OpenFlow 1.0 errors.
const NXET_VENDOR: u16 = 0xb0c2;

/// How OpenFlow 1.0 says an error whose [`OfError`] is in 1.3's numbering,
/// as OVS maps them: the same code where 1.0 has one, Nicira's vendor
/// error (type and code) where OVS defines one, else Nicira's
/// UNENCODABLE_ERROR.
fn of10_error(e: OfError) -> (bool, u16, u16) {
    let std = |ty, code| (false, ty, code);
    let nx = |ty, code| (true, ty, code);
    match (e.ty(), e.code()) {
        (0 | 1, _) | (2, 0..=5) => std(e.ty(), e.code()),
        (2, 9) => nx(2, 9),
        (2, 13..=15) => nx(1, 510 + e.code()),
        (3, 1) => nx(2, 257),
        (4, 5) => nx(1, 262),
        (4, 6) => nx(0, 263),
        (4, 7..=10) => nx(1, 251 + e.code()),
        (5, 1) => std(3, 0),
        (5, 3) => std(3, 1),
        (5, 6) => std(3, 4),
        (5, 7) => nx(3, 258),
        (6, _) => nx(6, e.code()),
        (7, 0..=3) => std(4, e.code()),
        (NX_ERROR, 16..=21) => nx(1, 511 + e.code()),
        (NX_ERROR, 37 | 38) => nx(1, 499 + e.code()),
        _ => nx(1, 521),
    }
}

/// An ERROR answering `offending` (its first 64 bytes as data).
pub fn error(version: u8, xid: u32, e: OfError, offending: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(12 + 64);
    if version != OFP10 && e.ty() == NX_ERROR {
        body.extend_from_slice(&NX_ERROR.to_be_bytes());
        body.extend_from_slice(&e.code().to_be_bytes());
        body.extend_from_slice(&0x0000_2320u32.to_be_bytes());
        body.extend_from_slice(&offending[..offending.len().min(64)]);
        return message(version, ty::ERROR, xid, &body);
    }
    match if version == OFP10 { of10_error(e) } else { (false, e.ty(), e.code()) } {
        (false, ty, code) => {
            body.extend_from_slice(&ty.to_be_bytes());
            body.extend_from_slice(&code.to_be_bytes());
        }
        (true, ty, code) => {
            body.extend_from_slice(&NXET_VENDOR.to_be_bytes());
            body.extend_from_slice(&0u16.to_be_bytes());
            body.extend_from_slice(&0x0000_2320u32.to_be_bytes());
            body.extend_from_slice(&ty.to_be_bytes());
            body.extend_from_slice(&code.to_be_bytes());
        }
    }
    body.extend_from_slice(&offending[..offending.len().min(64)]);
    message(version, ty::ERROR, xid, &body)
}

/// A port as FEATURES_REPLY (1.0) and PORT_DESC (1.3) describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortDesc {
    /// OpenFlow port number (1.3 numbering: LOCAL is 0xfffffffe).
    pub port_no: u32,
    /// Ethernet address.
    pub hw_addr: [u8; 6],
    /// Name (at most 15 bytes are sent).
    pub name: String,
    /// `OFPPC_*` configuration bits.
    pub config: u32,
    /// `OFPPS_*` state bits (LINK_DOWN = 1).
    pub state: u32,
    /// Current features.
    pub curr: u32,
    /// Current speed in kb/s (1.3).
    pub curr_speed: u32,
}

/// OpenFlow 1.3's LOCAL port.
pub const OFPP13_LOCAL: u32 = 0xffff_fffe;
/// OpenFlow 1.0's LOCAL port.
pub const OFPP10_LOCAL: u16 = 0xfffe;

fn name16(name: &str) -> [u8; 16] {
    let mut n = [0u8; 16];
    let b = name.as_bytes();
    let len = b.len().min(15);
    n[..len].copy_from_slice(&b[..len]);
    n
}

impl PortDesc {
    /// An up port with no configuration bits or speed.
    pub fn new(port_no: u32, hw_addr: [u8; 6], name: &str) -> Self {
        PortDesc { port_no, hw_addr, name: name.to_owned(), config: 0, state: 0, curr: 0, curr_speed: 0 }
    }

    /// The 48-byte `ofp_phy_port` of 1.0.
    pub fn encode10(&self) -> Vec<u8> {
        let port = if self.port_no == OFPP13_LOCAL { OFPP10_LOCAL } else { self.port_no.min(0xff00) as u16 };
        let mut b = Vec::with_capacity(48);
        b.extend_from_slice(&port.to_be_bytes());
        b.extend_from_slice(&self.hw_addr);
        b.extend_from_slice(&name16(&self.name));
        for v in [self.config, self.state, self.curr, 0, 0, 0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b
    }

    /// The 64-byte `ofp_port` of 1.3.
    /// The 1.4+ `ofp_port` with its Ethernet property (72 bytes).
    pub fn encode14(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(72);
        b.extend_from_slice(&self.port_no.to_be_bytes());
        b.extend_from_slice(&72u16.to_be_bytes());
        b.extend_from_slice(&[0; 2]);
        b.extend_from_slice(&self.hw_addr);
        b.extend_from_slice(&[0; 2]);
        b.extend_from_slice(&name16(&self.name));
        for v in [self.config, self.state] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&[0, 0, 0, 32, 0, 0, 0, 0]);
        for v in [self.curr, 0, 0, 0, self.curr_speed, self.curr_speed] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b
    }

    /// The port in `version`'s layout.
    pub fn encode(&self, version: u8) -> Vec<u8> {
        match version {
            OFP10 => self.encode10(),
            v if v >= 5 => self.encode14(),
            _ => self.encode13(),
        }
    }

    /// The port in OpenFlow 1.1–1.3's layout (`ofp11_port`).
    pub fn encode13(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&self.port_no.to_be_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&self.hw_addr);
        b.extend_from_slice(&[0; 2]);
        b.extend_from_slice(&name16(&self.name));
        for v in [self.config, self.state, self.curr, 0, 0, 0, self.curr_speed, self.curr_speed] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b
    }
}

/// Why a PORT_STATUS was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PortReason {
    /// The port was added.
    Add = 0,
    /// The port was removed.
    Delete = 1,
    /// Some attribute of the port changed.
    Modify = 2,
}

/// A PORT_STATUS message about `port`.
pub fn port_status(version: u8, reason: PortReason, port: &PortDesc) -> Vec<u8> {
    let mut body = vec![reason as u8, 0, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(&port.encode(version));
    message(version, ty::PORT_STATUS, 0, &body)
}

/// A port's counters, as PORT statistics report them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// OpenFlow port number (1.3 numbering).
    pub port_no: u32,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets dropped on receive.
    pub rx_dropped: u64,
    /// Packets dropped on transmit.
    pub tx_dropped: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

impl PortCounters {
    fn counters(&self) -> [u64; 8] {
        [self.rx_packets, self.tx_packets, self.rx_bytes, self.tx_bytes, self.rx_dropped, self.tx_dropped, self.rx_errors, self.tx_errors]
    }

    /// The 104-byte `ofp_port_stats` (1.0) or the 112-byte one (1.3); the
    /// frame, overrun, CRC and collision counters are not kept (all ones,
    /// "unavailable", as the specification says), nor the duration (1.3).
    pub fn encode(&self, version: u8) -> Vec<u8> {
        let mut b = Vec::with_capacity(120);
        if version >= 5 {
            // 1.4+: length, pad, port, duration, the counters, and the
            // Ethernet property with unknown error counters.
            b.extend_from_slice(&120u16.to_be_bytes());
            b.extend_from_slice(&[0; 2]);
            b.extend_from_slice(&self.port_no.to_be_bytes());
            b.extend_from_slice(&[0xff; 8]);
            for v in self.counters() {
                b.extend_from_slice(&v.to_be_bytes());
            }
            b.extend_from_slice(&[0, 0, 0, 40, 0, 0, 0, 0]);
            b.extend_from_slice(&[0xff; 32]);
            return b;
        }
        if version == OFP10 {
            let port = if self.port_no == OFPP13_LOCAL { OFPP10_LOCAL } else { self.port_no.min(0xff00) as u16 };
            b.extend_from_slice(&port.to_be_bytes());
            b.extend_from_slice(&[0; 6]);
        } else {
            b.extend_from_slice(&self.port_no.to_be_bytes());
            b.extend_from_slice(&[0; 4]);
        }
        for v in self.counters() {
            b.extend_from_slice(&v.to_be_bytes());
        }
        for _ in 0..4 {
            b.extend_from_slice(&u64::MAX.to_be_bytes());
        }
        if version != OFP10 {
            b.extend_from_slice(&[0xff; 8]);
        }
        b
    }
}

/// The switch description (`ofp_desc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desc {
    /// Manufacturer.
    pub mfr: String,
    /// Hardware.
    pub hw: String,
    /// Software.
    pub sw: String,
    /// Serial number.
    pub serial: String,
    /// Datapath description.
    pub dp: String,
}

impl Desc {
    /// The 1056-byte `ofp_desc` body.
    pub fn encode(&self) -> Vec<u8> {
        let field = |s: &str, n: usize| {
            let mut f = vec![0u8; n];
            let b = s.as_bytes();
            let len = b.len().min(n - 1);
            f[..len].copy_from_slice(&b[..len]);
            f
        };
        [field(&self.mfr, 256), field(&self.hw, 256), field(&self.sw, 256), field(&self.serial, 32), field(&self.dp, 256)].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn negotiation_follows_the_bitmap_or_the_header() {
        // ovs-ofctl's default HELLO: OpenFlow 1.0, no bitmap.
        assert_eq!(negotiate(&message(OFP10, ty::HELLO, 1, &[])), Some(OFP10));
        // ovs-ofctl -O OpenFlow13: version 4 with bitmap 0x10.
        assert_eq!(negotiate(&message(OFP13, ty::HELLO, 1, &[0, 1, 0, 8, 0, 0, 0, 0x10])), Some(OFP13));
        // A peer offering only 1.1 and 1.2 (bitmap 0x0c): nothing in common.
        assert_eq!(negotiate(&message(0x03, ty::HELLO, 1, &[0, 1, 0, 8, 0, 0, 0, 0x0c])), None);
        // A 1.2 peer without a bitmap settles on 1.0; 1.4 on 1.4.
        assert_eq!(negotiate(&message(0x03, ty::HELLO, 1, &[])), Some(OFP10));
        assert_eq!(negotiate(&message(0x05, ty::HELLO, 1, &[])), Some(OFP14));
        assert_eq!(hello(OFP13)[8..], [0, 1, 0, 8, 0, 0, 0, 0x12]);
        assert_eq!(hello(OFP15)[8..], [0, 1, 0, 8, 0, 0, 0, 0x72]);
    }

    #[test]
    fn framing_splits_and_refuses_short_lengths() {
        let mut f = Framer::default();
        let a = message(OFP10, ty::ECHO_REQUEST, 7, b"abc");
        let b = message(OFP10, ty::BARRIER_REQUEST_10, 8, &[]);
        f.push(&a[..5]);
        assert_eq!(f.next_message(), Ok(None));
        f.push(&a[5..]);
        f.push(&b);
        assert_eq!(f.next_message(), Ok(Some(a)));
        assert_eq!(f.next_message(), Ok(Some(b)));
        assert_eq!(f.next_message(), Ok(None));
        f.push(&[1, 0, 0, 4, 0, 0, 0, 0]);
        assert_eq!(f.next_message(), Err(BadFrame(4)));
    }

    #[test]
    fn port_status_layout() {
        let p = PortDesc::new(3, [2, 0, 0, 0, 0, 3], "p3");
        let m = port_status(OFP13, PortReason::Delete, &p);
        assert_eq!(Header::parse(&m).unwrap().ty, ty::PORT_STATUS);
        assert_eq!(m.len(), 8 + 8 + 64);
        assert_eq!(m[8], 1);
        assert_eq!(port_status(OFP10, PortReason::Add, &p).len(), 8 + 8 + 48);
    }

    #[test]
    fn port_counter_layouts() {
        let c = PortCounters { port_no: 3, rx_packets: 7, ..PortCounters::default() };
        let v10 = c.encode(OFP10);
        assert_eq!(v10.len(), 104);
        assert_eq!(&v10[..2], &[0, 3]);
        assert_eq!(&v10[8..16], &7u64.to_be_bytes());
        let v13 = c.encode(OFP13);
        assert_eq!(v13.len(), 112);
        assert_eq!(&v13[..4], &[0, 0, 0, 3]);
    }

    #[test]
    fn port_and_desc_layouts() {
        let p = PortDesc::new(OFPP13_LOCAL, [2, 0, 0, 0, 0, 1], "br0");
        let v10 = p.encode10();
        assert_eq!(v10.len(), 48);
        assert_eq!(&v10[..2], &[0xff, 0xfe]);
        assert_eq!(&v10[8..11], b"br0");
        let v13 = p.encode13();
        assert_eq!(v13.len(), 64);
        assert_eq!(&v13[..4], &[0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(&v13[16..19], b"br0");
        let d = Desc { mfr: "m".into(), hw: "h".into(), sw: "s".into(), serial: "n".into(), dp: "d".into() };
        assert_eq!(d.encode().len(), 1056);
    }

    proptest! {
        /// Arbitrary bytes never panic the framer or the negotiation.
        #[test]
        fn arbitrary_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6)) {
            let mut f = Framer::default();
            for c in &chunks {
                f.push(c);
                while let Ok(Some(m)) = f.next_message() {
                    let _ = negotiate(&m);
                }
            }
        }
    }
}
