//! OpenFlow's reserved ports, in OVS's 16-bit numbering.

/// The largest ordinary port number.
pub const MAX: u16 = 0xff00;
/// The packet's input port.
pub const IN_PORT: u16 = 0xfff8;
/// Submit to the tables (PACKET_OUT only).
pub const TABLE: u16 = 0xfff9;
/// The L2 learning switch.
pub const NORMAL: u16 = crate::actions::OFPP_NORMAL;
/// Every port but the input port and those with `no_flood`.
pub const FLOOD: u16 = 0xfffb;
/// Every port but the input port.
pub const ALL: u16 = 0xfffc;
/// The controllers.
pub const CONTROLLER: u16 = 0xfffd;
/// The bridge's local port.
pub const LOCAL: u16 = 0xfffe;
/// No port.
pub const NONE: u16 = 0xffff;
