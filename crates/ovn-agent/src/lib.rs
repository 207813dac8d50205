//! The built-in OVN agent: chassis and encap registration, port binding, and
//! the translation of Southbound logical flows into ofproto flow tables.
//!
//! Written so far: the logical-flow language's [`lex`]er. The rest of the
//! compiler, and the agent that runs it, are not written yet.

#![forbid(unsafe_code)]

pub mod lex;
pub mod tool;
