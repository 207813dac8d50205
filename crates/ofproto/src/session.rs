//! One OpenFlow connection, without I/O: messages in, replies out.
//!
//! The session sends its HELLO first, negotiates the version (1.0, 1.3 or
//! 1.5) from the peer's HELLO, then answers the switch-description
//! requests from a [`SwitchView`] and the flow-table messages against the
//! bridge's [`Tables`]: FLOW_MOD (1.0, Nicira NXM, 1.3/1.5), the Nicira
//! flow-format and table-id settings, and flow, aggregate and table
//! statistics. A message it does not handle yet gets the ERROR the
//! specification names for it (BAD_TYPE, BAD_STAT, BAD_SUBTYPE,
//! BAD_VERSION, BAD_LEN) and the connection goes on; only an unframeable
//! stream or a failed negotiation ends it.
//!
//! Also handled: group and meter modifications and their statistics,
//! PACKET_OUT, PORT_MOD, roles, asynchronous configuration, bundles,
//! FLOW_REMOVED messages, OpenFlow 1.0's fixed-match flow statistics and
//! the TLV table (NXT_TLV_TABLE_MOD/REQUEST).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::{BadRequest, HelloFailed, RoleRequestFailed, TableFeaturesFailed};
use crate::flowmod::{self, nxt, StatsFormat};
use crate::group;
use crate::table::{Change, Role, Rule, Tables};
use crate::wire::{
    self, message, stats, ty, u16_at, u32_at, u64_at, Desc, Header, OfError, PortCounters, PortDesc, HEADER_LEN, OFP10, OFP14, OFP15,
};

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
    /// PORT_MOD: sets the `mask` bits of port `port_no`'s configuration to
    /// `config` (PORT_DOWN takes the device down); `hw_addr` must be the
    /// port's.
    fn port_mod(&self, port_no: u32, hw_addr: [u8; 6], config: u32, mask: u32) -> Result<(), OfError>;
    /// PACKET_OUT: runs `actions` on `packet` as received on `in_port`
    /// (OVS's 16-bit numbering; `OFPP_CONTROLLER` or `OFPP_NONE` when it
    /// came from no port).
    fn packet_out(&self, in_port: u16, actions: &[crate::actions::Action], packet: &[u8]) -> Result<(), OfError>;
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
    /// The messages may go only once the datapath switches by the tables
    /// as they are now ([`crate::Bridge::sync`]): a barrier's reply.
    pub after_sync: bool,
}

impl Replies {
    fn one(m: Vec<u8>) -> Self {
        Replies { messages: vec![m], end: None, after_sync: false }
    }
}

/// `miss_send_len` before SET_CONFIG, as OVS (`OFP_DEFAULT_MISS_SEND_LEN`).
const DEFAULT_MISS_SEND_LEN: u16 = 128;
/// Tables advertised, as OVS.
const N_TABLES: u8 = 254;
/// Capabilities advertised: flow, table and port statistics.
const CAPABILITIES: u32 = 0x1 | 0x2 | 0x4;
/// Nicira's vendor id.
use crate::actions::NX_VENDOR;

mod bundle;
use bundle::Bundle;

/// A connection's protocol state.
#[derive(Debug)]
pub struct Session {
    version: Option<u8>,
    flags: u16,
    miss_send_len: u16,
    /// NXT_FLOW_MOD_TABLE_ID: 1.0 flow mods carry a table id.
    table_id_ext: bool,
    /// NXT_SET_FLOW_FORMAT chose NXM: 1.0 FLOW_REMOVED is Nicira's.
    nxm: bool,
    /// Open bundles by id.
    bundles: BTreeMap<u32, Bundle>,
    /// The versions this connection may use (a version bitmap).
    allowed: u32,
    /// This connection's id in the bridge's [`crate::table::Roles`].
    conn: Option<u64>,
    /// Which asynchronous messages it wants.
    async_config: AsyncConfig,
    /// NXT_SET_PACKET_IN_FORMAT's choice (kept for the packet path).
    packet_in_format: u32,
    /// NXT_SET_CONTROLLER_ID's id.
    controller_id: u16,
    /// A service connection (the bridge's management socket, as
    /// `ovs-ofctl` uses): no packet-in until SET_CONFIG asks for some.
    service: bool,
}

/// OpenFlow's asynchronous configuration: for each kind, the reasons a
/// master-or-equal connection and a slave receive (bit N: reason N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AsyncConfig {
    packet_in: [u32; 2],
    port_status: [u32; 2],
    flow_removed: [u32; 2],
}

impl Default for AsyncConfig {
    /// The specification's defaults: slaves get port status only.
    fn default() -> Self {
        AsyncConfig { packet_in: [0x7, 0], port_status: [0x7, 0x7], flow_removed: [0xf, 0] }
    }
}

