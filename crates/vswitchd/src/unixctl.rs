//! The management socket: OVS's unixctl protocol, so that the real
//! `ovs-appctl -t SOCKET COMMAND [ARG...]` works.
//!
//! unixctl is JSON-RPC over a unix socket: `ovs-appctl` sends
//! `{"method": COMMAND, "params": [ARG, ...], "id": N}` with string
//! arguments and prints the reply's `result` (a string) on stdout, or its
//! `error` on stderr (exiting 2). Commands are registered with their usage
//! and argument counts, which are checked before a handler runs, with
//! OVS's messages.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ovsdb::{Framer, Message};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// A command's handler: the arguments in, the reply text or an error out.
pub type Handler = Arc<dyn Fn(&[String]) -> Result<String, String> + Send + Sync>;

struct Command {
    usage: String,
    min: usize,
    max: usize,
    handler: Handler,
}

/// The registered commands.
#[derive(Default)]
pub struct Commands {
    map: BTreeMap<String, Command>,
}

impl std::fmt::Debug for Commands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.map.keys()).finish()
    }
}

impl Commands {
    /// The built-in commands: `list-commands` and `version`.
    pub fn new() -> Self {
        let mut c = Commands::default();
        c.register("version", "", 0, 0, Arc::new(|_| Ok(format!("ovs-vswitchd (ferrovs) {}\n", env!("CARGO_PKG_VERSION")))));
        c
    }

    /// Registers `name` taking `min..=max` arguments.
    pub fn register(&mut self, name: &str, usage: &str, min: usize, max: usize, handler: Handler) {
        self.map.insert(name.to_owned(), Command { usage: usage.to_owned(), min, max, handler });
    }

    /// `list-commands`, formatted as OVS does.
    fn list(&self) -> String {
        let mut out = String::from("The available commands are:\n");
        let mut names: Vec<(&str, &str)> = self.map.iter().map(|(n, c)| (n.as_str(), c.usage.as_str())).collect();
        names.push(("list-commands", ""));
        names.sort();
        for (name, usage) in names {
            out.push_str(&format!("  {name:<24}{usage}\n"));
        }
        out
    }

    /// Runs one request.
    pub fn dispatch(&self, method: &str, params: &[Value]) -> Result<String, String> {
        let args: Vec<String> =
            params.iter().map(|p| p.as_str().map(str::to_owned)).collect::<Option<_>>().ok_or("command arguments must be strings")?;
        if method == "list-commands" {
            return Ok(self.list());
        }
        let Some(c) = self.map.get(method) else {
            return Err(format!("\"{method}\" is not a valid command (use list-commands to see a list of valid commands)"));
        };
        if args.len() < c.min {
            return Err(format!("\"{method}\" command requires at least {} arguments", c.min));
        }
        if args.len() > c.max {
            return Err(format!("\"{method}\" command takes at most {} arguments", c.max));
        }
        (c.handler)(&args)
    }
}

/// Serialises the umask changes of [`bind`].
static UMASK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Listens on `path` (replacing a stale socket). The socket is made
/// `0770` less the umask, as OVS makes its sockets: only the owner and
/// its group may connect (`ovs-appctl exit`, `ovs-ofctl add-flow`), even
/// when the daemon was started under `umask 000`.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    // bind(2) creates the socket with 0777 less the umask, and a chmod
    // after it would leave a moment when anyone may connect: so the umask
    // is widened around the bind. Another thread creating a file at that
    // moment only gets fewer permissions than it asked for.
    let _guard = UMASK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: umask only sets the process's file mode creation mask and
    // cannot fail; reading the old mask means setting one, and the old
    // one is put back below.
    let old = unsafe { libc::umask(0o007) };
    // SAFETY: as above.
    unsafe { libc::umask(old | 0o007) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    bound
}

/// A socket file removed when dropped (a listener's path, once the
/// listener is gone).
#[derive(Debug)]
pub struct SocketFile(pub std::path::PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Serves connections from `listener` with `commands`.
pub async fn serve(listener: UnixListener, commands: Arc<Commands>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => drop(tokio::spawn(connection(stream, Arc::clone(&commands)))),
            // Out of file descriptors, say: keep listening.
            Err(e) => {
                crate::log::warn_limited("unixctl accept", &format!("management socket: accept failed: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(mut stream: UnixStream, commands: Arc<Commands>) {
    let mut framer = Framer::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        framer.push(&buf[..n]);
        while let Some(m) = framer.next_message() {
            let reply = match m {
                Ok(Message::Request { method, params, id }) => match commands.dispatch(&method, &params) {
                    Ok(text) => Message::Reply { result: Value::String(text), id },
                    // ovs-appctl prints the error as it is, then its own
                    // line: the error ends its line.
                    Err(mut e) => {
                        if !e.ends_with('\n') {
                            e.push('\n');
                        }
                        Message::Error { error: Value::String(e), id }
                    }
                },
                // Notifications and replies need no answer; garbage ends
                // the connection, as in OVS.
                Ok(_) => continue,
                Err(_) => return,
            };
            if stream.write_all(&reply.encode()).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_checked_with_ovs_messages() {
        let mut c = Commands::new();
        c.register("echo-args", "ARG...", 1, 2, Arc::new(|a| Ok(a.join(","))));
        assert_eq!(c.dispatch("echo-args", &[json!("a"), json!("b")]), Ok("a,b".into()));
        assert_eq!(c.dispatch("echo-args", &[]), Err("\"echo-args\" command requires at least 1 arguments".into()));
        assert_eq!(
            c.dispatch("echo-args", &[json!("a"), json!("b"), json!("c")]),
            Err("\"echo-args\" command takes at most 2 arguments".into())
        );
        assert!(c.dispatch("nope", &[]).unwrap_err().contains("is not a valid command"));
        assert!(c.dispatch("echo-args", &[json!(1)]).is_err());
        let list = c.dispatch("list-commands", &[]).unwrap();
        assert!(list.starts_with("The available commands are:\n"));
        assert!(list.contains("  echo-args               ARG...\n"));
        assert!(list.contains("  version"));
    }
}
