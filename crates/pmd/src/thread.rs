//! Poll-mode threads: one per core, pinned, registered with EAL, polling
//! their rx queues in a loop until told to stop.
//!
//! # The loop
//!
//! Each iteration polls every assigned rx queue once (one burst of up to
//! [`BURST_SIZE`](crate::BURST_SIZE)), hands what it received to the tx
//! buffer of the queue's output, then flushes every tx buffer that holds
//! packets. A tx buffer sends as soon as it holds a full burst, so packets
//! wait at most until the end of the iteration that received them. What a
//! device refuses to take is freed and counted as dropped.
//!
//! The iteration is timed with the TSC: its cycles count as busy when it
//! received a packet and as idle otherwise, as OVS's `pmd-stats-show` does.
//!
//! # What the thread never does
//!
//! It does not lock, allocate, block or log inside the loop. Its counters
//! are plain locals published to [`PmdStats`] with relaxed stores once per
//! iteration (single writer); the control thread reads them at any time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use crate::eal::{last_error, rdtsc, Eal};
use crate::mbuf::Burst;
use crate::port::{RxQueue, TxQueue};

/// An error starting a PMD thread.
#[derive(Debug, thiserror::Error)]
pub enum PmdError {
    /// The core does not exist for this process.
    #[error("cannot pin a PMD thread to core {core}: usable cores are {usable}")]
    NoSuchCore {
        /// The core asked for.
        core: usize,
        /// The cores that exist for this process.
        usable: String,
    },
    /// Setting the thread's affinity failed.
    #[error("could not pin the PMD thread to core {0}")]
    Pin(usize),
    /// EAL would not register the thread (no free lcore id).
    #[error("could not register the PMD thread on core {core} with EAL: {message}")]
    Register {
        /// The core.
        core: usize,
        /// DPDK's reason.
        message: String,
    },
    /// The OS would not start a thread.
    #[error("could not start a PMD thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// The thread ended before saying it was ready.
    #[error("the PMD thread on core {0} ended while starting")]
    Died(usize),
}

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// A PMD thread's counters. Once the thread has stopped and flushed,
        /// every packet is accounted for once: `rx + injected = tx +
        /// dropped + action_drops + xlate_error_drops + lost + slow_path`
        /// (in between, packets wait in tx buffers).
        #[derive(Debug, Default)]
        #[repr(align(64))]
        pub struct PmdStats {
            $($name: AtomicU64,)*
            /// The longest iteration since the last reset, in TSC cycles.
            longest: AtomicU64,
            /// TSC cycles per second.
            tsc_hz: AtomicU64,
        }

        /// A copy of [`PmdStats`] at one moment.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct PmdStatsSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl PmdStats {
            /// Reads every counter.
            pub fn snapshot(&self) -> PmdStatsSnapshot {
                PmdStatsSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }

            fn publish(&self, s: &PmdStatsSnapshot) {
                $(self.$name.store(s.$name, Ordering::Relaxed);)*
            }
        }

        impl PmdStatsSnapshot {
            /// The counters gained since `earlier`.
            pub fn since(&self, earlier: &Self) -> Self {
                Self { $($name: self.$name.wrapping_sub(earlier.$name),)* }
            }
        }
    };
}

counters! {
    /// Packets received.
    rx,
    /// Packets the devices accepted for sending.
    tx,
    /// Packets freed because a device refused them or the port has gone.
    dropped,
    /// TSC cycles of iterations that received packets.
    busy_cycles,
    /// TSC cycles of iterations that received nothing.
    idle_cycles,
    /// Loop iterations.
    iterations,
    /// Packets whose megaflow the microflow cache gave.
    emc_hits,
    /// Packets whose megaflow the megaflow classifier gave.
    megaflow_hits,
    /// Packets translated (misses with a successful upcall).
    upcalls,
    /// Misses dropped instead of translated: over the upcall budget.
    /// Received packets are each counted once in `emc_hits`,
    /// `megaflow_hits`, `upcalls` or `lost`.
    lost,
    /// Packets handed to the slow path (controllers).
    slow_path,
    /// Packets for the slow path dropped because its queue was full.
    slow_path_drops,
    /// Packets the actions dropped (a drop, an expired TTL, no buffer).
    action_drops,
    /// Packets dropped because their translation failed (actions the
    /// datapath cannot carry out yet, such as conntrack; a resubmit loop).
    xlate_error_drops,
    /// Packets whose headers did not parse whole (switched on what did).
    malformed,
    /// Packets the control thread handed in (PACKET_OUT).
    injected,
}

