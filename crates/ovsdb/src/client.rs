//! A connection to an OVSDB server: requests matched to their replies,
//! the server's echo requests answered, notifications (`update`,
//! `update2`, `update3`, `locked`, `stolen`) passed on.
//!
//! # Tasks
//!
//! [`Client::connect`] spawns one tokio task that owns the socket. It
//! reads frames, completes the pending request each reply names, answers
//! `echo`, and queues notifications; callers send requests through a
//! channel. When the connection ends (closed by the server, or a frame
//! that is not JSON-RPC), every pending request fails with
//! [`ClientError::Closed`] and [`Client::next_notification`] returns
//! `None`. Reconnection is the IDL's business ([`crate::Idl`]).

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::jsonrpc::{Framer, Message};

/// Where a server listens, in OVS's notation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remote {
    /// `unix:PATH`
    Unix(PathBuf),
    /// `tcp:HOST:PORT`
    Tcp(String),
    /// `ssl:HOST:PORT`
    Ssl(String),
}

impl std::str::FromStr for Remote {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Self, ClientError> {
        if let Some(path) = s.strip_prefix("unix:") {
            return Ok(Remote::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            return Ok(Remote::Tcp(addr.to_owned()));
        }
        if let Some(addr) = s.strip_prefix("ssl:") {
            return Ok(Remote::Ssl(addr.to_owned()));
        }
        Err(ClientError::Remote(s.to_owned()))
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The remote is not `unix:PATH`, `tcp:HOST:PORT` or `ssl:HOST:PORT`.
    #[error("{0:?} is not an OVSDB remote (unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT)")]
    Remote(String),
    /// An `ssl:` remote without key, certificate and CA certificate, or
    /// with files that cannot be used.
    #[error("SSL: {0}")]
    Ssl(String),
    /// Connecting failed.
    #[error("cannot connect to {remote}: {source}")]
    Connect {
        /// The remote.
        remote: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The connection ended before the reply came.
    #[error("connection to the OVSDB server closed")]
    Closed,
    /// The server answered with an error.
    #[error("OVSDB server error: {0}")]
    Server(Value),
}

impl From<crate::ssl::SslError> for ClientError {
    fn from(e: crate::ssl::SslError) -> ClientError {
        use crate::ssl::SslError;
        match e {
            SslError::Config(why) => ClientError::Ssl(why),
            SslError::Name(addr) => ClientError::Remote(format!("ssl:{addr}")),
            SslError::Connect { addr, source } => ClientError::Connect { remote: format!("ssl:{addr}"), source },
        }
    }
}

type Pending = oneshot::Sender<Result<Value, ClientError>>;

enum Command {
    Call { method: String, params: Vec<Value>, reply: Pending },
}

/// A connection to one OVSDB server.
#[derive(Debug)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    notifications: mpsc::Receiver<Message>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Command::Call { method, .. } = self;
        write!(f, "Call({method})")
    }
}

impl Client {
    /// Connects to `remote` (`unix:PATH` or `tcp:HOST:PORT`; `ssl:` needs
    /// [`Client::connect_with`]).
    pub async fn connect(remote: &str) -> Result<Client, ClientError> {
        Self::connect_with(remote, None).await
    }

    /// Connects to `remote`, with `ssl`'s identity for `ssl:` remotes.
    pub async fn connect_with(remote: &str, ssl: Option<&crate::ssl::SslConfig>) -> Result<Client, ClientError> {
        let connect_error = |source| ClientError::Connect { remote: remote.to_owned(), source };
        match remote.parse()? {
            Remote::Unix(path) => Ok(Self::over(tokio::net::UnixStream::connect(path).await.map_err(connect_error)?)),
            Remote::Tcp(addr) => Ok(Self::over(tokio::net::TcpStream::connect(addr).await.map_err(connect_error)?)),
            Remote::Ssl(addr) => match ssl {
                Some(ssl) => Ok(Self::over(crate::ssl::connect(&addr, ssl).await?)),
                None => Err(ClientError::Ssl(format!("{remote} needs a private key, a certificate and a CA certificate"))),
            },
        }
    }

    /// Runs the protocol over an established stream (the simulation
    /// harness passes an in-memory one).
    pub fn over<S: AsyncRead + AsyncWrite + Send + 'static>(stream: S) -> Client {
        let (commands, rx) = mpsc::channel(64);
        let (note_tx, notifications) = mpsc::channel(1024);
        tokio::spawn(run(stream, rx, note_tx));
        Client { commands, notifications }
    }

