//! The daemon's log, in OVS's line format
//! (`2026-11-21T12:00:00.123Z|00001|vswitchd|INFO|message`), to the log
//! file when one is given, else to standard error.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);
static SEQ: AtomicU64 = AtomicU64::new(1);

/// Sends the log to `file` from now on.
pub fn to_file(file: std::fs::File) {
    if let Ok(mut f) = FILE.lock() {
        *f = Some(file);
    }
}

/// Logs at INFO.
pub fn info(msg: &str) {
    line("INFO", msg);
}

/// Logs at WARN.
pub fn warn(msg: &str) {
    line("WARN", msg);
}

fn line(level: &str, msg: &str) {
    let text = format!("{}|{:05}|vswitchd|{level}|{msg}\n", timestamp(SystemTime::now()), SEQ.fetch_add(1, Ordering::Relaxed));
    let mut guard = FILE.lock().ok();
    match guard.as_mut().and_then(|g| g.as_mut()) {
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
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_civil_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(UNIX_EPOCH + Duration::from_millis(951_782_400_123)), "2000-02-29T00:00:00.123Z");
        assert_eq!(timestamp(UNIX_EPOCH + Duration::from_secs(1_795_263_716)), "2026-11-21T12:21:56.000Z");
    }
}
