//! The logical flows of the reference topology (`fixtures/sb-dump.json`,
//! a copy of `shared/ovn/fixtures`: the Southbound database `ovn-northd`
//! 23.03 wrote for it) compiled as chassis hv1 sees them, and compared
//! with the rules the real `ovn-controller` installed on hv1
//! (`fixtures/golden-br-int-flows.txt`): the rules of the logical
//! pipelines' tables must be the same, text for text, but for the ids of
//! groups (`ovn-controller`'s depend on what it allocated before).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::Path;

use ovn_agent::compile::{comparable, flow_text, Compiler};
use ovn_agent::southbound::Snapshot;
use ovn_agent::symtab::Symtab;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)).unwrap()
}

#[test]
fn every_logical_flow_of_the_fixture_compiles() {
    let tables: serde_json::Value = serde_json::from_str(&fixture("sb-dump.json")).unwrap();
    let (sb, bad) = Snapshot::from_tables(&tables);
    assert_eq!(bad, 0);
    assert_eq!(sb.flows.len(), 306);
    let view = sb.view(Some("hv1"));
    let mut cx = sb.context(Symtab::ovn());
    // hv1's Open vSwitch has these (golden-dp-features.txt).
    (cx.ct_zero_snat, cx.dp_hash_l4_sym) = (true, true);
    let mut compiler = Compiler::default();
    let mut ours = BTreeSet::new();
    let mut instances = 0;
    for (lf, dps) in &sb.flows {
        for dp in dps {
            let (dp, _) = &sb.datapaths[dp];
            instances += 1;
            match compiler.compile(lf, dp, &mut cx, &view) {
                Ok(flows) => ours.extend(flows.iter().map(flow_text)),
                Err(e) => panic!("{:032x}: {e}", lf.uuid),
            }
        }
    }
    assert_eq!((instances, compiler.compiled, compiler.skipped), (478, 478, 0));
    let ours = comparable(&ours.iter().map(|l| format!("{l}\n")).collect::<String>());
    let golden = comparable(&fixture("golden-br-int-flows.txt"));
    let missing: Vec<&String> = golden.difference(&ours).collect();
    let extra: Vec<&String> = ours.difference(&golden).collect();
    println!("{} rules, ovn-controller's {}: {} of its missing, {} not its", ours.len(), golden.len(), missing.len(), extra.len());
    assert!(!golden.is_empty() && missing.is_empty() && extra.is_empty(), "missing {missing:#?}\nextra {extra:#?}");
}

#[test]
fn the_copied_fixtures_are_those_of_shared() {
    // The copy must not drift from the project's reference fixtures,
    // where they are on this machine.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ovn/fixtures");
    if !shared.exists() {
        println!("no {}: nothing to compare", shared.display());
        return;
    }
    for name in ["sb-dump.json", "golden-br-int-flows.txt"] {
        assert!(fixture(name) == std::fs::read_to_string(shared.join(name)).unwrap(), "{name} differs from {}", shared.display());
    }
}
