//! The packet path without DPDK: flow key extraction, the microflow cache,
//! the megaflow classifier and datapath actions, working on plain byte
//! buffers so that they can be tested, benchmarked and fuzzed anywhere.
//!
//! A PMD thread uses it per burst (DESIGN.md, steps 2–4 and 6):
//!
//! 1. [`extract_into`] turns each packet's bytes and [`PacketMeta`] into a
//!    sparse [`MiniKey`], and [`MiniKey::hash`] hashes it (or the NIC's RSS
//!    hash is used);
//! 2. [`MicroflowCache::lookup`] finds the megaflow of a key seen before
//!    (for plain Ethernet/IPv4/TCP-UDP packets, a cache keyed on their
//!    [`HeaderKey`] comes first and spares step 1 on a hit);
//! 3. [`Classifier::lookup_batch`] searches the megaflows of the rest;
//!    hits are offered to the microflow cache ([`MicroflowCache::offer`]);
//! 4. misses go to translation (the `ofproto` crate), whose result is
//!    installed with [`Classifier::insert`];
//! 5. [`execute`] runs a megaflow's [`Action`]s on the packet through a
//!    [`Datapath`] (ports, slow path, recirculation).
//!
//! The crate forbids `unsafe` except in two fenced lines: the CRC32-C
//! instruction in [`hash`] and the prefetch instruction in [`prefetch`]
//! (see their docs for the measurements).

#![deny(unsafe_code)]

pub mod actions;
pub mod checksum;
pub mod classifier;
pub mod extract;
pub mod hash;
pub mod headerkey;
pub mod key;
pub mod megaflow;
pub mod meter;
pub mod microflow;
pub mod packet;
pub mod prefetch;
pub mod text;
pub mod tunnel;
pub mod wire;

pub use actions::{execute, Action, Datapath, DropReason, PacketBuf, SetField};
pub use classifier::{Classifier, BATCH};
pub use extract::{extract, extract_into, extract_to, set_vlan_limit, vlan_limit, vlan_limit_for, Depth, Malformed, MalformedCounters};
pub use headerkey::HeaderKey;
pub use key::{Field, FieldAccess, FlowKey, FlowMask, MiniKey, PacketMeta, KEY_WORDS};
pub use megaflow::{clock_ms, epoch, Credit, Credits, Megaflow, StatsSnapshot};
pub use meter::Meter;
pub use microflow::MicroflowCache;
pub use tunnel::{TunnelHeader, TunnelKind, TunnelSpec};

#[cfg(test)]
mod testpkt;
