//! The DPDK side of ferrovs: the environment abstraction layer (EAL),
//! mempools, mbufs, ethdev ports, and the pinned poll-mode (PMD) threads that
//! move packet bursts between them.
//!
//! Every call into DPDK goes through a safe wrapper here; each `unsafe` block
//! says which invariants make it sound.
//!
//! # Ownership
//!
//! - [`Eal`] is a cheap handle to the process's one EAL; EAL is cleaned up
//!   when the last handle (held by mempools and ports) is dropped.
//! - A [`Mempool`] is shared (`Arc`) by the ports whose rx queues fill from
//!   it, so it outlives them; a pool dropped with buffers still out is leaked
//!   rather than freed under them.
//! - A [`Port`] is the control handle of an ethdev port. Its [`RxQueue`]s and
//!   [`TxQueue`]s are handed out once at start, are `Send` but not `Sync`, and
//!   keep the port open: DPDK allows one thread per queue, and the types
//!   enforce it.
//! - An [`Mbuf`] or a [`Burst`] owns its buffers: each is either handed to a
//!   tx queue or freed when dropped, never both.
//!
//! # Threads
//!
//! [`PmdThread`]s are pinned with `core_affinity` to one core each and
//! registered with EAL (so mempool per-lcore caches work). They never block,
//! lock, allocate or log while polling; the control thread reads their
//! [`PmdStats`] through relaxed atomics.

mod cpumask;
mod eal;
mod mbuf;
mod mempool;
mod port;
mod revalidator;
mod switch;
mod thread;
mod translate;
pub mod vhost;

pub use cpumask::{CpuMask, CpuMaskError};
pub use eal::{Eal, EalError};
pub use mbuf::{Burst, Mbuf, BURST_SIZE};
pub use mempool::{Mempool, MempoolConfig, MempoolError};
pub use port::{LinkState, Port, PortConfig, PortError, PortStats, RxQueue, TxQueue, WeakPort};
pub use switch::{PolledQueues, SwitchConfig, SwitchHandle, Switching};
pub use thread::{IoForward, PmdError, PmdStats, PmdStatsSnapshot, PmdThread, TxBuffer, Work};
pub use translate::{Translate, Translation};
