//! The DPDK environment abstraction layer: initialised once per process from
//! an argument list, cleaned up when the last [`Eal`] handle goes.

use std::ffi::{CStr, CString};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// An error from EAL or from device probing.
#[derive(Debug, thiserror::Error)]
pub enum EalError {
    /// EAL was initialised in this process already; DPDK allows it once.
    #[error("DPDK EAL is already initialised in this process (DPDK allows it once)")]
    AlreadyInitialised,
    /// An argument holds a NUL byte.
    #[error("EAL argument {0:?} contains a NUL byte")]
    NulInArgument(String),
    /// No hugepages can back DPDK's memory.
    #[error("no hugepages available: {reason}; reserve them with `echo 1024 > /proc/sys/vm/nr_hugepages` and mount hugetlbfs (`mount -t hugetlbfs nodev /dev/hugepages`), or run `make setup`")]
    NoHugepages {
        /// What is missing: a mount, or free pages.
        reason: String,
    },
    /// `rte_eal_init` failed.
    #[error("DPDK EAL initialisation failed: {message} (EAL arguments: {args})")]
    Init {
        /// `rte_strerror(rte_errno)`.
        message: String,
        /// The arguments as given.
        args: String,
    },
    /// Device arguments that DPDK cannot parse.
    #[error("DPDK devargs {devargs:?} do not parse: {message}")]
    BadDevargs {
        /// The device arguments as given.
        devargs: String,
        /// DPDK's reason.
        message: String,
    },
    /// A device that parsed but could not be probed.
    #[error("DPDK could not probe device {devargs:?}: {message}")]
    Probe {
        /// The device arguments as given.
        devargs: String,
        /// DPDK's reason.
        message: String,
    },
}

/// Set once `rte_eal_init` has been attempted; DPDK refuses a second call
/// even after a failure.
static ATTEMPTED: AtomicBool = AtomicBool::new(false);

/// A handle on the process's initialised EAL. Clones are cheap; EAL is
/// cleaned up (`rte_eal_cleanup`) when the last one is dropped.
#[derive(Debug, Clone)]
pub struct Eal {
    _guard: Arc<Guard>,
}

/// Cleans EAL up when the last handle goes, and removes EAL's runtime
/// directory (`/var/run/dpdk/<file-prefix>` for root) if nothing is left in
/// it: with `--in-memory --no-telemetry` EAL puts no file there but still
/// creates the directory, and would leave one per run behind. (It is
/// removed right after initialisation already when empty; this catches the
/// telemetry socket's directory, empty only after cleanup.)
#[derive(Debug)]
struct Guard {
    runtime_dir: Option<std::path::PathBuf>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: the guard exists only after a successful rte_eal_init, and
        // every DPDK object (mempool, port) holds an `Eal` clone, so none is
        // left when the last guard goes.
        unsafe { ffi::rte_eal_cleanup() };
        if let Some(dir) = &self.runtime_dir {
            // Fails, and keeps the directory, when files are still in it
            // (another process's with the same prefix, or EAL's own).
            let _ = fs::remove_dir(dir);
        }
    }
}

/// EAL's runtime directory, once EAL is initialised.
fn runtime_dir() -> Option<std::path::PathBuf> {
    // SAFETY: called after a successful rte_eal_init; the string is EAL's
    // own, static for the life of the process.
    let dir = unsafe { ffi::rte_eal_get_runtime_dir() };
    if dir.is_null() {
        return None;
    }
    // SAFETY: non-null, NUL-terminated (EAL formats it with snprintf).
    let dir = unsafe { CStr::from_ptr(dir) }.to_str().ok()?;
    Some(std::path::PathBuf::from(dir)).filter(|d| !d.as_os_str().is_empty())
}

