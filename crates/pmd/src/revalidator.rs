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
//! 3. The revalidator translates again the key of each megaflow that a
//!    changed rule may match ([`crate::Translate::changes_since`]: the
//!    others keep their paths) and kills those
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
//! which revalidates against the newest tables. A client that waits for a
//! barrier after each flow mod (as `ovs-ofctl add-flows` does) asks for
//! one round per flow mod, each checking only what its rule may match.
//! When what changed is not known (a group mod, a port, too many rules), a
//! round that starts within [`BURST_WINDOW`] of the last one, with more
//! than [`BURST_FLOWS`] megaflows, kills them all instead of translating
//! each (what the PMD did before, here off its core).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use dataplane::{FlowKey, FlowMask, Megaflow};

use crate::translate::Translate;

/// One round's work: the version to acknowledge, and the megaflows the
/// loop held when it saw it.
pub(crate) struct Round {
    pub(crate) version: u64,
    pub(crate) flows: Vec<Arc<Megaflow>>,
    /// A sweep rather than a table change: the counters passed on to the
    /// rules, and the megaflows idle this long (ms) at this time (ms,
    /// [`dataplane::clock_ms`]) killed.
    pub(crate) sweep: Option<(u64, u64)>,
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
    /// The loop has stopped: no burst is in flight, no grace to wait.
    pub(crate) stopped: AtomicBool,
    /// The version every megaflow agrees with.
    pub(crate) acked: AtomicU64,
    /// Called after each acknowledgement (the control thread's wake-up).
    pub(crate) on_ack: std::sync::Mutex<Hook>,
}

/// What [`crate::SwitchHandle::on_ack`] installs.
pub(crate) type AckHook = Arc<dyn Fn() + Send + Sync>;

/// The hook, if any.
#[derive(Default)]
pub(crate) struct Hook(pub(crate) Option<AckHook>);

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Hook(set)" } else { "Hook(none)" })
    }
}

impl Shared {
    /// Acknowledges `version` and tells whoever waits.
    pub(crate) fn ack(&self, version: u64) {
        self.acked.fetch_max(version, Ordering::AcqRel);
        let hook = self.on_ack.lock().ok().and_then(|h| h.0.clone());
        if let Some(hook) = hook {
            hook();
        }
    }
}

/// The longest a round waits for the loop to finish an iteration (a loop
/// that stopped has no burst in flight).
const GRACE_LIMIT: Duration = Duration::from_secs(1);

/// A round this soon after the last one is part of a burst of changes.
pub const BURST_WINDOW: Duration = Duration::from_millis(20);

/// In a burst, a round with more megaflows than this kills them all.
pub const BURST_FLOWS: usize = 1000;

/// Past this many changed rules a round translates every megaflow rather
/// than check each against each change.
pub const MAX_CHANGES: usize = 64;