impl AsyncConfig {
    /// The 1.3 body (and Nicira's NXT_SET_ASYNC_CONFIG's): the masks, master
    /// then slave for each kind.
    fn encode13(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(24);
        for [m, s] in [self.packet_in, self.port_status, self.flow_removed] {
            b.extend_from_slice(&m.to_be_bytes());
            b.extend_from_slice(&s.to_be_bytes());
        }
        b
    }

    fn decode13(b: &[u8]) -> Result<AsyncConfig, OfError> {
        let w = |i: usize| u32_at(b, 4 * i);
        Ok(AsyncConfig { packet_in: [w(0)?, w(1)?], port_status: [w(2)?, w(3)?], flow_removed: [w(4)?, w(5)?] })
    }

    /// 1.4+: properties (type, length 8, mask), slave before master.
    fn encode14(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(48);
        for (i, [m, s]) in [self.packet_in, self.port_status, self.flow_removed].into_iter().enumerate() {
            for (ty, mask) in [(2 * i as u16, s), (2 * i as u16 + 1, m)] {
                b.extend_from_slice(&ty.to_be_bytes());
                b.extend_from_slice(&8u16.to_be_bytes());
                b.extend_from_slice(&mask.to_be_bytes());
            }
        }
        b
    }

    /// 1.4+ properties over the current configuration; other kinds (role
    /// status, table status, …) are accepted and not kept.
    fn update14(&mut self, mut b: &[u8]) -> Result<(), OfError> {
        while !b.is_empty() {
            let (ty, len) = (u16_at(b, 0)?, usize::from(u16_at(b, 2)?));
            if len < 4 || len > b.len() {
                return Err(OfError::BadRequest(BadRequest::BadLen));
            }
            let slot = match ty / 2 {
                0 => Some(&mut self.packet_in),
                1 => Some(&mut self.port_status),
                2 => Some(&mut self.flow_removed),
                _ => None,
            };
            if let (Some(slot), true) = (slot, len >= 8) {
                slot[usize::from(ty % 2 == 0)] = u32_at(b, 4)?;
            }
            b = &b[(len.div_ceil(8) * 8).min(b.len())..];
        }
        Ok(())
    }
}

impl Default for Session {
    fn default() -> Self {
        Session {
            version: None,
            flags: 0,
            miss_send_len: DEFAULT_MISS_SEND_LEN,
            table_id_ext: false,
            nxm: false,
            bundles: BTreeMap::new(),
            allowed: wire::all_versions(),
            conn: None,
            async_config: AsyncConfig::default(),
            packet_in_format: 0,
            controller_id: 0,
            service: false,
        }
    }
}

impl Session {
    /// A new session and the HELLO to send at once.
    pub fn start() -> (Session, Vec<u8>) {
        Session::start_allowing(wire::all_versions())
    }

    /// A new session that speaks only the versions in `allowed` (a version
    /// bitmap, from `Bridge.protocols`), and its HELLO.
    pub fn start_allowing(allowed: u32) -> (Session, Vec<u8>) {
        (Session { allowed, ..Session::default() }, wire::hello_allowing(allowed))
    }

    /// Gives the session its connection id in the bridge's roles
    /// ([`crate::table::Roles::connect`]); without one it is always equal.
    pub fn set_connection(&mut self, conn: u64) {
        self.conn = Some(conn);
    }

    /// Makes this a service connection (OVS's `OFCONN_SERVICE`): its
    /// `miss_send_len` starts at 0, and while it is 0 no packet-in is sent.
    pub fn set_service(&mut self) {
        self.service = true;
        self.miss_send_len = 0;
    }

    /// The PACKET_IN for `pi`, in this connection's format, if it wants
    /// it: the controller id matches, and its asynchronous configuration
    /// takes the reason for its role.
    pub fn packet_in(&self, pi: &crate::packet_in::PacketIn, tables: &Tables) -> Option<Vec<u8>> {
        let version = self.version?;
        if pi.what.controller_id != self.controller_id || (self.service && self.miss_send_len == 0) {
            return None;
        }
        // The switch's own table-miss is for the connections that asked for it.
        if pi.what.reason == crate::xlate::reason::IMPLICIT_MISS && !self.wants_misses() {
            return None;
        }
        let mask = self.async_config.packet_in[usize::from(self.role(tables) == Role::Slave)];
        let wire_reason = crate::xlate::reason::on_wire(pi.what.reason, version);
        (mask & (1 << wire_reason) != 0).then(|| pi.encode(version, self.packet_in_format, self.miss_send_len))
    }

