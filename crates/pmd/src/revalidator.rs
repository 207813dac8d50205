//! The revalidator: a thread beside each switching loop, off the PMD's
//! core, that checks the loop's megaflows against changed tables (OVS's
//! revalidator threads), so that the PMD never stops forwarding to
//! re-translate them.
//!
//! # How a table change reaches the megaflows
//!
//! 1. The control thread publishes the new tables, then moves the
//!    translator's version ([`crate::Translate::version`]).
//! 2. The PMD notices between bursts (one atomic load per iteration). If
//!    the revalidator is idle, the PMD hands it the list of its live
//!    megaflows (reference-counted pointers, no copy of a megaflow) and goes
//!    on forwarding; every translation it makes from then on uses the new
//!    tables, since they were published before the version moved.
//! 3. The revalidator translates each megaflow's key again and kills those
//!    whose actions changed or whose mask no longer covers what the
//!    translation examines: a killed megaflow is skipped by every lookup
//!    at once (its atomic dead flag), and the PMD unlinks it later.
//! 4. It then waits for the PMD to finish the iteration it was in (the
//!    loop's epoch moves), so that no burst looked up before a kill is
//!    still being forwarded — the grace period of read-copy-update — and
//!    only then acknowledges the version ([`crate::SwitchHandle::acked`]).
//!    An OpenFlow barrier's reply waits for that acknowledgement.
//!
//! Changes that arrive while a round runs are covered by the next round,
//! which revalidates against the newest tables: a burst of flow mods, each
//! with its barrier, costs rounds, not one round per flow mod.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use dataplane::Megaflow;

use crate::switch::Translate;

/// One round's work: the version to acknowledge, and the megaflows the
/// loop held when it saw it.
pub(crate) struct Round {
    pub(crate) version: u64,
    pub(crate) flows: Vec<Arc<Megaflow>>,
}

/// What the loop and its revalidator share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// A round is under way: the loop hands over no other.
    pub(crate) busy: AtomicBool,
    /// Megaflows were killed: the loop unlinks them and releases them
    /// from its microflow caches.
    pub(crate) killed: AtomicBool,
    /// Moves at the end of every iteration of the loop.
    pub(crate) epoch: AtomicU64,
    /// The version every megaflow agrees with.
    pub(crate) acked: Arc<AtomicU64>,
    /// Megaflows killed by rounds, in all.
    pub(crate) kills: AtomicU64,
}

/// The longest a round waits for the loop to finish an iteration (a loop
/// that stopped has no burst in flight).
const GRACE_LIMIT: Duration = Duration::from_secs(1);

/// Starts the revalidator of one loop; it ends when the loop drops its
/// side of `rounds`.
pub(crate) fn spawn(translate: Arc<dyn Translate>, shared: Arc<Shared>) -> std::io::Result<mpsc::Sender<Round>> {
    let (tx, rx) = mpsc::channel::<Round>();
    std::thread::Builder::new().name("revalidator".into()).spawn(move || {
        while let Ok(round) = rx.recv() {
            run(&*translate, &shared, round);
        }
    })?;
    Ok(tx)
}

/// One round: translate, kill the stale, wait out the grace period,
/// acknowledge.
fn run(translate: &dyn Translate, shared: &Shared, round: Round) {
    let mut killed = 0u64;
    for f in round.flows.iter().filter(|f| !f.is_dead()) {
        let t = translate.translate(&f.key(), true);
        if t.actions != *f.actions() || !t.mask.is_subset_of(f.mask()) {
            f.push_credits();
            f.kill();
            killed += 1;
        }
    }
    drop(round.flows);
    if killed > 0 {
        shared.kills.fetch_add(killed, Ordering::Relaxed);
        shared.killed.store(true, Ordering::Release);
        let epoch = shared.epoch.load(Ordering::Acquire);
        let start = Instant::now();
        while shared.epoch.load(Ordering::Acquire) == epoch && start.elapsed() < GRACE_LIMIT {
            std::thread::yield_now();
        }
    }
    shared.acked.fetch_max(round.version, Ordering::AcqRel);
    shared.busy.store(false, Ordering::Release);
}
