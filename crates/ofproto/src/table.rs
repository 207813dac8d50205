//! A bridge's flow tables: 255 tables of priority-ordered rules, and the
//! flow-table modifications of OpenFlow (add, modify and delete, strict
//! and not), with OVS's semantics for cookies, overlap checks and
//! counters.
//!
//! Every change bumps the tables' version; a batch of modifications (a
//! bundle, or the flow mods before a barrier) is applied to a copy and
//! published at once with [`Tables::apply_all`], so a reader sees all of it
//! or none of it.
//!
//! Each table keeps its rules in persistent maps (`imbl`) and maintains
//! the packet path's [`Classifier`] as rules come and go, so a snapshot
//! of the tables for translation ([`crate::xlate::Pipeline`]) costs a
//! pointer copy per table rather than a rebuild.

use std::cmp::Reverse;
use std::sync::Arc;
use std::time::Instant;

use crate::actions::{self, Action};
use crate::classifier::Classifier;
use crate::error::{BadRequest, FlowModFailed, Nicira};
use crate::flowmatch::Match;
use crate::group::{GroupMod, GroupTable};
use crate::wire::OfError;

/// Flow flags, in OpenFlow 1.3's bit positions.
pub mod flags {
    /// Send FLOW_REMOVED when the rule goes.
    pub const SEND_FLOW_REM: u16 = 1 << 0;
    /// Refuse an add that overlaps a rule of the same priority.
    pub const CHECK_OVERLAP: u16 = 1 << 1;
    /// Zero the counters of a modified rule.
    pub const RESET_COUNTS: u16 = 1 << 2;
    /// Do not count packets.
    pub const NO_PKT_COUNTS: u16 = 1 << 3;
    /// Do not count bytes.
    pub const NO_BYT_COUNTS: u16 = 1 << 4;
}

/// Number of tables (0–254; 255 means "all").
pub const N_TABLES: usize = 255;
/// OVS's hidden last table: controllers may not change it (EPERM).
pub const HIDDEN_TABLE: u8 = 254;
/// `table_id` meaning every table.
pub const ALL_TABLES: u8 = 0xff;
/// "Any port" in OVS's 16-bit numbering (OFPP_NONE / OFPP_ANY).
pub const ANY_PORT: u16 = 0xffff;
/// "Any group".
pub const ANY_GROUP: u32 = 0xffff_ffff;

/// A flow-table modification command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Add (replacing an identical rule).
    Add,
    /// Modify every rule the match covers.
    Modify,
    /// Modify the rule with exactly this match and priority.
    ModifyStrict,
    /// Delete every rule the match covers.
    Delete,
    /// Delete the rule with exactly this match and priority.
    DeleteStrict,
}

impl Command {
    /// From OpenFlow's number.
    pub fn from_wire(c: u8) -> Option<Command> {
        Some(match c {
            0 => Command::Add,
            1 => Command::Modify,
            2 => Command::ModifyStrict,
            3 => Command::Delete,
            4 => Command::DeleteStrict,
            _ => return None,
        })
    }
}

/// A decoded FLOW_MOD, in any version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowMod {
    /// Command.
    pub command: Command,
    /// Table (0xff: all, or table 0 for an add).
    pub table_id: u8,
    /// The match.
    pub m: Match,
    /// Priority.
    pub priority: u16,
    /// Cookie to match (modify/delete).
    pub cookie: u64,
    /// Cookie mask (0: any).
    pub cookie_mask: u64,
    /// Cookie to give the rule (u64::MAX: keep).
    pub new_cookie: u64,
    /// Whether `new_cookie` replaces a modified rule's cookie.
    pub modify_cookie: bool,
    /// Idle timeout, seconds.
    pub idle_timeout: u16,
    /// Hard timeout, seconds.
    pub hard_timeout: u16,
    /// Importance (1.4+).
    pub importance: u16,
    /// Flags (see [`flags`]).
    pub flags: u16,
    /// Buffer to apply the actions to (none: u32::MAX).
    pub buffer_id: u32,
    /// For deletes: only rules that output to this port.
    pub out_port: u16,
    /// For deletes: only rules that use this group.
    pub out_group: u32,
    /// Actions and instructions.
    pub actions: Vec<Action>,
}