    /// Whether table misses should go to this connection's controller:
    /// it speaks OpenFlow 1.0 (whose table-miss sends to the controller;
    /// 1.3 and later drop) with controller id 0, as OVS decides — and, for
    /// a service connection, only once SET_CONFIG gave a `miss_send_len`
    /// (so that `ovs-ofctl dump-flows` does not change what misses do).
    pub fn wants_misses(&self) -> bool {
        self.version == Some(OFP10) && self.controller_id == 0 && !(self.service && self.miss_send_len == 0)
    }

    fn role(&self, tables: &Tables) -> Role {
        self.conn.map_or(Role::Equal, |c| tables.roles.role(c))
    }

    /// The FLOW_REMOVED message for a removed rule, if the rule asked for
    /// one and the session has a version.
    /// Slaves get none (OpenFlow's default asynchronous configuration).
    pub fn flow_removed(&self, r: &crate::table::Removed, tables: &Tables) -> Option<Vec<u8>> {
        let version = self.version?;
        let mask = self.async_config.flow_removed[usize::from(self.role(tables) == Role::Slave)];
        let wanted = mask & (1 << r.reason) != 0 && r.rule.flags & crate::table::flags::SEND_FLOW_REM != 0;
        wanted.then(|| flowmod::encode_flow_removed(r, version, self.nxm, Instant::now()))
    }

    /// The PORT_STATUS message for a port change, if the connection's
    /// asynchronous configuration wants it.
    pub fn port_status(&self, reason: wire::PortReason, port: &PortDesc, tables: &Tables) -> Option<Vec<u8>> {
        let version = self.version?;
        let mask = self.async_config.port_status[usize::from(self.role(tables) == Role::Slave)];
        (mask & (1 << reason as u32) != 0).then(|| wire::port_status(version, reason, port))
    }

    /// The negotiated version, once the peer's HELLO arrived.
    pub fn version(&self) -> Option<u8> {
        self.version
    }

    /// Handles one framed message against the bridge `sw` and its flow
    /// `tables`; returns the replies.
    pub fn handle(&mut self, msg: &[u8], sw: &dyn SwitchView, tables: &mut Tables) -> Replies {
        let Some(h) = Header::parse(msg) else {
            return Replies::default();
        };
        let Some(version) = self.version else {
            if h.ty != ty::HELLO {
                // Before HELLO, OVS answers with an error in our version.
                return Replies::one(wire::error(OFP10, h.xid, OfError::BadRequest(BadRequest::BadType), msg));
            }
            return match wire::negotiate_allowing(msg, self.allowed) {
                Some(v) => {
                    self.version = Some(v);
                    Replies::default()
                }
                None => Replies {
                    messages: vec![wire::error(h.version.min(OFP15), h.xid, OfError::HelloFailed(HelloFailed::Incompatible), msg)],
                    end: Some(SessionEnd::Incompatible),
                    after_sync: false,
                },
            };
        };
        if h.version != version {
            return Replies::one(wire::error(version, h.xid, OfError::BadRequest(BadRequest::BadVersion), msg));
        }
        let body = msg.get(HEADER_LEN..).unwrap_or_default();
        let v10 = version == OFP10;
        if self.role(tables) == Role::Slave && modifies(h.ty, version, msg) {
            return Replies::one(wire::error(version, h.xid, OfError::BadRequest(BadRequest::IsSlave), msg));
        }
        let result = match h.ty {
            ty::HELLO | ty::ECHO_REPLY => return Replies::default(),
            ty::ECHO_REQUEST => Ok(vec![message(version, ty::ECHO_REPLY, h.xid, body)]),
            ty::FEATURES_REQUEST => Ok(vec![message(version, ty::FEATURES_REPLY, h.xid, &features(version, sw))]),
            ty::GET_CONFIG_REQUEST => {
                let mut b = self.flags.to_be_bytes().to_vec();
                b.extend_from_slice(&self.miss_send_len.to_be_bytes());
                Ok(vec![message(version, ty::GET_CONFIG_REPLY, h.xid, &b)])
            }
            ty::SET_CONFIG => match (body.get(0..2), body.get(2..4)) {
                (Some(f), Some(m)) => {
                    self.flags = u16::from_be_bytes([f[0], f[1]]);
                    self.miss_send_len = u16::from_be_bytes([m[0], m[1]]);
                    Ok(Vec::new())
                }
                _ => Err(OfError::BadRequest(BadRequest::BadLen)),
            },
            ty::EXPERIMENTER => self.experimenter(version, msg, tables),
            ty::FLOW_MOD => flowmod::decode_flow_mod(msg, version, self.table_id_ext, &tables.tlv).and_then(|fm| apply(tables, &fm)),
            ty::GROUP_MOD if !v10 => {
                group::decode_group_mod(body, version, false).and_then(|gm| tables.apply_group_mod(gm)).map(|_| Vec::new())
            }
            ty::METER_MOD if !v10 => group::decode_meter_mod(body).and_then(|(c, m)| tables.apply_meter_mod(c, m)).map(|_| Vec::new()),
            ty::BUNDLE_CONTROL if version >= OFP14 => self.bundle_control(version, h.xid, msg, tables),
            ty::BUNDLE_ADD_MESSAGE if version >= OFP14 => self.bundle_add(version, h.xid, msg, &tables.tlv),
            ty::ROLE_REQUEST if !v10 => self.role_request(version, h.xid, msg, tables),
            ty::PACKET_OUT => packet_out(msg, version, sw),
            ty::PORT_MOD_10 if v10 => port_mod(msg, version, sw),
            ty::PORT_MOD_11 if !v10 => port_mod(msg, version, sw),
            ty::GET_ASYNC_REQUEST if !v10 => {
                let body = if version >= OFP14 { self.async_config.encode14() } else { self.async_config.encode13() };
                Ok(vec![message(version, ty::GET_ASYNC_REPLY, h.xid, &body)])
            }
            ty::SET_ASYNC if !v10 => self.set_async(version, body),
            ty::BARRIER_REQUEST_10 if v10 => Ok(vec![message(version, ty::BARRIER_REPLY_10, h.xid, &[])]),
            ty::BARRIER_REQUEST_13 if !v10 => Ok(vec![message(version, ty::BARRIER_REPLY_13, h.xid, &[])]),
            ty::STATS_REQUEST_10 if v10 => self.stats(version, h.xid, msg, sw, tables),
            ty::MULTIPART_REQUEST_13 if !v10 => self.stats(version, h.xid, msg, sw, tables),
            _ => Err(OfError::BadRequest(BadRequest::BadType)),
        };
        let barrier = h.ty == if v10 { ty::BARRIER_REQUEST_10 } else { ty::BARRIER_REQUEST_13 };
        match result {
            Ok(messages) => Replies { messages, end: None, after_sync: barrier },
            Err(e) => Replies::one(wire::error(version, h.xid, e, msg)),
        }
    }

