//! OpenFlow: the wire codec (1.0, 1.3, 1.5 and Nicira extensions), the flow
//! tables, controller connections, and the translation (xlate) of a packet
//! through the tables into a megaflow.
//!
//! Status: not written yet (issues 5 and 6).

#![forbid(unsafe_code)]
