//! Normalization (OVN's `expr_normalize`): a simplified expression in the
//! form OpenFlow matches can take — a disjunction of conjunctions whose
//! terms are comparisons or disjunctions of one field's values.
//!
//! In a conjunction, the terms over one symbol are *crushed* together:
//! their equalities intersect into one (`x[0] == 1 && x[1] == 1` is
//! `x[0..1] == 3`), a disjunction of one field's values is intersected
//! with them, and two such disjunctions become their cross product. A
//! disjunction over several symbols, or over a symbol that must be
//! crossproducted (`eth.type`, `ip.proto`, `icmp6.type`/`code`), is
//! distributed over the conjunction; one over a single other field stays,
//! to become a `conjunction()` clause. An impossible conjunction is `0`,
//! and drops out of its disjunction.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::annotate::{push_flat, unique_symbol};
use super::simplify::fix;
use super::{Cmp, Expr, Operand, Relop};
use crate::symtab::{SymbolId, Symtab};

/// Normalizes a simplified expression.
pub fn normalize(e: Expr, symtab: &Symtab) -> Expr {
    match e {
        Expr::And(_) => normalize_and(e, symtab),
        Expr::Or(subs) => normalize_or(subs, symtab),
        e => e,
    }
}

/// The bits both constrain, if they agree where both look (OVS's
/// `mf_subvalue_intersect`).
fn intersect(a: (u128, u128), b: (u128, u128)) -> Option<(u128, u128)> {
    ((a.0 ^ b.0) & a.1 & b.1 == 0).then_some((a.0 | b.0, a.1 | b.1))
}

fn int_of(e: &Expr) -> Option<(u128, u128)> {
    match e {
        Expr::Cmp(c) => match c.operand {
            Operand::Int { value, mask } => Some((value, mask)),
            Operand::Str(_) => None,
        },
        _ => None,
    }
}

fn str_of(e: &Expr) -> Option<&str> {
    match e {
        Expr::Cmp(c) => match &c.operand {
            Operand::Str(s) => Some(s),
            Operand::Int { .. } => None,
        },
        _ => None,
    }
}

fn int_cmp(symbol: SymbolId, (value, mask): (u128, u128)) -> Expr {
    Expr::Cmp(Box::new(Cmp { symbol, relop: Relop::Eq, operand: Operand::Int { value, mask } }))
}

