//! The IDL's local replica: the monitored tables' rows, kept up to date
//! from `update2` table-updates, and what changed since the reader last
//! looked.
//!
//! # Invariants
//!
//! A row stores only columns whose value differs from the column type's
//! default (empty set or map for a minimum of 0; otherwise one element of
//! 0, 0.0, false, "" or the all-zero UUID), as `ovsdb-server` sends rows, so a replica kept up to date
//! by diffs equals one built from a fresh snapshot. Every table-update
//! is checked against the schema before anything is applied: a bad one
//! changes nothing and is an error (the session should then be dropped
//! and the replica rebuilt).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::datum::{Atom, Datum, Uuid};
use crate::schema::{conform, AtomType, ColumnType, Schema};

/// A row: column name to value (defaults omitted).
pub type Row = BTreeMap<String, Datum>;

/// What happened to a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The row appeared (in the initial contents or inserted later).
    Insert,
    /// These columns changed.
    Modify(Vec<String>),
    /// The row was deleted; its last contents.
    Delete(Row),
}

/// One tracked change.
#[derive(Clone, Debug, PartialEq)]
pub struct RowChange {
    /// Table name.
    pub table: String,
    /// Row UUID.
    pub uuid: Uuid,
    /// What happened.
    pub change: Change,
}

/// A table-update the replica refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// The update names a table or column the schema lacks.
    #[error("unknown table or column {0}")]
    Unknown(String),
    /// Not the shape of an `update2` table-updates object.
    #[error("malformed update: {0}")]
    Malformed(String),
    /// A value of the wrong type.
    #[error("bad value in {0}: {1}")]
    Value(String, String),
}

/// The replica of the monitored tables.
#[derive(Clone, Debug)]
pub struct Replica {
    schema: Schema,
    tables: BTreeMap<String, BTreeMap<Uuid, Row>>,
    changes: Vec<RowChange>,
}

/// The default value of a column type, as `ovsdb-server` leaves it out of
/// rows: nothing for a type whose minimum is 0, otherwise one element
/// of the atom types' defaults (so a set of 1..4 integers defaults to
/// `{0}`, and a map of at least one pair to `{"": ""}` or the like).
fn default_of(ty: &ColumnType) -> Datum {
    let atom = |t: AtomType| match t {
        AtomType::Integer => Atom::Integer(0),
        AtomType::Real => Atom::Real(0.0),
        AtomType::Boolean => Atom::Boolean(false),
        AtomType::String => Atom::String(String::new()),
        AtomType::Uuid => Atom::Uuid(Uuid(0)),
    };
    match (ty.min, ty.value) {
        (0, Some(_)) => Datum::Map(BTreeMap::new()),
        (0, None) => Datum::empty(),
        (_, Some(value)) => Datum::Map(BTreeMap::from([(atom(ty.key), atom(value))])),
        (_, None) => Datum::scalar(atom(ty.key)),
    }
}

/// Applies an `update2` column diff to `old`.
///
/// Only a column that can hold more than one element (a set or map whose
/// maximum is over 1) is sent as a diff: the elements added, removed or
/// (for a map) given a new value. A column of at most one element, a
/// scalar or an optional value such as `Port.tag` (0..1), is sent as its
/// whole new value, `["set", []]` when it was cleared (as OVS's
/// `ovsdb_datum_diff` does for a type that is not composite).
fn apply_diff(old: Datum, diff: Datum, ty: &ColumnType) -> Datum {
    if ty.max <= 1 {
        return diff;
    }
    match (old, diff) {
        (Datum::Set(mut set), Datum::Set(d)) => {
            for a in d {
                if !set.remove(&a) {
                    set.insert(a);
                }
            }
            Datum::Set(set)
        }
        (Datum::Map(mut map), Datum::Map(d)) => {
            for (k, v) in d {
                match map.get(&k) {
                    Some(old) if *old == v => {
                        map.remove(&k);
                    }
                    _ => {
                        map.insert(k, v);
                    }
                }
            }
            Datum::Map(map)
        }
        (_, diff) => diff,
    }
}

