//! An RFC 7047 JSON-RPC client for `ovsdb-server`: transactions, monitors and
//! an IDL (a local replica with change tracking), knowing no schema's
//! meaning.
//!
//! | module | what |
//! | --- | --- |
//! | [`jsonrpc`] | JSON-RPC messages and the framing of a byte stream into them |
//! | [`datum`] | OVSDB atoms, sets and maps in RFC 7047 notation |
//! | [`schema`] | the column types the IDL needs from `get_schema` |
//! | [`ssl`] | `ssl:` remotes: mutual TLS with `ovs-pki`'s files, names not checked (as OVS) |
//! | [`client`] | a connection over `unix:`, `tcp:` or `ssl:`: `list_dbs`, `get_schema`, `transact`, `echo` both ways, `monitor_cond`, `monitor_cond_since`, `monitor_cond_change`, `monitor_cancel`, `lock`/`steal`/`unlock`, `set_db_change_aware` |
//! | [`replica`] | the IDL's replica: `update2` table-updates applied all-or-nothing, with change tracking |
//! | [`idl`] | the session: remotes in turn, backoff, inactivity probes, resuming after the last transaction (`monitor_cond_since`, `update3`) or resynchronising and reporting only what differs |
//! | [`txn`] | transactions built against the replica: named-uuid inserts, updates, mutations, deletes, `verify` |
//!
//! Tested against the real `ovsdb-server`, `ovsdb-tool` and `ovs-vsctl`,
//! and on tokio's virtual clock against a fake server.

#![forbid(unsafe_code)]

pub mod client;
pub mod datum;
pub mod idl;
pub mod jsonrpc;
pub mod replica;
pub mod schema;
pub mod ssl;
pub mod txn;

pub use client::{Client, ClientError, Remote};
pub use datum::{Atom, Datum, DatumError, Uuid};
pub use idl::{Event, Idl, IdlConfig, IdlError};
pub use jsonrpc::{Framer, Message, RpcError};
pub use replica::{Change, Replica, Row, RowChange, UpdateError};
pub use schema::{AtomType, ColumnType, Schema, SchemaError};
pub use ssl::SslConfig;
pub use txn::Txn;
