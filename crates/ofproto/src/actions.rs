//! OpenFlow actions and instructions, as Open vSwitch represents them
//! (its "ofpacts"), decoded from OpenFlow 1.0, 1.3 and 1.5 and Nicira
//! extension actions and encoded back for any of those versions.
//!
//! The representation keeps what OVS keeps so that the encoding for each
//! version is the one OVS writes: an action list added in OpenFlow 1.0
//! with `mod_dl_src` is listed in 1.3 as `set_field:…->eth_src`, a
//! `load:` stays a `load:` (NXAST_REG_LOAD) unless the version has only
//! Set-Field, and `goto_table` becomes `resubmit(,N)` in 1.0. Encoding
//! needs two facts from the rule's match, as OVS's action check records
//! them ([`Context`]).
//!
//! Decoding checks lengths, padding and arguments and answers with the
//! BAD_ACTION or BAD_INSTRUCTION code OVS gives. Not decoded yet (the
//! conntrack issue closes the gap with `ovs-actions(7)`):
//! `clone`, `multipath`, `bundle`, `sample`, `stack_push/pop`,
//! `fin_timeout`, `output_trunc`, `delete_field`, MPLS and NSH actions,
//! encap/decap and ONF's 1.3 `copy_field`; they are refused with
//! BAD_EXPERIMENTER_TYPE or BAD_TYPE, which is what a switch without them
//! says.

use crate::error::{BadAction, Nicira};
use crate::flowmatch::{self, be, field, full, put_be, Field, Mff};
use crate::wire::OfError;

/// The NORMAL reserved port (OVS's 16-bit numbering).
pub const OFPP_NORMAL: u16 = 0xfffa;

/// Nicira's vendor (experimenter) id.
pub const NX_VENDOR: u32 = 0x0000_2320;

/// Part of a field: `field[ofs..ofs+n_bits]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subfield {
    /// The field.
    pub field: Mff,
    /// First bit.
    pub ofs: u16,
    /// Number of bits.
    pub n_bits: u16,
}