impl Replica {
    /// An empty replica of `schema`'s tables.
    pub fn new(schema: Schema) -> Self {
        Replica { schema, tables: BTreeMap::new(), changes: Vec::new() }
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// A table's rows (empty when none was seen).
    pub fn rows(&self, table: &str) -> impl Iterator<Item = (&Uuid, &Row)> {
        self.tables.get(table).into_iter().flat_map(|t| t.iter())
    }

    /// One row.
    pub fn row(&self, table: &str, uuid: &Uuid) -> Option<&Row> {
        self.tables.get(table)?.get(uuid)
    }

    /// The value of `column` in a row: what the row holds, or the column
    /// type's default when it holds nothing (`None` for an unknown table,
    /// column or row).
    pub fn value(&self, table: &str, uuid: &Uuid, column: &str) -> Option<Datum> {
        let ty = self.schema.tables.get(table)?.columns.get(column)?;
        let row = self.row(table, uuid)?;
        Some(row.get(column).cloned().unwrap_or_else(|| default_of(ty)))
    }

    /// Every table's rows, for comparing replicas.
    pub fn contents(&self) -> &BTreeMap<String, BTreeMap<Uuid, Row>> {
        &self.tables
    }

    /// The changes since the last call.
    pub fn take_changes(&mut self) -> Vec<RowChange> {
        std::mem::take(&mut self.changes)
    }

    /// Forgets every row (before a resynchronisation), tracking deletions.
    pub fn clear(&mut self) {
        for (table, rows) in std::mem::take(&mut self.tables) {
            for (uuid, row) in rows {
                self.changes.push(RowChange { table: table.clone(), uuid, change: Change::Delete(row) });
            }
        }
    }

    /// Becomes `fresh` (a new session's snapshot, perhaps of a newer
    /// schema), tracking only the rows that differ.
    pub fn resync(&mut self, fresh: Replica) {
        let old = std::mem::take(&mut self.tables);
        let empty = BTreeMap::new();
        let names: std::collections::BTreeSet<&String> = old.keys().chain(fresh.tables.keys()).collect();
        for table in names {
            let (before, after) = (old.get(table).unwrap_or(&empty), fresh.tables.get(table).unwrap_or(&empty));
            for (uuid, row) in before {
                if !after.contains_key(uuid) {
                    self.changes.push(RowChange { table: table.clone(), uuid: *uuid, change: Change::Delete(row.clone()) });
                }
            }
            for (uuid, row) in after {
                let change = match before.get(uuid) {
                    None => Change::Insert,
                    Some(prev) if prev == row => continue,
                    Some(prev) => {
                        let cols: std::collections::BTreeSet<&String> = prev.keys().chain(row.keys()).collect();
                        Change::Modify(cols.into_iter().filter(|c| prev.get(*c) != row.get(*c)).cloned().collect())
                    }
                };
                self.changes.push(RowChange { table: table.clone(), uuid: *uuid, change });
            }
        }
        self.schema = fresh.schema;
        self.tables = fresh.tables;
    }

    fn read_row(&self, table: &str, v: &Value) -> Result<Row, UpdateError> {
        let cols = &self.schema.tables.get(table).ok_or_else(|| UpdateError::Unknown(table.to_owned()))?.columns;
        let obj = v.as_object().ok_or_else(|| UpdateError::Malformed(format!("row of {table} is not an object")))?;
        let mut row = Row::new();
        for (name, value) in obj {
            let ty = cols.get(name).ok_or_else(|| UpdateError::Unknown(format!("{table}.{name}")))?;
            let d = conform(value, ty).map_err(|e| UpdateError::Value(format!("{table}.{name}"), e.to_string()))?;
            row.insert(name.clone(), d);
        }
        Ok(row)
    }

    /// Applies an `update2` table-updates object (the result of
    /// `monitor_cond` or the second parameter of an `update2`
    /// notification). All or nothing: on error nothing changed.
    pub fn apply_update2(&mut self, updates: &Value) -> Result<(), UpdateError> {
        enum Op {
            Put(Row),
            Modify(Row),
            Delete,
        }
        let tables = updates.as_object().ok_or_else(|| UpdateError::Malformed("table-updates is not an object".into()))?;
        let mut ops = Vec::new();
        for (table, rows) in tables {
            let rows = rows.as_object().ok_or_else(|| UpdateError::Malformed(format!("{table} updates are not an object")))?;
            for (uuid, update) in rows {
                let uuid: Uuid = uuid.parse().map_err(|_| UpdateError::Malformed(format!("row name {uuid:?} is not a UUID")))?;
                let op = match update.as_object().map(|o| o.iter().collect::<Vec<_>>()).as_deref() {
                    Some([(kind, row)]) if *kind == "initial" || *kind == "insert" => Op::Put(self.read_row(table, row)?),
                    Some([(kind, row)]) if *kind == "modify" => Op::Modify(self.read_row(table, row)?),
                    Some([(kind, _)]) if *kind == "delete" => Op::Delete,
                    _ => return Err(UpdateError::Malformed(format!("{table} row update {update}"))),
                };
                ops.push((table.clone(), uuid, op));
            }
        }
        for (table, uuid, op) in ops {
            let Some(cols) = self.schema.tables.get(&table).map(|t| t.columns.clone()) else {
                continue;
            };
            let rows = self.tables.entry(table.clone()).or_default();
            let change = match op {
                Op::Put(mut row) => {
                    row.retain(|name, d| cols.get(name).is_some_and(|ty| *d != default_of(ty)));
                    rows.insert(uuid, row);
                    Change::Insert
                }
                Op::Delete => match rows.remove(&uuid) {
                    Some(old) => Change::Delete(old),
                    None => continue,
                },
                Op::Modify(diff) => {
                    let row = rows.entry(uuid).or_default();
                    let mut changed = Vec::new();
                    for (name, d) in diff {
                        let Some(ty) = cols.get(&name) else {
                            continue;
                        };
                        let old = row.remove(&name).unwrap_or_else(|| default_of(ty));
                        let new = apply_diff(old, d, ty);
                        if new != default_of(ty) {
                            row.insert(name.clone(), new);
                        }
                        changed.push(name);
                    }
                    Change::Modify(changed)
                }
            };
            self.changes.push(RowChange { table, uuid, change });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::from_json(&json!({"name": "T", "tables": {"B": {"columns": {
            "name": {"type": "string"},
            "ids": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
            "tags": {"type": {"key": "integer", "min": 0, "max": "unlimited"}},
            "n": {"type": "integer"}
        }}}}))
        .unwrap()
    }

    const U: &str = "00000000-0000-0000-0000-000000000001";

    #[test]
    fn initial_modify_delete_with_change_tracking() {
        let mut r = Replica::new(schema());
        r.apply_update2(
            &json!({"B": {U: {"initial": {"name": "br0", "ids": ["map", [["a", "1"], ["b", "2"]]], "tags": ["set", [1, 2]]}}}}),
        )
        .unwrap();
        let u: Uuid = U.parse().unwrap();
        assert_eq!(r.take_changes(), vec![RowChange { table: "B".into(), uuid: u, change: Change::Insert }]);
        // Map diff: "a" same value → removed, "b" new value → updated, "c" new → inserted.
        // Set diff: 2 toggled out, 3 toggled in. Scalar: replaced.
        r.apply_update2(
            &json!({"B": {U: {"modify": {"ids": ["map", [["a", "1"], ["b", "9"], ["c", "3"]]], "tags": ["set", [2, 3]], "n": 4}}}}),
        )
        .unwrap();
        let row = r.row("B", &u).unwrap();
        assert_eq!(row["ids"], Datum::from_json(&json!(["map", [["b", "9"], ["c", "3"]]])).unwrap());
        assert_eq!(row["tags"], Datum::from_json(&json!(["set", [1, 3]])).unwrap());
        assert_eq!(row["n"], Datum::scalar(Atom::Integer(4)));
        assert!(matches!(&r.take_changes()[..], [RowChange { change: Change::Modify(c), .. }] if c.len() == 3));
        // Back to defaults: the columns disappear, as in a fresh snapshot.
        r.apply_update2(&json!({"B": {U: {"modify": {"tags": ["set", [1, 3]], "n": 0}}}})).unwrap();
        assert!(!r.row("B", &u).unwrap().contains_key("tags"));
        assert!(!r.row("B", &u).unwrap().contains_key("n"));
        r.apply_update2(&json!({"B": {U: {"delete": null}}})).unwrap();
        assert!(r.row("B", &u).is_none());
        assert!(matches!(r.take_changes().last(), Some(RowChange { change: Change::Delete(_), .. })));
    }

    #[test]
    fn an_optional_column_is_replaced_by_its_new_value_not_merged() {
        // ovsdb-server sends the whole new value of a column of at most
        // one element: `set Port p1 tag=20`, `tag=30`, then `clear tag`.
        let s = Schema::from_json(&json!({"name": "T", "tables": {"Port": {"columns": {
            "tag": {"type": {"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095}, "min": 0, "max": 1}},
            "one": {"type": {"key": "string", "value": "string", "min": 0, "max": 1}},
            "ints": {"type": {"key": "integer", "min": 1, "max": 4}}
        }}}}))
        .unwrap();
        let mut r = Replica::new(s);
        let u: Uuid = U.parse().unwrap();
        r.apply_update2(&json!({"Port": {U: {"insert": {"tag": 20, "one": ["map", [["a", "1"]]]}}}})).unwrap();
        r.apply_update2(&json!({"Port": {U: {"modify": {"tag": 30, "one": ["map", [["b", "2"]]]}}}})).unwrap();
        assert_eq!(r.value("Port", &u, "tag"), Some(Datum::scalar(Atom::Integer(30))));
        assert_eq!(r.value("Port", &u, "one"), Datum::from_json(&json!(["map", [["b", "2"]]])).ok());
        r.apply_update2(&json!({"Port": {U: {"modify": {"tag": ["set", []], "one": ["map", []]}}}})).unwrap();
        assert_eq!(r.value("Port", &u, "tag"), Some(Datum::empty()));
        assert_eq!(r.row("Port", &u), Some(&Row::new()), "cleared columns are left out, as in a snapshot");
        // A set whose minimum is 1 defaults to one default element, which
        // ovsdb-server leaves out of rows.
        assert_eq!(r.value("Port", &u, "ints"), Some(Datum::scalar(Atom::Integer(0))));
    }

    #[test]
    fn bad_updates_change_nothing() {
        let mut r = Replica::new(schema());
        r.apply_update2(&json!({"B": {U: {"insert": {"name": "x"}}}})).unwrap();
        let before = r.contents().clone();
        for bad in [
            json!([]),
            json!({"Nope": {U: {"insert": {}}}}),
            json!({"B": {"not-a-uuid": {"insert": {}}}}),
            json!({"B": {U: {"insert": {"nope": 1}}}}),
            json!({"B": {U: {"insert": {"n": "string"}}}}),
            json!({"B": {U: {"frobnicate": {}}}}),
            json!({"B": {U: {"insert": {}, "delete": null}}}),
            // A good update before a bad one in the same message: neither
            // applies. (serde_json orders the row names, so the good one,
            // named ...0000, is read first.)
            json!({"B": {"00000000-0000-0000-0000-000000000000": {"insert": {"name": "y"}}, U: {"modify": {"n": "bad"}}}}),
            json!({"B": {"00000000-0000-0000-0000-000000000000": {"modify": {"name": "z"}}, U: {"modify": {"n": "bad"}}}}),
        ] {
            assert!(r.apply_update2(&bad).is_err(), "{bad}");
            assert_eq!(r.contents(), &before, "{bad}");
        }
    }
}
