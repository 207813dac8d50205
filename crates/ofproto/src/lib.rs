//! OpenFlow: the wire codec (1.0, 1.3, 1.5 and Nicira extensions), the flow
//! tables, controller connections, and the translation (xlate) of a packet
//! through the tables into a megaflow.
//!
//! Status (issue 5, in progress):
//! - [`wire`], [`session`]: framing, HELLO and version negotiation (1.0,
//!   1.3, 1.5), ECHO, FEATURES, GET/SET_CONFIG, BARRIER, the DESC, PORT,
//!   PORT_DESC, TABLE and TABLE_FEATURES statistics, the Nicira
//!   flow-format and table-id settings.
//! - [`flowmatch`]: the match as OVS stores it, NXM and OXM codecs with
//!   OVS's checks, OpenFlow 1.0's fixed match.
//! - [`actions`]: the actions and instructions listed in its docs, for
//!   1.0, 1.3 and 1.5 and the Nicira extensions.
//! - [`table`], [`flowmod`]: 255 flow tables with OVS's add, modify and
//!   delete semantics (strict and loose, cookies, overlap, counters),
//!   all-or-nothing batches, flow and aggregate statistics.
//!
//! Not written yet: groups and meters, bundles, PACKET_OUT, PORT_MOD,
//! FLOW_REMOVED, roles and async configuration, controller connections,
//! the TLV table and `tun_metadata`, `ct`/`learn`/`controller2` and the
//! other actions listed in [`actions`]; a message needing them is answered
//! with the OpenFlow error a switch without them gives.

#![forbid(unsafe_code)]

pub mod actions;
pub mod flowmatch;
pub mod flowmod;
pub mod group;
pub mod oxm;
pub mod session;
pub mod table;
pub mod wire;

pub use session::{Replies, Session, SessionEnd, SwitchView};
pub use wire::{Desc, PortCounters, PortDesc, PortReason};
