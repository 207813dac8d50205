//! `ferrovs lflow compile` against a real `ovsdb-server` serving the
//! reference topology's Southbound database (the rows of
//! `crates/ovn-agent/fixtures/sb-dump.json`, inserted with their UUIDs into
//! a database of Debian's `ovn-sb.ovsschema`): as chassis hv1 it prints
//! the rules real `ovn-controller` installed on hv1, but for group ids.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

use ovn_agent::compile::comparable;
use ovs_peers::OvsdbServer;
use serde_json::{json, Value};

const SB_SCHEMA: &str = "/usr/share/ovn/ovn-sb.ovsschema";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ovn-agent/fixtures").join(name)).unwrap()
}

/// A Southbound database holding the fixture's rows.
fn southbound() -> OvsdbServer {
    let sb = OvsdbServer::start_schema(Path::new(SB_SCHEMA), |_| Vec::new());
    let dump: Value = serde_json::from_str(&fixture("sb-dump.json")).unwrap();
    let mut ops = Vec::new();
    for (table, rows) in dump.as_object().unwrap() {
        for row in rows.as_array().unwrap() {
            let mut row = row.as_object().unwrap().clone();
            let uuid = row.remove("_uuid").unwrap()[1].clone();
            row.remove("_version");
            ops.push(json!({"op": "insert", "table": table, "row": row, "uuid": uuid}));
        }
    }
    // One transaction (the rows refer to each other), too long for
    // `ovsdb-client transact`'s command line.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let results = rt.block_on(async {
        let client = ovsdb::client::Client::connect(&sb.remote()).await.unwrap();
        client.transact("OVN_Southbound", ops).await.unwrap()
    });
    assert!(results.iter().all(|r| r.get("error").is_none()), "loading the fixture: {results:?}");
    sb
}

fn compile(sb: &OvsdbServer, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrovs")).args(["lflow", "compile", "--db", &sb.remote()]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn a_southbound_database_compiles_into_ovn_controller_s_rules() {
    let sb = southbound();
    // For a datapath with what hv1's Open vSwitch has (golden-dp-features.txt).
    let (out, err) = compile(&sb, &["--chassis", "hv1", "--features", "meters,ct_zero_snat,dp_hash_l4_sym"]);
    assert_eq!(err, "", "no flow is skipped");
    let rules = comparable(&out);
    let golden = comparable(&fixture("golden-br-int-flows.txt"));
    println!("{} rules; ovn-controller's {}", rules.len(), golden.len());
    let missing: Vec<&String> = golden.difference(&rules).collect();
    let extra: Vec<&String> = rules.difference(&golden).collect();
    assert!(!golden.is_empty() && missing.is_empty() && extra.is_empty(), "missing {missing:#?}\nextra {extra:#?}");
    // ferrovs' own datapath has no all-zero SNAT: ct_commit without it.
    let (own, _) = compile(&sb, &["--chassis", "hv1", "--flow", "e70cbd74"]);
    assert!(own.contains("actions=ct(commit,zone=NXM_NX_REG13[0..15],exec(set_field:0x1/0x1->ct_mark))"), "{own}");
    // The load balancer's group, as ovn-controller gives it to OVS.
    assert!(out.lines().any(|l| l.starts_with(" group_id=1,type=select,selection_method=dp_hash,bucket=bucket_id=0,weight:100,actions=ct(nat(dst=10.0.1.11:80),commit,table=21,")), "{out}");

    // One flow: the load balancer's, on ls1 only.
    let (one, _) = compile(&sb, &["--chassis", "hv1", "--flow", "77894dc7", "--datapath", "ls1"]);
    let lines: Vec<&str> = one.lines().collect();
    assert_eq!(lines.len(), 2, "{one}");
    assert!(lines[0]
        .starts_with(" cookie=0x77894dc7, table=20, priority=120,ct_state=+new+trk,tcp,metadata=0x1,nw_dst=10.0.1.100,tp_dst=80 actions="));
    // Another datapath: nothing.
    assert_eq!(compile(&sb, &["--flow", "77894dc7", "--datapath", "ls2"]).0, "");
}

#[test]
fn a_missing_database_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrovs")).args(["lflow", "compile", "--db", "unix:/nonexistent/sb.sock"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/sb.sock"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_ferrovs")).args(["lflow", "compile"]).output().unwrap();
    assert!(!out.status.success());
}
