//! One `Logical_Flow` row on one datapath → the OpenFlow rules
//! `ovn-controller` 23.03 installs for it (`controller/lflow.c`,
//! `consider_logical_flow__`), as `ofproto` flow mods:
//!
//! 1. A flow tagged `in_out_port` for a port that is not local here is
//!    left out (the agent's first filter).
//! 2. Its actions are parsed for its pipeline and table (their
//!    prerequisites kept); its match is parsed (address sets and the
//!    datapath's port groups resolved), ANDed with those prerequisites,
//!    annotated, simplified, `is_chassis_resident()` decided here,
//!    normalized and converted to matches.
//! 3. The actions are encoded, with the flow's UUID (for the groups and
//!    meters they use) and its controller meter.
//! 4. Each match gets `metadata` = the datapath's key. On a switch, a
//!    match on an ingress `inport` (egress `outport`) that is not local
//!    is left out. A plain match is a rule in table first + `table_id`,
//!    at the flow's priority, with cookie = the UUID's first 32 bits and
//!    the actions; a conjunction clause is a rule with cookie 0 and its
//!    `conjunction(id, k/n)` actions, the ids offset by the range
//!    allocated to the flow on this datapath ([`ConjIds`], as
//!    `lflow-conj-ids.c`: from a hash of the two UUIDs).
//!
//! A flow whose match or actions do not parse is an error
//! ([`CompileError`]): the caller skips it and goes on with the others.

use std::collections::BTreeMap;

use ofproto::actions::Action;
use ofproto::flowmatch::{field, Mff};
use ofproto::table::FlowMod;

use crate::actions::{self, EncodeParams, GenOpt, IdTables, LookupTables, ParseParams, Pipeline, LOG_DNAT_ZONE};
use crate::expr::{self, Sets};
use crate::symtab::Symtab;

/// Logical tables in a pipeline (`LOG_PIPELINE_LEN`).
pub const LOG_PIPELINE_LEN: u8 = 29;
/// The first table of the ingress pipeline.
pub const INGRESS_PTABLE: u8 = 8;
/// The first table of the egress pipeline.
pub const EGRESS_PTABLE: u8 = 42;
/// Where ingress `output` goes (`OFTABLE_OUTPUT_INIT`).
pub const OUTPUT_INIT_PTABLE: u8 = 37;
/// Where egress `output` goes (`OFTABLE_SAVE_INPORT`).
pub const SAVE_INPORT_PTABLE: u8 = 64;
/// The SNAT zone's register, the common NAT zone of a datapath with
/// `snat-ct-zone` set.
const LOG_SNAT_ZONE: u8 = 12;

/// A `Logical_Flow` row, as the compiler needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalFlow {
    /// Its UUID.
    pub uuid: u128,
    /// Its pipeline.
    pub pipeline: Pipeline,
    /// Its logical table.
    pub table_id: u8,
    /// Its priority.
    pub priority: u16,
    /// Its `match` column.
    pub match_text: String,
    /// Its `actions` column.
    pub actions: String,
    /// Its `controller_meter` column, if set.
    pub controller_meter: Option<String>,
    /// Its `tags:in_out_port`, if set.
    pub in_out_port: Option<String>,
}

/// A `Datapath_Binding` row, as the compiler needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datapath {
    /// Its UUID.
    pub uuid: u128,
    /// Its tunnel key.
    pub tunnel_key: u32,
    /// A logical switch (else a router).
    pub is_switch: bool,
    /// `external_ids:snat-ct-zone` is set: the common NAT zone is the
    /// SNAT zone.
    pub snat_ct_zone: bool,
}

/// What the compiler asks of the chassis and the Southbound database.
pub trait Local {
    /// The datapath and tunnel key of the port binding `name`.
    fn port_binding(&self, name: &str) -> Option<(u128, u32)>;
    /// The tunnel key of multicast group `name` on datapath `dp`.
    fn multicast_group(&self, dp: u128, name: &str) -> Option<u32>;
    /// Whether port `name` is resident on this chassis.
    fn is_resident(&self, name: &str) -> bool;
    /// Whether the port with `port_key` on the datapath with `dp_key` is
    /// local here or related to one that is (`related_lport_ids`).
    fn is_related(&self, dp_key: u32, port_key: u32) -> bool;
    /// The OpenFlow port of the tunnel to the chassis of port `name`.
    fn tunnel_ofport(&self, name: &str) -> Option<u16>;
}