    /// SET_ASYNC: 1.3's masks, or 1.4+'s properties over the current ones.
    fn set_async(&mut self, version: u8, body: &[u8]) -> Result<Vec<Vec<u8>>, OfError> {
        if version >= OFP14 {
            self.async_config.update14(body)?;
        } else {
            self.async_config = AsyncConfig::decode13(body)?;
        }
        Ok(Vec::new())
    }

    /// ROLE_REQUEST (1.2+): no change, equal, master or slave, with the
    /// master election's generation id.
    fn role_request(&mut self, version: u8, xid: u32, msg: &[u8], tables: &mut Tables) -> Result<Vec<Vec<u8>>, OfError> {
        let wanted = u32_at(msg, 8)?;
        let generation = u64_at(msg, 16)?;
        let conn = self.conn.ok_or(OfError::BadRequest(BadRequest::Eperm))?;
        let role = match wanted {
            0 => None,
            1 => Some(Role::Equal),
            2 => Some(Role::Master),
            3 => Some(Role::Slave),
            _ => return Err(OfError::RoleRequestFailed(RoleRequestFailed::BadRole)),
        };
        if let Some(role) = role {
            tables.roles.request(conn, role, generation)?;
        }
        let current = match tables.roles.role(conn) {
            Role::Equal => 1u32,
            Role::Master => 2,
            Role::Slave => 3,
        };
        let mut b = current.to_be_bytes().to_vec();
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&tables.roles.generation().unwrap_or(u64::MAX).to_be_bytes());
        Ok(vec![message(version, ty::ROLE_REPLY, xid, &b)])
    }

    /// Nicira extension messages.
    fn experimenter(&mut self, version: u8, msg: &[u8], tables: &mut Tables) -> Result<Vec<Vec<u8>>, OfError> {
        if u32_at(msg, 8)? != NX_VENDOR {
            return Err(OfError::BadRequest(BadRequest::BadExperimenter));
        }
        match u32_at(msg, 12)? {
            nxt::FLOW_MOD => flowmod::decode_nx_flow_mod(msg, self.table_id_ext, &tables.tlv).and_then(|fm| apply(tables, &fm)),
            nxt::SET_FLOW_FORMAT => match u32_at(msg, 16)? {
                // OpenFlow 1.0 matches or NXM: both are understood on input,
                // statistics replies follow the request's own format, and
                // FLOW_REMOVED follows this choice.
                f @ (0 | 2) => {
                    self.nxm = f == 2;
                    Ok(Vec::new())
                }
                _ => Err(OfError::BadRequest(BadRequest::Eperm)),
            },
            nxt::GROUP_MOD => group::decode_group_mod(msg.get(16..).unwrap_or_default(), version, true)
                .and_then(|gm| tables.apply_group_mod(gm))
                .map(|_| Vec::new()),
            nxt::TLV_TABLE_MOD => {
                let command = u16_at(msg, 16)?;
                let maps = msg.get(24..).unwrap_or_default();
                if maps.len() % 8 != 0 {
                    return Err(OfError::BadRequest(BadRequest::BadLen));
                }
                let maps: Vec<(u8, u16, u8, u8)> = maps
                    .chunks(8)
                    .map(|m| (u16::from_be_bytes([m[4], m[5]]).min(255) as u8, u16::from_be_bytes([m[0], m[1]]), m[2], m[3]))
                    .collect();
                tables.tlv_mod(command, &maps)?;
                Ok(Vec::new())
            }
            nxt::TLV_TABLE_REQUEST => {
                let mut b = NX_VENDOR.to_be_bytes().to_vec();
                b.extend_from_slice(&nxt::TLV_TABLE_REPLY.to_be_bytes());
                b.extend_from_slice(&256u32.to_be_bytes());
                b.extend_from_slice(&u16::from(crate::flowmatch::TUN_METADATA_FIELDS).to_be_bytes());
                b.extend_from_slice(&[0; 10]);
                for (&index, &(class, ty, len)) in &tables.tlv.maps {
                    b.extend_from_slice(&class.to_be_bytes());
                    b.extend_from_slice(&[ty, len]);
                    b.extend_from_slice(&u16::from(index).to_be_bytes());
                    b.extend_from_slice(&[0, 0]);
                }
                Ok(vec![message(version, ty::EXPERIMENTER, u32_at(msg, 4)?, &b)])
            }
            nxt::SET_ASYNC_CONFIG => {
                self.async_config = AsyncConfig::decode13(msg.get(16..).unwrap_or_default())?;
                Ok(Vec::new())
            }
            nxt::SET_PACKET_IN_FORMAT => {
                // 0: OpenFlow's, 1: NXT_PACKET_IN, 2: NXT_PACKET_IN2.
                match u32_at(msg, 16)? {
                    f @ 0..=2 => self.packet_in_format = f,
                    _ => return Err(OfError::BadRequest(BadRequest::Eperm)),
                }
                Ok(Vec::new())
            }
            nxt::SET_CONTROLLER_ID => {
                self.controller_id = u16_at(msg, 22)?;
                Ok(Vec::new())
            }
            nxt::ROLE_REQUEST => {
                // Nicira's roles: other 0, master 1, slave 2; no generation.
                let role = match u32_at(msg, 16)? {
                    0 => Role::Equal,
                    1 => Role::Master,
                    2 => Role::Slave,
                    _ => return Err(OfError::BadRequest(BadRequest::Eperm)),
                };
                let conn = self.conn.ok_or(OfError::BadRequest(BadRequest::Eperm))?;
                let generation = tables.roles.generation().unwrap_or(0);
                tables.roles.request(conn, role, generation)?;
                let mut b = NX_VENDOR.to_be_bytes().to_vec();
                b.extend_from_slice(&(nxt::ROLE_REQUEST + 1).to_be_bytes());
                b.extend_from_slice(&u32_at(msg, 16)?.to_be_bytes());
                Ok(vec![message(version, ty::EXPERIMENTER, u32_at(msg, 4)?, &b)])
            }
            nxt::FLOW_MOD_TABLE_ID => {
                self.table_id_ext = *msg.get(16).ok_or(OfError::BadRequest(BadRequest::BadLen))? != 0;
                Ok(Vec::new())
            }
            _ => Err(OfError::BadRequest(BadRequest::BadExpType)),
        }
    }

    fn stats(&self, version: u8, xid: u32, msg: &[u8], sw: &dyn SwitchView, tables: &Tables) -> Result<Vec<Vec<u8>>, OfError> {
        let kind =
            msg.get(HEADER_LEN..HEADER_LEN + 2).map(|k| u16::from_be_bytes([k[0], k[1]])).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
        let v10 = version == OFP10;
        let reply_ty = if v10 { ty::STATS_REPLY_10 } else { ty::MULTIPART_REPLY_13 };
        // Reply head: kind, flags, and 4 bytes of padding after 1.0.
        let mut head = kind.to_be_bytes().to_vec();
        head.extend_from_slice(&[0, 0]);
        if !v10 {
            head.extend_from_slice(&[0; 4]);
        }
        let body_at = HEADER_LEN + head.len();
        let now = Instant::now();
        let entries: Vec<Vec<u8>> = match kind {
            stats::DESC => vec![sw.desc().encode()],
            stats::PORT_DESC if !v10 => sw.ports().iter().map(|p| p.encode(version)).collect(),
            stats::PORT => {
                // The request names one port, or all (OFPP_NONE / OFPP_ANY).
                let at = HEADER_LEN + if v10 { 4 } else { 8 };
                let wanted = if v10 {
                    msg.get(at..at + 2).map(|p| match u16::from_be_bytes([p[0], p[1]]) {
                        0xffff => None,
                        wire::OFPP10_LOCAL => Some(wire::OFPP13_LOCAL),
                        p => Some(u32::from(p)),
                    })
                } else {
                    u32_at(msg, at).ok().map(|p| Some(p).filter(|&p| p != 0xffff_ffff))
                };
                let wanted = wanted.ok_or(OfError::BadRequest(BadRequest::BadLen))?;
                sw.port_counters().iter().filter(|c| wanted.is_none_or(|w| w == c.port_no)).map(|c| c.encode(version)).collect()
            }
            stats::FLOW | stats::AGGREGATE if !v10 => {
                let c = flowmod::decode_of13_stats_request(msg.get(body_at..).unwrap_or_default(), &tables.tlv)?;
                let rules: Vec<(u8, &Rule)> = tables.select(&c).collect();
                if kind == stats::AGGREGATE {
                    vec![flowmod::encode_aggregate(&rules.iter().map(|(_, r)| *r).collect::<Vec<_>>())]
                } else {
                    let format = if version >= OFP15 { StatsFormat::Of15 } else { StatsFormat::Of13(version) };
                    rules.iter().map(|(t, r)| flowmod::encode_flow_stats(r, *t, format, now, &tables.tlv)).collect()
                }
            }
            stats::GROUP_DESC if !v10 => {
                // 1.5 names one group (or all); earlier versions ask for all.
                let wanted = if version >= OFP15 { u32_at(msg, body_at)? } else { group::GROUP_ALL };
                tables
                    .groups
                    .groups
                    .values()
                    .filter(|g| wanted == group::GROUP_ALL || g.id == wanted)
                    .map(|g| group::encode_group_desc(g, version, false))
                    .collect()
            }
            stats::METER_CONFIG if !v10 => {
                let wanted = u32_at(msg, body_at)?;
                tables
                    .groups
                    .meters
                    .values()
                    .filter(|m| wanted == group::METER_ALL || m.id == wanted)
                    .map(group::encode_meter_config)
                    .collect()
            }
            stats::METER_FEATURES if !v10 => vec![group::encode_meter_features()],
            stats::GROUP if !v10 => group_stats(tables, u32_at(msg, body_at)?),
            stats::GROUP_FEATURES if !v10 => vec![group::encode_group_features()],
            stats::METER if !v10 => {
                let wanted = u32_at(msg, body_at)?;
                let g = &tables.groups;
                g.meters
                    .values()
                    .filter(|m| wanted == group::METER_ALL || m.id == wanted)
                    .map(|m| {
                        let flows = tables.count_rules(|r| crate::actions::uses_meter(&r.actions, m.id));
                        group::encode_meter_stats(m, flows, g.meter_added.get(&m.id), g.meter_state.get(&m.id).map(|s| s.stats()))
                    })
                    .collect()
            }
            stats::TABLE => (0..N_TABLES).map(|t| table_stats(version, t, tables.table(t).len())).collect(),
            stats::TABLE_FEATURES if !v10 => {
                if msg.len() > body_at {
                    // Setting table features (names, properties) is not
                    // supported yet.
                    return Err(OfError::TableFeaturesFailed(TableFeaturesFailed::Eperm));
                }
                (0..N_TABLES).map(|t| table_features(t, version)).collect()
            }
            stats::VENDOR if v10 => return self.nx_stats(xid, msg, tables, now),
            _ => return Err(OfError::BadRequest(BadRequest::BadMultipart)),
        };
        Ok(flowmod::pack_multipart(&head, 2, &entries, |b| message(version, reply_ty, xid, b)))
    }

    /// Nicira statistics over OpenFlow 1.0: NXST_FLOW and NXST_AGGREGATE.
    fn nx_stats(&self, xid: u32, msg: &[u8], tables: &Tables, now: Instant) -> Result<Vec<Vec<u8>>, OfError> {
        if u32_at(msg, 12)? != NX_VENDOR {
            return Err(OfError::BadRequest(BadRequest::BadExperimenter));
        }
        let subtype = u32_at(msg, 16)?;
        let entries: Vec<Vec<u8>> = match subtype {
            0 | 1 => {
                let c = flowmod::decode_nx_stats_request(msg.get(24..).unwrap_or_default(), &tables.tlv)?;
                let rules: Vec<(u8, &Rule)> = tables.select(&c).collect();
                if subtype == 1 {
                    vec![flowmod::encode_aggregate(&rules.iter().map(|(_, r)| *r).collect::<Vec<_>>())]
                } else {
                    rules.iter().map(|(t, r)| flowmod::encode_flow_stats(r, *t, StatsFormat::Nx, now, &tables.tlv)).collect()
                }
            }
            // NXST_GROUP: the 1.3 layout.
            7 => group_stats(tables, u32_at(msg, 24)?),
            // NXST_GROUP_DESC: the 1.5 layout with 1.0 actions.
            8 => {
                let wanted = u32_at(msg, 24)?;
                let groups = tables.groups.groups.values().filter(|g| wanted == group::GROUP_ALL || g.id == wanted);
                groups.map(|g| group::encode_group_desc(g, OFP10, true)).collect()
            }
            _ => return Err(OfError::BadRequest(BadRequest::BadExpType)),
        };
        // Head: VENDOR kind, flags, Nicira id, subtype, 4 bytes of padding.
        let mut head = vec![0xff, 0xff, 0, 0];
        head.extend_from_slice(&NX_VENDOR.to_be_bytes());
        head.extend_from_slice(&subtype.to_be_bytes());
        head.extend_from_slice(&[0; 4]);
        Ok(flowmod::pack_multipart(&head, 2, &entries, |b| message(OFP10, ty::STATS_REPLY_10, xid, b)))
    }
}

