//! A bridge's connections to its OpenFlow controllers (`Bridge.controller`
//! → `Controller` rows), as OVS makes them:
//! - active targets `tcp:IP[:PORT]`, `ssl:IP[:PORT]`, `unix:FILE`, tried
//!   again with a backoff that doubles from 1 s up to `max_backoff`;
//! - passive targets `ptcp:[PORT][:IP]`, `pssl:[PORT][:IP]`, `punix:FILE`,
//!   where controllers connect to the switch (port 6653 by default);
//! - `ssl:`/`pssl:` with the `SSL` table's key, certificate and CA (files
//!   made by `ovs-pki` work; a peer whose certificate does not chain to
//!   the CA is refused);
//! - an inactivity probe (`inactivity_probe`, 5 s by default, 0 for none);
//! - each connection's state kept for `Controller.is_connected`, `role`
//!   and `status`;
//! - `fail_mode`: in `standalone` (the default), once no controller has
//!   been connected for three probe intervals the bridge fails open to
//!   NORMAL switching (OVS's hidden fail-open flow) until one connects
//!   again; in `secure` the flow tables stay as they are.
//!
//! Each connection has its role (equal, master, slave, as the bridge's
//! `ofproto` roles keep them). Not yet: packet-in rate limits
//! (`controller_rate_limit`, `controller_burst_limit`) and
//! `connection_mode=out-of-band`'s distinction (there is no in-band
//! control to distinguish it from).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ovsdb::SslConfig;

use crate::ofconn::{serve, Shared};

/// OpenFlow's IANA port.
pub const DEFAULT_PORT: u16 = 6653;
/// `inactivity_probe` when unset, as OVS.
pub const DEFAULT_PROBE: Duration = Duration::from_secs(5);
/// `max_backoff` when unset, as OVS.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(8);
/// How long a passive `pssl:` connection may take to finish its TLS
/// handshake before it is closed.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The wait before a listener tries `accept` again after it failed.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Where a controller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Connect out over TCP.
    Tcp(String),
    /// Connect out over TLS.
    Ssl(String),
    /// Connect to a unix socket.
    Unix(PathBuf),
    /// Listen on TCP.
    Ptcp(String),
    /// Listen on TLS.
    Pssl(String),
    /// Listen on a unix socket.
    Punix(PathBuf),
}

/// `IP[:PORT]` with the default port.
fn active_addr(rest: &str) -> Result<String, String> {
    if rest.is_empty() {
        return Err("no address".into());
    }
    if let Some(v6) = rest.strip_prefix('[') {
        let (ip, port) = v6.split_once(']').ok_or("unterminated [IPv6] address")?;
        let port = port.strip_prefix(':').unwrap_or("");
        return Ok(format!("[{ip}]:{}", if port.is_empty() { DEFAULT_PORT.to_string() } else { port.to_owned() }));
    }
    Ok(match rest.split_once(':') {
        Some((ip, port)) => format!("{ip}:{port}"),
        None => format!("{rest}:{DEFAULT_PORT}"),
    })
}

/// `[PORT][:IP]` with the default port and the any address.
fn passive_addr(rest: &str) -> Result<String, String> {
    let (port, ip) = rest.split_once(':').unwrap_or((rest, ""));
    let port: u16 = if port.is_empty() { DEFAULT_PORT } else { port.parse().map_err(|_| format!("bad port {port:?}"))? };
    let ip = if ip.is_empty() { "0.0.0.0" } else { ip.trim_start_matches('[').trim_end_matches(']') };
    Ok(if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") })
}

impl Target {
    /// Parses a `Controller.target`.
    pub fn parse(target: &str) -> Result<Target, String> {
        let (kind, rest) = target.split_once(':').ok_or_else(|| format!("{target}: no connection method"))?;
        Ok(match kind {
            "tcp" => Target::Tcp(active_addr(rest)?),
            "ssl" => Target::Ssl(active_addr(rest)?),
            "unix" => Target::Unix(PathBuf::from(rest)),
            "ptcp" => Target::Ptcp(passive_addr(rest)?),
            "pssl" => Target::Pssl(passive_addr(rest)?),
            "punix" => Target::Punix(PathBuf::from(rest)),
            _ => return Err(format!("{target}: unknown connection method {kind:?}")),
        })
    }

    fn needs_ssl(&self) -> bool {
        matches!(self, Target::Ssl(_) | Target::Pssl(_))
    }
}

/// One controller's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// `Controller.target` as written.
    pub target: String,
    /// Inactivity probe interval (`None`: disabled).
    pub probe: Option<Duration>,
    /// Longest wait between connection attempts.
    pub max_backoff: Duration,
    /// The `SSL` table's files, for `ssl:` and `pssl:`.
    pub ssl: Option<SslConfig>,
}