/// What does not change from flow to flow.
#[derive(Debug)]
pub struct Context<'a> {
    /// The symbol table.
    pub symtab: &'a Symtab,
    /// Address sets and port groups (`dp_id` is set for each flow).
    pub sets: Sets,
    /// `DHCP_Options`.
    pub dhcp_opts: Vec<GenOpt>,
    /// `DHCPv6_Options`.
    pub dhcpv6_opts: Vec<GenOpt>,
    /// OVN's router-advertisement options.
    pub nd_ra_opts: Vec<GenOpt>,
    /// OVN's `empty_lb_backends` options.
    pub event_opts: Vec<GenOpt>,
    /// The IPFIX collector sets configured.
    pub collector_ids: Vec<u32>,
    /// The datapath has meters.
    pub meters: bool,
    /// The datapath hashes L4 symmetrically.
    pub dp_hash_l4_sym: bool,
    /// The datapath's conntrack can SNAT to all-zero.
    pub ct_zero_snat: bool,
}

/// Why a flow was not compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// Its actions do not parse.
    #[error("error parsing actions \"{text}\": {error}")]
    Actions {
        /// The actions.
        text: String,
        /// OVN's error.
        error: String,
    },
    /// Its match does not parse.
    #[error("error parsing match \"{text}\": {error}")]
    Match {
        /// The match.
        text: String,
        /// OVN's error.
        error: String,
    },
    /// Its logical table is past the pipeline's last.
    #[error("logical table {0} is past the pipeline's last ({last})", last = LOG_PIPELINE_LEN - 1)]
    Table(u8),
    /// No range of conjunction ids is free.
    #[error("32-bit conjunction ids exhausted")]
    ConjIdsExhausted,
}

