//! Throughput benchmarks of the whole switch, pktgen style, and the
//! side-by-side runs against peers (testpmd, OVS-DPDK, ovn-controller).
//!
//! A benchmark reports figures; it asserts nothing about them. Comparisons
//! are made in one invocation, alternating the contenders, because these
//! machines are noisy.

pub mod cli;
pub mod flows;

pub use ovs_peers::Vswitchd;
pub mod io;
pub mod lflow;
pub mod pcap;
pub mod pvp;
pub mod revalidate;
pub mod switch;
pub mod testpmd;