/// One action or instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Output to a port (OVS's 16-bit numbering), `max_len` for the controller.
    Output {
        /// The port.
        port: u16,
        /// Bytes of the packet sent when the port is the controller.
        max_len: u16,
    },
    /// To the controller (NXAST_CONTROLLER, or NXAST_CONTROLLER2 with
    /// `userdata`, `pause` or a meter, or when it came as one: `v2`).
    Controller {
        /// Bytes of the packet sent.
        max_len: u16,
        /// The controller id (0: every controller without one).
        id: u16,
        /// The packet-in reason.
        reason: u8,
        /// Opaque bytes sent with the packet (NXT_PACKET_IN2).
        userdata: Vec<u8>,
        /// Whether translation pauses for the controller to resume it.
        pause: bool,
        /// A meter id the packet-ins go through (0: none).
        meter: u32,
        /// Encode as NXAST_CONTROLLER2.
        v2: bool,
    },
    /// Send through the connection tracker (NXAST_CT): flags (commit 1,
    /// force 2), the zone from a field or immediate, the table to continue
    /// in (255: none), the ALG port, and the nested actions of `exec(...)`.
    Ct {
        /// commit 1, force 2.
        flags: u16,
        /// The zone's field, when it is not immediate.
        zone_src: Option<Subfield>,
        /// The immediate zone.
        zone_imm: u16,
        /// The table to continue in (255: none).
        table: u8,
        /// The ALG's port (0: none).
        alg: u16,
        /// The nested actions of `exec(...)`.
        actions: Vec<Action>,
    },
    /// NAT inside `ct` (NXAST_NAT): flags, which range parts are present,
    /// and those parts in wire order.
    Nat {
        /// src 1, dst 2, persistent 4, hash 8, random 16.
        flags: u16,
        /// Which range parts are present.
        present: u16,
        /// Those parts, in wire order.
        range: Vec<u8>,
    },
    /// Set a bit to whether the packet is longer than `pkt_len`.
    CheckPktLarger {
        /// The length compared with.
        pkt_len: u16,
        /// The bit set.
        dst: Subfield,
    },
    /// Add or change a flow built from the packet (NXAST_LEARN, or
    /// NXAST_LEARN2 with a limit, a result bit, or when it came as one).
    Learn(Box<Learn>),
    /// Output through a queue (OpenFlow 1.0).
    Enqueue {
        /// The port.
        port: u16,
        /// The queue.
        queue: u32,
    },
    /// Set the VLAN id; `push` adds a tag when there is none (1.0 semantics).
    SetVlanVid {
        /// The VLAN id.
        vid: u16,
        /// Whether a tag is pushed when there is none.
        push: bool,
    },
    /// Set the VLAN priority; `push` as for the id.
    SetVlanPcp {
        /// The priority.
        pcp: u8,
        /// Whether a tag is pushed when there is none.
        push: bool,
    },
    /// Remove the VLAN tag; `of10` if it came as 1.0's STRIP_VLAN.
    StripVlan {
        /// It came as 1.0's STRIP_VLAN.
        of10: bool,
    },
    /// Push a VLAN tag.
    PushVlan {
        /// The tag's TPID.
        ethertype: u16,
    },
    /// Set the Ethernet source.
    SetEthSrc([u8; 6]),
    /// Set the Ethernet destination.
    SetEthDst([u8; 6]),
    /// Set the IPv4 source.
    SetIpv4Src(u32),
    /// Set the IPv4 destination.
    SetIpv4Dst(u32),
    /// Set the DSCP (the TOS byte with the ECN bits zero).
    SetIpDscp(u8),
    /// Set the ECN bits.
    SetIpEcn(u8),
    /// Set the TTL.
    SetIpTtl(u8),
    /// Set the transport source port.
    SetL4Src(u16),
    /// Set the transport destination port.
    SetL4Dst(u16),
    /// Decrement the TTL; `ids` are the controllers told on expiry.
    DecTtl {
        /// The controllers told on expiry.
        ids: Vec<u16>,
        /// It came as NXAST_DEC_TTL_CNT_IDS.
        cnt_ids: bool,
    },
    /// Set bits of a field; `reg_load` if it came as Nicira's load
    /// (NXAST_REG_LOAD, or NXAST_REG_LOAD2, which is what a load of a
    /// variable-length or experimenter field is written as).
    SetField {
        /// The field.
        field: Mff,
        /// The value, in the field's bits.
        value: u128,
        /// The bits set.
        mask: u128,
        /// It came as Nicira's load.
        reg_load: bool,
    },
    /// Copy bits between fields.
    RegMove {
        /// Copied from.
        src: Subfield,
        /// Copied to.
        dst: Subfield,
    },
    /// Run actions on a copy of the packet (NXAST_CLONE): what they change
    /// is not seen by the actions after.
    Clone(Vec<Action>),
    /// Push bits of a field onto the translation's stack (NXAST_STACK_PUSH).
    StackPush(Subfield),
    /// Pop the stack's top into bits of a field (NXAST_STACK_POP).
    StackPop(Subfield),
    /// Output to the port in a field.
    OutputReg {
        /// The field holding the port.
        src: Subfield,
        /// Bytes sent when the port is the controller.
        max_len: u16,
    },
    /// Look up again in `table` (0xff: this table) as if from `in_port`.
    Resubmit {
        /// The input port of the lookup.
        in_port: u16,
        /// The table (0xff: this table).
        table: u8,
        /// It came as NXAST_RESUBMIT_TABLE.
        with_table: bool,
    },
    /// Set the tunnel id; `wide` if it came as SET_TUNNEL64.
    SetTunnel {
        /// The tunnel id.
        id: u64,
        /// It came as SET_TUNNEL64.
        wide: bool,
    },
    /// Set the output queue.
    SetQueue(u32),
    /// Restore the queue.
    PopQueue,
    /// An opaque note.
    Note(Vec<u8>),
    /// Sample the packet to an IPFIX collector set (NXAST_SAMPLE, and
    /// SAMPLE2/SAMPLE3 with a sampling port or a direction).
    Sample(Sample),
    /// Apply a group.
    Group(u32),
    /// Apply a meter.
    Meter(u32),
    /// Continue in a later table.
    GotoTable(u8),
    /// Write the metadata under a mask.
    WriteMetadata {
        /// The value.
        value: u64,
        /// The bits written.
        mask: u64,
    },
    /// Clear the action set.
    ClearActions,
    /// Merge actions into the action set.
    WriteActions(Vec<Action>),
    /// Clear the connection-tracking state.
    CtClear,
    /// Stop processing.
    Exit,
    /// A conjunctive-match clause.
    Conjunction {
        /// The conjunction's id.
        id: u32,
        /// This clause's number (0-based).
        clause: u8,
        /// How many clauses the conjunction has.
        n_clauses: u8,
    },
}

