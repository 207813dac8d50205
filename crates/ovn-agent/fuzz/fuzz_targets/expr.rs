//! Arbitrary text through the lexer and the expression parser, as a
//! logical flow's `match` column: tokens or error tokens, an expression
//! or an error, never a panic. A parsed expression prints as text that
//! parses to the same expression, and annotation and simplification take
//! it; small ones are normalized and converted to matches too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovn_agent::expr::{self, Expr};
use ovn_agent::lex::format_tokens;
use ovn_agent::symtab::Symtab;
use ovn_agent::tool::test_sets;

fn leaves(e: &Expr) -> usize {
    match e {
        Expr::And(s) | Expr::Or(s) => s.iter().map(leaves).sum(),
        _ => 1,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = format_tokens(text);
    let symtab = Symtab::test_ovn();
    let sets = test_sets();
    let Ok(e) = expr::parse_str(text, symtab, &sets) else { return };
    let printed = e.format(symtab);
    let again = expr::parse_str(&printed, symtab, &sets).expect("a printed expression parses");
    assert_eq!(again.format(symtab), printed, "printing is stable");
    let Ok(annotated) = expr::annotate(e, symtab) else { return };
    let simplified = expr::evaluate_condition(expr::simplify(annotated, symtab), &|p| p == "eth1");
    // Normalization multiplies out disjunctions (as OVN's does): only
    // small expressions, so that an input is not a denial of service.
    if leaves(&simplified) <= 24 {
        let normalized = expr::normalize(simplified, symtab);
        let _ = expr::to_matches(&normalized, symtab, &|p| (p == "eth0").then_some(5)).lines();
    }
});
