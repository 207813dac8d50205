//! The daemon's log, in OVS's line format
//! (`2026-11-21T12:00:00.123Z|00001|vswitchd|INFO|message`), to the log
//! file when one is given, else to standard error, with per-destination
//! levels that `ovs-appctl vlog/set` and `vlog/list` change and show. There
//! is one module, `vswitchd`; syslog is accepted as a destination but not
//! written to yet.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);
static SEQ: AtomicU64 = AtomicU64::new(1);

/// Levels, least to most verbose, as OVS names them.
const LEVELS: [&str; 6] = ["off", "emer", "err", "warn", "info", "dbg"];
const DESTINATIONS: [&str; 3] = ["console", "syslog", "file"];
const INFO: usize = 4;
const WARN: usize = 3;

/// The level of each destination (indices into `LEVELS`): OVS's defaults.
static DEST_LEVELS: Mutex<[usize; 3]> = Mutex::new([INFO, INFO, INFO]);

/// `vlog/list`, in OVS's layout.
pub fn list() -> String {
    let l = DEST_LEVELS.lock().map(|g| *g).unwrap_or([INFO; 3]);
    let name = |i: usize| LEVELS[i.min(LEVELS.len() - 1)].to_ascii_uppercase();
    format!(
        "                 console    syslog    file\n                 -------    ------    ------\n{:<16}{:>8}{:>10}{:>8}\n",
        "vswitchd",
        name(l[0]),
        name(l[1]),
        name(l[2])
    )
}

/// `vlog/set SPEC...`: each SPEC is `[module][:destination][:level]` in
/// any order (`ANY` or nothing for all).
pub fn set(specs: &[String]) -> Result<String, String> {
    let mut changes = Vec::new();
    for spec in specs {
        let (mut dests, mut level) = ((0..DESTINATIONS.len()).collect::<Vec<_>>(), None);
        for word in spec.split(':').filter(|w| !w.is_empty()) {
            let w = word.to_ascii_lowercase();
            if w == "any" || w == "vswitchd" {
                continue;
            }
            if let Some(d) = DESTINATIONS.iter().position(|d| *d == w) {
                dests = vec![d];
            } else if let Some(l) = LEVELS.iter().position(|l| *l == w) {
                level = Some(l);
            } else if w == "pattern" {
                return Err("vlog/set: log patterns are not supported yet".to_owned());
            } else {
                return Err(format!("unknown module, destination or level \"{word}\""));
            }
        }
        let Some(level) = level else {
            return Err(format!("{spec}: no level given"));
        };
        changes.push((dests, level));
    }
    if let Ok(mut l) = DEST_LEVELS.lock() {
        for (dests, level) in changes {
            for d in dests {
                l[d] = level;
            }
        }
    }
    Ok(String::new())
}

/// The log file's path, for [`reopen`].
static PATH: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

/// Opens `path` for appending (creating it `0660` less the umask, as OVS
/// creates its log) and sends the log there from now on.
pub fn to_file(path: &std::path::Path) -> std::io::Result<()> {
    let file = open(path)?;
    if let Ok(mut f) = FILE.lock() {
        *f = Some(file);
    }
    if let Ok(mut p) = PATH.lock() {
        *p = Some(path.to_owned());
    }
    Ok(())
}

fn open(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().create(true).append(true).mode(0o660).open(path)
}

/// `vlog/reopen` and SIGHUP: opens the log file again by its name, so that
/// `logrotate` can move the old one away. Without a log file there is
/// nothing to do; a file that cannot be opened keeps the old one in use.
pub fn reopen() -> Result<String, String> {
    let Some(path) = PATH.lock().ok().and_then(|p| p.clone()) else {
        return Ok(String::new());
    };
    let file = open(&path).map_err(|e| format!("{}: cannot reopen log file: {e}", path.display()))?;
    if let Ok(mut f) = FILE.lock() {
        *f = Some(file);
    }
    info("log file reopened");
    Ok(String::new())
}

/// Logs at INFO.
pub fn info(msg: &str) {
    line(INFO, msg);
}

/// Logs at WARN.
pub fn warn(msg: &str) {
    line(WARN, msg);
}

/// Where the datapath interface's messages go: this log.
pub fn dpif_sink(level: dpif::Level, msg: &str) {
    match level {
        dpif::Level::Info => info(msg),
        dpif::Level::Warn => warn(msg),
    }
}

/// Call sites whose messages are rate-limited: when each last wrote, and
/// how many it has held back since.
static LIMITED: Mutex<BTreeMap<&'static str, (Instant, u64)>> = Mutex::new(BTreeMap::new());

/// The least time between two lines of one rate-limited call site.
const LIMIT_INTERVAL: Duration = Duration::from_secs(1);

/// Logs at WARN, at most one line a second for each `site` (a name for
/// the call site), as OVS's `VLOG_RATE_LIMIT_INIT`: a line written after
/// some were held back says how many.
pub fn warn_limited(site: &'static str, msg: &str) {
    let now = Instant::now();
    let suppressed = {
        let Ok(mut sites) = LIMITED.lock() else { return };
        match sites.get_mut(site) {
            Some((last, held)) if now.duration_since(*last) < LIMIT_INTERVAL => {
                *held += 1;
                return;
            }
            Some((last, held)) => {
                *last = now;
                std::mem::take(held)
            }
            None => {
                sites.insert(site, (now, 0));
                0
            }
        }
    };
    match suppressed {
        0 => line(WARN, msg),
        n => line(WARN, &format!("{msg} ({n} messages like this held back in the last seconds)")),
    }
}

fn line(level: usize, msg: &str) {
    let levels = DEST_LEVELS.lock().map(|g| *g).unwrap_or([INFO; 3]);
    let mut guard = FILE.lock().ok();
    let file = guard.as_mut().and_then(|g| g.as_mut());
    let enabled = if file.is_some() { levels[2] } else { levels[0] };
    if level > enabled {
        return;
    }
    let name = LEVELS[level.min(LEVELS.len() - 1)].to_ascii_uppercase();
    let text = format!("{}|{:05}|vswitchd|{name}|{msg}\n", timestamp(SystemTime::now()), SEQ.fetch_add(1, Ordering::Relaxed));
    match file {
        Some(f) => {
            let _ = f.write_all(text.as_bytes());
        }
        None => eprint!("{text}"),
    }
}

/// UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem / 60 % 60, rem % 60, d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlog_set_and_list() {
        let row = || list().lines().last().map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>()).unwrap();
        assert_eq!(row(), ["vswitchd", "INFO", "INFO", "INFO"]);
        assert_eq!(set(&["file:dbg".into()]), Ok(String::new()));
        assert_eq!(row(), ["vswitchd", "INFO", "INFO", "DBG"]);
        assert_eq!(set(&["ANY:ANY:info".into()]), Ok(String::new()));
        assert!(set(&["nonsense:dbg".into()]).unwrap_err().contains("nonsense"));
        assert!(set(&["console".into()]).unwrap_err().contains("no level"));
    }

    #[test]
    fn timestamps_are_utc_civil_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(UNIX_EPOCH + Duration::from_millis(951_782_400_123)), "2000-02-29T00:00:00.123Z");
        assert_eq!(timestamp(UNIX_EPOCH + Duration::from_secs(1_795_263_716)), "2026-11-21T12:21:56.000Z");
    }
}