impl FlowMod {
    /// An add of `actions` at `priority` for `m` in table `table_id`, as a
    /// switch adds flows of its own (OVS's `ofproto_add_flow`).
    pub fn add(table_id: u8, m: Match, priority: u16, actions: Vec<Action>) -> FlowMod {
        FlowMod {
            command: Command::Add,
            table_id,
            m,
            priority,
            cookie: 0,
            cookie_mask: 0,
            new_cookie: 0,
            modify_cookie: true,
            idle_timeout: 0,
            hard_timeout: 0,
            importance: 0,
            flags: 0,
            buffer_id: u32::MAX,
            out_port: ANY_PORT,
            out_group: ANY_GROUP,
            actions,
        }
    }
}

/// A rule in a table.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The match.
    pub m: Match,
    /// Priority.
    pub priority: u16,
    /// Cookie.
    pub cookie: u64,
    /// Idle timeout, seconds (0: none).
    pub idle_timeout: u16,
    /// Hard timeout, seconds (0: none).
    pub hard_timeout: u16,
    /// Importance.
    pub importance: u16,
    /// Flags, as the flow mod gave them.
    pub flags: u16,
    /// Actions and instructions.
    pub actions: Vec<Action>,
    /// When added.
    pub created: Instant,
    /// When last modified.
    pub modified: Instant,
    /// Packets matched.
    pub packets: u64,
    /// Bytes matched.
    pub bytes: u64,
    /// Last hit (or creation).
    pub used: Instant,
    /// What the datapath's megaflows credit to the rule (shared by the
    /// copies a batch makes; replaced when counters are reset).
    pub credit: std::sync::Arc<dataplane::Credit>,
}

impl Rule {
    fn new(fm: &FlowMod, now: Instant) -> Rule {
        Rule {
            m: fm.m.clone(),
            priority: fm.priority,
            cookie: if fm.new_cookie == u64::MAX { 0 } else { fm.new_cookie },
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            importance: fm.importance,
            flags: fm.flags,
            actions: fm.actions.clone(),
            created: now,
            modified: now,
            packets: 0,
            bytes: 0,
            used: now,
            credit: Default::default(),
        }
    }

    /// Packets matched, the datapath's included.
    pub fn packet_count(&self) -> u64 {
        self.packets + self.credit.get().0
    }

    /// Bytes matched, the datapath's included.
    pub fn byte_count(&self) -> u64 {
        self.bytes + self.credit.get().1
    }

    /// When a packet last matched (or the rule was made).
    pub fn last_used(&self) -> Instant {
        let (packets, _, used) = self.credit.get();
        if packets == 0 {
            return self.used;
        }
        self.used.max(dataplane::epoch() + std::time::Duration::from_millis(used))
    }
}

/// Whether rule match `rule` is covered by (at least as specific as)
/// the filter `filter`: every bit `filter` matches, `rule` matches the
/// same way (OVS's loose match for non-strict modify and delete).
pub fn covered_by(rule: &Match, filter: &Match) -> bool {
    let bits = |rw: &[u8], fw: &[u8], rv: &[u8], fv: &[u8]| {
        rw.iter().zip(fw).zip(rv.iter().zip(fv)).all(|((rw, fw), (rv, fv))| fw & !rw == 0 && (rv ^ fv) & fw == 0)
    };
    bits(&rule.wc, &filter.wc, &rule.flow, &filter.flow)
        && filter.tun_md.iter().all(|f| {
            rule.tun_md.iter().any(|r| r.index == f.index && r.value.len() == f.value.len() && bits(&r.mask, &f.mask, &r.value, &f.value))
        })
}

/// Whether two matches can both match some packet.
pub fn overlaps(a: &Match, b: &Match) -> bool {
    let bits = |aw: &[u8], bw: &[u8], av: &[u8], bv: &[u8]| {
        aw.iter().zip(bw).zip(av.iter().zip(bv)).all(|((aw, bw), (av, bv))| (av ^ bv) & aw & bw == 0)
    };
    bits(&a.wc, &b.wc, &a.flow, &b.flow)
        && a.tun_md.iter().all(|x| b.tun_md.iter().filter(|y| y.index == x.index).all(|y| bits(&x.mask, &y.mask, &x.value, &y.value)))
}

