//! One bridge's flow tables, and the one door through which every
//! controller changes them: the OpenFlow sessions of the management socket
//! and of controller connections, and controllers inside the process (the
//! OVN agent) that hand over rule changes without an OpenFlow connection.
//!
//! A [`Bridge`] is a cheap handle (clones share the tables). Through it a
//! controller
//! - applies a bundle of [`Change`]s all or none ([`Bridge::apply`]),
//! - waits until the datapath switches by what it changed
//!   ([`Bridge::sync`], what an OpenFlow barrier waits for),
//! - receives the bridge's packets for controllers ([`Bridge::packet_ins`])
//!   and the rules that went ([`Bridge::removed`]).
//!
//! The datapath is behind the [`Datapath`] trait, so this crate knows
//! nothing of PMD threads: the daemon implements it over its translator.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::packet_in::PacketIn;
use crate::table::{Change, Removed, Tables};
use crate::wire::OfError;

/// What a bridge's tables are published to.
pub trait Datapath: Send + Sync + fmt::Debug {
    /// Makes `tables` the ones packets are switched by (if they changed
    /// since last time); returns the generation to wait for.
    fn publish(&self, tables: &Tables) -> u64;
    /// Resolves once no packet can be switched by anything older than
    /// `generation`: true, or false if the datapath gave up waiting.
    fn synced(&self, generation: u64) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

/// Packets for controllers a listener may fall behind on before it loses
/// the oldest.
const PACKET_INS: usize = 1024;
/// Removed rules a listener may fall behind on (a connection that does is
/// closed, as OVS closes a connection too slow for its messages).
const REMOVED: usize = 256;

/// A handle on one bridge's flow tables.
#[derive(Clone, Debug)]
pub struct Bridge {
    inner: Arc<Inner>,
}

/// A handle that does not keep the bridge alive ([`Bridge::downgrade`]).
#[derive(Clone, Debug)]
pub struct WeakBridge {
    inner: Weak<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    tables: Mutex<Tables>,
    datapath: Arc<dyn Datapath>,
    packet_ins: tokio::sync::broadcast::Sender<Arc<PacketIn>>,
    removed: tokio::sync::broadcast::Sender<Arc<Removed>>,
}

/// Why a bridge's tables could not be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the bridge's flow tables are unavailable (a holder of their lock panicked)")]
pub struct Poisoned;

/// A bundle that failed: which change (by index), and OpenFlow's error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Change `index` was refused; the tables are as they were.
    #[error("change {index} refused: {error:?}")]
    Refused {
        /// The index of the change in the bundle.
        index: usize,
        /// OpenFlow's error for it.
        error: OfError,
    },
    /// The tables are unavailable.
    #[error(transparent)]
    Poisoned(#[from] Poisoned),
}

impl Bridge {
    /// Bridge `name` with `tables`, published to `datapath`.
    pub fn new(name: &str, tables: Tables, datapath: Arc<dyn Datapath>) -> Bridge {
        let (packet_ins, _) = tokio::sync::broadcast::channel(PACKET_INS);
        let (removed, _) = tokio::sync::broadcast::channel(REMOVED);
        Bridge { inner: Arc::new(Inner { name: name.to_owned(), tables: Mutex::new(tables), datapath, packet_ins, removed }) }
    }

    /// The bridge's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// A handle that does not keep the bridge alive.
    pub fn downgrade(&self) -> WeakBridge {
        WeakBridge { inner: Arc::downgrade(&self.inner) }
    }

    /// The tables, locked; rules removed while the lock is held (by a
    /// flow mod, a timeout) are announced to [`Bridge::removed`] when it
    /// is released. Hold it briefly: the control thread's other work
    /// waits for it.
    pub fn lock(&self) -> Result<TablesGuard<'_>, Poisoned> {
        let guard = self.inner.tables.lock().map_err(|_| Poisoned)?;
        Ok(TablesGuard { guard, removed: &self.inner.removed })
    }

    /// Applies `changes` in order, all or none, as one new version of the
    /// tables (readers see the whole bundle or none of it); the rules they
    /// removed are announced. The datapath sees them at the next
    /// [`Bridge::sync`] (or the daemon's periodic publication).
    pub fn apply(&self, changes: &[Change]) -> Result<(), ApplyError> {
        let mut t = self.lock()?;
        // The removed rules stay in the tables' list; the guard announces them.
        t.apply_all(changes, std::time::Instant::now()).map_err(|(index, error)| ApplyError::Refused { index, error })?;
        Ok(())
    }

    /// Publishes the tables as they are now and waits until the datapath
    /// switches by them: once this resolves (true), no packet takes a path
    /// the tables no longer give. An OpenFlow barrier's reply waits here.
    pub async fn sync(&self) -> bool {
        let generation = match self.inner.tables.lock() {
            Ok(t) => self.inner.datapath.publish(&t),
            Err(_) => return false,
        };
        self.inner.datapath.synced(generation).await
    }

    /// Publishes the tables to the datapath if they changed, without
    /// waiting.
    pub fn publish(&self) {
        if let Ok(t) = self.inner.tables.lock() {
            self.inner.datapath.publish(&t);
        }
    }

    /// Packets the bridge's tables sent to the controllers, from now on.
    /// A listener too slow for them loses the oldest.
    pub fn packet_ins(&self) -> tokio::sync::broadcast::Receiver<Arc<PacketIn>> {
        self.inner.packet_ins.subscribe()
    }

    /// Hands `pi` to every listener of [`Bridge::packet_ins`].
    pub fn packet_in(&self, pi: PacketIn) {
        let _ = self.inner.packet_ins.send(Arc::new(pi));
    }

    /// Rules removed from now on (by flow mods, timeouts, group or meter
    /// deletion), for FLOW_REMOVED.
    pub fn removed(&self) -> tokio::sync::broadcast::Receiver<Arc<Removed>> {
        self.inner.removed.subscribe()
    }
}

impl WeakBridge {
    /// The bridge, if it still exists.
    pub fn upgrade(&self) -> Option<Bridge> {
        self.inner.upgrade().map(|inner| Bridge { inner })
    }
}

/// The locked tables of a [`Bridge`]; the rules removed meanwhile are
/// announced when it is dropped.
#[derive(Debug)]
pub struct TablesGuard<'a> {
    guard: MutexGuard<'a, Tables>,
    removed: &'a tokio::sync::broadcast::Sender<Arc<Removed>>,
}

impl Deref for TablesGuard<'_> {
    type Target = Tables;
    fn deref(&self) -> &Tables {
        &self.guard
    }
}

impl DerefMut for TablesGuard<'_> {
    fn deref_mut(&mut self) -> &mut Tables {
        &mut self.guard
    }
}

impl Drop for TablesGuard<'_> {
    fn drop(&mut self) {
        for r in self.guard.take_removed() {
            let _ = self.removed.send(Arc::new(r));
        }
    }
}