    /// Sends a request and waits for its reply.
    pub async fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Command::Call { method: method.to_owned(), params, reply }).await.map_err(|_| ClientError::Closed)?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// `list_dbs`: the databases the server holds.
    pub async fn list_dbs(&self) -> Result<Vec<String>, ClientError> {
        let v = self.call("list_dbs", vec![]).await?;
        serde_json::from_value(v.clone()).map_err(|_| ClientError::Server(json!({"unexpected list_dbs reply": v})))
    }

    /// `get_schema`: a database's schema, as JSON.
    pub async fn get_schema(&self, db: &str) -> Result<Value, ClientError> {
        self.call("get_schema", vec![json!(db)]).await
    }

    /// `transact`: the operations' results (one per operation; a failed
    /// operation's result is an object with an `error` member, as RFC 7047
    /// says).
    pub async fn transact(&self, db: &str, operations: Vec<Value>) -> Result<Vec<Value>, ClientError> {
        let mut params = vec![json!(db)];
        params.extend(operations);
        match self.call("transact", params).await? {
            Value::Array(results) => Ok(results),
            other => Err(ClientError::Server(other)),
        }
    }

    /// `echo`: a round trip.
    pub async fn echo(&self, payload: Vec<Value>) -> Result<Value, ClientError> {
        self.call("echo", payload).await
    }

    /// `monitor_cond`: starts monitor `id` on `db` with `requests` (table →
    /// monitor-cond request) and returns the initial contents as an
    /// `update2` table-updates object; later changes arrive as `update2`
    /// notifications.
    pub async fn monitor_cond(&self, db: &str, id: Value, requests: Value) -> Result<Value, ClientError> {
        self.call("monitor_cond", vec![json!(db), id, requests]).await
    }

    /// `monitor_cond_since`: as [`Client::monitor_cond`], resuming after
    /// transaction `last_txn_id` when the server still has it. Returns
    /// `[found, last-txn-id, table-updates]`; changes then arrive as
    /// `update3` notifications.
    pub async fn monitor_cond_since(&self, db: &str, id: Value, requests: Value, last_txn_id: &str) -> Result<Value, ClientError> {
        self.call("monitor_cond_since", vec![json!(db), id, requests, json!(last_txn_id)]).await
    }

    /// `monitor_cond_change`: replaces the conditions of monitor `id`
    /// (renamed `new_id`).
    pub async fn monitor_cond_change(&self, id: Value, new_id: Value, requests: Value) -> Result<Value, ClientError> {
        self.call("monitor_cond_change", vec![id, new_id, requests]).await
    }

    /// `monitor_cancel`: stops monitor `id`.
    pub async fn monitor_cancel(&self, id: Value) -> Result<Value, ClientError> {
        self.call("monitor_cancel", vec![id]).await
    }

    /// `lock`: asks for lock `name`; `{"locked": true}` when granted now,
    /// else a `locked` notification follows when it is.
    pub async fn lock(&self, name: &str) -> Result<Value, ClientError> {
        self.call("lock", vec![json!(name)]).await
    }

    /// `steal`: takes lock `name` from its holder (who gets `stolen`).
    pub async fn steal(&self, name: &str) -> Result<Value, ClientError> {
        self.call("steal", vec![json!(name)]).await
    }

    /// `unlock`: releases (or stops waiting for) lock `name`.
    pub async fn unlock(&self, name: &str) -> Result<Value, ClientError> {
        self.call("unlock", vec![json!(name)]).await
    }

    /// `set_db_change_aware`: asks the server to tell of database changes
    /// (schema conversions) rather than close the connection.
    pub async fn set_db_change_aware(&self, aware: bool) -> Result<Value, ClientError> {
        self.call("set_db_change_aware", vec![json!(aware)]).await
    }

    /// The next notification from the server; `None` once the connection
    /// has ended.
    pub async fn next_notification(&mut self) -> Option<Message> {
        self.notifications.recv().await
    }
}

