//! The replica against the real `ovsdb-server`, differentially: random
//! transactions (insert, update, mutate, delete) over columns of every
//! type (scalars, optional values, bounded and unbounded sets and maps,
//! strong, weak and map-valued references, with garbage collection of
//! unreferenced rows) are run by the server, and after each one two
//! replicas must equal a fresh `select` of every row:
//!
//! - the [`Idl`]'s, kept by `monitor_cond_since` and `update3`, the path
//!   the daemon and the OVN agent use;
//! - a [`Replica`] fed by a plain `monitor_cond` session's `update2`.
//!
//! `FERROVS_REPLICA_TXNS` sets the number of transactions (10 000 by
//! default) and `FERROVS_REPLICA_SEED` the seed (random by default, and
//! printed, so a failure can be replayed).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use ovsdb::{Change, Client, Idl, IdlConfig, Message, Replica, Schema, Uuid};
use serde_json::{json, Value};

use ovs_peers::OvsdbServer;

const DB: &str = "Every_Type";

/// splitmix64: small, seedable, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, in_hundred: usize) -> bool {
        self.below(100) < in_hundred
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

const STRINGS: [&str; 4] = ["", "a", "b", "c"];
const PLAIN_UUIDS: [&str; 3] =
    ["00000000-0000-0000-0000-000000000000", "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"];

/// Rows the generator can name: the ones the server has now.
struct Known {
    roots: Vec<String>,
    leaves: Vec<String>,
}

/// One random operation's JSON, and its kind for the tally.
struct Gen<'a> {
    rng: &'a mut Rng,
    known: &'a Known,
    /// Named Leaf rows inserted earlier in this transaction.
    new_leaves: Vec<String>,
}

fn set(atoms: Vec<Value>) -> Value {
    json!(["set", atoms])
}

fn map(pairs: Vec<(Value, Value)>) -> Value {
    json!(["map", pairs.into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()])
}

fn uuid(u: &str) -> Value {
    json!(["uuid", u])
}

fn by_uuid(u: &str) -> Value {
    json!([["_uuid", "==", uuid(u)]])
}

