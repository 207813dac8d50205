//! OVSDB values (RFC 7047, section 5.1): atoms, sets and maps, and their
//! JSON notation.
//!
//! A column's value is a [`Datum`]: a set of atoms or a map from atoms to
//! atoms (a scalar column is a set of one). Sets and maps are kept sorted
//! (`BTreeSet`, `BTreeMap`) so that equal values compare equal whatever
//! order the server sent them in. Reading JSON needs no schema: a JSON
//! integer is an integer atom, a number with a fraction or exponent a real.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

/// A UUID, as OVSDB names rows.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(pub u128);

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Uuid {
    type Err = DatumError;

    /// Parses the 36-character form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    fn from_str(s: &str) -> Result<Self, DatumError> {
        let bad = || DatumError::Uuid(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return Err(bad());
        }
        let mut v = 0u128;
        for (i, c) in s.chars().enumerate() {
            if [8, 13, 18, 23].contains(&i) {
                continue;
            }
            v = v << 4 | u128::from(c.to_digit(16).ok_or_else(bad)?);
        }
        Ok(Uuid(v))
    }
}

/// One value of a column's base type.
#[derive(Clone, Debug)]
pub enum Atom {
    /// 64-bit integer.
    Integer(i64),
    /// IEEE double.
    Real(f64),
    /// Boolean.
    Boolean(bool),
    /// UTF-8 string.
    String(String),
    /// A row's UUID.
    Uuid(Uuid),
    /// A row inserted earlier in the same transaction, by name.
    NamedUuid(String),
}

impl Atom {
    fn rank(&self) -> u8 {
        match self {
            Atom::Integer(_) => 0,
            Atom::Real(_) => 1,
            Atom::Boolean(_) => 2,
            Atom::String(_) => 3,
            Atom::Uuid(_) => 4,
            Atom::NamedUuid(_) => 5,
        }
    }

    /// The atom from its JSON notation.
    pub fn from_json(v: &Value) -> Result<Atom, DatumError> {
        match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) if !n.is_f64() => Ok(Atom::Integer(i)),
                _ => n.as_f64().map(Atom::Real).ok_or_else(|| DatumError::Atom(v.to_string())),
            },
            Value::Bool(b) => Ok(Atom::Boolean(*b)),
            Value::String(s) => Ok(Atom::String(s.clone())),
            Value::Array(a) => match a.as_slice() {
                [Value::String(tag), Value::String(s)] if tag == "uuid" => Ok(Atom::Uuid(s.parse()?)),
                [Value::String(tag), Value::String(s)] if tag == "named-uuid" => Ok(Atom::NamedUuid(s.clone())),
                _ => Err(DatumError::Atom(v.to_string())),
            },
            _ => Err(DatumError::Atom(v.to_string())),
        }
    }

    /// The atom's JSON notation.
    pub fn to_json(&self) -> Value {
        match self {
            Atom::Integer(i) => json!(i),
            Atom::Real(r) => json!(r),
            Atom::Boolean(b) => json!(b),
            Atom::String(s) => json!(s),
            Atom::Uuid(u) => json!(["uuid", u.to_string()]),
            Atom::NamedUuid(n) => json!(["named-uuid", n]),
        }
    }
}

