//! The built-in OVN agent: chassis and encap registration, port binding, and
//! the translation of Southbound logical flows into ofproto flow tables.
//!
//! Status: not written yet.

#![forbid(unsafe_code)]
