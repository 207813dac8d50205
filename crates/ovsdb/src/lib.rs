//! An RFC 7047 JSON-RPC client for `ovsdb-server`: transactions, monitors and
//! an IDL (a local replica with change tracking), knowing no schema's
//! meaning.
//!
//! Status: not written yet (issue 4).

#![forbid(unsafe_code)]