/// Group statistics entries for `wanted` (or all).
fn group_stats(tables: &Tables, wanted: u32) -> Vec<Vec<u8>> {
    let g = &tables.groups;
    g.groups
        .values()
        .filter(|x| wanted == group::GROUP_ALL || x.id == wanted)
        .map(|x| {
            group::encode_group_stats(x, tables.count_rules(|r| crate::actions::uses_group(&r.actions, x.id)), g.group_added.get(&x.id))
        })
        .collect()
}

/// Applies a flow mod; the reply is empty (errors are the caller's).
fn apply(tables: &mut Tables, fm: &crate::table::FlowMod) -> Result<Vec<Vec<u8>>, OfError> {
    tables.apply(fm, Instant::now())?;
    Ok(Vec::new())
}

/// `buffer_id` meaning "the packet is in the message".
const NO_BUFFER: u32 = 0xffff_ffff;

/// PACKET_OUT in 1.0 (16-bit in_port), 1.1–1.4 (32-bit in_port) and 1.5
/// (in_port in a match).
fn packet_out(msg: &[u8], version: u8, sw: &dyn SwitchView) -> Result<Vec<Vec<u8>>, OfError> {
    let buffer_id = u32_at(msg, 8)?;
    let (in_port, actions_len, actions_at) = match version {
        OFP10 => (u16_at(msg, 12)?, u16_at(msg, 14)?, 16),
        v if v < OFP15 => {
            let p = u32_at(msg, 12)?;
            (crate::flowmatch::port_from_ofp11(p).ok_or(OfError::BadRequest(BadRequest::BadPort))?, u16_at(msg, 16)?, 24)
        }
        _ => {
            let actions_len = u16_at(msg, 12)?;
            let (m, used) = crate::flowmatch::decode_oxm_match(msg.get(16..).ok_or(OfError::BadRequest(BadRequest::BadLen))?)?;
            let port = m.slot_value(crate::flowmatch::slot::IN_PORT) as u16;
            (if m.slot_mask(crate::flowmatch::slot::IN_PORT) == 0 { 0xfffd } else { port }, actions_len, 16 + used)
        }
    };
    let end = actions_at + usize::from(actions_len);
    let (Some(actions), Some(packet)) = (msg.get(actions_at..end), msg.get(end..)) else {
        return Err(OfError::BadRequest(BadRequest::BadLen));
    };
    if buffer_id != NO_BUFFER {
        return Err(OfError::BadRequest(BadRequest::BufferUnknown));
    }
    let actions = crate::actions::decode_actions(actions, version)?;
    sw.packet_out(in_port, &actions, packet)?;
    Ok(Vec::new())
}

