//! The PMD threads and what they poll.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pmd::{Eal, PmdThread, RxQueue, SwitchConfig, Switching, Translate, TxQueue};

use crate::{log, Level, PmdInfo, Xlator};

/// A DPDK port's queues, handed to the PMD threads and back.
#[derive(Debug, Default)]
pub struct Queues {
    /// Receive queues.
    pub rx: Vec<RxQueue>,
    /// Transmit queues.
    pub tx: Vec<TxQueue>,
}

/// A port as the PMD threads see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpPort {
    /// The interface's name.
    pub name: String,
    /// Its datapath number.
    pub odp: u32,
    /// Polled slowly ([`pmd::Switching::poll_slowly`]): a bridge's local port.
    pub slow: bool,
    /// `other_config:pmd-rxq-affinity`: queue → core.
    pub affinity: BTreeMap<u16, usize>,
}

/// What the PMD threads are planned from; while it stays the same, the
/// threads keep running.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The cores of `pmd-cpu-mask` this process may use.
    pub cores: Vec<usize>,
    /// The switching loops' settings.
    pub config: SwitchConfig,
    /// `pmd-rxq-assign`.
    pub assign: crate::rxq::Assign,
    /// The ports with queues.
    pub ports: Vec<DpPort>,
    /// Patch ports: (datapath port, peer's datapath port).
    pub patches: Vec<(u32, u32)>,
}

/// A receive queue's measured load, shared with the thread polling it.
#[derive(Debug, Clone)]
pub struct RxqLoad {
    /// The interface's name.
    pub port: String,
    /// The queue index.
    pub queue: u16,
    /// TSC cycles its packets took since the thread started.
    pub cycles: Arc<AtomicU64>,
}

/// The PMD threads and what they poll.
#[derive(Debug, Default)]
pub struct Datapath {
    xlator: Arc<Xlator>,
    running: Vec<PmdThread<Switching>>,
    plan: Option<Plan>,
    /// Each queue's load in the running threads (by port and queue).
    loads: Vec<RxqLoad>,
    odp: BTreeMap<String, u32>,
    next_odp: u32,
    /// The cores PMD threads may run on, for [`Datapath::tx_queues_wanted`].
    cores: usize,
}

impl Datapath {
    /// The translator.
    pub fn xlator(&self) -> &Arc<Xlator> {
        &self.xlator
    }

    /// The datapath port number of interface `name` (given on first ask).
    pub fn odp(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.odp.get(name) {
            return n;
        }
        self.next_odp += 1;
        self.odp.insert(name.to_owned(), self.next_odp);
        self.next_odp
    }

