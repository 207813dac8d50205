//! What the IDL needs from a database schema (RFC 7047, section 3.2):
//! each table's columns and their types, so that values are read with
//! the right atom types and `update2` diffs are applied with the right
//! rule (scalar, set or map).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::datum::{Atom, Datum};

/// The type of a column's atoms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomType {
    /// `integer`
    Integer,
    /// `real`
    Real,
    /// `boolean`
    Boolean,
    /// `string`
    String,
    /// `uuid`
    Uuid,
}

/// A column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnType {
    /// Type of the keys (of the elements, for a set or scalar).
    pub key: AtomType,
    /// Type of the values, for a map.
    pub value: Option<AtomType>,
    /// Fewest elements.
    pub min: u64,
    /// Most elements (`u64::MAX` for "unlimited").
    pub max: u64,
}

impl ColumnType {
    /// A scalar column: exactly one atom.
    pub fn is_scalar(&self) -> bool {
        self.value.is_none() && self.min == 1 && self.max == 1
    }

    /// A map column.
    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }
}

/// A table's columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableSchema {
    /// Column name to type, the implicit `_uuid` and `_version` included.
    pub columns: BTreeMap<String, ColumnType>,
}

/// A database schema.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    /// Database name.
    pub name: String,
    /// Schema version.
    pub version: String,
    /// Tables by name.
    pub tables: BTreeMap<String, TableSchema>,
}

/// A schema the IDL cannot read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad schema: {0}")]
pub struct SchemaError(pub String);

fn atom_type(v: &Value) -> Result<AtomType, SchemaError> {
    let name = match v {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("type").and_then(Value::as_str).ok_or_else(|| SchemaError(format!("base type without a type: {v}")))?,
        _ => return Err(SchemaError(format!("not a base type: {v}"))),
    };
    Ok(match name {
        "integer" => AtomType::Integer,
        "real" => AtomType::Real,
        "boolean" => AtomType::Boolean,
        "string" => AtomType::String,
        "uuid" => AtomType::Uuid,
        other => return Err(SchemaError(format!("unknown atomic type {other:?}"))),
    })
}

fn column_type(v: &Value) -> Result<ColumnType, SchemaError> {
    if !v.is_object() {
        return Ok(ColumnType { key: atom_type(v)?, value: None, min: 1, max: 1 });
    }
    let key = atom_type(v.get("key").ok_or_else(|| SchemaError(format!("type without a key: {v}")))?)?;
    let value = v.get("value").map(atom_type).transpose()?;
    let min = v.get("min").map_or(Some(1), Value::as_u64).ok_or_else(|| SchemaError(format!("bad min: {v}")))?;
    let max = match v.get("max") {
        None => 1,
        Some(Value::String(s)) if s == "unlimited" => u64::MAX,
        Some(m) => m.as_u64().ok_or_else(|| SchemaError(format!("bad max: {v}")))?,
    };
    Ok(ColumnType { key, value, min, max })
}

impl Schema {
    /// Reads a schema as `get_schema` returns it.
    pub fn from_json(v: &Value) -> Result<Schema, SchemaError> {
        let name = v.get("name").and_then(Value::as_str).ok_or_else(|| SchemaError("no name".into()))?.to_owned();
        let version = v.get("version").and_then(Value::as_str).unwrap_or_default().to_owned();
        let tables_json = v.get("tables").and_then(Value::as_object).ok_or_else(|| SchemaError("no tables".into()))?;
        let mut tables = BTreeMap::new();
        for (tname, t) in tables_json {
            let cols = t.get("columns").and_then(Value::as_object).ok_or_else(|| SchemaError(format!("table {tname} has no columns")))?;
            // Every table also has `_uuid` and `_version` (RFC 7047, 3.2).
            let uuid = ColumnType { key: AtomType::Uuid, value: None, min: 1, max: 1 };
            let mut columns = BTreeMap::from([("_uuid".to_owned(), uuid), ("_version".to_owned(), uuid)]);
            for (cname, c) in cols {
                let ty = c.get("type").ok_or_else(|| SchemaError(format!("{tname}.{cname} has no type")))?;
                columns.insert(cname.clone(), column_type(ty).map_err(|e| SchemaError(format!("{tname}.{cname}: {}", e.0)))?);
            }
            tables.insert(tname.clone(), TableSchema { columns });
        }
        Ok(Schema { name, version, tables })
    }
}