/// OVS's `hash_int(x, basis)` as Debian builds it (the portable
/// murmur-style hash, not the SSE 4.2 CRC).
fn hash_int(x: u32, basis: u32) -> u32 {
    fn add(hash: u32, data: u32) -> u32 {
        let mut h = hash;
        if data != 0 {
            h ^= data.wrapping_mul(0xcc9e_2d51).rotate_left(15).wrapping_mul(0x1b87_3593);
        }
        h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
    }
    let mut h = add(add(x, 0), basis) ^ 8;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The conjunction ids in use, each flow and datapath holding a range.
#[derive(Debug, Default, Clone)]
pub struct ConjIds {
    ranges: BTreeMap<u32, (u128, u128, u32)>,
    by_flow: BTreeMap<(u128, u128), (u32, u32)>,
}

impl ConjIds {
    /// `n` consecutive ids for `flow` on datapath `dp` (freeing what it
    /// held): from the hash of their UUIDs' first words if free, else
    /// the next free range after it; `None` if there is none.
    pub fn alloc(&mut self, flow: u128, dp: u128, n: u32) -> Option<u32> {
        self.free(flow, dp);
        let start = self.free_range(hash_int((flow >> 96) as u32, (dp >> 96) as u32), n)?;
        self.ranges.insert(start, (flow, dp, n));
        self.by_flow.insert((flow, dp), (start, n));
        Some(start)
    }

    /// The first `n` free ids from `hint` on (0 is no id), past the top
    /// from 1 again.
    fn free_range(&self, hint: u32, n: u32) -> Option<u32> {
        if n == 0 {
            return None;
        }
        let initial = hint.max(1);
        let (mut start, mut wrapped) = (initial, false);
        loop {
            if wrapped && start >= initial {
                return None;
            }
            let next = match start.checked_add(n - 1) {
                None => None,
                Some(end) => match self.ranges.range(..=end).next_back() {
                    // A range in the way (the gaps before it are too
                    // small): on after it.
                    Some((&s, r)) if u64::from(s) + u64::from(r.2) > u64::from(start) => s.checked_add(r.2),
                    _ => return Some(start),
                },
            };
            start = match next {
                Some(next) => next,
                None if wrapped => return None,
                None => {
                    wrapped = true;
                    1
                }
            };
        }
    }

    /// Frees the ids of `flow` on `dp`.
    pub fn free(&mut self, flow: u128, dp: u128) {
        if let Some((start, _)) = self.by_flow.remove(&(flow, dp)) {
            self.ranges.remove(&start);
        }
    }
}

/// The compiler's state across flows: group and meter ids, conjunction
/// ids, and what it skipped.
#[derive(Debug, Default)]
pub struct Compiler {
    /// Groups and meters.
    pub ids: IdTables,
    /// Conjunction ids.
    pub conj_ids: ConjIds,
    /// Flows compiled.
    pub compiled: u64,
    /// Flows skipped for an error.
    pub skipped: u64,
}

/// `name`'s tunnel key on `dp`, as `lookup_port_cb`: `none` is 0, then a
/// port binding on the datapath, then a multicast group.
fn port_key(local: &dyn Local, dp: &Datapath, name: &str) -> Option<u32> {
    if name == "none" {
        return Some(0);
    }
    match local.port_binding(name) {
        Some((pb_dp, key)) if pb_dp == dp.uuid => Some(key),
        _ => local.multicast_group(dp.uuid, name),
    }
}

impl Compiler {
    /// The rules of `lf` on `dp`; an error, counted, if it does not parse.
    pub fn compile(
        &mut self,
        lf: &LogicalFlow,
        dp: &Datapath,
        cx: &mut Context<'_>,
        local: &dyn Local,
    ) -> Result<Vec<FlowMod>, CompileError> {
        let result = self.compile_one(lf, dp, cx, local);
        match &result {
            Ok(_) => self.compiled += 1,
            Err(_) => self.skipped += 1,
        }
        result
    }

    fn compile_one(
        &mut self,
        lf: &LogicalFlow,
        dp: &Datapath,
        cx: &mut Context<'_>,
        local: &dyn Local,
    ) -> Result<Vec<FlowMod>, CompileError> {
        if let Some(port) = &lf.in_out_port {
            match local.port_binding(port) {
                Some((_, key)) if local.is_related(dp.tunnel_key, key) => {}
                _ => return Ok(Vec::new()),
            }
        }
        if lf.table_id >= LOG_PIPELINE_LEN {
            return Err(CompileError::Table(lf.table_id));
        }
        let ingress = lf.pipeline == Pipeline::Ingress;
        let first = if ingress { INGRESS_PTABLE } else { EGRESS_PTABLE };
        let pp = ParseParams {
            symtab: cx.symtab,
            n_tables: LOG_PIPELINE_LEN,
            cur_ltable: lf.table_id,
            pipeline: lf.pipeline,
            dhcp_opts: &cx.dhcp_opts,
            dhcpv6_opts: &cx.dhcpv6_opts,
            nd_ra_opts: &cx.nd_ra_opts,
            event_opts: &cx.event_opts,
        };
        let (acts, prereqs) =
            actions::parse(&lf.actions, &pp).map_err(|error| CompileError::Actions { text: lf.actions.clone(), error })?;

        cx.sets.dp_id = i64::from(dp.tunnel_key);
        let match_error = |error| CompileError::Match { text: lf.match_text.clone(), error };
        let mut e = expr::parse_str(&lf.match_text, cx.symtab, &cx.sets).map_err(match_error)?;
        if let Some(p) = prereqs {
            e = expr::Expr::combine(true, e, p);
        }
        let e = expr::annotate(e, cx.symtab).map_err(match_error)?;
        let e = expr::evaluate_condition(expr::simplify(e, cx.symtab), &|port| local.is_resident(port));
        let e = expr::normalize(e, cx.symtab);
        let lookup = |name: &str| port_key(local, dp, name);
        let matches = expr::to_matches(&e, cx.symtab, &lookup);
        if matches.list.is_empty() {
            return Ok(Vec::new());
        }
        let base = if matches.n_conjs > 0 {
            self.conj_ids.alloc(lf.uuid, dp.uuid, matches.n_conjs).ok_or(CompileError::ConjIdsExhausted)? - 1
        } else {
            0
        };

        let ctrl_meter_id = lf.controller_meter.as_ref().and_then(|m| self.ids.meters.assign(m, lf.uuid));
        let tunnel = |name: &str| match local.port_binding(name) {
            Some((pb_dp, _)) if pb_dp == dp.uuid => local.tunnel_ofport(name),
            _ => None,
        };
        let ep = EncodeParams {
            lookup_port: &lookup,
            is_switch: dp.is_switch,
            pipeline: lf.pipeline,
            ingress_ptable: INGRESS_PTABLE,
            egress_ptable: EGRESS_PTABLE,
            output_ptable: if ingress { OUTPUT_INIT_PTABLE } else { SAVE_INPORT_PTABLE },
            common_nat_ct_zone: if dp.snat_ct_zone { LOG_SNAT_ZONE } else { LOG_DNAT_ZONE },
            tables: LookupTables::OVN,
            tunnel_ofport: &tunnel,
            lflow_uuid: lf.uuid,
            dp_key: dp.tunnel_key,
            collector_ids: &cx.collector_ids,
            ctrl_meter_id,
            meters: cx.meters,
            dp_hash_l4_sym: cx.dp_hash_l4_sym,
            ct_zero_snat: cx.ct_zero_snat,
        };
        let mut ofpacts = actions::encode(&acts, cx.symtab, &ep, &mut self.ids);
        as_installed(&mut ofpacts);

        let table = first + lf.table_id;
        let port_reg = field(Mff::Reg(if ingress { 14 } else { 15 }));
        let metadata = u64::from(dp.tunnel_key).to_be_bytes();
        let conj_id = field(Mff::ConjId);
        let mut out = Vec::with_capacity(matches.list.len());
        for em in matches.list {
            let mut m = em.m;
            m.set(field(Mff::Metadata), &metadata, None);
            if dp.is_switch {
                let port = (m.slot_value(port_reg.slot) >> port_reg.shift) as u32;
                if port != 0 && !local.is_related(dp.tunnel_key, port) {
                    continue;
                }
            }
            if base != 0 && m.field_mask(conj_id) != 0 {
                let id = (m.slot_value(conj_id.slot) >> conj_id.shift) as u32;
                m.set(conj_id, &(id + base).to_be_bytes(), None);
            }
            let mut fm = if em.conjunctions.is_empty() {
                let mut fm = FlowMod::add(table, m, lf.priority, ofpacts.clone());
                fm.new_cookie = (lf.uuid >> 96) as u64;
                fm
            } else {
                let conj = em
                    .conjunctions
                    .iter()
                    .map(|c| Action::Conjunction { id: c.id + base, clause: c.clause, n_clauses: c.n_clauses })
                    .collect();
                FlowMod::add(table, m, lf.priority, conj)
            };
            fm.cookie = fm.new_cookie;
            out.push(fm);
        }
        Ok(out)
    }
}

/// Rules as a bridge holds them for a set of flows: the conjunction
/// clauses of different flows that are the same rule (table, priority,
/// match) merged into one holding all their `conjunction()` actions, in
/// order, as `ovn-controller`'s flow table does
/// (`ofctrl_add_or_append_flow`); other rules kept as they are. Rules are
/// merged as they are added, so the duplicates are never all held.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<FlowMod>,
    /// The clause rules kept, by a hash of (table, priority, match).
    clauses: std::collections::HashMap<u64, Vec<usize>>,
}

