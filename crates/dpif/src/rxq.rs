//! Which PMD thread polls which receive queue: `other_config:pmd-rxq-assign`
//! and `Interface.other_config:pmd-rxq-affinity`, as OVS assigns them.
//!
//! - A queue pinned by `pmd-rxq-affinity` (`"<queue>:<core>,…"`) goes to
//!   that core's thread when the core is one of `pmd-cpu-mask`'s; that
//!   thread is then *isolated*: it polls only pinned queues. A queue
//!   pinned to a core without a thread is assigned as if unpinned.
//! - `roundrobin`: the other queues, in port and queue order, to the
//!   non-isolated threads in turn.
//! - `cycles` (the default): the other queues by measured load, busiest
//!   first, to the threads in an up-and-down walk (1, 2, …, n, n, …, 1, …).
//! - `group`: by measured load, busiest first, each to the thread with the
//!   least load so far (its queues' loads summed).
//!
//! Loads are the cycles each queue's packets took in the last run; a new
//! queue counts as 0.

use std::collections::BTreeMap;

/// `other_config:pmd-rxq-assign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Assign {
    /// By measured load, up-and-down over the threads.
    #[default]
    Cycles,
    /// In order, in turn.
    RoundRobin,
    /// By measured load, each to the least loaded thread.
    Group,
}

impl Assign {
    /// Reads the option; `None` for an unknown value (OVS then keeps its
    /// default and logs it).
    pub fn parse(s: &str) -> Option<Assign> {
        match s {
            "cycles" => Some(Assign::Cycles),
            "roundrobin" => Some(Assign::RoundRobin),
            "group" => Some(Assign::Group),
            _ => None,
        }
    }

    /// The option's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Assign::Cycles => "cycles",
            Assign::RoundRobin => "roundrobin",
            Assign::Group => "group",
        }
    }
}

/// A receive queue to place: its port and index, its load, its pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rxq {
    /// The interface's name.
    pub port: String,
    /// The queue index.
    pub queue: u16,
    /// Cycles measured in the last run.
    pub load: u64,
    /// The core `pmd-rxq-affinity` pins it to.
    pub pinned: Option<usize>,
}

/// Parses `pmd-rxq-affinity`: `"<queue>:<core>"` pairs separated by commas.
pub fn parse_affinity(s: &str) -> Result<BTreeMap<u16, usize>, String> {
    let mut map = BTreeMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = pair.split_once(':').and_then(|(q, c)| Some((q.trim().parse::<u16>().ok()?, c.trim().parse::<usize>().ok()?)));
        let Some((q, c)) = parsed else {
            return Err(format!("pmd-rxq-affinity: {pair:?} is not <queue>:<core>"));
        };
        map.insert(q, c);
    }
    Ok(map)
}

/// The core each queue goes to (in `queues`' order); `None` when there is
/// no core at all. Isolated cores are those with a pinned queue.
pub fn assign(queues: &[Rxq], cores: &[usize], how: Assign) -> Vec<Option<usize>> {
    let mut placed: Vec<Option<usize>> = vec![None; queues.len()];
    let mut load: BTreeMap<usize, u64> = cores.iter().map(|&c| (c, 0)).collect();
    let mut isolated = Vec::new();
    for (i, q) in queues.iter().enumerate() {
        if let Some(core) = q.pinned.filter(|c| cores.contains(c)) {
            placed[i] = Some(core);
            *load.entry(core).or_default() += q.load;
            isolated.push(core);
        }
    }
    let mut free: Vec<usize> = cores.iter().copied().filter(|c| !isolated.contains(c)).collect();
    if free.is_empty() {
        // Every core is isolated: the other queues still need a thread.
        free = cores.to_vec();
    }
    if free.is_empty() {
        return placed;
    }
    let mut order: Vec<usize> = (0..queues.len()).filter(|&i| placed[i].is_none()).collect();
    if how != Assign::RoundRobin {
        // Busiest first; ties in port and queue order (a stable sort).
        order.sort_by(|&a, &b| queues[b].load.cmp(&queues[a].load));
    }
    let n = free.len();
    for (k, i) in order.into_iter().enumerate() {
        let core = match how {
            Assign::RoundRobin => free[k % n],
            Assign::Cycles => {
                let (round, at) = (k / n, k % n);
                free[if round % 2 == 0 { at } else { n - 1 - at }]
            }
            Assign::Group => *free.iter().min_by_key(|c| (load.get(c).copied().unwrap_or(0), **c)).unwrap_or(&free[0]),
        };
        *load.entry(core).or_default() += queues[i].load;
        placed[i] = Some(core);
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(port: &str, queue: u16, load: u64, pinned: Option<usize>) -> Rxq {
        Rxq { port: port.into(), queue, load, pinned }
    }

    #[test]
    fn roundrobin_takes_queues_in_order_and_threads_in_turn() {
        let queues = [q("a", 0, 5, None), q("a", 1, 50, None), q("b", 0, 9, None)];
        assert_eq!(assign(&queues, &[1, 2], Assign::RoundRobin), [Some(1), Some(2), Some(1)]);
    }

    #[test]
    fn cycles_walks_up_and_down_busiest_first() {
        let queues = [q("a", 0, 10, None), q("a", 1, 40, None), q("b", 0, 30, None), q("b", 1, 20, None)];
        // Busiest first: a1 (40) → 1, b0 (30) → 2, b1 (20) → 2, a0 (10) → 1.
        assert_eq!(assign(&queues, &[1, 2], Assign::Cycles), [Some(1), Some(1), Some(2), Some(2)]);
    }

    #[test]
    fn group_gives_each_queue_to_the_least_loaded_thread() {
        let queues = [q("a", 0, 100, None), q("a", 1, 30, None), q("b", 0, 30, None), q("b", 1, 30, None)];
        // 100 → 1; 30 → 2; 30 → 2 (60 < 100); 30 → 2 (90 < 100).
        assert_eq!(assign(&queues, &[1, 2], Assign::Group), [Some(1), Some(2), Some(2), Some(2)]);
    }

    #[test]
    fn a_pinned_queue_isolates_its_thread_and_a_pin_to_a_missing_core_is_ignored() {
        let queues = [q("a", 0, 0, Some(2)), q("a", 1, 0, None), q("b", 0, 0, None), q("b", 1, 0, Some(7))];
        assert_eq!(assign(&queues, &[1, 2], Assign::RoundRobin), [Some(2), Some(1), Some(1), Some(1)]);
        assert_eq!(assign(&queues, &[], Assign::Cycles), [None, None, None, None]);
    }

    #[test]
    fn affinity_parses_pairs_and_names_a_bad_one() {
        assert_eq!(parse_affinity("0:3, 1:7").unwrap(), BTreeMap::from([(0, 3), (1, 7)]));
        assert!(parse_affinity("0:3,x").unwrap_err().contains("\"x\""));
        assert!(parse_affinity("").unwrap().is_empty());
    }

    #[test]
    fn the_option_spells_as_ovs() {
        for a in [Assign::Cycles, Assign::RoundRobin, Assign::Group] {
            assert_eq!(Assign::parse(a.name()), Some(a));
        }
        assert_eq!(Assign::parse("random"), None);
    }
}
