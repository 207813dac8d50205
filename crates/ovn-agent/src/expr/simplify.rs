//! Simplification (OVN's `expr_simplify` and `expr_evaluate_condition`):
//! every comparison becomes equalities under masks, the only comparison
//! an OpenFlow match can make.
//! - `x == v/0` is `1`.
//! - `x != v` is the disjunction, over each bit of the mask, of that bit
//!   differing from `v`'s.
//! - `x < v` is the disjunction, over each 1-bit `z` of `v`, of "the bits
//!   above `z` as in `v`, bit `z` 0"; `x > v` likewise over the 0-bits;
//!   `<=` and `>=` add `x == v`.
//! - `is_chassis_resident(p)` becomes `1` or `0` as the caller says.
//!
//! Constants left in a conjunction or disjunction are folded away.

use super::annotate::push_flat;
use super::{bit_range, Cmp, Expr, Operand, Relop};
use crate::symtab::Symtab;

/// Simplifies `e`.
pub fn simplify(e: Expr, symtab: &Symtab) -> Expr {
    match e {
        Expr::Cmp(c) => simplify_cmp(*c, symtab),
        Expr::And(subs) => fix(Expr::And(each(true, subs, |s| simplify(s, symtab)))),
        Expr::Or(subs) => fix(Expr::Or(each(false, subs, |s| simplify(s, symtab)))),
        e => e,
    }
}

/// Replaces each operand of an `&&` (`and`) or `||` by `f` of it,
/// splicing in results of the same kind.
fn each(and: bool, subs: Vec<Expr>, mut f: impl FnMut(Expr) -> Expr) -> Vec<Expr> {
    let mut out = Vec::with_capacity(subs.len());
    for s in subs {
        push_flat(and, &mut out, f(s));
    }
    out
}

/// Replaces `is_chassis_resident()` by its value.
pub fn evaluate_condition(e: Expr, resident: &dyn Fn(&str) -> bool) -> Expr {
    match e {
        Expr::And(subs) => fix(Expr::And(each(true, subs, |s| fix(evaluate_condition(s, resident))))),
        Expr::Or(subs) => fix(Expr::Or(each(false, subs, |s| fix(evaluate_condition(s, resident))))),
        Expr::Chassis { not, port } => Expr::Bool(resident(&port) ^ not),
        e => e,
    }
}

/// Folds the constants among the operands of an `&&` or `||` (OVN's
/// `expr_fix`): `0` ends an `&&`, `1` an `||`, the others drop out; one
/// operand left is the expression, none is the neutral constant.
pub fn fix(e: Expr) -> Expr {
    let (and, subs) = match e {
        Expr::And(s) => (true, s),
        Expr::Or(s) => (false, s),
        e => return e,
    };
    let short_circuit = !and;
    let mut kept = Vec::with_capacity(subs.len());
    for s in subs {
        match s {
            Expr::Bool(b) if b == short_circuit => return Expr::Bool(short_circuit),
            Expr::Bool(_) => {}
            s => kept.push(s),
        }
    }
    match kept.len() {
        0 => Expr::Bool(!short_circuit),
        1 => kept.pop().unwrap_or(Expr::Bool(!short_circuit)),
        _ if and => Expr::And(kept),
        _ => Expr::Or(kept),
    }
}

fn cmp(c: &Cmp, value: u128, mask: u128) -> Expr {
    Expr::Cmp(Box::new(Cmp { symbol: c.symbol, relop: Relop::Eq, operand: Operand::Int { value, mask } }))
}

fn simplify_cmp(c: Cmp, symtab: &Symtab) -> Expr {
    let width = symtab.get(c.symbol).width;
    let Operand::Int { value, mask } = c.operand else {
        return Expr::Cmp(Box::new(c));
    };
    if width == 0 {
        return Expr::Cmp(Box::new(c));
    }
    match c.relop {
        Relop::Eq if mask == 0 => Expr::Bool(true),
        Relop::Eq => Expr::Cmp(Box::new(c)),
        Relop::Ne => simplify_ne(&c, value, mask, width),
        _ => simplify_relational(&c, value, mask, width),
    }
}

fn simplify_ne(c: &Cmp, value: u128, mask: u128, width: usize) -> Expr {
    let mut new: Option<Expr> = None;
    for i in (0..width.min(128)).filter(|i| mask >> i & 1 == 1) {
        let bit = 1u128 << i;
        new = Some(Expr::combine_opt(false, new, cmp(c, !value & bit, bit)));
    }
    new.unwrap_or(Expr::Bool(false))
}

fn simplify_relational(c: &Cmp, value: u128, mask: u128, width: usize) -> Expr {
    let (start, n) = bit_range(mask, width);
    let end = start + n;
    let lt = matches!(c.relop, Relop::Lt | Relop::Le);
    let eq = matches!(c.relop, Relop::Le | Relop::Ge);
    let bit = |z: usize| value >> z & 1 == 1;
    // `x <= max` and `x >= 0` hold always; `x < max` and `x > 0` are `!=`.
    if (start..end).all(|z| bit(z) == lt) {
        return if eq { Expr::Bool(true) } else { simplify_ne(c, value, mask, width) };
    }
    let mut new = eq.then(|| cmp(c, value, mask));
    for z in (start..end).filter(|&z| bit(z) == lt) {
        let below = super::ones(z) & !super::ones(start);
        let v = (value ^ (1u128 << z)) & !below;
        new = Some(Expr::combine_opt(false, new, cmp(c, v, mask & !below)));
    }
    new.unwrap_or(Expr::Bool(false))
}
