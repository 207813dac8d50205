//! `ferrovs lflow compile`: the rules the logical flows of a Southbound
//! database become, as a chassis would install them, in the text of
//! `ovs-ofctl -O OpenFlow15 --no-stats dump-flows` — for users debugging
//! a logical flow (`ovn-sbctl lflow-list` shows its text; this shows what
//! it compiles into).

use std::fmt::Write;

use ovn_agent::compile::{flow_text, Compiler, RuleSet};
use ovn_agent::southbound::Snapshot;
use ovn_agent::symtab::Symtab;
use serde_json::{json, Map, Value};

/// The Southbound tables the compiler reads.
const TABLES: [&str; 12] = [
    "Logical_Flow",
    "Logical_DP_Group",
    "Datapath_Binding",
    "Port_Binding",
    "Multicast_Group",
    "Address_Set",
    "Port_Group",
    "DHCP_Options",
    "DHCPv6_Options",
    "Chassis",
    "HA_Chassis",
    "HA_Chassis_Group",
];

/// What to compile, and as whom.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only the datapath with this name, UUID (or its prefix) or tunnel
    /// key.
    pub datapath: Option<String>,
    /// Only the logical flow with this UUID (or its prefix).
    pub flow: Option<String>,
    /// As this chassis sees the ports (else every port local).
    pub chassis: Option<String>,
    /// The datapath features to compile for (`meters`, `ct_zero_snat`,
    /// `dp_hash_l4_sym`), if not ferrovs' own.
    pub features: Option<Vec<String>>,
}

/// The features `--features` may name.
pub const FEATURES: [&str; 3] = ["meters", "ct_zero_snat", "dp_hash_l4_sym"];

/// The rows of [`TABLES`] from the Southbound database at `remote`, as
/// `{"Table": [row, …]}`.
async fn fetch(remote: &str) -> Result<Value, String> {
    let client = ovsdb::client::Client::connect(remote).await.map_err(|e| e.to_string())?;
    let ops = TABLES.iter().map(|t| json!({"op": "select", "table": t, "where": []})).collect();
    let results = client.transact("OVN_Southbound", ops).await.map_err(|e| e.to_string())?;
    let mut tables = Map::new();
    for (table, result) in TABLES.iter().zip(results) {
        match result.get("rows") {
            Some(rows) => tables.insert((*table).to_owned(), rows.clone()),
            None => return Err(format!("{remote}: select from {table}: {result}")),
        };
    }
    Ok(Value::Object(tables))
}

/// Whether `uuid` is `text` or starts with it.
fn uuid_matches(uuid: u128, text: &str) -> bool {
    ovsdb::datum::Uuid(uuid).to_string().starts_with(&text.to_ascii_lowercase())
}

/// The rules of the selected flows of `tables`, and what went wrong, a
/// line each (a flow that does not compile is named there and skipped).
pub fn compile_tables(tables: &Value, sel: &Selection) -> (String, Vec<String>) {
    let (sb, bad) = Snapshot::from_tables(tables);
    let mut errors = Vec::new();
    if bad > 0 {
        errors.push(format!("{bad} rows lack what the compiler needs (left out)"));
    }
    let view = sb.view(sel.chassis.as_deref());
    let mut cx = sb.context(Symtab::ovn());
    if let Some(features) = &sel.features {
        let has = |f: &str| features.iter().any(|g| g == f);
        (cx.meters, cx.ct_zero_snat, cx.dp_hash_l4_sym) = (has("meters"), has("ct_zero_snat"), has("dp_hash_l4_sym"));
    }
    let mut compiler = Compiler::default();
    let mut rules = RuleSet::default();
    for (lf, dps) in &sb.flows {
        if sel.flow.as_deref().is_some_and(|f| !uuid_matches(lf.uuid, f)) {
            continue;
        }
        for dp_uuid in dps {
            let Some((dp, name)) = sb.datapaths.get(dp_uuid) else { continue };
            if let Some(want) = &sel.datapath {
                if want != name && *want != dp.tunnel_key.to_string() && !uuid_matches(dp.uuid, want) {
                    continue;
                }
            }
            match compiler.compile(lf, dp, &mut cx, &view) {
                Ok(flows) => flows.into_iter().for_each(|fm| rules.add(fm)),
                Err(e) => errors.push(format!("logical flow {} on datapath {name}: {e}", ovsdb::datum::Uuid(lf.uuid))),
            }
        }
    }
    // Equal clauses of different flows are one rule, as a bridge holds them.
    let mut out = String::new();
    for rule in rules.rules() {
        let _ = writeln!(out, "{}", flow_text(rule));
    }
    for (id, text) in compiler.ids.groups.iter() {
        let _ = writeln!(out, " group_id={id},{text}");
    }
    for (id, text) in compiler.ids.meters.iter() {
        let _ = writeln!(out, " meter={id} {text}");
    }
    if compiler.skipped > 0 {
        errors.push(format!("{} of {} logical flows skipped", compiler.skipped, compiler.skipped + compiler.compiled));
    }
    (out, errors)
}

/// `ferrovs lflow compile --db REMOTE …`: prints the rules, and each
/// flow that does not compile on standard error.
pub fn compile(remote: &str, sel: &Selection) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let tables = rt.block_on(fetch(remote))?;
    let (out, errors) = compile_tables(&tables, sel);
    print!("{out}");
    for e in &errors {
        eprintln!("ferrovs: {e}");
    }
    Ok(())
}
