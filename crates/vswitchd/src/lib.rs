//! The ferrovs daemon as a library: what the `ferrovs` binary runs
//! (`ferrovs vswitchd`, `ferrovs ctl`; `ferrovs bench` runs the
//! `ferrovs-bench` program of the `benches` crate), and the door for
//! controllers that live in the same process ([`inproc`]): the OVN agent,
//! and tests that drive a bridge without a socket.

// The daemon's modules document how they work in terms of its private
// parts; those links are for the people working on it.
#![allow(rustdoc::private_intra_doc_links)]

mod controller;
pub mod ctl;
pub mod daemon;
mod dpctl;
pub mod inproc;
pub mod lflow;
mod log;
mod ofconn;
mod ofmgmt;
mod pidfile;
mod signals;
mod stats;
mod tap;
mod unixctl;
