//! The IDL session: a replica of one database kept up to date across
//! connections, as OVS's `ovsdb-idl`.
//!
//! [`Idl::next_event`] drives everything: it connects (trying the remotes
//! in turn, backing off from [`IdlConfig::backoff_min`] doubling to
//! [`IdlConfig::backoff_max`] between failed rounds, as OVS's `reconnect`),
//! fetches the schema, starts a `monitor_cond` of the chosen tables (all
//! columns; `monitor_cond_since` where the server has it, `monitor_cond`
//! otherwise), and applies `update2`/`update3` notifications to the
//! [`Replica`]. When
//! the server has been silent for [`IdlConfig::probe_interval`] it sends an
//! `echo`; no answer within another interval ends the session, as an
//! inactivity probe does. After a reconnection the session resumes after
//! the last transaction seen when the server still has it (only what
//! changed meanwhile is sent); otherwise a new snapshot replaces the
//! replica and only the rows that differ are reported as changed. Either
//! way a reader sees the database as it is now.
//!
//! Time is tokio's, so tests run it on a paused, virtual clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::client::{Client, ClientError};
use crate::jsonrpc::Message;
use crate::replica::{Replica, RowChange, UpdateError};
use crate::schema::{Schema, SchemaError};

/// Opens a connection to a remote (tests substitute an in-memory one).
pub type Connector = Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = Result<Client, ClientError>> + Send>> + Send + Sync>;

/// How the session connects and watches the connection.
#[derive(Clone)]
pub struct IdlConfig {
    /// Remotes to try in turn (`unix:PATH`, `tcp:HOST:PORT`).
    pub remotes: Vec<String>,
    /// Database name.
    pub db: String,
    /// Tables to monitor; empty for all.
    pub tables: Vec<String>,
    /// Silence after which the server is probed (OVS's default: 5 s).
    pub probe_interval: Duration,
    /// First wait after a failed round of connection attempts.
    pub backoff_min: Duration,
    /// Longest wait between rounds.
    pub backoff_max: Duration,
    /// How connections are opened.
    pub connector: Connector,
}

impl std::fmt::Debug for IdlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdlConfig").field("remotes", &self.remotes).field("db", &self.db).field("tables", &self.tables).finish()
    }
}

impl IdlConfig {
    /// OVS's defaults for `db` on `remotes`: probe every 5 s, back off
    /// from 1 s to 8 s.
    pub fn new(remotes: Vec<String>, db: &str) -> Self {
        IdlConfig {
            remotes,
            db: db.to_owned(),
            tables: Vec::new(),
            probe_interval: Duration::from_secs(5),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(8),
            connector: Arc::new(|remote: String| Box::pin(async move { Client::connect(&remote).await })),
        }
    }

    /// Connects `ssl:` remotes with `ssl`'s identity.
    pub fn with_ssl(mut self, ssl: crate::ssl::SslConfig) -> Self {
        let ssl = Arc::new(ssl);
        self.connector = Arc::new(move |remote: String| {
            let ssl = Arc::clone(&ssl);
            Box::pin(async move { Client::connect_with(&remote, Some(&ssl)).await })
        });
        self
    }
}

/// What [`Idl::next_event`] saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A session started (first connection or reconnection) and the replica
    /// now reflects the database; `remote` is where.
    Connected {
        /// The remote that answered.
        remote: String,
        /// The session resumed after the last transaction seen, receiving
        /// only what changed meanwhile (`monitor_cond_since`), rather than a
        /// whole snapshot.
        resumed: bool,
    },
    /// The replica changed.
    Changed,
    /// The session ended; the replica is kept until the next one.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// Why a session could not start or a request failed.
#[derive(Debug, thiserror::Error)]
pub enum IdlError {
    /// The connection or the server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server's schema could not be read.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The server sent an update that does not fit the schema.
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// The database is not on the server, or a table is not in it.
    #[error("{0}")]
    Missing(String),
    /// No session is up.
    #[error("not connected")]
    NotConnected,
}

/// A replicated database (see the module docs).
pub struct Idl {
    config: IdlConfig,
    replica: Option<Replica>,
    client: Option<Client>,
    next_remote: usize,
    backoff: Duration,
    monitor_id: u64,
    /// The last transaction the replica reflects (from monitor_cond_since
    /// and update3), to resume after.
    last_txn_id: Option<String>,
    /// Whether the current session resumed rather than resynchronised.
    resumed: bool,
}

