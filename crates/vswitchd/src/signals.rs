//! The signals the daemon answers, as OVS's daemons do: SIGTERM, SIGINT,
//! SIGUSR1 and SIGUSR2 end it cleanly (a log line, then the pidfile, the
//! management, bridge and `punix:` sockets removed and the ports closed,
//! before the signal is raised again so that the exit status says which
//! one it was); SIGHUP reopens the log file, for `logrotate`.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// What a signal asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    /// End the daemon: the signal's number and name.
    Terminate(i32, &'static str),
    /// Reopen the log file.
    ReopenLog,
}

/// The handled signals, registered with tokio.
#[derive(Debug)]
pub struct Signals {
    terminating: Vec<(Signal, i32, &'static str)>,
    hangup: Signal,
}

impl Signals {
    /// Registers the handlers (within a tokio runtime). From here on these
    /// signals no longer kill the process by themselves.
    pub fn new() -> std::io::Result<Signals> {
        let mut terminating = Vec::new();
        for (n, name) in [
            (libc::SIGTERM, "Terminated"),
            (libc::SIGINT, "Interrupt"),
            (libc::SIGUSR1, "User defined signal 1"),
            (libc::SIGUSR2, "User defined signal 2"),
        ] {
            terminating.push((signal(SignalKind::from_raw(n))?, n, name));
        }
        Ok(Signals { terminating, hangup: signal(SignalKind::hangup())? })
    }

    /// The next signal's request.
    pub async fn next(&mut self) -> Asked {
        let terminating = std::future::poll_fn(|cx| {
            for (s, n, name) in &mut self.terminating {
                if s.poll_recv(cx).is_ready() {
                    return std::task::Poll::Ready(Asked::Terminate(*n, name));
                }
            }
            std::task::Poll::Pending
        });
        tokio::select! {
            asked = terminating => asked,
            _ = self.hangup.recv() => Asked::ReopenLog,
        }
    }
}

/// Raises `signal` again with its default action, after the cleanup, so
/// that the process ends as the signal would have ended it.
pub fn raise_default(signal: i32) {
    // SAFETY: setting a signal's disposition to SIG_DFL and raising it in
    // this process touch no memory of ours; the process ends here.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}