/// The `learn` action's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Learn {
    /// Idle timeout of the learned flow.
    pub idle_timeout: u16,
    /// Hard timeout.
    pub hard_timeout: u16,
    /// Priority.
    pub priority: u16,
    /// Cookie.
    pub cookie: u64,
    /// Flags: send_flow_rem 1, delete_learned 2, write_result 4.
    pub flags: u16,
    /// Table.
    pub table: u8,
    /// Idle timeout after a FIN.
    pub fin_idle_timeout: u16,
    /// Hard timeout after a FIN.
    pub fin_hard_timeout: u16,
    /// Most flows to learn (learn2; 0: unlimited).
    pub limit: u32,
    /// Where learn2 writes whether it learned.
    pub result_dst: Option<Subfield>,
    /// Encode as NXAST_LEARN2.
    pub v2: bool,
    /// The flow's specification.
    pub specs: Vec<LearnSpec>,
}

/// What `sample` sends to an IPFIX collector set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sample {
    /// Packets sampled out of 65535.
    pub probability: u16,
    /// The collector set.
    pub collector_set_id: u32,
    /// The observation domain.
    pub obs_domain_id: u32,
    /// The observation point.
    pub obs_point_id: u32,
    /// The port whose traffic this is (`OFPP_NONE`, 0xffff: none).
    pub sampling_port: u16,
    /// Ingress 1, egress 2, or 0: as the bridge's configuration says.
    pub direction: u8,
}

/// One part of a learned flow: `n_bits` from a field or an immediate value,
/// matched, loaded, or output to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LearnSpec {
    /// Bits.
    pub n_bits: u16,
    /// Source: a subfield, or immediate bytes (`ceil(n_bits / 8)` of them).
    pub src: Result<Subfield, Vec<u8>>,
    /// Destination kind: match 0, load 1, output 2 (OVS's `NX_LEARN_DST_*`
    /// shifted down).
    pub dst_type: u16,
    /// Destination subfield (match and load).
    pub dst: Option<Subfield>,
}

/// What encoding needs to know of the rule's match (OVS records it when
/// it checks the actions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// The match requires a VLAN tag.
    pub flow_has_vlan: bool,
    /// The IP protocol the match requires, if any.
    pub ip_proto: Option<u8>,
    /// Each `tun_metadata` field's length in bytes, from the TLV table.
    pub tun_md_len: [u8; 64],
}

impl Default for Context {
    fn default() -> Self {
        Context { flow_has_vlan: false, ip_proto: None, tun_md_len: [0; 64] }
    }
}

impl Context {
    /// The context of a match.
    pub fn of(m: &flowmatch::Match) -> Context {
        use flowmatch::slot;
        let ip = matches!(m.slot_value(slot::DL_TYPE), 0x0800 | 0x86dd) && m.slot_mask(slot::DL_TYPE) != 0;
        Context {
            flow_has_vlan: m.slot_value(slot::VLAN_TCI) & 0x1000 != 0,
            ip_proto: (ip && m.slot_mask(slot::NW_PROTO) != 0).then(|| m.slot_value(slot::NW_PROTO) as u8),
            tun_md_len: [0; 64],
        }
    }

    /// With the TLV table's lengths.
    pub fn with_tlv(mut self, tlv: &flowmatch::TlvMap) -> Context {
        for (&i, &(_, _, len)) in &tlv.maps {
            if let Some(l) = self.tun_md_len.get_mut(usize::from(i)) {
                *l = len;
            }
        }
        self
    }