impl PmdStats {
    /// The longest iteration of the loop since [`PmdStats::reset_longest`]
    /// (or the start): the longest a received packet may have waited for
    /// the thread.
    pub fn longest_iteration(&self) -> std::time::Duration {
        let (cycles, hz) = (self.longest.load(Ordering::Relaxed), self.tsc_hz.load(Ordering::Relaxed).max(1));
        std::time::Duration::from_nanos((u128::from(cycles) * 1_000_000_000 / u128::from(hz)) as u64)
    }

    /// Starts measuring the longest iteration again.
    pub fn reset_longest(&self) {
        self.longest.store(0, Ordering::Relaxed);
    }
}

impl PmdStatsSnapshot {
    /// Busy cycles per packet received (as testpmd's `--record-core-cycles`
    /// counts them); 0 with no packet.
    pub fn cycles_per_packet(&self) -> f64 {
        if self.rx == 0 {
            return 0.0;
        }
        self.busy_cycles as f64 / self.rx as f64
    }
}

/// Packets waiting for one tx queue.
#[derive(Debug)]
pub struct TxBuffer {
    queue: TxQueue,
    pending: Burst,
}

impl TxBuffer {
    /// An empty buffer in front of `queue`.
    pub fn new(queue: TxQueue) -> Self {
        Self { queue, pending: Burst::new() }
    }

    /// Takes every packet of `burst`, sending whenever a full burst is
    /// pending. Adds what was sent and dropped to the counters.
    #[inline]
    pub(crate) fn push(&mut self, burst: &mut Burst, stats: &mut PmdStatsSnapshot) {
        if self.pending.is_empty() && burst.is_full() {
            // A full burst with nothing queued ahead of it: send it as it
            // is, without copying it into the buffer first.
            Self::send(&mut self.queue, burst, stats);
            return;
        }
        while !burst.is_empty() {
            self.pending.append(burst);
            if self.pending.is_full() {
                self.flush(stats);
            }
        }
    }

    /// The queue (what is still pending is freed).
    pub fn into_queue(self) -> TxQueue {
        self.queue
    }

    /// Takes one packet, sending when a full burst is pending.
    #[inline(always)]
    pub(crate) fn push_one(&mut self, packet: crate::mbuf::Mbuf, stats: &mut PmdStatsSnapshot) {
        if let Err(packet) = self.pending.push(packet) {
            self.flush(stats);
            // The burst was just emptied, so this push succeeds; were it
            // refused, dropping the packet frees it.
            let _ = self.pending.push(packet);
        }
        if self.pending.is_full() {
            self.flush(stats);
        }
    }

    /// Sends what is pending; frees and counts what the device refused.
    #[inline]
    pub(crate) fn flush(&mut self, stats: &mut PmdStatsSnapshot) {
        if !self.pending.is_empty() {
            Self::send(&mut self.queue, &mut self.pending, stats);
        }
    }

    /// Sends `burst` on `queue`, freeing and counting what is refused.
    #[inline]
    fn send(queue: &mut TxQueue, burst: &mut Burst, stats: &mut PmdStatsSnapshot) {
        stats.tx += queue.tx(burst) as u64;
        stats.dropped += burst.len() as u64;
        burst.clear();
    }
}

/// Input/output forwarding, testpmd's `io` mode: every packet received on
/// an rx queue goes unchanged to that queue's output tx buffer.
#[derive(Debug, Default)]
pub struct IoForward {
    rxqs: Vec<(RxQueue, usize)>,
    txs: Vec<TxBuffer>,
}

impl IoForward {
    /// Nothing to poll yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tx queue; returns its index for [`poll`](IoForward::poll).
    pub fn output(&mut self, queue: TxQueue) -> usize {
        self.txs.push(TxBuffer::new(queue));
        self.txs.len() - 1
    }

    /// Polls `rxq`, sending what it receives to output `out`.
    ///
    /// # Panics
    ///
    /// When `out` is not an index returned by [`output`](IoForward::output)
    /// (a programming error caught before the thread starts).
    pub fn poll(&mut self, rxq: RxQueue, out: usize) {
        assert!(out < self.txs.len(), "output {out} was never added");
        self.rxqs.push((rxq, out));
    }
}

/// What a PMD thread does in each iteration of its loop.
pub trait Work: Send + 'static {
    /// One loop iteration; returns the packets received. `burst` is an
    /// empty burst to receive into (left empty).
    fn iterate(&mut self, burst: &mut Burst, stats: &mut PmdStatsSnapshot) -> usize;
}

