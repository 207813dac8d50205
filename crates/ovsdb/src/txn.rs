//! Transactions built against the replica (RFC 7047, section 5.2), as
//! OVS's IDL builds them: rows inserted under named UUIDs that later
//! operations of the same transaction can refer to, updates and mutations
//! of rows by UUID, and `verify` — a `wait` that the columns still hold
//! what the replica says, so a change made by someone else since makes
//! the whole transaction fail instead of being overwritten.

use serde_json::{json, Value};

use crate::datum::{Atom, Datum, Uuid};
use crate::replica::Replica;

/// A transaction under construction.
#[derive(Debug, Default, Clone)]
pub struct Txn {
    ops: Vec<Value>,
    named: u32,
}

fn row_json<'a>(columns: impl IntoIterator<Item = (&'a str, Datum)>) -> Value {
    Value::Object(columns.into_iter().map(|(c, d)| (c.to_owned(), d.to_json())).collect())
}

fn by_uuid(uuid: &Uuid) -> Value {
    json!([["_uuid", "==", ["uuid", uuid.to_string()]]])
}

impl Txn {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a row; returns the atom naming it within this transaction
    /// (to put in another row's reference column).
    pub fn insert<'a>(&mut self, table: &str, row: impl IntoIterator<Item = (&'a str, Datum)>) -> Atom {
        self.named += 1;
        let name = format!("row{}", self.named);
        self.ops.push(json!({"op": "insert", "table": table, "row": row_json(row), "uuid-name": name}));
        Atom::NamedUuid(name)
    }

    /// Sets columns of row `uuid`.
    pub fn update<'a>(&mut self, table: &str, uuid: &Uuid, row: impl IntoIterator<Item = (&'a str, Datum)>) {
        self.ops.push(json!({"op": "update", "table": table, "where": by_uuid(uuid), "row": row_json(row)}));
    }

    /// Applies `mutations` (column, mutator such as `insert`, `delete`,
    /// `+=`, value) to row `uuid`.
    pub fn mutate<'a>(&mut self, table: &str, uuid: &Uuid, mutations: impl IntoIterator<Item = (&'a str, &'a str, Datum)>) {
        let m: Vec<Value> = mutations.into_iter().map(|(c, op, d)| json!([c, op, d.to_json()])).collect();
        self.ops.push(json!({"op": "mutate", "table": table, "where": by_uuid(uuid), "mutations": m}));
    }

    /// Deletes row `uuid`.
    pub fn delete(&mut self, table: &str, uuid: &Uuid) {
        self.ops.push(json!({"op": "delete", "table": table, "where": by_uuid(uuid)}));
    }

    /// Makes the transaction fail unless `columns` of row `uuid` still hold
    /// what `replica` says (OVS's `verify`).
    pub fn verify(&mut self, replica: &Replica, table: &str, uuid: &Uuid, columns: &[&str]) {
        let row: Vec<(&str, Datum)> = columns.iter().filter_map(|c| Some((*c, replica.value(table, uuid, c)?))).collect();
        let names: Vec<&str> = row.iter().map(|(c, _)| *c).collect();
        self.ops.push(json!({"op": "wait", "timeout": 0, "table": table, "where": by_uuid(uuid), "columns": names,
            "until": "==", "rows": [row_json(row)]}));
    }

    /// Adds a comment to the database log.
    pub fn comment(&mut self, text: &str) {
        self.ops.push(json!({"op": "comment", "comment": text}));
    }

    /// Whether no operation was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations, for `transact`.
    pub fn into_ops(self) -> Vec<Value> {
        self.ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_rfc7047() {
        let mut t = Txn::new();
        let br = t.insert("Bridge", [("name", Datum::scalar(Atom::String("br0".into())))]);
        assert_eq!(br, Atom::NamedUuid("row1".into()));
        let u = Uuid(1);
        t.mutate("Open_vSwitch", &u, [("bridges", "insert", Datum::scalar(br))]);
        t.comment("hi");
        let ops = t.into_ops();
        assert_eq!(ops[0], json!({"op": "insert", "table": "Bridge", "row": {"name": "br0"}, "uuid-name": "row1"}));
        assert_eq!(ops[1]["mutations"], json!([["bridges", "insert", ["named-uuid", "row1"]]]));
        assert_eq!(ops[1]["where"], json!([["_uuid", "==", ["uuid", "00000000-0000-0000-0000-000000000001"]]]));
        assert_eq!(ops[2], json!({"op": "comment", "comment": "hi"}));
    }
}
