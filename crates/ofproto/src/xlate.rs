//! Translation (xlate): a packet's flow key walks a bridge's OpenFlow
//! tables and comes out as datapath actions plus the mask of every bit of
//! the key the walk depended on — a megaflow (OVS's `ofproto-dpif-xlate`).
//!
//! # The walk
//!
//! The key is converted to the tables' storage layout ([`Flow`]). Each
//! table lookup goes through the table's [`Classifier`](crate::classifier::Classifier), which reports the
//! bits it examined; actions that read a field (`move`, `output:reg`,
//! `dec_ttl`, select groups) add theirs. Actions that change header fields
//! change the working flow and are turned into datapath set actions when
//! the packet next leaves (OVS's "commit"): every header field written is
//! set again, whatever the packet held, so the megaflow need not match on
//! it. VLAN changes compare the original tag with the new one and so
//! examine the tag.
//!
//! # What is not translated yet
//!
//! Actions the walk cannot carry out yet — connection tracking, NAT,
//! `learn`, enqueue, tunnels —
//! end the translation with an [`Xlated::error`]:
//! the packet is dropped and counted, never forwarded as if the action had
//! happened. Rules matching `tun_metadata` never match (the key's Geneve
//! options are not mapped to the TLV table yet). NORMAL is
//! [`crate::normal`]'s.

use std::collections::HashMap;
use std::sync::Arc;

use dataplane::key::{Field, FieldAccess};
use dataplane::{Action as Dp, Credit, FlowKey, FlowMask, SetField};

use crate::actions::{Action, Subfield};
use crate::classifier::{Flow, Wildcards};
use crate::flowmatch::{be, field, put_be, slot, Mff, Slot, FLOW_LEN};
use crate::group::Group;
use crate::normal::Normal;
use crate::table::{Table, Tables, N_TABLES};

use crate::port;

/// Packet-in reasons (OpenFlow 1.3 numbering, as OVS keeps them).
pub mod reason {
    /// No matching rule (table miss).
    pub const NO_MATCH: u8 = 0;
    /// An explicit output to the controller.
    pub const ACTION: u8 = 1;
    /// TTL expired on `dec_ttl`.
    pub const INVALID_TTL: u8 = 2;
    /// Ours (OVS's `OFPR_EXPLICIT_MISS`): output to the controller from a
    /// table-miss flow (priority 0, matching everything). OpenFlow 1.3 and
    /// later call it "no match"; 1.0 calls it "action".
    pub const EXPLICIT_MISS: u8 = 0x80;
    /// Ours (OVS's `OFPR_IMPLICIT_MISS`): no rule matched and the switch's
    /// own table-miss sent the packet (OpenFlow 1.0 connections only).
    pub const IMPLICIT_MISS: u8 = 0x81;

    /// The reason as a connection of `version` sees it.
    pub fn on_wire(reason: u8, version: u8) -> u8 {
        match reason {
            IMPLICIT_MISS => NO_MATCH,
            EXPLICIT_MISS if version >= crate::wire::OFP13 => NO_MATCH,
            EXPLICIT_MISS => ACTION,
            r => r,
        }
    }
}

/// The most nested resubmits and goto_tables (OVS's `MAX_DEPTH`).
pub const MAX_DEPTH: u32 = 64;
/// The most table lookups one translation may make (OVS's `MAX_RESUBMITS`).
pub const MAX_LOOKUPS: u32 = 4096;

/// Why a translation could not be carried out: the packet is dropped and
/// counted ("packets dropped by failed translations"). A plain value, so
/// that a PMD thread's upcall formats nothing; the text is written when
/// someone reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XlateError {
    /// Past [`MAX_DEPTH`] nested tables or [`MAX_LOOKUPS`] lookups.
    TooDeep,
    /// Groups nested past [`MAX_DEPTH`].
    GroupsTooDeep,
    /// `controller(pause)`.
    ControllerPause,
    /// A second VLAN tag pushed.
    SecondVlan,
    /// A meter that does not exist.
    NoSuchMeter(u32),
    /// `ct`, `nat` or `ct_clear`.
    Conntrack,
    /// `learn`.
    Learn,
    /// `check_pkt_larger` in an action set.
    CheckPktLargerInActionSet,
    /// `enqueue`.
    Enqueue,
    /// `set_tunnel`.
    SetTunnel,
    /// `NORMAL` on a bridge without it.
    NoNormal,
    /// A pop from an empty stack, or a push past [`MAX_STACK`] entries.
    Stack,
}

