//! The built-in OVN agent: chassis and encap registration, port binding, and
//! the translation of Southbound logical flows into ofproto flow tables.
//!
//! Written so far: the logical-flow language's [`lex`]er, its symbol
//! table ([`symtab`]) and its expression parser ([`expr`]). The rest of
//! the compiler, and the agent that runs it, are not written yet.

#![forbid(unsafe_code)]

pub mod actions;
pub mod expr;
pub mod lex;
pub mod symtab;
pub mod tool;