impl RuleSet {
    /// Adds `fm`, merged into an equal clause rule if there is one.
    pub fn add(&mut self, fm: FlowMod) {
        use std::hash::{Hash, Hasher};
        if fm.actions.is_empty() || !fm.actions.iter().all(|a| matches!(a, Action::Conjunction { .. })) {
            self.rules.push(fm);
            return;
        }
        let mut h = expr::WordHasher::default();
        (fm.table_id, fm.priority, &fm.m).hash(&mut h);
        let same = self.clauses.entry(h.finish()).or_default();
        let rules = &mut self.rules;
        match same.iter().find(|&&i| rules[i].table_id == fm.table_id && rules[i].priority == fm.priority && rules[i].m == fm.m) {
            // One flow's clauses are distinct; another's add to them.
            Some(&i) => rules[i].actions.extend(fm.actions),
            None => {
                same.push(rules.len());
                rules.push(fm);
            }
        }
    }

    /// The rules, in the order first added.
    pub fn rules(&self) -> &[FlowMod] {
        &self.rules
    }
}

/// `rules` as a [`RuleSet`] holds them.
pub fn merge_conjunctions(rules: Vec<FlowMod>) -> Vec<FlowMod> {
    let mut set = RuleSet::default();
    rules.into_iter().for_each(|fm| set.add(fm));
    set.rules
}