/// The most values `push` may keep on the translation's stack.
pub const MAX_STACK: usize = 1024;

impl std::fmt::Display for XlateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XlateError::TooDeep => write!(f, "translation went deeper than {MAX_DEPTH} tables or past {MAX_LOOKUPS} lookups (a loop?)"),
            XlateError::GroupsTooDeep => write!(f, "groups nested deeper than {MAX_DEPTH}"),
            XlateError::ControllerPause => f.write_str("controller(pause) is not supported by ferrovs yet"),
            XlateError::SecondVlan => f.write_str("pushing a second VLAN tag is not supported by ferrovs yet"),
            XlateError::NoSuchMeter(id) => write!(f, "meter {id} does not exist"),
            XlateError::Conntrack => f.write_str("connection tracking (ct, nat, ct_clear) is not supported by ferrovs yet"),
            XlateError::Learn => f.write_str("learn is not supported by ferrovs' datapath yet"),
            XlateError::CheckPktLargerInActionSet => f.write_str("check_pkt_larger in an action set"),
            XlateError::Enqueue => f.write_str("enqueue (QoS queues) is not supported by ferrovs yet"),
            XlateError::SetTunnel => f.write_str("set_tunnel is not supported by ferrovs yet (no tunnel ports)"),
            XlateError::NoNormal => f.write_str("NORMAL is not available on this bridge"),
            XlateError::Stack => write!(f, "pop from an empty stack, or a push past {MAX_STACK} values"),
        }
    }
}

/// A port of the bridge as translation sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XPort {
    /// OpenFlow port number.
    pub ofport: u16,
    /// Datapath port number.
    pub odp: u32,
    /// `OFPPC_NO_FLOOD` is set.
    pub no_flood: bool,
    /// `OFPPC_NO_FWD` is set (or the port is down): nothing is sent to it.
    pub no_fwd: bool,
}

/// What a packet-in sent through the slow path carries, encoded into the
/// datapath's `userspace` action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToController {
    /// Why.
    pub reason: u8,
    /// The table the rule was in.
    pub table_id: u8,
    /// The rule's cookie (`u64::MAX` on a miss).
    pub cookie: u64,
    /// Bytes of the packet to send (`0xffff`: all).
    pub max_len: u16,
    /// The controller id to send to (0: all).
    pub controller_id: u16,
    /// `controller(userdata=...)`.
    pub userdata: Vec<u8>,
}

impl ToController {
    /// The bytes of the `userspace` action: a tag, the fixed fields, the
    /// user data.
    pub fn encode(&self) -> Arc<[u8]> {
        let mut b = vec![b'C', self.reason, self.table_id];
        b.extend_from_slice(&self.cookie.to_be_bytes());
        b.extend_from_slice(&self.max_len.to_be_bytes());
        b.extend_from_slice(&self.controller_id.to_be_bytes());
        b.extend_from_slice(&self.userdata);
        b.into()
    }

    /// Reads what [`encode`](ToController::encode) wrote; `None` for other
    /// user data.
    pub fn decode(b: &[u8]) -> Option<ToController> {
        if b.len() < 15 || b[0] != b'C' {
            return None;
        }
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let mut cookie = [0u8; 8];
        cookie.copy_from_slice(&b[3..11]);
        Some(ToController {
            reason: b[1],
            table_id: b[2],
            cookie: u64::from_be_bytes(cookie),
            max_len: u16_at(11),
            controller_id: u16_at(13),
            userdata: b[15..].to_vec(),
        })
    }
}

