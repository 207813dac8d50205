//! PACKET_IN: a packet the tables sent to the controllers, in the format
//! each connection asked for — OpenFlow 1.0's, 1.3 and later's (with the
//! rule's cookie and an OXM match of the pipeline fields), Nicira's
//! NXT_PACKET_IN
//! (`NXT_SET_PACKET_IN_FORMAT` 1) or NXT_PACKET_IN2 (format 2, the only
//! one that carries `controller(userdata=…)`).
//!
//! Packets are never buffered in the switch: `buffer_id` is always
//! `NO_BUFFER` and the data is the packet, cut to the action's `max_len`
//! (the connection's `miss_send_len` for a table miss).

use crate::actions::NX_VENDOR;
use crate::flowmatch::{encode_entries, encode_oxm_match, Match};
use crate::wire::{self, ty, OFP10};
use crate::xlate::ToController;

/// `buffer_id` of a packet the switch did not buffer.
pub const NO_BUFFER: u32 = 0xffff_ffff;
/// `max_len` that asks for the whole packet.
pub const NO_MAX_LEN: u16 = 0xffff;

/// NXT_PACKET_IN and NXT_PACKET_IN2 subtypes.
const NXT_PACKET_IN: u32 = 17;
const NXT_PACKET_IN2: u32 = 30;

/// NXT_PACKET_IN2 property types.
mod prop {
    pub const PACKET: u16 = 0;
    pub const FULL_LEN: u16 = 1;
    pub const TABLE_ID: u16 = 3;
    pub const COOKIE: u16 = 4;
    pub const REASON: u16 = 5;
    pub const METADATA: u16 = 6;
    pub const USERDATA: u16 = 7;
}

/// A packet for the controllers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketIn {
    /// Why, from where, how much of it and for whom (the translation's
    /// [`ToController`]; reason in OpenFlow 1.3 numbering).
    pub what: ToController,
    /// The packet as the actions before the output made it.
    pub packet: Vec<u8>,
    /// The pipeline fields: `in_port`, and the tunnel id when nonzero.
    pub metadata: Match,
}

impl PacketIn {
    fn in_port(&self) -> u16 {
        self.metadata.slot_value(crate::flowmatch::slot::IN_PORT) as u16
    }

    /// The packet's bytes to send, for a connection whose `miss_send_len`
    /// is given.
    fn data(&self, miss_send_len: u16) -> &[u8] {
        let max = if self.what.reason == crate::xlate::reason::IMPLICIT_MISS { miss_send_len } else { self.what.max_len };
        let n = if max == NO_MAX_LEN { self.packet.len() } else { self.packet.len().min(usize::from(max)) };
        &self.packet[..n]
    }

    /// The message for a connection of `version` that chose packet-in
    /// `format` (0 OpenFlow, 1 NXT_PACKET_IN, 2 NXT_PACKET_IN2).
    pub fn encode(&self, version: u8, format: u32, miss_send_len: u16) -> Vec<u8> {
        let wire_reason = crate::xlate::reason::on_wire(self.what.reason, version);
        let data = self.data(miss_send_len);
        let total_len = u16::try_from(self.packet.len()).unwrap_or(u16::MAX);
        let mut b = Vec::with_capacity(64 + data.len());
        match format {
            2 => return self.encode_nx2(version, wire_reason, data),
            1 => {
                b.extend_from_slice(&NX_VENDOR.to_be_bytes());
                b.extend_from_slice(&NXT_PACKET_IN.to_be_bytes());
                b.extend_from_slice(&NO_BUFFER.to_be_bytes());
                b.extend_from_slice(&total_len.to_be_bytes());
                b.extend_from_slice(&[wire_reason, self.what.table_id]);
                b.extend_from_slice(&self.what.cookie.to_be_bytes());
                let len_at = b.len();
                b.extend_from_slice(&[0; 8]);
                let n = encode_entries(&self.metadata, 0, &mut b);
                b[len_at..len_at + 2].copy_from_slice(&(n as u16).to_be_bytes());
                b.resize(b.len().div_ceil(8) * 8, 0);
                b.extend_from_slice(&[0, 0]);
                b.extend_from_slice(data);
                return wire::message(version, ty::EXPERIMENTER, 0, &b);
            }
            _ => {}
        }
        b.extend_from_slice(&NO_BUFFER.to_be_bytes());
        match version {
            OFP10 => {
                b.extend_from_slice(&total_len.to_be_bytes());
                b.extend_from_slice(&self.in_port().to_be_bytes());
                b.extend_from_slice(&[wire_reason, 0]);
            }
            _ => {
                b.extend_from_slice(&total_len.to_be_bytes());
                b.extend_from_slice(&[wire_reason, self.what.table_id]);
                b.extend_from_slice(&self.what.cookie.to_be_bytes());
                encode_oxm_match(&self.metadata, version, &mut b);
                b.extend_from_slice(&[0, 0]);
            }
        }
        b.extend_from_slice(data);
        wire::message(version, ty::PACKET_IN, 0, &b)
    }