fn port_mod(msg: &[u8], version: u8, sw: &dyn SwitchView) -> Result<Vec<Vec<u8>>, OfError> {
    let (port, mac_at, config_at) = if version == OFP10 {
        let p = u16_at(msg, 8)?;
        (if p >= 0xff00 { u32::from(p) | 0xffff_0000 } else { u32::from(p) }, 10, 16)
    } else {
        (u32_at(msg, 8)?, 16, 24)
    };
    let mac = msg.get(mac_at..mac_at + 6).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
    let hw_addr = [mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]];
    sw.port_mod(port, hw_addr, u32_at(msg, config_at)?, u32_at(msg, config_at + 4)?)?;
    Ok(Vec::new())
}

/// Whether a message of type `t` changes the switch (refused to slaves).
fn modifies(t: u8, version: u8, msg: &[u8]) -> bool {
    match t {
        // 15 is PORT_MOD in 1.0 and GROUP_MOD after: both change things.
        ty::FLOW_MOD | ty::GROUP_MOD | ty::PACKET_OUT => true,
        ty::PORT_MOD_11 | ty::METER_MOD | ty::BUNDLE_CONTROL | ty::BUNDLE_ADD_MESSAGE => version != OFP10,
        ty::EXPERIMENTER => matches!(u32_at(msg, 12), Ok(nxt::FLOW_MOD | nxt::GROUP_MOD | nxt::TLV_TABLE_MOD)),
        _ => false,
    }
}