/// Selection criteria of modify/delete and of flow statistics requests.
#[derive(Clone, Debug)]
pub struct Criteria {
    /// Table, or [`ALL_TABLES`].
    pub table_id: u8,
    /// Match (loose, or exact with `strict`).
    pub m: Match,
    /// Priority (strict only).
    pub priority: u16,
    /// Exact match and priority.
    pub strict: bool,
    /// Cookie and mask.
    pub cookie: u64,
    /// Cookie mask.
    pub cookie_mask: u64,
    /// Output port filter, [`ANY_PORT`] for none.
    pub out_port: u16,
    /// Group filter, [`ANY_GROUP`] for none.
    pub out_group: u32,
}

impl Criteria {
    fn selects(&self, r: &Rule) -> bool {
        let m = if self.strict { r.priority == self.priority && r.m == self.m } else { covered_by(&r.m, &self.m) };
        m && (r.cookie ^ self.cookie) & self.cookie_mask == 0
            && (self.out_port == ANY_PORT || actions::outputs_to(&r.actions, self.out_port))
            && (self.out_group == ANY_GROUP || actions::uses_group(&r.actions, self.out_group))
    }
}

/// One change of a batch (a bundle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A flow mod.
    Flow(Box<FlowMod>),
    /// A group mod.
    Group(GroupMod),
    /// A meter mod: its command (`OFPMC13_*`) and the meter.
    Meter(u16, crate::group::Meter),
    /// A TLV table mod: its command (`NXTTMC_*`) and the mappings
    /// (index, option class, option type, option length).
    TlvMap(u16, Vec<(u8, u16, u8, u8)>),
}

/// Why a rule went (FLOW_REMOVED's reason).
pub mod reason {
    /// Idle timeout.
    pub const IDLE_TIMEOUT: u8 = 0;
    /// Hard timeout.
    pub const HARD_TIMEOUT: u8 = 1;
    /// Deleted by a flow mod.
    pub const DELETE: u8 = 2;
    /// Its group was deleted.
    pub const GROUP_DELETE: u8 = 3;
    /// Its meter was deleted.
    pub const METER_DELETE: u8 = 5;
}

/// A rule that a modification removed, for FLOW_REMOVED.
#[derive(Clone, Debug)]
pub struct Removed {
    /// The table it was in.
    pub table_id: u8,
    /// The rule.
    pub rule: Rule,
    /// Why ([`reason`]).
    pub reason: u8,
}

/// One table: rules in priority order (the highest first, then in the
/// order they were added), indexed by priority and match for the exact
/// lookups of add and the strict commands, and by the packet path's
/// [`Classifier`]. All three are persistent maps: a copy of a table (a
/// bundle's working copy, a snapshot for the packet path) shares them.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// The rules, shared (`Arc`) so that moving them inside the map and
    /// copying the map move pointers, not rules.
    rules: imbl::OrdMap<(Reverse<u16>, u64), Arc<Rule>>,
    /// Sequence numbers by a hash of priority and match.
    index: imbl::HashMap<u64, Vec<u64>>,
    classifier: Classifier,
    /// The conjunctive rules (`conjunction` actions), looked up apart:
    /// they match only as clauses of a conjunctive match.
    conj: Classifier,
    next: u64,
}

/// The index's key for a rule's priority and match.
fn index_key(priority: u16, m: &Match) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    priority.hash(&mut h);
    m.hash(&mut h);
    h.finish()
}