/// Reads `v` as a value of type `ty`: JSON integers in a real column
/// become reals; anything of the wrong type is an error.
pub fn conform(v: &Value, ty: &ColumnType) -> Result<Datum, crate::DatumError> {
    let fit = |a: Atom, t: AtomType| -> Result<Atom, crate::DatumError> {
        match (a, t) {
            (Atom::Integer(i), AtomType::Real) => Ok(Atom::Real(i as f64)),
            (a @ Atom::Integer(_), AtomType::Integer)
            | (a @ Atom::Real(_), AtomType::Real)
            | (a @ Atom::Boolean(_), AtomType::Boolean)
            | (a @ Atom::String(_), AtomType::String)
            | (a @ (Atom::Uuid(_) | Atom::NamedUuid(_)), AtomType::Uuid) => Ok(a),
            (a, t) => Err(crate::DatumError::Atom(format!("{a:?} is not of type {t:?}"))),
        }
    };
    match (Datum::from_json(v)?, ty.value) {
        (Datum::Map(m), Some(vt)) => {
            m.into_iter().map(|(k, v)| Ok((fit(k, ty.key)?, fit(v, vt)?))).collect::<Result<_, _>>().map(Datum::Map)
        }
        // An empty map arrives as ["map", []] but an empty set as ["set", []].
        (Datum::Set(s), Some(_)) if s.is_empty() => Ok(Datum::Map(Default::default())),
        (Datum::Set(s), None) => s.into_iter().map(|a| fit(a, ty.key)).collect::<Result<_, _>>().map(Datum::Set),
        (d, _) => Err(crate::DatumError::Datum(format!("{d:?} does not fit {ty:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_column_types() {
        let s = Schema::from_json(&json!({
            "name": "T", "version": "1.0.0",
            "tables": {"Port": {"columns": {
                "name": {"type": "string"},
                "tag": {"type": {"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095}, "min": 0, "max": 1}},
                "trunks": {"type": {"key": "integer", "min": 0, "max": 4096}},
                "interfaces": {"type": {"key": {"type": "uuid", "refTable": "Interface"}, "min": 1, "max": "unlimited"}},
                "other_config": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
                "load": {"type": "real"}
            }}}
        }))
        .unwrap();
        let c = &s.tables["Port"].columns;
        assert!(c["name"].is_scalar());
        assert_eq!(c["tag"], ColumnType { key: AtomType::Integer, value: None, min: 0, max: 1 });
        assert_eq!(c["interfaces"].max, u64::MAX);
        assert!(c["other_config"].is_map());
        assert_eq!(conform(&json!(3), &c["load"]).unwrap(), Datum::scalar(Atom::Real(3.0)));
        assert_eq!(conform(&json!(["set", []]), &c["other_config"]).unwrap(), Datum::Map(Default::default()));
        assert!(conform(&json!("x"), &c["tag"]).is_err());
        assert!(Schema::from_json(&json!({"name": "T", "tables": {"A": {"columns": {"c": {"type": "float"}}}}})).is_err());
    }

    #[test]
    fn reads_the_real_open_vswitch_schema() {
        let Ok(text) = std::fs::read_to_string("/usr/share/openvswitch/vswitch.ovsschema") else {
            panic!("vswitch.ovsschema missing: run `make setup`");
        };
        let s = Schema::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(s.name, "Open_vSwitch");
        assert!(s.tables["Interface"].columns["ofport"].value.is_none());
        assert!(s.tables["Interface"].columns["external_ids"].is_map());
        assert!(s.tables["Bridge"].columns["name"].is_scalar());
    }
}