impl Eal {
    /// Initialises EAL with `args` (without a program name; `ferrovs` is
    /// prepended). Checks for usable hugepages first unless `--no-huge` is
    /// among the arguments, so that the common set-up mistake gets a clear
    /// message instead of EAL's log.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Self, EalError> {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        if !args.contains(&"--no-huge") {
            check_hugepages(Path::new("/proc/mounts"), Path::new("/sys/kernel/mm/hugepages"))?;
        }
        let mut owned = Vec::with_capacity(args.len() + 1);
        for arg in std::iter::once("ferrovs").chain(args.iter().copied()) {
            owned.push(CString::new(arg).map_err(|_| EalError::NulInArgument(arg.to_string()))?);
        }
        if ATTEMPTED.swap(true, Ordering::SeqCst) {
            return Err(EalError::AlreadyInitialised);
        }
        // EAL keeps pointers into argv (and permutes it), so argv and its
        // strings live for the rest of the process: leaked once, a few bytes.
        let owned: &'static [CString] = Vec::leak(owned);
        let argv: &'static mut [*mut libc::c_char] = Vec::leak(owned.iter().map(|s| s.as_ptr().cast_mut()).collect());
        let argc = i32::try_from(argv.len()).unwrap_or(i32::MAX);
        // SAFETY: argv holds argc valid NUL-terminated strings that are never
        // freed; ATTEMPTED guarantees this is the process's only call.
        let rc = unsafe { ffi::rte_eal_init(argc, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(EalError::Init { message: last_error(), args: args.join(" ") });
        }
        // With --in-memory EAL shares nothing through its runtime directory,
        // so an empty one goes at once: not even a crash leaves it behind.
        let runtime_dir = runtime_dir();
        if let Some(dir) = &runtime_dir {
            let _ = fs::remove_dir(dir);
        }
        Ok(Self { _guard: Arc::new(Guard { runtime_dir }) })
    }

    /// Probes (hot-plugs) a device from DPDK device arguments, for example
    /// `net_pcap0,rx_pcap=in.pcap` or `0000:01:00.0`.
    pub fn probe(&self, devargs: &str) -> Result<(), EalError> {
        let c = CString::new(devargs).map_err(|_| EalError::NulInArgument(devargs.to_string()))?;
        let mut parsed = ffi::rte_devargs::default();
        // SAFETY: `parsed` is a zeroed rte_devargs owned here and `c` a valid
        // string; rte_devargs_reset frees what parsing allocated in it.
        let rc = unsafe {
            let rc = ffi::rte_devargs_parse(&mut parsed, c.as_ptr());
            ffi::rte_devargs_reset(&mut parsed);
            rc
        };
        if rc < 0 {
            return Err(EalError::BadDevargs {
                devargs: devargs.to_string(),
                message: "no DPDK bus or driver takes this device name".to_string(),
            });
        }
        // A capture to replay that is not there: DPDK's pcap driver says
        // only -1 (which reads as "Operation not permitted").
        for (key, value) in devargs.split(',').skip(1).filter_map(|kv| kv.split_once('=')) {
            if key == "rx_pcap" && !std::path::Path::new(value).exists() {
                return Err(EalError::Probe { devargs: devargs.to_string(), message: format!("{key}={value}: no such file") });
            }
        }
        // SAFETY: EAL is initialised (self exists) and `c` is a valid string.
        let rc = unsafe { ffi::rte_dev_probe(c.as_ptr()) };
        if rc < 0 {
            // Many drivers fail with a bare -1, not an errno.
            let message = match rc {
                -1 => "the driver refused the device or its arguments (its reason is in DPDK's log)".to_owned(),
                _ => strerror(-rc),
            };
            return Err(EalError::Probe { devargs: devargs.to_string(), message });
        }
        Ok(())
    }

    /// The time-stamp counter's frequency, in Hz.
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: EAL is initialised (self exists); this only reads a value
        // EAL measured at start.
        unsafe { ffi::rte_get_tsc_hz() }
    }

    /// DPDK's version string, such as `DPDK 22.11.11`.
    pub fn version() -> String {
        // SAFETY: rte_version returns a pointer to a static NUL-terminated
        // string and needs no initialisation.
        unsafe { CStr::from_ptr(ffi::rte_version()) }.to_string_lossy().into_owned()
    }
}

/// Reads the time-stamp counter (the instruction itself, inline, where
/// DPDK's `rte_rdtsc` is a call into the shim).
#[inline(always)]
pub(crate) fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: the rdtsc instruction only reads the counter.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: rte_rdtsc only reads the counter.
        unsafe { ffi::rte_rdtsc() }
    }
}

/// The message for the calling thread's `rte_errno`.
pub(crate) fn last_error() -> String {
    // SAFETY: reads the calling thread's rte_errno through the shim.
    let errno = unsafe { ffi::ferrovs_rte_errno() };
    strerror(errno)
}

/// DPDK's message for an error number (DPDK's own codes and errno values).
pub(crate) fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a NUL-terminated string in
    // static or thread-local storage, valid until the next call on this
    // thread; it is copied at once.
    let text = unsafe { CStr::from_ptr(ffi::rte_strerror(errno)) }.to_string_lossy().into_owned();
    format!("{text} (errno {errno})")
}

/// Fails unless a hugetlbfs is mounted and some hugepages are free.
fn check_hugepages(mounts: &Path, sysfs: &Path) -> Result<(), EalError> {
    let mounted = fs::read_to_string(mounts)
        .map(|text| text.lines().any(|line| line.split_whitespace().nth(2) == Some("hugetlbfs")))
        .unwrap_or(false);
    if !mounted {
        return Err(EalError::NoHugepages { reason: "no hugetlbfs is mounted".to_string() });
    }
    let free: u64 = fs::read_dir(sysfs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|size| fs::read_to_string(size.path().join("free_hugepages")).ok())
        .filter_map(|text| text.trim().parse::<u64>().ok())
        .sum();
    if free == 0 {
        return Err(EalError::NoHugepages { reason: "no hugepage is free".to_string() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sysfs_with(dir: &Path, free: &str) {
        let size = dir.join("hugepages-2048kB");
        fs::create_dir_all(&size).unwrap();
        fs::write(size.join("free_hugepages"), free).unwrap();
    }

    #[test]
    fn hugepage_check_reads_mounts_and_free_pages() {
        let dir = tempfile::tempdir().unwrap();
        let mounts = dir.path().join("mounts");
        let sysfs = dir.path().join("hugepages");
        fs::write(&mounts, "proc /proc proc rw 0 0\n").unwrap();
        sysfs_with(&sysfs, "512\n");
        let err = check_hugepages(&mounts, &sysfs).unwrap_err();
        assert!(err.to_string().contains("no hugetlbfs is mounted"), "{err}");
        assert!(err.to_string().contains("nr_hugepages"), "says how to reserve: {err}");

        fs::write(&mounts, "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n").unwrap();
        assert!(check_hugepages(&mounts, &sysfs).is_ok());

        sysfs_with(&sysfs, "0\n");
        let err = check_hugepages(&mounts, &sysfs).unwrap_err();
        assert!(err.to_string().contains("no hugepage is free"), "{err}");
    }
}