impl Table {
    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, highest priority first.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.values().map(|r| &**r)
    }

    /// The classifier over the rules that take part in lookups (all but
    /// conjunctive ones), whose ids are [`Table::rule_by_id`]'s.
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// The classifier over the conjunctive rules, whose ids are
    /// [`Table::rule_by_id`]'s too.
    pub fn conjunctive(&self) -> &Classifier {
        &self.conj
    }

    /// The classifier a rule with `actions` belongs in.
    fn classifier_for(&mut self, actions: &[Action]) -> &mut Classifier {
        if actions::is_conjunctive(actions) {
            &mut self.conj
        } else {
            &mut self.classifier
        }
    }

    /// The rule the classifier calls `id` at `priority`.
    pub fn rule_by_id(&self, priority: u16, id: u64) -> Option<&Rule> {
        self.rules.get(&(Reverse(priority), id)).map(|r| &**r)
    }

    /// The sequence number of the rule with exactly this priority and match.
    fn seq_of(&self, priority: u16, m: &Match) -> Option<u64> {
        let seqs = self.index.get(&index_key(priority, m))?;
        seqs.iter().copied().find(|seq| self.rules.get(&(Reverse(priority), *seq)).is_some_and(|r| r.m == *m))
    }

    /// The rule with exactly this priority and match.
    pub fn find(&self, priority: u16, m: &Match) -> Option<&Rule> {
        self.rule_by_id(priority, self.seq_of(priority, m)?)
    }

    /// Inserts a rule, returning the one it replaces (same priority and match).
    fn insert(&mut self, rule: Rule) -> Option<Rule> {
        let old = self.seq_of(rule.priority, &rule.m).and_then(|seq| self.unlink(rule.priority, seq));
        let seq = self.next;
        self.next += 1;
        self.index.entry(index_key(rule.priority, &rule.m)).or_default().push(seq);
        self.classifier_for(&rule.actions).insert(rule.priority, &rule.m, seq);
        self.rules.insert((Reverse(rule.priority), seq), Arc::new(rule));
        old
    }

    /// Removes rule `seq` from the rules, the index and the classifier.
    fn unlink(&mut self, priority: u16, seq: u64) -> Option<Rule> {
        let r = self.rules.remove(&(Reverse(priority), seq))?;
        self.classifier_for(&r.actions).remove(priority, &r.m, seq);
        let key = index_key(priority, &r.m);
        if let Some(seqs) = self.index.get_mut(&key) {
            seqs.retain(|s| *s != seq);
            if seqs.is_empty() {
                self.index.remove(&key);
            }
        }
        Some(Arc::unwrap_or_clone(r))
    }

    /// Removes and returns the rules `pred` selects.
    fn remove_where(&mut self, pred: impl Fn(&Rule) -> bool) -> Vec<Rule> {
        let keys: Vec<(Reverse<u16>, u64)> = self.rules.iter().filter(|(_, r)| pred(r)).map(|(k, _)| *k).collect();
        keys.into_iter().filter_map(|(Reverse(priority), seq)| self.unlink(priority, seq)).collect()
    }

    /// Changes the rules `c` selects with `f` (strict criteria by the
    /// index). `f` must not change a rule's match or priority.
    fn modify_selected(&mut self, c: &Criteria, mut f: impl FnMut(&mut Rule)) {
        let keys: Vec<(Reverse<u16>, u64)> = if c.strict {
            self.seq_of(c.priority, &c.m).map(|seq| (Reverse(c.priority), seq)).into_iter().collect()
        } else {
            self.rules.iter().filter(|(_, r)| c.selects(r)).map(|(k, _)| *k).collect()
        };
        for (Reverse(priority), seq) in keys {
            let Some(r) = self.rules.get(&(Reverse(priority), seq)) else {
                continue;
            };
            if !c.selects(r) {
                continue;
            }
            let was_conjunctive = actions::is_conjunctive(&r.actions);
            let Some(r) = self.rules.get_mut(&(Reverse(priority), seq)) else {
                continue;
            };
            let r = Arc::make_mut(r);
            f(r);
            // A rule that gains or loses conjunction actions moves between
            // the classifiers.
            let (now, m) = (actions::is_conjunctive(&r.actions), r.m.clone());
            if was_conjunctive != now {
                let (from, to) = if now { (&mut self.classifier, &mut self.conj) } else { (&mut self.conj, &mut self.classifier) };
                from.remove(priority, &m, seq);
                to.insert(priority, &m, seq);
            }
        }
    }
}

/// The tables of one bridge.
#[derive(Clone, Debug)]
pub struct Tables {
    tables: Vec<Table>,
    version: u64,
    /// The bridge's groups and meters.
    pub groups: GroupTable,
    /// Removed rules not yet taken by [`Tables::take_removed`].
    removed: Vec<Removed>,
    /// The controllers' roles on this bridge.
    pub roles: Roles,
    /// The TLV table (`tun_metadata` mappings).
    pub tlv: crate::flowmatch::TlvMap,
    /// What each version changed, for the datapath's revalidation.
    pub changes: crate::changes::ChangeLog,
}