    fn encode_nx2(&self, version: u8, wire_reason: u8, data: &[u8]) -> Vec<u8> {
        let mut b = NX_VENDOR.to_be_bytes().to_vec();
        b.extend_from_slice(&NXT_PACKET_IN2.to_be_bytes());
        put_prop(&mut b, prop::PACKET, data);
        if data.len() < self.packet.len() {
            put_prop(&mut b, prop::FULL_LEN, &(self.packet.len() as u32).to_be_bytes());
        }
        put_prop(&mut b, prop::TABLE_ID, &[self.what.table_id]);
        // 64-bit values start 8 bytes into their property.
        let mut cookie = vec![0; 4];
        cookie.extend_from_slice(&self.what.cookie.to_be_bytes());
        put_prop(&mut b, prop::COOKIE, &cookie);
        put_prop(&mut b, prop::REASON, &[wire_reason]);
        let mut md = Vec::new();
        encode_entries(&self.metadata, 0, &mut md);
        put_prop(&mut b, prop::METADATA, &md);
        if !self.what.userdata.is_empty() {
            put_prop(&mut b, prop::USERDATA, &self.what.userdata);
        }
        wire::message(version, ty::EXPERIMENTER, 0, &b)
    }
}

/// Appends a property: type, length (without padding), value, padding to 8.
fn put_prop(b: &mut Vec<u8>, ty: u16, value: &[u8]) {
    let start = b.len();
    b.extend_from_slice(&ty.to_be_bytes());
    b.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
    b.extend_from_slice(value);
    b.resize(start + (4 + value.len()).div_ceil(8) * 8, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowmatch::Mff;
    use crate::wire::{OFP13, OFP15};

    fn pi(reason: u8, max_len: u16) -> PacketIn {
        PacketIn {
            what: ToController { reason, table_id: 3, cookie: 0x1234, controller_id: 0, max_len, userdata: vec![1, 2, 3] },
            packet: (0..200u8).collect(),
            metadata: Match::exact(&[(Mff::InPort, &[0, 7])]),
        }
    }

    #[test]
    fn each_version_s_layout() {
        let m = pi(1, NO_MAX_LEN).encode(OFP10, 0, 128);
        assert_eq!((m[1], m.len()), (ty::PACKET_IN, 18 + 200));
        assert_eq!(&m[8..18], &[0xff, 0xff, 0xff, 0xff, 0, 200, 0, 7, 1, 0]);
        let m = pi(1, 64).encode(OFP13, 0, 128);
        assert_eq!(&m[8..24], &[0xff, 0xff, 0xff, 0xff, 0, 200, 1, 3, 0, 0, 0, 0, 0, 0, 0x12, 0x34]);
        // An OXM match of in_port (4 + 8 bytes, padded to 16), 2 bytes of
        // padding, then 64 bytes of packet.
        assert_eq!(&m[24..28], &[0, 1, 0, 12]);
        assert_eq!(m.len(), 24 + 16 + 2 + 64);
        assert_eq!(&m[42..], &pi(1, 64).packet[..64]);
    }

    #[test]
    fn a_table_miss_flow_s_packet_is_no_match_from_1_3_on() {
        let reason_at = |m: &[u8], v: u8| if v == OFP10 { m[16] } else { m[14] };
        for (v, expect) in [(OFP10, 1), (OFP13, 0), (OFP15, 0)] {
            let m = pi(crate::xlate::reason::EXPLICIT_MISS, 64).encode(v, 0, 128);
            assert_eq!(reason_at(&m, v), expect, "version {v}");
        }
    }

    #[test]
    fn a_miss_sends_miss_send_len_bytes() {
        let m = pi(crate::xlate::reason::IMPLICIT_MISS, NO_MAX_LEN).encode(OFP15, 0, 128);
        assert_eq!(m.len(), 24 + 16 + 2 + 128);
    }

    #[test]
    fn packet_in2_properties_are_padded_to_eight() {
        let m = pi(1, NO_MAX_LEN).encode(OFP13, 2, 128);
        assert_eq!(m[1], ty::EXPERIMENTER);
        assert_eq!(&m[8..16], &[0, 0, 0x23, 0x20, 0, 0, 0, 30]);
        assert_eq!(&m[16..20], &[0, 0, 0, 204], "the packet property, 200 bytes");
        let mut at = 16;
        let mut types = Vec::new();
        while at < m.len() {
            let (t, len) = (u16::from_be_bytes([m[at], m[at + 1]]), usize::from(u16::from_be_bytes([m[at + 2], m[at + 3]])));
            types.push(t);
            at += len.div_ceil(8) * 8;
        }
        assert_eq!(at, m.len());
        assert_eq!(types, [prop::PACKET, prop::TABLE_ID, prop::COOKIE, prop::REASON, prop::METADATA, prop::USERDATA]);
    }
}
