//! Southbound databases to measure the compiler on: the reference
//! topology's (`fixtures/sb-dump.json`, built in), and the same with
//! generated ACL flows on one switch — each matching a port group and one
//! of 2 000 address sets of 8 addresses, so conjunctive matches, as
//! OpenStack's security groups make them. `cargo bench -p ovn-agent` and
//! `ferrovs bench lflow` compile these.

use serde_json::{json, Value};

/// The reference topology's Southbound tables, `{"Table": [row, …]}`.
pub fn fixture() -> Value {
    // The fixture is the project's own file: it parses.
    serde_json::from_str(include_str!("../fixtures/sb-dump.json")).unwrap_or(Value::Null)
}

/// A UUID's JSON from a counter (a multiplicative hash, so that the first
/// 32 bits — the cookie, and the seed of conjunction ids — are spread).
fn uuid(i: u64) -> Value {
    let a = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let b = (i ^ 0x5555).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    json!(["uuid", ovsdb::datum::Uuid(u128::from(a) << 64 | u128::from(b)).to_string()])
}

/// The address sets the ACLs use.
pub const ADDRESS_SETS: u64 = 2000;

/// The fixture with `n` ACL flows on switch `ls1` and the address sets
/// they use: flow `i` is in the egress ACL table (`outport`, `ip4.src`)
/// when `i` is even, else in the ingress one (`inport`, `ip4.dst`), on
/// address set `i % 2000`, UDP or TCP port `1 + i % 5000`, priority
/// `1000 + i % 1000`.
pub fn with_acls(n: u64) -> Value {
    let mut tables = fixture();
    let ls1 = tables["Datapath_Binding"]
        .as_array()
        .and_then(|dps| dps.iter().find(|r| r["external_ids"].to_string().contains("\"ls1\"")))
        .map(|r| r["_uuid"].clone())
        .unwrap_or(Value::Null);
    if let Some(sets) = tables["Address_Set"].as_array_mut() {
        for s in 0..ADDRESS_SETS {
            let addrs: Vec<String> = (0..8).map(|k| format!("10.{}.{}.{}", 100 + s / 250, s % 250, k + 1)).collect();
            sets.push(json!({"_uuid": uuid(1_000_000 + s), "name": format!("as_{s}"), "addresses": ["set", addrs]}));
        }
    }
    if let Some(flows) = tables["Logical_Flow"].as_array_mut() {
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
                "match": format!(
                    "reg0[7] == 1 && ({port} == @pg_web && ip4 && ip4.{dir} == $as_{} && {proto}.dst == {})",
                    i % ADDRESS_SETS,
                    1 + i % 5000
                ),
                "actions": if i % 4 == 0 { "reg0[1] = 1; next;" } else { "next;" },
                "external_ids": ["map", []],
                "tags": ["map", []],
                "controller_meter": ["set", []],
            }));
        }
    }
    tables
}
