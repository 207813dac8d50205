//! Logical flows compiled per second (`cargo bench -p ovn-agent`): the
//! reference topology's 306 rows (478 on their datapaths,
//! `fixtures/sb-dump.json`) as chassis hv1, and 100 000 generated ACL
//! flows on one switch, each matching a port group and one of 2 000
//! address sets of 8 addresses (conjunctive matches, as OpenStack's
//! security groups make them). Each iteration compiles every flow from
//! text with a fresh compiler, as `ovn-controller` does on a full
//! recompute; criterion prints the time and the flows per second
//! (`thrpt`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed unwrap is a failed run

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ovn_agent::compile::Compiler;
use ovn_agent::southbound::Snapshot;
use ovn_agent::symtab::Symtab;
use ovn_agent::workload::{fixture, with_acls};

/// Compiles every flow of `sb` as hv1; returns the rules made.
fn compile_all(sb: &Snapshot) -> usize {
    let view = sb.view(Some("hv1"));
    let mut cx = sb.context(Symtab::ovn());
    let mut compiler = Compiler::default();
    let mut rules = 0;
    for (lf, dps) in &sb.flows {
        for dp in dps {
            rules += compiler.compile(lf, &sb.datapaths[dp].0, &mut cx, &view).unwrap().len();
        }
    }
    assert_eq!(compiler.skipped, 0);
    rules
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lflow-compile");
    group.sample_size(10);
    for (name, tables) in [("fixture-306-rows", fixture()), ("acl-100000", with_acls(100_000))] {
        let (sb, bad) = Snapshot::from_tables(&tables);
        assert_eq!(bad, 0);
        let instances: usize = sb.flows.iter().map(|(_, dps)| dps.len()).sum();
        println!("{name}: {} rows, {instances} on their datapaths, {} rules", sb.flows.len(), compile_all(&sb));
        group.throughput(Throughput::Elements(instances as u64));
        group.bench_function(name, |b| b.iter(|| black_box(compile_all(&sb))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