/// The order of two comparisons of one symbol: by string, or by value
/// then mask.
fn compare_cmps(a: &Expr, b: &Expr) -> Ordering {
    match (str_of(a), str_of(b)) {
        (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => int_of(a).cmp(&int_of(b)),
    }
}

/// `e`, over `symbol` alone, as one comparison, a disjunction of them,
/// or a constant.
fn crush(e: Expr, symbol: SymbolId, symtab: &Symtab) -> Expr {
    match e {
        Expr::Or(subs) => crush_or(subs, symbol, symtab),
        Expr::And(subs) if symtab.get(symbol).width > 0 => crush_and_numeric(subs, symbol, symtab),
        Expr::And(subs) => crush_and_string(subs, symbol, symtab),
        e => e,
    }
}

fn crush_or(subs: Vec<Expr>, symbol: SymbolId, symtab: &Symtab) -> Expr {
    let mut out = Vec::with_capacity(subs.len());
    for s in subs {
        push_flat(false, &mut out, crush(s, symbol, symtab));
    }
    let mut subs = match fix(Expr::Or(out)) {
        Expr::Or(subs) => subs,
        other => return other,
    };
    subs.sort_by(compare_cmps);
    subs.dedup_by(|b, a| compare_cmps(a, b) == Ordering::Equal);
    fix(Expr::Or(subs))
}

fn crush_and_string(subs: Vec<Expr>, symbol: SymbolId, symtab: &Symtab) -> Expr {
    let mut singleton: Option<Expr> = None;
    let mut ors: Vec<Expr> = Vec::new();
    for s in subs {
        match crush(s, symbol, symtab) {
            new @ Expr::Cmp(_) => match &singleton {
                None => singleton = Some(new),
                Some(single) if str_of(single) == str_of(&new) => {}
                Some(_) => return Expr::Bool(false),
            },
            new @ Expr::Or(_) => ors.push(new),
            Expr::Bool(false) => return Expr::Bool(false),
            _ => {}
        }
    }
    if let Some(single) = singleton {
        let s = str_of(&single).unwrap_or("");
        let allowed = |or: &Expr| matches!(or, Expr::Or(subs) if subs.iter().any(|x| str_of(x) == Some(s)));
        return if ors.iter().all(allowed) { single } else { Expr::Bool(false) };
    }
    // The ports every disjunction allows.
    let mut result: Option<BTreeSet<String>> = None;
    for or in &ors {
        let Expr::Or(subs) = or else { continue };
        let strings: BTreeSet<String> = subs.iter().filter_map(str_of).map(String::from).collect();
        let set = match result.take() {
            None => strings,
            Some(r) => r.intersection(&strings).cloned().collect(),
        };
        if set.is_empty() {
            return Expr::Bool(false);
        }
        result = Some(set);
    }
    let cmps = result
        .unwrap_or_default()
        .into_iter()
        .map(|s| Expr::Cmp(Box::new(Cmp { symbol, relop: Relop::Eq, operand: Operand::Str(s) })))
        .collect();
    fix(Expr::Or(cmps))
}

fn crush_and_numeric(subs: Vec<Expr>, symbol: SymbolId, symtab: &Symtab) -> Expr {
    let mut acc = (0u128, 0u128);
    let mut ors: Vec<Vec<Expr>> = Vec::new();
    for s in subs {
        match crush(s, symbol, symtab) {
            new @ Expr::Cmp(_) => match int_of(&new).and_then(|c| intersect(acc, c)) {
                Some(a) => acc = a,
                None => return Expr::Bool(false),
            },
            Expr::Or(subs) => ors.push(subs),
            Expr::Bool(false) => return Expr::Bool(false),
            _ => {}
        }
    }
    match ors.len() {
        0 if acc.1 == 0 => Expr::Bool(true),
        0 => int_cmp(symbol, acc),
        1 => {
            // "a && (b || c)" is "ab || ac".
            let mut or: Vec<Expr> =
                ors.remove(0).iter().filter_map(|d| int_of(d).and_then(|c| intersect(acc, c))).map(|c| int_cmp(symbol, c)).collect();
            match or.len() {
                0 => Expr::Bool(false),
                1 => or.pop().unwrap_or(Expr::Bool(false)),
                _ => crush(Expr::Or(or), symbol, symtab),
            }
        }
        _ => {
            // "x && (a0 || a1) && (b0 || b1) && …" is
            // "(xa0b0 || xa0b1 || xa1b0 || xa1b1) && …".
            let mut rest = ors.split_off(2);
            let (bs, as_) = (ors.pop().unwrap_or_default(), ors.pop().unwrap_or_default());
            let mut or = Vec::new();
            for a in as_.iter().filter_map(int_of) {
                let Some(xa) = intersect(acc, a) else { continue };
                or.extend(bs.iter().filter_map(int_of).filter_map(|b| intersect(xa, b)).map(|c| int_cmp(symbol, c)));
            }
            let rest: Vec<Expr> = rest.drain(..).map(Expr::Or).collect();
            match or.len() {
                0 => Expr::Bool(false),
                1 if rest.is_empty() => crush(or.remove(0), symbol, symtab),
                1 => {
                    let mut subs = vec![or.remove(0)];
                    subs.extend(rest);
                    crush(Expr::And(subs), symbol, symtab)
                }
                _ if !rest.is_empty() => {
                    let mut subs = vec![Expr::Or(or)];
                    subs.extend(rest);
                    crush(Expr::And(subs), symbol, symtab)
                }
                _ => crush(Expr::Or(or), symbol, symtab),
            }
        }
    }
}

/// The rank of an expression's kind in [`sort`]'s order.
fn kind_rank(e: &Expr, symbol: Option<SymbolId>) -> u8 {
    if symbol.is_some() {
        return 0;
    }
    match e {
        Expr::Cmp(_) => 0,
        Expr::And(_) => 1,
        Expr::Or(_) => 2,
        Expr::Bool(_) => 3,
        Expr::Chassis { .. } => 4,
    }
}

/// Brings together the terms of a conjunction over one symbol and
/// crushes them (OVN's `expr_sort`).
fn sort(subs: Vec<Expr>, symtab: &Symtab) -> Expr {
    let mut entries: Vec<(Expr, Option<SymbolId>)> = subs
        .into_iter()
        .map(|e| {
            let s = unique_symbol(&e);
            (e, s)
        })
        .collect();
    entries.sort_by(|(a, sa), (b, sb)| {
        let (ra, rb) = (kind_rank(a, *sa), kind_rank(b, *sb));
        if ra != rb {
            return ra.cmp(&rb);
        }
        match (sa, sb) {
            (Some(x), Some(y)) => symtab.get(*x).name.as_bytes().cmp(symtab.get(*y).name.as_bytes()),
            _ => match (a, b) {
                (Expr::And(x) | Expr::Or(x), Expr::And(y) | Expr::Or(y)) => x.len().cmp(&y.len()),
                _ => Ordering::Equal,
            },
        }
    });
    let mut out: Option<Expr> = None;
    let mut entries = entries.into_iter().peekable();
    while let Some((e, symbol)) = entries.next() {
        let Some(symbol) = symbol else {
            out = Some(Expr::combine_opt(true, out, e));
            continue;
        };
        let mut group = e;
        while let Some((next, _)) = entries.next_if(|(_, s)| *s == Some(symbol)) {
            group = Expr::combine(true, group, next);
        }
        match crush(group, symbol, symtab) {
            Expr::Bool(false) => return Expr::Bool(false),
            Expr::Bool(true) => {}
            crushed => out = Some(Expr::combine_opt(true, out, crushed)),
        }
    }
    out.unwrap_or(Expr::Bool(true))
}

fn normalize_and(e: Expr, symtab: &Symtab) -> Expr {
    let Expr::And(subs) = e else { return e };
    let mut subs = match sort(subs, symtab) {
        Expr::And(subs) => subs,
        other => return other,
    };
    // Adjacent comparisons of one symbol merge, or make it impossible.
    let mut i = 0;
    while i + 1 < subs.len() {
        let merged = match (&subs[i], &subs[i + 1]) {
            (Expr::Cmp(a), Expr::Cmp(b)) if a.symbol == b.symbol => Some(match (&a.operand, &b.operand) {
                (Operand::Str(x), Operand::Str(y)) => (x == y).then(|| subs[i + 1].clone()),
                _ => int_of(&subs[i]).zip(int_of(&subs[i + 1])).and_then(|(x, y)| intersect(x, y)).map(|c| int_cmp(a.symbol, c)),
            }),
            _ => None,
        };
        match merged {
            Some(Some(m)) => {
                subs[i + 1] = m;
                subs.remove(i);
            }
            Some(None) => return Expr::Bool(false),
            None => i += 1,
        }
    }
    if subs.len() == 1 {
        return subs.remove(0);
    }
    // A disjunction that cannot be a conjunctive clause is distributed.
    let spread = subs.iter().position(|s| matches!(s, Expr::Or(_)) && unique_symbol(s).is_none_or(|sym| symtab.get(sym).must_crossproduct));
    let Some(at) = spread else {
        return Expr::And(subs);
    };
    let Expr::Or(ks) = &subs[at] else { return Expr::And(subs) };
    let or = ks
        .iter()
        .map(|k| {
            let mut and = Vec::with_capacity(subs.len());
            for (j, m) in subs.iter().enumerate() {
                let term = if j == at { k } else { m };
                match term {
                    Expr::And(ps) => and.extend(ps.iter().cloned()),
                    t => and.push(t.clone()),
                }
            }
            Expr::And(and)
        })
        .collect();
    normalize_or(or, symtab)
}

fn normalize_or(subs: Vec<Expr>, symtab: &Symtab) -> Expr {
    let mut out = Vec::with_capacity(subs.len());
    for s in subs {
        if !matches!(s, Expr::And(_)) {
            out.push(s);
            continue;
        }
        match normalize_and(s, symtab) {
            Expr::Bool(true) => return Expr::Bool(true),
            Expr::Bool(false) => {}
            new => push_flat(false, &mut out, new),
        }
    }
    match out.len() {
        0 => Expr::Bool(false),
        1 => out.remove(0),
        _ => Expr::Or(out),
    }
}
