//! The datapath interface: what OVS splits between `ofproto-dpif`,
//! `dpif-netdev` and `odp-util`, between the bridges' OpenFlow tables
//! ([`ofproto`]) and the threads that switch packets ([`pmd`]).
//!
//! - [`Xlator`] is the translator the PMD threads call on a cache miss:
//!   it dispatches the upcall to the bridge whose port the packet came
//!   in on, translates it through that bridge's published [`Pipeline`],
//!   queues packets for controllers, and tells the revalidators what
//!   each generation of the tables changed.
//! - [`BridgeDp`] is one bridge's side of it, the [`ofproto::Datapath`]
//!   its handle publishes through and waits on (the barrier), with
//!   `ofproto/trace` and PACKET_OUT.
//! - [`Datapath`] plans and runs the PMD threads: datapath port numbers,
//!   receive queues assigned to cores ([`rxq`]), transmit queues shared
//!   out.
//! - [`show`] writes the management views (`dpif-netdev/pmd-stats-show`,
//!   `pmd-rxq-show`, `dpctl/dump-flows`) in OVS's formats; the datapath's
//!   own text formats (megaflows, actions) sit beside the types they
//!   print, in [`dataplane::text`].
//!
//! The daemon owns none of this logic: it builds a [`Datapath`] and a
//! [`BridgeDp`] per bridge from the database, registers the commands,
//! and gives its log to [`set_log`].
//!
//! Datapath port numbers are the process's (OVS's `ovs-netdev` datapath
//! has one numbering for all bridges too): each DPDK interface gets one
//! when first opened and keeps it while it exists. Each bridge publishes
//! its tables, ports and NORMAL configuration as an immutable
//! [`Pipeline`]; the [`Xlator`] holds the current set and a generation
//! that moves whenever any of them, or a MAC table, changes. The PMD
//! threads' revalidators re-translate their megaflows when they see the
//! generation move and then acknowledge it; [`BridgeDp`]'s
//! [`ofproto::Datapath::synced`] waits for that, and a barrier waits on
//! it.
//!
//! PMD threads run on the cores of `other_config:pmd-cpu-mask`, one per
//! core that has a receive queue to poll. Each has its own megaflows and
//! caches. A change of ports, cores or assignment stops every thread and
//! starts them again (one pause of about a millisecond; their megaflows
//! start again from empty).
//!
//! [`Pipeline`]: ofproto::xlate::Pipeline

#![forbid(unsafe_code)]

mod bridge;
pub mod rxq;
pub mod show;
mod threads;
mod xlator;

pub use bridge::BridgeDp;
pub use threads::{Datapath, DpPort, Plan, Queues, RxqLoad};
pub use xlator::{PmdInfo, Xlator, PACKET_IN_QUEUE};

use std::sync::OnceLock;

/// How a message matters, for the log the daemon keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Worth knowing.
    Info,
    /// Something went wrong and was dealt with.
    Warn,
}

/// Where this crate's messages go.
pub type LogSink = fn(Level, &str);

static LOG: OnceLock<LogSink> = OnceLock::new();

/// Sends this crate's messages to `sink` (the daemon's log); until then
/// they go to standard error. The first call wins.
pub fn set_log(sink: LogSink) {
    let _ = LOG.set(sink);
}

fn log(level: Level, message: &str) {
    match LOG.get() {
        Some(sink) => sink(level, message),
        None => eprintln!("{level:?}: {message}"),
    }
}