/// One table's features (1.3's `ofp_table_features`): no name, metadata
/// fully matchable and writable, a million entries, and the properties
/// listing what ferrovs decodes: instructions, later tables, the standard
/// actions, and the match, wildcard and set-field OXM headers.
fn table_features(table: u8, version: u8) -> Vec<u8> {
    let mut b = vec![0, 0, table, 0, 0, 0, 0, 0];
    b.extend_from_slice(&[0; 32]);
    b.extend_from_slice(&u64::MAX.to_be_bytes());
    b.extend_from_slice(&u64::MAX.to_be_bytes());
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(&1_000_000u32.to_be_bytes());
    let prop = |b: &mut Vec<u8>, ty: u16, content: &[u8]| {
        b.extend_from_slice(&ty.to_be_bytes());
        b.extend_from_slice(&((4 + content.len()) as u16).to_be_bytes());
        b.extend_from_slice(content);
        b.resize(b.len().div_ceil(8) * 8, 0);
    };
    // Goto-table only where a later table exists.
    let instructions: Vec<u16> = if table + 1 < N_TABLES { vec![1, 2, 3, 4, 5, 6] } else { vec![2, 3, 4, 5, 6] };
    let headers = |tys: &[u16]| tys.iter().flat_map(|t| [t.to_be_bytes(), 4u16.to_be_bytes()].concat()).collect::<Vec<u8>>();
    prop(&mut b, 0, &headers(&instructions));
    prop(&mut b, 2, &(table + 1..N_TABLES).collect::<Vec<u8>>());
    let actions = headers(&[0, 17, 18, 21, 22, 23, 24, 25]);
    prop(&mut b, 4, &actions);
    prop(&mut b, 6, &actions);
    let oxm = |pick: &dyn Fn(&crate::flowmatch::Field) -> bool| {
        let mut out = Vec::new();
        for f in crate::flowmatch::fields().iter().filter(|f| pick(f)) {
            let h = f.header_for(version);
            out.extend_from_slice(&h.class.to_be_bytes());
            out.push(h.field << 1);
            if h.class == crate::flowmatch::OXM_EXPERIMENTER {
                out.push(f.bytes + 4);
                out.extend_from_slice(&h.exp.to_be_bytes());
            } else {
                out.push(f.bytes);
            }
        }
        out
    };
    prop(&mut b, 8, &oxm(&|_| true));
    prop(&mut b, 10, &oxm(&|f| f.maskable));
    let set = oxm(&|f| crate::actions::writable(f));
    prop(&mut b, 12, &set);
    prop(&mut b, 14, &set);
    let len = (b.len() as u16).to_be_bytes();
    b[..2].copy_from_slice(&len);
    b
}