/// A connection's state, as `Controller.status` reports it.
#[derive(Clone, Debug)]
pub struct Status {
    /// Connected now (for a passive target: at least one connection).
    pub connected: usize,
    /// OVS's state name: ACTIVE, BACKOFF, CONNECTING, LISTENING.
    pub state: &'static str,
    /// When the state last changed between connected and not.
    pub since: Instant,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// The current (or last) connection's id, for its role.
    pub conn: Option<u64>,
}

impl Default for Status {
    fn default() -> Self {
        Status { connected: 0, state: "CONNECTING", since: Instant::now(), last_error: None, conn: None }
    }
}

type Statuses = Arc<Mutex<BTreeMap<String, Status>>>;

/// The controller connections of one bridge.
#[derive(Debug)]
pub struct Controllers {
    bridge: String,
    shared: Shared,
    tasks: BTreeMap<String, (ControllerConfig, tokio::task::JoinHandle<()>)>,
    statuses: Statuses,
    /// Whether the bridge has failed open to NORMAL switching.
    fail_open: Arc<AtomicBool>,
    watcher: Option<tokio::task::JoinHandle<()>>,
    /// Woken whenever a status changes, so the daemon writes it back.
    changed: Arc<tokio::sync::Notify>,
}

impl Controllers {
    /// No controllers yet; `changed` is woken whenever a status changes.
    pub fn new(bridge: &str, shared: Shared, changed: Arc<tokio::sync::Notify>) -> Controllers {
        Controllers {
            bridge: bridge.to_owned(),
            shared,
            tasks: BTreeMap::new(),
            statuses: Statuses::default(),
            fail_open: Arc::default(),
            watcher: None,
            changed,
        }
    }

    /// The flag that says whether the bridge is failing open
    /// (standalone, controllers gone), for `bridge/dump-flows`.
    pub fn fail_open_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.fail_open)
    }

    /// The status of `target`, if it is configured.
    pub fn status(&self, target: &str) -> Option<Status> {
        self.statuses.lock().ok()?.get(target).cloned()
    }

    /// The role of a connection.
    pub fn role(&self, conn: u64) -> ofproto::table::Role {
        self.shared.role(conn)
    }

    /// Makes the connections match `configs`; `standalone` is the fail
    /// mode. A target whose configuration is unusable gets its error as
    /// its status.
    pub fn configure(&mut self, configs: Vec<ControllerConfig>, standalone: bool) {
        let wanted: BTreeMap<String, ControllerConfig> = configs.into_iter().map(|c| (c.target.clone(), c)).collect();
        self.tasks.retain(|target, (config, task)| {
            let keep = wanted.get(target) == Some(config);
            if !keep {
                task.abort();
            }
            keep
        });
        if let Ok(mut s) = self.statuses.lock() {
            s.retain(|t, _| wanted.contains_key(t));
        }
        for (target, config) in wanted {
            if self.tasks.contains_key(&target) {
                continue;
            }
            if let Ok(mut s) = self.statuses.lock() {
                s.insert(target.clone(), Status::default());
            }
            let run = Run {
                bridge: self.bridge.clone(),
                config: config.clone(),
                shared: self.shared.clone(),
                statuses: Arc::clone(&self.statuses),
                changed: Arc::clone(&self.changed),
            };
            self.tasks.insert(target, (config, tokio::spawn(run.run())));
        }
        if let Some(w) = self.watcher.take() {
            w.abort();
        }
        self.fail_open.store(false, Ordering::Relaxed);
        if standalone && !self.tasks.is_empty() {
            let probe = self.tasks.values().filter_map(|(c, _)| c.probe).min().unwrap_or(DEFAULT_PROBE);
            self.watcher = Some(tokio::spawn(watch_fail_open(
                self.bridge.clone(),
                Arc::clone(&self.statuses),
                Arc::clone(&self.fail_open),
                3 * probe,
            )));
        }
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        for (_, task) in self.tasks.values() {
            task.abort();
        }
        if let Some(w) = &self.watcher {
            w.abort();
        }
    }
}