pub use crate::roles::{Role, Roles};

impl Default for Tables {
    fn default() -> Self {
        Tables {
            tables: vec![Table::default(); N_TABLES],
            version: 0,
            groups: GroupTable::default(),
            removed: Vec::new(),
            roles: Roles::default(),
            tlv: crate::flowmatch::TlvMap::default(),
            changes: crate::changes::ChangeLog::default(),
        }
    }
}

impl Tables {
    /// The version: bumped by every committed change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Table `id` (an empty one past the last).
    pub fn table(&self, id: u8) -> &Table {
        static EMPTY: std::sync::LazyLock<Table> = std::sync::LazyLock::new(Table::default);
        self.tables.get(usize::from(id)).unwrap_or(&EMPTY)
    }

    /// How many rules satisfy `pred`.
    pub fn count_rules(&self, pred: impl Fn(&Rule) -> bool) -> u32 {
        self.tables.iter().map(|t| t.iter().filter(|r| pred(r)).count() as u32).sum()
    }

    /// Number of rules in all tables.
    pub fn len(&self) -> usize {
        self.tables.iter().map(Table::len).sum()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn chosen(&self, table_id: u8) -> impl Iterator<Item = (u8, &Table)> {
        self.tables
            .iter()
            .enumerate()
            .filter(move |(id, _)| table_id == ALL_TABLES || usize::from(table_id) == *id)
            .map(|(id, t)| (id as u8, t))
    }

    fn chosen_mut(&mut self, table_id: u8) -> impl Iterator<Item = (u8, &mut Table)> {
        self.tables
            .iter_mut()
            .enumerate()
            .filter(move |(id, _)| table_id == ALL_TABLES || usize::from(table_id) == *id)
            .map(|(id, t)| (id as u8, t))
    }

    /// The rules `c` selects, with their tables.
    pub fn select<'a>(&'a self, c: &'a Criteria) -> impl Iterator<Item = (u8, &'a Rule)> + 'a {
        self.chosen(c.table_id).flat_map(move |(id, t)| t.iter().filter(|r| c.selects(r)).map(move |r| (id, r)))
    }

    /// The highest-priority rule of table `id` whose match `hit` accepts.
    pub fn lookup(&self, id: u8, hit: impl Fn(&Match) -> bool) -> Option<&Rule> {
        self.table(id).iter().find(|r| hit(&r.m))
    }

    /// Applies a flow mod; returns the rules it deleted. On error nothing
    /// changed.
    pub fn apply(&mut self, fm: &FlowMod, now: Instant) -> Result<Vec<Removed>, OfError> {
        let criteria = Criteria {
            table_id: fm.table_id,
            m: fm.m.clone(),
            priority: fm.priority,
            strict: matches!(fm.command, Command::ModifyStrict | Command::DeleteStrict),
            cookie: fm.cookie,
            cookie_mask: fm.cookie_mask,
            out_port: if matches!(fm.command, Command::Delete | Command::DeleteStrict) { fm.out_port } else { ANY_PORT },
            out_group: if matches!(fm.command, Command::Delete | Command::DeleteStrict) { fm.out_group } else { ANY_GROUP },
        };
        if fm.table_id == HIDDEN_TABLE {
            // OVS keeps its last table for itself and refuses changes to it.
            return Err(OfError::BadRequest(BadRequest::Eperm));
        }
        let mut fm = std::borrow::Cow::Borrowed(fm);
        if !matches!(fm.command, Command::Delete | Command::DeleteStrict) {
            self.groups.check(&fm.actions)?;
            if actions::uses_tun_metadata(&fm.actions) {
                actions::fit_tun_metadata(&mut fm.to_mut().actions, &self.tlv)?;
            }
        }
        let fm = fm.as_ref();
        let removed = match fm.command {
            Command::Add => {
                self.add(fm, now)?;
                Vec::new()
            }
            Command::Modify | Command::ModifyStrict => {
                self.modify(fm, &criteria, now)?;
                Vec::new()
            }
            Command::Delete | Command::DeleteStrict => self.delete(&criteria),
        };
        self.version += 1;
        // The flow mod's match covers every rule it added, changed or took.
        self.changes.record(self.version, &fm.m);
        self.removed.extend(removed.iter().cloned());
        Ok(removed)
    }

    fn add(&mut self, fm: &FlowMod, now: Instant) -> Result<(), OfError> {
        let id = if fm.table_id == ALL_TABLES { 0 } else { fm.table_id };
        let table = self.tables.get_mut(usize::from(id)).ok_or(OfError::FlowModFailed(FlowModFailed::BadTableId))?;
        if fm.flags & flags::CHECK_OVERLAP != 0 && table.iter().any(|r| r.priority == fm.priority && r.m != fm.m && overlaps(&r.m, &fm.m)) {
            return Err(OfError::FlowModFailed(FlowModFailed::Overlap));
        }
        let mut rule = Rule::new(fm, now);
        if fm.new_cookie == u64::MAX {
            if let Some(old) = table.find(fm.priority, &fm.m) {
                rule.cookie = old.cookie;
            }
        }
        table.insert(rule);
        Ok(())
    }

    fn modify(&mut self, fm: &FlowMod, c: &Criteria, now: Instant) -> Result<(), OfError> {
        let mut any = false;
        for (_, table) in self.chosen_mut(c.table_id) {
            table.modify_selected(c, |r| {
                any = true;
                r.actions = fm.actions.clone();
                r.modified = now;
                if fm.modify_cookie && fm.new_cookie != u64::MAX {
                    r.cookie = fm.new_cookie;
                }
                if fm.flags & flags::RESET_COUNTS != 0 {
                    r.packets = 0;
                    r.bytes = 0;
                    r.credit = Default::default();
                }
            });
        }
        // As OVS: a modify that matched nothing adds, unless it matched on
        // the cookie or keeps the cookie.
        if !any && fm.new_cookie != u64::MAX && fm.cookie_mask == 0 {
            self.add(fm, now)?;
        }
        Ok(())
    }

    fn delete(&mut self, c: &Criteria) -> Vec<Removed> {
        let mut removed = Vec::new();
        for (id, table) in self.chosen_mut(c.table_id) {
            removed.extend(table.remove_where(|r| c.selects(r)).into_iter().map(|rule| Removed {
                table_id: id,
                rule,
                reason: reason::DELETE,
            }));
        }
        removed
    }

    /// Applies a group mod; the flows that used a deleted group go with it,
    /// as in OVS. Returns those flows.
    pub fn apply_group_mod(&mut self, gm: GroupMod) -> Result<Vec<Removed>, OfError> {
        let gone = self.groups.apply_group_mod(gm)?;
        // A group's buckets are any rule's actions: everything may change.
        self.version += 1;
        self.changes.record_all(self.version);
        Ok(self.remove_using(|a| gone.iter().any(|g| actions::uses_group(a, *g)), reason::GROUP_DELETE))
    }

    /// Applies a meter mod; a deleted meter takes the rules that use it
    /// with it, as in OVS.
    pub fn apply_meter_mod(&mut self, command: u16, m: crate::group::Meter) -> Result<Vec<Removed>, OfError> {
        let gone = self.groups.apply_meter_mod(command, m)?;
        self.version += 1;
        self.changes.record_all(self.version);
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.remove_using(|a| gone.iter().any(|m| actions::uses_meter(a, *m)), reason::METER_DELETE))
    }

    /// Removes the rules whose actions satisfy `uses`, for `why`.
    fn remove_using(&mut self, uses: impl Fn(&[Action]) -> bool, why: u8) -> Vec<Removed> {
        let mut removed = Vec::new();
        for (id, table) in self.chosen_mut(ALL_TABLES) {
            removed.extend(table.remove_where(|r| uses(&r.actions)).into_iter().map(|rule| Removed { table_id: id, rule, reason: why }));
        }
        self.version += 1;
        self.removed.extend(removed.iter().cloned());
        removed
    }

    /// NXT_TLV_TABLE_MOD: add (0), delete (1) or clear (2) `tun_metadata`
    /// mappings (index, class, type, length), all or none, with OVS's
    /// checks; a mapping a flow uses cannot go.
    pub fn tlv_mod(&mut self, command: u16, maps: &[(u8, u16, u8, u8)]) -> Result<(), OfError> {
        use crate::flowmatch::TUN_METADATA_FIELDS;
        let in_use = |index: u8| self.tables.iter().any(|t| t.iter().any(|r| r.m.tun_md.iter().any(|m| m.index == index)));
        let mut next = self.tlv.clone();
        match command {
            0 => {
                for &(index, class, ty, len) in maps {
                    if index >= TUN_METADATA_FIELDS {
                        return Err(OfError::Nicira(Nicira::TlvBadFieldIdx));
                    }
                    if len > 124 || len % 4 != 0 {
                        return Err(OfError::Nicira(Nicira::TlvBadOptLen));
                    }
                    if next.maps.contains_key(&index) {
                        return Err(OfError::Nicira(Nicira::TlvAlreadyMapped));
                    }
                    if next.maps.values().any(|&(c, t, _)| (c, t) == (class, ty)) {
                        return Err(OfError::Nicira(Nicira::TlvDupEntry));
                    }
                    next.maps.insert(index, (class, ty, len));
                    if next.maps.values().map(|&(_, _, l)| usize::from(l)).sum::<usize>() > 256 {
                        return Err(OfError::Nicira(Nicira::TlvTableFull));
                    }
                }
            }
            1 => {
                for &(index, ..) in maps {
                    if index >= TUN_METADATA_FIELDS {
                        return Err(OfError::Nicira(Nicira::TlvBadFieldIdx));
                    }
                    if next.maps.remove(&index).is_some() && in_use(index) {
                        return Err(OfError::Nicira(Nicira::InvalidTlvDel));
                    }
                }
            }
            2 => {
                if next.maps.keys().any(|&i| in_use(i)) {
                    return Err(OfError::Nicira(Nicira::InvalidTlvDel));
                }
                next.maps.clear();
            }
            _ => return Err(OfError::Nicira(Nicira::TlvBadCommand)),
        }
        self.tlv = next;
        Ok(())
    }

    /// Applies changes in order, all or none: on the first error the
    /// tables are as before and the error says which change failed. The
    /// version moves by one, so readers see the whole batch at once.
    pub fn apply_all(&mut self, changes: &[Change], now: Instant) -> Result<Vec<Removed>, (usize, OfError)> {
        let mut next = self.clone();
        let mut removed = Vec::new();
        for (i, c) in changes.iter().enumerate() {
            let r = match c {
                Change::Flow(fm) => next.apply(fm, now),
                Change::Group(gm) => next.apply_group_mod(gm.clone()),
                Change::Meter(command, meter) => next.apply_meter_mod(*command, meter.clone()),
                Change::TlvMap(command, maps) => next.tlv_mod(*command, maps).map(|()| Vec::new()),
            };
            removed.extend(r.map_err(|e| (i, e))?);
        }
        next.version = self.version + 1;
        *self = next;
        Ok(removed)
    }

    /// Removes rules whose idle or hard timeout has passed.
    pub fn expire(&mut self, now: Instant) -> Vec<Removed> {
        let why = |r: &Rule| {
            if r.hard_timeout != 0 && now.saturating_duration_since(r.created).as_secs() >= u64::from(r.hard_timeout) {
                Some(reason::HARD_TIMEOUT)
            } else if r.idle_timeout != 0 && now.saturating_duration_since(r.last_used()).as_secs() >= u64::from(r.idle_timeout) {
                Some(reason::IDLE_TIMEOUT)
            } else {
                None
            }
        };
        let mut removed = Vec::new();
        for (id, table) in self.chosen_mut(ALL_TABLES) {
            for rule in table.remove_where(|r| why(r).is_some()) {
                let reason = why(&rule).unwrap_or(reason::HARD_TIMEOUT);
                removed.push(Removed { table_id: id, rule, reason });
            }
        }
        if !removed.is_empty() {
            self.version += 1;
            for r in &removed {
                self.changes.record(self.version, &r.rule.m);
            }
            self.removed.extend(removed.iter().cloned());
        }
        removed
    }

    /// The rules removed since the last call, for FLOW_REMOVED messages.
    pub fn take_removed(&mut self) -> Vec<Removed> {
        std::mem::take(&mut self.removed)
    }
}

#[cfg(test)]
mod tests;