/// One table's statistics entry: 1.0's 64 bytes (with wildcards and
/// size), 1.3's 24.
fn table_stats(version: u8, table: u8, active: usize) -> Vec<u8> {
    let mut b = vec![table, 0, 0, 0];
    if version == OFP10 {
        // No name, as OVS's tables by default.
        b.extend_from_slice(&[0; 32]);
        b.extend_from_slice(&0x003f_ffffu32.to_be_bytes());
        b.extend_from_slice(&1_000_000u32.to_be_bytes());
    }
    b.extend_from_slice(&(active as u32).to_be_bytes());
    b.extend_from_slice(&[0; 16]);
    b
}

/// FEATURES_REPLY body: 1.0 lists the ports, later versions do not.
fn features(version: u8, sw: &dyn SwitchView) -> Vec<u8> {
    let mut b = sw.datapath_id().to_be_bytes().to_vec();
    b.extend_from_slice(&0u32.to_be_bytes()); // n_buffers
    b.push(N_TABLES);
    b.extend_from_slice(&[0; 3]); // pad (1.0) / auxiliary_id + pad (1.3)
    b.extend_from_slice(&CAPABILITIES.to_be_bytes());
    if version == OFP10 {
        // Actions supported: output, set_vlan_vid/pcp, strip_vlan,
        // set_dl_src/dst, set_nw_src/dst/tos, set_tp_src/dst, enqueue.
        b.extend_from_slice(&0x0fffu32.to_be_bytes());
        for p in sw.ports() {
            b.extend_from_slice(&p.encode10());
        }
    } else {
        b.extend_from_slice(&0u32.to_be_bytes()); // reserved
    }
    b
}

#[cfg(test)]
mod tests;