/// An immutable snapshot of a bridge for translation: its tables built
/// into classifiers, its groups and its ports. Built by the control thread
/// after the tables change, read by every PMD thread's upcalls.
#[derive(Debug)]
pub struct Pipeline {
    /// Snapshots of the tables (sharing their maps with the originals).
    tables: Vec<Table>,
    groups: HashMap<u32, Group>,
    meters: HashMap<u32, Arc<dataplane::Meter>>,
    ports: Vec<XPort>,
    by_odp: HashMap<u32, usize>,
    by_ofport: HashMap<u16, usize>,
    version: u64,
    /// OpenFlow 1.0's table-miss: send to the controller (else drop).
    miss_to_controller: bool,
    normal: Option<Normal>,
}

/// The result of a translation.
#[derive(Debug, Default)]
pub struct Xlated {
    /// Datapath actions; empty means drop.
    pub actions: Vec<Dp>,
    /// Every key bit the translation depended on.
    pub mask: FlowMask,
    /// The counters of the rules the walk went through.
    pub credits: Vec<Arc<Credit>>,
    /// Why the translation could not be carried out (the packet is dropped).
    pub error: Option<XlateError>,
}

impl Pipeline {
    /// Builds the snapshot of `tables` with `ports`.
    pub fn new(tables: &Tables, ports: Vec<XPort>, miss_to_controller: bool, normal: Option<Normal>) -> Pipeline {
        let last = (0..N_TABLES).rev().find(|&t| !tables.table(t as u8).is_empty()).map_or(0, |t| t + 1);
        let xtables = (0..last).map(|t| tables.table(t as u8).clone()).collect();
        let by_odp = ports.iter().enumerate().map(|(i, p)| (p.odp, i)).collect();
        let by_ofport = ports.iter().enumerate().map(|(i, p)| (p.ofport, i)).collect();
        Pipeline {
            tables: xtables,
            groups: tables.groups.groups.iter().map(|(id, g)| (*id, g.clone())).collect(),
            meters: tables.groups.meter_state.iter().map(|(id, m)| (*id, Arc::clone(m))).collect(),
            ports,
            by_odp,
            by_ofport,
            version: tables.version(),
            miss_to_controller,
            normal,
        }
    }

    /// The tables' version this snapshot was built from.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The ports.
    pub fn ports(&self) -> &[XPort] {
        &self.ports
    }

    /// The OpenFlow port of datapath port `odp`.
    pub fn ofport(&self, odp: u32) -> Option<u16> {
        self.by_odp.get(&odp).map(|&i| self.ports[i].ofport)
    }

    /// The datapath port of OpenFlow port `ofport`.
    pub fn odp(&self, ofport: u16) -> Option<u32> {
        self.by_ofport.get(&ofport).map(|&i| self.ports[i].odp)
    }

    /// Translates a packet with `key` (its `in_port` a datapath port).
    /// NORMAL learns source MACs when `may_learn` (a packet's upcall, not
    /// a revalidation).
    pub fn translate(&self, key: &FlowKey, may_learn: bool) -> Xlated {
        self.translate_from(key, 0, &[], may_learn, None, None)
    }

    /// Translates as [`Pipeline::translate`] does without learning, and
    /// writes each table visited, the rule hit and the actions it ran
    /// (`ofproto/trace`), one line each, nested lookups indented.
    /// `in_port` is the packet's OpenFlow port (the key's `in_port` is
    /// not looked at), so that ports the datapath lacks can be traced.
    pub fn trace(&self, key: &FlowKey, in_port: u16) -> (Xlated, Vec<String>) {
        let mut lines = Vec::new();
        let x = self.translate_from(key, 0, &[], false, Some(in_port), Some(&mut lines));
        (x, lines)
    }

    /// Translates `actions` (a PACKET_OUT's) for a packet with `key`
    /// received on OpenFlow port `in_port` (a reserved port such as
    /// `CONTROLLER` included); `output:TABLE` submits it to table 0.
    pub fn translate_actions(&self, key: &FlowKey, in_port: u16, actions: &[Action]) -> Xlated {
        self.translate_from(key, u8::MAX, actions, true, Some(in_port), None)
    }

