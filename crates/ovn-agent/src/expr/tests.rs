use super::*;

fn parsed(s: &str) -> String {
    match parse_str(s, Symtab::test_ovn(), &Sets::default()) {
        Ok(e) => e.format(Symtab::test_ovn()),
        Err(e) => e,
    }
}

#[test]
fn negation_is_pushed_to_the_comparisons() {
    assert_eq!(parsed("!(vlan.pcp == 1 && vlan.pcp == 2)"), "vlan.pcp != 0x1 || vlan.pcp != 0x2");
    assert_eq!(parsed("!(1 < vlan.pcp < 4)"), "vlan.pcp <= 0x1 || vlan.pcp >= 0x4");
    assert_eq!(parsed("!eth.dst[0]"), "!eth.dst[0]");
}

#[test]
fn sets_become_disjunctions_and_nominal_rules_hold() {
    assert_eq!(parsed("vlan.pcp != {1, 2}"), "vlan.pcp != 0x1 && vlan.pcp != 0x2");
    assert_eq!(
        parsed("eth.type != 0x800"),
        "Nominal field eth.type may only be tested for equality (taking enclosing `!' operators into account)."
    );
    assert_eq!(
        parsed("!ip4"),
        "Nominal predicate ip4 may only be tested positively, e.g. `ip4' or `ip4 == 1' but not `!ip4' or `ip4 == 0'."
    );
}

#[test]
fn combine_flattens_as_ovn_does() {
    let b = |x| Expr::Bool(x);
    let and = Expr::combine(true, Expr::combine(true, b(true), b(false)), Expr::combine(false, b(true), b(true)));
    assert_eq!(and, Expr::And(vec![b(true), b(false), Expr::Or(vec![b(true), b(true)])]));
    assert_eq!(Expr::combine(true, b(true), Expr::And(vec![b(false), b(false)])), Expr::And(vec![b(true), b(false), b(false)]));
}
