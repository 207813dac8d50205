//! An RFC 7047 JSON-RPC client for `ovsdb-server`: transactions, monitors and
//! an IDL (a local replica with change tracking), knowing no schema's
//! meaning.
//!
//! Status (issue 4, in progress): written are the wire layer — JSON-RPC
//! messages and the framing of a byte stream into them ([`jsonrpc`]),
//! OVSDB values in their JSON notation ([`datum`]) — and a client
//! connection over `unix:` and `tcp:` with `list_dbs`, `get_schema`,
//! `transact`, `echo` (both ways) and `monitor_cond` ([`client`]). Not
//! written yet: `ssl:`, the other monitor and lock methods, the IDL
//! (replica, change tracking, reconnection), the simulation harness.

#![forbid(unsafe_code)]

pub mod client;
pub mod datum;
pub mod idl;
pub mod jsonrpc;
pub mod replica;
pub mod schema;

pub use client::{Client, ClientError, Remote};
pub use datum::{Atom, Datum, DatumError, Uuid};
pub use idl::{Event, Idl, IdlConfig, IdlError};
pub use jsonrpc::{Framer, Message, RpcError};
pub use replica::{Change, Replica, Row, RowChange, UpdateError};
pub use schema::{AtomType, ColumnType, Schema, SchemaError};
