//! OpenFlow: the wire codec (1.0, 1.3, 1.5 and Nicira extensions), the flow
//! tables, controller connections, and the translation (xlate) of a packet
//! through the tables into a megaflow.
//!
//! Status:
//! - [`wire`], [`session`]: framing, HELLO and version negotiation (1.0,
//!   1.3, 1.4, 1.5, limited by `Bridge.protocols`), ECHO, FEATURES,
//!   GET/SET_CONFIG, BARRIER, roles (ROLE_REQUEST and Nicira's), the
//!   asynchronous configuration, bundles, the Nicira flow-format, table-id,
//!   packet-in-format and controller-id settings; the DESC, PORT,
//!   PORT_DESC, TABLE, TABLE_FEATURES, FLOW, AGGREGATE, GROUP_DESC,
//!   METER_CONFIG and METER_FEATURES statistics; FLOW_REMOVED and
//!   PORT_STATUS as each connection's configuration wants them.
//! - [`flowmatch`]: the match as OVS stores it, NXM and OXM codecs with
//!   OVS's checks, OpenFlow 1.0's fixed match.
//! - [`actions`]: actions and instructions (output, controller with
//!   properties, enqueue, VLAN, set-field/load/move, the 1.0 set actions,
//!   dec_ttl, resubmit, goto_table, write/clear actions, write_metadata,
//!   group, meter, ct and nat, ct_clear, conjunction, learn,
//!   check_pkt_larger, note, exit, output:reg, tunnel ids, queues) for
//!   1.0, 1.3, 1.4 and 1.5 and the Nicira extensions.
//! - [`table`], [`flowmod`]: 255 flow tables with OVS's add, modify and
//!   delete semantics (strict and loose, cookies, overlap, counters,
//!   timeouts), all-or-nothing batches, flow and aggregate statistics.
//! - [`group`]: groups (1.1 and 1.5 layouts, `selection_method`) and meters.
//! - [`classifier`]: tuple space search with staged lookup over a table's
//!   rules, reporting the bits a lookup examined (property-tested against
//!   a priority scan and for the soundness megaflows need), kept by each
//!   table as rules come and go, with prefix tracking of addresses and
//!   ports.
//! - [`xlate`]: a packet's key through a snapshot of the tables into
//!   datapath actions and the mask of what the walk examined (the
//!   megaflow); PACKET_OUT's actions through the same walk.
//! - [`normal`]: the NORMAL action's MAC learning switch with VLANs.
//! - [`packet_in`]: packets for controllers in each version's PACKET_IN,
//!   NXT_PACKET_IN and NXT_PACKET_IN2.
//! - [`text`]: matches and actions in `ovs-ofctl`'s text (`ofproto/trace`).
//!
//! Also written: PORT_MOD, the TLV table and `tun_metadata` (matches and
//! actions), group and meter statistics.
//!
//! Not written yet: NXT_RESUME (and so `controller(pause)`), queue
//! statistics, ROLE_STATUS, the actions listed in [`actions`], and in the
//! translation the ones [`xlate`] lists; a message needing them is
//! answered with the OpenFlow error a switch without them gives.

#![forbid(unsafe_code)]

pub mod actions;
pub mod actions_format;
pub mod bridge;
pub mod changes;
pub mod classifier;
pub mod error;
pub mod flowmatch;
pub mod flowmod;
pub mod group;
pub mod match_format;
pub mod normal;
pub mod packet_in;
pub mod port;
pub mod roles;
pub mod session;
pub mod table;
pub mod text;
pub mod wire;
pub mod xlate;

pub use bridge::{Bridge, Datapath};
pub use session::{Replies, Session, SessionEnd, SwitchView};
pub use wire::{Desc, PortCounters, PortDesc, PortReason};