    /// Forgets the numbers of interfaces that `keep` refuses.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.odp.retain(|n, _| keep(n));
    }

    /// Says how many cores PMD threads may run on.
    pub fn set_cores(&mut self, n: usize) {
        self.cores = n;
    }

    /// Transmit queues a port should have: one per possible PMD thread,
    /// so that none needs a lock.
    pub fn tx_queues_wanted(&self) -> u16 {
        u16::try_from(self.cores.clamp(1, 64)).unwrap_or(1)
    }

    /// Runs PMD threads as `plan` says, unless they already run by it and
    /// no `rebalance` is asked for: the threads are stopped (their queues
    /// given back to `queues`), the receive queues assigned to the cores
    /// ([`crate::rxq::assign`], with the loads the stopped threads
    /// measured), and one thread started per core that got a queue. Each
    /// thread sends on a transmit queue of every port of its own, or
    /// shares one (with a lock) when the port has fewer queues than there
    /// are threads.
    pub fn poll(
        &mut self,
        eal: &Eal,
        pool: &Arc<pmd::Mempool>,
        plan: Plan,
        rebalance: bool,
        queues: &mut HashMap<String, Queues>,
    ) -> Result<(), String> {
        if !rebalance && self.plan.as_ref() == Some(&plan) {
            return Ok(());
        }
        let measured: HashMap<(String, u16), u64> =
            self.loads.iter().map(|l| ((l.port.clone(), l.queue), l.cycles.load(Ordering::Relaxed))).collect();
        self.stop(queues);
        self.plan = Some(plan.clone());
        // Every receive queue, in port and queue order.
        let mut rxqs: Vec<(usize, RxQueue)> = Vec::new();
        let mut wanted = Vec::new();
        for (i, port) in plan.ports.iter().enumerate() {
            let Some(q) = queues.get_mut(&port.name) else {
                continue;
            };
            let mut rx = std::mem::take(&mut q.rx);
            rx.sort_by_key(RxQueue::queue);
            for r in rx {
                wanted.push(crate::rxq::Rxq {
                    port: port.name.clone(),
                    queue: r.queue(),
                    load: measured.get(&(port.name.clone(), r.queue())).copied().unwrap_or(0),
                    pinned: port.affinity.get(&r.queue()).copied(),
                });
                rxqs.push((i, r));
            }
        }
        if rxqs.is_empty() {
            return Ok(());
        }
        let placed = crate::rxq::assign(&wanted, &plan.cores, plan.assign);
        log(Level::Info, &format!("receive queues assigned to cores {:?} by {}", plan.cores, plan.assign.name()));
        let mut threads: BTreeMap<usize, Vec<(usize, RxQueue)>> = BTreeMap::new();
        for ((i, r), core) in rxqs.into_iter().zip(placed) {
            // No core at all: the queue goes back to its port unpolled.
            match core {
                Some(core) => threads.entry(core).or_default().push((i, r)),
                None => queues.entry(plan.ports[i].name.clone()).or_default().rx.push(r),
            }
        }
        // Transmit queues: one per thread, shared when there are fewer.
        let n = threads.len();
        let mut txs: Vec<Vec<(u32, TxQueue)>> = (0..n).map(|_| Vec::new()).collect();
        for port in &plan.ports {
            let Some(q) = queues.get_mut(&port.name) else {
                continue;
            };
            let mut own = std::mem::take(&mut q.tx);
            if own.is_empty() {
                continue;
            }
            let have = own.len();
            let shares: Vec<TxQueue> = (have..n).map(|k| own[k % have].share()).collect();
            let rest = own.split_off(n.min(have));
            let mut all = own.into_iter().chain(shares);
            for t in &mut txs {
                if let Some(tx) = all.next() {
                    t.push((port.odp, tx));
                }
            }
            q.tx = rest;
        }
        let mut infos = Vec::new();
        for ((core, polled), tx) in threads.into_iter().zip(txs) {
            let (mut work, handle) =
                Switching::new(Arc::clone(&self.xlator) as Arc<dyn Translate>, plan.config).map_err(|e| e.to_string())?;
            let acked = Arc::clone(&self.xlator.acked);
            handle.on_ack(Arc::new(move || acked.notify_waiters()));
            work.set_pool(Arc::clone(pool));
            let first = self.loads.len();
            let mut names = Vec::new();
            let isolated = polled.iter().any(|(i, r)| plan.ports[*i].affinity.get(&r.queue()) == Some(&core));
            for (i, r) in polled {
                let port = &plan.ports[i];
                let load = RxqLoad { port: port.name.clone(), queue: r.queue(), cycles: Arc::default() };
                if port.slow {
                    work.poll_slowly(r, port.odp, Arc::clone(&load.cycles));
                } else {
                    work.poll(r, port.odp, Arc::clone(&load.cycles));
                }
                names.push((port.name.clone(), port.odp));
                self.loads.push(load);
            }
            for (odp, t) in tx {
                work.output(odp, t);
            }
            for &(port, peer) in &plan.patches {
                work.patch(port, peer);
            }
            let thread = PmdThread::spawn(eal, core, work).map_err(|e| e.to_string())?;
            names.dedup();
            log(
                Level::Info,
                &format!("PMD thread on core {core} polls {}", names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")),
            );
            let loads = self.loads[first..].to_vec();
            infos.push(PmdInfo { core, stats: thread.stats_handle(), handle, loads, isolated });
            self.running.push(thread);
        }
        if let Ok(mut p) = self.xlator.pmds.lock() {
            *p = infos;
        }
        Ok(())
    }

    /// Stops the PMD threads, giving their queues back to `queues` (the
    /// shared copies of transmit queues are dropped).
    pub fn stop(&mut self, queues: &mut HashMap<String, Queues>) {
        let infos = self.xlator.pmds.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        self.plan = None;
        self.loads.clear();
        let names: HashMap<u32, String> = self.odp.iter().map(|(n, &odp)| (odp, n.clone())).collect();
        for thread in self.running.drain(..) {
            let core = thread.core();
            let Some((work, _)) = thread.stop() else {
                log(Level::Warn, &format!("the PMD thread on core {core} had panicked; its ports are closed"));
                continue;
            };
            let pmd::PolledQueues { rx, tx } = work.into_queues();
            for (q, odp) in rx {
                if let Some(name) = names.get(&odp) {
                    queues.entry(name.clone()).or_default().rx.push(q);
                }
            }
            for (odp, q) in tx.into_iter().filter(|(_, q)| !q.is_copy()) {
                if let Some(name) = names.get(&odp) {
                    queues.entry(name.clone()).or_default().tx.push(q);
                }
            }
        }
        drop(infos);
    }
}
