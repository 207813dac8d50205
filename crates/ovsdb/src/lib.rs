//! An RFC 7047 JSON-RPC client for `ovsdb-server`: transactions, monitors and
//! an IDL (a local replica with change tracking), knowing no schema's
//! meaning.
//!
//! Status (issue 4, in progress): the wire layer is written — JSON-RPC
//! messages and the framing of a byte stream into them ([`jsonrpc`]), and
//! OVSDB values in their JSON notation ([`datum`]). The client that
//! connects to a server, the monitors and the IDL are not written yet.

#![forbid(unsafe_code)]

pub mod datum;
pub mod jsonrpc;

pub use datum::{Atom, Datum, DatumError, Uuid};
pub use jsonrpc::{Framer, Message, RpcError};