impl Ord for Atom {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Atom::Integer(a), Atom::Integer(b)) => a.cmp(b),
            (Atom::Real(a), Atom::Real(b)) => a.total_cmp(b),
            (Atom::Boolean(a), Atom::Boolean(b)) => a.cmp(b),
            (Atom::String(a), Atom::String(b)) => a.cmp(b),
            (Atom::Uuid(a), Atom::Uuid(b)) => a.cmp(b),
            (Atom::NamedUuid(a), Atom::NamedUuid(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Atom {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Atom {}

/// A column's value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Datum {
    /// A set of atoms (a scalar is a set of one; optional values, of zero or one).
    Set(BTreeSet<Atom>),
    /// A map between atoms.
    Map(BTreeMap<Atom, Atom>),
}

/// JSON that is not an OVSDB value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DatumError {
    /// Not an atom.
    #[error("not an OVSDB atom: {0}")]
    Atom(String),
    /// A malformed UUID.
    #[error("not a UUID: {0}")]
    Uuid(String),
    /// A malformed set or map.
    #[error("not an OVSDB set or map: {0}")]
    Datum(String),
}

impl Datum {
    /// A set of one atom.
    pub fn scalar(atom: Atom) -> Datum {
        Datum::Set(BTreeSet::from([atom]))
    }

    /// The empty set.
    pub fn empty() -> Datum {
        Datum::Set(BTreeSet::new())
    }

    /// The atom of a set of exactly one.
    pub fn as_scalar(&self) -> Option<&Atom> {
        match self {
            Datum::Set(s) if s.len() == 1 => s.iter().next(),
            _ => None,
        }
    }

    /// The string of a one-string set.
    pub fn as_str(&self) -> Option<&str> {
        match self.as_scalar()? {
            Atom::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer of a one-integer set.
    pub fn as_integer(&self) -> Option<i64> {
        match self.as_scalar()? {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The string value of string key `key` in a map.
    pub fn map_str(&self, key: &str) -> Option<&str> {
        match self {
            Datum::Map(m) => match m.get(&Atom::String(key.to_owned()))? {
                Atom::String(v) => Some(v),
                _ => None,
            },
            Datum::Set(_) => None,
        }
    }

    /// The UUIDs of a set (references to other rows).
    pub fn uuids(&self) -> Vec<Uuid> {
        match self {
            Datum::Set(s) => s
                .iter()
                .filter_map(|a| match a {
                    Atom::Uuid(u) => Some(*u),
                    _ => None,
                })
                .collect(),
            Datum::Map(_) => Vec::new(),
        }
    }

    /// The value from its JSON notation: `["set", [...]]`, `["map",
    /// [[k, v], ...]]` or a bare atom.
    pub fn from_json(v: &Value) -> Result<Datum, DatumError> {
        let bad = || DatumError::Datum(v.to_string());
        if let Value::Array(a) = v {
            match a.as_slice() {
                [Value::String(tag), Value::Array(items)] if tag == "set" => {
                    return items.iter().map(Atom::from_json).collect::<Result<_, _>>().map(Datum::Set);
                }
                [Value::String(tag), Value::Array(pairs)] if tag == "map" => {
                    return pairs
                        .iter()
                        .map(|p| match p.as_array().map(Vec::as_slice) {
                            Some([k, v]) => Ok((Atom::from_json(k)?, Atom::from_json(v)?)),
                            _ => Err(bad()),
                        })
                        .collect::<Result<_, _>>()
                        .map(Datum::Map);
                }
                [Value::String(tag), _] if tag == "set" || tag == "map" => return Err(bad()),
                _ => {}
            }
        }
        Atom::from_json(v).map(Datum::scalar)
    }

    /// The value's JSON notation (a set of one as the bare atom, as OVS
    /// writes it).
    pub fn to_json(&self) -> Value {
        match self {
            Datum::Set(s) if s.len() == 1 => s.iter().next().map_or(Value::Null, Atom::to_json),
            Datum::Set(s) => json!(["set", s.iter().map(Atom::to_json).collect::<Vec<_>>()]),
            Datum::Map(m) => json!(["map", m.iter().map(|(k, v)| json!([k.to_json(), v.to_json()])).collect::<Vec<_>>()]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uuids_parse_and_print() {
        let s = "36bf5e0c-63a1-4b4c-8a5f-01c9b2f6f9d2";
        let u: Uuid = s.parse().unwrap();
        assert_eq!(u.to_string(), s);
        for bad in ["", "36bf5e0c63a14b4c8a5f01c9b2f6f9d2", "36bf5e0c-63a1-4b4c-8a5f-01c9b2f6f9dz", "36bf5e0c-63a1-4b4c-8a5f_01c9b2f6f9d2"]
        {
            assert_eq!(bad.parse::<Uuid>(), Err(DatumError::Uuid(bad.into())));
        }
    }

    #[test]
    fn accessors() {
        assert_eq!(Datum::from_json(&json!("br0")).unwrap().as_str(), Some("br0"));
        assert_eq!(Datum::from_json(&json!(7)).unwrap().as_integer(), Some(7));
        assert_eq!(Datum::empty().as_str(), None);
        let m = Datum::from_json(&json!(["map", [["k", "v"], ["n", 1]]])).unwrap();
        assert_eq!((m.map_str("k"), m.map_str("n"), m.map_str("x")), (Some("v"), None, None));
        let u = "36bf5e0c-63a1-4b4c-8a5f-01c9b2f6f9d2";
        assert_eq!(Datum::from_json(&json!(["set", [["uuid", u]]])).unwrap().uuids(), vec![u.parse::<Uuid>().unwrap()]);
    }

    #[test]
    fn rfc7047_notation() {
        let v: Value = serde_json::from_str(r#"["map", [["iface-id", "vif1"], ["attached-mac", "02:00:00:00:00:01"]]]"#).unwrap();
        let Datum::Map(m) = Datum::from_json(&v).unwrap() else { panic!() };
        assert_eq!(m.get(&Atom::String("iface-id".into())), Some(&Atom::String("vif1".into())));
        assert_eq!(Datum::from_json(&json!(5)).unwrap(), Datum::scalar(Atom::Integer(5)));
        assert_eq!(Datum::from_json(&json!(5.5)).unwrap(), Datum::scalar(Atom::Real(5.5)));
        assert_eq!(Datum::from_json(&json!(["set", []])).unwrap(), Datum::empty());
        let u = json!(["uuid", "36bf5e0c-63a1-4b4c-8a5f-01c9b2f6f9d2"]);
        assert!(matches!(Datum::from_json(&u).unwrap(), Datum::Set(s) if matches!(s.iter().next(), Some(Atom::Uuid(_)))));
        assert_eq!(Datum::from_json(&json!(["set", [2, 1]])).unwrap(), Datum::from_json(&json!(["set", [1, 2]])).unwrap());
        for bad in [json!(null), json!({}), json!(["set", 1]), json!(["map", [[1]]]), json!(["uuid", "x"]), json!(["other", 1])] {
            assert!(Datum::from_json(&bad).is_err(), "{bad}");
        }
    }

    fn atom() -> impl Strategy<Value = Atom> {
        prop_oneof![
            any::<i64>().prop_map(Atom::Integer),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Atom::Real),
            any::<bool>().prop_map(Atom::Boolean),
            ".*".prop_map(Atom::String),
            any::<u128>().prop_map(|u| Atom::Uuid(Uuid(u))),
            "[a-z][a-z0-9_]*".prop_map(Atom::NamedUuid),
        ]
    }

    fn datum() -> impl Strategy<Value = Datum> {
        prop_oneof![
            prop::collection::btree_set(atom(), 0..5).prop_map(Datum::Set),
            prop::collection::btree_map(atom(), atom(), 0..5).prop_map(Datum::Map),
        ]
    }

    proptest! {
        /// Every value survives its JSON notation, through text.
        #[test]
        fn json_round_trip(d in datum()) {
            let text = d.to_json().to_string();
            let back = Datum::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
            prop_assert_eq!(back, d);
        }

    }

    /// JSON shaped like OVSDB's notation, and near it: tagged arrays
    /// (`set`, `map`, `uuid`, `named-uuid`, and unknown tags) around atoms,
    /// pairs and further values, as well as bare atoms and other JSON.
    fn ovsdb_like_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(|i| json!(i)),
            any::<bool>().prop_map(|b| json!(b)),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            "[a-z0-9-]{0,8}".prop_map(Value::String),
            any::<u128>().prop_map(|u| json!(["uuid", Uuid(u).to_string()])),
            "[a-z0-9-]{0,12}".prop_map(|u| json!(["uuid", u])),
            "[a-z_][a-z0-9_]{0,6}".prop_map(|n| json!(["named-uuid", n])),
            Just(Value::Null),
            Just(json!({})),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            let tag = prop_oneof![Just("set"), Just("map"), Just("uuid"), Just("named-uuid"), Just("other")];
            prop_oneof![
                (tag.clone(), prop::collection::vec(inner.clone(), 0..4)).prop_map(|(t, items)| json!([t, items])),
                (tag, inner.clone()).prop_map(|(t, v)| json!([t, v])),
                prop::collection::vec((inner.clone(), inner.clone()), 0..4)
                    .prop_map(|pairs| json!(["map", pairs.into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()])),
                prop::collection::vec(inner, 0..3).prop_map(Value::Array),
            ]
        })
    }

    /// Any JSON gives a value or an error, never a panic; the generator
    /// reaches every kind of result (counted, so a generator that stopped
    /// making sets or maps fails the test).
    #[test]
    fn ovsdb_like_json_gives_a_value_or_an_error() {
        use proptest::test_runner::{Config, TestRunner};
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let mut runner = TestRunner::new(Config { cases: 4000, failure_persistence: None, ..Config::default() });
        let tally = std::cell::RefCell::new(&mut counts);
        runner
            .run(&ovsdb_like_json(), |v| {
                let kind = match Datum::from_json(&v) {
                    Ok(Datum::Map(m)) if !m.is_empty() => "a map with pairs",
                    Ok(Datum::Map(_)) => "an empty map",
                    Ok(Datum::Set(s)) if s.len() > 1 => "a set of several",
                    Ok(Datum::Set(s)) if s.iter().any(|a| matches!(a, Atom::Uuid(_))) => "a uuid",
                    Ok(Datum::Set(_)) => "another set or atom",
                    Err(_) => "an error",
                };
                *tally.borrow_mut().entry(kind).or_default() += 1;
                Ok(())
            })
            .unwrap();
        println!("from_json over {} generated values: {counts:?}", counts.values().sum::<usize>());
        for kind in ["a map with pairs", "an empty map", "a set of several", "a uuid", "another set or atom", "an error"] {
            assert!(counts.get(kind).is_some_and(|n| *n >= 20), "the generator rarely gives {kind}: {counts:?}");
        }
    }
}