/// The transaction id that asks monitor_cond_since for everything.
const ZERO_TXN: &str = "00000000-0000-0000-0000-000000000000";

impl std::fmt::Debug for Idl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idl").field("config", &self.config).field("connected", &self.client.is_some()).finish()
    }
}

impl Idl {
    /// A session not yet connected; [`Idl::next_event`] connects.
    pub fn new(config: IdlConfig) -> Self {
        let backoff = config.backoff_min;
        Idl { config, replica: None, client: None, next_remote: 0, backoff, monitor_id: 0, last_txn_id: None, resumed: false }
    }

    /// The replica (`None` before the first session).
    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_ref()
    }

    /// The changes since the last call.
    pub fn take_changes(&mut self) -> Vec<RowChange> {
        self.replica.as_mut().map(Replica::take_changes).unwrap_or_default()
    }

    /// Whether a session is up.
    pub fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    /// Runs `transact` on the current session.
    pub async fn transact(&self, operations: Vec<Value>) -> Result<Vec<Value>, IdlError> {
        let client = self.client.as_ref().ok_or(IdlError::NotConnected)?;
        Ok(client.transact(&self.config.db, operations).await?)
    }

    /// Waits for the next event, connecting and reconnecting as needed.
    pub async fn next_event(&mut self) -> Event {
        let probe = self.config.probe_interval;
        let monitor = json!(format!("ferrovs-{}", self.monitor_id));
        loop {
            let Some(client) = self.client.as_mut() else {
                return self.reconnect().await;
            };
            let note = match tokio::time::timeout(probe, client.next_notification()).await {
                Ok(Some(note)) => note,
                Ok(None) => return self.disconnect("connection closed"),
                Err(_) => match tokio::time::timeout(probe, client.echo(vec![json!("probe")])).await {
                    Ok(Ok(_)) => continue,
                    _ => return self.disconnect("inactivity probe unanswered"),
                },
            };
            let Message::Notification { method, params } = note else {
                continue;
            };
            if params.first() != Some(&monitor) {
                continue;
            }
            // update2: [id, updates]; update3: [id, last-txn-id, updates].
            let updates = match method.as_str() {
                "update2" => params.get(1),
                "update3" => {
                    self.last_txn_id = params.get(1).and_then(Value::as_str).map(str::to_owned);
                    params.get(2)
                }
                _ => continue,
            };
            let (Some(replica), Some(updates)) = (self.replica.as_mut(), updates) else {
                continue;
            };
            return match replica.apply_update2(updates) {
                Ok(()) => Event::Changed,
                // A replica that missed an update must be rebuilt: a new
                // session does that.
                Err(e) => self.disconnect(&format!("bad update: {e}")),
            };
        }
    }

    fn disconnect(&mut self, reason: &str) -> Event {
        self.client = None;
        Event::Disconnected { reason: reason.to_owned() }
    }

    /// Tries the remotes until one session starts, backing off between rounds.
    async fn reconnect(&mut self) -> Event {
        loop {
            let n = self.config.remotes.len().max(1);
            for _ in 0..n {
                let Some(remote) = self.config.remotes.get(self.next_remote % n).cloned() else {
                    break;
                };
                self.next_remote = (self.next_remote + 1) % n;
                if self.start_session(&remote).await.is_ok() {
                    self.backoff = self.config.backoff_min;
                    return Event::Connected { remote, resumed: self.resumed };
                }
            }
            tokio::time::sleep(self.backoff).await;
            self.backoff = (self.backoff * 2).min(self.config.backoff_max);
        }
    }

    async fn start_session(&mut self, remote: &str) -> Result<(), IdlError> {
        let client = (self.config.connector)(remote.to_owned()).await?;
        let probe = self.config.probe_interval;
        let schema = tokio::time::timeout(probe, client.get_schema(&self.config.db)).await.map_err(|_| ClientError::Closed)??;
        let schema = Schema::from_json(&schema)?;
        let tables: Vec<String> =
            if self.config.tables.is_empty() { schema.tables.keys().cloned().collect() } else { self.config.tables.clone() };
        if let Some(t) = tables.iter().find(|t| !schema.tables.contains_key(*t)) {
            return Err(IdlError::Missing(format!("table {t} not in database {}", self.config.db)));
        }
        let requests = Value::Object(tables.iter().map(|t| (t.clone(), json!([{}]))).collect());
        self.monitor_id += 1;
        let monitor = json!(format!("ferrovs-{}", self.monitor_id));
        // monitor_cond_since resumes after the last transaction seen, when
        // the server still has it and the schema is the same; a server
        // without it (older than OVS 2.12) gets monitor_cond.
        let same_schema = self.replica.as_ref().is_some_and(|r| *r.schema() == schema);
        let since = self.last_txn_id.clone().filter(|_| same_schema).unwrap_or_else(|| ZERO_TXN.to_owned());
        let reply = tokio::time::timeout(probe, client.monitor_cond_since(&self.config.db, monitor.clone(), requests.clone(), &since))
            .await
            .map_err(|_| ClientError::Closed)?;
        let (found, last, updates) = match reply {
            Ok(Value::Array(mut a)) if a.len() == 3 => {
                let updates = a.pop().unwrap_or(Value::Null);
                let last = a.pop().and_then(|v| v.as_str().map(str::to_owned));
                (a.pop() == Some(Value::Bool(true)), last, updates)
            }
            Ok(other) => return Err(IdlError::Missing(format!("unexpected monitor_cond_since reply {other}"))),
            Err(ClientError::Server(_)) => {
                let initial = tokio::time::timeout(probe, client.monitor_cond(&self.config.db, monitor, requests))
                    .await
                    .map_err(|_| ClientError::Closed)??;
                (false, None, initial)
            }
            Err(e) => return Err(e.into()),
        };
        match self.replica.as_mut() {
            // Resumed: `updates` holds only what changed while away.
            Some(old) if found && same_schema => old.apply_update2(&updates)?,
            _ => {
                let mut fresh = Replica::new(schema);
                fresh.apply_update2(&updates)?;
                fresh.take_changes();
                match self.replica.as_mut() {
                    Some(old) => old.resync(fresh),
                    None => {
                        let mut first = Replica::new(fresh.schema().clone());
                        first.resync(fresh);
                        self.replica = Some(first);
                    }
                }
            }
        }
        self.resumed = found && same_schema;
        self.last_txn_id = last;
        self.client = Some(client);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The session on tokio's paused clock against an in-memory fake
    //! server: probes, backoff and resynchronisation, deterministically.

    use super::*;
    use crate::jsonrpc::Framer;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::time::Instant;

    fn schema() -> Value {
        json!({"name": "D", "version": "1.0.0", "tables": {"T": {"columns": {"name": {"type": "string"}, "n": {"type": "integer"}}}}})
    }

    const A: &str = "00000000-0000-0000-0000-00000000000a";
    const B: &str = "00000000-0000-0000-0000-00000000000b";

    /// Serves `get_schema` and `monitor_cond` (with `rows` as the initial
    /// contents), then `update` as a notification if given; answers echo
    /// only when `answer_echo`.
    async fn fake_server(mut s: DuplexStream, rows: Value, update: Option<Value>, answer_echo: bool) {
        let mut framer = Framer::default();
        let mut buf = vec![0u8; 8192];
        loop {
            let Ok(n) = s.read(&mut buf).await else { return };
            if n == 0 {
                return;
            }
            framer.push(&buf[..n]);
            while let Some(Ok(Message::Request { method, params, id })) = framer.next_message() {
                let reply = match method.as_str() {
                    "get_schema" => Message::Reply { result: schema(), id },
                    "monitor_cond" => Message::Reply { result: json!({"T": rows.clone()}), id },
                    "echo" if answer_echo => Message::Reply { result: Value::Array(params.clone()), id },
                    "echo" => continue,
                    _ => Message::Error { error: json!("not here"), id },
                };
                if s.write_all(&reply.encode()).await.is_err() {
                    return;
                }
                if method == "monitor_cond" {
                    if let Some(u) = &update {
                        let note = Message::Notification { method: "update2".into(), params: vec![params[1].clone(), u.clone()] };
                        let _ = s.write_all(&note.encode()).await;
                    }
                }
            }
        }
    }

    /// A connector whose first `failures` attempts fail, then each
    /// connection gets a fake server built by `serve(attempt)`.
    fn connector(failures: usize, serve: impl Fn(usize, DuplexStream) + Send + Sync + 'static) -> (Connector, Arc<AtomicUsize>) {
        let attempts = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&attempts);
        let serve = Arc::new(serve);
        let c: Connector = Arc::new(move |_remote| {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let serve = Arc::clone(&serve);
            Box::pin(async move {
                if n < failures {
                    return Err(ClientError::Closed);
                }
                let (ours, theirs) = tokio::io::duplex(1 << 16);
                serve(n, theirs);
                Ok(Client::over(ours))
            })
        });
        (c, attempts)
    }

    fn config(connector: Connector) -> IdlConfig {
        IdlConfig { connector, ..IdlConfig::new(vec!["unix:/fake/a".into(), "unix:/fake/b".into()], "D") }
    }

    fn name(idl: &Idl, uuid: &str) -> Option<String> {
        let row = idl.replica()?.row("T", &uuid.parse().ok()?)?;
        row.get("name")?.as_str().map(str::to_owned)
    }

    #[tokio::test(start_paused = true)]
    async fn backs_off_doubling_between_failed_rounds_then_connects() {
        // Three rounds of two remotes fail: waits of 1, 2 and 4 s.
        let (c, attempts) = connector(6, |_, s| {
            tokio::spawn(fake_server(s, json!({A: {"initial": {"name": "a"}}}), None, true));
        });
        let mut idl = Idl::new(config(c));
        let start = Instant::now();
        assert_eq!(idl.next_event().await, Event::Connected { remote: "unix:/fake/a".into(), resumed: false });
        assert_eq!(start.elapsed(), Duration::from_secs(7));
        assert_eq!(attempts.load(Ordering::SeqCst), 7);
        assert_eq!(name(&idl, A).as_deref(), Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_probe_ends_the_session_and_a_new_one_resyncs() {
        // The first server never answers echo; the second has changed rows.
        let (c, _) = connector(0, |n, s| {
            let rows = if n == 0 {
                json!({A: {"initial": {"name": "a"}}, B: {"initial": {"name": "b"}}})
            } else {
                json!({A: {"initial": {"name": "a2"}}})
            };
            tokio::spawn(fake_server(s, rows, None, n > 0));
        });
        let mut idl = Idl::new(config(c));
        assert!(matches!(idl.next_event().await, Event::Connected { .. }));
        idl.take_changes();
        let start = Instant::now();
        assert_eq!(idl.next_event().await, Event::Disconnected { reason: "inactivity probe unanswered".into() });
        assert_eq!(start.elapsed(), Duration::from_secs(10), "5 s of silence, then 5 s waiting for the echo");
        assert!(matches!(idl.next_event().await, Event::Connected { .. }));
        assert_eq!(name(&idl, A).as_deref(), Some("a2"));
        assert_eq!(name(&idl, B), None);
        let changes = idl.take_changes();
        assert_eq!(changes.len(), 2, "only the rows that differ: {changes:?}");
        // The second server answers probes: the session stays up.
        let quiet = tokio::time::timeout(Duration::from_secs(60), idl.next_event()).await;
        assert!(quiet.is_err(), "no event while the server answers probes");
        assert!(idl.is_connected());
    }

    #[tokio::test(start_paused = true)]
    async fn updates_apply_and_a_bad_update_forces_a_resync() {
        let (c, _) = connector(0, |n, s| {
            let update = if n == 0 { json!({"T": {A: {"modify": {"name": "a1"}}}}) } else { json!({"T": {A: {"modify": {"n": "bad"}}}}) };
            tokio::spawn(fake_server(s, json!({A: {"initial": {"name": "a"}}}), Some(update), true));
        });
        let mut idl = Idl::new(config(c));
        assert!(matches!(idl.next_event().await, Event::Connected { .. }));
        assert_eq!(idl.next_event().await, Event::Changed);
        assert_eq!(name(&idl, A).as_deref(), Some("a1"));
        idl.client = None; // force a new session: its update is malformed
        assert!(matches!(idl.next_event().await, Event::Connected { .. }));
        assert!(matches!(idl.next_event().await, Event::Disconnected { reason } if reason.starts_with("bad update")));
        assert_eq!(name(&idl, A).as_deref(), Some("a"), "the replica holds the last good snapshot");
    }
}