/// The actions as the switch holds them after `ovn-controller` sent them
/// over OpenFlow: a `dec_ttl` without controller ids goes as
/// NXAST_DEC_TTL_CNT_IDS (OVS's `encode_DEC_TTL`), so it is one.
fn as_installed(actions: &mut [Action]) {
    for a in actions {
        match a {
            Action::DecTtl { ids, cnt_ids } if ids.is_empty() => *cnt_ids = true,
            Action::Clone(inner) | Action::Ct { actions: inner, .. } => as_installed(inner),
            _ => {}
        }
    }
}

/// The rules of the logical pipelines' tables (8–36, 42–63) in
/// `ovs-ofctl dump-flows` text, with `group:N` written `group:ID`: what
/// two chassis' rules are compared by (group ids depend on what was
/// allocated before).
pub fn comparable(dump: &str) -> std::collections::BTreeSet<String> {
    let in_pipeline = |l: &&str| {
        if l.trim_start().starts_with("group_id=") || l.trim_start().starts_with("meter=") {
            return false;
        }
        let table = l.split("table=").nth(1).and_then(|t| t.split(',').next()).and_then(|t| t.parse::<u8>().ok()).unwrap_or(0);
        (INGRESS_PTABLE..OUTPUT_INIT_PTABLE).contains(&table) || (EGRESS_PTABLE..SAVE_INPORT_PTABLE).contains(&table)
    };
    let without_group_ids = |line: &str| {
        let (mut out, mut rest) = (String::new(), line);
        while let Some(i) = rest.find("group:") {
            out.push_str(&rest[..i + 6]);
            out.push_str("ID");
            rest = rest[i + 6..].trim_start_matches(|c: char| c.is_ascii_digit());
        }
        out + rest
    };
    dump.lines().filter(in_pipeline).map(without_group_ids).collect()
}