/// A loop's side of its revalidator thread. Dropping it (the loop stops)
/// ends the thread and waits for it, so that a stopped loop leaves no
/// thread behind holding its megaflows (the daemon restarts its loops on
/// every change of ports or cores).
#[derive(Debug)]
pub(crate) struct Revalidator {
    rounds: Option<mpsc::Sender<Round>>,
    thread: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Revalidator {
    /// Hands the thread a round; false when it has ended.
    pub(crate) fn send(&self, round: Round) -> bool {
        self.rounds.as_ref().is_some_and(|tx| tx.send(round).is_ok())
    }
}

impl Drop for Revalidator {
    fn drop(&mut self) {
        drop(self.rounds.take());
        self.shared.stopped.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the revalidator of one loop; it ends when the loop drops the
/// [`Revalidator`].
pub(crate) fn spawn(translate: Arc<dyn Translate>, shared: Arc<Shared>) -> std::io::Result<Revalidator> {
    let (tx, rx) = mpsc::channel::<Round>();
    let mine = Arc::clone(&shared);
    let thread = std::thread::Builder::new().name("revalidator".into()).spawn(move || {
        let mut last_end: Option<Instant> = None;
        while let Ok(round) = rx.recv() {
            if let Some((now, idle_ms)) = round.sweep {
                sweep(&shared, &round.flows, now, idle_ms);
                shared.busy.store(false, Ordering::Release);
                continue;
            }
            // Only the megaflows a changed rule may match need a
            // translation; unknown changes in a burst kill them all.
            let changes = translate.changes_since(shared.acked.load(Ordering::Acquire)).filter(|c| c.len() <= MAX_CHANGES);
            let burst = changes.is_none() && last_end.is_some_and(|t| t.elapsed() < BURST_WINDOW) && round.flows.len() > BURST_FLOWS;
            run(&*translate, &shared, round, changes.as_deref(), burst);
            last_end = Some(Instant::now());
        }
    })?;
    Ok(Revalidator { rounds: Some(tx), thread: Some(thread), shared: mine })
}

/// The once-a-second sweep, off the PMD: every megaflow's counters passed
/// on to its rules, idle ones killed.
fn sweep(shared: &Shared, flows: &[Arc<Megaflow>], now: u64, idle_ms: u64) {
    let mut killed = false;
    for f in flows.iter().filter(|f| !f.is_dead()) {
        f.push_credits();
        let used = f.stats().snapshot().used;
        let since = if used == 0 { f.created() } else { used };
        if now.saturating_sub(since) >= idle_ms {
            f.kill();
            killed = true;
        }
    }
    if killed {
        shared.killed.store(true, Ordering::Release);
    }
}

/// One round: translate the megaflows `changes` may concern (`None`: all;
/// in a burst: none), kill the stale, wait out the grace period,
/// acknowledge.
fn run(translate: &dyn Translate, shared: &Shared, round: Round, changes: Option<&[(FlowKey, FlowMask)]>, burst: bool) {
    let mut killed = false;
    let affected = |f: &Megaflow| changes.is_none_or(|c| c.iter().any(|(v, m)| f.may_match(v, m)));
    for f in round.flows.iter().filter(|f| !f.is_dead() && affected(f)) {
        let stale = burst || {
            let t = translate.translate(&f.key(), true);
            t.actions != *f.actions() || !t.mask.is_subset_of(f.mask())
        };
        if stale {
            f.push_credits();
            f.kill();
            killed = true;
        }
    }
    drop(round.flows);
    if killed {
        shared.killed.store(true, Ordering::Release);
        let epoch = shared.epoch.load(Ordering::Acquire);
        let start = Instant::now();
        while shared.epoch.load(Ordering::Acquire) == epoch && !shared.stopped.load(Ordering::Acquire) && start.elapsed() < GRACE_LIMIT {
            std::thread::yield_now();
        }
    }
    shared.busy.store(false, Ordering::Release);
    shared.ack(round.version);
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::key::{Field, FieldAccess};
    use dataplane::Classifier;

    #[test]
    fn a_changed_rule_concerns_a_megaflow_only_if_one_of_its_packets_matches_the_rule() {
        let mut c = Classifier::new();
        let mut key = FlowKey::default();
        key.set(Field::IN_PORT, 1);
        key.set(Field::TP_SRC, 80);
        key.set(Field::NW_DST, 0x0a00_0001);
        let mut mask = FlowMask::default();
        mask.exact(Field::IN_PORT).exact(Field::TP_SRC);
        let f = c.insert(&key.to_mini(), &mask, Arc::from(Vec::new()));
        let rule = |field: Field, value: u128| {
            let (mut v, mut m) = (FlowKey::default(), FlowMask::default());
            v.set(field, value);
            m.exact(field);
            (v, m)
        };
        let (v, m) = rule(Field::TP_SRC, 81);
        assert!(!f.may_match(&v, &m), "tp_src 81: none of the megaflow's packets");
        let (v, m) = rule(Field::TP_SRC, 80);
        assert!(f.may_match(&v, &m));
        // The megaflow does not look at nw_dst: some of its packets have
        // any address.
        let (v, m) = rule(Field::NW_DST, 0x0a00_0002);
        assert!(f.may_match(&v, &m));
        assert!(f.may_match(&FlowKey::default(), &FlowMask::default()), "a change of everything");
    }
}
