//! Pidfiles as OVS writes them, so that `ovs-appctl -t ovs-vswitchd` and
//! `ovs-ctl`-style tools accept ours: the file holds the pid and a line
//! feed, and the daemon holds a POSIX (`fcntl`) write lock on it for as
//! long as it runs. `ovs-appctl` checks that lock and refuses a pidfile
//! nobody holds ("No such process").

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A written, locked pidfile; removed when dropped.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    /// Kept open: closing any descriptor of the file would drop the lock.
    _file: File,
}

impl Pidfile {
    /// Writes our pid to `path` (through a temporary file renamed into
    /// place, as OVS does) and locks it.
    pub fn create(path: &Path) -> std::io::Result<Pidfile> {
        let tmp = path.with_extension("pid.tmp");
        // 0644 less the umask: nobody else may write a pid that
        // `ovs-appctl -t` or an init script would then signal, even under
        // `umask 000`.
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o644).open(&tmp)?;
        lock(&file)?;
        writeln!(file, "{}", std::process::id())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(Pidfile { path: path.to_owned(), _file: file })
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The pid of the process that holds the lock on the pidfile at `path`,
/// if one does (OVS's check before it writes its own).
pub fn holder(path: &Path) -> Option<u32> {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).ok()?;
    // SAFETY: as in `lock`: all-zero bytes are a valid flock.
    let mut lck: libc::flock = unsafe { std::mem::zeroed() };
    lck.l_type = libc::F_WRLCK as libc::c_short;
    lck.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: the descriptor is open for as long as `file` lives, and
    // F_GETLK writes only into `lck`, which outlives the call.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lck) };
    (rc == 0 && lck.l_type != libc::F_UNLCK as libc::c_short).then_some(lck.l_pid as u32)
}

/// Takes a POSIX write lock on the whole of `file`.
fn lock(file: &File) -> std::io::Result<()> {
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a
    // valid value; the fields that matter are set below.
    let mut lck: libc::flock = unsafe { std::mem::zeroed() };
    lck.l_type = libc::F_WRLCK as libc::c_short;
    lck.l_whence = libc::SEEK_SET as libc::c_short;
    lck.l_start = 0;
    lck.l_len = 0;
    // SAFETY: the descriptor is open for as long as `file` lives, and
    // `lck` is a valid, initialised flock for F_SETLK to read.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lck) };
    if rc == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_pid_and_removes_the_file_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        let p = Pidfile::create(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", std::process::id()));
        // Our own lock is not another's: F_GETLK reports none.
        assert_eq!(holder(&path), None);
        drop(p);
        assert!(!path.exists());
        assert_eq!(holder(&path), None);
    }
}
