//! OpenFlow: the wire codec (1.0, 1.3, 1.5 and Nicira extensions), the flow
//! tables, controller connections, and the translation (xlate) of a packet
//! through the tables into a megaflow.
//!
//! Status (issue 5, begun): the message framing, HELLO and version
//! negotiation (1.0 and 1.3), and the switch-description and port-counter
//! exchanges that `ovs-ofctl show`, `dump-desc` and `dump-ports` use
//! ([`wire`], [`session`]), and the OXM match codec for the OpenFlow-basic
//! fields ([`oxm`]). Flow tables, flow/group/meter modifications, NXM and
//! the action codecs, 1.5, the Nicira extensions and controller
//! connections are not written yet; a message needing them is answered
//! with OpenFlow's BAD_TYPE (or BAD_STAT) error.

#![forbid(unsafe_code)]

pub mod oxm;
pub mod session;
pub mod wire;

pub use session::{Replies, Session, SessionEnd, SwitchView};
pub use wire::{Desc, PortCounters, PortDesc, PortReason};