/// Fails the bridge open once no controller has been connected for
/// `after`, and closes it again when one connects (OVS's fail-open).
async fn watch_fail_open(bridge: String, statuses: Statuses, fail_open: Arc<AtomicBool>, after: Duration) {
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (any, last_change) = match statuses.lock() {
            Ok(s) => (s.values().any(|st| st.connected > 0), s.values().map(|st| st.since).max().unwrap_or(start)),
            Err(_) => return,
        };
        let open = !any && last_change.elapsed() >= after && start.elapsed() >= after;
        if open != fail_open.swap(open, Ordering::Relaxed) {
            if open {
                crate::log::warn(&format!("{bridge}: no controller connected for {} s: failing open to NORMAL switching", after.as_secs()));
            } else {
                crate::log::info(&format!("{bridge}: a controller is connected: leaving fail-open mode"));
            }
        }
    }
}

/// One target's connection loop.
struct Run {
    bridge: String,
    config: ControllerConfig,
    shared: Shared,
    statuses: Statuses,
    changed: Arc<tokio::sync::Notify>,
}

impl Run {
    fn set(&self, f: impl FnOnce(&mut Status)) {
        if let Ok(mut s) = self.statuses.lock() {
            if let Some(st) = s.get_mut(&self.config.target) {
                f(st);
            }
        }
        self.changed.notify_one();
    }

    fn fail(&self, state: &'static str, error: String) {
        crate::log::warn(&format!("{}<->{}: {error}", self.bridge, self.config.target));
        self.set(|st| {
            st.state = state;
            st.last_error = Some(error);
        });
    }

    async fn run(self) {
        let target = match Target::parse(&self.config.target) {
            Ok(t) => t,
            Err(e) => return self.fail("VOID", e),
        };
        let tls = match (&self.config.ssl, target.needs_ssl()) {
            (_, false) => None,
            (None, true) => return self.fail("VOID", "no SSL configuration (set it with ovs-vsctl set-ssl)".into()),
            (Some(ssl), true) => Some(ssl.clone()),
        };
        match target {
            Target::Tcp(addr) => self.active(|| async { tokio::net::TcpStream::connect(&addr).await.map(Conn::Tcp) }).await,
            Target::Unix(path) => self.active(|| async { tokio::net::UnixStream::connect(&path).await.map(Conn::Unix) }).await,
            Target::Ssl(addr) => {
                let Some(ssl) = tls else { return };
                let (config, name) = match (ovsdb::ssl::client_config(&ssl), ovsdb::ssl::server_name(&addr)) {
                    (Ok(c), Ok(n)) => (c, n),
                    (Err(e), _) | (_, Err(e)) => return self.fail("VOID", e.to_string()),
                };
                let connector = tokio_rustls::TlsConnector::from(config);
                self.active(|| async {
                    let tcp = tokio::net::TcpStream::connect(&addr).await?;
                    connector.connect(name.clone(), tcp).await.map(|s| Conn::Tls(Box::new(s)))
                })
                .await
            }
            Target::Ptcp(addr) => Arc::new(self).passive_tcp(&addr, None).await,
            Target::Pssl(addr) => {
                let Some(ssl) = tls else { return };
                match ovsdb::ssl::server_config(&ssl) {
                    Ok(c) => Arc::new(self).passive_tcp(&addr, Some(tokio_rustls::TlsAcceptor::from(c))).await,
                    Err(e) => self.fail("VOID", e.to_string()),
                }
            }
            Target::Punix(path) => match crate::unixctl::bind(&path) {
                Ok(listener) => {
                    // Removed when the target is reconfigured away or the
                    // daemon exits (this future is dropped either way).
                    let _file = crate::unixctl::SocketFile(path.clone());
                    let accept = || async { listener.accept().await.map(|(s, _)| s) };
                    Arc::new(self).serve_each(accept, |run, stream| async move { run.session(Conn::Unix(stream)).await }).await
                }
                Err(e) => self.fail("VOID", format!("{}: {e}", path.display())),
            },
        }
    }