/// A rule as `ovs-ofctl -O OpenFlow15 --no-stats dump-flows` prints it.
pub fn flow_text(fm: &FlowMod) -> String {
    let mut s = String::from(" ");
    if fm.new_cookie != 0 {
        s.push_str(&format!("cookie={:#x}, ", fm.new_cookie));
    }
    if fm.table_id != 0 {
        s.push_str(&format!("table={}, ", fm.table_id));
    }
    let m = ofproto::match_format::match_format(&fm.m);
    let mut head = if fm.priority != 0x8000 { format!("priority={}", fm.priority) } else { String::new() };
    if !m.is_empty() {
        if !head.is_empty() {
            head.push(',');
        }
        head.push_str(&m);
    }
    s.push_str(&head);
    if !head.is_empty() {
        s.push(' ');
    }
    s.push_str("actions=");
    s.push_str(&ofproto::actions_format::actions_format(&fm.actions));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conjunction_ids_start_where_ovn_starts_them() {
        // From the fixture: flow 7d195d3a… on datapath f10794f1… holds
        // conj_id 3157052411 in ovn-controller's own flows.
        assert_eq!(hash_int(0x7d19_5d3a, 0xf107_94f1), 3_157_052_411);
        assert_eq!(hash_int(0xa47f_7407, 0xf107_94f1), 2_544_681_434);
        let mut ids = ConjIds::default();
        let (f, g, dp) = (0x7d19_5d3a_u128 << 96, 0x7d19_5d3a_u128 << 96 | 1, 0xf107_94f1_u128 << 96);
        assert_eq!(ids.alloc(f, dp, 2), Some(3_157_052_411));
        // The same hash: the next free range.
        assert_eq!(ids.alloc(g, dp, 1), Some(3_157_052_413));
        // Again for the same flow: its old range is freed first, and the
        // first free range of 3 is after g's.
        assert_eq!(ids.alloc(f, dp, 3), Some(3_157_052_414));
        ids.free(g, dp);
        assert_eq!(ids.alloc(g, dp, 1), Some(3_157_052_411));
    }

    /// A chassis where every port is local and none resident.
    struct Everywhere;

    impl Local for Everywhere {
        fn port_binding(&self, name: &str) -> Option<(u128, u32)> {
            (name == "p1").then_some((7, 1))
        }
        fn multicast_group(&self, _dp: u128, name: &str) -> Option<u32> {
            (name == "_MC_flood").then_some(0x8000)
        }
        fn is_resident(&self, _name: &str) -> bool {
            false
        }
        fn is_related(&self, _dp_key: u32, _port_key: u32) -> bool {
            true
        }
        fn tunnel_ofport(&self, _name: &str) -> Option<u16> {
            None
        }
    }

    fn flow(match_text: &str, actions: &str, table_id: u8) -> LogicalFlow {
        LogicalFlow {
            uuid: 0x1234_5678_u128 << 96,
            pipeline: Pipeline::Ingress,
            table_id,
            priority: 100,
            match_text: match_text.into(),
            actions: actions.into(),
            controller_meter: None,
            in_out_port: None,
        }
    }

    #[test]
    fn bad_flows_are_errors_counted_and_the_next_one_compiles() {
        let snapshot = crate::southbound::Snapshot::default();
        let mut cx = snapshot.context(Symtab::ovn());
        let dp = Datapath { uuid: 7, tunnel_key: 3, is_switch: true, snat_ct_zone: false };
        let mut c = Compiler::default();
        let bad = [flow("ip4.src ==", "next;", 0), flow("ip4", "next(", 0), flow("ip4", "next;", 200), flow("ip4", "next;", 28)];
        for f in &bad {
            assert!(c.compile(f, &dp, &mut cx, &Everywhere).is_err(), "{f:?}");
        }
        let good = c.compile(&flow("inport == \"p1\" && ip4", "outport = \"_MC_flood\"; output;", 3), &dp, &mut cx, &Everywhere).unwrap();
        assert_eq!((c.skipped, c.compiled), (4, 1));
        assert_eq!(good.len(), 1);
        assert_eq!(
            flow_text(&good[0]),
            " cookie=0x12345678, table=11, priority=100,ip,reg14=0x1,metadata=0x3 actions=set_field:0x8000->reg15,resubmit(,37)"
        );
        // A port no binding names: the term is false, no rule.
        assert!(c.compile(&flow("inport == \"nope\"", "next;", 3), &dp, &mut cx, &Everywhere).unwrap().is_empty());
    }

    #[test]
    fn equal_clauses_of_different_flows_become_one_rule() {
        let snapshot = crate::southbound::Snapshot::default();
        let mut cx = snapshot.context(Symtab::ovn());
        let mut sets = crate::expr::Sets::default();
        sets.addr_sets.insert("as".into(), crate::expr::ConstantSet::integers(&["10.0.0.1", "10.0.0.2"]));
        cx.sets = sets;
        let dp = Datapath { uuid: 7, tunnel_key: 3, is_switch: true, snat_ct_zone: false };
        let mut c = Compiler::default();
        let mut rules = Vec::new();
        for (i, port) in [(1u128, 80), (2, 443)] {
            let mut f = flow(&format!("ip4.src == $as && tcp.dst == {{{port}, {}}}", port + 1), "next;", 3);
            f.uuid = i << 96;
            rules.extend(c.compile(&f, &dp, &mut cx, &Everywhere).unwrap());
        }
        // Each flow: 2 address clauses, 2 port clauses, the conj_id rule.
        assert_eq!(rules.len(), 10);
        let merged = merge_conjunctions(rules);
        // The address clauses are shared: one rule each, two conjunctions.
        assert_eq!(merged.len(), 8);
        let shared: Vec<&FlowMod> = merged.iter().filter(|fm| fm.actions.len() == 2).collect();
        assert_eq!(shared.len(), 2);
        assert!(flow_text(shared[0]).contains("nw_src=10.0.0.1") && flow_text(shared[0]).contains("conjunction("));
    }

    #[test]
    fn ranges_that_would_pass_the_top_start_again_from_1() {
        let mut ids = ConjIds::default();
        assert_eq!(ids.free_range(u32::MAX - 2, 5), Some(1));
        assert_eq!(ids.free_range(u32::MAX - 2, 3), Some(u32::MAX - 2));
        assert_eq!(ids.free_range(0, 1), Some(1));
        ids.ranges.insert(1, (0, 0, u32::MAX - 1));
        // Only u32::MAX is free: one fits, two do not.
        assert_eq!(ids.free_range(5, 1), Some(u32::MAX));
        assert_eq!(ids.free_range(5, 2), None);
    }
}
