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
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ovn_agent::compile::Compiler;
use ovn_agent::southbound::Snapshot;
use ovn_agent::symtab::Symtab;
use serde_json::{json, Value};

fn fixture() -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sb-dump.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A UUID's JSON, from a counter (a multiplicative hash, so that the
/// first 32 bits, the cookie and conjunction ids' seed, are spread).
fn uuid(i: u64) -> Value {
    let a = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let b = (i ^ 0x5555).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    json!(["uuid", ovsdb::datum::Uuid(u128::from(a) << 64 | u128::from(b)).to_string()])
}

/// The fixture with `n` ACL flows on ls1 and the address sets they use.
fn with_acls(n: u64) -> Value {
    let mut tables = fixture();
    let ls1 = tables["Datapath_Binding"].as_array().unwrap().iter().find(|r| r["external_ids"].to_string().contains("\"ls1\"")).unwrap()
        ["_uuid"]
        .clone();
    let sets = tables["Address_Set"].as_array_mut().unwrap();
    for s in 0..2000u64 {
        let addrs: Vec<String> = (0..8).map(|k| format!("10.{}.{}.{}", 100 + s / 250, s % 250, k + 1)).collect();
        sets.push(json!({"_uuid": uuid(1_000_000 + s), "name": format!("as_{s}"), "addresses": ["set", addrs]}));
    }
    let flows = tables["Logical_Flow"].as_array_mut().unwrap();
    for i in 0..n {
        let (pipeline, table, port, dir) = if i % 2 == 0 { ("egress", 4, "outport", "src") } else { ("ingress", 8, "inport", "dst") };
        let proto = if i % 3 == 0 { "udp" } else { "tcp" };
        flows.push(json!({
            "_uuid": uuid(i),
            "logical_datapath": ls1,
            "logical_dp_group": ["set", []],
            "pipeline": pipeline,
            "table_id": table,
            "priority": 1000 + i % 1000,
            "match": format!("reg0[7] == 1 && ({port} == @pg_web && ip4 && ip4.{dir} == $as_{} && {proto}.dst == {})", i % 2000, 1 + i % 5000),
            "actions": if i % 4 == 0 { "reg0[1] = 1; next;" } else { "next;" },
            "external_ids": ["map", []],
            "tags": ["map", []],
            "controller_meter": ["set", []],
        }));
    }
    tables
}

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