impl Gen<'_> {
    fn int(&mut self) -> Value {
        json!(self.rng.below(5))
    }

    fn string(&mut self) -> Value {
        json!(STRINGS[self.rng.below(STRINGS.len())])
    }

    /// Some of `n` distinct elements made by `atom`, up to `most`.
    fn atoms(&mut self, most: usize, mut atom: impl FnMut(&mut Self) -> Value) -> Vec<Value> {
        let n = self.rng.below(most + 1);
        let mut out: Vec<Value> = Vec::new();
        for _ in 0..n {
            let a = atom(self);
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    fn pairs(&mut self, most: usize, mut key: impl FnMut(&mut Self) -> Value, mut value: impl FnMut(&mut Self) -> Value) -> Value {
        let mut out: Vec<(Value, Value)> = Vec::new();
        for _ in 0..self.rng.below(most + 1) {
            let k = key(self);
            if !out.iter().any(|(o, _)| *o == k) {
                let v = value(self);
                out.push((k, v));
            }
        }
        map(out)
    }

    /// A Leaf row: an existing one, or one inserted earlier in this
    /// transaction.
    fn leaf(&mut self) -> Option<Value> {
        let named: Vec<Value> = self.new_leaves.iter().map(|n| json!(["named-uuid", n])).collect();
        let existing: Vec<Value> = self.known.leaves.iter().map(|u| uuid(u)).collect();
        let all: Vec<Value> = named.into_iter().chain(existing).collect();
        self.rng.pick(&all).cloned()
    }

    fn root(&mut self) -> Option<String> {
        self.rng.pick(&self.known.roots).cloned()
    }

    /// A random value for a Root column (sometimes one the server refuses:
    /// four elements in a set of at most three).
    fn root_value(&mut self, column: &str) -> Value {
        match column {
            "i" => self.int(),
            "r" => json!([0.0, 1.5, -2.25][self.rng.below(3)]),
            "b" => json!(self.rng.chance(50)),
            "s" => self.string(),
            "u" => uuid(PLAIN_UUIDS[self.rng.below(PLAIN_UUIDS.len())]),
            "opt_i" => {
                if self.rng.chance(30) {
                    set(vec![])
                } else {
                    self.int()
                }
            }
            "opt_s" => {
                if self.rng.chance(30) {
                    set(vec![])
                } else {
                    self.string()
                }
            }
            "opt_ref" => match self.leaf() {
                Some(l) if self.rng.chance(70) => l,
                _ => set(vec![]),
            },
            "opt_map" => self.pairs(1, Self::string, Self::int),
            "set_i" => set(self.atoms(5, Self::int)),
            "set3_s" => {
                let most = if self.rng.chance(5) { 4 } else { 3 };
                set(self.atoms(most, Self::string))
            }
            "set1_i" => {
                let mut atoms = self.atoms(4, Self::int);
                if atoms.is_empty() {
                    atoms.push(json!(1));
                }
                set(atoms)
            }
            "map_ss" => self.pairs(4, Self::string, |g| json!(["x", "y", "z"][g.rng.below(3)])),
            "map2_is" => self.pairs(2, Self::int, Self::string),
            "weak" => {
                let roots = self.known.roots.clone();
                set(self.atoms(3, |g| g.rng.pick(&roots).map_or(set(vec![]), |u| uuid(u))).into_iter().filter(|a| a[0] == "uuid").collect())
            }
            "leaves" => set(self.atoms(3, |g| g.leaf().unwrap_or(json!(null))).into_iter().filter(|a| !a.is_null()).collect()),
            "map_ref" => {
                let pairs = self.pairs(3, Self::string, |g| g.leaf().unwrap_or(json!(null)));
                let kept: Vec<Value> = pairs[1].as_array().unwrap().iter().filter(|p| !p[1].is_null()).cloned().collect();
                json!(["map", kept])
            }
            other => panic!("no generator for {other}"),
        }
    }

    fn root_row(&mut self, most: usize) -> Value {
        let mut row = serde_json::Map::new();
        for _ in 0..=self.rng.below(most) {
            let column = ROOT_COLUMNS[self.rng.below(ROOT_COLUMNS.len())];
            row.insert(column.to_owned(), self.root_value(column));
        }
        Value::Object(row)
    }

    /// A mutation of a Root column: (column, mutator, argument).
    fn mutation(&mut self) -> Value {
        let (column, mutator, arg) = match self.rng.below(13) {
            // ovsdb-server 3.1 drops the connection on `*= 0` of a
            // negative integer: multiply by 1..4 only.
            0 if self.rng.chance(30) => ("i", "*=", json!(1 + self.rng.below(4))),
            0 => ("i", ["+=", "-="][self.rng.below(2)], self.int()),
            1 => ("r", "+=", json!(0.5)),
            2 => ("set_i", if self.rng.chance(50) { "insert" } else { "delete" }, self.root_value("set_i")),
            3 => ("set3_s", "insert", set(self.atoms(2, Self::string))),
            4 => ("set1_i", "delete", set(self.atoms(2, Self::int))),
            5 => ("map_ss", "insert", self.root_value("map_ss")),
            6 => ("map_ss", "delete", set(self.atoms(2, Self::string))),
            7 => ("map_ss", "delete", self.root_value("map_ss")),
            8 => ("map2_is", "insert", self.root_value("map2_is")),
            9 => ("opt_i", if self.rng.chance(50) { "insert" } else { "delete" }, self.int()),
            10 => ("opt_s", "delete", self.string()),
            11 => ("weak", "insert", self.root_value("weak")),
            _ => ("leaves", if self.rng.chance(60) { "insert" } else { "delete" }, self.root_value("leaves")),
        };
        json!([column, mutator, arg])
    }

    /// One operation and its kind.
    fn op(&mut self) -> (&'static str, Value) {
        let root = self.root();
        // Deletions keep the tables small (every transaction is checked
        // against a whole snapshot).
        if self.known.roots.len() > 12 && self.rng.chance(40) {
            let r = root.unwrap_or_default();
            return ("delete Root", json!({"op": "delete", "table": "Root", "where": by_uuid(&r)}));
        }
        match (self.rng.below(8), root) {
            (0 | 1, _) | (_, None) => ("insert Root", json!({"op": "insert", "table": "Root", "row": self.root_row(6)})),
            (2 | 3, Some(r)) => ("update Root", json!({"op": "update", "table": "Root", "where": by_uuid(&r), "row": self.root_row(3)})),
            (4, Some(r)) => {
                let mutations: Vec<Value> = (0..=self.rng.below(2)).map(|_| self.mutation()).collect();
                ("mutate Root", json!({"op": "mutate", "table": "Root", "where": by_uuid(&r), "mutations": mutations}))
            }
            (5, Some(r)) => ("delete Root", json!({"op": "delete", "table": "Root", "where": by_uuid(&r)})),
            (6, _) => {
                let name = format!("leaf{}", self.new_leaves.len());
                self.new_leaves.push(name.clone());
                let row = json!({"n": self.int(), "tags": set(self.atoms(2, Self::string))});
                ("insert Leaf", json!({"op": "insert", "table": "Leaf", "row": row, "uuid-name": name}))
            }
            (_, Some(_)) => match self.rng.pick(&self.known.leaves).cloned() {
                Some(l) if self.rng.chance(50) => {
                    ("update Leaf", json!({"op": "update", "table": "Leaf", "where": by_uuid(&l), "row": {"n": self.int()}}))
                }
                Some(l) => {
                    let arg = set(self.atoms(2, Self::string));
                    let mutator = if self.rng.chance(50) { "insert" } else { "delete" };
                    ("mutate Leaf", json!({"op": "mutate", "table": "Leaf", "where": by_uuid(&l), "mutations": [["tags", mutator, arg]]}))
                }
                None => ("insert Root", json!({"op": "insert", "table": "Root", "row": self.root_row(6)})),
            },
        }
    }
}

const ROOT_COLUMNS: [&str; 17] = [
    "i", "r", "b", "s", "u", "opt_i", "opt_s", "opt_ref", "opt_map", "set_i", "set3_s", "set1_i", "map_ss", "map2_is", "weak", "leaves",
    "map_ref",
];

/// The server's rows now, read by `select`, as a replica built from them.
async fn snapshot(client: &Client, schema: &Schema) -> Replica {
    let mut ops = Vec::new();
    let mut names = Vec::new();
    for (table, t) in &schema.tables {
        let columns: Vec<&String> = t.columns.keys().collect();
        ops.push(json!({"op": "select", "table": table, "where": [], "columns": columns}));
        names.push(table.clone());
    }
    let results = client.transact(DB, ops).await.unwrap();
    let mut updates = serde_json::Map::new();
    for (table, result) in names.iter().zip(results) {
        let mut rows = serde_json::Map::new();
        for row in result["rows"].as_array().unwrap() {
            let mut row = row.as_object().unwrap().clone();
            let uuid = row.remove("_uuid").unwrap()[1].as_str().unwrap().to_owned();
            rows.insert(uuid, json!({"initial": row}));
        }
        updates.insert(table.clone(), Value::Object(rows));
    }
    let mut replica = Replica::new(schema.clone());
    replica.apply_update2(&Value::Object(updates)).unwrap();
    replica
}

type Contents = BTreeMap<String, BTreeMap<Uuid, ovsdb::Row>>;

/// A replica's rows without the tables that have none.
fn rows_of(replica: &Replica) -> Contents {
    replica.contents().iter().filter(|(_, rows)| !rows.is_empty()).map(|(t, rows)| (t.clone(), rows.clone())).collect()
}

/// The first row that differs, for the failure message.
fn first_difference(ours: &Contents, truth: &Contents) -> String {
    for table in ours.keys().chain(truth.keys()) {
        let (a, b) = (ours.get(table).cloned().unwrap_or_default(), truth.get(table).cloned().unwrap_or_default());
        for uuid in a.keys().chain(b.keys()) {
            if a.get(uuid) != b.get(uuid) {
                return format!("{table} {uuid}:\n  replica: {:?}\n  server:  {:?}", a.get(uuid), b.get(uuid));
            }
        }
    }
    "no difference".into()
}

/// The `update2` side: a `monitor_cond` session and its own replica.
struct Update2 {
    client: Client,
    replica: Replica,
}

impl Update2 {
    async fn start(remote: &str, schema: &Schema) -> Update2 {
        let client = Client::connect(remote).await.unwrap();
        let requests = Value::Object(schema.tables.keys().map(|t| (t.clone(), json!([{}]))).collect());
        let initial = client.monitor_cond(DB, json!("u2"), requests).await.unwrap();
        let mut replica = Replica::new(schema.clone());
        replica.apply_update2(&initial).unwrap();
        Update2 { client, replica }
    }

    /// Applies the next `update2` notification; false if none came in time.
    async fn step(&mut self, wait: Duration) -> bool {
        let Ok(Some(note)) = tokio::time::timeout(wait, self.client.next_notification()).await else {
            return false;
        };
        if let Message::Notification { method, params } = note {
            if method == "update2" && params.first() == Some(&json!("u2")) {
                self.replica.apply_update2(&params[1]).unwrap();
            }
        }
        true
    }
}

/// Which columns' changes the replicas were told of, for the tally.
fn tally_changes(changes: Vec<ovsdb::RowChange>, modified: &mut BTreeMap<String, usize>) {
    for c in changes {
        if let Change::Modify(columns) = c.change {
            for column in columns {
                *modified.entry(format!("{}.{column}", c.table)).or_default() += 1;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_equal_the_server_after_every_random_transaction() {
    let txns: usize = std::env::var("FERROVS_REPLICA_TXNS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let seed: u64 = std::env::var("FERROVS_REPLICA_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    println!("FERROVS_REPLICA_SEED={seed} FERROVS_REPLICA_TXNS={txns}");
    let schema_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/every-type.ovsschema");
    let server = OvsdbServer::start_schema(&schema_file, |_| Vec::new());
    let writer = Client::connect(&server.remote()).await.unwrap();
    let schema = Schema::from_json(&writer.get_schema(DB).await.unwrap()).unwrap();

    let mut idl = Idl::new(IdlConfig::new(vec![server.remote()], DB));
    assert!(matches!(idl.next_event().await, ovsdb::Event::Connected { .. }));
    let mut update2 = Update2::start(&server.remote(), &schema).await;

    let mut rng = Rng(seed);
    let mut tally: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    let mut modified: BTreeMap<String, usize> = BTreeMap::new();
    let mut committed = 0;
    let mut truth = snapshot(&writer, &schema).await;
    for n in 0..txns {
        let known = Known {
            roots: truth.rows("Root").map(|(u, _)| u.to_string()).collect(),
            leaves: truth.rows("Leaf").map(|(u, _)| u.to_string()).collect(),
        };
        let mut gen = Gen { rng: &mut rng, known: &known, new_leaves: Vec::new() };
        let ops: Vec<(&str, Value)> = (0..=gen.rng.below(3)).map(|_| gen.op()).collect();
        let results = match writer.transact(DB, ops.iter().map(|(_, op)| op.clone()).collect()).await {
            Ok(results) => results,
            Err(e) => panic!(
                "transaction {n} (seed {seed}): {e}: {ops:#?}\n{}",
                std::fs::read_to_string(server.dir().join("ovsdb-server.log")).unwrap_or_default()
            ),
        };
        let ok = results.len() == ops.len() && results.iter().all(|r| r.get("error").is_none());
        committed += usize::from(ok);
        for (kind, _) in &ops {
            tally.entry((*kind).to_owned()).or_default()[usize::from(ok)] += 1;
        }

        truth = snapshot(&writer, &schema).await;
        let want = rows_of(&truth);
        let deadline = Instant::now() + Duration::from_secs(10);
        while rows_of(idl.replica().unwrap()) != want {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = tokio::time::timeout(left, idl.next_event()).await;
            assert!(
                matches!(event, Ok(ovsdb::Event::Changed)) && Instant::now() < deadline,
                "transaction {n} (seed {seed}): the update3 replica differs from the server ({event:?}) after\n{ops:#?}\n{}",
                first_difference(&rows_of(idl.replica().unwrap()), &want)
            );
        }
        while rows_of(&update2.replica) != want {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                update2.step(left).await,
                "transaction {n} (seed {seed}): the update2 replica differs from the server after\n{ops:#?}\n{}",
                first_difference(&rows_of(&update2.replica), &want)
            );
        }
        tally_changes(idl.take_changes(), &mut modified);
        update2.replica.take_changes();
    }

    println!("{committed} of {txns} transactions committed (the rest refused by the server, and so rolled back)");
    for (kind, [refused, done]) in &tally {
        println!("  {kind:12} {done:6} committed {refused:6} in refused transactions");
    }
    println!("columns modified, as the update3 replica was told:");
    for (column, n) in &modified {
        println!("  {column:14} {n}");
    }
    // The generator must reach every check it is there for.
    assert!(committed * 2 > txns, "too few transactions committed: {committed} of {txns}");
    if txns >= 1000 {
        assert!(tally.values().all(|[refused, done]| *done > 0 && refused + done > 0), "an operation never committed: {tally:?}");
        for column in ROOT_COLUMNS {
            assert!(modified.get(&format!("Root.{column}")).is_some_and(|n| *n > 0), "Root.{column} was never modified: {modified:?}");
        }
    }
}