    fn translate_from(
        &self,
        key: &FlowKey,
        table: u8,
        actions: &[Action],
        may_learn: bool,
        in_port: Option<u16>,
        trace: Option<&mut Vec<String>>,
    ) -> Xlated {
        let mut flow = to_flow(key, self);
        if let Some(p) = in_port {
            put_be(&mut flow[slot::IN_PORT.range()], u128::from(p));
        }
        let mut x = Walk {
            p: self,
            may_learn,
            base: flow,
            flow,
            wc: [0; FLOW_LEN],
            written: [0; FLOW_LEN],
            vlan_tpid: key.get(Field::VLAN0_TPID) as u16,
            base_tpid: key.get(Field::VLAN0_TPID) as u16,
            out: Vec::new(),
            credits: Vec::new(),
            depth: 0,
            lookups: 0,
            error: None,
            action_set: Vec::new(),
            stack: Vec::new(),
            stopped: false,
            table: 0,
            in_miss_flow: false,
            trace,
            indent: 0,
        };
        if table == u8::MAX {
            x.run(actions);
        } else {
            x.table(table);
            x.finish_action_set();
        }
        let mut mask = to_mask(&x.wc);
        mask.exact(Field::IN_PORT).exact(Field::RECIRC_ID);
        if key.get(Field::RECIRC_ID) == 0 {
            // A packet fresh from a port has no registers or metadata: the
            // values the tables examined there are the translation's own.
            for w in &mut mask.words[dataplane::key::word::METADATA..dataplane::key::word::CT] {
                *w = 0;
            }
        }
        // A failed translation's megaflow drops its packets under their
        // own counter (`pmd-stats-show`), and says so in dump-flows.
        let actions = if x.error.is_some() { vec![Dp::DropXlateError] } else { x.out };
        Xlated { actions, mask, credits: x.credits, error: x.error }
    }
}

/// One translation in progress.
struct Walk<'a> {
    p: &'a Pipeline,
    may_learn: bool,
    /// The packet as the datapath holds it (after the actions emitted).
    base: Flow,
    /// The packet as the actions so far have made it.
    flow: Flow,
    wc: Wildcards,
    /// Header bits written since the last commit.
    written: Flow,
    vlan_tpid: u16,
    base_tpid: u16,
    out: Vec<Dp>,
    credits: Vec<Arc<Credit>>,
    depth: u32,
    lookups: u32,
    error: Option<XlateError>,
    /// OpenFlow 1.1+'s action set (`write_actions`).
    action_set: Vec<Action>,
    /// The values `push` saved, latest last.
    stack: Vec<u128>,
    /// `exit`, or an error: nothing more runs.
    stopped: bool,
    /// The table being walked.
    table: u8,
    /// Whether the rule running is a table-miss flow.
    in_miss_flow: bool,
    /// `ofproto/trace`'s lines, when tracing, and their indentation:
    /// a rule's actions one level in, and a lookup a rule ends with (a
    /// tail resubmit or goto_table) at the rule's own level, as OVS does.
    trace: Option<&'a mut Vec<String>>,
    indent: usize,
}

