//! Annotation (OVN's `expr_annotate`): every comparison gets its
//! symbol's prerequisites (`ip4.src == …` becomes `ip4.src == … &&
//! eth.type == 0x800`), a subfield becomes the bits of its parent
//! (`reg0` is `xxreg0[96..127]`), and a predicate becomes its expansion,
//! annotated in turn. A conjunction or disjunction over one symbol gets
//! that symbol's prerequisites once, at its top. A symbol met again while
//! its own expansion is annotated is an error, not a loop.

use super::{parse_str, Expr, Operand, Sets};
use crate::symtab::{Kind, SymbolId, Symtab};

/// Annotates `e`.
pub fn annotate(e: Expr, symtab: &Symtab) -> Result<Expr, String> {
    annotate_(e, symtab, true, &mut Vec::new())
}

/// The prerequisites of `symbol` and of the symbols it is bits of, each
/// annotated, in that order (what an action that reads or writes it
/// requires of the flow's match).
pub fn field_prereqs(symbol: SymbolId, symtab: &Symtab) -> Result<Option<Expr>, String> {
    let mut out: Option<Expr> = None;
    let mut at = Some(symbol);
    while let Some(id) = at {
        let s = symtab.get(id);
        if let Some(p) = &s.prereqs {
            out = Some(Expr::combine_opt(true, out, parse_and_annotate(p, symtab, &mut Vec::new())?));
        }
        at = match s.kind {
            Kind::Subfield { parent, .. } => Some(parent),
            _ => None,
        };
    }
    Ok(out)
}

/// Parses and annotates a prerequisite or predicate, naming it in the
/// error.
fn parse_and_annotate(s: &str, symtab: &Symtab, nesting: &mut Vec<SymbolId>) -> Result<Expr, String> {
    parse_str(s, symtab, &Sets::default())
        .and_then(|e| annotate_(e, symtab, true, nesting))
        .map_err(|err| format!("Error parsing expression `{s}' encountered as prerequisite or predicate of initial expression: {err}"))
}

fn annotate_(e: Expr, symtab: &Symtab, mut append_prereqs: bool, nesting: &mut Vec<SymbolId>) -> Result<Expr, String> {
    match e {
        Expr::Cmp(_) => annotate_cmp(e, symtab, append_prereqs, nesting),
        Expr::And(_) | Expr::Or(_) => {
            let mut e = e;
            if append_prereqs {
                if let Some(symbol) = unique_symbol(&e) {
                    append_prereqs = false;
                    if let Some(p) = &symtab.get(symbol).prereqs {
                        let prereqs = parse_and_annotate(p, symtab, nesting)?;
                        e = Expr::combine(true, e, prereqs);
                    }
                }
            }
            let and = matches!(e, Expr::And(_));
            let subs = match e {
                Expr::And(s) | Expr::Or(s) => s,
                other => return Ok(other),
            };
            let mut out = Vec::with_capacity(subs.len());
            for sub in subs {
                push_flat(and, &mut out, annotate_(sub, symtab, append_prereqs, nesting)?);
            }
            Ok(if and { Expr::And(out) } else { Expr::Or(out) })
        }
        e => Ok(e),
    }
}

fn annotate_cmp(e: Expr, symtab: &Symtab, append_prereqs: bool, nesting: &mut Vec<SymbolId>) -> Result<Expr, String> {
    let Expr::Cmp(mut cmp) = e else { return Ok(e) };
    let symbol = symtab.get(cmp.symbol);
    if nesting.contains(&cmp.symbol) {
        return Err(format!("Recursive expansion of symbol `{}'.", symbol.name));
    }
    nesting.push(cmp.symbol);
    let result = (|| {
        let prereqs = match (&symbol.prereqs, append_prereqs) {
            (Some(p), true) => Some(parse_and_annotate(p, symtab, nesting)?),
            _ => None,
        };
        let e = match &symbol.kind {
            Kind::Subfield { parent, ofs } => {
                cmp.symbol = *parent;
                if let Operand::Int { value, mask } = &mut cmp.operand {
                    *value <<= ofs;
                    *mask <<= ofs;
                }
                Expr::Cmp(cmp)
            }
            Kind::Predicate(expansion) => {
                let mut predicate = parse_and_annotate(expansion, symtab, nesting)?;
                let set = matches!(cmp.operand, Operand::Int { value, .. } if value & 1 == 1);
                if !(set ^ (cmp.relop == super::Relop::Ne)) {
                    predicate.negate();
                }
                predicate
            }
            _ => Expr::Cmp(cmp),
        };
        Ok(match prereqs {
            Some(p) => Expr::combine(true, e, p),
            None => e,
        })
    })();
    nesting.pop();
    result
}

/// The one symbol every comparison of `e` is over, if there is one.
pub fn unique_symbol(e: &Expr) -> Option<SymbolId> {
    match e {
        Expr::Cmp(c) => Some(c.symbol),
        Expr::And(subs) | Expr::Or(subs) => {
            let mut prev = None;
            for s in subs {
                let symbol = unique_symbol(s)?;
                if prev.is_some_and(|p| p != symbol) {
                    return None;
                }
                prev = Some(symbol);
            }
            prev
        }
        Expr::Bool(_) | Expr::Chassis { .. } => None,
    }
}

/// Adds `sub` to the operands of an `&&` (`and`) or `||`, splicing in its
/// own operands when it is of the same kind (OVN's `expr_insert_andor`).
pub fn push_flat(and: bool, out: &mut Vec<Expr>, sub: Expr) {
    match sub {
        Expr::And(subs) if and => out.extend(subs),
        Expr::Or(subs) if !and => out.extend(subs),
        sub => out.push(sub),
    }
}
