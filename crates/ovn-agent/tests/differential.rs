//! The expression compiler against a trivial reference, as OVN's own
//! `test-ovn exhaustive`: random expressions over three 3-bit registers
//! and the logical input port are evaluated directly on every assignment
//! of those fields, and again by matching the OpenFlow matches that
//! annotation, simplification, normalization and conversion produce
//! (conjunctive matches included) against the same assignments. The two
//! must agree everywhere.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use ofproto::flowmatch::{field, slot, Match, Mff};
use ovn_agent::expr::{self, Expr, Matches, Operand, Relop, Sets};
use ovn_agent::symtab::Symtab;
use proptest::prelude::*;

/// The logical ports the conversion knows, and a port it does not.
const PORTS: [(&str, u32); 2] = [("lsp1", 0x11), ("eth0", 5)];
const UNKNOWN_PORT_KEY: u32 = 0x99;

/// One assignment: reg0..2 and the input port's key.
#[derive(Debug, Clone, Copy)]
struct Point {
    regs: [u32; 3],
    inport: u32,
}

fn every_point() -> impl Iterator<Item = Point> {
    (0..8u32 * 8 * 8 * 3).map(|i| Point { regs: [i % 8, i / 8 % 8, i / 64 % 8], inport: [0x11, 5, UNKNOWN_PORT_KEY][(i / 512) as usize] })
}

/// The expression's value at `p`, read straight from the parsed tree.
fn eval(e: &Expr, symtab: &Symtab, p: Point) -> bool {
    match e {
        Expr::Bool(b) => *b,
        Expr::And(subs) => subs.iter().all(|s| eval(s, symtab, p)),
        Expr::Or(subs) => subs.iter().any(|s| eval(s, symtab, p)),
        Expr::Chassis { .. } => unreachable!("not generated"),
        Expr::Cmp(c) => {
            let name = &symtab.get(c.symbol).name;
            match &c.operand {
                Operand::Str(s) => {
                    let key = PORTS.iter().find(|(n, _)| n == s).map(|&(_, k)| k);
                    (key == Some(p.inport)) == (c.relop == Relop::Eq)
                }
                Operand::Int { value, mask } => {
                    let i: usize = name.trim_start_matches("reg").parse().unwrap();
                    let v = u128::from(p.regs[i]) & mask;
                    c.relop.test(v.cmp(value))
                }
            }
        }
    }
}

/// A match as the bytes it constrains: (offset, value, mask).
type Sparse = Vec<(usize, u8, u8)>;

fn sparse(m: &Match) -> Sparse {
    m.wc.iter().enumerate().filter(|(_, w)| **w != 0).map(|(i, &w)| (i, m.flow[i], w)).collect()
}

/// The matches, each as its constrained bytes, with its conjunctions and
/// `conj_id` (0 for none).
struct Compiled {
    flows: Vec<(Sparse, Vec<expr::Conjunction>, u32)>,
    n_conjs: u32,
}

fn compile(ms: &Matches) -> Compiled {
    let flows = ms
        .list
        .iter()
        .map(|em| {
            let conj_id = if em.m.slot_mask(slot::CONJ_ID) != 0 { em.m.slot_value(slot::CONJ_ID) as u32 } else { 0 };
            (sparse(&em.m), em.conjunctions.clone(), conj_id)
        })
        .collect();
    Compiled { flows, n_conjs: ms.n_conjs }
}

/// A packet at `p`, its `conj_id` set to `conj_id`.
fn packet(p: Point, conj_id: u32) -> Match {
    let mut m = Match::catchall();
    for (i, &r) in p.regs.iter().enumerate() {
        m.set(field(Mff::Reg(i as u8)), &r.to_be_bytes(), None);
    }
    m.set(field(Mff::Reg(14)), &p.inport.to_be_bytes(), None);
    m.set(field(Mff::ConjId), &conj_id.to_be_bytes(), None);
    m
}

/// Whether the matches make a packet at `p` take the flow: a plain match
/// matches it, or every clause of some conjunction does along with that
/// conjunction's `conj_id` match.
fn matched(c: &Compiled, p: Point) -> bool {
    let hits = |s: &Sparse, pkt: &Match| s.iter().all(|&(i, f, w)| pkt.flow[i] & w == f);
    let plain = packet(p, 0);
    if c.flows.iter().any(|(s, conj, id)| conj.is_empty() && *id == 0 && hits(s, &plain)) {
        return true;
    }
    (1..=c.n_conjs).any(|id| {
        let n = c.flows.iter().flat_map(|(_, conj, _)| conj.iter()).find(|x| x.id == id).map_or(0, |x| x.n_clauses);
        let clause_hit = |k: u8| c.flows.iter().any(|(s, conj, _)| conj.iter().any(|x| x.id == id && x.clause == k) && hits(s, &plain));
        let with_id = packet(p, id);
        let base_hit = c.flows.iter().any(|(s, _, cid)| *cid == id && hits(s, &with_id));
        n > 0 && (0..n).all(clause_hit) && base_hit
    })
}

/// A comparison over one of the fields.
fn leaf() -> impl Strategy<Value = String> {
    let relop = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
    prop_oneof![
        (0..3u8, relop.clone(), 0..8u8).prop_map(|(r, op, c)| format!("reg{r} {op} {c}")),
        (0..3u8, 0..3u8, 0..3u8, relop, 0..8u8).prop_map(|(r, a, b, op, c)| {
            let (lo, hi) = (a.min(b), a.max(b));
            format!("reg{r}[{lo}..{hi}] {op} {}", c % (1 << (hi - lo + 1)))
        }),
        (0..3u8, 0..8u8, 0..8u8).prop_map(|(r, a, b)| format!("reg{r} == {{{a}, {b}}}")),
        (0..3u8, 0..8u8, 0..8u8).prop_map(|(r, v, m)| format!("reg{r} == {v}/{m}")),
        prop::sample::select(vec!["lsp1", "eth0", "nope"]).prop_map(|p| format!("inport == \"{p}\"")),
        Just("inport == {\"lsp1\", \"eth0\", \"nope\"}".to_owned()),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} && {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("({a} && {b} && {c})")),
            inner.prop_map(|a| format!("!({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn matches_agree_with_the_expression(text in expression()) {
        let symtab = Symtab::ovn();
        // `!` over a port comparison is refused by the language.
        let Ok(parsed) = expr::parse_str(&text, symtab, &Sets::default()) else {
            return Ok(());
        };
        let annotated = expr::annotate(parsed.clone(), symtab).unwrap();
        let simplified = expr::evaluate_condition(expr::simplify(annotated, symtab), &|_| false);
        let normalized = expr::normalize(simplified, symtab);
        let port = |name: &str| PORTS.iter().find(|(n, _)| *n == name).map(|&(_, k)| k);
        let ms = expr::to_matches(&normalized, symtab, &port);
        let compiled = compile(&ms);
        for p in every_point() {
            let (want, got) = (eval(&parsed, symtab, p), matched(&compiled, p));
            if want != got {
                let shown: String = normalized.format(symtab).chars().take(400).collect();
                prop_assert_eq!(want, got, "{} at {:?}: normalized (first 400 characters) {}; {} matches", text, p, shown, ms.list.len());
            }
        }
    }
}