impl Work for IoForward {
    #[inline]
    fn iterate(&mut self, burst: &mut Burst, stats: &mut PmdStatsSnapshot) -> usize {
        let mut received = 0;
        for (rxq, out) in &mut self.rxqs {
            let n = rxq.rx(burst);
            if n == 0 {
                continue;
            }
            received += n;
            // In range: checked in `poll`, and `txs` never shrinks.
            self.txs[*out].push(burst, stats);
        }
        for tx in &mut self.txs {
            tx.flush(stats);
        }
        received
    }
}

/// A running PMD thread. Dropping it stops it.
#[derive(Debug)]
pub struct PmdThread<W: Work = IoForward> {
    core: usize,
    stats: Arc<PmdStats>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<W>>,
}

impl<W: Work> PmdThread<W> {
    /// Starts a thread pinned to `core` that forwards as `work` says.
    /// Returns once the thread is pinned and registered with EAL.
    pub fn spawn(eal: &Eal, core: usize, work: W) -> Result<Self, PmdError> {
        let usable = crate::CpuMask::usable_cores();
        if !usable.contains(&core) {
            return Err(PmdError::NoSuchCore { core, usable: crate::cpumask::list(&usable) });
        }
        let core_id = core_affinity::CoreId { id: core };
        let stats = Arc::new(PmdStats::default());
        stats.tsc_hz.store(eal.tsc_hz(), Ordering::Relaxed);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let handle = {
            let (stats, stop) = (stats.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("pmd-c{core:02}"))
                .spawn(move || {
                    if !core_affinity::set_for_current(core_id) {
                        let _ = ready_tx.send(Err(PmdError::Pin(core)));
                        return work;
                    }
                    // SAFETY: called once from this new, unregistered thread;
                    // EAL is initialised (the caller holds an Eal).
                    if unsafe { ffi::rte_thread_register() } != 0 {
                        let _ = ready_tx.send(Err(PmdError::Register { core, message: last_error() }));
                        return work;
                    }
                    let _ = ready_tx.send(Ok(()));
                    let work = run(work, &stats, &stop);
                    // SAFETY: this thread registered above and is done with
                    // every per-lcore resource (its loop has ended).
                    unsafe { ffi::rte_thread_unregister() };
                    work
                })
                .map_err(PmdError::Spawn)?
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self { core, stats, stop, handle: Some(handle) }),
            Ok(Err(err)) => {
                let _ = handle.join();
                Err(err)
            }
            Err(_) => {
                let _ = handle.join();
                Err(PmdError::Died(core))
            }
        }
    }

    /// The core the thread is pinned to.
    pub fn core(&self) -> usize {
        self.core
    }

    /// The thread's live counters, for readers on other threads.
    pub fn stats_handle(&self) -> Arc<PmdStats> {
        Arc::clone(&self.stats)
    }

    /// The thread's counters.
    pub fn stats(&self) -> PmdStatsSnapshot {
        self.stats.snapshot()
    }

    /// Stops the thread after its current iteration (all tx buffers
    /// flushed) and gives back its queues and its final counters, in which
    /// `rx == tx + dropped`. `None` if the thread had panicked.
    pub fn stop(mut self) -> Option<(W, PmdStatsSnapshot)> {
        let work = self.halt()?;
        Some((work, self.stats.snapshot()))
    }

    fn halt(&mut self) -> Option<W> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().and_then(|h| h.join().ok())
    }
}

impl<W: Work> Drop for PmdThread<W> {
    fn drop(&mut self) {
        self.halt();
    }
}

fn run<W: Work>(mut work: W, shared: &PmdStats, stop: &AtomicBool) -> W {
    let mut stats = PmdStatsSnapshot::default();
    let mut burst = Burst::new();
    let mut start = rdtsc();
    while !stop.load(Ordering::Relaxed) {
        let received = work.iterate(&mut burst, &mut stats);
        let end = rdtsc();
        let cycles = end.wrapping_sub(start);
        start = end;
        // The longest gap between two iterations: what a packet may wait
        // on the thread (one load per iteration; a store when it grows).
        if cycles > shared.longest.load(Ordering::Relaxed) {
            shared.longest.store(cycles, Ordering::Relaxed);
        }
        if received > 0 {
            stats.rx += received as u64;
            stats.busy_cycles += cycles;
        } else {
            stats.idle_cycles += cycles;
        }
        stats.iterations += 1;
        shared.publish(&stats);
    }
    work
}
