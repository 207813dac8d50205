//! Conversion of a normalized expression to OpenFlow matches (OVN's
//! `expr_to_matches`), as `ofproto` [`Match`]es.
//!
//! - A comparison, or a disjunction over one field, is one match per value.
//! - A conjunction of comparisons is one match; with one disjunction among
//!   its terms, one match per value of it; with `n` disjunctions, a
//!   conjunctive match: every value of disjunction `k` is a match with the
//!   action `conjunction(id, k/n)`, and one more match, on `conj_id=id` and
//!   the conjunction's plain comparisons, carries the flow's actions. Ids
//!   count from 1 in the order the conjunctions are met.
//! - Equal matches merge: their conjunction actions add up, and a plain
//!   match absorbs a conjunctive one.
//! - A string comparison names a logical port: it matches the port's
//!   tunnel key, and a port the lookup does not know makes it match
//!   nothing.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use ofproto::flowmatch::{self, slot, Match};

use super::{unique_symbol, Cmp, Expr, Operand};
use crate::symtab::{Kind, Symtab};

/// A clause of a conjunctive match: `conjunction(id, clause/n_clauses)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conjunction {
    /// The conjunction's id (from 1, per expression).
    pub id: u32,
    /// Which clause.
    pub clause: u8,
    /// How many clauses.
    pub n_clauses: u8,
}

/// One OpenFlow match of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprMatch {
    /// The match.
    pub m: Match,
    /// Its conjunction actions; none for a match that takes the flow's
    /// own actions.
    pub conjunctions: Vec<Conjunction>,
}

/// The matches of an expression, in the order they were made.
#[derive(Debug, Clone, Default)]
pub struct Matches {
    /// The matches.
    pub list: Vec<ExprMatch>,
    /// The matches by their hash: a match is hashed once and stored once.
    index: HashMap<u64, Vec<usize>>,
    /// Conjunction ids used (1 to this).
    pub n_conjs: u32,
}

/// A hasher of whole words (Fx's multiply-rotate): a match is hundreds of
/// bytes, and SipHash over them was a third of compiling a flow. The
/// matches hashed are one flow's, made by the compiler, not chosen by
/// anyone who could aim for collisions (and a collision costs a compare).
#[derive(Debug, Default)]
pub struct WordHasher(u64);

impl WordHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Matches {
    fn add(&mut self, m: Match, conjunction: Option<Conjunction>) {
        let mut h = WordHasher::default();
        m.hash(&mut h);
        let same = self.index.entry(h.finish()).or_default();
        if let Some(&i) = same.iter().find(|&&i| self.list[i].m == m) {
            let existing = &mut self.list[i];
            match conjunction {
                Some(c) if !existing.conjunctions.is_empty() => existing.conjunctions.push(c),
                _ => existing.conjunctions.clear(),
            }
            return;
        }
        same.push(self.list.len());
        self.list.push(ExprMatch { m, conjunctions: conjunction.into_iter().collect() });
    }

    /// The matches as `test-ovn expr-to-flows` prints them, a line each
    /// (`(no flows)` for none), in the order they were made.
    pub fn lines(&self) -> Vec<String> {
        if self.list.is_empty() {
            return vec!["(no flows)".to_owned()];
        }
        self.list
            .iter()
            .map(|em| {
                let mut line = ofproto::match_format::match_format(&em.m);
                for (i, c) in em.conjunctions.iter().enumerate() {
                    line.push_str(&format!("{} conjunction({}, {}/{})", if i == 0 { ':' } else { ',' }, c.id, c.clause, c.n_clauses));
                }
                line
            })
            .collect()
    }
}

/// Converts a normalized expression. `port` gives a logical port's tunnel
/// key.
pub fn to_matches(e: &Expr, symtab: &Symtab, port: &dyn Fn(&str) -> Option<u32>) -> Matches {
    let mut out = Matches::default();
    let cx = Cx { symtab, port };
    match e {
        Expr::Cmp(c) => cx.add_cmp(c, &mut out),
        Expr::And(subs) => cx.add_conjunction(subs, &mut out),
        Expr::Or(subs) if unique_symbol(e).is_some() => {
            for s in subs {
                if let Expr::Cmp(c) = s {
                    cx.add_cmp(c, &mut out);
                }
            }
        }
        Expr::Or(subs) => {
            for s in subs {
                match s {
                    Expr::And(terms) => cx.add_conjunction(terms, &mut out),
                    Expr::Cmp(c) => cx.add_cmp(c, &mut out),
                    _ => {}
                }
            }
        }
        Expr::Bool(true) => out.add(Match::catchall(), None),
        Expr::Bool(false) | Expr::Chassis { .. } => {}
    }
    out
}

struct Cx<'a> {
    symtab: &'a Symtab,
    port: &'a dyn Fn(&str) -> Option<u32>,
}

impl Cx<'_> {
    /// Makes `m` also match `c` (replacing what it matched on that field);
    /// false when `c` can match nothing (an unknown port).
    fn constrain(&self, c: &Cmp, m: &mut Match) -> bool {
        let field = match &self.symtab.get(c.symbol).kind {
            Kind::Field(f) | Kind::Str(f) => flowmatch::field(f.mff),
            _ => return false,
        };
        let n = usize::from(field.bytes);
        let bytes = |v: u128| v.to_be_bytes()[16 - n.min(16)..].to_vec();
        match &c.operand {
            Operand::Int { value, mask } => m.set(field, &bytes(*value), Some(&bytes(*mask))),
            Operand::Str(name) => {
                let Some(key) = (self.port)(name) else { return false };
                m.set(field, &bytes(u128::from(key)), None);
            }
        }
        true
    }

    fn add_cmp(&self, c: &Cmp, out: &mut Matches) {
        let mut m = Match::catchall();
        if self.constrain(c, &mut m) {
            out.add(m, None);
        }
    }

    /// Adds a match per value of the disjunction `or` on top of `base`;
    /// false when none could be made.
    fn add_disjunction(&self, or: &[Expr], base: &Match, conjunction: Option<Conjunction>, out: &mut Matches) -> bool {
        let mut n = 0;
        for s in or {
            let Expr::Cmp(c) = s else { continue };
            let mut m = base.clone();
            if self.constrain(c, &mut m) {
                out.add(m, conjunction);
                n += 1;
            }
        }
        n > 0
    }

    fn add_conjunction(&self, terms: &[Expr], out: &mut Matches) {
        let mut base = Match::catchall();
        let mut n_clauses = 0u8;
        for t in terms {
            match t {
                Expr::Cmp(c) if !self.constrain(c, &mut base) => return,
                Expr::Or(_) => n_clauses += 1,
                _ => {}
            }
        }
        let ors = terms.iter().filter_map(|t| match t {
            Expr::Or(subs) => Some(subs.as_slice()),
            _ => None,
        });
        match n_clauses {
            0 => out.add(base, None),
            1 => {
                for or in ors {
                    self.add_disjunction(or, &base, None, out);
                }
            }
            _ => {
                out.n_conjs += 1;
                let id = out.n_conjs;
                for (clause, or) in ors.enumerate() {
                    let c = Conjunction { id, clause: clause as u8, n_clauses };
                    if !self.add_disjunction(or, &base, Some(c), out) {
                        // This clause never matches, so neither does the
                        // conjunction (the clauses already added stay, as
                        // in OVN).
                        return;
                    }
                }
                let mut m = base;
                m.set(flowmatch::field(flowmatch::Mff::ConjId), &id.to_be_bytes(), None);
                debug_assert!(m.slot_mask(slot::CONJ_ID) != 0);
                out.add(m, None);
            }
        }
    }
}