impl Walk<'_> {
    fn fail(&mut self, why: XlateError) {
        self.note(|| format!(">>>> {why} <<<<"));
        if self.error.is_none() {
            self.error = Some(why);
        }
        self.stopped = true;
    }

    /// Adds a line to the trace, indented for the current nesting.
    fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_deref_mut() {
            t.push(format!("{:width$}{}", "", line(), width = 4 * self.indent));
        }
    }

    /// Reads a slot, marking it examined.
    fn read(&mut self, s: Slot) -> u128 {
        for b in &mut self.wc[s.range()] {
            *b = 0xff;
        }
        be(&self.flow[s.range()])
    }

    fn slot(&self, s: Slot) -> u128 {
        be(&self.flow[s.range()])
    }

    fn set_slot(&mut self, s: Slot, value: u128) {
        put_be(&mut self.flow[s.range()], value);
    }

    fn in_port(&self) -> u16 {
        self.slot(slot::IN_PORT) as u16
    }

    /// Looks the flow up in `table` and runs the rule it hits.
    fn table(&mut self, table: u8) {
        if self.stopped {
            return;
        }
        self.lookups += 1;
        if self.depth >= MAX_DEPTH || self.lookups > MAX_LOOKUPS {
            self.fail(XlateError::TooDeep);
            return;
        }
        let Some(t) = self.p.tables.get(usize::from(table)) else {
            self.miss(table);
            return;
        };
        let (hit, wc) = t.classifier().lookup(&self.flow);
        self.examined(&wc);
        let hit = self.conjunctive_match(t, hit);
        let Some(rule) = hit.and_then(|(priority, id)| t.rule_by_id(priority, id)) else {
            self.miss(table);
            return;
        };
        self.note(|| {
            let m = crate::text::match_text(&rule.m);
            let cookie = if rule.cookie == 0 { String::new() } else { format!(", cookie {:#x}", rule.cookie) };
            format!("{table:2}. {}{}priority {}{cookie}", m, if m.is_empty() { "" } else { ", " }, rule.priority)
        });
        self.credits.push(Arc::clone(&rule.credit));
        let saved = self.table;
        self.table = table;
        self.depth += 1;
        let saved_miss = self.in_miss_flow;
        self.in_miss_flow = rule.priority == 0 && rule.m.wc.iter().all(|&b| b == 0) && rule.m.tun_md.is_empty();
        self.run_rule(&rule.actions, rule.cookie);
        self.in_miss_flow = saved_miss;
        self.depth -= 1;
        self.table = saved;
    }

    /// Adds bits a lookup looked at.
    fn examined(&mut self, wc: &Wildcards) {
        for (w, m) in self.wc.iter_mut().zip(wc) {
            *w |= m;
        }
    }

    /// Conjunctive matches, as OVS: conjunctive rules of higher priority
    /// than the ordinary `hit` are clauses. At the highest such priority
    /// the packet hits, a conjunction all of whose clauses it hits sets
    /// `conj_id` for a new lookup, whose hit is the answer; if no
    /// conjunction is complete (or its `conj_id` finds nothing), the
    /// search goes on below that priority. Every rule looked at adds the
    /// bits it examined.
    fn conjunctive_match(&mut self, t: &Table, hit: Option<(u16, u64)>) -> Option<(u16, u64)> {
        if t.conjunctive().is_empty() {
            return hit;
        }
        let mut cap = None;
        loop {
            let (clause, wc) = t.conjunctive().lookup_below(&self.flow, cap);
            self.examined(&wc);
            let Some((priority, _)) = clause.filter(|(p, _)| hit.is_none_or(|(h, _)| *p > h)) else {
                return hit;
            };
            let mut conjunctions: std::collections::BTreeMap<u32, (u8, u64)> = std::collections::BTreeMap::new();
            for id in t.conjunctive().hits_at(&self.flow, priority, &mut self.wc) {
                for a in t.rule_by_id(priority, id).map_or(&[][..], |r| &r.actions[..]) {
                    if let Action::Conjunction { id, clause, n_clauses } = a {
                        conjunctions.entry(*id).or_insert((*n_clauses, 0)).1 |= 1u64 << (clause & 63);
                    }
                }
            }
            let mut best: Option<(u16, u64)> = None;
            for (id, (n, seen)) in conjunctions {
                if seen.count_ones() < u32::from(n) {
                    continue;
                }
                self.set_slot(slot::CONJ_ID, u128::from(id));
                let (found, wc) = t.classifier().lookup(&self.flow);
                self.examined(&wc);
                if found.is_some_and(|(p, _)| best.is_none_or(|(b, _)| p > b)) {
                    best = found;
                }
            }
            self.set_slot(slot::CONJ_ID, 0);
            if best.is_some() {
                return best;
            }
            cap = Some(priority);
        }
    }

    fn miss(&mut self, table: u8) {
        self.note(|| format!("{table:2}. No match."));
        if self.p.miss_to_controller && self.depth == 0 {
            self.packet_in(ToController {
                reason: reason::IMPLICIT_MISS,
                table_id: table,
                cookie: u64::MAX,
                max_len: 128,
                controller_id: 0,
                userdata: Vec::new(),
            });
        }
    }

    fn run_rule(&mut self, actions: &[Action], cookie: u64) {
        let mut goto = None;
        let level = self.indent;
        for (i, a) in actions.iter().enumerate() {
            if self.stopped {
                break;
            }
            self.indent = level + 1;
            self.note(|| crate::text::action_text(a));
            if i + 1 == actions.len() && matches!(a, Action::Resubmit { .. }) {
                self.indent = level;
            }
            match a {
                Action::CheckPktLarger { pkt_len, dst } => self.check_pkt_larger(*pkt_len, dst, &actions[i + 1..], Some(cookie)),
                Action::GotoTable(t) => goto = Some(*t),
                Action::ClearActions => self.action_set.clear(),
                Action::WriteActions(list) => self.write_actions(list),
                Action::WriteMetadata { value, mask } => {
                    let m = self.slot(slot::METADATA);
                    self.set_slot(slot::METADATA, (m & !u128::from(*mask)) | u128::from(value & mask));
                }
                Action::Controller { .. } | Action::Output { port: port::CONTROLLER, .. } => self.action(a, cookie),
                _ => self.action(a, 0),
            }
        }
        self.indent = level;
        if let Some(t) = goto {
            self.table(t);
        }
    }

    /// Runs an action list (a PACKET_OUT's, a bucket's, the action set).
    fn run(&mut self, actions: &[Action]) {
        for (i, a) in actions.iter().enumerate() {
            if self.stopped {
                return;
            }
            self.note(|| crate::text::action_text(a));
            match a {
                Action::CheckPktLarger { pkt_len, dst } => self.check_pkt_larger(*pkt_len, dst, &actions[i + 1..], None),
                _ => self.action(a, 0),
            }
        }
    }

    fn write_actions(&mut self, list: &[Action]) {
        // One action of each kind: a later write replaces an earlier one.
        for a in list {
            let same = |b: &Action| match (a, b) {
                (Action::SetField { field: f, .. }, Action::SetField { field: g, .. }) => f == g,
                _ => std::mem::discriminant(a) == std::mem::discriminant(b),
            };
            self.action_set.retain(|b| !same(b));
            self.action_set.push(a.clone());
        }
    }

    /// Runs the action set at the end of the pipeline: everything but
    /// output and group first, then the group, else the output.
    fn finish_action_set(&mut self) {
        let set = std::mem::take(&mut self.action_set);
        let last = |a: &Action| matches!(a, Action::Output { .. } | Action::Group(_));
        let (ends, rest): (Vec<&Action>, Vec<&Action>) = set.iter().partition(|a| last(a));
        for a in rest {
            self.action(a, 0);
        }
        let end = ends.iter().find(|a| matches!(a, Action::Group(_))).or_else(|| ends.first());
        if let Some(a) = end {
            self.action(a, 0);
        }
    }

    fn action(&mut self, a: &Action, cookie: u64) {
        match a {
            Action::Output { port, max_len } => self.output(*port, *max_len, cookie),
            Action::OutputReg { src, max_len } => {
                let port = self.read_subfield(src) as u16;
                self.output(port, *max_len, cookie);
            }
            Action::Controller { max_len, id, reason, userdata, pause, .. } => {
                if *pause {
                    self.fail(XlateError::ControllerPause);
                    return;
                }
                self.packet_in(ToController {
                    reason: *reason,
                    table_id: self.table,
                    cookie,
                    max_len: *max_len,
                    controller_id: *id,
                    userdata: userdata.clone(),
                });
            }
            Action::Resubmit { in_port, table, .. } => {
                let table = if *table == 0xff { self.table } else { *table };
                let saved = self.in_port();
                if *in_port != port::IN_PORT {
                    self.set_slot(slot::IN_PORT, u128::from(*in_port));
                }
                self.table(table);
                self.set_slot(slot::IN_PORT, u128::from(saved));
            }
            Action::GotoTable(t) => self.table(*t),
            Action::SetField { field: f, value, mask, .. } => self.set_field(*f, *value, *mask),
            Action::RegMove { src, dst } => {
                let v = self.read_subfield(src);
                let mask = bits(dst.n_bits) << dst.ofs;
                self.set_field(dst.field, v << dst.ofs, mask);
            }
            Action::Clone(inner) => self.clone_actions(inner),
            Action::StackPush(sf) => {
                let v = self.read_subfield(sf);
                if self.stack.len() >= MAX_STACK {
                    self.fail(XlateError::Stack);
                    return;
                }
                self.stack.push(v);
            }
            Action::StackPop(sf) => match self.stack.pop() {
                Some(v) => {
                    let mask = bits(sf.n_bits) << sf.ofs;
                    self.set_field(sf.field, (v & bits(sf.n_bits)) << sf.ofs, mask);
                }
                None => self.fail(XlateError::Stack),
            },
            Action::SetEthSrc(m) => self.set_field(Mff::EthSrc, be(m), u128::MAX),
            Action::SetEthDst(m) => self.set_field(Mff::EthDst, be(m), u128::MAX),
            Action::SetIpv4Src(a) => self.set_field(Mff::Ipv4Src, u128::from(*a), u128::MAX),
            Action::SetIpv4Dst(a) => self.set_field(Mff::Ipv4Dst, u128::from(*a), u128::MAX),
            Action::SetIpDscp(d) => self.set_field(Mff::IpDscpShifted, u128::from(*d >> 2), u128::MAX),
            Action::SetIpEcn(e) => self.set_field(Mff::IpEcn, u128::from(*e), u128::MAX),
            Action::SetIpTtl(t) => self.set_field(Mff::IpTtl, u128::from(*t), u128::MAX),
            Action::SetL4Src(p) => self.set_field(Mff::TcpSrc, u128::from(*p), u128::MAX),
            Action::SetL4Dst(p) => self.set_field(Mff::TcpDst, u128::from(*p), u128::MAX),
            Action::DecTtl { .. } => self.dec_ttl(),
            Action::SetVlanVid { vid, push } => self.set_vlan(u128::from(*vid & 0xfff), 0xfff, *push),
            Action::SetVlanPcp { pcp, push } => self.set_vlan(u128::from(*pcp & 7) << 13, 0xe000, *push),
            Action::StripVlan { .. } => {
                self.set_slot(slot::VLAN_TCI, 0);
            }
            Action::PushVlan { ethertype } => {
                // A second tag is not represented in the tables' layout.
                if self.slot(slot::VLAN_TCI) & VLAN_CFI != 0 {
                    self.fail(XlateError::SecondVlan);
                    return;
                }
                self.vlan_tpid = *ethertype;
                self.set_slot(slot::VLAN_TCI, VLAN_CFI);
            }
            Action::Group(id) => self.group(*id),
            // Without an IPFIX collector set configured (ferrovs has no
            // IPFIX exporter), OVS's `sample` does nothing either.
            Action::Note(_) | Action::Sample(_) | Action::SetQueue(_) | Action::PopQueue => {}
            Action::Exit => self.stopped = true,
            Action::Meter(id) => match self.p.meters.get(id) {
                Some(m) => self.out.push(Dp::Meter(Arc::clone(m))),
                None => self.fail(XlateError::NoSuchMeter(*id)),
            },
            Action::WriteMetadata { .. } | Action::ClearActions | Action::WriteActions(_) => {}
            // Conjunctive rules are clauses, never run (`conjunctive_match`).
            Action::Conjunction { .. } => {}
            Action::Ct { .. } | Action::Nat { .. } | Action::CtClear => self.fail(XlateError::Conntrack),
            Action::Learn(_) => self.fail(XlateError::Learn),
            // Forked by `run` and `run_rule`; an action set cannot hold it.
            Action::CheckPktLarger { .. } => self.fail(XlateError::CheckPktLargerInActionSet),
            Action::Enqueue { .. } => self.fail(XlateError::Enqueue),
            Action::SetTunnel { .. } => self.fail(XlateError::SetTunnel),
        }
    }

    fn read_subfield(&mut self, sf: &Subfield) -> u128 {
        let f = field(sf.field);
        or_bits(&mut self.wc, f.slot, (bits(sf.n_bits) << sf.ofs << f.shift) & f.cover);
        ((self.slot(f.slot) & f.cover) >> f.shift >> sf.ofs) & bits(sf.n_bits)
    }

    fn set_field(&mut self, f: Mff, value: u128, mask: u128) {
        let f = field(f);
        let (value, mask) = match f.id {
            // The TOS byte holds DSCP in its high six bits.
            Mff::IpDscp | Mff::IpDscpShifted => ((value & 0x3f) << 2, (mask & 0x3f) << 2),
            Mff::VlanVid if value & VLAN_CFI != 0 || mask == u128::MAX => {
                // OpenFlow 1.2+ vlan_vid carries OFPVID_PRESENT.
                self.set_vlan(value & 0xfff, (mask & 0xfff) | if mask == u128::MAX { 0xfff } else { 0 }, false);
                return;
            }
            Mff::VlanPcp => {
                self.set_vlan((value & 7) << 13, 0xe000, false);
                return;
            }
            _ => ((value << f.shift) & f.cover, (mask << f.shift) & f.cover),
        };
        if f.id == Mff::IpDscp || f.id == Mff::IpDscpShifted {
            let old = self.slot(slot::NW_TOS);
            self.set_slot(slot::NW_TOS, (old & !mask) | (value & mask));
            self.mark_written(slot::NW_TOS, mask);
            return;
        }
        let old = self.slot(f.slot);
        self.set_slot(f.slot, (old & !mask) | (value & mask));
        self.mark_written(f.slot, mask);
    }

    fn mark_written(&mut self, s: Slot, mask: u128) {
        or_bits(&mut self.written, s, mask);
    }

    fn set_vlan(&mut self, value: u128, mask: u128, push: bool) {
        let tci = self.slot(slot::VLAN_TCI);
        if tci & VLAN_CFI == 0 {
            if !push {
                return;
            }
            self.vlan_tpid = 0x8100;
            self.set_slot(slot::VLAN_TCI, VLAN_CFI | (value & mask));
            return;
        }
        self.set_slot(slot::VLAN_TCI, (tci & !mask) | (value & mask) | VLAN_CFI);
    }

    fn dec_ttl(&mut self) {
        let dl_type = self.read(slot::DL_TYPE);
        if dl_type != 0x0800 && dl_type != 0x86dd {
            return;
        }
        let ttl = self.read(slot::NW_TTL);
        if ttl <= 1 {
            // As OVS: the controller hears of it, nothing else happens.
            self.packet_in(ToController {
                reason: reason::INVALID_TTL,
                table_id: self.table,
                cookie: 0,
                max_len: 0xffff,
                controller_id: 0,
                userdata: Vec::new(),
            });
            self.stopped = true;
            return;
        }
        self.set_slot(slot::NW_TTL, ttl - 1);
        self.mark_written(slot::NW_TTL, 0xff);
    }
}

/// Sets the bits `mask` (a slot value) of slot `s` in `bytes`.
fn or_bits(bytes: &mut Flow, s: Slot, mask: u128) {
    let old = be(&bytes[s.range()]);
    put_be(&mut bytes[s.range()], old | mask);
}

fn bits(n: u16) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

mod fork;
mod output;
mod view;
use view::VLAN_CFI;
pub use view::{from_flow, from_mask, to_flow, to_mask};

#[cfg(test)]
mod tests;