/// The connection task.
async fn run<S: AsyncRead + AsyncWrite>(stream: S, mut commands: mpsc::Receiver<Command>, notifications: mpsc::Sender<Message>) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut framer = Framer::default();
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    let mut next_id = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut out = Vec::new();
        tokio::select! {
            cmd = commands.recv() => {
                let Some(Command::Call { method, params, reply }) = cmd else {
                    break;
                };
                next_id += 1;
                pending.insert(next_id, reply);
                out = Message::request(&method, params, json!(next_id)).encode();
            }
            n = rd.read(&mut buf) => {
                let n = match n {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                framer.push(&buf[..n]);
                let mut broken = false;
                while let Some(m) = framer.next_message() {
                    match m {
                        Ok(m) => match dispatch(m, &mut pending, &notifications) {
                            Ok(Some(reply)) => out.extend_from_slice(&reply.encode()),
                            Ok(None) => {}
                            Err(Overrun) => broken = true,
                        },
                        // As OVS: a frame that is not JSON-RPC ends the session.
                        Err(_) => broken = true,
                    }
                }
                if broken {
                    break;
                }
            }
        }
        if !out.is_empty() && wr.write_all(&out).await.is_err() {
            break;
        }
    }
    for (_, reply) in pending.drain() {
        let _ = reply.send(Err(ClientError::Closed));
    }
}

/// The notification queue was full: nobody is reading updates.
struct Overrun;

/// Handles one message from the server; returns a message to send back.
///
/// A full notification queue ends the session rather than drop an update
/// silently: a replica that missed one must resynchronise, which a new
/// session does.
fn dispatch(m: Message, pending: &mut HashMap<u64, Pending>, notifications: &mpsc::Sender<Message>) -> Result<Option<Message>, Overrun> {
    match m {
        Message::Request { method, params, id } if method == "echo" => Ok(Some(Message::Reply { result: Value::Array(params), id })),
        Message::Request { id, .. } => Ok(Some(Message::Error { error: json!("unknown method"), id })),
        Message::Reply { result, id } => {
            if let Some(reply) = id.as_u64().and_then(|id| pending.remove(&id)) {
                let _ = reply.send(Ok(result));
            }
            Ok(None)
        }
        Message::Error { error, id } => {
            if let Some(reply) = id.as_u64().and_then(|id| pending.remove(&id)) {
                let _ = reply.send(Err(ClientError::Server(error)));
            }
            Ok(None)
        }
        note @ Message::Notification { .. } => notifications.try_send(note).map(|()| None).map_err(|_| Overrun),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

    /// A fake server on an in-memory stream answers the first request with
    /// `reply` (which may be anything), then closes.
    async fn against(reply: Vec<u8>) -> Result<Vec<String>, ClientError> {
        let (ours, mut theirs) = duplex(1 << 16);
        let client = Client::over(ours);
        let server = tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = theirs.read(&mut buf).await;
            let _ = theirs.write_all(&reply).await;
            theirs.shutdown().await.ok();
        });
        let r = tokio::time::timeout(Duration::from_secs(5), client.list_dbs()).await.expect("client hung");
        server.await.ok();
        r
    }

    #[tokio::test]
    async fn replies_and_errors_from_a_fake_server() {
        assert_eq!(against(br#"{"id":1,"result":["A"],"error":null}"#.to_vec()).await.unwrap(), vec!["A".to_owned()]);
        assert!(matches!(against(br#"{"id":1,"result":null,"error":"bad"}"#.to_vec()).await, Err(ClientError::Server(_))));
        assert!(matches!(against(br#"{"id":1,"result":{"not":"a list"},"error":null}"#.to_vec()).await, Err(ClientError::Server(_))));
        // A reply to nobody, then garbage: the session ends, the call fails.
        assert!(matches!(against(br#"{"id":99,"result":[],"error":null} x"#.to_vec()).await, Err(ClientError::Closed)));
    }

    #[tokio::test]
    async fn the_servers_echo_is_answered() {
        let (ours, mut theirs) = duplex(1 << 16);
        let _client = Client::over(ours);
        theirs.write_all(br#"{"id":"e1","method":"echo","params":["hi"]}"#).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), theirs.read(&mut buf)).await.unwrap().unwrap();
        let reply: Value = serde_json::from_slice(&buf[..n]).unwrap();
        assert_eq!(reply, json!({"id": "e1", "result": ["hi"], "error": null}));
    }

    /// Seeded random frames (raw bytes, and mutations of valid replies)
    /// never panic the client, and every call returns.
    #[tokio::test]
    async fn fuzzed_frames_from_a_server_never_panic() {
        let valid = br#"{"id":1,"result":["Open_vSwitch"],"error":null}{"id":null,"method":"update2","params":["m",{}]}"#;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..300 {
            let reply: Vec<u8> = if round % 2 == 0 {
                (0..next() % 200).map(|_| next() as u8).collect()
            } else {
                let mut v = valid.to_vec();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % v.len();
                    v[at] = next() as u8;
                }
                v.truncate(1 + (next() as usize) % v.len());
                v
            };
            let _ = against(reply).await;
        }
    }
}