    /// The mask of all of `f` (for a tunnel-metadata field, of its mapped
    /// length, up to 128 bits).
    fn whole(&self, f: &Field) -> u128 {
        match f.id {
            Mff::TunMetadata(i) => full(self.tun_md_len.get(usize::from(i)).copied().unwrap_or(0)),
            _ => full(f.bytes),
        }
    }
}

mod decode;
mod encode;

pub use decode::*;
pub use encode::*;

/// Whether a rule with these actions is a conjunctive clause (it takes
/// part in conjunctive matches only, never in ordinary lookups).
pub fn is_conjunctive(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::Conjunction { .. }))
}

/// The ports an action list outputs to (for `out_port` filters).
pub fn outputs_to(actions: &[Action], port: u16) -> bool {
    actions.iter().any(|a| match a {
        Action::Output { port: p, .. } | Action::Enqueue { port: p, .. } => *p == port,
        Action::Controller { .. } => port == 0xfffd,
        Action::WriteActions(inner) => outputs_to(inner, port),
        _ => false,
    })
}

/// Whether an action list touches a `tun_metadata` field.
pub fn uses_tun_metadata(actions: &[Action]) -> bool {
    let tun = |f: Mff| matches!(f, Mff::TunMetadata(_));
    actions.iter().any(|a| match a {
        Action::SetField { field, .. } => tun(*field),
        Action::RegMove { src, dst } => tun(src.field) || tun(dst.field),
        Action::OutputReg { src, .. } | Action::StackPush(src) | Action::StackPop(src) => tun(src.field),
        Action::Ct { actions, .. } | Action::WriteActions(actions) | Action::Clone(actions) => uses_tun_metadata(actions),
        _ => false,
    })
}

/// Checks `tun_metadata` fields in actions against the TLV table (OVS's
/// INVALID_TLV_FIELD for an unmapped one, BAD_SET_LEN past its length),
/// and narrows a whole-field set to the mapped length.
pub fn fit_tun_metadata(actions: &mut [Action], tlv: &flowmatch::TlvMap) -> Result<(), OfError> {
    let width = |f: Mff| -> Result<Option<u32>, OfError> {
        match f {
            Mff::TunMetadata(i) => {
                tlv.maps.get(&i).map(|&(_, _, len)| Some(u32::from(len) * 8)).ok_or(OfError::Nicira(Nicira::InvalidTlvField))
            }
            _ => Ok(None),
        }
    };
    let fits = |sf: &Subfield| -> Result<(), OfError> {
        match width(sf.field)? {
            Some(bits) if u32::from(sf.ofs) + u32::from(sf.n_bits) > bits => Err(OfError::BadAction(BadAction::BadSetLen)),
            _ => Ok(()),
        }
    };
    for a in actions {
        match a {
            Action::SetField { field, value, mask, .. } => {
                if let Some(bits) = width(*field)? {
                    let all = if bits >= 128 { u128::MAX } else { (1u128 << bits) - 1 };
                    if bits > 128 || *value & !all != 0 || (*mask != u128::MAX && *mask & !all != 0) {
                        return Err(OfError::BadAction(BadAction::BadSetLen));
                    }
                    *mask &= all;
                }
            }
            Action::RegMove { src, dst } => {
                fits(src)?;
                fits(dst)?;
            }
            Action::OutputReg { src, .. } | Action::StackPush(src) | Action::StackPop(src) => fits(src)?,
            Action::Ct { actions, .. } | Action::WriteActions(actions) | Action::Clone(actions) => fit_tun_metadata(actions, tlv)?,
            _ => {}
        }
    }
    Ok(())
}

/// Whether an action list uses a group (for `out_group` filters).
pub fn uses_group(actions: &[Action], group: u32) -> bool {
    uses(actions, &|a| matches!(a, Action::Group(g) if *g == group))
}

/// Whether `actions` use meter `meter`.
pub fn uses_meter(actions: &[Action], meter: u32) -> bool {
    uses(actions, &|a| matches!(a, Action::Meter(m) if *m == meter))
}

/// Whether an action of `actions`, or of the action set they write, is one
/// `this` picks.
fn uses(actions: &[Action], this: &impl Fn(&Action) -> bool) -> bool {
    actions.iter().any(|a| this(a) || matches!(a, Action::WriteActions(inner) if uses(inner, this)))
}

#[cfg(test)]
mod tests;