    /// Listens: each connection `accept` gives is handled by `handle` in
    /// a task of its own, beside the others, as OVS serves a listener's
    /// connections. The tasks belong to this future: dropping it (the
    /// target reconfigured away, the daemon exiting) aborts them all. An
    /// `accept` that fails (out of file descriptors, say) is logged and
    /// tried again a little later, as OVS's listeners do, rather than
    /// ending the listener.
    async fn serve_each<S, A, H, F>(self: Arc<Self>, accept: impl Fn() -> A, handle: H)
    where
        A: std::future::Future<Output = std::io::Result<S>>,
        H: Fn(Arc<Self>, S) -> F,
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.set(|st| st.state = "LISTENING");
        let mut sessions = tokio::task::JoinSet::new();
        loop {
            let stream = tokio::select! {
                accepted = accept() => match accepted {
                    Ok(stream) => stream,
                    Err(e) => {
                        crate::log::warn_limited("controller accept", &format!("{}<->{}: accept failed: {e}", self.bridge, self.config.target));
                        tokio::time::sleep(ACCEPT_RETRY).await;
                        continue;
                    }
                },
                Some(_) = sessions.join_next() => continue,
            };
            sessions.spawn(handle(Arc::clone(&self), stream));
        }
    }

    /// Connects, runs the session, and backs off between attempts.
    async fn active<F, Fut>(&self, connect: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::io::Result<Conn>>,
    {
        let mut backoff = Duration::from_secs(1);
        loop {
            self.set(|st| st.state = "CONNECTING");
            match connect().await {
                Ok(conn) => {
                    backoff = Duration::from_secs(1);
                    self.session(conn).await;
                }
                Err(e) => self.fail("BACKOFF", e.to_string()),
            }
            self.set(|st| st.state = "BACKOFF");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.config.max_backoff.max(Duration::from_secs(1)));
        }
    }

    /// Accepts controllers on TCP (TLS with `tls`), each connection a
    /// session of its own beside the others, as OVS serves them. A TLS
    /// handshake runs in its connection's task and must finish within
    /// [`TLS_HANDSHAKE_TIMEOUT`], so a client that connects and says
    /// nothing holds no one else up.
    async fn passive_tcp(self: Arc<Self>, addr: &str, tls: Option<tokio_rustls::TlsAcceptor>) {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => return self.fail("VOID", format!("{addr}: {e}")),
        };
        let accept = || async { listener.accept().await.map(|(s, _)| s) };
        self.serve_each(accept, move |run, stream| {
            let tls = tls.clone();
            async move {
                let conn = match tls {
                    None => Conn::Tcp(stream),
                    Some(acceptor) => match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => Conn::TlsServer(Box::new(s)),
                        Ok(Err(e)) => return run.fail("LISTENING", format!("TLS handshake: {e}")),
                        Err(_) => {
                            let secs = TLS_HANDSHAKE_TIMEOUT.as_secs();
                            return run.fail("LISTENING", format!("TLS handshake not finished within {secs} s"));
                        }
                    },
                };
                run.session(conn).await
            }
        })
        .await
    }

    async fn session(&self, conn: Conn) {
        crate::log::info(&format!("{}<->{}: connected", self.bridge, self.config.target));
        let id = self.shared.connect();
        self.set(|st| {
            st.connected += 1;
            st.state = "ACTIVE";
            st.since = Instant::now();
            st.last_error = None;
            st.conn = Some(id);
        });
        let name = format!("{}<->{}", self.bridge, self.config.target);
        let (shared, probe) = (&self.shared, self.config.probe);
        let why = match conn {
            Conn::Tcp(s) => serve(s, shared, id, probe, &name, false).await,
            Conn::Unix(s) => serve(s, shared, id, probe, &name, false).await,
            Conn::Tls(s) => serve(*s, shared, id, probe, &name, false).await,
            Conn::TlsServer(s) => serve(*s, shared, id, probe, &name, false).await,
        };
        crate::log::info(&format!("{name}: connection closed: {why}"));
        self.set(|st| {
            st.connected = st.connected.saturating_sub(1);
            st.since = Instant::now();
            st.last_error = Some(why);
        });
    }
}

/// A connected stream of any kind.
enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
    TlsServer(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_ovs_defaults() {
        assert_eq!(Target::parse("tcp:127.0.0.1"), Ok(Target::Tcp("127.0.0.1:6653".into())));
        assert_eq!(Target::parse("tcp:10.0.0.1:6633"), Ok(Target::Tcp("10.0.0.1:6633".into())));
        assert_eq!(Target::parse("ssl:[::1]"), Ok(Target::Ssl("[::1]:6653".into())));
        assert_eq!(Target::parse("ptcp:"), Ok(Target::Ptcp("0.0.0.0:6653".into())));
        assert_eq!(Target::parse("ptcp:6634:127.0.0.1"), Ok(Target::Ptcp("127.0.0.1:6634".into())));
        assert_eq!(Target::parse("pssl:6635:[::1]"), Ok(Target::Pssl("[::1]:6635".into())));
        assert_eq!(Target::parse("punix:/tmp/x"), Ok(Target::Punix("/tmp/x".into())));
        assert!(Target::parse("udp:1.2.3.4").is_err());
        assert!(Target::parse("tcp:").is_err());
        assert!(Target::parse("ptcp:notaport").is_err());
    }
}
